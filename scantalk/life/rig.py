"""Life decoded onto any head: lids that close over the eyes, eyes that turn, brows, and the head.

`LifeRig.of(head)` reads a neutral face (its landmarks, and its eyeballs when they are separate
parts) and `LifeRig.displace` adds a `LifeTrack`'s frames to the speech motion:

- **Lids**: around each eye, skin above the eye's opening turns about the eye centre's
  left-right axis, down onto the lower lid. Turning about the centre keeps every lid vertex at
  its distance from it, so a lid never enters the eyeball. The opening (the palpebral fissure)
  is read per column from the surface: the widest band of angles, seen from the eye centre, with
  no skin in front of the eye. A face with no opening (eyes in the skin mesh, a closed-eyed or
  painted scan) gets an anatomical one, and its skin over the eye folds down the same way.
- **Eyes**: eyeball parts turn rigidly about their fitted centres (yaw, then pitch). Faces
  without eyeball parts keep their eyes still.
- **Brows**: three smooth displacement fields above the eyes (inner and outer raise, lower).
- **Head**: everything from the neck up turns about a pivot behind and below the jaw hinges
  (the top of the spine) and moves by a few millimetres; the neck blends into what lies below,
  so a bust's shoulders stay still.

Lengths are scaled to the head (`FaceFrame.scale`, 1 for an average adult).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scantalk.face.frame import face_frame
from scantalk.face.head import PARTS, Head
from scantalk.life.channels import LIFE_CHANNELS

EYE_RADIUS = 0.012
"""Metres (adult, standard size): the eyeball radius assumed where no eyeball part is found."""
DEFAULT_OPENING = (-15.0, 10.0)
"""Degrees below / above the eye centre's horizon where the lids' margins sit when the surface
shows no opening."""
LID_REACH = 0.02
"""Metres beyond the eyeball's radius the lid motion reaches (falling to 0 at the brow)."""
BROW_RAISE, BROW_LOWER, BROW_PINCH = 0.004, 0.003, 0.0015
"""Metres at value 1: brow raise, brow lower, brows drawn together."""
BROW_SPREAD = 0.011
"""Metres: the width (standard deviation) of a brow's displacement field."""
CLOSED_MARGIN = 0.0
"""Degrees above the lower lid's margin where the upper lid's margin stops."""
LID_COLUMN = 0.0005
"""Metres: the lower lid's edge vertices this much farther sideways from the upper margin than
the nearest one still stand in its column (`lid_margins`)."""
MARGIN_DEGREES = 4.0
"""Degrees of lid above the upper margin found that come all the way down with it."""


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True)
class EyeRig:
    """One eye: centre (3,), radius (m), eyeball vertex indices, and the lid vertices with the
    angle (radians) each turns down by, and how much farther out it moves, at a full blink."""

    centre: np.ndarray
    radius: float
    eyeball: np.ndarray
    lid: np.ndarray
    lid_turn: np.ndarray
    opening: tuple[float, float]  # degrees (lower margin, upper margin) at the centre column
    lid_stretch: np.ndarray  # (n,) relative change of each lid vertex's distance from the centre at a full blink


