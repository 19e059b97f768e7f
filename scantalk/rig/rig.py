"""A rig placed from landmarks: articulation (T, 5) → per-vertex displacement (T, V, 3) on any Head.

Every weight is a smooth function of the vertex *position* in a face frame built from the
landmarks (mouth corners, lip midline points, eyes, chin, jaw hinges), so two meshings of one
head (decimated, subdivided, a point cloud, with holes) move the same way at the same surface
point. The only sharp transition is across the mouth slit, a fraction of a millimetre wide,
where the surface itself is absent (the lips' gap) or the two lips touch.

The motion is linear in a small basis (`RIG_INPUTS`): the five articulation channels, plus the
jaw angle squared, because the jaw rotates about its hinge axis and the rotation is taken to
second order in the angle: R(θ)r − r ≈ θ k×r + θ²/2 k×(k×r).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from scantalk.articulation.channels import ARTICULATION_CHANNELS, NUM_CHANNELS
from scantalk.errors import RigError
from scantalk.face.frame import FaceFrame, face_frame
from scantalk.face.head import PARTS, Head
from scantalk.geometry.topology import mesh_pieces
from scantalk.rig.slit import MouthSlit, mouth_slit


RIG_INPUTS: tuple[str, ...] = ARTICULATION_CHANNELS + ("jaw_open_sq",)
"""Inputs of `rig_basis`: displacement = Σ_c input_c · basis[:, c], with jaw_open_sq = jaw_open²."""

CHIN_DROP = 0.022
"""Metres the chin moves at jaw_open = 1 (first order in the angle): a wide-open jaw in speech
(lips about 12-15 mm apart on /a/, where jaw_open is 0.7-0.85)."""

LOWER_LIP_FOLLOWS = 0.9
"""Share of the jaw's travel the lower lip's edge follows (soft tissue lags a little)."""

UPPER_LIP_LIFT = 0.0035
"""Metres the upper lip's edge rises at the midline at jaw_open = 1: the upper lip lifts off the
lower on open vowels, so the lips part at the front, not only the jaw."""

LIP_PRESS = 0.0003
"""Metres each lip's edge travels past the other's rest line at lip_close = 1: the lips meet and
press (the rest of the press shows as a slight forward bulge), without passing through."""

SEALED_JAW = 0.08
"""jaw_open while the lips are sealed: lip_close (and labiodental contact) closes the gap the jaw
leaves at this opening, and `sealed` raises or lowers the jaw towards it as the lips close (lips
cannot meet over a dropped jaw, so a closure carries the jaw with it)."""


CONTACT_FULL = 0.85
"""A lip contact (lip_close + labiodental) this strong or more closes the lips fully: a closure is
made or not, and a track that says 0.9 means the lips meet (they stopped 0.6 mm apart)."""


def sealed(articulation):
    """Articulation (..., 5) (numpy or torch) as the rig is fed it at inference: the lips' two
    contacts (lip_close, labiodental) share one closure (scaled by 1 / `CONTACT_FULL`, so a
    contact of that strength closes fully, then scaled down together where they add up past 1,
    so the lower lip never rises past the upper one), and jaw_open moves towards `SEALED_JAW` by
    that contact, so closed lips meet exactly whatever jaw opening the track asked for (lips
    cannot meet over a dropped jaw: a closure carries the jaw with it)."""
    out = articulation * 1.0
    close, labio = articulation[..., 1] / CONTACT_FULL, articulation[..., 4] / CONTACT_FULL
    contact = close + labio
    share = 2.0 / (1.0 + contact + abs(1.0 - contact))  # 1 / max(1, contact) for numpy and torch alike
    out[..., 1], out[..., 4] = close * share, labio * share
    contact = contact * share
    jaw = articulation[..., 0]
    out[..., 0] = jaw + contact * (SEALED_JAW - jaw)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class FaceRegions:
    """Smooth per-vertex weights (V,) in [0, 1] and the slit geometry of one head (`face_regions`)."""

    below: np.ndarray  # below the mouth line (sharp at the slit, broad over the cheeks)
    lips: np.ndarray  # the lips themselves
    perioral: np.ndarray  # lips and the skin around them (corner motions)
    profile: np.ndarray  # 1 at the midline, 0 at and beyond the corners (how far the lips travel)
    jaw: np.ndarray  # how much of the jaw's rotation each vertex follows
    local: np.ndarray  # (V, 3) local coordinates
    half_width: float


def head_slit(head: Head) -> MouthSlit:
    """The `MouthSlit` of `head`, computed once and kept on the head (its geometry and landmarks
    are read once; a head with other vertices or landmarks gets its own)."""
    key = (id(head.verts), id(head.faces), head.landmarks.as_array().tobytes())
    cached = head.__dict__.get("_mouth_slit")
    if cached is None or cached[0] != key:
        cached = (key, mouth_slit(head))
        head.__dict__["_mouth_slit"] = cached
    return cached[1]


def _slit_height(head: Head, frame: FaceFrame, x: np.ndarray, slit: MouthSlit | None = None) -> np.ndarray:
    """Local y of the mouth line at local x: along the slit the surface shows (`MouthSlit.line`),
    held at its end heights beyond the corners; without one, a parabola through the lip midpoint
    and the corners."""
    if slit is not None:
        line = frame.local(slit.line)
        order = np.argsort(line[:, 0])
        return np.interp(x, line[order, 0], line[order, 1])
    lm = frame.local(head.landmarks.as_array())
    corners_y, corner_x = 0.5 * (lm[0, 1] + lm[1, 1]), 0.5 * (lm[0, 0] - lm[1, 0])
    mid_y = 0.5 * (lm[2, 1] + lm[3, 1])
    return mid_y + (corners_y - mid_y) * np.minimum((x / corner_x) ** 2, 1.0)


def face_regions(head: Head, frame: FaceFrame, points: np.ndarray, slit: MouthSlit | None = None) -> FaceRegions:
    """The regions of the face the rig moves, as smooth weights of `points` (N, 3) in [0, 1]:
    below the mouth line, the lips, the skin around the mouth, the midline profile and the share
    of the jaw's rotation each point follows (`FaceRegions`, each (N,)), with the points in the
    face frame (N, 3) and the mouth's half width in metres.

    Args:
        head: the neutral head whose landmarks place the regions.
        frame: its `face_frame(head)`.
        points: (N, 3) metres, usually `head.verts`.
        slit: the head's `MouthSlit` when `points` are its vertices, so each lip's vertices stay
            on their lip's side whatever their height.
    """
    s = frame.scale
    q = frame.local(points)
    x, y, z = q.T
    lm = frame.local(head.landmarks.as_array())
    hw = 0.5 * (lm[0, 0] - lm[1, 0])
    lip_front = 0.5 * (lm[2, 2] + lm[3, 2])
    dy = y - _slit_height(head, frame, x, slit)
    ax = np.abs(x) / hw
    # Sharp across the slit between the corners; laterally the cheeks stretch over a widening band.
    width = 0.0005 + 0.012 * s * np.clip(ax - 0.9, 0.0, 1.2)
    if slit is not None and len(slit.side) == len(q):
        # The surface decides where it can: a vertex of the lower lip that rises above the slit's
        # line (lips curl, overlap, or the line is off) still goes with the jaw.
        # Towards the corners the surface's word fades into the smooth height, so the lips'
        # opening tapers to the corners instead of stepping there.
        taper = np.clip((0.95 - ax) / 0.3, 0.0, 1.0)
        forced = slit.side * np.maximum(np.abs(dy), 4.0 * width)
        dy = np.where(slit.side != 0, taper * forced + (1.0 - taper) * dy, dy)
    below = _sigmoid(-dy / width)
    front_lips = _sigmoid((z - (lip_front - 0.015 * s)) / (0.003 * s))
    lips = np.exp(-(ax / 1.15) ** 6 - (dy / (0.013 * s)) ** 4) * front_lips
    perioral = np.exp(-(ax / 1.6) ** 4 - (dy / (0.022 * s)) ** 4) * _sigmoid((z - (lip_front - 0.045 * s)) / (0.008 * s))
    profile = np.cos(0.5 * np.pi * np.minimum(ax / 1.05, 1.0)) ** 2
    hinge_z = frame.local(head.landmarks.jaw_hinge[None])[0, 2]
    chin = lm[4]
    behind_hinge = _sigmoid((z - (hinge_z + 0.008 * s)) / (0.008 * s))
    under_chin = (_sigmoid((z - (chin[2] - 0.04 * s)) / (0.008 * s))
                  * _sigmoid((y - (chin[1] - 0.03 * s)) / (0.008 * s)))
    jaw = below * behind_hinge * under_chin * (1.0 - (1.0 - LOWER_LIP_FOLLOWS) * lips * below)
    return FaceRegions(below, lips, perioral, profile, jaw, q, float(hw))


#: The regions `region_weights` gives, in its columns' order.
REGION_FEATURES = ("below", "lips", "jaw")


def region_weights(head: Head) -> np.ndarray:
    """Per-vertex weights (V, 3) of `REGION_FEATURES` (`face_regions` on the head's own vertices
    and slit): below the mouth line, the lips, the share of the jaw's rotation. An end-to-end
    model hears them beside the coordinates (identity_input "xyz+regions")."""
    r = face_regions(head, face_frame(head), head.verts, head_slit(head))
    return np.stack([r.below, r.lips, r.jaw], axis=1)


def rest_lip_gap(head: Head) -> float:
    """The lips' rest gap at the midline in metres: `meta["rest_lip_gap"]` when the head's maker
    knows it, else measured on the surface across its mouth slit (`mouth_slit`; 0 for lips that
    touch or are fused)."""
    if "rest_lip_gap" in head.meta:
        return float(head.meta["rest_lip_gap"])
    return head_slit(head).rest_gap


def rig_basis(head: Head) -> np.ndarray:
    """Per-vertex motion (V, B, 3) in metres per unit of each `RIG_INPUTS` entry (B = 6).

    Args:
        head: any `Head` (mesh or point cloud); only its landmarks, vertex positions and parts
            are used. Eyeball vertices never move.

    Returns:
        basis (V, 6, 3) float64 in the world frame of the head.
    """
    frame = face_frame(head)
    slit = head_slit(head)
    r = face_regions(head, frame, head.verts, slit)
    lm = head.landmarks
    V = head.num_vertices
    ex, ey, ez = frame.axes
    basis = np.zeros((V, len(RIG_INPUTS), 3))
    upper, lower = r.lips * (1.0 - r.below), r.lips * r.below

    # jaw_open: rotation about the hinge axis, first and second order in the angle; the upper lip
    # lifts a little at the same time.
    k = lm.jaw_hinge_left - lm.jaw_hinge_right
    k = k / np.linalg.norm(k)
    arm = head.verts - lm.jaw_hinge
    theta = CHIN_DROP / max(np.linalg.norm(np.cross(k, lm.chin - lm.jaw_hinge)), 1e-6)
    if np.cross(k, lm.chin - lm.jaw_hinge) @ ey > 0:
        k = -k  # the chin must go down whichever way round the hinges were placed
    basis[:, 0] = r.jaw[:, None] * theta * np.cross(k, arm)
    basis[:, 0] += (UPPER_LIP_LIFT * frame.scale * upper * r.profile)[:, None] * ey
    basis[:, 5] = r.jaw[:, None] * 0.5 * theta**2 * np.cross(k, np.cross(k, arm))

    # lip_close: the lips meet at the mouth line (rest gap + the gap of a little jaw opening) and
    # press. The gap is read at the midline point of the lower lip's edge of the slit (or at the
    # landmark), so every meshing of one face agrees.
    at = np.mean(slit.line[np.argsort(np.abs(frame.local(slit.line)[:, 0]))[:2]], axis=0)
    share = float(np.clip(face_regions(head, frame, lm.lower_lip[None]).jaw[0], 0.0, 1.0))
    if len(slit.lower_edge):
        share = float(np.median(r.jaw[slit.lower_edge]))
    lip_arm = at - lm.jaw_hinge
    angle = SEALED_JAW * theta
    jaw_drop = share * (angle * np.cross(k, lip_arm) + 0.5 * angle**2 * np.cross(k, np.cross(k, lip_arm)))
    jaw_gap = -float(jaw_drop @ ey) + SEALED_JAW * UPPER_LIP_LIFT * frame.scale
    closing = rest_lip_gap(head) + max(jaw_gap, 0.0) + LIP_PRESS
    travel = closing * r.profile
    if len(slit.gap_profile) >= 2 and "rest_lip_gap" not in head.meta:
        # The rest gap where each vertex is across the mouth (a mouth open at rest is open to
        # its corners, not only at the middle), plus the jaw's share and the press.
        x_gap = slit.gap_profile
        rest_here = np.interp(r.local[:, 0], x_gap[:, 0], x_gap[:, 1], left=0.0, right=0.0)
        travel = rest_here + (max(jaw_gap, 0.0) + LIP_PRESS) * r.profile
    # Pressed lips flatten against each other: the edges curled in behind the lips' front roll
    # forward, so no groove is left to see into where they meet.
    lip_front = float(np.max(frame.local(np.stack([lm.upper_lip, lm.lower_lip]))[:, 2]))
    curled = np.clip(lip_front - r.local[:, 2], 0.0, 0.006 * frame.scale) * np.exp(-(r.local[:, 1] - _slit_height(
        head, frame, r.local[:, 0], slit)) ** 2 / (0.004 * frame.scale) ** 2)
    basis[:, 1] = (((-0.4 * upper + 0.6 * lower) * travel)[:, None] * ey
                   + ((0.0008 + 0.5 * curled) * r.lips * r.profile)[:, None] * ez)

    # lip_round: protrude ~6 mm and draw the corners in by a sixth of the mouth width each.
    x = r.local[:, 0]
    protrude = 0.006 * frame.scale * r.lips * np.exp(-1.2 * (x / r.half_width) ** 2)
    basis[:, 2] = protrude[:, None] * ez - (x * r.perioral / 3.0)[:, None] * ex

    # lip_spread: corners outwards and back, ~5 mm.
    corner = np.clip(np.abs(x) / r.half_width, 0.0, 1.0) ** 2 * r.perioral
    basis[:, 3] = (0.0055 * frame.scale * np.sign(x) * corner)[:, None] * ex - (0.003 * frame.scale * corner)[:, None] * ez

    # labiodental: the lower lip rises past the mouth line and draws back under the upper teeth.
    lift = lower * r.profile
    basis[:, 4] = ((rest_lip_gap(head) + max(jaw_gap, 0.0) + LIP_PRESS) * lift)[:, None] * ey - (0.005 * frame.scale * lift)[:, None] * ez

    if head.parts is not None:
        basis[np.asarray(head.parts) == PARTS["eyeball"]] = 0.0
    # Teeth, tongue and gums stored as their own pieces move rigidly: the lower ones with the
    # jaw's whole rotation, the upper ones not at all.
    for piece, lower_jaw in mouth_pieces(head, frame, slit):
        basis[piece] = 0.0
        if lower_jaw:
            basis[piece, 0] = theta * np.cross(k, arm[piece])
            basis[piece, 5] = 0.5 * theta**2 * np.cross(k, np.cross(k, arm[piece]))
    # The smooth weights never reach 0 exactly; motion under a nanometre is no motion (so what
    # the rig leaves still is exactly still, and no denormal numbers reach later products).
    basis[np.abs(basis) < 1e-9] = 0.0
    return basis


def mouth_pieces(head: Head, frame: FaceFrame, slit: MouthSlit) -> list[tuple[np.ndarray, bool]]:
    """Separate pieces of the mesh inside the mouth (teeth, tongue, gums) → [(vertex indices,
    True when it goes with the jaw)]: a piece other than the largest (the skin), not an eyeball,
    that lies behind the lips within the mouth's width; it goes with the jaw when its centre is
    below the slit's line."""
    if head.faces is None or len(head.faces) == 0:
        return []
    count = head.num_vertices
    pieces, label = mesh_pieces(head.faces, count)
    if pieces < 2:
        return []
    sizes = np.bincount(label, minlength=pieces)
    skin = int(np.argmax(sizes))
    eyeball = np.zeros(count, dtype=bool) if head.parts is None else np.asarray(head.parts) == PARTS["eyeball"]
    marks = frame.local(head.landmarks.as_array())
    half_width = 0.5 * (marks[0, 0] - marks[1, 0])
    lip_front = 0.5 * (marks[2, 2] + marks[3, 2])
    out = []
    for piece in range(pieces):
        members = np.flatnonzero(label == piece)
        if piece == skin or sizes[piece] > 0.25 * count or eyeball[members].any():
            continue
        centre = frame.local(head.verts[members].mean(axis=0)[None])[0]
        inside = (abs(centre[0]) < 1.2 * half_width and lip_front - 0.07 * frame.scale < centre[2] < lip_front
                  and abs(centre[1]) < 0.03 * frame.scale)
        if inside:
            out.append((members, bool(centre[1] < _slit_height(head, frame, centre[:1], slit)[0])))
    return out


