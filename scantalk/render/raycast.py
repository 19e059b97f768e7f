"""Headless CPU rendering of mesh frames and point clouds to RGB images (no display, no GPU).

Two ways to find the visible surface of a triangle mesh, both shaded by the same code:
- "raster" (default): a vectorised torch z-buffer. Every triangle enumerates the pixel centres
  in its screen bounding box, keeps those inside it, and a single `scatter_reduce(amin)` on a
  key that packs (depth, triangle id) into one int64 picks the nearest triangle per pixel.
- "raycast": open3d's `RaycastingScene`, rebuilt every frame because the geometry moves.
Measured for a 10k-vertex mesh at 512² on 2 CPU cores: raster ≈ 15–25 ms per frame, raycast
≈ 45–55 ms per frame (the ray traversal, not the BVH build, dominates), so raster is the
default; the backends agree on all but a few pixels along silhouettes (tests/render).

Point clouds are drawn as camera-facing discs ("splats") through the same z-buffer, shaded
by per-point normals from a PCA of a fixed neighbourhood (found once on the first frame,
because the points of an animation correspond across frames).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from scantalk.errors import MeshError
from scantalk.render.camera import Camera, _check_points

_EMPTY = torch.iinfo(torch.int64).max
# Bound on (triangle or splat, pixel) candidates held at once: ~100 MB of temporaries.
_MAX_CANDIDATES = 4_000_000
BACKENDS = ("raster", "raycast")


@dataclass(frozen=True)
class Style:
    """Look of a rendering. Colours are linear RGB in [0, 1].

    light: direction *towards* the light in camera coordinates (x right, y up, z towards the
    viewer); upper-left-front by default, so a face reads with soft modelling.
    """

    base_color: tuple[float, float, float] = (0.78, 0.71, 0.66)
    background: tuple[float, float, float] = (0.94, 0.94, 0.95)
    ambient: float = 0.22
    diffuse: float = 0.78
    specular: float = 0.12
    shininess: float = 24.0
    light: tuple[float, float, float] = (-0.35, 0.45, 1.0)


def shade(normals: np.ndarray, to_eye: np.ndarray, camera: Camera, style: Style) -> np.ndarray:
    """Lambert + ambient + Blinn-Phong specular.

    normals (N, 3) and to_eye (N, 3): unit world vectors at the visible points (the surface
    normal, and the direction from the point towards the camera) → colours (N, 3) in [0, 1].
    Normals facing away from the viewer are flipped, so scans with inconsistent winding and
    point clouds shade correctly from both sides.
    """
    normals = np.where((_dot(normals, to_eye) < 0.0)[:, None], -normals, normals)
    light = np.asarray(style.light, dtype=np.float64) @ camera.rotation
    light /= np.sqrt(light @ light)
    lambert = np.clip(normals @ light, 0.0, None)[:, None]
    highlight = np.clip(_dot(normals, unit(to_eye + light)), 0.0, None)[:, None] ** style.shininess
    base = np.asarray(style.base_color, dtype=np.float64)
    return np.clip(base * (style.ambient + style.diffuse * lambert) + style.specular * highlight, 0.0, 1.0)


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals: verts (V, 3), faces (F, 3) → unit normals (V, 3)."""
    corners = verts[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = _scatter_add(faces, face_normals, len(verts))
    return unit(normals)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product (N, 3), (N, 3) → (N,); column arithmetic beats numpy's short-axis sum."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows of (N, 3) scaled to unit length; zero rows stay zero."""
    return vectors / np.maximum(np.sqrt(_dot(vectors, vectors)), 1e-20)[:, None]


def _scatter_add(faces: np.ndarray, face_values: np.ndarray, n_verts: int) -> np.ndarray:
    """Sum face values (F, 3) onto their three corners → (V, 3); bincount is far faster than add.at."""
    index = faces.reshape(-1)
    repeated = np.repeat(face_values, 3, axis=0)
    return np.stack([np.bincount(index, repeated[:, k], minlength=n_verts) for k in range(3)], axis=1)


def _nearest(pixel_index: np.ndarray, depth: np.ndarray, owner: np.ndarray, n_pixels: int,
             buffer: torch.Tensor | None) -> torch.Tensor:
    """Z-buffer step: keep, per pixel, the candidate with the smallest depth.

    pixel_index (N,) flat pixel of each candidate · depth (N,) metres (> 0) · owner (N,) the
    triangle or point id → buffer (H·W,) int64 of packed keys, `_EMPTY` where nothing was drawn.
    Positive float32 bit patterns sort like the floats, so (depth bits << 32 | owner) orders by
    depth first and breaks ties by id, deterministically.
    """
    if buffer is None:
        buffer = torch.full((n_pixels,), _EMPTY, dtype=torch.int64)
    key = (depth.astype(np.float32).view(np.int32).astype(np.int64) << 32) | owner
    return buffer.scatter_reduce_(0, torch.from_numpy(pixel_index), torch.from_numpy(key), reduce="amin",
                                  include_self=True)


def _winners(buffer: torch.Tensor | None) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffer → (flat pixel indices (N,), owner id (N,)) of the pixels something covers."""
    if buffer is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    keys = buffer.numpy()
    flat = np.flatnonzero(keys != _EMPTY)
    return flat, keys[flat] & 0xFFFFFFFF


def _edge_coefficients(tri_pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Screen triangles (F, 3, 2) → (F, 3, 3) affine maps (x, y, 1) ↦ barycentric weights, and the
    (F,) signed doubled areas in pixels² (negative: counter-clockwise in the world as seen by the
    camera, i.e. front-facing, because pixel rows run downwards)."""
    a, b, c = tri_pixels[:, 0], tri_pixels[:, 1], tri_pixels[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    valid = np.abs(area) > 1e-12
    inv = np.where(valid, 1.0 / np.where(valid, area, 1.0), 0.0)
    coeffs = np.empty((len(a), 3, 3))
    for row, (p, q) in enumerate(((b, c), (c, a), (a, b))):
        # Weight of the vertex opposite edge p→q: signed area of (p, q, x) over the triangle's.
        coeffs[:, row, 0] = (p[:, 1] - q[:, 1]) * inv
        coeffs[:, row, 1] = (q[:, 0] - p[:, 0]) * inv
        coeffs[:, row, 2] = (p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]) * inv
    return coeffs, area


def _chunks(counts: np.ndarray) -> Iterator[slice]:
    """Split items with `counts` candidates each into runs of ≤ ~_MAX_CANDIDATES candidates."""
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + _MAX_CANDIDATES, side="right")), start + 1)
        yield slice(start, stop)
        start = stop


