"""Parametric heads: an identity, a continuous surface over the unit sphere, several meshings.

A head is a star-shaped surface `p(d) = ρ(d) · d` over unit directions `d` (the *parameter
domain*). `ρ` is a base ellipsoid shaped by smooth identity features (jaw taper, chin, nose,
lips with a mouth slit, eye sockets, brow ridge, cheeks). Because the surface is a radial graph
with ρ > 0, every triangulation of sphere points maps to a closed, embedded, outward-oriented
mesh; and because motion and regions are functions of `d`, two meshings of one identity agree
at the same surface point.

Frame and units follow FLAME: metres, y up, the face looks towards +z, head centred near 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial import ConvexHull

from scantalk.errors import MeshError

MESHINGS: tuple[str, ...] = ("uv_coarse", "icosphere", "dense", "irregular")
"""Meshing names `mesh_head` accepts: lat-long (2562 v), geodesic (4842 v), cube-sphere
(8216 v), and seeded jittered points (3500-4500 v) with irregular triangle sizes."""

MOUTH_HEIGHT = -0.045
"""y (metres) of the mouth slit for a head of the reference height 0.23 m."""


@dataclass(frozen=True)
class HeadIdentity:
    """Shape parameters of one synthetic head (all lengths in metres).

    head_width/height/depth: full extents of the base ellipsoid · jaw_width: jaw-line width
    as a fraction of head width · jaw_length: extra chin length · nose_size: nose protrusion ·
    nose_length: vertical nose extent · lip_thickness: lip protrusion · mouth_width: corner to
    corner · brow_ridge: brow protrusion · cheek_fullness: cheek protrusion.
    """

    head_width: float = 0.16
    head_height: float = 0.23
    head_depth: float = 0.2
    jaw_width: float = 0.8
    jaw_length: float = 0.005
    nose_size: float = 0.018
    nose_length: float = 0.048
    lip_thickness: float = 0.006
    mouth_width: float = 0.05
    brow_ridge: float = 0.004
    cheek_fullness: float = 0.005

    def to_dict(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}


_IDENTITY_RANGES: dict[str, tuple[float, float]] = {
    "head_width": (0.15, 0.175),
    "head_height": (0.215, 0.245),
    "head_depth": (0.185, 0.21),
    "jaw_width": (0.7, 0.9),
    "jaw_length": (0.0, 0.01),
    "nose_size": (0.014, 0.024),
    "nose_length": (0.04, 0.055),
    "lip_thickness": (0.004, 0.008),
    "mouth_width": (0.045, 0.056),
    "brow_ridge": (0.002, 0.006),
    "cheek_fullness": (0.002, 0.008),
}


def sample_identity(seed: int) -> HeadIdentity:
    """A random but plausible `HeadIdentity`, the same for the same `seed`."""
    rng = np.random.default_rng([0x1D, int(seed)])
    return HeadIdentity(**{name: float(rng.uniform(lo, hi)) for name, (lo, hi) in _IDENTITY_RANGES.items()})


@dataclass(frozen=True)
class FaceLandmarks:
    """Points (3,) in metres on (or, for the hinge, inside) one identity's rest surface."""

    mouth: np.ndarray
    hinge: np.ndarray
    eyes: np.ndarray  # (2, 3): right (x < 0), left (x > 0)
    brows: np.ndarray  # (2, 3)
    cheeks: np.ndarray  # (2, 3)
    mouth_corners: np.ndarray  # (2, 3)
    chin: np.ndarray


def logistic(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + e^-x), the smooth step every region and feature uses."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _semi_axes(identity: HeadIdentity) -> np.ndarray:
    return 0.5 * np.array([identity.head_width, identity.head_height, identity.head_depth])


def _mouth_y(identity: HeadIdentity) -> float:
    return MOUTH_HEIGHT * identity.head_height / 0.23


def _bump(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float, power: int = 2) -> np.ndarray:
    return np.exp(-np.abs((x - cx) / sx) ** power - ((y - cy) / sy) ** 2)


