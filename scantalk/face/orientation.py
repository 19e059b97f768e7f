"""Which way a stored face looks, and where its nose is, from its geometry alone.

The model frame is FLAME's: metres, y up, the face looking towards +z. `find_orientation` finds
the rotation file → model frame of a head stored in any of the 24 axis-aligned orientations plus
a tilt, in any units, with or without triangles, from independent cues:

- the bilateral symmetry plane (mirror ICP from several starting planes): the left-right axis;
- the nose, the sharpest protrusion on that plane that can be seen from where it points: forward;
- the facial line (touching forehead and chin across the nose) and a face template fitted around
  the nose (MediaPipe's canonical face, vendored): the tilt about the left-right axis;
- three votes for which way is up: the nose's underside folds back into the lip while its bridge
  runs straight, the mouth is a narrow notch in the profile below the nose, and the template fits
  better one way up than the other.

`nose_candidates` is how `scantalk.face.alignment.nose_tip` finds the nose of an upright face too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.spatial import ConvexHull, QhullError, cKDTree
from scipy.spatial.transform import Rotation

from scantalk.errors import OrientationError
from scantalk.geometry.sampling import sample_triangles

# Unit guesses from the bounding-box diagonal: (lower bound of the diagonal, metres per unit, name).
UNIT_GUESSES = ((50.0, 0.001, "millimetres"), (5.0, 0.01, "centimetres"), (0.0, 1.0, "metres"))
# A head is about 0.15-0.25 m across; its bounding-box diagonal lies well inside this range.
PLAUSIBLE_DIAGONAL_M = (0.08, 0.8)


# Stray geometry: points farther than this many diagonals of the central 98 % of the points from
# their box (a triangle left 5 m away, a camera marker) say nothing of the face's size or place.
STRAY_DISTANCE = 1.0


def stray_points(verts: np.ndarray) -> np.ndarray:
    """(V,) bool: the points of `verts` (V, 3) lying far outside the rest (see `STRAY_DISTANCE`)."""
    verts = np.asarray(verts, dtype=np.float64)
    if len(verts) < 20:
        return np.zeros(len(verts), dtype=bool)
    low, high = np.percentile(verts, 1.0, axis=0), np.percentile(verts, 99.0, axis=0)
    outside = np.linalg.norm(np.maximum(low - verts, 0.0) + np.maximum(verts - high, 0.0), axis=1)
    return outside > STRAY_DISTANCE * max(float(np.linalg.norm(high - low)), 1e-30)


def guess_units(verts: np.ndarray) -> tuple[float, str]:
    """(metres per unit, unit name) of a face `verts` (V, 3), from its bounding-box diagonal
    (stray points left out, see `stray_points`)."""
    verts = np.asarray(verts, dtype=np.float64)
    stray = stray_points(verts)
    kept = verts[~stray] if stray.any() else verts
    diagonal = float(np.linalg.norm(kept.max(0) - kept.min(0)))
    return next((scale, units) for lower, scale, units in UNIT_GUESSES if diagonal >= lower)


@dataclass(frozen=True)
class Orientation:
    """How a stored face is turned relative to the model frame.

    Attributes:
        rotation: (3, 3) file → model frame (x_model = rotation @ x_file): the face's up goes to
            +y and its forward to +z; a signed permutation when `tilt_degrees` is 0.
        confidence: 0..1, how clearly the cues decide (below ~0.3 the frame is a guess).
        description: e.g. "up=+z forward=-y, tilt 12°".
        up, forward: the file's axes nearest to the face's up and forward ("+z", "-y", ...).
        tilt_degrees: angle of `rotation` from that axis-aligned rotation (0: snapped onto it).
        nose_tip: (3,) the nose tip, in the file's coordinates and units.
        symmetry_error: mean distance (m) between the surface and its mirror image.
        cues: the up/down votes for the chosen up in [-1, 1] (positive agrees), and how clearly
            the symmetry plane and the nose stand out from the alternatives, in [0, 1].
    """

    rotation: np.ndarray
    confidence: float
    description: str
    up: str
    forward: str
    tilt_degrees: float
    nose_tip: np.ndarray
    symmetry_error: float
    cues: dict[str, float] = field(default_factory=dict)


# --- Even surface samples (dense patches must not vote louder), and the midline profile. -----

SAMPLE_AREA_M2 = 1.0e-5  # one sample per 10 mm²: about 3 mm apart, finer than a nose tip
MAX_SAMPLES = 20000


def _surface_points(verts: np.ndarray, faces: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Points (N, 3) spread evenly over the surface (metres), or a subsample of a point cloud."""
    if faces is None:
        return verts if len(verts) <= MAX_SAMPLES else verts[rng.choice(len(verts), MAX_SAMPLES, replace=False)]
    tri = verts[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if not area.sum() > 0:
        return verts
    return sample_triangles(verts, faces, int(np.clip(area.sum() / SAMPLE_AREA_M2, 2000, MAX_SAMPLES)), rng)


def _section(verts: np.ndarray, faces: np.ndarray | None, normal: np.ndarray, offset: float,
             step: float = 0.0005) -> np.ndarray:
    """Points (K, 3) along the surface's cut by the plane n·x = offset, about `step` metres apart
    (a point cloud: its points within 3 mm of the plane)."""
    side = verts @ normal - offset
    if faces is None:
        return verts[np.abs(side) < 0.003]
    crossing = faces[(side[faces].max(1) > 0) & (side[faces].min(1) < 0)]
    a, b = crossing, np.roll(crossing, -1, axis=1)  # the triangles' three edges
    cut = side[a] * side[b] < 0
    t = side[a][cut] / (side[a][cut] - side[b][cut])
    ends = verts[a[cut]] + t[:, None] * (verts[b[cut]] - verts[a[cut]])
    ends = ends[np.repeat(cut.sum(1) == 2, cut.sum(1))].reshape(-1, 2, 3)  # two cut edges: a segment
    pieces = np.maximum(1, np.ceil(np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1) / step)).astype(int)
    which = np.repeat(np.arange(len(ends)), pieces + 1)
    fraction = (np.arange(len(which)) - np.repeat(np.cumsum(pieces + 1) - pieces - 1, pieces + 1)) / pieces[which]
    return ends[which, 0] + fraction[:, None] * (ends[which, 1] - ends[which, 0])