@dataclass(frozen=True)
class LifeRig:
    """Everything `displace` needs for one head (model frame, metres, upright: y up)."""

    axes: np.ndarray  # (3, 3) rows: x towards the head's left, y up, z forward
    scale: float
    eyes: tuple[EyeRig, EyeRig]  # left, right
    brows: np.ndarray  # (V, 3, 3) displacement per brow channel at value 1
    head_weight: np.ndarray  # (V,) 1 = moves with the head, 0 = still (shoulders)
    pivot: np.ndarray  # (3,)

    @classmethod
    def of(cls, head: Head) -> "LifeRig":
        """The rig of `head` (neutral, upright in the model frame, with landmarks; a mesh or a point cloud)."""
        lm = head.landmarks
        scale = face_frame(head).scale
        x = lm.eye_left - lm.eye_right
        x /= np.linalg.norm(x)
        # Up: the frame's own (heads reach the rig upright, in the model frame), across the eyes'
        # line; the mouth-to-eyes direction leans back by ~20° (the eyes sit deeper than the lips).
        y = np.array([0.0, 1.0, 0.0])
        if (0.5 * (lm.eye_left + lm.eye_right) - lm.mouth_centre) @ y < 0:
            y = -y
        y -= (y @ x) * x
        y /= np.linalg.norm(y)
        axes = np.stack([x, y, np.cross(x, y)])
        verts = np.asarray(head.verts, dtype=np.float64)
        eyeball = np.zeros(len(verts), bool) if head.parts is None else head.parts == PARTS["eyeball"]
        eyes = tuple(_eye(verts, eyeball, landmark, axes, scale, head.faces)
                     for landmark in (lm.eye_left, lm.eye_right))
        brows = _brows(verts, eyeball, eyes, axes, scale)
        hinge = 0.5 * (lm.jaw_hinge_left + lm.jaw_hinge_right)
        pivot = hinge + axes.T @ np.array([0.0, -0.01, -0.015]) * scale
        height = (verts - lm.chin) @ axes[1]
        weight = _smoothstep((height + 0.06 * scale) / (0.05 * scale))
        return cls(axes, scale, eyes, brows, weight, pivot)

    def displace(self, verts: np.ndarray, motion: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Speech motion (t, V, 3) of the neutral `verts` (V, 3) with life `values` (t, C) added
        (C = `LIFE_CHANNELS`, in their units); returns the new motion (t, V, 3)."""
        values = np.asarray(values, dtype=np.float64)
        column = {name: values[:, i] for i, name in enumerate(LIFE_CHANNELS)}
        out = np.array(motion, dtype=np.float64)
        brow = np.stack([column["brow_inner_up"], column["brow_outer_up"], column["brow_down"]], axis=1)
        if np.any(brow):
            out += np.einsum("tb,vbc->tvc", brow, self.brows)
            for eye, blink in zip(self.eyes, (column["blink_left"], column["blink_right"])):
                # A closing lid leaves the brows behind: the brows' pull on the lid fades with the
                # blink, most at the margin (which turns most), so a raised brow cannot hold the eye open.
                if len(eye.lid) and np.any(blink):
                    share = eye.lid_turn / max(float(eye.lid_turn.max()), 1e-12)
                    out[:, eye.lid] -= (blink[:, None] * share[None])[..., None] * np.einsum(
                        "tb,vbc->tvc", brow, self.brows[eye.lid])
        for eye, blink in zip(self.eyes, (column["blink_left"], column["blink_right"])):
            if len(eye.lid) and np.any(blink):
                points = verts[eye.lid]
                turned = points + self._turn(points, eye.centre, blink[:, None] * eye.lid_turn[None], 0)
                turned = eye.centre + (turned - eye.centre) * (1.0 + blink[:, None, None] * eye.lid_stretch[None, :, None])
                out[:, eye.lid] += turned - points
            if len(eye.eyeball) and (np.any(column["eye_yaw"]) or np.any(column["eye_pitch"])):
                out[:, eye.eyeball] = self._eye_turn(verts[eye.eyeball], eye.centre, column["eye_yaw"],
                                                     column["eye_pitch"])
        angles = np.radians(np.stack([column["head_pitch"], column["head_yaw"], column["head_roll"]], axis=1))
        shift = 0.001 * self.scale * np.stack([column["head_x"], column["head_y"], column["head_z"]], axis=1)
        if np.any(angles) or np.any(shift):
            rotations = self._rotations(angles)  # (t, 3, 3) in the model frame
            points = verts[None] + out
            moved = np.einsum("tij,tvj->tvi", rotations, points - self.pivot) + self.pivot + (shift @ self.axes)[:, None]
            out += self.head_weight[None, :, None] * (moved - points)
        return out.astype(np.asarray(motion).dtype)

    def steady(self, frames: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Frames (t, V, 3) with the head's rigid motion of life `values` (t, C) taken back out:
        the face as a camera riding on the head sees it (where the head weight is 1; to measure
        the mouth, not to show)."""
        column = {name: np.asarray(values, dtype=np.float64)[:, i] for i, name in enumerate(LIFE_CHANNELS)}
        angles = np.radians(np.stack([column["head_pitch"], column["head_yaw"], column["head_roll"]], axis=1))
        shift = 0.001 * self.scale * np.stack([column["head_x"], column["head_y"], column["head_z"]], axis=1)
        rotations = self._rotations(angles)
        centred = np.asarray(frames, dtype=np.float64) - self.pivot - (shift @ self.axes)[:, None]
        return np.einsum("tji,tvj->tvi", rotations, centred) + self.pivot

    def _turn(self, points: np.ndarray, centre: np.ndarray, angle: np.ndarray, axis: int) -> np.ndarray:
        """Displacements (t, n, 3) turning `points` (n, 3) about the face axis `axis` through
        `centre` by `angle` (t, n) radians (right-handed: about x, the front turns down)."""
        local = (points - centre) @ self.axes.T
        a, b = [(1, 2), (2, 0), (0, 1)][axis]
        cos, sin = np.cos(angle), np.sin(angle)
        turned = np.broadcast_to(local, angle.shape + (3,)).copy()
        turned[..., a] = cos * local[:, a] - sin * local[:, b]
        turned[..., b] = sin * local[:, a] + cos * local[:, b]
        return (turned - local) @ self.axes

    def _eye_turn(self, points: np.ndarray, centre: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
        """Displacements (t, n, 3) of an eyeball turned up by `pitch`, then left by `yaw` (degrees)."""
        up = self._turn(points, centre, -np.radians(pitch)[:, None] * np.ones(len(points)), 0)
        local = (points[None] + up - centre) @ self.axes.T
        angle = np.radians(yaw)[:, None]
        cos, sin = np.cos(angle), np.sin(angle)
        turned = local.copy()
        turned[..., 2] = cos * local[..., 2] - sin * local[..., 0]
        turned[..., 0] = sin * local[..., 2] + cos * local[..., 0]
        return turned @ self.axes + centre - points[None]

    def _rotations(self, angles: np.ndarray) -> np.ndarray:
        """(t, 3, 3) model-frame rotations from (pitch, yaw, roll) radians about the face's axes:
        pitch + turns the chin down, yaw + the face to its left, roll + its top to its right."""
        def about(axis: int, angle: np.ndarray) -> np.ndarray:
            a, b = [(1, 2), (2, 0), (0, 1)][axis]
            matrix = np.zeros((len(angle), 3, 3))
            matrix[:, axis, axis] = 1.0
            matrix[:, a, a] = matrix[:, b, b] = np.cos(angle)
            matrix[:, a, b], matrix[:, b, a] = -np.sin(angle), np.sin(angle)
            return matrix

        pitch, yaw, roll = angles.T
        local = about(2, roll) @ about(1, yaw) @ about(0, pitch)
        return np.einsum("ki,tkl,lj->tij", self.axes, local, self.axes)


def _fit_sphere(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares sphere (centre, radius) through `points` (n ≥ 4, 3)."""
    system = np.column_stack([2.0 * points, np.ones(len(points))])
    solution = np.linalg.lstsq(system, (points**2).sum(axis=1), rcond=None)[0]
    centre = solution[:3]
    return centre, float(np.sqrt(max(solution[3] + centre @ centre, 1e-12)))


def _eye(verts: np.ndarray, eyeball: np.ndarray, landmark: np.ndarray, axes: np.ndarray, scale: float,
         faces: np.ndarray | None = None) -> EyeRig:
    """The rig of the eye nearest `landmark` (`faces` of the mesh, None for a point cloud)."""
    ball = np.flatnonzero(eyeball & (np.linalg.norm(verts - landmark, axis=1) < 0.025 * scale))
    centre, radius = landmark.copy(), EYE_RADIUS * scale
    if len(ball) >= 8:
        centre, radius = _fit_sphere(verts[ball])
    skin = ~eyeball
    local = (verts - centre) @ axes.T
    distance = np.linalg.norm(local, axis=1)
    theta = np.degrees(np.arctan2(local[:, 1], local[:, 2]))
    # Where the vertices show no opening, around a fitted eyeball the surface itself is sliced,
    # column by column: on a coarse meshing (4-6 mm) the vertices leave gaps as wide as the opening.
    triangles = None
    if len(ball) and faces is not None and len(faces):
        skin_faces = faces[skin[faces].all(axis=1)]
        triangles = local[skin_faces]
    found = _opening(local, theta, distance, skin, radius, scale)
    found = found or (triangles is not None and _opening(local, theta, distance, skin, radius, scale, triangles))
    found = found or _anatomical_opening(radius)
    opening, (first, last) = found
    # The lids span the opening found from corner to corner, fading out a quarter radius beyond.
    fade = 0.25 * radius
    near = (skin & (local[:, 2] > -0.3 * radius) & (local[:, 0] > first - fade) & (local[:, 0] < last + fade)
            & (distance < radius + LID_REACH * scale))
    lid = np.flatnonzero(near)
    across = local[lid, 0]
    low, high, deeper = opening(local[lid, 0]).T
    close = low + CLOSED_MARGIN * (high > low + 2.0 * CLOSED_MARGIN)
    t = theta[lid]
    # Above the margin the lid follows, less and less, over an arc as wide as the way down.
    # The margin itself (a few degrees of it: its vertices straddle the margin found) comes down
    # onto the lower lid.
    edge = high + MARGIN_DEGREES
    span = np.maximum(40.0, 1.2 * (edge - close))
    shift = np.where(t <= edge, t - close, (edge - close) * _smoothstep((edge + 10.0 + span - t) / span))
    shift = np.where(t > close, np.maximum(shift, 0.0), 0.0)
    weight = _smoothstep((across - first + fade) / fade) * _smoothstep((last + fade - across) / fade)
    weight *= _smoothstep((local[lid, 2] + 0.3 * radius) / (0.5 * radius))
    weight *= _smoothstep((radius + LID_REACH * scale - distance[lid]) / (0.5 * LID_REACH * scale))
    turn = np.radians(shift) * weight
    # The upper margin also meets the lower one in depth (it may lie nearer the eye centre):
    # fully at the margin, fading out over the lid above it; never nearer the centre than the eyeball.
    reach = np.where(t > close, _smoothstep((high + 5.0 + 0.5 * span - t) / (0.5 * span)), 0.0) * weight
    stretch = deeper * reach
    if len(ball):  # never nearer the centre than the eyeball's surface
        stretch = np.maximum(stretch, radius + 0.0005 * scale - distance[lid])
    stretch = stretch / distance[lid]
    stretch = np.where(shift > 0, stretch, 0.0)
    keep = turn > 1e-6
    return EyeRig(centre, radius, ball, lid[keep], turn[keep], tuple(float(v) for v in opening(0.0)[0, :2]),
                  stretch[keep])


def _opening(local: np.ndarray, theta: np.ndarray, distance: np.ndarray, skin: np.ndarray, radius: float,
             scale: float, triangles: np.ndarray | None = None):
    """opening(x) → (n, 3): at each position x (n,) across the eye (metres), the lower and the
    upper lid's margin in degrees seen from the eye centre, and how much farther from the centre
    the lower margin lies than the upper (metres), read from the surface around x: from the skin
    `triangles` (n, 3, 3) in the eye's frame where given, else from the skin vertices near x; and
    the opening's extent (first, last) across the eye. None where the surface shows no opening
    reaching across the eye's middle."""
    from scipy.spatial import cKDTree

    front = np.flatnonzero(skin & (local[:, 2] > 0.0) & (distance < radius + 0.008 * scale)
                           & (np.abs(local[:, 0]) < 1.4 * radius))
    spacing = 0.0
    if len(front) > 1:
        spacing = float(np.median(cKDTree(local[front]).query(local[front], k=2)[0][:, 1]))
    window = max(0.0012 * scale, 2.0 * spacing)
    xs, angles, radii = local[front, 0], theta[front], distance[front]

    def gap_at(x: float) -> tuple[float, float, float, float] | None:
        """(lower angle, upper angle, lower radius, upper radius) of the opening at x, or None."""
        if triangles is not None:
            found = _widest_gap_in_slice(triangles, x, radius + 0.008 * scale)
            if found is None:
                return None
            low, high, far_low, far_high = found
        else:
            chosen = (np.abs(xs - x) < window) & (np.abs(angles) < 70.0)
            order = np.argsort(angles[chosen])
            near, far = angles[chosen][order], radii[chosen][order]
            if len(near) < 2:
                return None
            widest = int(np.argmax(np.diff(near)))
            low, high, far_low, far_high = near[widest], near[widest + 1], far[widest], far[widest + 1]
        # An eye's opening: at least a few degrees, at most a wide-open eye's, around the horizon.
        if 6.0 < high - low < 80.0 and -55.0 < low < 10.0 and -10.0 < high < 50.0:
            return float(low), float(high), float(far_low), float(far_high)
        return None

    columns = np.linspace(-1.2 * radius, 1.2 * radius, 25)
    gaps = [gap_at(float(x)) for x in columns]
    middle = len(columns) // 2
    centre = next((gaps[i] for i in (middle, middle - 1, middle + 1) if gaps[i] is not None), None)
    if centre is not None:
        # Towards the eye's corners the opening narrows: a wider gap there is other skin (a temple).
        widest = 1.2 * (centre[1] - centre[0]) + 5.0
        gaps = [gap if gap is not None and gap[1] - gap[0] <= widest else None for gap in gaps]
    if all(gaps[i] is None for i in range(middle - 1, middle + 2)):  # no opening at the eye's middle
        return None
    table, (first, last) = _opening_table(gaps, middle)
    # Counted in columns (0.1 radius apart): as distances, an opening reaching exactly 0.4
    # radius could fall short by a rounding error.
    if min(middle - first, last - middle) < OPENING_REACH_COLUMNS:
        return None  # an opening on one side of the eye only is not an eye's (skin folds of a scan with closed eyes)
    return _interpolated(columns, table), (float(columns[first]), float(columns[last]))


def _anatomical_opening(radius: float):
    """`_opening`'s answer for an eye whose surface shows no opening: `DEFAULT_OPENING` at the
    middle, narrowing to the corners 1.1 radius to either side."""
    columns = np.linspace(-1.2 * radius, 1.2 * radius, 25)
    taper = np.sqrt(np.clip(1.0 - (columns / (1.1 * radius)) ** 2, 0.0, 1.0))
    table = np.stack([DEFAULT_OPENING[0] * taper, DEFAULT_OPENING[1] * taper, np.zeros_like(taper)], axis=1)
    return _interpolated(columns, table), (-1.1 * radius, 1.1 * radius)


def _interpolated(columns: np.ndarray, table: np.ndarray):
    """x (n,) → (n, 3): `table`'s rows (one per column) interpolated at positions x across the eye."""
    def opening(x):
        return np.stack([np.interp(np.atleast_1d(x), columns, table[:, k]) for k in range(3)], axis=1)

    return opening


def _widest_gap_in_slice(triangles: np.ndarray, x: float, reach: float) -> tuple[float, float, float, float] | None:
    """Where the plane at `x` across the eye cuts the skin `triangles` (n, 3, 3), in the eye's
    frame: the widest band of angles (seen from the eye's axis, within ±70° of straight ahead)
    that no cut within `reach` of the centre covers, between two that do; (lower angle, upper
    angle, lower radius, upper radius) of its edges, or None where there is no such band."""
    side = triangles[:, :, 0] - x
    segments = []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        crosses = side[:, a] * side[:, b] < 0.0
        t = np.where(crosses, side[:, a] / np.where(crosses, side[:, a] - side[:, b], 1.0), 0.0)
        point = triangles[:, a, 1:] + t[:, None] * (triangles[:, b, 1:] - triangles[:, a, 1:])
        segments.append(np.where(crosses[:, None], point, np.nan))
    # A triangle the plane crosses is cut along the segment between its two crossed edges.
    points = np.stack(segments, axis=1)  # (n, 3 edges, 2): (up, forward) where crossed
    crossed = ~np.isnan(points[:, :, 0])
    cut = crossed.sum(axis=1) == 2
    ends = points[cut][crossed[cut]].reshape(-1, 2, 2)
    angle = np.degrees(np.arctan2(ends[..., 0], ends[..., 1]))
    far = np.linalg.norm(ends, axis=2)
    keep = (far.min(axis=1) < reach) & (ends[..., 1] > 0.0).all(axis=1) & (np.abs(angle) < 70.0).any(axis=1)
    if not keep.any():
        return None
    angle, far = angle[keep], far[keep]
    order = np.argsort(angle, axis=1)
    angle, far = np.take_along_axis(angle, order, 1), np.take_along_axis(far, order, 1)
    intervals = angle[np.argsort(angle[:, 0])]
    radii = far[np.argsort(angle[:, 0])]
    best, reached, reached_far = None, intervals[0, 1], radii[0, 1]
    for (start, stop), (far_start, far_stop) in zip(intervals[1:], radii[1:]):
        if start > reached and (best is None or start - reached > best[1] - best[0]):
            best = (reached, start, reached_far, far_start)
        if stop > reached:
            reached, reached_far = stop, far_stop
    return None if best is None else tuple(float(v) for v in best)


#: Columns (0.1 eye radius each) an opening must reach on both sides of the eye's middle to be an
#: eye's opening; less is skin folds on one side (a scan with closed eyes).
OPENING_REACH_COLUMNS = 4


def _opening_table(gaps: list, middle: int) -> tuple[np.ndarray, tuple[int, int]]:
    """(n, 3) per column: lower margin, upper margin (degrees), lower-minus-upper radius (m),
    from the openings found (None where none): the run of columns around the middle, short
    misses filled in, closing smoothly to one angle at its ends (the eye's corners), smoothed;
    and the run's first and last column."""
    found = np.array([gap is not None for gap in gaps])
    first = last = middle if found[middle] else next(i for i in (middle - 1, middle + 1) if found[i])
    while first > 0 and found[max(0, first - 3):first].any():  # up to two misses in a row are bridged
        first -= 1
    while last < len(gaps) - 1 and found[last + 1:last + 4].any():
        last += 1
    while not found[first]:
        first += 1
    while not found[last]:
        last -= 1
    index = np.arange(len(gaps))
    inside = found & (index >= first) & (index <= last)
    values = np.array([gap if gap is not None else (np.nan,) * 4 for gap in gaps], dtype=np.float64)
    table = np.zeros((len(gaps), 3))
    for k, column in enumerate((values[:, 0], values[:, 1], values[:, 2] - values[:, 3])):
        table[:, k] = np.interp(index, index[inside], column[inside])
    # Beyond the run the two margins meet, over two columns, at the angle between them.
    meet = 0.5 * (table[:, 0] + table[:, 1])
    fade = np.clip(np.maximum(first - index, index - last) / 2.0, 0.0, 1.0)
    table[:, 0] += fade * (meet - table[:, 0])
    table[:, 1] += fade * (meet - table[:, 1])
    table[:, 2] *= 1.0 - fade
    kernel = np.array([0.25, 0.5, 0.25])
    padded = np.concatenate([table[:1], table, table[-1:]])
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(3)], axis=1), (first, last)


def _brows(verts: np.ndarray, eyeball: np.ndarray, eyes: tuple[EyeRig, EyeRig], axes: np.ndarray,
           scale: float) -> np.ndarray:
    """(V, 3, 3): per vertex, the displacement of brow_inner_up, brow_outer_up, brow_down at 1."""
    basis = np.zeros((len(verts), 3, 3))
    up, inward = axes[1], None
    for eye in eyes:
        local = (verts - eye.centre) @ axes.T
        side = np.sign((eye.centre - 0.5 * (eyes[0].centre + eyes[1].centre)) @ axes[0]) or 1.0
        inward = -side * axes[0]
        above = _smoothstep((local[:, 1] - 0.5 * eye.radius) / (0.6 * eye.radius))
        front = (local[:, 2] > -0.5 * eye.radius) & ~eyeball
        spread = BROW_SPREAD * scale
        for channel, (across, height) in enumerate(((-0.55, 1.5), (0.75, 1.35), (-0.45, 1.4))):
            anchor = np.array([side * across * 1.6 * eye.radius, height * eye.radius])
            gap = ((local[:, 0] - anchor[0]) ** 2 + (local[:, 1] - anchor[1]) ** 2) / (2.0 * spread**2)
            weight = np.exp(-gap) * above * front
            if channel < 2:
                basis[:, channel] += weight[:, None] * (BROW_RAISE * scale) * up
            else:
                basis[:, channel] += weight[:, None] * scale * (-BROW_LOWER * up + BROW_PINCH * inward)
    return basis


def lid_margins(rig: LifeRig, verts: np.ndarray, skin: np.ndarray | None = None) -> list[tuple[int, np.ndarray]]:
    """Per eye (left, right): the upper lid's margin vertex at the middle of the eye — the skin
    vertex in front of the eye centre nearest its opening from above — and the lower lid's margin
    across the opening from it: the vertices of the lower lid's edge in its column (a thick lid's
    inner and outer rims); (-1, empty) when the eye shows no skin there. `lid_gaps` measures how
    far apart the lids are."""
    skin = np.ones(len(verts), bool) if skin is None else skin
    pairs: list[tuple[int, np.ndarray]] = []
    for eye in rig.eyes:
        local = (verts - eye.centre) @ rig.axes.T
        distance = np.linalg.norm(local, axis=1)
        near = skin & (local[:, 2] > 0) & (distance < eye.radius + 0.008 * rig.scale)
        near[eye.eyeball] = False
        theta = np.degrees(np.arctan2(local[:, 1], local[:, 2]))
        low, high = eye.opening
        middle = 0.5 * (low + high)
        # Near the eye's middle; a coarse meshing may have no vertex that near: the nearest column's.
        column = max(0.25 * eye.radius, 1.01 * np.abs(local[near & (theta > middle), 0]).min(initial=np.inf))
        above = np.flatnonzero(near & (theta > middle) & (np.abs(local[:, 0]) < column))
        below = np.flatnonzero(near & (theta <= middle) & (np.abs(local[:, 0]) < column + 0.25 * eye.radius))
        if not len(above) or not len(below):
            pairs.append((-1, np.zeros(0, np.int64)))
            continue
        upper = int(above[np.argmin(np.abs(theta[above] - high) + 30.0 * np.abs(local[above, 0]) / eye.radius)])
        # Across the opening: the lower lid's edge in the upper margin's column.
        edge = below[np.abs(theta[below] - low) < 8.0]
        edge = edge if len(edge) else below
        sideways = np.abs(local[edge, 0] - local[upper, 0])
        pairs.append((upper, edge[sideways <= sideways.min() + LID_COLUMN * rig.scale]))
    return pairs


def lid_gaps(rig: LifeRig, frames: np.ndarray, pairs: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """(T, 2) metres: how far each eye's upper margin is from the nearest vertex of its lower
    margin (`lid_margins`) in frames (T, V, 3), across the opening (in the plane up-forward, not
    counting any sideways offset between the vertices); NaN for an eye without margins."""
    frames = np.asarray(frames, dtype=np.float64)
    gaps = np.full((len(frames), len(pairs)), np.nan)
    for column, (upper, lower) in enumerate(pairs):
        if upper >= 0:
            apart = (frames[:, upper, None] - frames[:, lower]) @ rig.axes[1:].T
            gaps[:, column] = np.linalg.norm(apart, axis=2).min(axis=1)
    return gaps
