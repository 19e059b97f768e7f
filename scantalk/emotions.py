"""EmoVOCA's emotion labels and intensity levels: what the core model's emotion head knows.

They live in the core so that `scantalk` never needs the optional `emotion` package; the
`emotion` package (blending, emotional data synthesis) uses these same names.
"""

from __future__ import annotations

from scantalk.errors import ScanTalkError

EMOTIONS: tuple[str, ...] = (
    "afraid", "disgust", "angry", "sad", "happy", "drunk", "ill", "moody", "pleased", "suspicious", "upset",
)
# EmoVOCA's three intensities as points on the continuous [0, 1] scale the conditioning uses.
INTENSITY_LEVELS: dict[str, float] = {"low": 1.0 / 3.0, "mid": 2.0 / 3.0, "high": 1.0}


def emotion_index(name: str, labels: tuple[str, ...] | list[str] = EMOTIONS) -> int:
    """Index of an emotion label (case-insensitive); unknown labels list the known ones."""
    key = str(name).strip().lower()
    lowered = [label.lower() for label in labels]
    if key not in lowered:
        raise ScanTalkError(f"unknown emotion {name!r}; known emotions: {', '.join(labels)}")
    return lowered.index(key)


def intensity_value(intensity: float | str) -> float:
    """A level name (low/mid/high) or a number in [0, 1] → a number in [0, 1]."""
    if isinstance(intensity, str):
        if intensity.lower() in INTENSITY_LEVELS:
            return INTENSITY_LEVELS[intensity.lower()]
        try:
            intensity = float(intensity)
        except ValueError:
            raise ScanTalkError(f"intensity {intensity!r} must be low, mid, high or a number in [0, 1]") from None
    value = float(intensity)
    if not 0.0 <= value <= 1.0:
        raise ScanTalkError(f"intensity {value} is outside [0, 1]; use 0 (none) to 1 (strongest), or low/mid/high")
    return value
