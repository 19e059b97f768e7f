"""Emotion control of an emotional ScanTalk, measured on held-out identities with an unseen meshing.

    python experiments/evaluate_emotion.py CHECKPOINT --dataset PROCEDURAL_DIR [--split test_unseen_meshing]
    python experiments/evaluate_emotion.py [--checkpoint CKPT] [--clips 2] [--quick]

Without --dataset the model is an articulated one (the shipped default unless --checkpoint names
another) and `evaluate_default_emotions.py` measures it, with its options: real speech on the
james scan and unseen anatomical heads; recognition, intensity, lip sync and mixes.

For every test sequence and each of the 11 labels at intensities 1/3, 2/3 and 1:
- emotion recognition: the predicted sequence's upper-face motion (mean over time, minus the same
  sequence predicted with no emotion) is classified by the nearest procedural expression pattern
  of that head (`emotion.expressions.classify_emotion`); target ≥ 80% right (chance 9%);
- intensity: the mean upper-face displacement must grow with the intensity, for every label;
- lip sync: LVE with an emotion ≤ 1.2 × LVE of the same model with no emotion.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

INTENSITIES = (1 / 3, 2 / 3, 1.0)


def evaluate(checkpoint: str, dataset: str, split: str = "test_unseen_meshing", cache_dir: str | None = None,
             max_sequences: int | None = None) -> dict:
    from emotion.expressions import emotion_signatures, upper_face_vertices, classify_emotion
    from emotion.labels import EMOTIONS
    from scantalk.checkpoint import model_from_checkpoint
    from scantalk.data import load_dataset
    from scantalk.data.synth import HeadIdentity, build_head
    from scantalk.geometry import OperatorCache
    from scantalk.metrics import lip_vertex_error

    model, _ = model_from_checkpoint(checkpoint)
    if model.emotion is None:
        raise SystemExit(f"{checkpoint} has no emotion head")
    heads = json.loads((Path(dataset) / "meta.json").read_text())["subjects"]
    cache = OperatorCache(cache_dir)
    refs = load_dataset(dataset, split=split)[:max_sequences]
    correct = total = 0
    monotone = checks = 0
    lve_neutral, lve_emotional = [], []
    confusion: dict[str, dict[str, int]] = {label: {} for label in EMOTIONS}
    magnitudes: dict[str, list[list[float]]] = {label: [] for label in EMOTIONS}
    for ref in tqdm(refs, desc="sequences", unit="seq"):
        seq = ref.load()
        info = heads[seq.subject]
        head = build_head(HeadIdentity(**info["identity"]), info["meshing"], seed=int(info["identity_seed"]))
        upper = upper_face_vertices(head.identity, head.param)
        signatures = emotion_signatures(head.identity, head.param, EMOTIONS, upper)
        ops = cache.get_or_compute(seq.template, seq.faces, model.k_eig)
        template = torch.from_numpy(seq.template)
        with torch.inference_mode():
            identity = model.encode_identity(template, ops)
            features = model.audio_encoder(torch.from_numpy(seq.audio), seq.num_frames)

            def predict(label: int | None, intensity: float | None) -> np.ndarray:
                emotion = None if label is None else torch.tensor(label)
                strength = None if intensity is None else torch.tensor(float(intensity))
                motion = model.motion_from_features(features, emotion, strength)
                return (template + model.decode(identity, motion, ops)).numpy()

            neutral = predict(None, None)
            lve_neutral.append(lip_vertex_error(neutral, seq.frames, seq.lip_vertices))
            for index, label in enumerate(EMOTIONS):
                sizes = []
                for intensity in INTENSITIES:
                    frames = predict(index, intensity)
                    upper_motion = (frames - neutral)[:, upper].mean(0)
                    sizes.append(float(np.linalg.norm(upper_motion, axis=-1).mean()))
                    if intensity == 1.0:
                        guess = classify_emotion(upper_motion, signatures)
                        confusion[label][guess] = confusion[label].get(guess, 0) + 1
                        correct += guess == label
                        total += 1
                        lve_emotional.append(lip_vertex_error(frames, seq.frames, seq.lip_vertices))
                magnitudes[label].append(sizes)
                monotone += all(a < b for a, b in zip(sizes, sizes[1:]))
                checks += 1
    return {
        "checkpoint": str(checkpoint), "dataset": str(dataset), "split": split, "sequences": len(refs),
        "accuracy": correct / total, "chance": 1 / len(EMOTIONS),
        "monotone_fraction": monotone / checks,
        "upper_face_mm_by_intensity": {label: (np.mean(sizes, axis=0) * 1000).round(4).tolist()
                                       for label, sizes in magnitudes.items()},
        "lve_neutral": float(np.mean(lve_neutral)), "lve_emotional": float(np.mean(lve_emotional)),
        "lve_ratio": float(np.mean(lve_emotional) / np.mean(lve_neutral)),
        "confusion": confusion,
    }


def main(argv: list[str] | None = None) -> dict:
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    if not any(arg == "--dataset" or arg.startswith("--dataset=") for arg in argv):
        import importlib.util

        spec = importlib.util.spec_from_file_location("evaluate_default_emotions",
                                                      Path(__file__).with_name("evaluate_default_emotions.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.main(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", default="test_unseen_meshing")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--max-sequences", type=int, default=None)
    parser.add_argument("--out", default="experiments/results/emotion_eval.json")
    args = parser.parse_args(argv)
    results = evaluate(args.checkpoint, args.dataset, args.split, args.cache_dir, args.max_sequences)
    print(f"emotion accuracy {results['accuracy']:.1%} (target ≥ 80%, chance {results['chance']:.0%})")
    print(f"upper face grows with intensity in {results['monotone_fraction']:.1%} of (sequence, label) pairs")
    for label, sizes in results["upper_face_mm_by_intensity"].items():
        print(f"  {label:<11} upper-face motion (mm) at 1/3, 2/3, 1: {sizes}")
    print(f"LVE with emotion / without: {results['lve_ratio']:.3f} (target ≤ 1.2)")
    from scantalk.atomic import atomic_write_text

    atomic_write_text(args.out, json.dumps(results, indent=2))
    print(f"results written to {Path(args.out).resolve()}")
    return results


if __name__ == "__main__":
    main()
