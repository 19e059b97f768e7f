"""The mouth slit of a face, read from its own surface: which vertices belong to which lip.

A viewer sees the lips part only if the upper lip's vertices stay with the upper lip and the lower
lip's go with the jaw. Landmarks found by a network can sit millimetres off the slit, and a cut at
a height estimated from them leaves part of one lip on the wrong side, which seals the mouth. The
surface knows better: on a registered template, a capture or a game head the two lips are
separate surfaces, joined only at the corners (an open slit, a hole) or through a mouth cavity
behind them. Walking on the surface from a point on the philtrum and from a point on the chin,
every vertex of the upper lip is much nearer the first and every vertex of the lower lip much
nearer the second, however close the lips are in space. Where the two walks are about equal
near the front of the lips, one surface runs across them: the lips are fused (a scan), reported
as such, and `cut_slit` can open them along the lip line.

    slit = mouth_slit(head)            # MouthSlit: kind, side (V,), the slit's edges and rest gap
    slit.kind                          # "open", "fused" or "points" (a point cloud)
    verts, faces, source = cut_slit(verts, faces, landmarks)   # fused lips opened along the lip line
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.sparse.csgraph import dijkstra

from scantalk.face.frame import FaceFrame, face_frame
from scantalk.face.head import FaceLandmarks, Head
from scantalk.geometry.topology import boundary_edges, edge_graph, split_along, surface_path

# How much further (metres, at a head of standard size) one walk must be than the straight
# height difference before the surface, not the height, decides a vertex's lip.
TOPOLOGY_MARGIN = 0.003
# The walks reach this far (metres, standard size) from their seeds; beyond, nothing is decided.
WALK_LIMIT = 0.09
# Lips are fused when a surface edge joins the two sides this close (metres) to the lip line,
# in front, near the midline.
FUSED_BAND = 0.003
# Metres (standard size) the philtrum seed may stand in front of the upper lip's midpoint.
PHILTRUM_DEPTH = 0.006
# A hole at the mouth is looked for within this many found half-widths of the midline.
HOLE_SEARCH_WIDTH = 1.8


@dataclass(frozen=True)
class MouthSlit:
    """The mouth slit of one face (all lengths metres, in the face's frame).

    kind: "open" (the lips are separate surfaces: a slit or a mouth cavity between them),
    "fused" (one surface runs across the lips: a scan; the rig splits them at the lip line and
    the skin stretches) or "points" (a point cloud: no surface to walk on) · side (V,): +1 the
    surface puts the vertex on the upper lip's side, −1 the lower's, 0 undecided (far from the
    mouth, or the surface gives no evidence there) · upper_edge / lower_edge: the vertices that
    line the slit on each side near the midline (empty when not "open") · line (K, 3): points
    along the slit from corner to corner, used for its height · rest_gap: the lips' distance at
    the midline at rest (0 when they touch) · gap_profile (K, 2): (x across the face, the lips'
    rest gap there), both metres in the face frame, from corner to corner (empty: unknown) ·
    corners (2, 3): the slit's two ends (right, left) where the surface shows them (the rim of a
    hole at the mouth, or where the two lips' separate surfaces join), else None.
    """

    kind: str
    side: np.ndarray
    upper_edge: np.ndarray
    lower_edge: np.ndarray
    line: np.ndarray
    rest_gap: float
    gap_profile: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    corners: np.ndarray | None = None

    def describe(self) -> dict:
        """A summary for `meta.json` and `landmarks.json`."""
        return {"kind": self.kind, "rest_gap_mm": round(1000.0 * self.rest_gap, 2),
                "upper_edge_vertices": int(len(self.upper_edge)), "lower_edge_vertices": int(len(self.lower_edge))}


def _seed(points: np.ndarray, target: np.ndarray, allowed: np.ndarray) -> int:
    index = np.flatnonzero(allowed)
    if index.size == 0:
        index = np.arange(len(points))
    return int(index[np.argmin(np.linalg.norm(points[index] - target, axis=1))])


def mouth_slit(head: Head, frame: FaceFrame | None = None) -> MouthSlit:
    """The mouth slit of `head`, found from its surface around its landmarks.

    Args:
        head: a neutral face with landmarks (mouth corners, lip midlines, chin, nose tip); a mesh
            or a point cloud.
        frame: its `FaceFrame` (`scantalk.face.frame.face_frame`), computed when None.

    Returns:
        The `MouthSlit`; `side` has one entry per vertex of `head`.
    """
    frame = frame or face_frame(head)
    lm = head.landmarks
    count = head.num_vertices
    scale = frame.scale
    local = frame.local(head.verts)
    marks = frame.local(lm.as_array())
    half_width = 0.5 * (marks[0, 0] - marks[1, 0])
    lip_front = 0.5 * (marks[2, 2] + marks[3, 2])
    middle_y = 0.5 * (marks[2, 1] + marks[3, 1])
    undecided = np.zeros(count, dtype=np.int8)
    empty = np.zeros(0, dtype=np.int64)
    fallback_line = np.stack([lm.mouth_right, 0.5 * (lm.upper_lip + lm.lower_lip), lm.mouth_left])
    if head.faces is None or len(head.faces) == 0:
        return MouthSlit("points", undecided, empty, empty, fallback_line, _gap_by_height(local, marks, half_width))

    graph, edges = edge_graph(head.verts, np.asarray(head.faces))
    front = local[:, 2] > lip_front - 0.02 * scale
    midline = np.abs(local[:, 0]) < 0.25 * half_width
    # Seeds on the midline: the philtrum, halfway up to the nose (on the face, not on a nose that
    # juts out over the lips), and the chin's front below the lower lip.
    philtrum = lm.mouth_centre + 0.5 * (lm.nose_tip - lm.mouth_centre)
    below_lip = 0.5 * (lm.lower_lip + lm.chin)
    above = front & midline & (local[:, 1] > marks[2, 1] + 0.003 * scale)
    on_face = above & (local[:, 2] < marks[2, 2] + PHILTRUM_DEPTH * scale)
    seeds = [_seed(head.verts, philtrum, on_face if on_face.any() else above),
             _seed(head.verts, below_lip, front & midline & (local[:, 1] < marks[3, 1] - 0.003 * scale))]
    walks = dijkstra(graph, directed=False, indices=seeds, limit=WALK_LIMIT * scale)
    reached = np.isfinite(walks).all(axis=0)
    evidence = np.zeros(count)
    evidence[reached] = 0.5 * (walks[1, reached] - walks[0, reached])  # > 0: nearer the upper seed
    height = local[:, 1] - middle_y
    decided = reached & (np.abs(evidence) > np.abs(height) + TOPOLOGY_MARGIN * scale)
    side = np.where(decided, np.sign(evidence), 0).astype(np.int8)

    near_mouth = (np.abs(local[:, 0]) < 1.1 * half_width) & (np.abs(height) < 0.012 * scale) & front
    centre_band = near_mouth & (np.abs(local[:, 0]) < 0.4 * half_width)
    # Only the lips' front can fuse them: a mouth open at rest shows its inside, one surface
    # from the upper lip round to the lower, far behind.
    lips_front = centre_band & (local[:, 2] > lip_front - 0.006 * scale)
    # Fused: a surface edge in front, near the midline, joins a vertex nearer the upper seed to
    # one nearer the lower seed across the lip line.
    a, b = edges[:, 0], edges[:, 1]
    crossing = (lips_front[a] & lips_front[b] & reached[a] & reached[b]
                & (np.sign(evidence[a]) != np.sign(evidence[b]))
                & (np.abs(evidence[a]) < FUSED_BAND * scale) & (np.abs(evidence[b]) < FUSED_BAND * scale))
    open_mid = centre_band & decided
    if crossing.any() or not (open_mid & (side > 0)).any() or not (open_mid & (side < 0)).any():
        line = _fused_line(head.verts, local, evidence, near_mouth & reached, half_width, scale)
        # One surface across the lips: the walks are about equal there and say nothing; the
        # height against the lip line splits the lips.
        return MouthSlit("fused", undecided, empty, empty, line if line is not None else fallback_line, 0.0)

    # A hole's rim is looked for wider than the found corners: on a mouth wider than the finder
    # thought, the rim must still close into a loop.
    rim_region = (np.abs(local[:, 0]) < HOLE_SEARCH_WIDTH * half_width) & (np.abs(height) < 0.012 * scale) & front
    chains = _boundary_chains(np.asarray(head.faces), local, rim_region, half_width)
    if chains is not None:
        # A hole: its rim is the slit, each chain a lip's edge, meeting at the corners.
        upper_chain, lower_chain = chains
        side = side.copy()
        side[upper_chain[1:-1]], side[lower_chain[1:-1]] = 1, -1
        line = _chain_line(head.verts, local, upper_chain, lower_chain)
        mid_upper = upper_chain[np.abs(local[upper_chain, 0]) < 0.5 * half_width]
        mid_lower = lower_chain[np.abs(local[lower_chain, 0]) < 0.5 * half_width]
        gap = _gap_by_side(local, side, midline & near_mouth)
        corners = head.verts[[upper_chain[0], upper_chain[-1]]]
        return MouthSlit("open", side, mid_upper, mid_lower, line, gap, _profile(local, upper_chain, lower_chain),
                         corners)
    lips_band = near_mouth & (local[:, 2] > lip_front - 0.008 * scale)
    upper_edge, lower_edge = _edges(local, side, lips_band, half_width)
    line = _open_line(local, head.verts, side, lips_band, half_width)
    gap = _gap_by_side(local, side, midline & lips_band)
    slit_region = reached & front & (np.abs(height) < 0.015 * scale) & (np.abs(local[:, 0]) < 2 * half_width)
    return MouthSlit("open", side, upper_edge, lower_edge, line if line is not None else fallback_line, gap,
                     _profile(local, upper_edge, lower_edge), _slit_ends(head.verts, local, evidence, slit_region, scale))


# Metres (standard size): two points face each other across the slit when the surface's way
# from one to the other is this much longer than the straight line (around a corner, or
# through the mouth), which no stretch of continuous skin allows.
SLIT_DETOUR = 0.002
# Metres (standard size): the farthest apart two points facing each other across the slit may
# be (the widest neutral gap measured, 10 mm, with a margin).
SLIT_REACH = 0.012
# Metres (standard size): the slit is followed outward from the middle until this long a stretch
# shows no facing points.
SLIT_BREAK = 0.002


def _slit_ends(verts: np.ndarray, local: np.ndarray, evidence: np.ndarray, region: np.ndarray,
               scale: float) -> np.ndarray | None:
    """The two ends (right, left) of a slit whose lips are separate surfaces joined at the
    corners, or None when none shows.

    Points on the upper side (`evidence` > 0: nearer the philtrum's walk) and on the lower side
    that face each other across the slit are far apart over the surface (the way goes round a
    corner or through the mouth) but near in space. Their pairs span the slit from corner to
    corner whatever the mouth's width, so the slit's ends are where the pairs stop, followed
    outward from the middle.
    """
    from scipy.spatial import cKDTree

    upper, lower = np.flatnonzero(region & (evidence > 0)), np.flatnonzero(region & (evidence < 0))
    if upper.size == 0 or lower.size == 0:
        return None
    pairs = cKDTree(local[upper]).sparse_distance_matrix(cKDTree(local[lower]), SLIT_REACH * scale, output_type="coo_matrix")
    a, b = upper[pairs.row], lower[pairs.col]
    facing = evidence[a] - evidence[b] - pairs.data > SLIT_DETOUR * scale
    if not facing.any():
        return None
    middles = 0.5 * (verts[a[facing]] + verts[b[facing]])
    across = 0.5 * (local[a[facing], 0] + local[b[facing], 0])
    step = 0.5 * SLIT_BREAK * scale
    ends = []
    for sign in (-1.0, 1.0):
        reach = np.sort(sign * across)
        reach = reach[reach >= 0]
        if reach.size == 0 or reach[0] > SLIT_BREAK * scale:
            return None
        breaks = np.flatnonzero(np.diff(reach) > SLIT_BREAK * scale)
        last = reach[breaks[0]] if breaks.size else reach[-1]
        end = (sign * across <= last) & (sign * across >= last - step)
        ends.append(middles[end].mean(axis=0))
    return np.stack(ends)


def _boundary_chains(faces: np.ndarray, local: np.ndarray, near_mouth: np.ndarray,
                     half_width: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The rim of a hole at the mouth as two vertex chains, (upper, lower), each from the right
    corner to the left (the corners shared), or None when no such hole is there."""
    rim = boundary_edges(faces)
    rim = rim[near_mouth[rim].all(axis=1)]
    if len(rim) < 6:
        return None
    neighbours: dict[int, list[int]] = {}
    for a, b in rim:
        neighbours.setdefault(int(a), []).append(int(b))
        neighbours.setdefault(int(b), []).append(int(a))
    best = None
    seen: set[int] = set()
    for start in neighbours:
        if start in seen or len(neighbours[start]) != 2:
            continue
        loop, previous, current = [start], None, start
        while True:
            following = [n for n in neighbours[current] if n != previous]
            if len(neighbours[current]) != 2 or not following:
                loop = None
                break
            previous, current = current, following[0]
            if current == start:
                break
            loop.append(current)
        seen.update(loop or [start])
        if loop is None or len(loop) < 6:
            continue
        loop = np.asarray(loop)
        span = np.ptp(local[loop, 0])
        if span > 0.8 * half_width and (best is None or span > np.ptp(local[best, 0])):
            best = loop
    if best is None:
        return None
    right, left = int(np.argmin(local[best, 0])), int(np.argmax(local[best, 0]))
    rolled = np.roll(best, -right)
    cut = (left - right) % len(best)
    one, other = rolled[:cut + 1], np.concatenate([rolled[cut:], rolled[:1]])[::-1]
    if local[one, 1].mean() < local[other, 1].mean():
        one, other = other, one
    return one, other


def _profile(local: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """(K, 2): (x, the gap between the two edges at x, >= 0) sampled across the slit."""
    if len(upper) < 2 or len(lower) < 2:
        return np.zeros((0, 2))
    low = max(local[upper, 0].min(), local[lower, 0].min())
    high = min(local[upper, 0].max(), local[lower, 0].max())
    xs = np.linspace(low, high, 21)
    heights = []
    for edge in (upper, lower):
        order = np.argsort(local[edge, 0])
        heights.append(np.interp(xs, local[edge[order], 0], local[edge[order], 1]))
    gaps = np.clip(heights[0] - heights[1], 0.0, 0.03)
    # An edge vertex picked off the lip line (a fold, the mouth's inside) is a spike: a median of
    # three removes it, and no column is wider than the middle of the mouth, where lips part most.
    gaps = np.median(np.stack([np.roll(gaps, 1), gaps, np.roll(gaps, -1)]), axis=0)
    gaps[[0, -1]] = np.minimum(gaps[[0, -1]], gaps[[1, -2]])
    middle = np.median(gaps[np.abs(xs) <= np.quantile(np.abs(xs), 0.3)])
    return np.stack([xs, np.minimum(gaps, 1.15 * middle)], axis=1)


def _chain_line(verts: np.ndarray, local: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Points (K, 3) midway between a hole's upper and lower rim, from corner to corner."""
    xs = np.linspace(local[upper[0], 0], local[upper[-1], 0], 21)
    points = []
    for x in xs:
        pair = []
        for chain in (upper, lower):
            order = np.argsort(local[chain, 0])
            pair.append([np.interp(x, local[chain[order], 0], verts[chain[order], axis]) for axis in range(3)])
        points.append(0.5 * (np.asarray(pair[0]) + np.asarray(pair[1])))
    return np.asarray(points)


def _edges(local: np.ndarray, side: np.ndarray, near_mouth: np.ndarray, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertices lining a slit that is not a hole (lips touching, a mouth cavity behind): per
    column, the lowest vertex of the upper side and the highest of the lower side."""
    edges_up, edges_down = [], []
    columns = np.linspace(-0.8 * half_width, 0.8 * half_width, 17)
    step = columns[1] - columns[0]
    for x in columns:
        column = near_mouth & (np.abs(local[:, 0] - x) < 0.6 * step)
        up, down = np.flatnonzero(column & (side > 0)), np.flatnonzero(column & (side < 0))
        if up.size and down.size:
            edges_up.append(int(up[np.argmin(local[up, 1])]))
            edges_down.append(int(down[np.argmax(local[down, 1])]))
    return np.unique(np.asarray(edges_up, dtype=np.int64)), np.unique(np.asarray(edges_down, dtype=np.int64))


def _open_line(local: np.ndarray, verts: np.ndarray, side: np.ndarray, near_mouth: np.ndarray,
               half_width: float) -> np.ndarray | None:
    """Points (K, 3) along an open slit: per column, midway between the two lips' facing edges."""
    points = []
    for x in np.linspace(-0.9 * half_width, 0.9 * half_width, 19):
        column = near_mouth & (np.abs(local[:, 0] - x) < 0.08 * half_width)
        up, down = np.flatnonzero(column & (side > 0)), np.flatnonzero(column & (side < 0))
        if up.size and down.size:
            points.append(0.5 * (verts[up[np.argmin(local[up, 1])]] + verts[down[np.argmax(local[down, 1])]]))
    return np.asarray(points) if len(points) >= 3 else None


def _fused_line(verts: np.ndarray, local: np.ndarray, evidence: np.ndarray, near: np.ndarray,
                half_width: float, scale: float) -> np.ndarray | None:
    """Points (K, 3) along fused lips' crease: per column, the deepest front point near the line
    where the two walks are equal (the lip line lies in a valley between the lips' bulges)."""
    points = []
    for x in np.linspace(-0.9 * half_width, 0.9 * half_width, 19):
        column = np.flatnonzero(near & (np.abs(local[:, 0] - x) < 0.08 * half_width) & (np.abs(evidence) < 0.004 * scale))
        if column.size:
            points.append(verts[column[np.argmin(local[column, 2])]])
    return np.asarray(points) if len(points) >= 3 else None


def _gap_by_side(local: np.ndarray, side: np.ndarray, band: np.ndarray) -> float:
    """The lips' rest gap at the midline (metres): lowest upper-lip point minus highest lower-lip point."""
    up, down = np.flatnonzero(band & (side > 0)), np.flatnonzero(band & (side < 0))
    if up.size == 0 or down.size == 0:
        return 0.0
    return float(np.clip(local[up, 1].min() - local[down, 1].max(), 0.0, 0.03))


def _gap_by_height(local: np.ndarray, marks: np.ndarray, half_width: float) -> float:
    """The rest gap of a point cloud: the widest empty band across the midline between the lip landmarks."""
    lip_front = 0.5 * (marks[2, 2] + marks[3, 2])
    strip = local[(np.abs(local[:, 0]) < 0.15 * half_width) & (local[:, 2] > lip_front - 0.008)
                  & (local[:, 1] < marks[2, 1]) & (local[:, 1] > marks[3, 1]), 1]
    if strip.size < 2:
        return 0.0
    heights = np.sort(np.concatenate([strip, [marks[2, 1], marks[3, 1]]]))
    return float(np.clip(np.diff(heights).max(), 0.0, 0.03)) if np.diff(heights).max() > 0.0015 else 0.0


def cut_slit(verts: np.ndarray, faces: np.ndarray, landmarks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open fused lips along their lip line, so the rig can part them.

    Args:
        verts: (V, 3) the face (any units and frame); faces: (F, 3).
        landmarks: its `FaceLandmarks` in the same coordinates (e.g. the points of the
            `landmarks.json` an animation saved, `FaceLandmarks.from_array`).

    Returns:
        (verts (V', 3), faces (F, 3), source (V',)): the cut face, whose lips are separate
        surfaces joined at the corners, and for each of its vertices the index of the input
        vertex it copies (V' = V + the cut's interior vertices). The two sides of the cut are
        moved `CUT_GAP` apart at the middle (tapering to the corners), so loading the mesh again
        does not merge them back into one vertex. Lips that are already apart come back unchanged.
    """
    verts, faces = np.asarray(verts, dtype=np.float64), np.asarray(faces, dtype=np.int64)
    head = Head(verts, faces, landmarks, "cut")
    frame = face_frame(head)
    slit = mouth_slit(head, frame)
    if slit.kind != "fused":
        return verts, faces, np.arange(len(verts))
    order = np.argsort(frame.local(slit.line)[:, 0])
    waypoints = np.concatenate([landmarks.mouth_right[None], slit.line[order], landmarks.mouth_left[None]])
    path = surface_path(verts, faces, waypoints)
    _, first = np.unique(path, return_index=True)
    path = path[np.sort(first)]  # a path that crosses itself keeps its first visit of each vertex
    cut_verts, cut_faces, _, _ = split_along(verts, faces, path, frame.axes[1], CUT_GAP * frame.scale)
    return cut_verts, cut_faces, np.concatenate([np.arange(len(verts)), path[1:-1]])


# Metres (at standard size) the two sides of a cut are opened at the middle of the mouth.
CUT_GAP = 0.0002
# Heights (metres at standard size, along the face's up axis) tried when the mouth's landmarks
# land on no slit: a found mouth can sit a lip's height or two off on faces unlike the finder's.
SEARCH_SHIFTS = (-0.004, 0.004, -0.008, 0.008, -0.012, 0.012, -0.016, 0.016)


# Metres (at standard size): a found mouth corner farther than this from the slit's end the
# surface shows is moved there. Nearer ones stay: templates put the corner landmark on the outer
# lip contour, a few millimetres outside a hole's end.
CORNER_SNAP = 0.005


def _corners_on_rim(head: Head, slit: MouthSlit) -> Head:
    """`head` with each mouth corner that is far from an end of the slit (`MouthSlit.corners`) moved there."""
    points = head.landmarks.as_array()
    ends = slit.corners[::-1]  # (left, right), the landmarks' order
    far = np.linalg.norm(points[:2] - ends, axis=1) >= CORNER_SNAP * face_frame(head).scale
    if not far.any():
        return head
    points[:2][far] = ends[far]
    return replace(head, landmarks=FaceLandmarks.from_array(points))


# Metres (at standard size): the least a lip's midline landmark stands beyond the slit's edge on
# its own side (the thinnest lips measured on templates are 1.5 mm from edge to landmark).
LIP_BEYOND_EDGE = 0.002
# Metres (at standard size) a lip landmark may stand off the front of its lip and stay where it is.
LIP_OFF_SURFACE = 0.0005
LIP_ROUNDS = 4
# Metres (at standard size): the farthest a lip's midline landmark stands from the slit's edge on
# the faces measured (9 mm, a lower lip); one found farther is on the philtrum or the chin.
LIP_FAR_FROM_EDGE = 0.011
# Metres (at standard size): a lip's front is followed away from the slit until it falls back
# this far behind its most forward point (the groove above or below the lip).
LIP_GROOVE = 0.0005
# Metres (at standard size) a lip's midline landmark may stand beside the middle of the slit's ends.
LIP_OFF_CENTRE = 0.002
LIP_SEARCH_STEP = 0.0005


def _lip_bulge(local: np.ndarray, faces: np.ndarray, x: float, edge: float, side: int, scale: float) -> float | None:
    """The height (local y) of a lip's most forward point at `x`: its front followed away from
    the slit's edge (`side` +1 up, -1 down) to the groove beyond the lip (a fall of
    `LIP_GROOVE`); where there is none within `LIP_FAR_FROM_EDGE` (a flat lip, a chin or a nose
    that juts out), the most forward point within that reach. None if the surface is not there."""
    heights = edge + side * np.arange(0.0, 2 * LIP_FAR_FROM_EDGE * scale, LIP_SEARCH_STEP * scale)
    depths = _front_profile(local, faces, x, heights)
    within = side * (heights - edge) <= LIP_FAR_FROM_EDGE * scale
    if np.isnan(depths[within]).all():
        return None
    best = -np.inf
    for index, depth in enumerate(depths):
        if np.isnan(depth):
            continue
        if depth > best:
            best, peak = depth, index
        elif depth < best - LIP_GROOVE * scale:
            if within[peak]:
                return float(heights[peak])
            break
    return float(heights[np.nanargmax(np.where(within, depths, np.nan))])


def _front_depth(local: np.ndarray, faces: np.ndarray, xy: np.ndarray) -> float | None:
    """The most forward depth (local z) at which the triangles `faces` of the surface `local`
    (V, 3), in a frame whose z points forward, cross the line through `xy` along z; None if none does."""
    a, b, c = (local[faces[:, k], :2] for k in range(3))
    e1, e2, d = b - a, c - a, xy - a
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(det) > 1e-14
    safe = np.where(ok, det, 1.0)
    u = (d[:, 0] * e2[:, 1] - d[:, 1] * e2[:, 0]) / safe
    v = (e1[:, 0] * d[:, 1] - e1[:, 1] * d[:, 0]) / safe
    inside = ok & (u >= 0) & (v >= 0) & (u + v <= 1)
    if not inside.any():
        return None
    z = (1 - u - v) * local[faces[:, 0], 2] + u * local[faces[:, 1], 2] + v * local[faces[:, 2], 2]
    return float(z[inside].max())


def _front_profile(local: np.ndarray, faces: np.ndarray, x: float, heights: np.ndarray) -> np.ndarray:
    """`_front_depth` at `x` for each of `heights` (N,): the surface's profile seen from the front,
    NaN where the line misses it."""
    depths = [_front_depth(local, faces, np.array([x, height])) for height in heights]
    return np.array([np.nan if depth is None else depth for depth in depths])


def _lips_beside_slit(head: Head, slit: MouthSlit) -> Head:
    """`head` with its lip midline landmarks put on the front of their own lips: one beside the
    middle of the slit's ends (by more than `LIP_OFF_CENTRE`, where they are known) goes to it;
    one that the network put on the wrong side of the slit, nearer its edge than
    `LIP_BEYOND_EDGE` or farther than `LIP_FAR_FROM_EDGE` goes to its lip's most forward point
    (`_lip_bulge`), at least `LIP_BEYOND_EDGE` beyond the edge; each moved or off the surface (by
    more than `LIP_OFF_SURFACE`) then goes onto the front of the surface at its place across and
    up the face (the most forward crossing of the surface, the other lip's triangles left out).

    A lower-lip landmark found in the gap or on the upper lip makes the rig read the lips' gap
    at the wrong place, and lip landmarks at inconsistent depths pitch the face's up axis (read
    from them), so the lips travel askew and never meet; the slit's edges, read from the surface,
    say on which side each lip is, and the surface where its front is."""
    if not len(slit.upper_edge) or not len(slit.lower_edge):
        return head
    # The face's axes are read from the lip landmarks themselves, so moving them turns the axes:
    # a few rounds, until both stand still.
    for _ in range(LIP_ROUNDS):
        frame = face_frame(head)
        points = head.landmarks.as_array()
        local = frame.local(points)
        verts_local = frame.local(head.verts)
        least = LIP_BEYOND_EDGE * frame.scale
        moved = False
        centre = None if slit.corners is None else float(frame.local(slit.corners)[:, 0].mean())
        for index, edge, side in ((2, slit.upper_edge, 1), (3, slit.lower_edge, -1)):
            # The lips' midline is halfway between the slit's ends, where the surface shows them.
            sideways = centre is not None and abs(local[index, 0] - centre) > LIP_OFF_CENTRE * frame.scale
            if sideways:
                local[index, 0] = centre
            middle = verts_local[edge][np.argmin(np.abs(verts_local[edge, 0] - local[index, 0]))]
            beyond = side * (local[index, 1] - middle[1])
            own = head.faces[(slit.side[head.faces] != -side).all(axis=1)]
            astray = beyond < 0.99 * least or beyond > LIP_FAR_FROM_EDGE * frame.scale
            bulge = _lip_bulge(verts_local, own, local[index, 0], middle[1], side, frame.scale) if astray else None
            if bulge is not None:
                target = np.array([local[index, 0], middle[1] + side * max(side * (bulge - middle[1]), least), 0.0])
            else:
                target = local[index] + [0.0, side * max(least - beyond, 0.0), 0.0]
            front = _front_depth(verts_local, own, target[:2])
            if front is not None and (astray or sideways or abs(front - target[2]) > LIP_OFF_SURFACE * frame.scale):
                points[index] = frame.origin + np.array([target[0], target[1], front]) @ frame.axes
                moved = True
        if not moved:
            break
        head = replace(head, landmarks=FaceLandmarks.from_array(points))
    return head


# Metres (at standard size): a chin landmark found this far above the chin's most forward point
# is on the slope up to the lower lip. Conventions put the chin landmark at that point or below
# it (towards menton), never above.
CHIN_ABOVE_FRONT = 0.006
# Metres (at standard size) below the lower lip the chin is looked for (its groove in the first half).
CHIN_SEARCH = 0.06


def _chin_on_front(head: Head) -> Head:
    """`head` with a chin landmark that stands well above the chin's most forward point
    (`CHIN_ABOVE_FRONT`) moved there: the face's front followed down the lips' midline from the
    lower lip, past the groove below it, to the highest point of the chin's bulge."""
    frame = face_frame(head)
    points = head.landmarks.as_array()
    local, verts_local = frame.local(points), frame.local(head.verts)
    x = 0.5 * (local[2, 0] + local[3, 0])
    step = LIP_SEARCH_STEP * frame.scale
    heights = local[3, 1] - np.arange(0.0, CHIN_SEARCH * frame.scale, step)
    depths = _front_profile(verts_local, head.faces, x, heights)
    near = np.where(heights >= local[3, 1] - 0.5 * CHIN_SEARCH * frame.scale, depths, np.nan)
    if np.isnan(near).all():
        return head
    groove = int(np.nanargmin(near))
    bulge = groove + int(np.nanargmax(depths[groove:]))
    if bulge == groove or bulge == len(heights) - 1 or local[4, 1] - heights[bulge] < CHIN_ABOVE_FRONT * frame.scale:
        return head
    points[4] = frame.origin + np.array([x, heights[bulge], depths[bulge]]) @ frame.axes
    return replace(head, landmarks=FaceLandmarks.from_array(points))


def mouth_on_slit(head: Head, slit: MouthSlit | None = None) -> tuple[Head, float]:
    """`head` with its mouth landmarks moved onto the slit its surface shows, when they missed it.

    Where the lips are separate surfaces, the surface shows where the mouth is, and the
    network's points are checked against it:
    - the mouth corners go to the slit's ends when far from them: a hole's (FLAME, MediaPipe,
      most registered templates), or where two separate lip surfaces join, whatever the mouth's
      width;
    - the lip midlines go halfway between those ends, and onto their own lips
      (`_lips_beside_slit`: on the wrong side of the slit or farther from it than any lip is
      thick, to the lip's most forward point);
    - a chin found up the slope towards the lower lip goes to the chin's front (`_chin_on_front`).

    When the landmarks find the lips fused, the mouth landmarks (corners and lip midlines) are
    moved up and down by `SEARCH_SHIFTS` (nearest first) and the first placement at which the
    surface shows an open slit is kept: coarse to fine, the network's guess then the surface.
    Faces whose lips really are one surface (a scan) stay as they were. `slit`: the head's
    `mouth_slit`, when already known.

    Returns:
        (the head, possibly with moved landmarks; the shift applied in metres, 0 for none).
    """
    slit = slit or (mouth_slit(head) if head.faces is not None else None)
    if slit is not None and slit.kind == "open":
        if slit.corners is not None:
            head = _corners_on_rim(head, slit)
        return _chin_on_front(_lips_beside_slit(head, slit)), 0.0
    if head.faces is None or slit.kind != "fused":
        return head, 0.0
    frame = face_frame(head)
    points = head.landmarks.as_array()
    for shift in SEARCH_SHIFTS:
        moved = points.copy()
        moved[:4] += shift * frame.scale * frame.axes[1]
        candidate = replace(head, landmarks=FaceLandmarks.from_array(moved))
        if mouth_slit(candidate, frame).kind == "open":
            return candidate, shift * frame.scale
    return head, 0.0
