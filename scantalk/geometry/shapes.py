"""Procedural test surfaces: spheres, a flat patch, an irregular sphere and a head-sized blob.

Every function returns `(verts (V, 3) float64 metres, faces (F, 3) int64)` with outward,
counter-clockwise faces, and is deterministic for a given `seed`. They exist for tests and
benchmarks: closed smooth surfaces whose exact answers (sphere spectrum, linear gradients) are
known, at any vertex count a benchmark asks for.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull


def icosphere(subdivisions: int = 4, radius: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Subdivided icosahedron on a sphere: V = 10·4^subdivisions + 2 (2562 at 4, 40962 at 6)."""
    t = (1.0 + 5.0**0.5) / 2.0
    verts = np.array(
        [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
         [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]],
        dtype=np.float64,
    )
    faces = np.array(
        [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
         [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
         [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]],
        dtype=np.int64,
    )
    for _ in range(subdivisions):
        # One midpoint per undirected edge, shared by the two faces that meet there.
        edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        edges.sort(axis=1)
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        mids = len(verts) + inverse.reshape(3, -1).T  # (F, 3): midpoints of edges 01, 12, 20
        verts = np.concatenate([verts, 0.5 * (verts[unique[:, 0]] + verts[unique[:, 1]])])
        a, b, c = faces.T
        ab, bc, ca = mids.T
        faces = np.concatenate(
            [np.stack(f, axis=1) for f in ([a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca])]
        )
    verts = radius * verts / np.linalg.norm(verts, axis=1, keepdims=True)
    return verts, faces


def _hull_faces(points: np.ndarray) -> np.ndarray:
    """Outward-oriented triangles of the convex hull of points on a star-shaped surface."""
    faces = ConvexHull(points).simplices.astype(np.int64)
    tri = points[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    inward = np.einsum("ij,ij->i", normals, tri.mean(axis=1) - points.mean(axis=0)) < 0
    faces[inward] = faces[inward][:, [0, 2, 1]]
    return faces


def fibonacci_sphere(num_vertices: int, radius: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Near-uniform sphere mesh with exactly `num_vertices` vertices (golden-spiral points)."""
    if num_vertices < 4:
        raise ValueError(f"a closed sphere mesh needs at least 4 vertices, got {num_vertices}")
    i = np.arange(num_vertices, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * i / num_vertices
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    phi = np.pi * (1.0 + 5.0**0.5) * i
    points = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    return radius * points, _hull_faces(points)


def irregular_sphere(num_vertices: int, seed: int = 0, radius: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Sphere remeshed irregularly: random points, denser towards +z (about 4:1), hull-triangulated.

    Models a scan's uneven sampling: sliver-ish triangles and varying vertex degree.
    """
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(num_vertices * 3, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    keep_probability = 0.25 + 0.75 * (points[:, 2] + 1.0) / 2.0
    points = points[rng.random(len(points)) < keep_probability][:num_vertices]
    return radius * points, _hull_faces(points)


def flat_patch(n: int = 32, size: float = 1.0, jitter: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Square n×n grid in the z=0 plane, side `size`; interior vertices jittered by `jitter`·spacing."""
    u = np.linspace(0.0, size, n)
    x, y = np.meshgrid(u, u, indexing="ij")
    verts = np.stack([x.ravel(), y.ravel(), np.zeros(n * n)], axis=1)
    if jitter > 0:
        rng = np.random.default_rng(seed)
        interior = (x.ravel() > 0) & (x.ravel() < size) & (y.ravel() > 0) & (y.ravel() < size)
        step = size / (n - 1)
        verts[interior, :2] += rng.uniform(-jitter, jitter, size=(int(interior.sum()), 2)) * step
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], axis=1), np.stack([a, c, d], axis=1)]).astype(np.int64)
    return verts, faces


def head_like(num_vertices: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """Smooth closed head-sized surface (about 0.16 × 0.22 × 0.2 m, y up, face towards +z).

    A sphere deformed radially: an ellipsoid skull, a nose ridge, a chin and brow bumps and
    eye-socket dents. Radial deformation of a star-shaped sphere mesh keeps it a valid closed
    2-manifold with exactly `num_vertices` vertices.
    """
    unit, faces = fibonacci_sphere(num_vertices)
    x, y, z = unit.T

    def bump(center: tuple[float, float, float], width: float) -> np.ndarray:
        c = np.asarray(center) / np.linalg.norm(center)
        return np.exp(-(1.0 - unit @ c) / width**2)

    radial = (
        1.0
        + 0.22 * bump((0.0, -0.05, 1.0), 0.18)  # nose
        + 0.08 * bump((0.0, -0.75, 0.65), 0.25)  # chin
        + 0.05 * bump((0.35, 0.3, 0.9), 0.2) + 0.05 * bump((-0.35, 0.3, 0.9), 0.2)  # brows
        - 0.06 * bump((0.35, 0.15, 0.95), 0.12) - 0.06 * bump((-0.35, 0.15, 0.95), 0.12)  # eye sockets
    )
    semi_axes = np.array([0.08, 0.11, 0.10])  # metres: half width, half height, half depth
    verts = unit * radial[:, None] * semi_axes
    return verts, faces
