"""Does a trained EmoBlender keep both the expression and the lip motion? Heads it never saw, real speech.

    python experiments/evaluate/blender.py BLENDER.ckpt [--clips 1] [--quick]

For each unseen head (two anatomical heads at a coarse meshing, and the james scan), the shipped
default animates a held-out real clip (the talking frames); each of the 11 FACS emotions is
blended in by the EmoBlender at intensities 1/3, 2/3 and 1. Reported, beside the additive
baseline (talking + expression):

- expression kept: relative error of what the blend adds, against the expression with its lip
  gap left to speech (the training target), on the upper face and on the whole face;
- recognition of the 11 labels from the blend's upper face at the clip's busiest frames, by the
  classifier fitted on procedural expressions of other identities (chance 9 %);
- the upper-face expression grows with intensity for every (head, clip, label), at the busiest frames;
- lip motion kept: the blend's vowel lip opening and its share of closed p/b/m within 20 % of the
  talking frames'.

Prints a table and writes experiments/results/blender_eval.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "experiments" / "results" / "blender_eval.json"
LEVELS = (1.0 / 3.0, 2.0 / 3.0, 1.0)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="EmoBlender checkpoint (scantalk fit --config experiments/configs/emoblender_heads.yaml)")
    parser.add_argument("--clips", type=int, default=1, help="real clips (LibriVox first)")
    parser.add_argument("--quick", action="store_true", help="one head, one clip")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)

    import torch
    from tqdm import tqdm

    from emotion.facs.action_units import action_unit_basis
    from emotion.blending import blend
    from emotion.facs.emotions import expression_weights
    from emotion.facs.recognition import default_classifier, recognise
    from emotion.blending.training import load_blender
    from scantalk import Animator, metrics
    from scantalk.atomic import atomic_write_text
    from scantalk.synthesis.heads.procedural import procedural_head
    from common import long_clips_first
    from scantalk.emotions import EMOTIONS
    from scantalk.expression import speech_owned_lips
    from scantalk.face.samples import real_face
    from scantalk.geometry import compute_operators
    from scantalk.rig.rig import region_masks, rig_basis

    started = time.perf_counter()
    torch.set_grad_enabled(False)
    blender = load_blender(args.checkpoint)
    animator = Animator.from_checkpoint(None, cache_dir=False)
    heads = [procedural_head(900001, resolution=0.007)]
    if not args.quick:
        heads += [procedural_head(900002, resolution=0.006), real_face("james")]
    clips = long_clips_first(1 if args.quick else args.clips)
    classifier = default_classifier("upper")
    records: dict[str, dict[str, list[Any]]] = {mode: {"upper_error": [], "face_error": [], "vowel": [], "closed": [],
                                                       "truth": [], "guess": [], "monotone": []}
                                                for mode in ("blender", "additive")}
    for head in tqdm(heads, desc="heads", unit="head"):
        template = torch.as_tensor(head.verts, dtype=torch.float32)
        ops = compute_operators(head.verts, head.faces, blender.k_eig)
        lm = head.landmarks
        lips = [metrics.nearest_vertex(head.verts, point) for point in (lm.upper_lip, lm.lower_lip)]
        upper = region_masks(head)["upper_face"]
        units = action_unit_basis(head)
        owned = speech_owned_lips(units, rig_basis(head)[:, 0], head)
        for clip in clips:
            talking = np.asarray(animator.animate((head.verts, head.faces), clip.samples, sample_rate=16000).frames)

            def lip_figures(frames: np.ndarray) -> tuple[float, float]:
                opening = metrics.lip_opening(frames, head.verts, *lips)
                closed = metrics.closure_summary(metrics.bilabial_closures(opening, clip.phones, 30.0))["fraction_closed"]
                return float(np.mean(metrics.vowel_peak_openings(opening, clip.phones, 30.0))), closed

            talk_vowel, talk_closed = lip_figures(talking)
            busiest = np.argsort(np.linalg.norm(talking - head.verts, axis=-1).mean(1))[-3:]
            for label in EMOTIONS:
                weights = expression_weights(label, 1.0)
                expression = np.einsum("u,vuc->vc", weights, units).astype(np.float32)
                target = np.einsum("u,vuc->vc", weights, owned)
                for mode in ("blender", "additive"):
                    record, sizes = records[mode], []
                    for level in LEVELS:
                        # The whole clip at full intensity (lip figures); the busiest frames otherwise.
                        shown = talking if level == 1.0 else talking[busiest]
                        if mode == "blender":
                            frames = blend(blender, template, torch.as_tensor(shown), torch.as_tensor(expression),
                                           ops, intensity=level).numpy()
                        else:
                            frames = shown + level * expression[None]
                        added = frames - shown
                        sizes.append(float(np.linalg.norm((added if level < 1.0 else added[busiest])[:, upper],
                                                          axis=-1).mean()))
                        if level == 1.0:
                            miss = added - target[None]
                            record["upper_error"].append(float(np.linalg.norm(miss[:, upper]) / np.linalg.norm(
                                np.broadcast_to(target[upper], miss[:, upper].shape))))
                            record["face_error"].append(float(np.linalg.norm(miss) / np.linalg.norm(
                                np.broadcast_to(target, miss.shape))))
                            vowel, closed = lip_figures(frames)
                            record["vowel"].append(vowel / talk_vowel)
                            record["closed"].append(closed / talk_closed if talk_closed else float("nan"))
                            for frame in busiest:
                                record["truth"].append(label)
                                record["guess"].append(recognise(head, frames[frame] - head.verts, classifier)[0])
                    record["monotone"].append(sizes[0] < sizes[1] < sizes[2])

    def summary(record: dict[str, list[Any]]) -> dict[str, Any]:
        vowel, closed = np.array(record["vowel"]), np.array(record["closed"])
        return {
            "upper_relative_error": float(np.mean(record["upper_error"])),
            "face_relative_error": float(np.mean(record["face_error"])),
            "recognition": float(np.mean(np.array(record["truth"]) == np.array(record["guess"]))),
            "monotone": [int(sum(record["monotone"])), len(record["monotone"])],
            "vowel_ratio": {"min": float(vowel.min()), "max": float(vowel.max()),
                            "within_20_percent": int(np.sum(np.abs(vowel - 1) <= 0.2)), "of": len(vowel)},
            "closed_ratio": {"min": float(np.nanmin(closed)), "max": float(np.nanmax(closed)),
                             "within_20_percent": int(np.sum(np.abs(closed - 1) <= 0.2)), "of": len(closed)},
        }

    result = {"checkpoint": str(Path(args.checkpoint).resolve()), "heads": [h.name for h in heads],
              "vertices": [int(h.num_vertices) for h in heads], "clips": [c.voice for c in clips],
              "blender": summary(records["blender"]), "additive": summary(records["additive"]),
              "seconds": round(time.perf_counter() - started, 1)}
    print("| figure | target | blender | additive |\n|---|---|---|---|")
    b, a = result["blender"], result["additive"]
    rows = [
        ("expression kept: upper-face relative error", "small", "upper_relative_error", "{:.3f}"),
        ("expression kept: whole-face relative error", "small", "face_relative_error", "{:.3f}"),
        ("recognition of 11 labels (upper face)", "≥ 80 %", "recognition", "{:.0%}"),
    ]
    for name, target, key, fmt in rows:
        print(f"| {name} | {target} | {fmt.format(b[key])} | {fmt.format(a[key])} |")
    print(f"| upper face grows with intensity | all | {b['monotone'][0]} of {b['monotone'][1]} | "
          f"{a['monotone'][0]} of {a['monotone'][1]} |")
    for name, key in (("vowel opening / talking", "vowel_ratio"), ("p/b/m closed share / talking", "closed_ratio")):
        print(f"| {name} | within 20 % | {b[key]['min']:.2f}-{b[key]['max']:.2f} ({b[key]['within_20_percent']} of "
              f"{b[key]['of']}) | {a[key]['min']:.2f}-{a[key]['max']:.2f} ({a[key]['within_20_percent']} of {a[key]['of']}) |")
    atomic_write_text(Path(args.out), json.dumps(result, indent=1))
    print(f"wrote {Path(args.out).resolve()} ({result['seconds']} s)")
    return result


if __name__ == "__main__":
    main()