def _runs(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand runs: `counts[i]` entries for each i → (run index per entry, offset within its run)."""
    run = np.repeat(np.arange(len(counts)), counts)
    offset = np.arange(len(run)) - np.repeat(np.cumsum(counts) - counts, counts)
    return run, offset


def rasterise(verts: np.ndarray, faces: np.ndarray, camera: Camera,
              cull_backfaces: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visible triangle per pixel by z-buffer.

    verts (V, 3) metres, faces (F, 3) → the covered pixels as flat indices (N,), the visible
    triangle of each (N,) and the perspective-correct barycentric weights there (N, 3).
    cull_backfaces: skip triangles whose winding faces away from the camera (only correct for
    consistently, outward-oriented meshes; about halves the work on a closed head).

    Scanline form: every (triangle, pixel row) pair solves its three edge inequalities for the
    exact run of covered pixel centres, so only covered pixels are ever enumerated (testing
    whole bounding boxes costs 3–5× more elements).
    """
    width, height = camera.width, camera.height
    pixels, depth = camera.project(verts)
    tri_pixels, tri_depth = pixels[faces], depth[faces]
    corner_min = np.minimum(np.minimum(tri_pixels[:, 0], tri_pixels[:, 1]), tri_pixels[:, 2])
    corner_max = np.maximum(np.maximum(tri_pixels[:, 0], tri_pixels[:, 1]), tri_pixels[:, 2])
    low = np.clip(np.ceil(corner_min - 0.5), 0, None).astype(np.int64)
    high = np.minimum(np.floor(corner_max - 0.5), [width - 1, height - 1]).astype(np.int64)
    coeffs, area = _edge_coefficients(tri_pixels)
    drawable = (area < -1e-12) | ((area > 1e-12) & (not cull_backfaces))
    drawable &= (np.min(tri_depth, axis=1) > camera.near) & (high[:, 0] >= low[:, 0]) & (high[:, 1] >= low[:, 1])
    ids = np.flatnonzero(drawable)
    # 1/depth is affine in screen space: the barycentric maps weighted by 1/z of the corners.
    inverse_depth = np.einsum("fij,fi->fj", coeffs[ids], 1.0 / tri_depth[ids])
    run, offset = _runs(high[ids, 1] - low[ids, 1] + 1)
    owner = ids[run]
    centre_y = (low[owner, 1] + offset) + 0.5
    # Per row, each edge k gives a_k·x + (b_k·y + c_k) ≥ 0: a bound on x from one side.
    slope = coeffs[owner, :, 0]
    rest = coeffs[owner, :, 1] * centre_y[:, None] + coeffs[owner, :, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = -rest / slope
    tolerance = 1e-7  # a centre exactly on a shared edge is drawn by both triangles, never by none
    lower = np.where(slope > 0, bound, -np.inf)
    upper = np.where(slope < 0, bound, np.inf)
    # Column-wise max/min: numpy reduces a short last axis far slower than it maps over columns.
    left = np.maximum(np.maximum(lower[:, 0], lower[:, 1]), lower[:, 2]) - tolerance
    right = np.minimum(np.minimum(upper[:, 0], upper[:, 1]), upper[:, 2]) + tolerance
    blocked = (slope == 0) & (rest < 0)
    first_x = np.maximum(np.ceil(left - 0.5), low[owner, 0])
    last_x = np.minimum(np.floor(right - 0.5), high[owner, 0])
    counts = np.clip(last_x - first_x + 1, 0, None).astype(np.int64)
    counts[blocked[:, 0] | blocked[:, 1] | blocked[:, 2]] = 0
    first_x = np.where(counts > 0, first_x, 0).astype(np.int64)
    row_pixel = (centre_y - 0.5).astype(np.int64) * width + first_x
    plane = inverse_depth[run]
    row_inverse_depth = plane[:, 0] * (first_x + 0.5) + plane[:, 1] * centre_y + plane[:, 2]
    buffer = None
    for part in _chunks(counts):
        pixel_run, step = _runs(counts[part])
        inv_z = row_inverse_depth[part][pixel_run] + plane[part, 0][pixel_run] * step
        buffer = _nearest(row_pixel[part][pixel_run] + step, 1.0 / inv_z, owner[part][pixel_run],
                          width * height, buffer)
    flat, triangle = _winners(buffer)
    maps = coeffs[triangle]
    centre_x, centre_y = (flat % width + 0.5)[:, None], (flat // width + 0.5)[:, None]
    weights = np.clip(maps[:, :, 0] * centre_x + maps[:, :, 1] * centre_y + maps[:, :, 2], 0.0, None)
    weights /= tri_depth[triangle]
    total = weights[:, 0] + weights[:, 1] + weights[:, 2]
    return flat, triangle, weights / np.maximum(total, 1e-30)[:, None]


def raycast(verts: np.ndarray, faces: np.ndarray, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same result as `rasterise` (without culling), found with open3d's `RaycastingScene`,
    rebuilt per frame. rays (H·W, 6) float32: origins and unit directions of every pixel."""
    import open3d as o3d  # imported here: open3d takes ~1 s to import and the default path avoids it

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(verts, dtype=np.float32)),
                        o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)))
    result = scene.cast_rays(o3d.core.Tensor(rays))
    flat = np.flatnonzero(np.isfinite(result["t_hit"].numpy()))
    triangle = result["primitive_ids"].numpy()[flat].astype(np.int64)
    uv = result["primitive_uvs"].numpy()[flat].astype(np.float64)
    # open3d's (u, v) weight the second and third corners: p = (1 − u − v)·a + u·b + v·c.
    return flat, triangle, np.stack([1.0 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], axis=1)


def splat(points: np.ndarray, radius: float | np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Nearest point per pixel, each point drawn as a camera-facing disc of `radius` metres.

    points (V, 3) metres, radius: one for all or (V,) → the covered pixels as flat indices (N,) and the visible point of
    each (N,). A disc covers at least the pixel its centre falls in, however far away it is.
    """
    pixels, depth = camera.project(points)
    visible = np.flatnonzero(depth > camera.near)
    radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), depth.shape)[visible]
    pixel_radius = np.clip(camera.focal * radius / np.maximum(depth[visible], 1e-12), 0.75, 16.0)
    reach = int(np.ceil(pixel_radius.max())) if len(visible) else 0
    offsets = np.arange(-reach, reach + 1)
    dx, dy = (grid.reshape(-1) for grid in np.meshgrid(offsets, offsets))
    buffer = None
    for part in _chunks(np.full(len(visible), len(dx))):
        owner = visible[part]
        cell = np.floor(pixels[owner])[:, None, :].astype(np.int64)
        x, y = cell[..., 0] + dx, cell[..., 1] + dy
        gap_x, gap_y = x + 0.5 - pixels[owner, None, 0], y + 0.5 - pixels[owner, None, 1]
        keep = gap_x**2 + gap_y**2 <= pixel_radius[part, None] ** 2
        keep &= (x >= 0) & (x < camera.width) & (y >= 0) & (y < camera.height)
        rows, cols = np.nonzero(keep)
        buffer = _nearest(y[rows, cols] * camera.width + x[rows, cols], depth[owner][rows], owner[rows],
                          camera.width * camera.height, buffer)
    return _winners(buffer)


def is_outward_oriented(verts: np.ndarray, faces: np.ndarray) -> bool:
    """Whether back faces may be culled: consistent winding, and normals pointing outwards.

    verts (V, 3), faces (F, 3). Consistent: no directed edge is used twice (then each shared
    edge runs opposite ways in its two triangles). Outwards: the signed volume enclosed relative
    to the centroid is clearly positive (≥ 1 % of the bounding box). Flat, open or
    non-manifold meshes answer False and are drawn from both sides.
    """
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = edges[:, 0] * len(verts) + edges[:, 1]
    if len(np.unique(keys)) != len(keys):
        return False
    corners = verts[faces] - verts.mean(axis=0)
    volume = np.einsum("fi,fi->", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])) / 6.0
    box = np.prod(np.maximum(verts.max(axis=0) - verts.min(axis=0), 1e-12))
    return bool(volume > 0.01 * box)