def surface_radius(identity: HeadIdentity, param: np.ndarray) -> np.ndarray:
    """ρ(d) (N,) metres for unit directions `param` (N, 3); the surface point is ρ(d)·d."""
    d = np.asarray(param, dtype=np.float64)
    axes = _semi_axes(identity)
    base = 1.0 / np.sqrt(np.sum((d / axes) ** 2, axis=1))
    x, y, z = (base[:, None] * d).T  # the point on the plain ellipsoid, metres
    ym = _mouth_y(identity)
    front = logistic((z - 0.02) / 0.01)  # features live on the face, not on the back of the head

    # Jaw taper: lower, lateral directions come in (a radial factor, so the surface stays a graph).
    lateral = d[:, 0] ** 2 / (d[:, 0] ** 2 + d[:, 2] ** 2 + 0.05)
    lower = logistic((ym + 0.01 - y) / 0.02)
    radius = base * (1.0 - 0.5 * (1.0 - identity.jaw_width) * lower * lateral)

    half_mouth = 0.5 * identity.mouth_width
    features = (
        0.008 * _bump(x, y, 0.0, ym - 0.04, 0.03, 0.025)  # lower-face fill so the chin stands out
        + identity.jaw_length * _bump(x, y, 0.0, ym - 0.06, 0.025, 0.015)
        + identity.nose_size * _bump(x, y, 0.0, ym + 0.035, 0.011, identity.nose_length / 2.5)
        + identity.lip_thickness * _bump(x, y, 0.0, ym + 0.006, 0.85 * half_mouth, 0.005, power=4)
        + 1.1 * identity.lip_thickness * _bump(x, y, 0.0, ym - 0.007, 0.8 * half_mouth, 0.006, power=4)
        - 0.004 * _bump(x, y, 0.0, ym, half_mouth, 0.0018, power=4)  # the mouth slit
        - 0.007 * (_bump(x, y, -0.032, ym + 0.078, 0.014, 0.014) + _bump(x, y, 0.032, ym + 0.078, 0.014, 0.014))
        + identity.brow_ridge * (_bump(x, y, -0.03, ym + 0.095, 0.022, 0.007) + _bump(x, y, 0.03, ym + 0.095, 0.022, 0.007))
        + identity.cheek_fullness * (_bump(x, y, -0.042, ym + 0.03, 0.02, 0.02) + _bump(x, y, 0.042, ym + 0.03, 0.02, 0.02))
    )
    return radius + front * features


def surface_points(identity: HeadIdentity, param: np.ndarray) -> np.ndarray:
    """Rest surface points (N, 3) metres of unit directions `param` (N, 3)."""
    d = np.asarray(param, dtype=np.float64)
    return surface_radius(identity, d)[:, None] * d


def _front_point(identity: HeadIdentity, x: float, y: float) -> np.ndarray:
    """The rest surface point whose plain-ellipsoid position has this (x, y) on the face."""
    a = _semi_axes(identity)
    z = a[2] * np.sqrt(max(1e-6, 1.0 - (x / a[0]) ** 2 - (y / a[1]) ** 2))
    direction = np.array([[x, y, z]]) / np.linalg.norm([x, y, z])
    return surface_points(identity, direction)[0]


def face_landmarks(identity: HeadIdentity) -> FaceLandmarks:
    """Mouth centre, jaw hinge, eyes, brows, cheeks, mouth corners and chin of `identity`."""
    ym = _mouth_y(identity)
    half_mouth = 0.5 * identity.mouth_width

    def pair(x: float, y: float) -> np.ndarray:
        return np.stack([_front_point(identity, -x, y), _front_point(identity, x, y)])

    return FaceLandmarks(
        mouth=_front_point(identity, 0.0, ym),
        # Behind and below the ears, as the mandible's condyles sit.
        hinge=np.array([0.0, ym + 0.035, -0.005]),
        eyes=pair(0.032, ym + 0.078),
        brows=pair(0.03, ym + 0.098),
        cheeks=pair(0.042, ym + 0.03),
        mouth_corners=pair(half_mouth, ym),
        chin=_front_point(identity, 0.0, ym - 0.05 - identity.jaw_length),
    )


# ---------------------------------------------------------------------------------------------
# Meshings: point sets on the unit sphere, triangulated by their convex hull (no seams, no
# duplicate pole vertices), then warped so the face gets more vertices than the back.


def _face_warp(points: np.ndarray, strength: float = 0.45) -> np.ndarray:
    """Slide sphere points towards the face (+z, a little down): ≈2x density on the face."""
    towards = np.array([0.0, -0.25, 1.0]) / np.linalg.norm([0.0, -0.25, 1.0])
    moved = points + strength * towards
    return moved / np.linalg.norm(moved, axis=1, keepdims=True)


def _lat_long(rings: int = 40, per_ring: int = 64) -> np.ndarray:
    lat = np.pi * (np.arange(1, rings + 1) / (rings + 1)) - 0.5 * np.pi
    lon = 2.0 * np.pi * np.arange(per_ring) / per_ring
    lat, lon = np.meshgrid(lat, lon, indexing="ij")
    # Poles on the y axis (top of the head, under the neck), not on the face.
    ring = np.stack([np.cos(lat) * np.sin(lon), np.sin(lat), np.cos(lat) * np.cos(lon)], axis=-1).reshape(-1, 3)
    return np.concatenate([ring, [[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]]])


