"""The EmoVOCA folder layout, shared by its writer (`emotion.emovoca.synthesis`) and reader (`emotion.emovoca.reader`).

    <root>/sequences/<subject>_<seq>_<Label>_<n>.npy   frames (T, V, 3) metres
    <root>/label/<same name>.npy                       emotion index into EMOTIONS
    <root>/intensity/<same name>.npy                   n: 1 (low), 2 (mid), 3 (high)
    <root>/wav/<same stem>.wav                         16 kHz speech
    <root>/emovoca.json                                the manifest (mode, μ weights, fps per sequence)
"""

INTENSITY_NUMBERS: dict[str, int] = {"low": 1, "mid": 2, "high": 3}
"""EmoVOCA's intensity numbers, used in file names and intensity/*.npy."""

OUTPUT_FOLDERS = ("sequences", "label", "intensity", "wav")
MANIFEST = "emovoca.json"
