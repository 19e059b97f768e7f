"""`scantalk render ANIMATION_DIR`: (re-)render a saved animation, alone or side by side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from scantalk.errors import OutputExistsError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("animation_dir", help="a folder written by `scantalk animate`")
    parser.add_argument("-o", "--out", default=None, help="video path, .mp4 (default ANIMATION_DIR/animation.mp4)")
    parser.add_argument("--compare", default=None,
                        help="'neutral' (neutral | animated) or a ground-truth .npy (T, V, 3) shown on the left")
    parser.add_argument("--resolution", type=int, default=512, help="pixels per side of each panel")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing video given with -o")
    parser.add_argument("--closeup", action="store_true",
                        help="add a panel framed on the mouth (found from meta.json's landmarks, else the motion)")


def load_compare(path: str | Path, num_vertices: int) -> np.ndarray:
    """Ground-truth frames (T, V, 3) from an .npy of shape (T, V, 3), (T, V·3) or one face (V, 3).

    Raises AnimationError naming the file when it is unreadable or its vertex count differs.
    """
    from scantalk.errors import AnimationError
    from scantalk.frames import load_npy

    path = Path(path)
    if not path.is_file():
        raise AnimationError(f"--compare {path}: no such file; pass 'neutral' or a ground-truth .npy")
    try:
        array = load_npy(path)
    except (OSError, ValueError, EOFError) as error:
        raise AnimationError(f"--compare {path} is truncated or not a numpy array ({error})") from error
    if array.ndim == 2 and array.shape == (num_vertices, 3):
        array = array[None]
    elif array.ndim == 2 and array.shape[1] == num_vertices * 3:
        array = array.reshape(len(array), num_vertices, 3)
    if array.ndim != 3 or array.shape[1:] != (num_vertices, 3) or len(array) == 0:
        raise AnimationError(f"--compare {path} has shape {array.shape}, but the animation has {num_vertices} "
                             f"vertices: expected (T, {num_vertices}, 3) or (T, {num_vertices * 3}) in its vertex order")
    if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
        raise AnimationError(f"--compare {path} must hold finite floating-point positions")
    return array


def run(args: argparse.Namespace) -> int:
    from scantalk.inference.animation import Animation
    from scantalk.render.camera import check_resolution
    from scantalk.render.video import check_video_path

    check_resolution(args.resolution)
    out = check_video_path(Path(args.out) if args.out else Path(args.animation_dir) / "animation.mp4")
    if args.out and out.exists() and not args.overwrite:
        # The folder's own animation.mp4 is ours to redo; a file the user named may be theirs.
        raise OutputExistsError(f"-o {out} exists; pass --overwrite to replace it, or choose another path")
    animation = Animation.load(args.animation_dir)
    compare = args.compare
    if compare not in (None, "neutral"):
        compare = load_compare(compare, animation.frames.shape[1])
        if len(compare) > 1 and len(compare) != animation.num_frames:
            frames = min(len(compare), animation.num_frames)
            print(f"note: --compare has {len(compare)} frames and the animation {animation.num_frames}; "
                  f"rendering the first {frames}", file=sys.stderr)
            animation.frames, compare = animation.frames[:frames], compare[:frames]
    animation.to_video(out, resolution=args.resolution, compare=compare, mouth_closeup=args.closeup)
    print(f"video written to {out.resolve()}")
    return 0
