"""How well a face's orientation and nose tip are found from its geometry alone (issue 17, item 2).

    python experiments/evaluate/orientation.py            # 12 heads x 24 orientations, upright and tilted
    python experiments/evaluate/orientation.py --quick    # 6 orientations per head, a smoke run

Heads (model frame, landmarks known): anatomical procedural heads of seeds >= 900000 (training
uses lower seeds), the real `james` scan (whole head open at the neck) and MediaPipe's face mask;
then the shapes people bring: a bust (neck 20 cm long, standing on shoulders), a face-only crop, a
sculpted character whose chin juts out beyond its nose, a point cloud, and a head under a
separate hair cap. Each is stored in every one of the 24 axis-aligned orientations, in
millimetres, once exactly so and once also tilted by a random 0-20° about a random axis, and
handed to `scantalk.face.orientation.find_orientation`.

Per head: the share found (angular error under 15°), the share `fit_alignment` would apply
(confidence >= MIN_FRAME_CONFIDENCE), the median and worst angular error (axis-aligned and
tilted), the median and worst nose-tip error in mm (against the head's landmark), the lowest
confidence, and seconds per face. Prints a table and the angular error per head x orientation,
and writes JSON atomically (default experiments/results/orientation_eval.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "orientation_eval.json"
FOUND_DEGREES = 15.0
MAX_TILT_DEGREES = 20.0


def head_from_shape(shape, name: str, resolution: float):
    """A procedural head of a custom `HeadShape` (what `procedural_head` does for a seed's shape)."""
    from scantalk.synthesis.heads import procedural as P
    from scantalk.face.head import Head

    skin_v, skin_f = P._marching_cubes(shape, resolution)
    eye_v, eye_f = P._eyeballs(P._layout(shape))
    landmarks = P._snapped(P.shape_landmarks(shape), skin_v, skin_f)
    return Head(np.concatenate([skin_v, eye_v]), np.concatenate([skin_f, eye_f + len(skin_v)]), landmarks, name)


def _ellipsoid(centre, radii, resolution: int = 24) -> tuple[np.ndarray, np.ndarray]:
    import open3d as o3d

    sphere = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=resolution)
    return np.asarray(sphere.vertices) * radii + centre, np.asarray(sphere.triangles).astype(np.int64)


def _with_part(head, verts: np.ndarray, faces: np.ndarray, name: str):
    from dataclasses import replace

    return replace(head, verts=np.concatenate([head.verts, verts]),
                   faces=np.concatenate([head.faces, faces + len(head.verts)]), name=name)


def evaluation_heads(resolution: float) -> list:
    """The 12 heads, in the model frame, with their landmarks."""
    from dataclasses import replace

    from scantalk.synthesis.heads import procedural as P
    from scantalk.synthesis.heads.meshing import crop_face, point_cloud
    from scantalk.face.samples import real_face

    heads = [P.procedural_head(seed, resolution) for seed in range(900000, 900005)]
    heads += [real_face("james"), real_face("mediapipe")]
    shape = replace(P.sample_shape(900005), neck_length=0.2)
    bust = head_from_shape(shape, "bust/900005 (20 cm neck, shoulders)", resolution)
    shoulders = _ellipsoid([0.0, P._layout(shape).neck_bottom - 0.02, -0.04], [0.21, 0.09, 0.12])
    bust = _with_part(bust, *shoulders, bust.name)
    heads.append(bust)
    heads.append(crop_face(P.procedural_head(900006, resolution)))
    heads.append(head_from_shape(replace(P.sample_shape(900007), chin=0.035), "big-chin/900007", resolution))
    heads.append(point_cloud(P.procedural_head(900008, resolution), np.random.default_rng(0), 8000))
    hair = P.sample_shape(900009)
    capped = head_from_shape(hair, "hair-cap/900009", resolution)
    cap_v, cap_f = _ellipsoid([0.0, 0.022, -0.012], [hair.cranium_width + 0.012, hair.cranium_height + 0.012,
                                                     hair.cranium_depth + 0.012], 30)
    keep = (cap_v[:, 1] > 0.03) | (cap_v[:, 2] < -0.04)
    heads.append(_with_part(capped, cap_v[keep], (np.cumsum(keep) - 1)[cap_f[keep[cap_f].all(axis=1)]], capped.name))
    return heads


def _angle(rotation: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0))))


