"""`scantalk precompute MESH... [--cache-dir DIR]`: fill the operator cache ahead of training or animation.

Each file is loaded, cleaned and aligned exactly as `animate` will (same `--align/--up/--forward`,
the checkpoint's reference centre and k_eig), so `scantalk precompute F` then `scantalk animate F`
finds the entry. `--align none` caches the file's own coordinates, which is what training and
the Python geometry API (`OperatorCache.get_or_compute(mesh.verts, ...)`) look up. Files are processed in parallel worker processes; a bad file is
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
    parser.add_argument("--k-eig", type=int, default=None,
                        help="number of Laplacian eigenpairs (default: what the checkpoint's model uses)")
    parser.add_argument("--checkpoint", default=None,
                        help="the model `animate` will use (default: the shipped model); gives k_eig and alignment")
    parser.add_argument("--align", choices=["auto", "none"], default="auto",
                        help="as `scantalk animate --align` (default auto); none: the file's own coordinates")
    parser.add_argument("--up", default=None, help="the file's up axis, as `scantalk animate --up`")
    parser.add_argument("--forward", default=None, help="the file's forward axis, as `scantalk animate --forward`")
    parser.add_argument("--workers", type=int, default=None, help="parallel worker processes (default min(2, #files))")


@dataclass(frozen=True)
class TemplateFrame:
    """How a loaded face becomes the template animate sees: `aligned_template` arguments.

    align "auto" | "none", up / forward axis names or None, reference_center (3,) metres or None,
    anchor "bbox" | "nose" (see `scantalk.face.alignment.fit_alignment`); landmark_region: the model
    also reads the face region around the nose (landmark decoders), whose operators are cached too.
    """

    align: str = "none"
    up: str | None = None
    forward: str | None = None
    reference_center: tuple[float, ...] | None = None
    anchor: str = "bbox"
    landmark_region: bool = False


def precompute_one(source: str, cache_dir: str, k_eig: int, frame: TemplateFrame = TemplateFrame(),
                   k_eig_given: bool = False) -> PrecomputeResult:
    """Load, clean, align and cache the operators of one file; user errors are returned, not raised.

    k_eig_given: `k_eig` was asked for (--k-eig), so a file with too few vertices for it is an
    error rather than silently getting fewer eigenpairs.
    """
    import warnings

    from scantalk.face.alignment import aligned_template
    from scantalk.geometry.cache import OperatorCache
    from scantalk.geometry.mesh import load_mesh

    try:
        mesh = load_mesh(source)
        if k_eig_given and k_eig >= mesh.num_vertices:
            raise ScanTalkError(f"--k-eig {k_eig} asks for more eigenpairs than {source} has vertices "
                                f"({mesh.num_vertices}); pass a --k-eig below {mesh.num_vertices}, or omit it "
                                "to use the model's")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # `animate` repeats the plausibility warning where it matters
            template, _ = aligned_template(mesh.verts, frame.align, frame.up, frame.forward,
                                           frame.reference_center, name=mesh.source or source,
                                           anchor=frame.anchor, faces=mesh.faces)
        cache = OperatorCache(cache_dir)
        was_cached = cache.contains(template, mesh.faces, k_eig)
        cache.get_or_compute(template, mesh.faces, k_eig=k_eig)
        entry = cache.path_for(template, mesh.faces, k_eig)
        if frame.landmark_region:
            from scantalk.model.articulated import landmark_region

            region_verts, region_faces, _ = landmark_region(template, mesh.faces)
            if len(region_verts) < len(template):
                was_cached = was_cached and cache.contains(region_verts, region_faces, k_eig)
                cache.get_or_compute(region_verts, region_faces, k_eig=k_eig)
    except ScanTalkError as error:
        message = str(error).splitlines()[0] if str(error) else repr(error)
        return PrecomputeResult(source, error=message if source in message else f"{source}: {message}")
    return PrecomputeResult(source, str(entry), mesh.num_vertices, was_cached)


def precompute(sources: list[str], cache_dir: str | Path, k_eig: int = 128, workers: int | None = None,
               progress: bool = True, frame: TemplateFrame = TemplateFrame(),
               k_eig_given: bool = False) -> list[PrecomputeResult]:  # fmt: skip
    """Cache operators for every file in `sources`; results in input order (errors included).

    frame: how each face is aligned first (default: the file's own coordinates); pass the
    frame of `animate` (see `animate_frame`) to fill what animating the files will look up.
    workers: worker processes (≥ 1; default min(2, #files)). k_eig_given: see `precompute_one`.
    """
    from tqdm import tqdm

    from scantalk.geometry.cache import OperatorCache

    cache = OperatorCache(cache_dir)
    cache.require_writable()  # CacheError now, not once per file: filling the cache is the job
    cache_dir = str(cache.directory)
    if k_eig < 1:
        raise ScanTalkError(f"--k-eig must be a positive number of eigenpairs, got {k_eig}.")
    if workers is not None and workers < 1:
        raise ScanTalkError(f"--workers {workers}: give at least 1 worker process (or omit it for min(2, #files))")
    workers = min(2, len(sources)) if workers is None else max(1, min(workers, len(sources)))
    results: dict[str, PrecomputeResult] = {}
    bar = tqdm(total=len(sources), desc="operators", unit="mesh", disable=not progress, file=sys.stderr)
    if workers == 1:
        for source in sources:
            try:
                results[source] = precompute_one(source, cache_dir, k_eig, frame, k_eig_given)
            except Exception as error:  # as in the pool below: one file's crash must not lose the others
                results[source] = PrecomputeResult(source, error=f"{source}: unexpected {type(error).__name__}: {error}")
            bar.update()
    else:
        # spawn, not fork: a forked copy of a process that already started torch/OpenMP threads can hang.
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures: dict[Future, str] = {pool.submit(precompute_one, s, cache_dir, k_eig, frame, k_eig_given): s
                                          for s in sources}
            for future in as_completed(futures):
                source = futures[future]
                try:
                    results[source] = future.result()
                except Exception as error:  # a crash in one worker must not lose the other files
                    results[source] = PrecomputeResult(source, error=f"{source}: unexpected {type(error).__name__}: {error}")
                bar.update()
    bar.close()
    return [results[source] for source in sources]


def animate_frame(checkpoint: str | Path | None = None, align: str = "auto", up: str | None = None,
                  forward: str | None = None) -> tuple[TemplateFrame, int]:
    """The alignment and k_eig `scantalk animate --checkpoint CKPT` will use (default: the shipped model)."""
    from scantalk.face.alignment import axes_rotation
    from scantalk.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint_dict

    if align not in ("auto", "none"):
        raise ScanTalkError(f"--align must be 'auto' or 'none', got {align!r}")
    axes_rotation(up or "y", forward or "z")  # a bad axis name fails here, not once per file
    from scantalk.checkpoint import ARTICULATED_KIND

    checkpoint = load_checkpoint_dict(checkpoint if checkpoint is not None else DEFAULT_CHECKPOINT,
                                      kind=("scantalk", ARTICULATED_KIND))
    articulated = checkpoint["scantalk_kind"] == ARTICULATED_KIND
    config = checkpoint["articulated_model_config" if articulated else "scantalk_model_config"]
    # The same reference and anchor the Animator reads: the model's config first, then the recipe.
    center = config.get("reference_center") or (checkpoint.get("recipe") or {}).get("reference_center")
    anchor = config.get("align_anchor", "nose" if articulated else "bbox")
    k_eig = int(config.get("k_eig", 128))
    region = articulated and config.get("decoder", "landmarks") == "landmarks" and config.get("landmark_crop", True)
    frame = TemplateFrame(align, up, forward, None if center is None else tuple(float(c) for c in center), anchor,
                          bool(region))
    return frame, k_eig


def run(args: argparse.Namespace) -> int:
    from scantalk.geometry.cache import default_cache_dir

    cache_dir = args.cache_dir if args.cache_dir is not None else default_cache_dir()
    sources = list(dict.fromkeys(args.meshes))  # a file named twice is computed once
    frame, model_k_eig = animate_frame(args.checkpoint, args.align, args.up, args.forward)
    k_eig = model_k_eig if args.k_eig is None else args.k_eig
    results = precompute(sources, cache_dir, k_eig=k_eig, workers=args.workers, frame=frame,
                         k_eig_given=args.k_eig is not None)
    failed = [result for result in results if result.error]
    for result in results:
        if result.error:
            print(f"error: {result.error}", file=sys.stderr)
        else:
            status = "already cached" if result.was_cached else "computed"
            print(f"{result.source}: {result.num_vertices} vertices, {status} -> {result.entry}")
    print(f"operator cache {cache_dir}: {len(results) - len(failed)} of {len(results)} files ready (k_eig={k_eig}).")
    return 1 if failed else 0
