"""`scantalk synth OUT_DIR`: write the procedural talking-head dataset (see `scantalk.data.synth`)."""

from __future__ import annotations

import argparse


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", help="folder to write the dataset into (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed → identical files (default 0)")
    parser.add_argument("--identities", type=int, default=8, help="training identities (default 8)")
    parser.add_argument("--val-identities", type=int, default=2, help="held-out validation identities (default 2)")
    parser.add_argument("--test-identities", type=int, default=3, help="held-out test identities (default 3)")
    parser.add_argument("--sequences", type=int, default=6, help="sequences per subject (default 6)")
    parser.add_argument("--seconds", type=float, nargs=2, default=(3.0, 5.0), metavar=("MIN", "MAX"),
                        help="clip length range in seconds (default 3 5)")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset made with other parameters")


def run(args: argparse.Namespace) -> int:
    from scantalk.data.synth import generate_dataset

    generate_dataset(
        args.out_dir,
        num_train_identities=args.identities,
        num_val_identities=args.val_identities,
        num_test_identities=args.test_identities,
        sequences_per_subject=args.sequences,
        seconds=tuple(args.seconds),
        seed=args.seed,
        overwrite=args.overwrite,
    )
    return 0