def evaluate(heads: list, orientations: list[int], seed: int = 0) -> list[dict]:
    """One record per head x orientation x (exact, tilted)."""
    from scipy.spatial.transform import Rotation

    from scantalk.face.orientation import OrientationError, find_orientation

    rng = np.random.default_rng(seed)
    axes = np.round(Rotation.create_group("O").as_matrix())
    cases = []
    for head in heads:
        for index in orientations:
            axis = rng.normal(size=3)
            tilt_degrees = float(rng.uniform(0.0, MAX_TILT_DEGREES))
            tilt = Rotation.from_rotvec(axis / np.linalg.norm(axis) * np.radians(tilt_degrees)).as_matrix()
            for tilted in (False, True):
                turn = axes[index] @ tilt if tilted else axes[index]  # model → file
                verts = head.verts @ turn.T * 1000.0  # the file, in millimetres
                start = time.perf_counter()
                try:
                    found = find_orientation(verts, head.faces, name=head.name)
                except OrientationError as error:
                    found, message = None, str(error)
                seconds = time.perf_counter() - start
                record = {"head": head.name, "orientation": int(index), "tilt_degrees": tilt_degrees if tilted else 0.0,
                          "seconds": seconds}
                if found is None:
                    record.update(error=message, angle_error_degrees=180.0, nose_error_mm=None, confidence=0.0)
                else:
                    nose = found.nose_tip / 1000.0 @ turn
                    record.update(found=found.description, angle_error_degrees=_angle(found.rotation @ turn),
                                  nose_error_mm=float(np.linalg.norm(nose - head.landmarks.nose_tip) * 1000.0),
                                  confidence=found.confidence, cues=found.cues)
                cases.append(record)
    return cases


def summarise(cases: list[dict]) -> dict[str, dict]:
    from scantalk.face.alignment import MIN_FRAME_CONFIDENCE

    summary = {}
    for name in dict.fromkeys(case["head"] for case in cases):
        mine = [case for case in cases if case["head"] == name]
        exact = np.array([case["angle_error_degrees"] for case in mine if case["tilt_degrees"] == 0.0])
        tilted = np.array([case["angle_error_degrees"] for case in mine if case["tilt_degrees"] > 0.0])
        nose = np.array([case["nose_error_mm"] for case in mine if case["nose_error_mm"] is not None])
        summary[name] = {
            "cases": len(mine),
            "found_share": float(np.mean([case["angle_error_degrees"] < FOUND_DEGREES for case in mine])),
            "applied_share": float(np.mean([case["confidence"] >= MIN_FRAME_CONFIDENCE for case in mine])),
            "axis_aligned_error_median_deg": float(np.median(exact)), "axis_aligned_error_max_deg": float(exact.max()),
            "tilted_error_median_deg": float(np.median(tilted)), "tilted_error_max_deg": float(tilted.max()),
            "nose_error_median_mm": float(np.median(nose)) if len(nose) else None,
            "nose_error_max_mm": float(nose.max()) if len(nose) else None,
            "confidence_min": float(min(case["confidence"] for case in mine)),
            "seconds_per_face": float(np.mean([case["seconds"] for case in mine])),
        }
    return summary


def print_tables(summary: dict[str, dict], cases: list[dict], orientations: list[int]) -> None:
    print(f"| head | found | applied | error axis-aligned med/max ° | error tilted med/max ° | nose med/max mm | "
          f"min confidence | s/face |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in summary.items():
        print(f"| {name} | {row['found_share']:.0%} | {row['applied_share']:.0%} | "
              f"{row['axis_aligned_error_median_deg']:.1f} / {row['axis_aligned_error_max_deg']:.1f} | "
              f"{row['tilted_error_median_deg']:.1f} / {row['tilted_error_max_deg']:.1f} | "
              f"{row['nose_error_median_mm']:.1f} / {row['nose_error_max_mm']:.1f} | {row['confidence_min']:.2f} | "
              f"{row['seconds_per_face']:.2f} |")
    print("\nangular error (°) per head x orientation, tilted files (axis-aligned ones are in the JSON):")
    print("head".ljust(40) + "".join(f"{index:>5d}" for index in orientations))
    for name in summary:
        errors = {case["orientation"]: case["angle_error_degrees"] for case in cases
                  if case["head"] == name and case["tilt_degrees"] > 0.0}
        print(name[:39].ljust(40) + "".join(f"{errors[index]:5.0f}" for index in orientations))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 of the 24 orientations per head")
    parser.add_argument("--resolution", type=float, default=0.003, help="procedural heads' mesh spacing in metres")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random tilts")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="where to write the JSON results")
    args = parser.parse_args(argv)

    from scantalk.atomic import atomic_write_text

    orientations = list(range(0, 24, 4)) if args.quick else list(range(24))
    heads = evaluation_heads(args.resolution)
    cases = evaluate(heads, orientations, args.seed)
    summary = summarise(cases)
    print_tables(summary, cases, orientations)
    result = {"meta": {"script": "experiments/evaluate/orientation.py", "orientations": orientations,
                       "units": "millimetres", "max_tilt_degrees": MAX_TILT_DEGREES, "found_degrees": FOUND_DEGREES,
                       "resolution_m": args.resolution, "seed": args.seed, "python": platform.python_version()},
              "summary": summary, "cases": cases}
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
