"""`scantalk render ANIMATION_DIR`: (re-)render a saved animation, alone or side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("animation_dir", help="a folder written by `scantalk animate`")
    parser.add_argument("-o", "--out", default=None, help="video path (default ANIMATION_DIR/animation.mp4)")
    parser.add_argument("--compare", default=None,
                        help="'neutral' (neutral | animated) or a ground-truth .npy (T, V, 3) shown on the left")
    parser.add_argument("--resolution", type=int, default=512)


def run(args: argparse.Namespace) -> int:
    from scantalk.animation import Animation
    from scantalk.errors import ScanTalkError

    animation = Animation.load(args.animation_dir)
    compare = args.compare
    if compare not in (None, "neutral"):
        path = Path(compare)
        if not path.is_file():
            raise ScanTalkError(f"--compare {compare}: no such file; pass 'neutral' or a ground-truth .npy")
        compare = np.load(path, allow_pickle=False).reshape(-1, animation.frames.shape[1], 3)
        frames = min(len(compare), animation.num_frames)
        animation.frames, compare = animation.frames[:frames], compare[:frames]
    out = Path(args.out) if args.out else Path(args.animation_dir) / "animation.mp4"
    animation.to_video(out, resolution=args.resolution, compare=compare)
    print(f"video written to {out.resolve()}")
    return 0
