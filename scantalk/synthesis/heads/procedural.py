"""Anatomical procedural heads: a signed distance field of blended primitives, meshed by marching cubes.

The skin is one closed surface: cranium, face mass, cheeks, brow ridge, nose, mandible and chin,
neck (capped at the bottom), ears, eye sockets, and two lips with a real mouth slit that opens
into a shallow mouth cavity. The eyeballs are separate closed spheres sitting in their sockets
(parts label "eyeball"). Every length comes from a seeded `HeadShape`, so seeds differ in sex-like
build, face length, jaw width, nose, lips, chin, ears and neck. Landmarks are found on the
field's zero level by bisection, so they lie on the surface the mesh approximates.

Frame and units follow FLAME: metres, y up, the face looks towards +z, origin near the middle
of the head.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from scantalk.errors import ScanTalkError
from scantalk.face.head import PARTS, FaceLandmarks, Head


@dataclass(frozen=True)
class HeadShape:
    """Proportions of one procedural head, metres unless noted.

    masculinity: 0..1 sex-like build (heavier jaw, brow and nose, thicker neck) · cranium_*: half
    extents of the skull · face_length: brow-to-chin scale factor (1 = average) · jaw_width: half
    width of the mandible at its angle · chin: forward projection of the chin · nose_length /
    nose_projection / nose_width: bridge-to-tip length, tip in front of the face, half width of the
    alae · mouth_half_width: centre to corner · lip_thickness: vermilion protrusion · lip_gap:
    the rest gap between the lips at the midline · ear_size: half height of the ear · neck_radius /
    neck_length · eye_spacing: half distance between the eye centres.
    """

    masculinity: float = 0.5
    cranium_width: float = 0.076
    cranium_height: float = 0.098
    cranium_depth: float = 0.1
    face_length: float = 1.0
    jaw_width: float = 0.05
    chin: float = 0.004
    nose_length: float = 0.047
    nose_projection: float = 0.02
    nose_width: float = 0.017
    mouth_half_width: float = 0.025
    lip_thickness: float = 0.006
    lip_gap: float = 0.003
    ear_size: float = 0.03
    neck_radius: float = 0.058
    neck_length: float = 0.12
    eye_spacing: float = 0.032

    def to_dict(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}


EYEBALL_RADIUS = 0.0120
"""Adult eyeball radius in metres (≈ 24 mm diameter)."""

_GRID_PER_EDGE = 1.25  # marching-cubes edges are shorter than the grid step: this makes `resolution` ≈ edge length
_SOCKET_CLEARANCE = 0.0025  # skin keeps this far from the eyeball so the two never touch
_LID_THICKNESS = 0.004  # the lids' shell over the eyeball


def sample_shape(seed: int) -> HeadShape:
    """A random adult `HeadShape`, the same for the same `seed`.

    A sex-like factor moves several proportions together (as they co-vary in people); the rest
    vary independently around it.
    """
    rng = np.random.default_rng([0x4EAD, int(seed)])
    m = float(rng.uniform(0.0, 1.0))
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731 - a short local sampler reads best here
    return HeadShape(
        masculinity=m,
        cranium_width=0.071 + 0.006 * m + u(-0.003, 0.003),
        cranium_height=0.093 + 0.007 * m + u(-0.004, 0.004),
        cranium_depth=0.095 + 0.007 * m + u(-0.004, 0.004),
        face_length=0.94 + 0.07 * m + u(-0.04, 0.04),
        jaw_width=0.043 + 0.008 * m + u(-0.004, 0.004),
        chin=0.002 + 0.004 * m + u(-0.002, 0.003),
        nose_length=0.043 + 0.006 * m + u(-0.004, 0.004),
        nose_projection=0.016 + 0.004 * m + u(-0.003, 0.004),
        nose_width=0.015 + 0.002 * m + u(-0.002, 0.002),
        mouth_half_width=u(0.0225, 0.0272),
        lip_thickness=0.0065 - 0.0015 * m + u(-0.0012, 0.0012),
        lip_gap=u(0.0026, 0.0036),
        ear_size=0.028 + 0.003 * m + u(-0.003, 0.003),
        neck_radius=0.052 + 0.01 * m + u(-0.004, 0.004),
        neck_length=u(0.06, 0.1),
        eye_spacing=u(0.030, 0.034),
    )


# Ranges (metres) of the single features `stylised_shape` pushes to an extreme: the shapes of
# sculpted characters and caricatures, beyond the adult range of `sample_shape`.
STYLISED_RANGES = {
    "chin": (-0.008, 0.024),
    "mouth_half_width": (0.016, 0.036),
    "lip_thickness": (0.003, 0.012),
    "nose_projection": (0.01, 0.036),
    "nose_length": (0.036, 0.06),
    "lip_gap": (0.004, 0.011),
    "face_length": (0.82, 1.15),
    "jaw_width": (0.036, 0.062),
}


def stylised_shape(seed: int) -> HeadShape:
    """A `sample_shape` pushed towards what people bring beyond adult averages, the same for the
    same `seed`: a caricature (every deviation from the mean face scaled by 0.3-2.5) and one or
    two features drawn from `STYLISED_RANGES` (a huge or receding chin, a wide or tiny mouth,
    thick lips, a big nose, a mouth open at rest, a long or short face).
    """
    rng = np.random.default_rng([0x57E1, int(seed)])
    shape, mean = sample_shape(seed), HeadShape()
    factor = float(rng.uniform(0.3, 2.5))
    values = {key: getattr(mean, key) + factor * (value - getattr(mean, key)) for key, value in shape.to_dict().items()}
    values["lip_gap"] = shape.lip_gap
    values["masculinity"] = float(np.clip(values["masculinity"], 0.0, 1.0))
    for key in rng.choice(sorted(STYLISED_RANGES), size=int(rng.integers(1, 3)), replace=False):
        values[str(key)] = float(rng.uniform(*STYLISED_RANGES[str(key)]))
    return HeadShape(**values)


# --- SDF primitives: numpy in (N, 3), signed distance (N,) out, negative inside. -------------


def _ellipsoid(p: np.ndarray, centre, axes) -> np.ndarray:
    # Inigo Quilez's bound: exact on the surface, a good distance estimate near it.
    q = (p - np.asarray(centre)) / np.asarray(axes)
    k0 = np.linalg.norm(q, axis=1)
    k1 = np.linalg.norm(q / np.asarray(axes), axis=1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def _capsule(p: np.ndarray, a, b, r_a: float, r_b: float | None = None) -> np.ndarray:
    """A segment a→b swept by a radius going linearly from r_a to r_b (a rounded cone, approximately)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    r_b = r_a if r_b is None else r_b
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - (r_a + (r_b - r_a) * t)


