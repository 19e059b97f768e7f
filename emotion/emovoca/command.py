"""`scantalk emovoca build|expressions` (a `scantalk.plugins` command of the emotion package): EmoVOCA-style emotional data from talking heads and expressions.

    scantalk emovoca expressions -o EXPR_DIR [--seeds 500 501]   FACS expressions on anatomical heads, Florence-like layout
    scantalk emovoca build --talking DIR --expressions EXPR_DIR -o OUT [--checkpoint blender.ckpt | --additive]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from scantalk.errors import OutputError, ScanTalkError

# Above this a build needs --allow-large: the defaults on a real talking set write tens of GB.
LARGE_BUILD_BYTES = 2 * 1024**3


def register(parser: argparse.ArgumentParser) -> None:
    """Add the `build` and `expressions` actions and their options to `parser`."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="combine every talking sequence with every expression at low/mid/high")
    build.add_argument("--talking", required=True, help="talking-head dataset folder (any layout scantalk reads)")
    build.add_argument("--expressions", required=True,
                       help="expression folder: <identity>/neutral.ply + <Expression>.ply (Florence 4D as EmoVOCA uses it)")
    build.add_argument("-o", "--out", required=True, help="output folder (EmoVOCA layout)")
    mode = build.add_mutually_exclusive_group()
    mode.add_argument("--checkpoint", default=None, help="EmoBlender checkpoint (from emotion.blending.training)")
    mode.add_argument("--additive", action="store_true", help="additive baseline: talking + μe·expression (the default)")
    build.add_argument("--labels", nargs="+", default=None, help="emotion labels to use (default: all 11)")
    build.add_argument("--levels", nargs="+", default=["low", "mid", "high"], choices=["low", "mid", "high"])
    build.add_argument("--mu-t", type=float, default=None, help="talking latent weight (default 1; EmoVOCA objective 2)")
    build.add_argument("--mu-e", type=float, nargs="+", default=None, help="expression weight per level")
    build.add_argument("--split", default=None, help="only this split of the talking set")
    build.add_argument("--cache-dir", default=None, help="operator cache folder (blender mode)")
    build.add_argument("--per-sequence", type=int, default=None,
                       help="only this many (label, level) pairs per talking sequence, dealt evenly (default: all)")
    build.add_argument("--seed", type=int, default=0, help="seed of the --per-sequence dealing")
    build.add_argument("--overwrite", action="store_true",
                       help="replace an emotional dataset this command wrote in --out (never other folders)")
    build.add_argument("--allow-large", action="store_true",
                       help=f"write even when the estimated size exceeds {LARGE_BUILD_BYTES / 1024**3:g} GB")
    expressions = sub.add_parser("expressions", help="write FACS expressions of anatomical heads in the Florence-like layout")
    expressions.add_argument("-o", "--out", required=True, help="output folder (created; must be new or empty)")
    expressions.add_argument("--overwrite", action="store_true",
                             help="replace an expression set this command wrote in --out (never other folders)")
    expressions.add_argument("--seeds", type=int, nargs="+", default=[500, 501],
                             help="identity seeds of the anatomical heads (scantalk.synthesis.heads.procedural)")
    expressions.add_argument("--facs", action="store_true", help=argparse.SUPPRESS)  # the only kind now; old scripts pass it
    expressions.add_argument("--resolution", type=float, default=0.007, help="the heads' meshing spacing, metres")


def is_expression_set(path: str | Path) -> bool:
    """Whether `path` is an expression set `emovoca expressions` wrote: only identity folders of
    neutral.ply and <Label>.ply."""
    from scantalk.emotions import EMOTIONS

    ours = {"neutral.ply", *(f"{label.capitalize()}.ply" for label in EMOTIONS)}
    try:
        entries = list(Path(path).iterdir())
        for entry in entries:
            if entry.is_symlink() or not entry.is_dir() or not {f.name for f in entry.iterdir()} <= ours:
                return False
    except OSError:
        return False
    return bool(entries)


def is_emovoca_dataset(path: str | Path) -> bool:
    """Whether `path` is an emotional dataset `emovoca build` wrote: its manifest, and only its own entries."""
    from emotion.emovoca.layout import MANIFEST, OUTPUT_FOLDERS

    ours = {MANIFEST, *OUTPUT_FOLDERS, "templates", "templates.pkl", "masks", "splits.json", "dataset.json"}
    path = Path(path)
    try:
        names = {entry.name for entry in path.iterdir()}
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("generator") == "emotion.emovoca.synthesis" and names <= ours


