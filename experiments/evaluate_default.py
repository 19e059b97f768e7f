"""How well the shipped default model (or any checkpoint) talks, on a held-out procedural head.

    python experiments/evaluate_default.py [--checkpoint CKPT] [--out experiments/results/default_model_eval.json]

These are *quality* checks of one trained model, so they live here and not in the unit tests
(a retrained model must not break `make test` by moving its lips differently). For each way a
user may bring the face — a registered-like meshing, an unseen irregular meshing, a decimated
copy, a point cloud, a non-manifold scan with extra components — it measures, on 3 s of
procedural speech:

- mouth: lip movement over time (per-vertex standard deviation of position, mean, millimetres);
- forehead: the same on the upper face; ratio = mouth / forehead;
- silence: lip movement during a pause of room noise relative to talking.

Targets (the thresholds the old unit tests used): mouth > 0.5 mm, ratio > 2, silence < 0.3.
Prints a table and writes JSON; `--strict` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HELD_OUT_SEED = 4321  # not an identity of the default model's training data
TARGETS = {"mouth_mm": 0.5, "ratio": 2.0, "silence": 0.3}


def movement(frames: np.ndarray, vertices: np.ndarray) -> float:
    """How much `vertices` move over time: per-vertex std of position (metres), averaged."""
    return float(np.linalg.norm(frames[:, vertices].std(axis=0), axis=-1).mean())


def _faces_to_test(head, lips, upper):
    """(name, face argument, faces, lip indices, upper indices) for each kind of input."""
    import open3d as o3d
    from scipy.spatial import cKDTree

    from scantalk.data.synth import build_head, lip_vertices, sample_identity, upper_face_vertices

    cases = [("icosphere", head.verts, head.faces, lips, upper)]
    irregular = build_head(sample_identity(HELD_OUT_SEED), "irregular", seed=HELD_OUT_SEED)
    cases.append(("irregular (unseen meshing)", irregular.verts, irregular.faces,
                  lip_vertices(irregular.identity, irregular.param),
                  upper_face_vertices(irregular.identity, irregular.param)))
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(head.verts), o3d.utility.Vector3iVector(head.faces))
    small = mesh.simplify_quadric_decimation(target_number_of_triangles=len(head.faces) // 3)
    verts, faces = np.asarray(small.vertices), np.asarray(small.triangles)
    nearest = cKDTree(head.verts).query(verts)[1]  # regions carried over by nearest full-resolution vertex
    cases.append(("decimated 1/3", verts, faces, np.flatnonzero(np.isin(nearest, lips)),
                  np.flatnonzero(np.isin(nearest, upper))))
    cases.append(("point cloud", head.verts, None, lips, upper))
    a, b = head.faces[0][:2]
    extra = np.vstack([head.verts[a] + [0.0, 0.0, 0.01], head.verts[:3] * 0.05 + [0.0, 0.16, 0.0]])
    n = len(head.verts)
    cases.append(("non-manifold + components", np.vstack([head.verts, extra]),
                  np.vstack([head.faces, [[a, b, n]], [[n + 1, n + 2, n + 3]]]), lips, upper))
    return cases


def evaluate(checkpoint: str | None = None, cache_dir: str | None = None) -> dict:
    """Movement figures of `checkpoint` (default: the shipped model) on each kind of face."""
    from scantalk import Animator
    from scantalk.data.synth import build_head, lip_vertices, make_sample_speech, sample_identity, upper_face_vertices

    animator = Animator.from_checkpoint(checkpoint, device="cpu", cache_dir=cache_dir)
    speech = make_sample_speech(HELD_OUT_SEED, seconds=3.0)
    head = build_head(sample_identity(HELD_OUT_SEED), "icosphere", seed=HELD_OUT_SEED)
    lips, upper = lip_vertices(head.identity, head.param), upper_face_vertices(head.identity, head.param)
    rows = []
    for name, verts, faces, lip_ids, upper_ids in _faces_to_test(head, lips, upper):
        frames = animator.animate(verts, speech, faces=faces, sample_rate=16000).frames
        mouth, forehead = movement(frames, lip_ids), movement(frames, upper_ids)
        rows.append({"face": name, "vertices": int(len(verts)), "mouth_mm": 1e3 * mouth,
                     "forehead_mm": 1e3 * forehead, "ratio": mouth / max(forehead, 1e-12)})
    pause = 1e-3 * np.random.default_rng(0).normal(size=3 * 16000).astype(np.float32)  # room noise
    frames = animator.animate(head.verts, np.concatenate([speech, pause]), faces=head.faces, sample_rate=16000).frames
    silence = movement(frames[-60:], lips) / movement(frames[:90], lips)  # skip the pause's first second
    passed = all(row["mouth_mm"] > TARGETS["mouth_mm"] and row["ratio"] > TARGETS["ratio"] for row in rows)
    return {"checkpoint": animator.checkpoint, "held_out_seed": HELD_OUT_SEED, "speech_seconds": 3.0,
            "faces": rows, "silence_over_talking": silence, "targets": TARGETS,
            "passed": bool(passed and silence < TARGETS["silence"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="a ScanTalk .ckpt (default: the shipped model)")
    parser.add_argument("--cache-dir", default=None, help="operator cache (default: the user cache)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "default_model_eval.json")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    result = evaluate(args.checkpoint, args.cache_dir)
    result["seconds"] = time.perf_counter() - clock
    print(f"{'face':<28} {'V':>6} {'mouth mm':>9} {'forehead mm':>12} {'ratio':>7}")
    for row in result["faces"]:
        print(f"{row['face']:<28} {row['vertices']:>6} {row['mouth_mm']:>9.3f} {row['forehead_mm']:>12.3f} "
              f"{row['ratio']:>7.2f}")
    print(f"silence / talking lip movement: {result['silence_over_talking']:.3f}")
    print(f"targets mouth > {TARGETS['mouth_mm']} mm, ratio > {TARGETS['ratio']}, silence < {TARGETS['silence']}: "
          f"{'met' if result['passed'] else 'MISSED'}")
    from scantalk.atomic import atomic_write_text

    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 1 if args.strict and not result["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
