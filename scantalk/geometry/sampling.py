"""Points spread uniformly by area over a triangle surface."""

from __future__ import annotations

import numpy as np


def sample_triangles(verts: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Points (count, 3) uniformly distributed by area over the triangles `faces` (F, 3) of
    `verts` (V, 3), in the units of `verts`; the surface must have a positive area."""
    tri = verts[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    which = rng.choice(len(faces), size=count, p=area / area.sum())
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1.0  # fold the unit square onto the triangle so samples stay uniform
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    t = tri[which]
    return t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
