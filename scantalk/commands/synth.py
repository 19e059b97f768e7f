"""`scantalk synth OUT_DIR`: write the procedural talking set (`scantalk.synthesis.talking_set`).

New anatomical heads say festival / flite sentences through the rig, written in the processed
FaceFormer layout that `scantalk fit` and `scantalk evaluate` read like VOCASET.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", help="folder to write the dataset into (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed → the same heads and sentences (default 0)")
    parser.add_argument("--identities", type=int, default=8, help="training identities (default 8)")
    parser.add_argument("--val-identities", type=int, default=2, help="held-out validation identities (default 2)")
    parser.add_argument("--test-identities", type=int, default=3, help="held-out test identities (default 3)")
    parser.add_argument("--sentences", type=int, default=6, help="sentences per identity (default 6)")
    parser.add_argument("--resolution", type=float, default=0.007,
                        help="the heads' meshing spacing in metres (default 0.007: about 4.5k vertices)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a dataset this command made with other parameters (never other folders)")


def is_synth_dataset(path: str | Path) -> bool:
    """Whether `path` is a dataset `scantalk synth` wrote: its dataset.json says so, and only its own entries."""
    from scantalk.synthesis.talking_set import TALKING_ENTRIES, talking_set_params

    path = Path(path)
    try:
        names = {entry.name for entry in path.iterdir()}
    except OSError:
        return False
    return talking_set_params(path) is not None and names <= set(TALKING_ENTRIES)


def run(args: argparse.Namespace) -> int:
    from scantalk.atomic import staged_output_dir
    from scantalk.synthesis.talking_set import generate_talking_set, talking_set_params
    from scantalk.errors import OutputExistsError

    out = Path(args.out_dir).expanduser()
    options = dict(identities=args.identities, val_identities=args.val_identities,
                   test_identities=args.test_identities, sentences=args.sentences, resolution=args.resolution,
                   seed=args.seed)
    if not args.overwrite and is_synth_dataset(out):
        # Made by this command: kept as it is with the same parameters, refused with others.
        made_with = talking_set_params(out)
        if made_with != options:
            raise OutputExistsError(f"{out} holds a talking set made with other parameters ({made_with}); "
                                    "pass --overwrite to replace it, or choose another folder")
        print(f"{out} already holds this talking set; nothing to do")
        return 0
    # Like `animate`: built in a hidden sibling and swapped in, and only a folder this command
    # wrote is ever replaced, so a user's own dataset in the same layout is never touched.
    with staged_output_dir(out, args.overwrite, is_synth_dataset, what="synth folder") as staging:
        print(f"writing the procedural talking set to {out} ...")
        generate_talking_set(staging, **options)
    print(f"wrote the procedural talking set to {out.resolve()}")
    return 0
