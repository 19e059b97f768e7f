"""LVE / MVE / FDD of talking models on held-out identities of the procedural talking set (issue 22).

    python experiments/evaluate/talking.py                      # the shipped default and both end-to-end models
    python experiments/evaluate/talking.py --checkpoint mine=runs/x.ckpt --out results.json

The test set is written once into --work (`scantalk.synthesis.talking_set.write_talking_set`, the
VOCASET-like layout the training set has): identities no training run saw — procedural heads
(seeds 2100+, the training runs used 2000-2017), MediaPipe's mask warped with new seeds, and the
james scan (never used in training) — each as made ("test_seen_meshing") and remeshed in a way no
training head was ("test_unseen_meshing": vertex clustering for the procedural heads, midpoint
subdivision for the faces), saying new sentences in the held-out voices. The targets are the rig
driven by each sentence's exact phones. Every model animates from the audio alone (`Animator`);
beside them sits the still template (the neutral face at every frame). LVE is the mean over
frames of the largest squared lip-vertex error (m², VOCASET's definition), MVE the mean vertex
error (m), FDD the upper face's deviation in dynamics (m²). Prints a table per split and per
sequence and writes JSON atomically (default experiments/results/talking_eval.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "experiments" / "results" / "talking_eval.json"
DEFAULT_WORK = REPO / "runs" / "talking_test"
CHECKPOINTS = {
    "default": None,
    "end to end, registered": REPO / "experiments" / "checkpoints" / "scantalk_talking.ckpt",
    "end to end, unregistered": REPO / "experiments" / "checkpoints" / "scantalk_unregistered.ckpt",
}
SPLITS = ("test_seen_meshing", "test_unseen_meshing")


def test_heads(procedural: int, identities: int) -> dict[str, list]:
    """The held-out heads of each split: as made, and remeshed unlike any training head."""
    from scantalk.synthesis.heads.meshing import cluster_vertices, subdivide
    from scantalk.synthesis.heads.procedural import procedural_head
    from scantalk.synthesis.heads.real import real_identities
    from scantalk.face.samples import real_face

    made = [procedural_head(2100 + index, resolution=0.007) for index in range(procedural)]
    faces = real_identities(identities, seed=2100, strengths=(0.5, 2.0)) + [real_face("james")]
    remeshed = [cluster_vertices(head, 0.005) for head in made] + [subdivide(face, "midpoint", 1) for face in faces]
    return {"test_seen_meshing": made + faces, "test_unseen_meshing": remeshed}


def evaluate_model(path, refs_of: dict, cache_dir: Path) -> dict:
    """Each split's metrics for one model (None: the shipped default) and for the still template."""
    from scantalk import Animator

    animator = Animator.from_checkpoint(path, cache_dir=cache_dir) if path is not None else Animator.from_checkpoint(
        cache_dir=cache_dir)
    clock = time.perf_counter()
    result = {"checkpoint": animator.checkpoint, "splits": {}}
    for split, refs in refs_of.items():
        preds, sequences = [], []
        for ref in refs:
            sequence = ref.load()
            frames = animator.animate(sequence.template, sequence.audio, fps=sequence.fps, sample_rate=sequence.sample_rate,
                                      faces=sequence.faces).frames
            preds.append(np.asarray(frames, dtype=np.float64))
            sequences.append(sequence)
            print(f"  {split} {sequence.subject}_{sequence.name}: {len(frames)} frames", file=sys.stderr, flush=True)
        result["splits"][split] = report_of(preds, sequences)
    result["seconds"] = time.perf_counter() - clock
    return result


def report_of(preds: list, sequences: list) -> dict:
    """`scantalk.metrics.evaluate_sequences` of predicted frames against the sequences' targets, as a dict."""
    from scantalk.metrics import evaluate_sequences

    return evaluate_sequences(preds, [s.frames for s in sequences], [s.template for s in sequences],
                              [s.lip_vertices for s in sequences], [s.upper_vertices for s in sequences],
                              [f"{s.subject}_{s.name}" for s in sequences]).to_dict()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", metavar="LABEL=PATH",
                        help="a model to evaluate (repeatable; default: the shipped default and the two "
                             "end-to-end checkpoints in experiments/checkpoints)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where the test set is written (once)")
    parser.add_argument("--procedural", type=int, default=4, help="procedural test identities")
    parser.add_argument("--identities", type=int, default=2, help="warped MediaPipe test identities (james is added)")
    parser.add_argument("--per-head", type=int, default=2, help="sentences per head")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from scantalk.atomic import atomic_write_text
    from scantalk.datasets import load_dataset
    from scantalk.synthesis.speech import HELD_OUT_VOICES
    from scantalk.synthesis.talking_set import write_talking_set
    from scantalk.errors import ScanTalkError

    models = dict(CHECKPOINTS)
    if args.checkpoint:
        models = {}
        for item in args.checkpoint:
            label, _, path = item.rpartition("=")
            if not Path(path).is_file():
                raise ScanTalkError(f"checkpoint {path!r} does not exist; pass --checkpoint LABEL=PATH to a .ckpt file")
            models[label or Path(path).stem] = Path(path)
    clock = time.perf_counter()
    root = write_talking_set(args.work / "talking", test_heads(args.procedural, args.identities), args.per_head,
                             seed=2100, voices=HELD_OUT_VOICES)
    refs_of = {split: load_dataset(root, split=split) for split in SPLITS}
    still = {split: report_of([np.broadcast_to(s.template, s.frames.shape) for s in seqs], seqs)
             for split, seqs in ((split, [ref.load() for ref in refs]) for split, refs in refs_of.items())}
    results = {}
    for label, path in models.items():
        print(f"{label}: {path or 'the shipped default'}", file=sys.stderr, flush=True)
        results[label] = evaluate_model(path, refs_of, args.work / "cache")
    payload = {"test_set": str(root), "splits": {s: len(r) for s, r in refs_of.items()}, "still_template": still,
               "models": results, "seconds": time.perf_counter() - clock,
               "command": " ".join(["python", "experiments/evaluate/talking.py", *(argv if argv is not None else sys.argv[1:])])}
    print_table(payload)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(payload, indent=1))
    print(f"\nwrote {args.out} ({payload['seconds']:.0f} s)")
    return payload


def print_table(payload: dict) -> None:
    rows = [("still template", payload["still_template"])] + [(label, r["splits"]) for label, r in payload["models"].items()]
    for split in SPLITS:
        print(f"\n{split} ({payload['splits'][split]} sequences)\n\n| model | LVE (mm²) | MVE (mm) | FDD (mm²) | LVE / still |\n|---|---|---|---|---|")
        base = payload["still_template"][split]["lve"]
        for label, splits in rows:
            r = splits[split]
            print(f"| {label} | {1e6 * r['lve']:.3f} | {1e3 * r['mve']:.3f} | {1e6 * r['fdd']:.4f} | {r['lve'] / base:.2f} |")
    print("\nper sequence, LVE (mm²):")
    names = [s["name"] for split in SPLITS for s in payload["still_template"][split]["sequences"]]
    values = {label: {s["name"]: s["lve"] for split in SPLITS for s in splits[split]["sequences"]} for label, splits in rows}
    print("| sequence | " + " | ".join(label for label, _ in rows) + " |")
    print("|---" * (len(rows) + 1) + "|")
    for name in names:
        print(f"| {name} | " + " | ".join(f"{1e6 * values[label][name]:.3f}" for label, _ in rows) + " |")


if __name__ == "__main__":
    main()
