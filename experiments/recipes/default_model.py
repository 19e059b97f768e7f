"""The recipe of the shipped default model (`scantalk/assets/default.ckpt`), end to end on a CPU.

    python experiments/recipes/default_model.py --work runs/default [--minutes 30]

1. the procedural talking-head dataset (as `synthetic.yaml` makes it);
2. procedural expressions for the 11 EmoVOCA labels, and an EmoBlender trained on them
   (`scantalk fit` with `experiments/configs/emoblender.yaml`);
3. an EmoVOCA-style emotional dataset: each training sequence blended with three
   (label, intensity) pairs, dealt so every pair is used about equally often;
4. ScanTalk with the emotion head (`experiments/configs/default.yaml`) on neutral + emotional data;
5. a slim checkpoint (config + weights + this recipe's facts) written to `--export`.

Every stage skips itself when its output is already complete, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "experiments" / "configs" / "default.yaml"
BLENDER_CONFIG = REPO / "experiments" / "configs" / "emoblender.yaml"
PROCEDURAL = {"train_meshings": ["uv_coarse", "icosphere"], "meshings_per_train_identity": 2}


def _last_checkpoint(run_dir: Path) -> Path | None:
    found = sorted(run_dir.rglob("last.ckpt"), key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def _minutes(value: float) -> str:
    total = int(value * 60)
    return f"00:{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def main(argv: list[str] | None = None) -> Path:
    """Run (or resume) every stage of the recipe.

    Args:
        argv: command-line arguments (see `--help`); None reads `sys.argv`.

    Returns:
        The exported checkpoint's path.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/default", help="working folder (data, runs)")
    parser.add_argument("--minutes", type=float, default=40.0, help="ScanTalk training budget")
    parser.add_argument("--blender-minutes", type=float, default=6.0, help="EmoBlender training budget")
    parser.add_argument("--per-sequence", type=int, default=3, help="emotional variants per talking sequence")
    parser.add_argument("--export", default=str(REPO / "scantalk" / "assets" / "default.ckpt"))
    args = parser.parse_args(argv)

    from emotion.florence import write_procedural_expressions
    from emotion.synthesis import build_emovoca
    from scantalk.checkpoint import model_from_checkpoint, save_model
    from scantalk.data import load_dataset
    from scantalk.data.synth import generate_dataset
    from scantalk.training.cli import run_lightning_cli

    work = Path(args.work).resolve()
    cache = work / "operators"
    stages: dict[str, float] = {}

    clock = time.perf_counter()
    talking = generate_dataset(work / "data" / "procedural", **PROCEDURAL)
    expressions = work / "data" / "expressions"
    if not (expressions / "expressions.json").is_file():
        write_procedural_expressions(expressions)
    stages["data"] = time.perf_counter() - clock

    clock = time.perf_counter()
    blender_runs = work / "runs" / "emoblender"
    blender = _last_checkpoint(blender_runs)
    if blender is None:
        run_lightning_cli(["fit", "--config", str(BLENDER_CONFIG), f"--data.root={talking}", "--data.procedural=null",
                           f"--data.cache_dir={cache}", f"--trainer.default_root_dir={blender_runs}",
                           f"--trainer.max_time={_minutes(args.blender_minutes)}"])
        blender = _last_checkpoint(blender_runs)
    stages["blender"] = time.perf_counter() - clock

    clock = time.perf_counter()
    emotional = work / "data" / "emovoca"
    if not (emotional / "emovoca.json").is_file():
        build_emovoca(talking, expressions, emotional, checkpoint=blender, split="train", cache_dir=cache,
                      per_sequence=args.per_sequence, overwrite=True)
    stages["emotional data"] = time.perf_counter() - clock

    clock = time.perf_counter()
    runs = work / "runs" / "scantalk"
    checkpoint = _last_checkpoint(runs)
    if checkpoint is None:
        datasets = [{"root": str(talking), "dataset": "procedural"},
                    {"root": str(emotional), "layout": "emovoca", "val_split": None, "test_split": None,
                     "predict_split": None}]
        run_lightning_cli(["fit", "--config", str(CONFIG), f"--data.datasets={json.dumps(datasets)}",
                           f"--data.cache_dir={cache}", f"--trainer.default_root_dir={runs}",
                           f"--trainer.max_time={_minutes(args.minutes)}"])
        checkpoint = _last_checkpoint(runs)
    stages["scantalk"] = time.perf_counter() - clock

    model, lightning_checkpoint = model_from_checkpoint(checkpoint)
    train = load_dataset(talking, split="train")
    centres = np.array([0.5 * (ref.template.max(0) + ref.template.min(0)) for ref in train])
    recipe = {
        "config": str(CONFIG.relative_to(REPO)),
        "procedural": PROCEDURAL,
        "emotional_variants_per_sequence": args.per_sequence,
        "blender_checkpoint": blender.name,
        "epochs": int(lightning_checkpoint.get("epoch", -1)) + 1,
        "steps": int(lightning_checkpoint.get("global_step", -1)),
        "stage_seconds": {name: round(seconds, 1) for name, seconds in stages.items()},
        # `align="auto"` centres a face here, where the training faces were.
        "reference_center": centres.mean(0).round(6).tolist(),
        "torch": str(torch.__version__),
    }
    # Inference needs the centre too: it is part of the model's typed config (the recipe keeps a
    # copy for readers of older checkpoints).
    model.config = dataclasses.replace(model.config, reference_center=tuple(recipe["reference_center"]))
    save_model(args.export, model, recipe=recipe)
    print(json.dumps(recipe, indent=2))
    print(f"default model written to {Path(args.export).resolve()}")
    return Path(args.export)


if __name__ == "__main__":
    main()
