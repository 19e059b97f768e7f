"""`scantalk emovoca build|expressions` (a `scantalk.plugins` command of the emotion package): EmoVOCA-style emotional data from talking heads and expressions.

    scantalk emovoca expressions -o EXPR_DIR [--facs]   procedural expressions, Florence-like layout
    scantalk emovoca build --talking DIR --expressions EXPR_DIR -o OUT [--checkpoint blender.ckpt | --additive]
"""

from __future__ import annotations

import argparse


def register(parser: argparse.ArgumentParser) -> None:
    """Add the `build` and `expressions` actions and their options to `parser`."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="combine every talking sequence with every expression at low/mid/high")
    build.add_argument("--talking", required=True, help="talking-head dataset folder (any layout scantalk reads)")
    build.add_argument("--expressions", required=True,
                       help="expression folder: <identity>/neutral.ply + <Expression>.ply (Florence 4D as EmoVOCA uses it)")
    build.add_argument("-o", "--out", required=True, help="output folder (EmoVOCA layout)")
    mode = build.add_mutually_exclusive_group()
    mode.add_argument("--checkpoint", default=None, help="EmoBlender checkpoint (from emotion.training)")
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
    build.add_argument("--overwrite", action="store_true", help="replace an existing emotional dataset in --out")
    expressions = sub.add_parser("expressions", help="write the procedural expressions in the Florence-like layout")
    expressions.add_argument("-o", "--out", required=True)
    expressions.add_argument("--seeds", type=int, nargs="+", default=[500, 501], help="identity seeds")
    expressions.add_argument("--meshing", default="uv_coarse")
    expressions.add_argument("--facs", action="store_true",
                             help="FACS action units on the anatomical heads (seeds as --seeds) instead of the "
                                  "synthetic heads' expressions")
    expressions.add_argument("--resolution", type=float, default=0.007, help="--facs heads' meshing spacing, metres")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the exit status."""
    if args.action == "expressions":
        from emotion.florence import write_facs_expressions, write_procedural_expressions

        if args.facs:
            out = write_facs_expressions(args.out, args.seeds, args.resolution)
        else:
            out = write_procedural_expressions(args.out, args.seeds, args.meshing)
        print(f"procedural expressions written to {out.resolve()}")
        return 0
    from emotion.synthesis import build_emovoca

    build_emovoca(args.talking, args.expressions, args.out, checkpoint=args.checkpoint, labels=args.labels,
                  levels=args.levels, mu_t=args.mu_t, mu_e=args.mu_e, split=args.split, cache_dir=args.cache_dir,
                  overwrite=args.overwrite, per_sequence=args.per_sequence, seed=args.seed)
    return 0
