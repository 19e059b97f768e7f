"""`scantalk precompute MESH... [--cache-dir DIR]`: fill the operator cache ahead of training or animation.

Each file is loaded and cleaned exactly as training and `animate` will load it, so the cached
entry is the one they look up. Files are processed in parallel worker processes; a bad file is
reported and skipped, the others still run, and the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from scantalk.errors import ScanTalkError


@dataclass
class PrecomputeResult:
    """Outcome for one input file: the cache entry written (or found), or the error message."""

    source: str
    entry: str | None = None
    num_vertices: int = 0
    was_cached: bool = False
    error: str | None = None


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("meshes", nargs="+", metavar="MESH", help="mesh or point-cloud files (.obj .ply .off .stl .glb .pcd .xyz)")
    parser.add_argument("--cache-dir", default=None,
                        help="operator cache directory (default: $SCANTALK_CACHE_DIR or the user cache dir)")  # fmt: skip
    parser.add_argument("--k-eig", type=int, default=128, help="number of Laplacian eigenpairs (default 128)")
    parser.add_argument("--workers", type=int, default=None, help="parallel worker processes (default min(2, #files))")


def precompute_one(source: str, cache_dir: str, k_eig: int) -> PrecomputeResult:
    """Load, clean and cache the operators of one file; user errors are returned, not raised."""
    from scantalk.geometry.cache import OperatorCache
    from scantalk.geometry.mesh import load_mesh

    try:
        mesh = load_mesh(source)
        cache = OperatorCache(cache_dir)
        was_cached = cache.contains(mesh.verts, mesh.faces, k_eig)
        cache.get_or_compute(mesh.verts, mesh.faces, k_eig=k_eig)
        entry = cache.path_for(mesh.verts, mesh.faces, k_eig)
    except ScanTalkError as error:
        return PrecomputeResult(source, error=str(error))
    return PrecomputeResult(source, str(entry), mesh.num_vertices, was_cached)


def precompute(sources: list[str], cache_dir: str | Path, k_eig: int = 128, workers: int | None = None,
               progress: bool = True) -> list[PrecomputeResult]:  # fmt: skip
    """Cache operators for every file in `sources`; results in input order (errors included)."""
    from tqdm import tqdm

    from scantalk.geometry.cache import OperatorCache

    cache_dir = str(OperatorCache(cache_dir).directory)  # CacheError now, not once per file
    if k_eig < 1:
        raise ScanTalkError(f"--k-eig must be a positive number of eigenpairs, got {k_eig}.")
    workers = min(2, len(sources)) if workers is None else max(1, min(workers, len(sources)))
    results: dict[str, PrecomputeResult] = {}
    bar = tqdm(total=len(sources), desc="operators", unit="mesh", disable=not progress, file=sys.stderr)
    if workers == 1:
        for source in sources:
            results[source] = precompute_one(source, cache_dir, k_eig)
            bar.update()
    else:
        # spawn, not fork: a forked copy of a process that already started torch/OpenMP threads can hang.
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures: dict[Future, str] = {pool.submit(precompute_one, s, cache_dir, k_eig): s for s in sources}
            for future in as_completed(futures):
                source = futures[future]
                try:
                    results[source] = future.result()
                except Exception as error:  # a crash in one worker must not lose the other files
                    results[source] = PrecomputeResult(source, error=f"{source}: unexpected {type(error).__name__}: {error}")
                bar.update()
    bar.close()
    return [results[source] for source in sources]


def run(args: argparse.Namespace) -> int:
    from scantalk.geometry.cache import default_cache_dir

    cache_dir = args.cache_dir if args.cache_dir is not None else default_cache_dir()
    sources = list(dict.fromkeys(args.meshes))  # a file named twice is computed once
    results = precompute(sources, cache_dir, k_eig=args.k_eig, workers=args.workers)
    failed = [result for result in results if result.error]
    for result in results:
        if result.error:
            print(f"error: {result.error}", file=sys.stderr)
        else:
            status = "already cached" if result.was_cached else "computed"
            print(f"{result.source}: {result.num_vertices} vertices, {status} -> {result.entry}")
    print(f"operator cache {cache_dir}: {len(results) - len(failed)} of {len(results)} files ready (k_eig={args.k_eig}).")
    return 1 if failed else 0
