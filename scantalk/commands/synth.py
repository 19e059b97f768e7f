"""`scantalk synth OUT_DIR`: write the procedural talking-head dataset (see `scantalk.data.synth`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", help="folder to write the dataset into (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed → identical files (default 0)")
    parser.add_argument("--identities", type=int, default=8, help="training identities (default 8)")
    parser.add_argument("--val-identities", type=int, default=2, help="held-out validation identities (default 2)")
    parser.add_argument("--test-identities", type=int, default=3, help="held-out test identities (default 3)")
    parser.add_argument("--sequences", type=int, default=6, help="sequences per subject (default 6)")
    parser.add_argument("--seconds", type=float, nargs=2, default=(3.0, 5.0), metavar=("MIN", "MAX"),
                        help="clip length range in seconds (default 3 5)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a dataset this command made with other parameters (never other folders)")


def is_synth_dataset(path: str | Path) -> bool:
    """Whether `path` is a dataset `scantalk synth` wrote: its meta.json, and only its own entries."""
    from scantalk.data.synth.build import LAYOUT_ENTRIES

    path = Path(path)
    try:
        names = {entry.name for entry in path.iterdir()}
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("generator") == "scantalk.data.synth" and names <= set(LAYOUT_ENTRIES)


def run(args: argparse.Namespace) -> int:
    from scantalk.atomic import staged_output_dir
    from scantalk.data.synth import generate_dataset

    out = Path(args.out_dir).expanduser()
    options = dict(num_train_identities=args.identities, num_val_identities=args.val_identities,
                   num_test_identities=args.test_identities, sequences_per_subject=args.sequences,
                   seconds=tuple(args.seconds), seed=args.seed)
    if not args.overwrite and is_synth_dataset(out):
        # Made by this command: kept as it is with the same parameters, refused with others.
        generate_dataset(out, **options)
        return 0
    # Like `animate`: built in a hidden sibling and swapped in, and only a folder this command
    # wrote is ever replaced, so a user's own dataset in the same layout is never touched.
    with staged_output_dir(out, args.overwrite, is_synth_dataset, what="synth folder") as staging:
        print(f"writing the procedural dataset to {out} ...")
        generate_dataset(staging, **options, overwrite=True, verbose=False)
    print(f"wrote the procedural dataset to {out.resolve()}")
    return 0