class FrameRenderer:
    """Renders frames of one animation (fixed faces, fixed camera) to uint8 images.

    faces (F, 3) int or None for a point cloud · reference (V, 3) metres: the first frame,
    used to size splats, find point neighbourhoods and decide culling · backend: "raster" or
    "raycast" · smooth: interpolate vertex normals (True) or shade each triangle flat (False) ·
    cull_backfaces: None decides from the reference mesh (`is_outward_oriented`) ·
    point_radius: splat radius in metres; by default, per point, 0.8 × the distance to its 4th
    nearest neighbour (hole-free on a regular grid, and adapts to uneven sampling), at most 3×
    the median of those, so stray points do not become blobs.
    """

    def __init__(self, camera: Camera, faces: np.ndarray | None, reference: np.ndarray,
                 style: Style | None = None, backend: str = "raster", smooth: bool = True,
                 cull_backfaces: bool | None = None, point_radius: float | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
        reference = _check_points(reference, "The first frame")
        self.camera, self.style, self.backend, self.smooth = camera, style or Style(), backend, smooth
        self.faces = None if faces is None else _check_faces(faces, len(reference))
        self.n_verts = len(reference)
        self._to_eye = -camera.ray_directions().reshape(-1, 3)
        self._background = np.round(np.asarray(self.style.background) * 255.0).astype(np.uint8)
        if self.faces is None:
            k = min(12, self.n_verts)
            distances, neighbours = cKDTree(reference).query(reference, k=max(k, 2))
            self._neighbours = neighbours[:, :k]
            if point_radius is not None:
                self.point_radius: float | np.ndarray = float(point_radius)
            elif self.n_verts > 1:
                spacing = distances[:, min(4, k - 1)]
                spacing = np.where(np.isfinite(spacing), spacing, distances[:, 1])
                self.point_radius = 0.8 * np.clip(spacing, 1e-6, 3.0 * max(float(np.median(spacing)), 1e-6))
            else:
                self.point_radius = 1e-3
        else:
            self.cull_backfaces = (is_outward_oriented(reference, self.faces) if cull_backfaces is None
                                   else cull_backfaces)
            origins = np.broadcast_to(camera.eye, self._to_eye.shape)
            self._rays = np.ascontiguousarray(np.concatenate([origins, -self._to_eye], axis=1), dtype=np.float32)

    def __call__(self, verts: np.ndarray) -> np.ndarray:
        """One frame: verts (V, 3) metres → image (H, W, 3) uint8."""
        verts = np.asarray(verts, dtype=np.float64)
        if verts.shape != (self.n_verts, 3):
            raise MeshError(f"Every frame must have the first frame's shape ({self.n_verts}, 3), got {verts.shape}.")
        if self.faces is None:
            flat, point = splat(verts, self.point_radius, self.camera)
            normals = self._point_normals(verts)[point]
        else:
            if self.backend == "raster":
                flat, triangle, bary = rasterise(verts, self.faces, self.camera, self.cull_backfaces)
            else:
                flat, triangle, bary = raycast(verts, self.faces, self._rays)
            corners = self.faces[triangle]
            if self.smooth:
                smooth = vertex_normals(verts, self.faces)
                normals = sum(bary[:, k, None] * smooth[corners[:, k]] for k in range(3))
            else:
                tri = verts[corners]
                normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            normals = unit(normals)
        image = np.empty((self.camera.height * self.camera.width, 3), dtype=np.uint8)
        image[:] = self._background
        image[flat] = (shade(normals, self._to_eye[flat], self.camera, self.style) * 255.0 + 0.5).astype(np.uint8)
        return image.reshape(self.camera.height, self.camera.width, 3)

    def _point_normals(self, points: np.ndarray) -> np.ndarray:
        """Unit normals (V, 3): the least-variance axis of each point's fixed neighbourhood."""
        if self.n_verts < 3:
            return np.tile(self.camera.rotation[2], (self.n_verts, 1))  # towards the viewer
        patch = points[self._neighbours]
        patch = patch - patch.mean(axis=1, keepdims=True)
        _, vectors = np.linalg.eigh(np.einsum("vki,vkj->vij", patch, patch))
        return vectors[:, :, 0]


def _check_faces(faces: np.ndarray, n_verts: int) -> np.ndarray:
    """Return faces as int64 (F, 3), or raise a MeshError that says what is wrong."""
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise MeshError(f"faces must be an integer (F, 3) array of triangles, got {faces.dtype} {faces.shape}; "
                        "triangulate polygon meshes first, or pass faces=None for a point cloud.")
    if faces.size and (faces.min() < 0 or faces.max() >= n_verts):
        raise MeshError(f"faces index vertices outside 0..{n_verts - 1} (found {faces.min()}..{faces.max()}); "
                        "the faces do not belong to these frames.")
    return faces.astype(np.int64)


def render_frames(frames: np.ndarray, faces: np.ndarray | None, camera: Camera | None = None,
                  resolution: int = 512, progress: bool = True, style: Style | None = None,
                  backend: str = "raster", smooth: bool = True,
                  cull_backfaces: bool | None = None) -> Iterator[np.ndarray]:
    """Yield one image per frame, lazily, so a long sequence streams into an encoder.

    frames (T, V, 3) metres · faces (F, 3) or None (point cloud) · camera: by default
    `Camera.framing(frames[0], resolution)`, fixed for the whole sequence → yields (H, W, 3)
    uint8. `np.stack(list(render_frames(...)))` gives the (T, H, W, 3) array.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 3 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise MeshError(f"frames must be a non-empty (T, V, 3) array, got shape {frames.shape}.")
    camera = camera or Camera.framing(frames[0], resolution)
    # Built before the generator starts, so bad input fails at the call, not at the first frame.
    renderer = FrameRenderer(camera, faces, frames[0], style=style, backend=backend, smooth=smooth,
                             cull_backfaces=cull_backfaces)
    return (renderer(verts) for verts in tqdm(frames, desc="render", unit="frame", disable=not progress))
