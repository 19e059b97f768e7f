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

from dataclasses import dataclass, field

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