# --- The bilateral symmetry plane: mirror ICP from several starting planes. -----------------

MIRROR_POINTS = 1500
MIRROR_KEEP = 0.8  # trimmed: hair, a raised shoulder or a scan hole need not mirror


def _mirror_icp(points: np.ndarray, tree: cKDTree, normal: np.ndarray, offset: float,
                iterations: int = 30) -> tuple[np.ndarray, float, float]:
    """Refine the plane n·x = offset about which `points` (N, 3) mirror onto the surface (`tree`):
    pair each mirrored point with its nearest surface point, fit the reflection that best maps
    the pairs (an improper Kabsch projected onto pure reflections), repeat.

    Returns:
        (unit normal (3,), offset, mean trimmed mirror distance in metres).
    """
    distance = np.inf
    for _ in range(iterations):
        dist, index = tree.query(points - 2.0 * (points @ normal - offset)[:, None] * normal)
        kept = dist <= np.quantile(dist, MIRROR_KEEP)
        distance = float(dist[kept].mean())
        source, target = points[kept], tree.data[index[kept]]
        source_mean, target_mean = source.mean(0), target.mean(0)
        left, _, right_t = np.linalg.svd((source - source_mean).T @ (target - target_mean))
        improper = right_t.T @ np.diag([1.0, 1.0, -np.linalg.det(right_t.T @ left.T)]) @ left.T
        # A reflection is I - 2nnᵀ: n is the eigenvector of (I - A)/2 with eigenvalue ~1.
        new_normal = np.linalg.eigh(np.eye(3) - 0.5 * (improper + improper.T))[1][:, -1]
        new_normal *= 1.0 if new_normal @ normal >= 0 else -1.0
        new_offset = float(new_normal @ (0.5 * (source_mean + target_mean)))
        converged = np.linalg.norm(new_normal - normal) < 1e-6 and abs(new_offset - offset) < 1e-7
        normal, offset = new_normal, new_offset
        if converged:
            break
    return normal, offset, distance


