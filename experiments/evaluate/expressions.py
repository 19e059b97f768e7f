"""Do the action-unit expressions read as their emotions, on heads and meshings never used to fit?

    python experiments/evaluate/expressions.py            # ~1-2 minutes on 2 cores
    python experiments/evaluate/expressions.py --quick    # one procedural head, fewer draws

Heads: procedural seeds >= 900000 (the default classifier trains on seeds 11-16 and deformed
MediaPipe identities), the real scan "james" and its decimated and point-cloud variants. Each
head gets its own identity scales and per-emotion jitter. Figures:

- recognition accuracy of `emotion.facs.recognition.default_classifier()` (11 labels, chance 9 %),
  per head and overall, with the confusion matrix; the upper-face-only classifier too, on the
  expression alone and with a random speech pose of the rig added (a talking mouth);
- intensity: the expression's magnitude (L2 over the vertices) at 11 intensities in [0, 1] grows
  strictly for every (head, label);
- mixes: for all 55 pairs 50/50, whether the mix is closer to each of its two emotions than to
  neutral (|M - A| < |M| and |M - B| < |M|), and whether it moves towards both
  (|M - A| < |A| and |M - B| < |B|); failing pairs are listed.

Prints a markdown table and writes JSON atomically (default experiments/results/expression_eval.json).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emotion.facs.action_units import action_unit_basis  # noqa: E402
from emotion.facs.emotions import EMOTIONS, emotion_expression  # noqa: E402
from emotion.facs.recognition import confusion_matrix, default_classifier, recognise  # noqa: E402
from scantalk.atomic import atomic_write_text  # noqa: E402
from scantalk.synthesis.heads import meshing  # noqa: E402
from scantalk.synthesis.heads.procedural import procedural_head  # noqa: E402
from scantalk.face.samples import real_face  # noqa: E402
from scantalk.rig.rig import rig_displacement  # noqa: E402

LEVELS = ("low", "mid", "high")


def held_out_heads(quick: bool) -> list:
    james = real_face("james")
    rng = np.random.default_rng(900)
    heads = [procedural_head(900000 + i) for i in range(1 if quick else 3)]
    heads += [james, meshing.decimate(james, 2500), meshing.point_cloud(james, rng, 4000)]
    if not quick:
        heads.append(meshing.punch_holes(procedural_head(900010, resolution=0.004), rng))
    return heads


def recognition(heads, draws: int) -> dict:
    classifiers = {"all": default_classifier("all"), "upper": default_classifier("upper")}
    truth, predicted = [], {"all": [], "upper": [], "upper_talking": []}
    per_head = {}
    for h, head in enumerate(heads):
        ok = 0
        for draw in range(draws):
            basis = action_unit_basis(head, variation=np.random.default_rng([h, draw]))
            speech = np.random.default_rng([h, draw, 1]).uniform(0.0, 1.0, (1, 5)) * np.array([0.8, 0.5, 0.6, 0.6, 0.3])
            talking = rig_displacement(head, speech)[0]
            for i, label in enumerate(EMOTIONS):
                for level in LEVELS:
                    shown = emotion_expression(head, label, level, basis, np.random.default_rng([h, draw, i]))
                    truth.append(label)
                    predicted["all"].append(recognise(head, shown, classifiers["all"])[0])
                    predicted["upper"].append(recognise(head, shown, classifiers["upper"])[0])
                    predicted["upper_talking"].append(recognise(head, shown + talking, classifiers["upper"])[0])
                    ok += predicted["all"][-1] == label
        per_head[head.name] = ok / (draws * len(EMOTIONS) * len(LEVELS))
    truth_arr = np.array(truth)
    return {
        "accuracy": {key: float(np.mean(truth_arr == np.array(p))) for key, p in predicted.items()},
        "accuracy_per_head": per_head,
        "confusion_matrix": confusion_matrix(truth, predicted["all"]).tolist(),
        "confusion_matrix_upper_talking": confusion_matrix(truth, predicted["upper_talking"]).tolist(),
        "samples": len(truth),
    }


def monotonicity(heads) -> dict:
    levels = np.linspace(0.0, 1.0, 11)
    failures, smallest_step = [], np.inf
    for h, head in enumerate(heads):
        basis = action_unit_basis(head, variation=np.random.default_rng([h, 7]))
        for i, label in enumerate(EMOTIONS):
            size = np.array([np.linalg.norm(emotion_expression(head, label, lv, basis, np.random.default_rng([h, i])))
                             for lv in levels])
            steps = np.diff(size) / size[-1]
            smallest_step = min(smallest_step, float(steps.min()))
            if not np.all(steps > 0):
                failures.append(f"{head.name}:{label}")
    return {"pairs": len(heads) * len(EMOTIONS), "monotone": len(heads) * len(EMOTIONS) - len(failures),
            "failures": failures, "smallest_step_relative": smallest_step}


def mixes(heads) -> dict:
    closer, towards, ratios = [], [], []
    for head in heads:
        basis = action_unit_basis(head)
        pure = {label: emotion_expression(head, label, 1.0, basis) for label in EMOTIONS}
        for a, b in itertools.combinations(EMOTIONS, 2):
            mix = emotion_expression(head, {a: 0.5, b: 0.5}, 1.0, basis)
            to_a, to_b, size = np.linalg.norm(mix - pure[a]), np.linalg.norm(mix - pure[b]), np.linalg.norm(mix)
            ratios.append(max(to_a, to_b) / size)
            if ratios[-1] >= 1.0:
                closer.append(f"{head.name}:{a}+{b}")
            if to_a >= np.linalg.norm(pure[a]) or to_b >= np.linalg.norm(pure[b]):
                towards.append(f"{head.name}:{a}+{b}")
    total = len(heads) * 55
    return {"pairs": total, "closer_to_each_than_to_neutral": total - len(closer), "closer_failures": closer,
            "towards_both": total - len(towards), "towards_failures": towards,
            "worst_distance_ratio": float(max(ratios))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one procedural head, one draw")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "expression_eval.json")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    heads = held_out_heads(args.quick)
    rec = recognition(heads, draws=1 if args.quick else 2)
    mono = monotonicity(heads)
    mix = mixes(heads)
    result = {"heads": [h.name for h in heads], "vertices": [h.num_vertices for h in heads], "labels": list(EMOTIONS),
              "recognition": rec, "intensity": mono, "mixes": mix, "quick": args.quick,
              "seconds": round(time.perf_counter() - start, 1)}

    print("| figure | target | measured |\n| --- | --- | --- |")
    print(f"| recognition, whole face ({rec['samples']} expressions) | >= 80 % (chance 9 %) | {rec['accuracy']['all']:.1%} |")
    print(f"| recognition, upper face only | - | {rec['accuracy']['upper']:.1%} |")
    print(f"| recognition, upper face, with a speech pose added | - | {rec['accuracy']['upper_talking']:.1%} |")
    for name, acc in rec["accuracy_per_head"].items():
        print(f"| &nbsp; {name} | >= 80 % | {acc:.1%} |")
    print(f"| magnitude grows with intensity (head, label) | all | {mono['monotone']}/{mono['pairs']} |")
    print(f"| 50/50 mix closer to each than to neutral | all | {mix['closer_to_each_than_to_neutral']}/{mix['pairs']} |")
    print(f"| 50/50 mix moves towards both | all | {mix['towards_both']}/{mix['pairs']} |")
    print("\nconfusion matrix (rows true, columns predicted):", " ".join(label[:4] for label in EMOTIONS))
    for label, row in zip(EMOTIONS, rec["confusion_matrix"]):
        print(f"{label:>10s} " + " ".join(f"{v:4d}" for v in row))
    if mix["closer_failures"]:
        print("mixes not closer to each than to neutral:", ", ".join(mix["closer_failures"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
