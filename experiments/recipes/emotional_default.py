"""The emotion head of the shipped default, EmoVOCA's way: blender → emotional dataset → head.

    python experiments/recipes/emotional_default.py --work runs/emotional [--blender CKPT]
        [--blender-minutes 60] [--base scantalk/assets/default.ckpt] [--export runs/emotional/default_emotional.ckpt]

1. talking: anatomical heads (`procedural_head`, coarse meshings) say festival sentences through
   the rig (phone timings → `articulation_from_phones` → `rig_basis`), written in the processed
   FaceFormer layout (wav/, vertices_npy/, templates/), as VOCASET is shared;
2. expressions: the 11 FACS emotions on the same heads, each person with their own unit
   strengths, in the Florence 4D layout EmoVOCA reads (<identity>/neutral.ply, <Label>.ply);
3. blender: the EmoBlender on rig speech × FACS expressions (`scantalk fit --config
   experiments/configs/emoblender_heads.yaml`), unless `--blender` names a trained one or
   `--additive` builds without one;
4. build: `scantalk emovoca build` with that blender (or EmoVOCA's additive baseline): every
   talking sequence × `--per-sequence` (label, intensity) pairs;
5. head: the emotion head (`emotion.emovoca.head_training`) on the built dataset, read by the base
   model itself (its landmarks, its front end's articulation);
6. export: the base model with the head, written to `--export` with this recipe's facts.

Each stage skips itself when its output is there, so an interrupted run goes on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def write_talking(root: Path, seeds: list[int], per_head: int, resolution: float) -> None:
    """The talking set (processed layout) of anatomical heads speaking festival sentences via the rig."""
    from dataclasses import replace

    from scantalk.synthesis.heads.procedural import procedural_head
    from scantalk.synthesis.talking_set import write_talking_set

    heads = [replace(procedural_head(seed, resolution=resolution), name=f"emo{seed:04d}") for seed in seeds]
    write_talking_set(root, {"train": heads, "val": [], "test": []}, per_head, styles=False)


def write_expressions(root: Path, talking: Path) -> None:
    """FACS emotions on every talking template, one identity folder per subject (Florence layout)."""
    from emotion.emovoca.florence import write_facs_expressions
    from scantalk.atomic import atomic_write_text

    if (root / "done.json").is_file():
        return
    subjects = json.loads((talking / "splits.json").read_text())["train"]
    resolution = json.loads((talking / "recipe.json").read_text())["resolution"]
    write_facs_expressions(root, [int(subject[3:]) for subject in subjects], resolution, names=subjects)
    atomic_write_text(root / "done.json", json.dumps({"subjects": subjects}))


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/emotional", help="working folder (data, runs)")
    parser.add_argument("--heads", type=int, default=10, help="talking heads (seeds 41, 42, ...)")
    parser.add_argument("--per-head", type=int, default=2, help="sentences per head")
    parser.add_argument("--resolution", type=float, default=0.007, help="head meshing spacing, metres")
    parser.add_argument("--blender", default=None, help="a trained EmoBlender checkpoint (skips its training)")
    parser.add_argument("--additive", action="store_true",
                        help="build with EmoVOCA's additive baseline (talking + μe·expression) instead of a blender")
    parser.add_argument("--blender-minutes", type=float, default=60.0)
    parser.add_argument("--per-sequence", type=int, default=4, help="(label, intensity) pairs per talking sequence")
    parser.add_argument("--head-steps", type=int, default=600)
    parser.add_argument("--stages", default="talking,expressions,blender,build,head,export")
    parser.add_argument("--base", default=str(REPO / "scantalk" / "assets" / "default.ckpt"),
                        help="the articulated model that gets the head")
    parser.add_argument("--export", default=None,
                        help="where the model with its head is written (default <work>/default_emotional.ckpt; "
                             "default_articulated.py passes the shipped file when it builds the default)")
    args = parser.parse_args(argv)
    stages = set(args.stages.split(","))
    work = Path(args.work).resolve()
    args.export = args.export or str(work / "default_emotional.ckpt")
    seconds: dict[str, float] = {}
    talking, expressions, emotional = work / "talking", work / "expressions", work / "emovoca"

    clock = time.perf_counter()
    if "talking" in stages:
        write_talking(talking, list(range(41, 41 + args.heads)), args.per_head, args.resolution)
        (talking / "recipe.json").write_text(json.dumps({"resolution": args.resolution}))
    seconds["talking"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if "expressions" in stages:
        write_expressions(expressions, talking)
    seconds["expressions"] = time.perf_counter() - clock

    clock = time.perf_counter()
    blender = Path(args.blender).resolve() if args.blender else None
    if blender is None and "blender" in stages and not args.additive:
        run_dir = work / "runs" / "blender"
        found = sorted(run_dir.rglob("last.ckpt"))
        if not found:
            subprocess.run([sys.executable, "-m", "scantalk.cli", "fit", "--config",
                            str(REPO / "experiments" / "configs" / "emoblender_heads.yaml"),
                            f"--trainer.default_root_dir={run_dir}", "--trainer.max_epochs=100000",
                            f"--trainer.max_time={{'minutes': {args.blender_minutes}}}"], check=True)
            found = sorted(run_dir.rglob("last.ckpt"))
        blender = found[-1]
    seconds["blender"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if "build" in stages and not (emotional / "emovoca.json").is_file():
        from emotion.emovoca.synthesis import build_emovoca

        build_emovoca(talking, expressions, emotional, checkpoint=None if args.additive else blender,
                      per_sequence=args.per_sequence)
    seconds["build"] = time.perf_counter() - clock

    clock = time.perf_counter()
    head_file = work / "head.pt"
    if "head" in stages and not head_file.is_file():
        from emotion.emovoca.head_training import head_examples, train_expression_head
        from scantalk import Animator

        animator = Animator.from_checkpoint(args.base, cache_dir=False, device="cpu")
        examples = head_examples(emotional, animator)
        head, stats = train_expression_head(examples, len(animator.model.config.channels), steps=args.head_steps)
        torch.save({"state_dict": head.state_dict(), "stats": stats, "examples": len(examples)}, head_file)
        print(json.dumps(stats, indent=1))
    seconds["head"] = time.perf_counter() - clock

    if "export" not in stages:
        return work
    from emotion.facs.action_units import ACTION_UNITS
    from scantalk.checkpoint import load_model_with_checkpoint, save_model
    from scantalk.emotions import EMOTIONS
    from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker

    base, stored = load_model_with_checkpoint(args.base)
    trained = torch.load(head_file, map_location="cpu", weights_only=True)
    settings = base.config.to_dict()
    settings.update(emotion_labels=list(EMOTIONS), expression_units=list(ACTION_UNITS))
    model = ArticulatedTalker(ArticulatedConfig.from_dict(settings))
    state = {key: value for key, value in base.state_dict().items()}
    state.update({f"expression_head.{key}": value for key, value in trained["state_dict"].items()})
    model.load_state_dict(state)
    recipe = dict(stored.get("recipe", {}))
    recipe["emotion_head"] = {
        "recipe": str(Path(__file__).resolve().relative_to(REPO)), "arguments": vars(args),
        "build": "additive" if args.additive else "blender",
        "blender": None if blender is None or args.additive else str(blender), "examples": int(trained["examples"]),
        "fit": trained["stats"], "stage_seconds": {name: round(value, 1) for name, value in seconds.items()},
    }
    save_model(args.export, model, recipe=recipe)
    print(f"model with the emotion head written to {Path(args.export).resolve()}")
    return Path(args.export)


if __name__ == "__main__":
    main()
