"""Benchmark of `compute_operators` on head-sized procedural surfaces, plus DiffusionNet throughput.

For each size and BLAS thread count: wall time split (ordering / laplacian / gradients / eigen),
peak resident memory (each run in its own subprocess, read from getrusage), and the max relative
error of the first k = 128 eigenvalues (λ = 0 skipped) against a converged ARPACK shift-invert
solve. Also: the effect of renumbering a head's vertices (eigenvalues and a DiffusionNet's output,
worst vertex as a fraction of the output's range), torch sparse CSR vs COO for (V, V) @ (V, N),
and DiffusionNet forward throughput. Prints a table and writes JSON atomically.

    python experiments/bench/operators.py --sizes 5000 40000 160000 --blas-threads 1 2
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
    """Run in a fresh process: operators of head_like(num_vertices), timing, memory, accuracy.

    Args:
        num_vertices: V of the head.
        k_eig: eigenpairs.
        reference: also time the converged ARPACK solve and compare eigenvalues with it.
        blas_threads: BLAS threads for both solves (None: the library default).

    Returns:
        One JSON-able row: seconds per stage, peak RSS in MiB, the 1-minute load average, and
        (with `reference`) the reference time and the worst relative eigenvalue error.
    """
    verts, faces = shapes.head_like(num_vertices)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    ops = compute_operators(verts, faces, k_eig, timings=timings, blas_threads=blas_threads)
    total = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = {"vertices": num_vertices, "blas_threads": blas_threads, "total_s": total, **{f"{key}_s": value for key, value in timings.items()},
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


def permutation_effect(resolution: float = 0.007, k_eig: int = 128, seed: int = 1) -> dict:
    """How much renumbering a procedural head's vertices changes its operators and a network's output.

    The head (`scantalk.synthesis.heads.procedural.procedural_head`, identity 3, meshed at `resolution`
    metres) gets its vertices shuffled and its faces re-indexed, shuffled and rotated. A seeded
    DiffusionNet (width 32, 4 blocks, k_eig) runs on both; the figure is the worst vertex's output
    difference over the output's range.

    Returns:
        {"resolution", "vertices", "max_rel_eval_difference", "worst_vertex_fraction_of_range"}.
    """
    from scantalk.synthesis.heads.procedural import procedural_head
    from scantalk.nn import DiffusionNet

    head = procedural_head(3, resolution=resolution)
    verts, faces = head.verts, head.faces
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(verts))
    renumbered_faces = np.roll(np.argsort(perm)[faces][rng.permutation(len(faces))], 1, axis=1)
    original = compute_operators(verts, faces, k_eig)
    renumbered = compute_operators(verts[perm], renumbered_faces, k_eig)
    evals, new_evals = original.evals.double(), renumbered.evals.double()
    nonzero = evals > 1e-6 * evals.max()
    torch.manual_seed(0)
    net = DiffusionNet(c_in=3, c_out=3, width=32, n_blocks=4).eval()
    with torch.no_grad():
        answer = net(original.verts, original)[perm]
        new_answer = net(renumbered.verts, renumbered)
    spread = float((answer.max(dim=0).values - answer.min(dim=0).values).max())
    return {"resolution": resolution, "vertices": len(verts),
            "max_rel_eval_difference": float(((new_evals - evals).abs()[nonzero] / evals[nonzero]).max()),
            "worst_vertex_fraction_of_range": float((new_answer - answer).abs().max()) / spread}


def laplacian_timings(num_vertices: int, repeats: int = 3) -> dict:
    """Best-of-`repeats` seconds: our fused check + cotan assembly vs potpourri3d's assembly alone.

    Both build the same operator (tests/geometry/test_operators.py holds them equal); this is
    the measurement behind keeping the fused version in `scantalk.geometry.laplacian`.
    """
    import potpourri3d

    verts, faces = shapes.head_like(num_vertices)
    ours, theirs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        laplacian_and_mass(verts, faces)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        potpourri3d.cotan_laplacian(verts, faces)
        potpourri3d.vertex_areas(verts, faces)
        theirs.append(time.perf_counter() - start)
    return {"vertices": num_vertices, "fused_check_and_assembly_s": min(ours),
            "potpourri3d_assembly_only_s": min(theirs)}


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
    parser.add_argument("--blas-threads", type=int, nargs="+", default=[EIGEN_BLAS_THREADS],
                        help="BLAS thread counts to run each size with (the reference solve runs with the first)")
    parser.add_argument("--no-permutation", action="store_true", help="skip the vertex-renumbering check")
    parser.add_argument("--throughput-sizes", type=int, nargs="*", default=[5000, 40000])
    parser.add_argument("--out", type=Path, default=Path("experiments/bench/results/operators.json"))
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker is not None:
        print(json.dumps(measure_size(args.worker, args.k_eig, not args.no_reference, args.blas_threads[0])))
        return 0

    report: dict = {"machine": {"cpus": torch.get_num_threads(), "torch": torch.__version__},
                    "k_eig": args.k_eig, "operators": [], "permutation": [], "laplacian": [],
                    "sparse_format": [], "diffusionnet": []}
    print(f"{'V':>8} {'blas':>4} {'total s':>8} {'order s':>7} {'lapl s':>7} {'grad s':>7} {'eigen s':>8} "
          f"{'peak MiB':>9} {'ref s':>7} {'max rel err':>12} {'load':>5}")
    for size in args.sizes:
        for index, threads in enumerate(args.blas_threads):
            command = [sys.executable, __file__, "--worker", str(size), "--k-eig", str(args.k_eig),
                       "--blas-threads", str(threads)]
            if args.no_reference or index > 0:
                command.append("--no-reference")
            row = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            report["operators"].append(row)
            print(f"{row['vertices']:>8} {threads:>4} {row['total_s']:>8.2f} {row['ordering_s']:>7.2f} "
                  f"{row['laplacian_s']:>7.2f} {row['gradients_s']:>7.2f} {row['eigen_s']:>8.2f} "
                  f"{row['peak_rss_mib']:>9.0f} {row.get('reference_eigsh_s', float('nan')):>7.1f} "
                  f"{row.get('max_rel_eval_error', float('nan')):>12.2e} {row['load_average_1min']:>5.1f}", flush=True)

    if not args.no_permutation:
        print("\nrenumbered head (vertices shuffled, faces re-indexed):")
        for resolution in (0.01, 0.007):  # about 2.9k and 4.5k vertices
            row = permutation_effect(resolution, args.k_eig)
            report["permutation"].append(row)
            print(f"  {resolution:>8} m V={row['vertices']:>6}: max rel eigenvalue difference "
                  f"{row['max_rel_eval_difference']:.2e}, worst vertex {100 * row['worst_vertex_fraction_of_range']:.4f}% "
                  "of the DiffusionNet output range", flush=True)

    print("\ncotan Laplacian + mass, best of 3:")
    for size in args.sizes:
        row = laplacian_timings(size)
        report["laplacian"].append(row)
        print(f"  V={size:>7}: fused check + assembly {row['fused_check_and_assembly_s'] * 1e3:7.1f} ms   "
              f"potpourri3d assembly alone {row['potpourri3d_assembly_only_s'] * 1e3:7.1f} ms", flush=True)

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

    # Sections this script does not measure (before/after comparisons written by hand, notes)
    # are kept from the previous file, so a rerun refreshes the figures without losing them.
    if args.out.is_file():
        previous = json.loads(args.out.read_text())
        report.update({key: value for key, value in previous.items() if key not in report})
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
