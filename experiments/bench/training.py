"""Training steps/s and peak memory on this machine, and decoder inference frames/s.

    python experiments/bench/training.py [--steps 5] [--out experiments/bench/results/training.json]

Training: one 4 s sequence (120 frames at 30 fps) on a ~5k-vertex head, MelEncoder, paper
defaults (width 32, 4 blocks, k_eig 128), Adam; forward + backward + step. Inference: the
ScanTalk decoder (identity + motion → displacement, audio encoder excluded) at 5k and 40k
vertices, 150 frames. Targets: ≥ 1 training step/s; inference ≥ 150 frames/s at 5k vertices.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_mb, report  # noqa: E402


def _setup(num_vertices: int, k_eig: int = 128):
    from scantalk.geometry import compute_operators
    from scantalk.geometry.shapes import head_like
    from scantalk.model import ScanTalk

    verts, faces = head_like(num_vertices)
    ops = compute_operators(verts, faces, k_eig)
    torch.manual_seed(0)
    model = ScanTalk(k_eig=k_eig)
    torch.nn.init.normal_(model.decoder.output_linear.weight, std=1e-3)  # a trained-like, non-zero decoder
    return model, torch.as_tensor(verts, dtype=torch.float32), ops


def bench_training(steps: int, num_vertices: int = 5000, seconds: float = 4.0) -> dict:
    model, template, ops = _setup(num_vertices)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    frames = int(seconds * 30)
    audio = torch.randn(int(seconds * 16000))
    target = template.expand(frames, -1, -1) + 1e-3 * torch.randn(frames, *template.shape)
    times = []
    for _ in range(steps + 1):  # the first step warms up allocators and the basis cache
        clock = time.perf_counter()
        loss = (model(audio, template, ops, frames) - target).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        times.append(time.perf_counter() - clock)
    step = sorted(times[1:])[len(times[1:]) // 2]
    return {"bench": "training step", "vertices": num_vertices, "frames": frames, "median_s": step,
            "steps_per_s": 1.0 / step, "peak_rss_mb": peak_rss_mb(), "target": "≥ 1 step/s"}


def bench_inference(num_vertices: int, frames: int = 150, repeats: int = 3) -> dict:
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
    best = min(times)
    target = "≥ 150 frames/s" if num_vertices <= 5000 else ""
    return {"bench": "decoder inference", "vertices": num_vertices, "frames": frames, "median_s": best,
            "frames_per_s": frames / best, "peak_rss_mb": peak_rss_mb(), "target": target}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--inference-sizes", type=int, nargs="+", default=[5000, 40000])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rows = [bench_training(args.steps)]
    rows += [bench_inference(size) for size in args.inference_sizes]
    report("training", rows, args.out)
    return rows


if __name__ == "__main__":
    main()