def _check_weights(args: argparse.Namespace) -> None:
    for option, values in (("--mu-t", [] if args.mu_t is None else [args.mu_t]), ("--mu-e", args.mu_e or [])):
        for value in values:
            if not math.isfinite(value) or value < 0:
                raise ScanTalkError(f"{option} {value:g}: the latent weights must be finite numbers ≥ 0 "
                                    "(e.g. --mu-e 0.33 0.67 1)")
    if args.per_sequence is not None and args.per_sequence < 1:
        raise ScanTalkError(f"--per-sequence {args.per_sequence}: give at least 1 (label, level) pair per sequence")


def _num_frames(ref: Any) -> int:
    """Frames of a talking sequence, from its file header where the layout allows (no frames read)."""
    if getattr(ref, "rows", None) is not None:
        return len(ref.rows)
    path = getattr(ref, "vertices_path", None)
    if path is not None:
        try:
            with open(path, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                rows = read_header(handle)[0][0]
            return -(-int(rows) // int(getattr(ref, "frame_step", 1)))
        except (OSError, ValueError, IndexError):
            pass  # a broken file: its own error comes from the build
    return len(ref.load_frames())


def estimate_build(refs: list[Any], pairs: int, per_sequence: int | None) -> tuple[int, int]:
    """(sequences, bytes) `emovoca build` writes for talking sequences `refs` and `pairs` (label, level)
    pairs: float32 frames (T, V, 3), 16 kHz PCM16 speech and two small label files per sequence."""
    count = pairs if per_sequence is None else max(1, min(per_sequence, pairs))
    total = 0
    for ref in refs:
        frames = _num_frames(ref)
        wav = getattr(ref, "wav_path", None)
        audio = Path(wav).stat().st_size if wav and Path(wav).is_file() else int(frames / ref.fps * 16000) * 2 + 44
        total += count * (128 + frames * ref.num_vertices * 12 + audio + 2 * 136)
    return len(refs) * count, total


def _free_bytes(out: Path) -> int:
    place = out.absolute()
    while not place.exists():
        place = place.parent
    return shutil.disk_usage(place).free


def _gigabytes(size: int) -> str:
    return f"{size / 1024**3:.2f} GB" if size >= 1024**3 // 100 else f"{size / 1024**2:.1f} MB"


def _build(args: argparse.Namespace) -> int:
    from emotion.emovoca.synthesis import build_emovoca
    from scantalk.atomic import check_output_dir, staged_output_dir
    from scantalk.datasets import load_dataset
    from scantalk.emotions import EMOTIONS, emotion_label

    _check_weights(args)
    inputs = [path for path in (args.talking, args.expressions, args.checkpoint) if path]
    out = check_output_dir(Path(args.out).expanduser(), args.overwrite, is_emovoca_dataset, inputs, what="-o")
    labels = [emotion_label(label) for label in args.labels] if args.labels else None
    pairs = len(labels or EMOTIONS) * len(args.levels)
    sequences, size = estimate_build(load_dataset(Path(args.talking).expanduser(), split=args.split), pairs,
                                     args.per_sequence)
    print(f"emovoca build: {sequences} emotional sequences, about {_gigabytes(size)} to write to {out}")
    free = _free_bytes(out)
    if size > free:
        raise OutputError(f"-o {out}: the build needs about {_gigabytes(size)} but only {_gigabytes(free)} is free "
                          "there; free space, choose another place, or write less (--labels, --levels, --per-sequence)")
    if size > LARGE_BUILD_BYTES and not args.allow_large:
        raise OutputError(f"-o {out}: the build would write about {_gigabytes(size)} (more than "
                          f"{_gigabytes(LARGE_BUILD_BYTES)}); pass --allow-large to go ahead, or write less "
                          "(--labels, --levels, --per-sequence)")
    with staged_output_dir(out, args.overwrite, is_emovoca_dataset, inputs, what="-o") as staging:
        build_emovoca(args.talking, args.expressions, staging, checkpoint=args.checkpoint, labels=labels,
                      levels=args.levels, mu_t=args.mu_t, mu_e=args.mu_e, split=args.split, cache_dir=args.cache_dir,
                      overwrite=False, per_sequence=args.per_sequence, seed=args.seed)
    print(f"emotional dataset written to {out.resolve()}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the exit status."""
    if args.action == "build":
        return _build(args)
    from emotion.emovoca.florence import write_facs_expressions
    from scantalk.atomic import staged_output_dir

    out = Path(args.out).expanduser()
    # The same guards as `scantalk animate`: never /, home or a folder of someone else's files.
    with staged_output_dir(out, args.overwrite, is_expression_set, what="-o") as staging:
        write_facs_expressions(staging, args.seeds, args.resolution)
    print(f"FACS expressions written to {out.resolve()}")
    return 0