def _union(d1: np.ndarray, d2: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: a fillet of size ~k where the two shapes meet."""
    h = np.clip(0.5 + 0.5 * (d2 - d1) / k, 0.0, 1.0)
    return d2 + (d1 - d2) * h - k * h * (1.0 - h)


def _subtract(d: np.ndarray, cut: np.ndarray, k: float) -> np.ndarray:
    """Smoothly remove the solid `cut` from `d` (removes at least as much as a sharp difference)."""
    return -_union(-d, cut, k)


@dataclass(frozen=True)
class _Layout:
    """Where the features of one shape sit (metres, FLAME frame)."""

    eye: np.ndarray  # (3,) left eyeball centre (x > 0)
    slit_y: float
    lip_z: float  # z of the lips' front at the midline
    chin: np.ndarray
    hinge: np.ndarray  # (3,) left condyle
    nose_tip: np.ndarray
    neck_bottom: float


def _layout(s: HeadShape) -> _Layout:
    f = s.face_length
    eye = np.array([s.eye_spacing, 0.028, 0.066])
    slit_y = eye[1] - 0.075 * f
    lip_z = 0.092 + 0.5 * (s.lip_thickness - 0.006)
    chin = np.array([0.0, slit_y - 0.042 * f, 0.084 + s.chin])
    nose_tip = np.array([0.0, eye[1] - 0.9 * s.nose_length, 0.091 + s.nose_projection])
    hinge = np.array([0.048, eye[1] - 0.036, -0.002])
    neck_bottom = chin[1] - s.neck_length
    return _Layout(eye, slit_y, lip_z, chin, hinge, nose_tip, neck_bottom)


def skin_sdf(s: HeadShape, p: np.ndarray) -> np.ndarray:
    """Signed distance estimate (N,) in metres of points `p` (N, 3) to the skin of shape `s`."""
    L = _layout(s)
    m, f = s.masculinity, s.face_length
    x_abs = np.abs(p[:, 0])
    pm = np.column_stack([x_abs, p[:, 1], p[:, 2]])  # mirrored: left/right features written once

    d = _ellipsoid(p, (0.0, 0.022, -0.012), (s.cranium_width, s.cranium_height, s.cranium_depth))
    d = _union(d, _ellipsoid(p, (0.0, L.slit_y + 0.03 * f, 0.032), (0.06, 0.068 * f, 0.06)), 0.02)
    # Mandible: a tapered body from the angle (below the hinge) to the chin, and the chin pad.
    gonion = np.array([s.jaw_width, L.hinge[1] - 0.055 * f, 0.005])
    d = _union(d, _capsule(pm, gonion, L.chin + np.array([0.012, 0.004, -0.012]), 0.016, 0.013), 0.02)
    d = _union(d, _ellipsoid(p, L.chin + np.array([0.0, 0.003, -0.014]), (0.018 + 0.004 * m, 0.013, 0.014)), 0.02)
    # The muzzle (teeth and alveolar arches under the skin) that the lips and chin sit on.
    d = _union(d, _ellipsoid(p, (0.0, L.slit_y - 0.006, L.lip_z - 0.027), (0.036, 0.034 * f, 0.024)), 0.02)
    # Neck: a tilted cylinder, its bottom cut flat so the surface stays closed.
    neck = _capsule(p, (0.0, L.slit_y - 0.02, -0.02), (0.0, L.neck_bottom - 0.05, -0.035), s.neck_radius)
    neck = np.maximum(neck, L.neck_bottom - p[:, 1])
    d = _union(d, neck, 0.03)
    # Cheeks and cheekbones.
    d = _union(d, _ellipsoid(pm, (0.043, L.slit_y + 0.03, 0.052), (0.024, 0.022, 0.02)), 0.02)
    d = _union(d, _ellipsoid(pm, (0.05, L.eye[1] - 0.02, 0.045), (0.016, 0.01, 0.018)), 0.012)
    # Brow ridge over the eyes, stronger in masculine shapes.
    brow_r = 0.008 + 0.004 * m
    d = _union(d, _capsule(pm, (0.012, L.eye[1] + 0.018, 0.084 - brow_r), (0.048, L.eye[1] + 0.016, 0.07 - brow_r),
                           brow_r), 0.012)
    # Nose: bridge to tip, the tip bulb and the alae.
    bridge = np.array([0.0, L.eye[1] + 0.006, 0.088])
    d = _union(d, _capsule(p, bridge, L.nose_tip - np.array([0.0, -0.002, 0.007]), 0.0055, 0.0075), 0.008)
    d = _union(d, _ellipsoid(p, L.nose_tip - np.array([0.0, 0.0, 0.0075]), (0.0085, 0.0075, 0.0075)), 0.005)
    d = _union(d, _ellipsoid(pm, (s.nose_width - 0.0065, L.nose_tip[1] - 0.001, L.nose_tip[2] - 0.016),
                             (0.0065, 0.006, 0.0075)), 0.006)
    # Lips: two rolls, a philtrum-shaped fill above the upper one, then the slit and cavity.
    hw = s.mouth_half_width
    t = s.lip_thickness
    d = _union(d, _ellipsoid(p, (0.0, L.slit_y + 0.0045, L.lip_z - 0.5 * t), (hw * 0.98, 0.0062, t)), 0.004)
    d = _union(d, _ellipsoid(p, (0.0, L.slit_y - 0.0055, L.lip_z - 0.5 * t - 0.001), (hw * 0.92, 0.0072, t)), 0.004)
    # The slit: a thin lens from corner to corner, opening into a cavity behind the lips.
    slit_profile = np.clip(1.0 - (x_abs / hw) ** 2, 0.0, 1.0)
    slit = np.maximum(np.abs(p[:, 1] - L.slit_y) - 0.5 * s.lip_gap * np.sqrt(slit_profile) - 0.0002,
                      np.maximum(x_abs - hw, L.lip_z - 0.03 - p[:, 2]))
    slit = np.where(x_abs < hw, slit, np.maximum(slit, x_abs - hw))
    cavity = _ellipsoid(p, (0.0, L.slit_y, L.lip_z - 0.02), (hw * 0.8, 0.007, 0.011))
    d = _subtract(d, np.minimum(slit, cavity), 0.0015)
    # Ears: a thin, slightly outward-tilted shell with a hollow (concha) on its outer side.
    ear_c = np.array([s.cranium_width * 0.95 + 0.004, L.hinge[1] + 0.008, L.hinge[2] - 0.016])
    ear = _ellipsoid(pm, ear_c, (0.009, s.ear_size, 0.6 * s.ear_size))
    ear = _subtract(ear, _ellipsoid(pm, ear_c + np.array([0.009, -0.004, 0.002]), (0.006, 0.45 * s.ear_size,
                                                                                      0.3 * s.ear_size)), 0.003)
    d = _union(d, ear, 0.006)
    # Lids: a shell over the front of each eyeball, clear of it, that the opening below cuts.
    from_eye = np.linalg.norm(pm - L.eye, axis=1)
    shell = np.abs(from_eye - (EYEBALL_RADIUS + _SOCKET_CLEARANCE + 0.5 * _LID_THICKNESS)) - 0.5 * _LID_THICKNESS
    d = _union(d, np.maximum(shell, L.eye[2] - 0.002 - pm[:, 2]), 0.003)
    # Eye sockets: the skin keeps clear of the eyeball, leaving an almond-shaped opening.
    socket = from_eye - (EYEBALL_RADIUS + _SOCKET_CLEARANCE)
    opening = _ellipsoid(pm, L.eye + np.array([0.0, 0.0, 0.012]), (0.014, 0.006, 0.01))
    d = _subtract(d, np.minimum(socket, _union(socket + 0.004, opening, 0.003)), 0.003)
    return d


def _bisect_front(s: HeadShape, x: float, y: float, z_front: float = 0.2, z_back: float = 0.0) -> np.ndarray:
    """The first skin point met by a ray travelling along −z at (x, y) (the surface seen from the front)."""
    zs = np.linspace(z_front, z_back, 801)
    d = skin_sdf(s, np.column_stack([np.full_like(zs, x), np.full_like(zs, y), zs]))
    inside = np.flatnonzero(d < 0)
    if inside.size == 0:
        raise ScanTalkError(f"no skin found in front of ({x:.3f}, {y:.3f}); the head shape is broken")
    lo, hi = zs[inside[0]], zs[inside[0] - 1]  # lo inside, hi outside
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if skin_sdf(s, np.array([[x, y, mid]]))[0] < 0:
            lo = mid
        else:
            hi = mid
    return np.array([x, y, 0.5 * (lo + hi)])


# Metres above / below the slit where the skin is probed for a mouth corner.
CORNER_PROBE = 0.002
# Metres above / below the slit's centre line where the lip midpoint landmarks are taken.
LIP_MIDPOINT_HEIGHT = 0.0045


def shape_landmarks(s: HeadShape) -> FaceLandmarks:
    """Landmarks of shape `s` on its skin (eye centres and hinges inside the head), metres."""
    L = _layout(s)
    hw = s.mouth_half_width
    # Corners: where the slit ends, on the front surface at the slit's height. A ray along the
    # slit itself would slip through its thin end into the mouth, so the skin is met just above
    # and just below it and the corner put between the two.
    above, below = (_bisect_front(s, hw - 0.0005, L.slit_y + dy) for dy in (CORNER_PROBE, -CORNER_PROBE))
    corner_l = np.array([hw - 0.0005, L.slit_y, 0.5 * (above[2] + below[2])])
    corner_r = corner_l * np.array([-1.0, 1.0, 1.0])
    # Lip midpoints on the vermilion's front, above and below the slit: a mouth open at rest
    # (lip_gap over ~5 mm) puts them higher, or the search would fall through the gap.
    lip = max(LIP_MIDPOINT_HEIGHT, 0.5 * s.lip_gap + 0.002)
    return FaceLandmarks(
        mouth_left=corner_l,
        mouth_right=corner_r,
        upper_lip=_bisect_front(s, 0.0, L.slit_y + lip),
        lower_lip=_bisect_front(s, 0.0, L.slit_y - lip),
        chin=_bisect_front(s, 0.0, L.chin[1]),
        nose_tip=_bisect_front(s, 0.0, L.nose_tip[1]),
        eye_left=L.eye.copy(),
        eye_right=L.eye * np.array([-1.0, 1.0, 1.0]),
        jaw_hinge_left=L.hinge.copy(),
        jaw_hinge_right=L.hinge * np.array([-1.0, 1.0, 1.0]),
    )


def _grid_axes(s: HeadShape, resolution: float) -> list[np.ndarray]:
    """Sample positions (metres) along x, y, z: `resolution` apart, half of it around the mouth
    slit along y so a gap of a few millimetres between the lips survives marching cubes."""
    L = _layout(s)
    lo = np.array([-s.cranium_width - 0.03, L.neck_bottom - 0.006, -s.cranium_depth - 0.03])
    hi = np.array([s.cranium_width + 0.03, 0.022 + s.cranium_height + 0.006, 0.13 + s.nose_projection])
    x = np.arange(lo[0], hi[0] + resolution, resolution)
    z = np.arange(lo[2], hi[2] + resolution, resolution)
    fine_lo, fine_hi = L.slit_y - 0.01, L.slit_y + 0.01
    y = np.concatenate([np.arange(fine_lo, lo[1] - resolution, -resolution)[::-1][:-1],
                        np.arange(fine_lo, fine_hi, 0.5 * resolution),
                        np.arange(fine_hi, hi[1] + resolution, resolution)])
    return [x, y, z]


def _banded_field(s: HeadShape, axes: list[np.ndarray]) -> np.ndarray:
    """The skin SDF on the grid `axes`, exact only near the surface (where marching cubes looks).

    A grid of every other sample is evaluated first; its trilinear upsampling stands in far from
    the surface (only the sign matters there), and points within a few coarse cells of the surface
    are evaluated exactly, which also catches features thinner than a coarse cell (the slit).
    """
    from scipy.ndimage import map_coordinates

    shape = tuple(len(a) for a in axes)
    coarse_axes = [a[::2] for a in axes]
    coarse_pts = np.stack(np.meshgrid(*coarse_axes, indexing="ij"), axis=-1).reshape(-1, 3)
    coarse = skin_sdf(s, coarse_pts).reshape(tuple(len(a) for a in coarse_axes))
    index = np.meshgrid(*[np.arange(n) / 2.0 for n in shape], indexing="ij")
    field = map_coordinates(coarse, index, order=1, mode="nearest")
    band = 3.0 * max(float(np.max(np.diff(a))) for a in coarse_axes)
    near = np.flatnonzero(np.abs(field).ravel() < band)
    ijk = np.unravel_index(near, shape)
    points = np.column_stack([axes[0][ijk[0]], axes[1][ijk[1]], axes[2][ijk[2]]])
    flat = field.ravel()
    flat[near] = skin_sdf(s, points)
    return flat.reshape(shape)


def _marching_cubes(s: HeadShape, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    from skimage.measure import marching_cubes

    axes = _grid_axes(s, _GRID_PER_EDGE * resolution)
    field = _banded_field(s, axes).astype(np.float32)
    index_verts, faces, _, _ = marching_cubes(field, level=0.0, allow_degenerate=False)
    # Marching cubes works in index space; map fractional indices back to metres per axis
    # (piecewise linear, exact for the linear interpolation marching cubes does along an edge).
    verts = np.column_stack([np.interp(index_verts[:, i], np.arange(len(a)), a) for i, a in enumerate(axes)])
    return verts, faces.astype(np.int64)  # skimage's default winding faces down the gradient: outwards here


def _eyeballs(L: _Layout) -> tuple[np.ndarray, np.ndarray]:
    import open3d as o3d

    sphere = o3d.geometry.TriangleMesh.create_sphere(radius=EYEBALL_RADIUS, resolution=18)
    sphere_v, sphere_f = np.asarray(sphere.vertices), np.asarray(sphere.triangles)
    verts = np.concatenate([sphere_v + L.eye, sphere_v + L.eye * np.array([-1.0, 1.0, 1.0])])
    faces = np.concatenate([sphere_f, sphere_f + len(sphere_v)])
    return verts, faces.astype(np.int64)


def _snapped(landmarks: FaceLandmarks, verts: np.ndarray, faces: np.ndarray) -> FaceLandmarks:
    """Surface landmarks moved onto the closest point of the mesh: marching cubes rounds off sharp
    features (the slit's ends, where the corners sit) by up to a grid step."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(verts.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
    points = landmarks.as_array()
    on_skin = slice(0, 6)  # corners, lips, chin, nose tip; eye centres and hinges are inside the head
    closest = scene.compute_closest_points(o3d.core.Tensor(points[on_skin].astype(np.float32)))["points"].numpy()
    points[on_skin] = closest
    return FaceLandmarks.from_array(points)


def procedural_head(seed: int, resolution: float = 0.003, shape: HeadShape | None = None) -> Head:
    """An anatomical adult head (skin + two eyeballs) of identity `seed`, as a `Head`.

    Args:
        seed: identity; the same seed always gives the same head.
        resolution: marching-cubes spacing in metres (the mouth region gets half of it along y);
            0.003 gives roughly 15-25k vertices.
        shape: proportions to build instead of `sample_shape(seed)` (stylised heads: a huge chin,
            a wide mouth, a caricature); the head is still named after `seed`.

    Returns:
        A `Head` with verts (V, 3) float64 metres, outward triangles (F, 3) int64, landmarks on the
        surface, parts (V,) int8 ("skin" / "eyeball") and `meta["shape"]` (the `HeadShape` as a
        dict) and `meta["rest_lip_gap"]` (metres between the lips at the midline).
    """
    if not 0.0005 <= resolution <= 0.01:
        raise ScanTalkError(f"procedural_head resolution {resolution} m is outside 0.0005..0.01; "
                            "use about 0.003 (3 mm) for training heads")
    shape = shape or sample_shape(seed)
    skin_v, skin_f = _marching_cubes(shape, resolution)
    eye_v, eye_f = _eyeballs(_layout(shape))
    verts = np.concatenate([skin_v, eye_v]).astype(np.float64)
    faces = np.concatenate([skin_f, eye_f + len(skin_v)])
    parts = np.concatenate([np.full(len(skin_v), PARTS["skin"]), np.full(len(eye_v), PARTS["eyeball"])]).astype(np.int8)
    return Head(verts=verts, faces=faces, landmarks=_snapped(shape_landmarks(shape), skin_v, skin_f),
                name=f"procedural/{int(seed)}",
                parts=parts, meta={"shape": shape.to_dict(), "rest_lip_gap": float(shape.lip_gap),
                                   "source": "procedural"})
