"""Is the face found on every meshing? (issue 17, items 2 and 3)

    python experiments/evaluate/landmarks.py            # 12 heads x 4 meshings, real faces decimated, odd framings
    python experiments/evaluate/landmarks.py --quick    # 3 heads, a smoke run

The mouth evaluation (`mouth.py`) places its heads at one fine meshing (about 20k vertices). Users
bring decimated and remeshed copies too, and there the face used to be lost: the nose anchor on a
coarse meshing's brow or neck (the whole face placed 3-17 cm off), the mouth corners on the ends
of the part of the slit a coarse meshing opens (2 cm inside the mouth). Here each head is given as
a user stores it (y up, facing +z, metres) to `Animator.fit_face` of the shipped model, and its
found landmarks are compared with the head's own:

- procedural heads of held-out seeds at marching-cubes steps of 3, 5, 7 and 10 mm (about 19k,
  7k, 4.4k and 2.8k vertices), plain and stylised (a huge or receding chin, a big nose);
- the real `james` scan and MediaPipe's face mask, as given and decimated to a third;
- odd framings at 5 and 8 mm: a bust on shoulders, a face-only crop.

Per head: found or not (the error message), the error (mm) of the mouth corners, lip midlines,
chin and nose tip, and the worst of them. Summary per meshing: share found, median and worst of
the per-head worst errors, heads over 8 mm. Writes `experiments/results/landmarks_eval.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "results"
LANDMARKS_SCORED = ("mouth_left", "mouth_right", "upper_lip", "lower_lip", "chin", "nose_tip")
STEPS_MM = (3, 5, 7, 10)
WORST_MM = 8.0


def build_heads(quick: bool) -> list[tuple[str, str, object]]:
    """(name, meshing group, Head) to find the face on."""
    from scantalk.face.samples import real_face
    from scantalk.synthesis.heads.meshing import crop_face, decimate
    from scantalk.synthesis.heads.procedural import procedural_head, sample_shape

    seeds = range(900040, 900043 if quick else 900052)
    heads = [(f"procedural {seed}", f"{step} mm", procedural_head(seed, resolution=step / 1000.0))
             for seed in seeds for step in STEPS_MM]
    if quick:
        return heads
    styles = {"huge chin": dict(chin=0.022), "receding chin": dict(chin=-0.006),
              "big nose": dict(nose_projection=0.034, nose_length=0.056)}
    for number, (style, change) in enumerate(styles.items()):
        seed = 900060 + number
        heads += [(f"{style} {seed}", f"{step} mm", procedural_head(seed, resolution=step / 1000.0,
                                                                    shape=replace(sample_shape(seed), **change)))
                  for step in STEPS_MM]
    for name in ("james", "mediapipe"):
        face = real_face(name)
        heads += [(name, "real, as given", face), (name, "real, decimated to a third",
                                                   decimate(face, max(200, face.num_vertices // 3)))]
    for seed in (900070, 900071):
        for step in (5, 8):
            base = procedural_head(seed, resolution=step / 1000.0)
            heads += [(f"face-only crop {seed}", f"framing, {step} mm", crop_face(base))]
    return heads


def evaluate(animator, head) -> dict:
    """Landmark errors (mm) of the face found on `head`, or why none was found."""
    from scantalk.errors import ScanTalkError

    clock = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = animator.fit_face((head.verts, head.faces))
    except ScanTalkError as error:
        return {"found": False, "error": str(error), "seconds": time.perf_counter() - clock}
    found = fit.alignment.to_file(fit.head.landmarks.as_array())
    names = list(head.landmarks.__dataclass_fields__)
    truth = head.landmarks.as_array()
    errors = {name: 1000.0 * float(np.linalg.norm(found[names.index(name)] - truth[names.index(name)]))
              for name in LANDMARKS_SCORED}
    return {"found": True, "errors_mm": errors, "worst_mm": max(errors.values()),
            "seconds": time.perf_counter() - clock}


def summarise(records: list[dict]) -> dict:
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(record["meshing"], []).append(record)
    summary = {}
    for group, rows in [*groups.items(), ("all", records)]:
        worst = [r["worst_mm"] for r in rows if r["found"]]
        summary[group] = {"heads": len(rows), "found": sum(r["found"] for r in rows),
                          "worst_median_mm": float(np.median(worst)) if worst else None,
                          "worst_max_mm": float(np.max(worst)) if worst else None,
                          "over_8mm": int(sum(w > WORST_MM for w in worst))}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="three heads at four meshings")
    parser.add_argument("--out", type=Path, default=RESULTS / "landmarks_eval.json")
    args = parser.parse_args(argv)

    from scantalk import Animator
    from scantalk.atomic import atomic_write_text

    clock = time.perf_counter()
    animator = Animator.from_checkpoint(None, cache_dir=False)
    heads = build_heads(args.quick)
    records = []
    for number, (name, meshing, head) in enumerate(heads, 1):
        record = {"head": name, "meshing": meshing, "vertices": int(head.num_vertices), **evaluate(animator, head)}
        records.append(record)
        shown = (f"worst {record['worst_mm']:6.1f} mm  " + " ".join(f"{v:5.1f}" for v in record["errors_mm"].values())
                 if record["found"] else f"not found: {record['error'][:70]}")
        print(f"[{number:3d}/{len(heads)}] {name:24s} {meshing:28s} {head.num_vertices:6d} v  {shown}", flush=True)
    summary = summarise(records)
    print(f"\n{'meshing':28s} {'found':>9s} {'median worst':>13s} {'max worst':>10s} {'> 8 mm':>7s}")
    for group, row in summary.items():
        median = "-" if row["worst_median_mm"] is None else f"{row['worst_median_mm']:.1f}"
        largest = "-" if row["worst_max_mm"] is None else f"{row['worst_max_mm']:.1f}"
        print(f"{group:28s} {row['found']:4d}/{row['heads']:<4d} {median:>13s} {largest:>10s} {row['over_8mm']:7d}")
    result = {"summary": summary, "heads": records, "landmarks": list(LANDMARKS_SCORED),
              "seconds": time.perf_counter() - clock, "command": "python experiments/evaluate/landmarks.py"
              + (" --quick" if args.quick else "")}
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
