"""One head, one sentence, a row per emotion: what `emotion=` does with the shipped model.

    python experiments/evaluate/render_emotions.py [--out experiments/results/emotions.png]

The james scan (never seen in training) speaking the first seconds of the vendored LibriVox clip:
one row with no emotion and one per EmoVOCA label at full intensity, each row the same frames of
the sentence, so the lips can be compared down a column and the expression along a row.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "experiments" / "results" / "emotions.png"))
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 20, 32, 44, 56],
                        help="the frames shown in every row (30 fps)")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scantalk import Animator
    from scantalk.atomic import atomic_path
    from scantalk.emotions import EMOTIONS
    from scantalk.face.samples import real_face
    from scantalk.render import Camera, FrameRenderer

    animator = Animator.from_checkpoint(cache_dir=False)
    head = real_face("james")
    audio, rate = sf.read(REPO / "scantalk" / "assets" / "speech" / "librivox_sense_and_sensibility_0870.wav",
                          dtype="float32")
    audio = audio[: rate * 2]
    render = FrameRenderer(Camera.framing(head.verts, resolution=240), head.faces, head.verts)
    labels = [None, *EMOTIONS]
    figure, axes = plt.subplots(len(labels), len(args.frames), figsize=(1.5 * len(args.frames), 1.95 * len(labels)))
    for row, label in zip(axes, labels):
        frames = np.asarray(animator.animate((head.verts, head.faces), audio, sample_rate=rate, emotion=label).frames)
        for column, (ax, frame) in enumerate(zip(row, args.frames)):
            ax.imshow(render(frames[frame])[60:215, 62:178])  # eyes to chin
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(label or "no emotion", fontsize=11)
            if label is None:
                ax.set_title(f"{frame / 30:.2f} s", fontsize=10)
    figure.tight_layout()
    with atomic_path(args.out) as tmp:
        figure.savefig(tmp, dpi=70, format="png")
    print(f"wrote {Path(args.out).resolve()}")
    return Path(args.out)


if __name__ == "__main__":
    main()
