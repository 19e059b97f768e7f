"""ScanTalk end to end on realistic talking faces: talking set → `scantalk fit` → checkpoint (issue 22).

    python experiments/recipes/scantalk_end_to_end.py --work runs/scantalk_e2e [--minutes 120]
        [--heads 16] [--identities 6] [--per-head 8] [--meshings some|all] [--encoder phonetic] [--identity hks]
        [--config experiments/configs/scantalk_unregistered.yaml] [--resume | --resume-from CKPT] [--init-from CKPT]

1. talking: anatomical heads (`procedural_head`, two meshings each: 4.7k and 3k vertices) and
   real-face identities (`real_identities`, the held-out `james` never among them) say festival
   sentences through the rig, written by `scantalk.synthesis.talking_set.write_talking_set` in the
   processed FaceFormer layout with lip and upper-face masks; two heads and one identity are the
   validation split;
2. fit: `scantalk fit --config experiments/configs/scantalk_talking.yaml` (or the `--config`
   given, e.g. `scantalk_unregistered.yaml`) on it, in the background of a CPU session
   (`--minutes` of wall time; `--resume` goes on from the run's last.ckpt and `--resume-from`
   from a given one, in which case `--minutes` counts the earlier runs too, as Lightning's timer
   is restored with the weights);
3. export: the last weights as a model checkpoint (`--export`, default
   `<work>/scantalk_talking.ckpt`) that `Animator.from_checkpoint` loads.

Each stage skips itself when its output is there, so an interrupted run goes on. Evaluate with
`python experiments/evaluate/real.py --checkpoint <work>/scantalk_talking.ckpt`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "experiments" / "configs" / "scantalk_talking.yaml"


def talking_heads(heads: int, identities: int, meshings: str = "some") -> dict[str, list]:
    """Train / val heads: procedural seeds 2000+ and real identities.

    meshings "some": every procedural head as made (4.7k vertices), every other one also decimated
    to 3k, identities as made (MediaPipe's 468-vertex mask, warped); "all": every procedural head
    also at 3k and 2k, every identity also Loop-subdivided twice (7k vertices, scan-like density)."""
    from scantalk.synthesis.heads.meshing import decimate, subdivide
    from scantalk.synthesis.heads.procedural import procedural_head
    from scantalk.synthesis.heads.real import real_identities

    procedural = [procedural_head(2000 + index, resolution=0.007) for index in range(heads + 2)]
    people = real_identities(identities + 1, seed=22, strengths=(0.5, 2.0))
    train = procedural[:heads] + people[:identities]
    if meshings == "all":
        train += [decimate(head, count) for head in procedural[:heads] for count in (3000, 2000)]
        train += [subdivide(person, "loop", 2) for person in people[:identities]]
    else:
        train += [decimate(head, 3000) for head in procedural[:heads:2]]
    return {"train": train, "val": procedural[heads:] + people[identities:]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "scantalk_e2e")
    parser.add_argument("--heads", type=int, default=16, help="procedural training heads")
    parser.add_argument("--identities", type=int, default=6, help="real-face training identities")
    parser.add_argument("--per-head", type=int, default=8, help="sentences per head")
    parser.add_argument("--meshings", choices=("some", "all"), default="some",
                        help="meshings of the training heads (see talking_heads)")
    parser.add_argument("--minutes", type=float, default=120.0, help="wall-clock limit of the fit")
    parser.add_argument("--encoder", default="phonetic", help="audio encoder: phonetic, mel, hubert, wav2vec2")
    parser.add_argument("--identity", choices=("xyz", "hks", "xyz+regions"), default="xyz",
                        help="what the network hears of the face: its neutral coordinates, its heat kernel "
                             "signature (intrinsic, so the same for any meshing, pose or placement), or the "
                             "coordinates and the face's regions found on it (which tell the lips apart)")
    parser.add_argument("--config", type=Path, default=CONFIG,
                        help="the fit's config: scantalk_talking.yaml (registered targets) or "
                             "scantalk_unregistered.yaml (the same set seen as raw scans, Chamfer loss)")
    parser.add_argument("--resume", action="store_true", help="go on from the run's last.ckpt")
    parser.add_argument("--resume-from", type=Path, default=None,
                        help="go on from this Lightning checkpoint (e.g. experiments/checkpoints/scantalk_talking_last.ckpt)")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start a new run from this end-to-end checkpoint's weights (identity inputs it lacks "
                             "start at zero), e.g. --identity xyz+regions from experiments/checkpoints/scantalk_talking.ckpt")
    parser.add_argument("--export", type=Path, default=None, help="model checkpoint written at the end")
    args = parser.parse_args(argv)

    import dataclasses
    import json

    import numpy as np

    from scantalk.checkpoint import load_model_with_checkpoint, save_model
    from scantalk.datasets.load import load_dataset
    from scantalk.synthesis.talking_set import write_talking_set
    from scantalk.training.cli import run_lightning_cli

    started = time.perf_counter()
    talking = args.work / "talking"
    if not (talking / "splits.json").is_file():
        write_talking_set(talking, talking_heads(args.heads, args.identities, args.meshings), args.per_head)
    run = args.work / "fit"
    hours, minutes = divmod(int(round(args.minutes)), 60)
    command = ["fit", "--config", str(args.config), f"--data.datasets={json.dumps([{'root': str(talking)}])}",
               f"--model.config.audio_encoder={args.encoder}",
               f"--model.config.identity_input={args.identity}", f"--trainer.default_root_dir={run}",
               f"--trainer.max_time=00:{hours:02d}:{minutes:02d}:00"]
    last = max(run.rglob("last.ckpt"), key=lambda path: path.stat().st_mtime, default=None) if run.exists() else None
    if args.init_from is not None:
        command.append(f"--model.init_weights={args.init_from}")
    if args.resume_from is not None:
        command.append(f"--ckpt_path={args.resume_from}")
    elif args.resume and last is not None:
        command.append(f"--ckpt_path={last}")
    print("scantalk", " ".join(command), flush=True)
    run_lightning_cli(command)
    last = max(run.rglob("last.ckpt"), key=lambda path: path.stat().st_mtime)

    model, lightning_checkpoint = load_model_with_checkpoint(last, end_to_end=True)
    train = load_dataset(talking, split="train")
    centre = np.mean([0.5 * (ref.template.max(0) + ref.template.min(0)) for ref in train], axis=0)
    config = args.config.resolve()
    recipe = {"recipe": "experiments/recipes/scantalk_end_to_end.py",
              "config": str(config.relative_to(REPO)) if config.is_relative_to(REPO) else str(config),
              "talking_set": {"heads": args.heads, "identities": args.identities, "per_head": args.per_head,
                              "meshings": args.meshings},
              "encoder": args.encoder, "identity": args.identity, "epochs": int(lightning_checkpoint.get("epoch", -1)) + 1,
              "steps": int(lightning_checkpoint.get("global_step", -1)),
              "minutes": round((time.perf_counter() - started) / 60, 1),
              # `align="auto"` centres a face where the training faces were.
              "reference_center": centre.round(6).tolist()}
    model.config = dataclasses.replace(model.config, reference_center=tuple(recipe["reference_center"]))
    export = args.export or args.work / "scantalk_talking.ckpt"
    save_model(export, model, recipe=recipe)
    print(json.dumps(recipe, indent=1))
    print(f"wrote {export}; evaluate with python experiments/evaluate/real.py --checkpoint {export}", flush=True)


if __name__ == "__main__":
    main()
