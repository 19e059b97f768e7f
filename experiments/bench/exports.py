"""Benchmark of the artist-facing exports: time, file size and round-trip error.

10 s of speech-like motion at 30 fps (300 frames) on procedural head-sized surfaces of 5k and
100k vertices: twelve smooth displacement fields around the mouth (3 mm down to 0.01 mm) driven by
smooth, incommensurate curves, so the factorisation has a real spectrum to cut. Each format is
written, read back (pygltflib / pxr / csv) and compared with the input frames at every vertex.
ARKit curves do not depend on the mesh and are measured once. Prints a table and writes JSON.

    python experiments/bench/exports.py --sizes 5000 100000
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_mb, report  # noqa: E402

from scantalk.articulation import ArticulationTrack  # noqa: E402
from scantalk.export import arkit_weights, export_arkit_csv, export_gltf, read_gltf_frames  # noqa: E402
from scantalk.export.usd import export_usd, read_usd_frames  # noqa: E402
from scantalk.geometry import shapes  # noqa: E402
from scantalk.inference.animation import Animation  # noqa: E402

FPS = 30.0
SECONDS = 10.0


def speech_like_animation(num_vertices: int, seed: int = 0) -> Animation:
    """(300, V, 3) smooth mouth motion on `shapes.head_like(V)`, metres, with 10 s of audio at 16 kHz."""
    rng = np.random.default_rng(seed)
    neutral, faces = shapes.head_like(num_vertices)
    neutral = neutral.astype(np.float32)
    times = np.arange(int(SECONDS * FPS)) / FPS
    mouth = np.array([0.0, -0.05, 0.09])
    motion = np.zeros((len(times), num_vertices, 3), np.float32)
    for k, amplitude in enumerate(np.geomspace(3e-3, 1e-5, 12)):
        centre = mouth + rng.normal(scale=0.02, size=3)
        weight = np.exp(-np.sum((neutral - centre) ** 2, axis=1) / (2 * 0.025 ** 2))
        direction = rng.normal(size=3)
        field = (amplitude * weight[:, None] * direction / np.linalg.norm(direction)).astype(np.float32)
        curve = sum(np.sin(2 * np.pi * rng.uniform(0.5, 6.0) * times + rng.uniform(0, 6.3)) for _ in range(3)) / 3
        motion += curve.astype(np.float32)[:, None, None] * field[None]
    audio = (0.1 * np.sin(2 * np.pi * 180 * np.arange(int(SECONDS * 16000)) / 16000)).astype(np.float32)
    return Animation(neutral[None] + motion, neutral, faces.astype(np.int64), FPS, audio, 16000, {"source": "bench"})


def _error_mm(read: np.ndarray, frames: np.ndarray) -> float:
    return float(np.linalg.norm(read.astype(np.float64) - frames, axis=-1).max() * 1e3)


def measure(animation: Animation, folder: Path, usda: bool) -> list[dict]:
    """One row per format: export seconds, MB, targets, the error it reports and the error read back."""
    rows = []
    size = animation.frames.shape[1]
    for label, options in (("glb low-rank", {}), ("glb exact", {"exact": True})):
        started = time.perf_counter()
        result = export_gltf(animation, folder / f"{size}_{label.replace(' ', '_')}.glb", **options)
        seconds = time.perf_counter() - started
        frames, _, _ = read_gltf_frames(result.path)
        rows.append({"vertices": size, "format": label, "seconds": seconds, "MB": result.size_bytes / 1e6,
                     "targets": result.num_targets, "reported_max_mm": result.max_error * 1e3,
                     "readback_max_mm": _error_mm(frames, animation.frames), "bound_met": result.bound_met})
        del frames
    for suffix in (".usdc", ".usda") if usda else (".usdc",):
        started = time.perf_counter()
        result = export_usd(animation, folder / f"{size}{suffix}")
        seconds = time.perf_counter() - started
        frames, _, _, _ = read_usd_frames(result.path)
        rows.append({"vertices": size, "format": suffix.lstrip("."), "seconds": seconds,
                     "MB": result.size_bytes / 1e6, "targets": 0, "reported_max_mm": 0.0,
                     "readback_max_mm": _error_mm(frames, animation.frames), "bound_met": True})
        del frames
    return rows


def measure_arkit(folder: Path) -> dict:
    """ARKit CSV for a 300-frame articulation track: time, size, and the largest value error read back."""
    rng = np.random.default_rng(1)
    values = np.clip(np.abs(np.cumsum(rng.normal(scale=0.05, size=(int(SECONDS * FPS), 5)), axis=0)), 0, 1)
    track = ArticulationTrack(values, FPS)
    started = time.perf_counter()
    path = export_arkit_csv(track, folder / "arkit.csv")
    seconds = time.perf_counter() - started
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    read = np.array([row[2:54] for row in rows], float)
    return {"vertices": 0, "format": "arkit csv", "seconds": seconds, "MB": path.stat().st_size / 1e6,
            "targets": 52, "reported_max_mm": None,
            "readback_max_mm": None, "readback_max_weight": float(np.abs(read - arkit_weights(track)).max()),
            "bound_met": True}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 100000])
    parser.add_argument("--usda-up-to", type=int, default=20000,
                        help="write .usda (text) only up to this many vertices (it is ~5x the .usdc)")
    parser.add_argument("--out", default=None, help="JSON path (default experiments/bench/results/exports.json)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for size in args.sizes:
            animation = speech_like_animation(size)
            rows += measure(animation, folder, usda=size <= args.usda_up_to)
            del animation
        rows.append(measure_arkit(folder))
    report("exports", rows, args.out, frames=int(SECONDS * FPS), fps=FPS, peak_rss_mb=peak_rss_mb(),
           motion="synthetic: 12 smooth mouth fields (3 mm to 0.01 mm) on smooth curves; bound 0.1 mm")


if __name__ == "__main__":
    main()