def _articulation(articulation: np.ndarray) -> np.ndarray:
    a = np.asarray(articulation, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] != NUM_CHANNELS or not np.isfinite(a).all():
        raise RigError(f"articulation must be a finite array (T, {NUM_CHANNELS}) with channels "
                       f"{', '.join(ARTICULATION_CHANNELS)}; got shape {np.shape(articulation)}")
    return a


def rig_inputs(articulation: np.ndarray) -> np.ndarray:
    """The basis inputs (T, 6) of an articulation track (T, 5): the channels and jaw_open²."""
    a = _articulation(articulation)
    return np.concatenate([a, a[:, :1] ** 2], axis=1)


def rig_displacement(head: Head, articulation: np.ndarray, basis: np.ndarray | None = None) -> np.ndarray:
    """Displacement (T, V, 3) metres of `head` for an articulation track (T, 5) (or one frame (5,)).

    Exactly Σ_c a_c · basis[:, c] + a_jaw_open² · basis[:, 5]; pass `basis` to reuse `rig_basis(head)`.
    """
    basis = rig_basis(head) if basis is None else basis
    return np.einsum("tb,vbc->tvc", rig_inputs(articulation), basis)


def lip_vertices(head: Head) -> tuple[int, int]:
    """Indices of the vertices nearest the upper_lip and lower_lip landmarks."""
    _, idx = cKDTree(head.verts).query(np.stack([head.landmarks.upper_lip, head.landmarks.lower_lip]))
    return int(idx[0]), int(idx[1])


