"""One head, one sentence, one picture per emotion: what `emotion=` does with the shipped model.

    python experiments/render_emotions.py [--out experiments/results/emotions.png]

The james scan (never seen in training) speaking the vendored LibriVox clip, rendered at the same
frame with no emotion and with each of EmoVOCA's labels at full intensity.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "experiments" / "results" / "emotions.png"))
    parser.add_argument("--frame", type=int, default=10, help="the frame shown (30 fps)")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scantalk import Animator
    from scantalk.atomic import atomic_path
    from scantalk.data.heads.real import real_face
    from scantalk.emotions import EMOTIONS
    from scantalk.render import Camera, FrameRenderer

    animator = Animator.from_checkpoint(cache_dir=False)
    head = real_face("james")
    audio, rate = sf.read(REPO / "scantalk" / "assets" / "speech" / "librivox_sense_and_sensibility_0870.wav",
                          dtype="float32")
    audio = audio[: rate * 2]
    render = FrameRenderer(Camera.framing(head.verts, resolution=320), head.faces, head.verts)
    labels = [None, *EMOTIONS]
    figure, axes = plt.subplots(2, 6, figsize=(15, 6.4))
    for ax, label in zip(axes.ravel(), labels):
        animation = animator.animate((head.verts, head.faces), audio, sample_rate=rate, emotion=label)
        ax.imshow(render(np.asarray(animation.frames)[args.frame])[20:300, 40:280])
        ax.set_title(label or "no emotion")
        ax.axis("off")
    figure.tight_layout()
    with atomic_path(args.out) as tmp:
        figure.savefig(tmp, dpi=60, format="png")
    print(f"wrote {Path(args.out).resolve()}")
    return Path(args.out)


if __name__ == "__main__":
    main()