def _symmetry_plane(points: np.ndarray, tree: cKDTree,
                    rng: np.random.Generator) -> tuple[np.ndarray, float, float, float]:
    """(unit normal (3,), offset, mirror distance (m)) of the bilateral symmetry plane n·x = offset
    of the surface `points` (N, 3), and the mirror distance of the best plane 30° or more from it."""
    subset = points[rng.choice(len(points), min(len(points), MIRROR_POINTS // 2), replace=False)]
    centre = subset.mean(0)
    starts = np.concatenate([np.linalg.svd(subset - centre, full_matrices=False)[2], np.eye(3)])
    planes = sorted((_mirror_icp(subset, tree, start, float(start @ centre), iterations=12) for start in starts),
                    key=lambda plane: plane[2])
    other = next((plane[2] for plane in planes[1:] if abs(plane[0] @ planes[0][0]) < np.cos(np.radians(30))), np.inf)
    more = points[rng.choice(len(points), min(len(points), 2 * MIRROR_POINTS), replace=False)]
    return (*_mirror_icp(more, tree, planes[0][0], planes[0][1]), other)


# --- The nose: the sharpest protrusion on the symmetry plane. -------------------------------

# Radii (m) of the protrusion test: a point's direction is away from the centroid of its
# neighbours within BALL; it protrudes by the drop along that direction to the ring RING_INNER..
# RING_OUTER around it, in the worst of SECTORS directions (a peak drops every way; a ridge such
# as the lips, a brow or a cut edge does not).
BALL, RING_INNER, RING_OUTER, SECTORS = 0.03, 0.008, 0.02, 6
MIDLINE_SLAB = 0.008
MIN_NOSE, TYPICAL_NOSE = 0.0025, 0.005  # m: noses protrude 5-13 mm by this measure; a 10 cm ball under 1 mm


def protrusion(points: np.ndarray, tree: cKDTree, candidates: np.ndarray,
               across: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far each candidate point sticks out of the surface around it, in every direction.

    Args:
        points: (N, 3) metres, spread evenly over the surface; `tree` is their cKDTree.
        candidates: (C,) indices into `points`.
        across: (3,) the face's left-right axis, from which directions around a point are counted
            (so the measure does not depend on how the face is turned).

    Returns:
        (protrusion (C,) metres: over SECTORS directions around the point, the smallest lower
        quartile of the drop to the ring of neighbours, 0 where fewer than four directions have
        neighbours; the unit directions (C, 3) measured along).
    """
    result, used = np.zeros(len(candidates)), np.zeros((len(candidates), 3))
    for row, (index, near) in enumerate(zip(candidates, tree.query_ball_point(points[candidates], BALL))):
        offsets = points[near] - points[index]
        direction = -offsets.mean(0)
        if not np.linalg.norm(direction) > 0:
            continue
        direction = used[row] = direction / np.linalg.norm(direction)
        along = offsets @ direction
        tangent = offsets - along[:, None] * direction
        radius = np.linalg.norm(tangent, axis=1)
        ring = (radius > RING_INNER) & (radius < RING_OUTER)
        first = across - (across @ direction) * direction
        if ring.sum() < 8 or not np.linalg.norm(first) > 1e-6:
            continue
        first /= np.linalg.norm(first)
        angle = np.arctan2(tangent[ring] @ np.cross(direction, first), tangent[ring] @ first)
        sector = ((angle + np.pi) / (2 * np.pi) * SECTORS).astype(int) % SECTORS
        drops = -along[ring]
        # A low quantile per direction: where surfaces are layered (hair over a scalp, a collar),
        # the outer one decides.
        order, counts = np.lexsort((drops, sector)), np.bincount(sector, minlength=SECTORS)
        starts = np.cumsum(counts) - counts
        if (counts > 0).sum() >= 4:
            result[row] = drops[order[(starts + (0.25 * (counts - 1)).astype(int))[counts > 0]]].min()
    return result, used


def _free_along(points: np.ndarray, point: np.ndarray, direction: np.ndarray, reach: float,
                radius: float = 0.006) -> bool:
    """Whether no surface lies within `reach` metres of `point` along `direction` (in a cylinder
    of `radius`, from two radii away, so the point's own surface does not count)."""
    offsets = points - point
    along = offsets @ direction
    ahead = (along > 2.0 * radius) & (along < reach)
    return np.count_nonzero(np.linalg.norm(offsets[ahead] - along[ahead, None] * direction, axis=1) < radius) < 3


def nose_candidates(points: np.ndarray, tree: cKDTree, normal: np.ndarray, offset: float,
                    count: int = 2) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The `count` most protruding tip-like points near the plane n·x = offset, 2 cm or more apart.

    Tip-like: seen from where it points, with nothing just behind it (unlike the back wall of the
    mouth, seen from inside the head or through the slit of a face-only scan).

    Returns:
        [(tip (3,), its unit direction (3,) within the plane, protrusion in metres)], best first.
    """
    on_plane = np.flatnonzero(np.abs(points @ normal - offset) < MIDLINE_SLAB)
    # First up to 500 points spread along the plane, then every point near the best 10 places.
    spread = on_plane[::max(1, len(on_plane) // 500)]
    coarse, _ = protrusion(points, tree, spread, normal)
    places: list[np.ndarray] = []
    for point in points[spread[np.argsort(-coarse)]]:
        if all(np.linalg.norm(point - other) > 0.015 for other in places):
            places.append(point)
            if len(places) == 10:
                break
    near = np.linalg.norm(points[on_plane, None] - np.reshape(places, (-1, 1, 3)).transpose(1, 0, 2), axis=2)
    candidates = on_plane[near.min(axis=1, initial=np.inf) < 0.01]
    heights, directions = protrusion(points, tree, candidates, normal)
    directions -= (directions @ normal)[:, None] * normal
    directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    peaks: list[tuple[np.ndarray, np.ndarray, float]] = []
    for row in np.argsort(-heights):
        point, direction = points[candidates[row]], directions[row]
        if heights[row] < MIN_NOSE or len(peaks) == count:
            break
        if all(np.linalg.norm(point - other) > 0.02 for other, _, _ in peaks) and \
                _free_along(points, point, direction, np.inf) and _free_along(points, point, -direction, 0.025):
            peaks.append((point, direction, float(heights[row])))
    return peaks


def _most_forward(verts: np.ndarray, forward: np.ndarray, count: int) -> np.ndarray:
    """(3,) the mean of the `count` points of `verts` (V, 3) furthest along `forward` (3,)."""
    return verts[np.argsort(verts @ forward)[-count:]].mean(axis=0)


# --- On the midline profile, in 2D around the nose tip: `ahead` along forward, `height` along up. -

FACIAL_LINE_RANGE = (0.04, 0.11)  # m from the nose tip: the forehead and the chin
NOSE_BRANCH, NOSE_CORNER_SCALE = 0.03, 0.003  # m
MOUTH_BAND, MOUTH_WINDOW, MOUTH_NOTCH_SCALE = (0.02, 0.065), 6, 0.003  # m, mm bins, m


def _facial_line(ahead: np.ndarray, height: np.ndarray) -> np.ndarray | None:
    """(2,) unit (ahead, height) normal of the line touching forehead and chin in front of the face
    (the edge of the profile's convex hull that spans the nose's height), or None."""
    distance = np.hypot(ahead, height)
    kept = (distance > FACIAL_LINE_RANGE[0]) & (distance < FACIAL_LINE_RANGE[1])
    profile = np.column_stack([ahead[kept], height[kept]])
    try:
        hull = ConvexHull(profile)
    except (QhullError, ValueError):
        return None
    spanning = [equation[:2] for simplex, equation in zip(hull.simplices, hull.equations)
                if profile[simplex[0], 1] * profile[simplex[1], 1] < 0 and equation[0] > 0]
    return max(spanning, key=lambda normal: normal[0]) if spanning else None


def _nose_fold(ahead: np.ndarray, height: np.ndarray, side: float) -> float:
    """How deep (m) the profile folds in behind the chord from the nose tip to 2-3 cm along it, on
    the `side` (+1 up, -1 down) of the tip: the subnasal corner below, about 0 along the bridge."""
    distance = np.hypot(ahead, height)
    branch = side * height > 0
    end = branch & (distance > 0.7 * NOSE_BRANCH) & (distance < NOSE_BRANCH)
    inner = branch & (distance > 0.003) & (distance < 0.7 * NOSE_BRANCH)
    if not end.any() or not inner.any():
        return 0.0
    chord = np.array([ahead[end].max(), height[end][np.argmax(ahead[end])]])
    outward = np.array([chord[1], -chord[0]]) * np.sign(chord[1] or 1.0)  # away from the face
    depth = -(np.column_stack([ahead[inner], height[inner]]) @ outward) / np.linalg.norm(chord)
    envelope = np.full(int(NOSE_BRANCH / 0.002) + 1, np.inf)  # the outer surface: per 2 mm, the least deep
    np.minimum.at(envelope, (distance[inner] / 0.002).astype(int), depth)
    return float(envelope[np.isfinite(envelope)].max())


def _mouth_notch(ahead: np.ndarray, height: np.ndarray, side: float, openings: bool) -> float:
    """The deepest narrow notch (m, at most 15 mm) in the front of the profile 2-6.5 cm from the
    nose tip on `side`: the mouth slit below, nothing as narrow above. `openings`: an empty stretch
    inside the (dense) profile of a mesh is a hole in it, the deepest notch there is."""
    band = (side * height > MOUTH_BAND[0]) & (side * height < MOUTH_BAND[1]) & (ahead > -0.05)
    front = np.full(int(round((MOUTH_BAND[1] - MOUTH_BAND[0]) * 1000)), np.nan)
    np.fmax.at(front, np.minimum(((side * height[band] - MOUTH_BAND[0]) * 1000).astype(int), len(front) - 1),
               ahead[band])
    filled = np.flatnonzero(~np.isnan(front))
    if len(filled) < 2:
        return 0.0
    if openings:
        front[filled[0]:filled[-1]] = np.nan_to_num(front[filled[0]:filled[-1]], nan=-1.0)
    windows = sliding_window_view(np.nan_to_num(front, nan=-np.inf), 2 * MOUTH_WINDOW + 1)
    rims = np.minimum(windows[:, :MOUTH_WINDOW].max(1), windows[:, MOUTH_WINDOW + 1:].max(1))
    valid = np.isfinite(rims) & np.isfinite(windows[:, MOUTH_WINDOW])
    return float(np.clip((rims[valid] - windows[valid, MOUTH_WINDOW]).max(initial=0.0), 0.0, 0.015))


# --- A face template (MediaPipe's canonical face) fitted around the nose. ------------------

TEMPLATE_NOSE = 4  # MediaPipe's nose-tip vertex
TEMPLATE_KEEP = 0.7  # trimmed: a caricature's chin or a missing patch need not fit
FACE_RADIUS = 0.06  # m: the surface this close to the nose tip is fitted, eyes to lips, not the chin


@dataclass(frozen=True)
class _Template:
    verts: np.ndarray  # (T, 3) metres, nose tip at the origin, y up, facing +z
    normals: np.ndarray  # (T, 3)
    tree: cKDTree


@functools.cache
def _face_template() -> _Template:
    from scantalk.geometry.normals import vertex_normals

    with resources.files("scantalk").joinpath("assets", "faces", "mediapipe_canonical.npz").open("rb") as handle:
        with np.load(handle, allow_pickle=False) as data:
            verts, faces = data["verts_cm"].astype(np.float64) / 100.0, data["faces"].astype(np.int64)
    verts = verts - verts[TEMPLATE_NOSE]
    return _Template(verts, vertex_normals(verts, faces), cKDTree(verts))


def _fit_template(template: _Template, face: np.ndarray, frame: np.ndarray,
                  iterations: int = 20) -> tuple[np.ndarray, float]:
    """Trimmed point-to-plane ICP of `face` (N, 3), the surface around the nose tip relative to it
    (metres, the file's axes), onto the template, from `frame` (3, 3) (columns: the face's right,
    up and forward in the file's axes). Returns (the fitted frame, trimmed RMS distance in m)."""
    rotation, shift, rms = frame.T.copy(), np.zeros(3), np.inf  # file axes → template axes
    for _ in range(iterations):
        placed = face @ rotation.T + shift
        index = template.tree.query(placed)[1]
        normals = template.normals[index]
        residual = np.einsum("ij,ij->i", placed - template.verts[index], normals)
        kept = np.abs(residual) <= np.quantile(np.abs(residual), TEMPLATE_KEEP)
        rms = float(np.sqrt(np.mean(residual[kept] ** 2)))
        # Linearised: residual + ω·(p × m) + t·m = 0 in least squares for a small rotation ω, shift t.
        system = np.hstack([np.cross(placed[kept], normals[kept]), normals[kept]])
        step = np.linalg.lstsq(system, -residual[kept], rcond=None)[0]
        update = Rotation.from_rotvec(step[:3]).as_matrix()
        rotation, shift = update @ rotation, update @ shift + step[3:]
    return rotation.T, rms


# --- Putting the cues together. ------------------------------------------------------------

SNAP_DEGREES = 8.0  # twice the largest tilt found on upright heads (measured, see experiments/)
UP_VOTES = ("nose_underside", "mouth", "template")
NOSE_FOLD_WEIGHT = 4.0  # how much more the subnasal fold says "this is the nose" than the other votes
_AXIS_ROTATIONS = np.round(Rotation.create_group("O").as_matrix()) + 0.0  # the 24 signed permutations (no -0.0)


def _axis_name(vector: np.ndarray) -> str:
    axis = int(np.argmax(np.abs(vector)))
    return ("+" if vector[axis] > 0 else "-") + "xyz"[axis]


def _read_face(points: np.ndarray, profile: np.ndarray, nose: np.ndarray, direction: np.ndarray,
               normal: np.ndarray, openings: bool, template: _Template) -> tuple[dict[str, float], np.ndarray]:
    """The face around one nose candidate: the votes in [-1, 1] for up = +(forward × normal), and
    forward (3,): its tilt from the template, unless that strays over 25° from the facial line
    (which a jutting chin tilts)."""
    up = np.cross(direction, normal)
    line = _facial_line((profile - nose) @ direction, (profile - nose) @ up)
    forward = direction if line is None else line[0] * direction + line[1] * up
    up = np.cross(forward, normal)
    ahead, height = (profile - nose) @ forward, (profile - nose) @ up
    fold = [_nose_fold(ahead, height, side) for side in (1.0, -1.0)]
    notch = [_mouth_notch(ahead, height, side, openings) for side in (1.0, -1.0)]
    face = points[np.linalg.norm(points - nose, axis=1) < FACE_RADIUS] - nose
    fits = [_fit_template(template, face, np.column_stack([side * normal, side * up, forward])) for side in (1.0, -1.0)]
    votes = {"nose_underside": (fold[1] - fold[0]) / NOSE_CORNER_SCALE,
             "mouth": (notch[1] - notch[0]) / MOUTH_NOTCH_SCALE,
             "template": np.log(fits[1][1] / max(fits[0][1], 1e-9)) / np.log(2.0)}
    votes = {key: float(np.clip(value, -1.0, 1.0)) for key, value in votes.items()}
    fitted = fits[0 if sum(votes.values()) >= 0 else 1][0][:, 2]
    fitted = fitted - (fitted @ normal) * normal
    fitted /= np.linalg.norm(fitted)
    return votes, fitted if fitted @ forward > np.cos(np.radians(25)) else forward


def _on_plane(point: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """(3,) `point` projected onto the plane n·x = offset."""
    return point - (point @ normal - offset) * normal


def find_orientation(verts: np.ndarray, faces: np.ndarray | None = None, name: str = "face",
                     snap_degrees: float = SNAP_DEGREES) -> Orientation:
    """The rotation that stands a stored face upright in the model frame (y up, facing +z).

    Args:
        verts: (V, 3) the face as stored: any units (mm, cm, m), any of the 24 axis-aligned
            orientations plus a tilt; a whole head, a bust, a face-only scan or a point cloud.
        faces: (F, 3) triangles, or None for a point cloud.
        name: what to call the face in messages (its file name).
        snap_degrees: a rotation found within this angle of an axis-aligned one becomes exactly
            that one (files are stored axis-aligned far more often than tilted by a few degrees).

    Returns:
        The `Orientation`: rotation (3, 3) file → model, confidence, the evidence.

    Raises:
        OrientationError: under 50 finite points, or no nose-like protrusion on the symmetry plane.
    """
    verts = np.asarray(verts, dtype=np.float64)
    if verts.ndim != 2 or verts.shape[1] != 3 or len(verts) < 50 or not np.isfinite(verts).all():
        raise OrientationError(f"{name}: finding which way a face looks needs at least 50 finite points (V, 3), "
                               f"got {verts.shape}; pass up= and forward= instead")
    faces = None if faces is None or len(faces) == 0 else np.asarray(faces, dtype=np.int64)
    scale = guess_units(verts)[0]
    core = verts[~stray_points(verts)]
    diagonal = scale * float(np.linalg.norm(core.max(0) - core.min(0)))
    if not PLAUSIBLE_DIAGONAL_M[0] <= diagonal <= PLAUSIBLE_DIAGONAL_M[1]:
        scale *= 0.35 / max(diagonal, 1e-30)  # no unit makes it head-sized: take it for a head and neck
    metres, rng = verts * scale, np.random.default_rng(0)
    points = _surface_points(metres, faces, rng)
    tree = cKDTree(points)
    normal, offset, mirror_error, other_error = _symmetry_plane(points, tree, rng)
    peaks = nose_candidates(points, tree, normal, offset)
    if not peaks:
        raise OrientationError(f"{name}: no nose-like protrusion on its plane of symmetry; is it a face? "
                               "Pass up= and forward= to place it by hand")
    profile, template = _section(metres, faces, normal, offset), _face_template()
    # Each face is read from the most forward point near its peak, as the tip is placed below.
    peaks = [(_on_plane(_most_forward(points[np.linalg.norm(points - tip, axis=1) < 0.015], direction, 5),
                        normal, offset), direction, height) for tip, direction, height in peaks]
    readings = [_read_face(points, profile, tip, direction, normal, faces is not None, template)
                for tip, direction, _ in peaks]
    # The nose protrudes most, and the face reads most clearly one way up around it. The mouth
    # lies between nose and chin, so around a chin taken for a nose the face reads as clearly
    # upside down; only a nose folds back into the lip on one side and runs straight on the other.
    score = [height * (0.5 + abs(sum(votes.values())) + NOSE_FOLD_WEIGHT * abs(votes["nose_underside"]))
             for (_, _, height), (votes, _) in zip(peaks, readings)]
    best = int(np.argmax(score))
    (votes, forward), nose = readings[best], peaks[best][0]
    sign = 1.0 if sum(votes.values()) >= 0 else -1.0
    rotation = np.stack([sign * normal, np.cross(forward, sign * normal), forward])
    closeness = np.einsum("ij,kij->k", rotation, _AXIS_ROTATIONS)
    nearest = _AXIS_ROTATIONS[int(np.argmax(closeness))]
    tilt = float(np.degrees(np.arccos(np.clip((closeness.max() - 1.0) / 2.0, -1.0, 1.0))))
    if tilt <= snap_degrees:
        rotation, tilt = nearest.copy(), 0.0
    cues = {key: sign * value for key, value in votes.items()}
    cues["symmetry"] = float(np.clip(other_error / max(mirror_error, 1e-12) - 1.0, 0.0, 1.0))
    cues["nose"] = float(1.0 - max(score[:best] + score[best + 1:], default=0.0) / score[best])
    cues["nose"] *= float(np.clip(peaks[best][2] / TYPICAL_NOSE, 0.0, 1.0))  # a faint tip may be a chin
    agreement = float(np.clip(sum(cues[key] for key in UP_VOTES) / 1.5, 0.0, 1.0))
    up, ahead = _axis_name(nearest[1]), _axis_name(nearest[2])
    near = metres[np.linalg.norm(metres - nose, axis=1) < 0.015]
    tip = _most_forward(near, forward, max(5, len(verts) // 500)) if len(near) else nose
    tip = _on_plane(tip, normal, offset)  # on the symmetry plane, as `nose_tip` centres it
    return Orientation(
        rotation=rotation, confidence=min(agreement, cues["symmetry"]) * (0.5 + 0.5 * cues["nose"]),
        description=f"up={up} forward={ahead}" + (f", tilt {tilt:.0f}°" if tilt else ""), up=up, forward=ahead,
        tilt_degrees=tilt, nose_tip=tip / scale, symmetry_error=mirror_error,
        cues=cues)
