"""Facial action units (FACS) placed from landmarks: a linear basis (V, U, 3) of skin motion on any head.

Each unit is the displacement in metres of every vertex at full activation, a smooth function of
the vertex *position* in the landmark face frame of `scantalk.rig.rig` (origin at the mouth
centre, x towards the head's left, y up, z forward, lengths scaled by the eye-to-mouth distance).
So every meshing of one head (decimated, remeshed, a point cloud, with holes) moves the same way
at the same surface point, exactly as the speech rig does. An expression is Σ_u w_u · basis[:, u]
with activations w_u ≥ 0 (`expression_displacement`): linear, so a network can learn it exactly.

Regions are read from the landmarks the heads carry (`FaceLandmarks`): the brows sit about 19 mm
(× scale) above the eyeball centres, the lids on the front of the globe, the cheeks below and
lateral to the eyes, the nose sides beside the tip, and the mouth regions come from the rig's own
mouth-slit geometry, so the lip units separate the lips exactly where its speech motion does.
The small jaw drop (AU26) is the rig's first-order jaw rotation at a fraction of its travel.

Peak magnitudes at full activation follow what FACS-coded faces show (Ekman & Friesen, FACS
manual 2002; Cohn & Ekman, *Measuring facial action*, 2005): brows 5-6 mm, lid raise 2-3 mm,
lid closure ~6 mm at the lid margin, cheek raise ~4 mm, lip-corner pull ~6 mm up/out/back, and
so on (`PEAK_MM`). Eyeball vertices (parts == "eyeball") never move.

Unilateral units ("AU12L_…", "AU12R_…") are the bilateral unit times a smooth side weight that
sums to one across the midline, so left + right = bilateral exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scantalk.errors import ScanTalkError
from scantalk.face.frame import FaceFrame, face_frame
from scantalk.face.head import PARTS, Head
from scantalk.rig.rig import CHIN_DROP, face_regions, rest_lip_gap, rig_basis


class ActionUnitError(ScanTalkError):
    """Action-unit activations, scales or a head the action-unit basis cannot use."""


BILATERAL_UNITS: tuple[str, ...] = (
    "AU01_inner_brow_raiser", "AU02_outer_brow_raiser", "AU04_brow_lowerer", "AU05_upper_lid_raiser",
    "AU06_cheek_raiser", "AU07_lid_tightener", "AU09_nose_wrinkler", "AU10_upper_lip_raiser",
    "AU12_lip_corner_puller", "AU14_dimpler", "AU15_lip_corner_depressor", "AU17_chin_raiser",
    "AU20_lip_stretcher", "AU23_lip_tightener", "AU24_lip_pressor", "AU26_jaw_drop", "AU43_eyes_closed",
)
"""The 17 bilateral units, in FACS number order."""

UNILATERAL_OF: dict[str, str] = {
    "AU02L_outer_brow_raiser_left": "AU02_outer_brow_raiser",
    "AU02R_outer_brow_raiser_right": "AU02_outer_brow_raiser",
    "AU12L_lip_corner_puller_left": "AU12_lip_corner_puller",
    "AU12R_lip_corner_puller_right": "AU12_lip_corner_puller",
    "AU14L_dimpler_left": "AU14_dimpler",
    "AU14R_dimpler_right": "AU14_dimpler",
}
"""One-sided units (FACS "L12", "R14", …: the head's own left, x > 0) → their bilateral unit."""

ACTION_UNITS: tuple[str, ...] = BILATERAL_UNITS + tuple(UNILATERAL_OF)
"""Every unit of `action_unit_basis`, in basis column order."""

NUM_ACTION_UNITS = len(ACTION_UNITS)

PEAK_MM: dict[str, tuple[float, float]] = {
    "AU01_inner_brow_raiser": (4.0, 8.0), "AU02_outer_brow_raiser": (4.0, 8.0), "AU04_brow_lowerer": (4.0, 8.0),
    "AU05_upper_lid_raiser": (1.5, 4.0), "AU06_cheek_raiser": (3.0, 5.0), "AU07_lid_tightener": (1.5, 4.0),
    "AU09_nose_wrinkler": (2.0, 5.0), "AU10_upper_lip_raiser": (2.5, 5.0), "AU12_lip_corner_puller": (5.0, 8.0),
    "AU14_dimpler": (3.0, 5.0), "AU15_lip_corner_depressor": (3.0, 6.0), "AU17_chin_raiser": (2.0, 5.0),
    "AU20_lip_stretcher": (4.0, 7.0), "AU23_lip_tightener": (1.5, 4.0), "AU24_lip_pressor": (1.5, 5.0),
    "AU26_jaw_drop": (3.0, 7.0), "AU43_eyes_closed": (4.0, 8.0),
}
"""Range (mm) the largest vertex motion of each bilateral unit lies in at full activation, scale 1."""

JAW_DROP_CHIN = 0.0049
"""Metres AU26 drops the chin: the rig's jaw opening scaled to a small, slack drop of ~5 mm."""

JAW_DROP_FRACTION = JAW_DROP_CHIN / CHIN_DROP
"""AU26 in units of the rig's jaw_open (whose 1 drops the chin `CHIN_DROP`)."""

BROW_HEIGHT = 0.019
"""Metres (× face scale) the brow line sits above the eyeball centres."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _gauss(t: np.ndarray) -> np.ndarray:
    return np.exp(-t * t)


def _one_sided(t: np.ndarray, below: float, above: float) -> np.ndarray:
    """A bump 1 at t = 0, falling as a Gaussian of width `below` for t < 0 and `above` for t > 0
    (smooth: both halves have zero slope at the peak)."""
    return _gauss(np.where(t < 0.0, t / below, t / above))


@dataclass(frozen=True)
class _Face:
    """Per-vertex coordinates (V,) in the face frame, relative to the eye on each vertex's side."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    ax: np.ndarray  # smooth |x|
    sign: np.ndarray  # smooth sign of x: lateral directions vanish smoothly at the midline
    left: np.ndarray  # side weight: 1 on the head's left, 0 on its right, 0.5 at the midline
    u: np.ndarray  # lateral offset from the own-side eye centre (positive: towards the temple)
    v: np.ndarray  # height above the own-side eye centre
    w: np.ndarray  # depth in front of the own-side eye centre
    scale: float


def _face(frame: FaceFrame, landmarks: np.ndarray, points: np.ndarray) -> _Face:
    s = frame.scale
    q = frame.local(points)
    lm = frame.local(landmarks)
    x, y, z = q.T
    left = _sigmoid(x / (0.004 * s))
    # Each vertex is measured from the eye on its own side, blended across the midline, so faces
    # whose eyes are not mirror images (real scans) still get brows and lids over each eye.
    eye = left[:, None] * lm[6] + (1.0 - left)[:, None] * lm[7] * np.array([-1.0, 1.0, 1.0])
    ax = np.sqrt(x * x + (0.001 * s) ** 2)
    return _Face(x, y, z, ax, np.tanh(x / (0.004 * s)), left, ax - eye[:, 0], y - eye[:, 1], z - eye[:, 2], s)


def _vec(weight: np.ndarray, lateral_mm: float | np.ndarray, up_mm: float, forward_mm: float,
         sign: np.ndarray) -> np.ndarray:
    """(V, 3) local displacement: `weight` × (lateral away from the midline, up, forward) millimetres."""
    return 0.001 * weight[:, None] * np.stack(
        [np.broadcast_to(lateral_mm * sign, weight.shape), np.full_like(weight, up_mm),
         np.full_like(weight, forward_mm)], axis=1)


def _upper_face_units(f: _Face) -> dict[str, np.ndarray]:
    """Brows, lids, cheeks and nose: local displacement (V, 3) metres per unit at scale 1."""
    s, u, v, w, sg = f.scale, f.u, f.v, f.w, f.sign
    front = _sigmoid((w + 0.006 * s) / (0.004 * s))  # in front of the eyes: not the temples or the back
    brow_rows = _one_sided(v - BROW_HEIGHT * s, 0.008 * s, 0.028 * s) * front  # forehead follows the brow
    inner = _gauss((u + 0.015 * s) / (0.016 * s))
    outer = _gauss((u - 0.012 * s) / (0.013 * s))
    lowered = _gauss((u + 0.012 * s) / (0.017 * s)) * _one_sided(v - 0.016 * s, 0.010 * s, 0.020 * s) * front

    # Lids lie on the front of the globe; the margin is taken 1.5 mm from the eye's midline, where
    # the eyeball (rigid) fills the gap between the lids.
    on_globe = _sigmoid((w - 0.004 * s) / (0.002 * s)) * _gauss((u / (0.013 * s)) ** 2)
    upper_lid = on_globe * _sigmoid((v - 0.0015 * s) / (0.0012 * s)) * _gauss(np.maximum(v - 0.006 * s, 0) / (0.006 * s))
    lower_lid = on_globe * _sigmoid((-v - 0.0015 * s) / (0.0012 * s)) * _gauss(np.maximum(-v - 0.006 * s, 0) / (0.007 * s))
    cheek = _gauss((u - 0.004 * s) / (0.020 * s)) * _gauss((v + 0.024 * s) / (0.013 * s)) \
        * _sigmoid((w + 0.010 * s) / (0.004 * s))
    crows_feet = _gauss((u - 0.018 * s) / (0.008 * s)) * _gauss(v / (0.012 * s)) * front

    return {
        "AU01_inner_brow_raiser": _vec(brow_rows * inner, 0.0, 6.0, 0.0, sg),
        "AU02_outer_brow_raiser": _vec(brow_rows * outer, 0.0, 6.0, 0.0, sg),
        # Corrugator and depressor: brows down and drawn together.
        "AU04_brow_lowerer": _vec(lowered, -2.5, -4.5, 0.5, sg),
        # Levator palpebrae: the upper lid rises and folds back into the orbit.
        "AU05_upper_lid_raiser": _vec(upper_lid, 0.0, 2.6, -1.0, sg),
        # Orbicularis oculi, orbital part: cheeks up, lower lids pushed up, crow's feet drawn in,
        # the lateral brow pulled down a little.
        "AU06_cheek_raiser": _vec(cheek, 0.0, 4.0, 0.8, sg) + _vec(lower_lid, 0.0, 1.8, 0.0, sg)
        + _vec(crows_feet, -1.5, 0.5, 0.0, sg) + _vec(brow_rows * outer, 0.0, -1.0, 0.0, sg),
        # Orbicularis oculi, palpebral part: lower lid up and towards the inner corner, upper lid down.
        "AU07_lid_tightener": _vec(lower_lid, -0.8, 2.2, 0.0, sg) + _vec(upper_lid, 0.0, -1.0, 0.0, sg),
        # The lids close over the globe (following its curve forward), the lower lid rises a little.
        "AU43_eyes_closed": _vec(upper_lid, 0.0, -5.6, 1.5, sg) + _vec(lower_lid, 0.0, 0.8, 0.0, sg),
    }


def _nose_units(f: _Face, lm: np.ndarray, upper_lip: np.ndarray) -> np.ndarray:
    """AU09 (levator labii superioris alaeque nasi and procerus): the alae and nose sides rise and
    wrinkle, the nasal root and inner brows come down, the upper lip rises a little."""
    s, sg = f.scale, f.sign
    nose = lm[5]
    on_nose = _sigmoid((f.z - (nose[2] - 0.030 * s)) / (0.004 * s))
    alae = _gauss((f.ax - 0.012 * s) / (0.008 * s)) * _gauss((f.y - nose[1] + 0.001 * s) / (0.008 * s)) * on_nose
    dorsum = _gauss(f.ax / (0.012 * s)) * _gauss((f.y - nose[1] - 0.016 * s) / (0.008 * s)) * on_nose
    root = _gauss(f.ax / (0.014 * s)) * _gauss((f.v - 0.010 * s) / (0.008 * s)) * _sigmoid((f.w + 0.006 * s) / (0.004 * s))
    return (_vec(alae, 0.3, 3.0, -0.5, sg) + _vec(dorsum, 0.0, 1.8, 0.0, sg) + _vec(root, -0.5, -2.5, 0.0, sg)
            + _vec(upper_lip, 0.0, 1.2, 0.0, sg))


def _lower_face_units(head: Head, frame: FaceFrame, f: _Face) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Mouth, lips and chin: local displacement (V, 3) metres per unit at scale 1, and the upper-lip
    skin weight (V,) that the nose wrinkler also lifts."""
    s, sg = f.scale, f.sign
    lm = frame.local(head.landmarks.as_array())
    # The rig's mouth regions: `below` is sharp across the slit only, so lip units separate the
    # lips exactly where the speech motion does.
    r = face_regions(head, frame, head.verts)
    hw = r.half_width
    lip_front = 0.5 * (lm[2, 2] + lm[3, 2])
    mouth_y = 0.5 * (lm[2, 1] + lm[3, 1])
    dy = f.y - (mouth_y + (0.5 * (lm[0, 1] + lm[1, 1]) - mouth_y) * np.minimum((f.x / hw) ** 2, 1.0))
    mouth_front = _sigmoid((f.z - (lip_front - 0.055 * s)) / (0.008 * s))
    corner = _gauss((f.ax - hw) / (0.012 * s)) * _gauss(dy / (0.012 * s)) * mouth_front
    nasolabial = _gauss((f.ax - hw - 0.008 * s) / (0.012 * s)) * _gauss((dy - 0.020 * s) / (0.012 * s)) * mouth_front
    dimple = _gauss((f.ax - hw - 0.008 * s) / (0.005 * s)) * _gauss(dy / (0.006 * s)) * mouth_front
    upper_lip_skin = (1.0 - r.below) * _gauss((f.ax / (1.3 * hw)) ** 2) \
        * _gauss(np.maximum(dy - 0.004 * s, 0.0) / (0.010 * s)) * mouth_front
    upper, lower = r.lips * (1.0 - r.below), r.lips * r.below
    chin_boss = r.below * _gauss(f.ax / (0.018 * s)) * _gauss((f.y - lm[4, 1] - 0.006 * s) / (0.012 * s)) \
        * _sigmoid((f.z - (lm[4, 2] - 0.030 * s)) / (0.006 * s))
    stretch = r.perioral * np.clip(f.x / hw, -1.0, 1.0)  # already signed: lateral by position
    press = 1000.0 * (0.5 * rest_lip_gap(head) + 0.0008 * s)  # mm each lip travels to meet and press

    def lateral(weight: np.ndarray, mm: float) -> np.ndarray:
        return 0.001 * mm * weight[:, None] * np.array([1.0, 0.0, 0.0])

    units = {
        # Zygomaticus major: corners up, out and back along the cheek; the nasolabial cheek bunches up.
        "AU12_lip_corner_puller": _vec(corner, 3.5, 4.5, -3.0, sg) + _vec(nasolabial, 0.0, 2.0, 1.0, sg),
        # Buccinator: corners drawn back and a little out, a dimple beside them.
        "AU14_dimpler": _vec(corner, 1.5, 0.5, -3.5, sg) + _vec(dimple, 0.0, 0.0, -1.5, sg),
        # Depressor anguli oris: corners down and slightly out; the lateral lower lip follows.
        "AU15_lip_corner_depressor": _vec(corner, 1.0, -4.0, 0.5, sg)
        + _vec(lower * (1.0 - r.profile), 0.0, -1.5, 0.0, sg),
        # Levator labii superioris: the upper lip and the skin above it rise, everting slightly.
        "AU10_upper_lip_raiser": _vec(upper_lip_skin, 0.0, 3.5, 0.8, sg),
        # Mentalis: the chin boss rises and pushes the lower lip up and out.
        "AU17_chin_raiser": _vec(chin_boss, 0.0, 2.5, 1.5, sg) + _vec(lower * r.profile, 0.0, 1.5, 2.0, sg),
        # Risorius and platysma: corners straight out, a little down and back; the lips stretch.
        "AU20_lip_stretcher": _vec(corner, 4.0, -1.0, -1.5, sg) + lateral(stretch, 1.5),
        # Orbicularis oris: lips narrow and thin (roll in), corners drawn towards the midline.
        "AU23_lip_tightener": _vec(upper, 0.0, -1.0, -1.5, sg) + _vec(lower, 0.0, 1.0, -1.5, sg)
        + _vec(corner, -1.5, 0.0, 0.0, sg),
        # Lips pressed together: each travels half the rest gap and presses, back a little.
        "AU24_lip_pressor": _vec(upper * r.profile, 0.0, -press, -1.0, sg) + _vec(lower * r.profile, 0.0, press, -1.0, sg),
    }
    return units, upper_lip_skin


def identity_scales(rng: np.random.Generator, spread: float = 0.2) -> np.ndarray:
    """Per-identity strength (U,) of every unit: people differ in how far each muscle moves the skin.

    Args:
        rng: the identity's generator (the same seed gives the same person).
        spread: the scales are drawn log-uniformly in [1/(1+spread), 1+spread].

    Returns:
        scales (U,) > 0; the two sides of a unilateral unit share their bilateral unit's scale.
    """
    if not (np.isfinite(spread) and 0.0 <= spread < 1.0):
        raise ActionUnitError(f"identity spread must be in [0, 1), got {spread}; use e.g. 0.2 (±20 %).")
    bilateral = np.exp(rng.uniform(-np.log1p(spread), np.log1p(spread), len(BILATERAL_UNITS)))
    index = {name: i for i, name in enumerate(BILATERAL_UNITS)}
    return np.concatenate([bilateral, [bilateral[index[b]] for b in UNILATERAL_OF.values()]])


def _check_scale(scale, head: Head) -> np.ndarray:
    scale = np.asarray(scale, dtype=np.float64)
    if scale.shape != (NUM_ACTION_UNITS,) or not np.isfinite(scale).all() or (scale < 0).any():
        raise ActionUnitError(f"action-unit scale for head '{head.name}' must be {NUM_ACTION_UNITS} finite numbers ≥ 0 "
                              f"(one per ACTION_UNITS entry), got shape {scale.shape}; use identity_scales(rng).")
    return scale


def action_unit_basis(head: Head, variation: np.random.Generator | None = None,
                      scale: np.ndarray | None = None) -> np.ndarray:
    """Per-vertex motion (V, U, 3) in metres of every `ACTION_UNITS` entry at full activation.

    Args:
        head: any `Head` (mesh or point cloud, holes allowed); only its landmarks, vertex
            positions and parts are used. Eyeball vertices never move.
        variation: a generator for this identity: scales every unit by `identity_scales(variation)`.
        scale: explicit per-unit scales (U,) instead (≥ 0); at most one of `variation` and `scale`.

    Returns:
        basis (V, U, 3) float64 metres, in the head's world frame.

    Raises:
        ActionUnitError: both `variation` and `scale` given, or `scale` is not (U,) finite and ≥ 0.
        RigError: the landmarks cannot place a face frame.
    """
    if variation is not None and scale is not None:
        raise ActionUnitError("pass either variation (a generator) or scale (U,) to action_unit_basis, not both.")
    frame = face_frame(head)
    landmarks = head.landmarks.as_array()
    f = _face(frame, landmarks, head.verts)
    units = _upper_face_units(f)
    lower_units, upper_lip_skin = _lower_face_units(head, frame, f)
    units.update(lower_units)
    units["AU09_nose_wrinkler"] = _nose_units(f, frame.local(landmarks), upper_lip_skin)
    local = np.stack([units[name] for name in BILATERAL_UNITS if name != "AU26_jaw_drop"], axis=1) * frame.scale
    world = local @ frame.axes  # rows of `axes` are the local axes in world coordinates

    basis = np.zeros((head.num_vertices, NUM_ACTION_UNITS, 3))
    index = {name: i for i, name in enumerate(ACTION_UNITS)}
    columns = [index[name] for name in BILATERAL_UNITS if name != "AU26_jaw_drop"]
    basis[:, columns] = world
    basis[:, index["AU26_jaw_drop"]] = JAW_DROP_FRACTION * rig_basis(head)[:, 0]
    for name, bilateral in UNILATERAL_OF.items():
        side = f.left if name[4] == "L" else 1.0 - f.left
        basis[:, index[name]] = side[:, None] * basis[:, index[bilateral]]

    if head.parts is not None:
        basis[np.asarray(head.parts) == PARTS["eyeball"]] = 0.0
    if variation is not None:
        scale = identity_scales(variation)
    if scale is not None:
        basis *= _check_scale(scale, head)[None, :, None]
    return basis


def check_weights(weights: np.ndarray) -> np.ndarray:
    """Activations (U,) or (T, U) as float64, finite; raises `ActionUnitError` naming the shape."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim not in (1, 2) or w.shape[-1] != NUM_ACTION_UNITS or not np.isfinite(w).all():
        raise ActionUnitError(f"action-unit weights must be finite, shape ({NUM_ACTION_UNITS},) or (T, {NUM_ACTION_UNITS}) "
                              f"in ACTION_UNITS order; got shape {np.shape(weights)}.")
    return w


def expression_displacement(head: Head, weights: np.ndarray, basis: np.ndarray | None = None) -> np.ndarray:
    """Displacement of `head` for action-unit activations: Σ_u weights_u · basis[:, u].

    Args:
        head: the neutral head.
        weights: activations (U,) or a track (T, U) (e.g. from `emotion.facs.emotions.expression_weights`).
        basis: `action_unit_basis(head, ...)` to reuse (and to carry identity variation).

    Returns:
        (V, 3) metres, or (T, V, 3) for a track.
    """
    w = check_weights(weights)
    basis = action_unit_basis(head) if basis is None else basis
    if basis.shape != (head.num_vertices, NUM_ACTION_UNITS, 3):
        raise ActionUnitError(f"basis must be ({head.num_vertices}, {NUM_ACTION_UNITS}, 3) for head '{head.name}', "
                              f"got {basis.shape}; compute it with action_unit_basis(head).")
    return np.einsum("...u,vuc->...vc", w, basis)