def _geodesic(frequency: int = 22) -> np.ndarray:
    t = (1.0 + 5.0**0.5) / 2.0
    corners = np.array([[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
                        [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], float)
    corners /= np.linalg.norm(corners, axis=1, keepdims=True)
    hull = ConvexHull(corners).simplices
    i, j = np.meshgrid(np.arange(frequency + 1), np.arange(frequency + 1), indexing="ij")
    keep = i + j <= frequency
    bary = np.stack([i[keep], j[keep], frequency - i[keep] - j[keep]], axis=1) / frequency
    points = np.einsum("bk,fkc->fbc", bary, corners[hull]).reshape(-1, 3)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return _unique_rows(points)


def _cube_sphere(n: int = 38) -> np.ndarray:
    s = np.tan(0.25 * np.pi * np.linspace(-1.0, 1.0, n))  # equal-angle spacing
    u, v = (grid.ravel() for grid in np.meshgrid(s, s, indexing="ij"))
    one = np.ones_like(u)
    faces = [np.stack(c, axis=1) for c in
             [(one, u, v), (-one, u, v), (u, one, v), (u, -one, v), (u, v, one), (u, v, -one)]]
    points = np.concatenate(faces)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return _unique_rows(points)


def _irregular(seed: int) -> np.ndarray:
    rng = np.random.default_rng([0x1E, int(seed)])
    count = int(rng.integers(3500, 4501))
    k = np.arange(count) + 0.5
    y = 1.0 - 2.0 * k / count
    angle = np.pi * (3.0 - 5.0**0.5) * k
    points = np.stack([np.sqrt(1 - y**2) * np.cos(angle), y, np.sqrt(1 - y**2) * np.sin(angle)], axis=1)
    # Jitter up to a third of the spacing (never enough to collide), then a random rotation
    # and a random smooth density warp, so sizes and connectivity match no other meshing.
    spacing = np.sqrt(4.0 * np.pi / count)
    points += rng.uniform(-spacing / 3.0, spacing / 3.0, points.shape)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    points = points @ q.T
    pull = rng.normal(size=3)
    points += rng.uniform(0.15, 0.3) * pull / np.linalg.norm(pull)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def _unique_rows(points: np.ndarray) -> np.ndarray:
    _, first = np.unique(np.round(points, 9), axis=0, return_index=True)
    return points[np.sort(first)]


def sphere_points(meshing: str, seed: int = 0) -> np.ndarray:
    """Unit directions (V, 3) of one meshing's vertices, face-warped, in a fixed order."""
    if meshing == "uv_coarse":
        points = _lat_long()
    elif meshing == "icosphere":
        points = _geodesic()
    elif meshing == "dense":
        points = _cube_sphere()
    elif meshing == "irregular":
        points = _irregular(seed)
    else:
        raise MeshError(f"unknown head meshing '{meshing}'; choose one of {', '.join(MESHINGS)}")
    return _face_warp(points)


def triangulate_sphere(param: np.ndarray) -> np.ndarray:
    """Outward-oriented triangles (F, 3) int64 over unit directions `param` (V, 3), by convex hull."""
    faces = ConvexHull(param).simplices.astype(np.int64)
    if np.unique(faces).size != len(param):
        raise MeshError("sphere points too close together to triangulate (a vertex fell inside the hull)")
    a, b, c = (param[faces[:, k]] for k in range(3))
    flip = np.einsum("ij,ij->i", np.cross(b - a, c - a), a + b + c) < 0
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return faces


@dataclass(frozen=True)
class HeadMesh:
    """One meshed head: verts (V, 3) float64 metres, faces (F, 3) int64 outward, param (V, 3)
    unit directions of each vertex (where motion and regions are evaluated), its identity and
    meshing name."""

    verts: np.ndarray
    faces: np.ndarray
    param: np.ndarray
    identity: HeadIdentity
    meshing: str


def build_head(identity: HeadIdentity, meshing: str, seed: int = 0) -> HeadMesh:
    """Mesh `identity` with `meshing` (see `MESHINGS`); `seed` only matters for "irregular"."""
    param = sphere_points(meshing, seed)
    faces = triangulate_sphere(param)
    return HeadMesh(surface_points(identity, param), faces, param, identity, meshing)


def mesh_head(identity: HeadIdentity, meshing: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(verts (V, 3) float64 metres, faces (F, 3) int64 outward) of `identity` with `meshing`."""
    head = build_head(identity, meshing, seed)
    return head.verts, head.faces


def make_sample_face(seed: int = 1000, meshing: str = "irregular") -> tuple[np.ndarray, np.ndarray]:
    """A face no default dataset trains on (identity `seed`), as (verts (V, 3), faces (F, 3))."""
    return mesh_head(sample_identity(seed), meshing, seed=seed)
