"""Every geometric export imported in headless Blender, compared with the project's frames (issue 18).

    python experiments/evaluate/exports_in_blender.py            # james stored z-up in mm, a real clip
    python experiments/evaluate/exports_in_blender.py --blender /path/to/blender
    python experiments/evaluate/exports_in_blender.py --bpy-python /path/to/venv/bin/python
        # also Blender as a Python module (`pip install bpy`, Blender 5 with its USD importer)

The shipped default animates the real `james` scan stored as many scans are (z up, facing -y,
millimetres) with a held-out real recording, life on (blinks, gaze, brows, head motion); the animation is exported as .glb (low-rank morph
targets) and as a USD point cache, each imported by `experiments/blender/import_and_play.py` in Blender
(Debian's `blender`, or any given with --blender), and Blender's evaluated mesh is compared at
several frames with what the project computed: the face stood upright by its alignment, in metres,
in Blender's z-up world (glTF's and USD's y up becomes Blender's z). Per export: the largest
vertex error (mm, against the stated bound), the scene's fps and the animation's frame range
against the project's, whether the face stands up (the angle of chin → eyes from Blender's +z)
and faces the front (the angle of the nose's offset from -y), and its height in metres. Prints a table and writes JSON atomically (default
experiments/results/blender_exports.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]  # experiments/
DEFAULT_OUT = HERE / "results" / "blender_exports.json"
# glTF / USD (y up, +z forward) → Blender (z up, -y forward): x stays, y → z, z → -y.
Y_UP_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


SCRIPT = HERE / "blender" / "import_and_play.py"


def clients(blender: str | None, bpy_python: str | None) -> dict[str, list[str]]:
    """{Blender's version: the command that runs SCRIPT in it, up to its "--"}: the Blender
    executable and/or a Python with PyPI's `bpy` module."""
    found = {}
    if blender:
        version = subprocess.run([blender, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        found[version] = [blender, "-b", "--factory-startup", "--python-exit-code", "1", "-P", str(SCRIPT), "--"]
    if bpy_python:
        version = subprocess.run([bpy_python, "-c", "import bpy; print(bpy.app.version_string)"], capture_output=True,
                                 text=True, check=True).stdout.strip().splitlines()[-1]
        found[f"Blender {version} (PyPI bpy)"] = [bpy_python, str(SCRIPT), "--"]
    return found


def blender_frames(client: list[str], path: Path, fps: float, frames: list[int], work: Path) -> dict:
    """What Blender plays for the export at `path`: rest (V, 3), frames (K, V, 3), fps, range."""
    out = work / f"{path.name}.json"
    command = client + [str(path), str(out), str(fps)] + [str(f) for f in frames]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if "unsupported: " in done.stdout + done.stderr:
        return {"unsupported": (done.stdout + done.stderr).split("unsupported: ")[1].splitlines()[0]}
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"Blender failed on {path.name}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    data = json.loads(out.read_text())
    return {"rest": np.reshape(data["rest"], (-1, 3)),
            "frames": np.reshape(data["frames"], (len(frames), -1, 3)),
            "fps": data["fps"], "frame_start": data["frame_start"], "frame_end": data["frame_end"]}


def compare(expected: np.ndarray, rest_expected: np.ndarray, played: dict, landmarks: np.ndarray) -> dict:
    """Blender's frames against the project's (both in Blender's frame, metres), matched by the
    nearest rest vertex (an importer may reorder or split vertices)."""
    from scipy.spatial import cKDTree

    distance, match = cKDTree(rest_expected).query(played["rest"])
    error = np.linalg.norm(played["frames"] - expected[:, match], axis=-1).max()
    # Landmarks as Blender shows them: the imported vertices that came from the face's vertices
    # nearest to them. Upright: chin → eyes along Blender's +z; facing: the nose out along -y.
    nose, chin, left, right = (
        played["rest"][np.flatnonzero(match == np.argmin(np.linalg.norm(rest_expected - point, axis=1)))[0]]
        for point in landmarks[[5, 4, 6, 7]])
    up = 0.5 * (left + right) - chin
    out = nose - 0.5 * (0.5 * (left + right) + chin)

    def degrees(vector: np.ndarray, axis: np.ndarray) -> float:
        return float(np.degrees(np.arccos(np.clip(vector @ axis / np.linalg.norm(vector), -1.0, 1.0))))

    return {"rest_match_mm": 1000.0 * float(distance.max()), "max_error_mm": 1000.0 * float(error),
            "up_from_z_degrees": degrees(up, np.array([0.0, 0.0, 1.0])),
            "facing_from_minus_y_degrees": degrees(out, np.array([0.0, -1.0, 0.0])),
            "height_m": float(np.ptp(played["rest"][:, 2]))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blender", default=shutil.which("blender"), help="the Blender executable")
    parser.add_argument("--bpy-python", default=None,
                        help="also a Python that has Blender as a module (`pip install bpy` in its own venv)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the real clip used")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON results")
    args = parser.parse_args(argv)
    if not (args.blender or args.bpy_python):
        raise SystemExit("Blender is not installed: apt-get install blender (Debian), or pass --blender PATH "
                         "or --bpy-python PYTHON (a Python with `pip install bpy`)")
    blenders = clients(args.blender, args.bpy_python)

    from scantalk import Animator
    from scantalk.atomic import atomic_write_text
    from common import real_clips
    from scantalk.export import export_gltf
    from scantalk.export.usd import export_usd
    from scantalk.face.samples import real_face

    clock = time.perf_counter()
    head = real_face("james")
    # As many scans are stored: z up, facing -y, millimetres.
    to_file = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    file_verts = 1000.0 * head.verts @ to_file.T
    utterance = real_clips(1)[0]
    samples = utterance.samples[: int(args.seconds * utterance.sample_rate)]
    animator = Animator.from_checkpoint(cache_dir=False)
    # With life: blinks, gaze, brows and head motion ride on the speech, as an artist would export it.
    animation = animator.animate((file_verts, head.faces), samples, sample_rate=utterance.sample_rate, life=1.0)
    rotation = np.asarray(animation.meta["alignment"]["rotation"])
    scale = float(animation.meta["alignment"]["scale"])
    # What a y-up client should show: stood upright, metres; then Blender's z-up axes.
    turn = Y_UP_TO_BLENDER @ rotation * scale
    expected_all = np.asarray(animation.frames, np.float64) @ turn.T
    rest_expected = np.asarray(animation.neutral, np.float64) @ turn.T
    landmarks = 1000.0 * head.landmarks.as_array() @ to_file.T @ turn.T
    count = animation.num_frames
    frames = sorted({0, count // 3, (2 * count) // 3, count - 1})
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        reports = {"glb": export_gltf(animation, work / "glb"), "usd": export_usd(animation, work / "usd")}
        for (name, report), (blender, client) in ((r, c) for c in blenders.items() for r in reports.items()):
            path = report.path
            # Time 0 lands on Blender's frame 0 (glTF importer), time code i on frame i (USD).
            played = blender_frames(client, path, animation.fps, frames, work)
            row = {"export": name, "blender": blender, "file": path.name, "frames": frames,
                   "targets": report.num_targets, "stated_error_mm": 1000.0 * report.max_error}
            if "unsupported" in played:
                rows.append({**row, "unsupported": played["unsupported"]})
                continue
            row.update(compare(expected_all[frames], rest_expected, played, landmarks))
            row.update({"fps": float(played["fps"]), "expected_fps": animation.fps,
                        "frame_range": [int(played["frame_start"]), int(played["frame_end"])],
                        "expected_range": [0, count - 1]})
            rows.append(row)
    print(f"\njames stored z-up in mm, {count} frames at {animation.fps:g} fps, frames compared {frames}\n")
    print("| Blender | export | largest error in Blender (mm) | stated by the export (mm) | fps (expected) | frame range (expected) | up from +z | facing from -y | height |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "unsupported" in r:
            print(f"| {r['blender']} | {r['export']} | not checked: {r['unsupported']} | | | | | | |")
            continue
        print(f"| {r['blender']} | {r['export']} | {r['max_error_mm']:.4f} | {r['stated_error_mm']:.4f} | {r['fps']:g} ({r['expected_fps']:g}) | "
              f"{r['frame_range']} ({r['expected_range']}) | {r['up_from_z_degrees']:.0f}° | "
              f"{r['facing_from_minus_y_degrees']:.0f}° | {r['height_m']:.3f} m |")
    payload = {"blender": list(blenders), "rows": rows, "seconds": time.perf_counter() - clock,
               "command": " ".join(["python", "experiments/evaluate/exports_in_blender.py"] + sys.argv[1:])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(payload, indent=1))
    print(f"\nwrote {args.out} ({payload['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
