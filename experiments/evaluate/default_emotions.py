"""Emotions of the shipped default model on heads it never saw, with held-out real speech.

    python experiments/evaluate/default_emotions.py [--checkpoint CKPT] [--clips 2] [--quick]

For every head (the james scan, two unseen anatomical heads), real clip and label, the face is
animated with `emotion=label` and without; at the clip's busiest frames the whole displacement
(speech + expression) is read by `emotion.facs.recognition`'s classifier, fitted on procedural
expressions of *other* identities (never on these heads, never on the model's output). Reported
(issue 12's figures):

- recognition of the 11 labels (chance 9 %), with the confusion matrix;
- the upper-face expression grows with intensity (0.25 < 0.5 < 1) for every (clip, label) pair;
- lip sync with an emotion stays within 20 % of the neutral animation's: the vowel lip opening,
  the share of p/b/m that close (≤ 0.5 × the next vowel) and the opening's correlation with the
  speech envelope, per (head, clip, label); silences stay shut (pause / vowel ≤ 0.3, issue 10's
  target, since 20 % of the neutral 0.07 is below a tenth of a millimetre);
- the lower face keeps its expression (mean motion of the mouth region beyond the speech, mm);
- a 50/50 mix of two emotions lies closer to each than to neutral.

Prints a table and writes experiments/results/default_emotion_eval.json.
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "experiments" / "results" / "default_emotion_eval.json"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the shipped model")
    parser.add_argument("--clips", type=int, default=2, help="real clips (LibriVox first)")
    parser.add_argument("--quick", action="store_true", help="one head, one clip")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from emotion.facs.recognition import confusion_matrix, default_classifier, recognise
    from scantalk import Animator
    from scantalk.atomic import atomic_write_text
    from scantalk.synthesis.heads.procedural import procedural_head
    from scantalk.face.samples import real_face
    from scantalk.rig.rig import region_masks
    from common import long_clips_first
    from scantalk.emotions import EMOTIONS
    from scantalk import metrics

    started = time.perf_counter()
    animator = Animator.from_checkpoint(args.checkpoint, cache_dir=False)
    heads = [real_face("james")] + ([] if args.quick else [procedural_head(900001), procedural_head(900002)])
    clips = long_clips_first(1 if args.quick else args.clips)
    classifier = default_classifier("upper")  # the mouth also speaks: read the expression above it
    truth, predicted, monotone, mixes, mix_pairs = [], [], [], [], []
    lipsync: dict[str, list[float]] = {"vowel": [], "closed": [], "envelope": [], "pause_over_vowel": [], "mouth_mm": []}
    jobs = [(h, c) for h in heads for c in clips]
    for head, clip in tqdm(jobs, desc="emotions", unit="head×clip"):
        face = (head.verts, head.faces)
        upper = region_masks(head)["upper_face"]
        lm = head.landmarks
        upper_vertex, lower_vertex = metrics.nearest_vertex(head.verts, lm.upper_lip), metrics.nearest_vertex(head.verts, lm.lower_lip)
        mouth = metrics.lip_region(head.verts, lm.mouth_centre, radius=0.025)
        envelope = None

        def lip_figures(frames: np.ndarray) -> dict[str, float]:
            opening = metrics.lip_opening(frames, head.verts, upper_vertex, lower_vertex)
            vowel = float(np.mean(metrics.vowel_peak_openings(opening, clip.phones, 30.0)))
            pauses = metrics.pause_openings(opening, clip.phones, 30.0)
            closed = metrics.closure_summary(metrics.bilabial_closures(opening, clip.phones, 30.0))["fraction_closed"]
            return {"vowel": vowel, "closed": closed, "envelope": metrics.pearson(opening, envelope),
                    "pause_over_vowel": float(pauses.mean()) / vowel if len(pauses) else float("nan")}

        plain = np.asarray(animator.animate(face, clip.samples, sample_rate=16000).frames)
        envelope = metrics.speech_envelope(clip.samples, 16000, 30.0, len(plain))
        neutral_figures = lip_figures(plain)
        busiest = np.argsort(np.linalg.norm(plain - head.verts, axis=-1).mean(1))[-3:]
        expressions = {}
        for label in EMOTIONS:
            frames = {level: np.asarray(animator.animate(face, clip.samples, sample_rate=16000, emotion=label,
                                                         intensity=level).frames) for level in (0.25, 0.5, 1.0)}
            expressions[label] = frames[1.0] - plain
            for frame in busiest:
                guess, _ = recognise(head, frames[1.0][frame] - head.verts, classifier)
                truth.append(label)
                predicted.append(guess)
            sizes = [float(np.linalg.norm((frames[level] - plain)[:, upper], axis=-1).mean()) for level in (0.25, 0.5, 1.0)]
            monotone.append(sizes[0] < sizes[1] < sizes[2])
            figures = lip_figures(frames[1.0])
            for key in ("vowel", "closed", "envelope"):
                lipsync[key].append(float(figures[key] / neutral_figures[key]) if neutral_figures[key] else float("nan"))
            lipsync["pause_over_vowel"].append(figures["pause_over_vowel"])
            lipsync["mouth_mm"].append(1000 * float(np.linalg.norm(expressions[label][:, mouth], axis=-1).mean()))
        for first, second in list(combinations(EMOTIONS, 2))[:: 5 if not args.quick else 11]:
            mixed = np.asarray(animator.animate(face, clip.samples, sample_rate=16000,
                                                emotion={first: 1.0, second: 1.0}, intensity=1.0).frames) - plain
            to_first = np.linalg.norm(mixed - expressions[first])
            to_second = np.linalg.norm(mixed - expressions[second])
            to_neutral = np.linalg.norm(mixed)
            mixes.append(bool(to_first < to_neutral and to_second < to_neutral))
            mix_pairs.append([head.name, first, second, float(to_first / to_neutral), float(to_second / to_neutral)])
    accuracy = float(np.mean(np.array(truth) == np.array(predicted)))

    def within(key: str) -> dict[str, Any]:
        ratios = np.array(lipsync[key])
        return {"min": float(np.nanmin(ratios)), "max": float(np.nanmax(ratios)),
                "within_20_percent": int(np.sum(np.abs(ratios - 1.0) <= 0.2)), "of": len(ratios)}

    pauses = np.array(lipsync["pause_over_vowel"])
    mouth = np.array(lipsync["mouth_mm"])
    result = {
        "checkpoint": animator.checkpoint,
        "heads": [h.name for h in heads],
        "clips": [c.voice for c in clips],
        "recognition": accuracy,
        "confusion": {"labels": list(EMOTIONS), "counts": confusion_matrix(truth, predicted).tolist()},
        "monotone_pairs": [int(sum(monotone)), len(monotone)],
        "lipsync_ratio": within("vowel"),
        "closure_ratio": within("closed"),
        "envelope_ratio": within("envelope"),
        "pause_over_vowel": {"max": float(np.nanmax(pauses)), "at_most_0.3": int(np.sum(pauses <= 0.3)),
                             "of": int(np.sum(np.isfinite(pauses)))},
        "mouth_expression_mm": {"min": float(mouth.min()), "mean": float(mouth.mean())},
        "per_pair": {key: [float(v) for v in values] for key, values in lipsync.items()},
        "mixes": [["head", "first", "second", "to_first / to_neutral", "to_second / to_neutral"]] + mix_pairs,
        "mixes_between": [int(sum(mixes)), len(mixes)],
        "seconds": round(time.perf_counter() - started, 1),
    }
    rows = [("recognition of 11 labels (chance 9 %)", "≥ 80 %", f"{100 * accuracy:.1f} %"),
            ("upper face grows with intensity", "all pairs", f"{sum(monotone)} of {len(monotone)}"),
            *[(f"{name} with emotion / without", "within 20 %",
               f"{result[key]['min']:.2f}-{result[key]['max']:.2f} ({result[key]['within_20_percent']} of {result[key]['of']})")
              for name, key in (("vowel opening", "lipsync_ratio"), ("p/b/m closed share", "closure_ratio"),
                                ("opening vs envelope r", "envelope_ratio"))],
            ("pause / vowel opening", "≤ 0.3",
             f"max {result['pause_over_vowel']['max']:.2f} ({result['pause_over_vowel']['at_most_0.3']} of {result['pause_over_vowel']['of']})"),
            ("mouth-region expression kept (mm)", "> 0", f"mean {mouth.mean():.2f}, min {mouth.min():.2f}"),
            ("50/50 mix closer to each than to neutral", "all", f"{sum(mixes)} of {len(mixes)}")]
    print("| figure | target | measured |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    atomic_write_text(Path(args.out), json.dumps(result, indent=1))
    print(f"wrote {Path(args.out).resolve()} ({result['seconds']} s)")
    return result


if __name__ == "__main__":
    main()
