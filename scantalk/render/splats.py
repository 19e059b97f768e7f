"""Point clouds drawn as camera-facing discs ("splats") through the shared z-buffer, shaded by
per-point umbrella normals over a neighbour ring found once on the first frame (the points of an
animation correspond across frames)."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from scantalk.render.camera import Camera, unit
from scantalk.render.zbuffer import empty_zbuffer, fill_spans, offsets, winners


def splat(points: np.ndarray, radius: float | np.ndarray, camera: Camera,
          zbuffer: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest point per pixel, each point drawn as a camera-facing disc of `radius` metres.

    points (V, 3) metres, radius: one for all or (V,) → the covered pixels as flat indices (N,)
    and the visible point of each (N,). A disc covers at least the pixel its centre falls in,
    however far away it is. zbuffer: optional (H·W,) int64 scratch array reused between frames.
    """
    width, height = camera.width, camera.height
    pixels, depth = camera.project(points)
    visible = np.flatnonzero(depth > camera.near)
    radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), depth.shape)[visible]
    # ≥ 0.75 px: the centre of the pixel holding the point is at most 0.71 px away.
    pixel_radius = np.clip(camera.focal * radius / depth[visible], 0.75, 16.0)
    centre = pixels[visible]
    top = np.clip(np.ceil(centre[:, 1] - pixel_radius - 0.5), 0, None).astype(np.int64)
    bottom = np.minimum(np.floor(centre[:, 1] + pixel_radius - 0.5), height - 1).astype(np.int64)
    heights = np.clip(bottom - top + 1, 0, None)
    run = np.repeat(np.arange(len(visible)), heights)
    row = top[run] + offsets(heights)
    gap = row + 0.5 - centre[run, 1]
    half = np.sqrt(np.clip(pixel_radius[run] ** 2 - gap**2, 0.0, None))
    first_x = np.clip(np.ceil(centre[run, 0] - half - 0.5), 0, None).astype(np.int64)
    last_x = np.minimum(np.floor(centre[run, 0] + half - 0.5), width - 1).astype(np.int64)
    counts = np.clip(last_x - first_x + 1, 0, None)
    zbuffer = empty_zbuffer(width * height, zbuffer)
    fill_spans(zbuffer, width, row, first_x, counts, visible[run], 1.0 / depth[visible][run],
                np.zeros(len(run)))
    return winners(zbuffer)


def neighbour_rings(reference: np.ndarray, camera: Camera, k: int = 8) -> np.ndarray | None:
    """For each point of the first frame, its k nearest neighbours in angular order around the
    local PCA normal: (V, k) indices, or None for clouds too small to have a surface."""
    if len(reference) < 4:
        return None
    k = min(k, len(reference) - 1)
    neighbours = cKDTree(reference).query(reference, k=k + 1)[1][:, 1:]
    offsets = reference[neighbours] - reference[:, None]
    normal = np.linalg.eigh(np.einsum("vki,vkj->vij", offsets, offsets))[1][:, :, 0]
    helper = np.where(np.abs(normal[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    tangent = unit(np.cross(normal, helper))
    bitangent = np.cross(normal, tangent)
    angle = np.arctan2(np.einsum("vki,vi->vk", offsets, bitangent), np.einsum("vki,vi->vk", offsets, tangent))
    return np.take_along_axis(neighbours, np.argsort(angle, axis=1), axis=1)


def ring_normals(points: np.ndarray, ring: np.ndarray | None, camera: Camera) -> np.ndarray:
    """Unit normals (V, 3) of a point cloud frame: the umbrella normal, the sum of the cross
    products of consecutive neighbour offsets (the normal a fan of triangles would have).
    Far cheaper per frame than an eigen-decomposition, and exact for a deformed plane."""
    if ring is None:
        return np.tile(camera.rotation[2], (len(points), 1))  # towards the viewer
    offsets = points[ring] - points[:, None]
    return unit(np.cross(offsets, np.roll(offsets, -1, axis=1)).sum(axis=1))
