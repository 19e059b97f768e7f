"""Training steps/s, peak memory and decoder inference frames/s, optionally before/after a change.

    python experiments/bench/training.py [--steps 3] [--repeats 3] [--frames 120]
        [--before /tmp/before] [--out experiments/bench/results/training.json]

Training: one sequence (`--frames` at 30 fps) on a ~5k-vertex head, MelEncoder, paper defaults
(width 32, 4 blocks, k_eig 128), Adam; forward + backward + step. Inference: the ScanTalk
decoder (identity + motion → displacement, audio encoder excluded), 150 frames, at each
`--inference-sizes` vertex count. Targets: ≥ 1 training step/s; ≥ 150 frames/s at 5k vertices.

Each measurement runs in a fresh process with the code of one source tree first on the path:
this checkout ("after") and, with `--before DIR`, another checkout of the project (e.g.
`git worktree add /tmp/before ec141ad`), with the same virtual environment. Runs alternate
between the trees so a change in machine load hits both alike; every figure is the median over
`--repeats` processes (each itself a median over `--steps` steps), and the spread is recorded.
Only the public API common to both trees is used (`ScanTalk(k_eig=...)`, `encode_identity`,
`decode`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_mb, report  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _setup(num_vertices: int, k_eig: int = 128) -> tuple[Any, torch.Tensor, Any]:
    from scantalk.geometry import compute_operators
    from scantalk.geometry.shapes import head_like
    from scantalk.model import ScanTalk

    verts, faces = head_like(num_vertices)
    ops = compute_operators(verts, faces, k_eig)
    torch.manual_seed(0)
    model = ScanTalk(k_eig=k_eig)
    torch.nn.init.normal_(model.decoder.output_linear.weight, std=1e-3)  # a trained-like, non-zero decoder
    return model, torch.as_tensor(verts, dtype=torch.float32), ops


def measure_training(steps: int, frames: int, num_vertices: int = 5000) -> float:
    """Median seconds of one training step (forward, backward, Adam) after one warm-up step.

    Args:
        steps: timed steps.
        frames: sequence length in frames (30 fps; the audio is frames / 30 s at 16 kHz).
        num_vertices: vertices of the head.

    Returns:
        The median step time in seconds.
    """
    model, template, ops = _setup(num_vertices)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    audio = torch.randn(int(frames / 30 * 16000))
    target = template.expand(frames, -1, -1) + 1e-3 * torch.randn(frames, *template.shape)
    times = []
    for _ in range(steps + 1):  # the first step warms up allocators and the basis cache
        clock = time.perf_counter()
        loss = (model(audio, template, ops, frames) - target).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        times.append(time.perf_counter() - clock)
    return statistics.median(times[1:])


def measure_inference(num_vertices: int, frames: int = 150, repeats: int = 3) -> float:
    """Fastest of `repeats` decoder passes over `frames` frames, in seconds.

    Args:
        num_vertices: vertices of the head.
        frames: frames decoded in one call.
        repeats: passes timed.

    Returns:
        The best pass time in seconds (the decoder alone, no audio encoder).
    """
    model, template, ops = _setup(num_vertices)
    model.eval()
    with torch.inference_mode():
        identity = model.encode_identity(template, ops)
        motion = torch.randn(frames, identity.shape[1])
        times = []
        for _ in range(repeats):
            clock = time.perf_counter()
            model.decode(identity, motion, ops)
            times.append(time.perf_counter() - clock)
    return min(times)


def _measure_here(steps: int, frames: int, sizes: list[int]) -> dict[str, Any]:
    """One process's figures, with the tree its `scantalk` came from."""
    import scantalk

    result = {"tree": str(Path(scantalk.__file__).resolve().parents[1]),
              "training_s": measure_training(steps, frames)}
    result["inference_s"] = {str(size): measure_inference(size) for size in sizes}
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def _measure_in(tree: Path, steps: int, frames: int, sizes: list[int]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # ahead of the editable install of this checkout
    command = [sys.executable, __file__, "--worker", "--steps", str(steps), "--frames", str(frames),
               "--inference-sizes", *map(str, sizes)]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark failed in {tree}:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["tree"]) != tree.resolve():
        raise SystemExit(f"measured {result['tree']} instead of {tree}: check PYTHONPATH")
    return result


def _rows(code: str, runs: list[dict[str, Any]], steps: int, frames: int) -> list[dict[str, Any]]:
    training = [run["training_s"] for run in runs]
    step = statistics.median(training)
    rows = [{"code": code, "bench": "training step", "vertices": 5000, "frames": frames, "median_s": step,
             "min_s": min(training), "max_s": max(training), "steps_per_s": 1.0 / step,
             "peak_rss_mb": max(run["peak_rss_mb"] for run in runs), "target": "≥ 1 step/s"}]
    for size in runs[0]["inference_s"]:
        passes = [run["inference_s"][size] for run in runs]
        best = statistics.median(passes)
        rows.append({"code": code, "bench": "decoder inference", "vertices": int(size), "frames": 150,
                     "median_s": best, "min_s": min(passes), "max_s": max(passes), "frames_per_s": 150 / best,
                     "target": "≥ 150 frames/s" if int(size) <= 5000 else ""})
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the benchmark (see the module docstring); print the table and write the JSON.

    Args:
        argv: command-line arguments; None reads `sys.argv`.

    Returns:
        The table rows.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per process")
    parser.add_argument("--frames", type=int, default=120, help="training sequence length (30 fps)")
    parser.add_argument("--repeats", type=int, default=3, help="processes per tree (median reported)")
    parser.add_argument("--inference-sizes", type=int, nargs="+", default=[5000])
    parser.add_argument("--before", default=None, help="another checkout to measure alongside this one")
    parser.add_argument("--before-label", default=None, help="how the table names it (default: its commit)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_measure_here(args.steps, args.frames, args.inference_sizes)))
        return []

    trees = {"after": REPO}
    if args.before:
        before = Path(args.before).resolve()
        label = args.before_label or subprocess.run(["git", "-C", str(before), "rev-parse", "--short", "HEAD"],
                                                    capture_output=True, text=True).stdout.strip()
        trees = {f"before ({label})": before, "after": REPO}
    runs: dict[str, list[dict[str, Any]]] = {code: [] for code in trees}
    for repeat in range(args.repeats):
        for code, tree in trees.items():  # alternate, so load drift affects both trees alike
            runs[code].append(_measure_in(tree, args.steps, args.frames, args.inference_sizes))
            print(f"repeat {repeat + 1}/{args.repeats} {code}: training step {runs[code][-1]['training_s']:.2f} s",
                  flush=True)
    rows = [row for code in trees for row in _rows(code, runs[code], args.steps, args.frames)]
    after = REPO.resolve()
    commit = subprocess.run(["git", "-C", str(after), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    report("training", rows, args.out, after_commit=commit, repeats=args.repeats, steps_per_repeat=args.steps,
           load_average_1_5_15=[round(x, 1) for x in load],
           note="medians over repeats on a shared machine; runs alternate between trees",
           runs={code: runs[code] for code in runs})
    return rows


if __name__ == "__main__":
    main()