def lip_opening(head: Head, frames_or_displacement: np.ndarray, is_displacement: bool | None = None,
                relative: bool = False) -> np.ndarray:
    """Upper-minus-lower lip midline gap (T,) in metres along the face's up axis.

    Args:
        head: the neutral head.
        frames_or_displacement: (T, V, 3) positions or displacements from `head.verts` (metres).
        is_displacement: which of the two; None guesses (displacements are far smaller than a head).
        relative: subtract the neutral head's gap, so 0 means "as at rest".
    """
    x = np.asarray(frames_or_displacement, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != head.verts.shape:
        raise RigError(f"frames must be (T, {head.num_vertices}, 3) for head '{head.name}', got {np.shape(frames_or_displacement)}")
    if is_displacement is None:
        is_displacement = np.abs(x).mean() < 0.5 * np.abs(x - head.verts).mean()
    positions = head.verts + x if is_displacement else x
    up = face_frame(head).axes[1]
    u, l = lip_vertices(head)
    gap = (positions[:, u] - positions[:, l]) @ up
    return gap - (head.verts[u] - head.verts[l]) @ up if relative else gap


def region_masks(head: Head) -> dict[str, np.ndarray]:
    """Boolean masks (V,): "lips", "mouth_region" (lips, corners, chin top) and "upper_face"
    (forehead, brows, eyes: above the middle of the nose, in front of the hinges)."""
    frame = face_frame(head)
    r = face_regions(head, frame, head.verts)
    q = r.local
    lm = frame.local(head.landmarks.as_array())
    eyes_y = 0.5 * (lm[6, 1] + lm[7, 1])
    nose_y = lm[5, 1]
    hinge_z = 0.5 * (lm[8, 2] + lm[9, 2])
    return {
        "lips": r.lips > 0.5,
        "mouth_region": r.perioral > 0.5,
        "upper_face": (q[:, 1] > 0.5 * (eyes_y + nose_y)) & (q[:, 2] > hinge_z + 0.01 * frame.scale),
    }
