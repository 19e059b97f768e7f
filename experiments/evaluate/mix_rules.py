"""How a mix of two emotions should combine the action units they share: four rules compared.

    python experiments/evaluate/mix_rules.py [--heads 3]

A mix {a: 1, b: 1} shows the units of both emotions (`emotion.facs.emotions.expression_weights`). A
unit both use needs a rule; four are scored here, per unit activation x_a, x_b:

- norm: √(x_a² + x_b²), the provider's rule (a shared smile grows by at most √2);
- sum: x_a + x_b (muscle activations superposed);
- clipped sum: the sum, but no larger than the unit's full strength 1 (or the larger of the two);
- max: the larger of the two.

For every pair of the 11 labels, on the james scan and unseen anatomical heads, the mix's
displacement (FACS units with the lip gap left to speech, as the Animator shows them) is scored
by issue 12's criterion: it lies closer to each of the two emotions than to the neutral face.
No rule can pass a pair whose two emotions pull the same feature opposite ways (lip corners up in
happy, down in sad, ill or moody): the mix cancels there, whatever adds it. The table shows how
many pairs pass per head and rule, and the JSON lists the pairs that fail.

Prints a table and writes experiments/results/mix_rules.json.
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import combinations
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "experiments" / "results" / "mix_rules.json"

RULES = {
    "norm": lambda a, b: np.sqrt(a * a + b * b),
    "sum": lambda a, b: a + b,
    "clipped sum": lambda a, b: np.minimum(a + b, np.maximum(1.0, np.maximum(a, b))),
    "max": np.maximum,
}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heads", type=int, default=3, help="the james scan and this many minus one anatomical heads")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)

    from emotion.facs.action_units import action_unit_basis
    from emotion.facs.emotions import emotion_combination
    from scantalk.atomic import atomic_write_text
    from scantalk.synthesis.heads.procedural import procedural_head
    from scantalk.emotions import EMOTIONS
    from scantalk.expression import speech_owned_lips
    from scantalk.face.samples import real_face
    from scantalk.rig.rig import rig_basis

    started = time.perf_counter()
    heads = [real_face("james")] + [procedural_head(900001 + n) for n in range(args.heads - 1)]
    pairs = list(combinations(EMOTIONS, 2))
    result: dict = {"heads": [head.name for head in heads], "pairs": len(pairs), "rules": {}}
    for rule in RULES:
        result["rules"][rule] = {"passing": {}, "failing": {}}
    for head in heads:
        basis = speech_owned_lips(action_unit_basis(head), rig_basis(head)[:, 0], head)
        combination = {label: emotion_combination(label) for label in EMOTIONS}
        single = {label: np.einsum("vuc,u->vc", basis, combination[label]) for label in EMOTIONS}
        for rule, combine in RULES.items():
            failing = []
            for first, second in pairs:
                mixed = np.einsum("vuc,u->vc", basis, combine(combination[first], combination[second]))
                to_neutral = np.linalg.norm(mixed)
                ratios = [float(np.linalg.norm(mixed - single[label]) / to_neutral) for label in (first, second)]
                if max(ratios) >= 1.0:
                    failing.append([first, second, *[round(r, 3) for r in ratios]])
            result["rules"][rule]["passing"][head.name] = len(pairs) - len(failing)
            result["rules"][rule]["failing"][head.name] = failing
    result["seconds"] = round(time.perf_counter() - started, 1)
    print("| rule | " + " | ".join(head.name for head in heads) + " |")
    print("|---|" + "---|" * len(heads))
    for rule, scores in result["rules"].items():
        print(f"| {rule} | " + " | ".join(f"{scores['passing'][head.name]} of {len(pairs)}" for head in heads) + " |")
    atomic_write_text(Path(args.out), json.dumps(result, indent=1))
    print(f"wrote {Path(args.out).resolve()} ({result['seconds']} s)")
    return result


if __name__ == "__main__":
    main()
