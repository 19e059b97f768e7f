"""Mouth landmarks checked against the slit the face's surface shows (`mouth_on_slit`).

A network's landmarks can miss the mouth by millimetres on faces unlike its training set: a
corner at its usual width on a wide mouth, a lip midline on the philtrum, a chin up the slope.
Where the lips are separate surfaces (`scantalk.rig.slit.mouth_slit`), the surface shows where
the mouth is, and each point is moved onto it when it is far off; where the landmarks find the
lips fused, the mouth is searched for a lip's height up and down.

    head, shift = mouth_on_slit(head)  # the head with its mouth landmarks on the slit; the shift applied
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from scantalk.face.frame import face_frame
from scantalk.face.head import FaceLandmarks, Head
from scantalk.rig.slit import MouthSlit, mouth_slit

# Heights (metres at standard size, along the face's up axis) tried when the mouth's landmarks
# land on no slit: a found mouth can sit a lip's height or two off on faces unlike the finder's.
SEARCH_SHIFTS = (-0.004, 0.004, -0.008, 0.008, -0.012, 0.012, -0.016, 0.016)


# Metres (at standard size): a found mouth corner farther than this from the slit's end the
# surface shows is moved there. Nearer ones stay: templates put the corner landmark on the outer
# lip contour, a few millimetres outside a hole's end.
CORNER_SNAP = 0.005


# A hole's end less than this share of the found mouth's half width out from the mouth's middle
# (or on the other side of it) ends a part of the slit that a coarse meshing opened only where
# the lips part most (they touch on towards the corner): it is not the mouth's corner. Stylised
# mouths measured: 0.7-1.4 of the found half width; such partial holes on 5-7 mm meshings: under 0.2.
PARTIAL_HOLE = 0.5


def _mouth_ends(head: Head, slit: MouthSlit) -> np.ndarray:
    """(2,) bool: whether each end of the slit (left, right; `MouthSlit.corners`) lies out at
    its side of the found mouth, as a mouth corner does (`PARTIAL_HOLE`)."""
    ends = slit.corners[::-1]  # (left, right), the landmarks' order
    across = face_frame(head).local(np.concatenate([head.landmarks.as_array()[:2], ends]))[:, 0]
    across -= 0.5 * (across[0] + across[1])
    return across[2:] * np.sign(across[:2]) >= PARTIAL_HOLE * np.abs(across[:2])


def _corners_on_rim(head: Head, slit: MouthSlit) -> Head:
    """`head` with each mouth corner that is far from its end of the slit (`MouthSlit.corners`)
    moved there, unless that end lies well inside the found mouth (`_mouth_ends`)."""
    points = head.landmarks.as_array()
    ends = slit.corners[::-1]
    far = np.linalg.norm(points[:2] - ends, axis=1) >= CORNER_SNAP * face_frame(head).scale
    far &= _mouth_ends(head, slit)
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
    middle of the slit's ends (by more than `LIP_OFF_CENTRE`, where they are known and are the
    mouth's corners; else of the corners) goes to it;
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
        ends = None if slit.corners is None else (slit.corners if _mouth_ends(head, slit).all() else points[:2])
        centre = None if ends is None else float(frame.local(ends)[:, 0].mean())
        for index, edge, side in ((2, slit.upper_edge, 1), (3, slit.lower_edge, -1)):
            # The lips' midline is halfway between the slit's ends, where the surface shows them
            # (between the mouth's corners where the slit is only the middle of the mouth).
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
