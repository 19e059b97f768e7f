"""Benchmark of `compute_operators` on head-sized procedural surfaces, plus DiffusionNet throughput.

For each size: wall time split (laplacian / gradients / eigen), peak resident memory (each size
runs in its own subprocess, read from getrusage), and the max relative error of the first
k = 128 eigenvalues (λ = 0 skipped) against a converged ARPACK shift-invert solve. Also: torch
sparse CSR vs COO for (V, V) @ (V, N) and DiffusionNet forward throughput (skipped with a note
when `scantalk.nn` is not importable). Prints a table and writes JSON atomically.

    python experiments/bench/operators.py --sizes 5000 40000 160000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from scantalk.atomic import atomic_write_text
from scantalk.geometry import shapes
from scantalk.geometry.eigen import EIGEN_BLAS_THREADS, direct_eigenpairs, limit_blas_threads
from scantalk.geometry.laplacian import laplacian_and_mass
from scantalk.geometry.operators import compute_operators

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")


def measure_size(num_vertices: int, k_eig: int, reference: bool, blas_threads: int | None = EIGEN_BLAS_THREADS) -> dict:
    """Run in a fresh process: operators of head_like(num_vertices), timing, memory, accuracy."""
    verts, faces = shapes.head_like(num_vertices)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    ops = compute_operators(verts, faces, k_eig, timings=timings, blas_threads=blas_threads)
    total = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = {"vertices": num_vertices, "total_s": total, **{f"{key}_s": value for key, value in timings.items()},
              "peak_rss_mib": peak_mib, "load_average_1min": os.getloadavg()[0]}
    if reference:
        L, mass = laplacian_and_mass(verts, faces)
        start = time.perf_counter()
        with limit_blas_threads(blas_threads):
            exact, _ = direct_eigenpairs(L, mass, k_eig)
        result["reference_eigsh_s"] = time.perf_counter() - start
        fast = ops.evals.double().numpy()
        nonzero = exact > 1e-6 * exact.max()
        result["max_rel_eval_error"] = float(np.max(np.abs(fast[nonzero] - exact[nonzero]) / exact[nonzero]))
    return result


def sparse_format_timings(num_vertices: int, columns: int, repeats: int = 3) -> dict:
    """Seconds per L @ X (X (V, columns) float32) for torch CSR and COO layouts."""
    ops = compute_operators(*shapes.head_like(num_vertices), k_eig=16, eigensolver="direct")
    dense = torch.randn(num_vertices, columns)
    result = {"vertices": num_vertices, "columns": columns}
    for name, matrix in (("csr", ops.L.to_sparse_csr()), ("coo", ops.L.to_sparse_coo().coalesce())):
        matrix @ dense
        start = time.perf_counter()
        for _ in range(repeats):
            matrix @ dense
        result[f"{name}_s"] = (time.perf_counter() - start) / repeats
    return result


def diffusionnet_throughput(num_vertices: int, frames: int = 150) -> dict:
    """Forward time of DiffusionNet(width 32, 4 blocks, k 128) on x (frames, V, 3)."""
    from scantalk.nn import DiffusionNet

    ops = compute_operators(*shapes.head_like(num_vertices), k_eig=128)
    net = DiffusionNet(c_in=3, c_out=3, width=32, n_blocks=4).eval()
    x = ops.verts[None].expand(frames, -1, -1).contiguous()
    with torch.no_grad():
        net(x[:2], ops)
        start = time.perf_counter()
        net(x, ops)
        seconds = time.perf_counter() - start
    return {"vertices": num_vertices, "frames": frames, "forward_s": seconds, "frames_per_s": frames / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 40000, 160000])
    parser.add_argument("--k-eig", type=int, default=128)
    parser.add_argument("--no-reference", action="store_true", help="skip the slow converged eigsh solve")
    parser.add_argument("--throughput-sizes", type=int, nargs="*", default=[5000, 40000])
    parser.add_argument("--out", type=Path, default=Path("experiments/bench/results/operators.json"))
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker is not None:
        print(json.dumps(measure_size(args.worker, args.k_eig, not args.no_reference)))
        return 0

    report: dict = {"machine": {"cpus": torch.get_num_threads(), "torch": torch.__version__},
                    "k_eig": args.k_eig, "operators": [], "sparse_format": [], "diffusionnet": []}
    print(f"{'V':>8} {'total s':>8} {'lapl s':>7} {'grad s':>7} {'eigen s':>8} {'peak MiB':>9} "
          f"{'ref s':>7} {'max rel err':>12} {'load':>5}")
    for size in args.sizes:
        command = [sys.executable, __file__, "--worker", str(size), "--k-eig", str(args.k_eig)]
        if args.no_reference:
            command.append("--no-reference")
        row = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        report["operators"].append(row)
        print(f"{row['vertices']:>8} {row['total_s']:>8.2f} {row['laplacian_s']:>7.2f} {row['gradients_s']:>7.2f} "
              f"{row['eigen_s']:>8.2f} {row['peak_rss_mib']:>9.0f} {row.get('reference_eigsh_s', float('nan')):>7.1f} "
              f"{row.get('max_rel_eval_error', float('nan')):>12.2e} {row['load_average_1min']:>5.1f}", flush=True)

    print("\nsparse format, L @ X with X (V, 2048) float32:")
    for size in args.throughput_sizes:
        row = sparse_format_timings(size, 2048)
        report["sparse_format"].append(row)
        print(f"  V={size:>7}: CSR {row['csr_s'] * 1e3:7.1f} ms   COO {row['coo_s'] * 1e3:7.1f} ms", flush=True)

    print("\nDiffusionNet forward (width 32, 4 blocks, k 128, 150 frames):")
    try:
        import scantalk.nn  # noqa: F401
    except ImportError as error:
        print(f"  skipped: scantalk.nn is not importable ({error})")
        report["diffusionnet"] = f"skipped: {error}"
    else:
        for size in args.throughput_sizes:
            row = diffusionnet_throughput(size)
            report["diffusionnet"].append(row)
            print(f"  V={size:>7}: {row['forward_s']:6.2f} s per forward, {row['frames_per_s']:7.1f} frames/s", flush=True)

    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
