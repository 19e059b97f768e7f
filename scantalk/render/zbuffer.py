"""The z-buffer both triangle meshes and point clouds are drawn through: one int64 key per pixel
packing (depth, owner id), so one `torch.scatter_reduce(amin)` keeps the nearest candidate."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

EMPTY = torch.iinfo(torch.int64).max
# Bound on (triangle or splat, pixel) candidates held at once: ~100 MB of temporaries.
MAX_CANDIDATES = 4_000_000


def empty_zbuffer(n_pixels: int, zbuffer: np.ndarray | None) -> np.ndarray:
    """An empty z-buffer (H·W,) int64: `zbuffer` reset in place when given (saves the page
    faults of a fresh 2 MB allocation every frame), else a new one."""
    if zbuffer is None or zbuffer.shape != (n_pixels,):
        return np.full(n_pixels, EMPTY, dtype=np.int64)
    zbuffer.fill(EMPTY)
    return zbuffer


def fill_spans(zbuffer: np.ndarray, width: int, row: np.ndarray, first_x: np.ndarray, counts: np.ndarray,
               owner: np.ndarray, inverse_depth: np.ndarray, inverse_depth_step: np.ndarray) -> None:
    """Z-buffer horizontal runs of pixels, keeping per pixel the candidate with the smallest depth.

    Run i covers `counts[i]` pixels of pixel row `row[i]` from column `first_x[i]` rightwards,
    belongs to triangle or point `owner[i]`, and has 1/depth (1/metres) `inverse_depth[i]` at
    its first pixel, changing by `inverse_depth_step[i]` per pixel (1/depth is affine in screen
    space). Positive float32 bit patterns sort like the floats, so the key
    (depth bits << 32 | owner) orders by depth and breaks ties by id, deterministically, and
    one `scatter_reduce(amin)` resolves visibility.
    """
    target = torch.from_numpy(zbuffer)
    row_pixel = row * width + first_x
    inverse_depth, inverse_depth_step = inverse_depth.astype(np.float32), inverse_depth_step.astype(np.float32)
    for part in chunks(counts):
        count = counts[part]
        step = offsets(count)
        depth = 1.0 / (np.repeat(inverse_depth[part], count)
                       + np.repeat(inverse_depth_step[part], count) * step.astype(np.float32))
        key = (depth.view(np.int32).astype(np.int64) << 32) | np.repeat(owner[part], count)
        target.scatter_reduce_(0, torch.from_numpy(np.repeat(row_pixel[part], count) + step), torch.from_numpy(key),
                               reduce="amin", include_self=True)


def winners(zbuffer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffer → (flat pixel indices (N,), owner id (N,)) of the pixels something covers."""
    flat = np.flatnonzero(zbuffer != EMPTY)
    return flat, zbuffer[flat] & 0xFFFFFFFF


def chunks(counts: np.ndarray) -> Iterator[slice]:
    """Split items with `counts` candidates each into runs of ≤ ~MAX_CANDIDATES candidates."""
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + MAX_CANDIDATES, side="right")), start + 1)
        yield slice(start, stop)
        start = stop


def offsets(counts: np.ndarray) -> np.ndarray:
    """For runs of `counts[i]` entries, each entry's offset 0, 1, … within its run (sum(counts),).
    Per-run values expand alongside with `np.repeat(values, counts)`: a sequential copy,
    several times faster than gathering through a run-index array."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
