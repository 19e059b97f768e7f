"""Bringing a face into the training frame (metres, y up, face towards +z) and back, exactly.

A `Alignment` is a similarity transform x_model = scale · R · x_file + offset. Animations are
computed in the model frame and mapped back with the exact inverse, so the user gets their
file's units, orientation and position.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from scantalk.errors import ScanTalkError

_AXES = {
    "x": (1.0, 0.0, 0.0), "+x": (1.0, 0.0, 0.0), "-x": (-1.0, 0.0, 0.0),
    "y": (0.0, 1.0, 0.0), "+y": (0.0, 1.0, 0.0), "-y": (0.0, -1.0, 0.0),
    "z": (0.0, 0.0, 1.0), "+z": (0.0, 0.0, 1.0), "-z": (0.0, 0.0, -1.0),
}
# A head is about 0.15-0.25 m across; its bounding-box diagonal lies well inside this range.
PLAUSIBLE_DIAGONAL_M = (0.08, 0.8)
# Unit guesses from the bounding-box diagonal: (lower bound of the diagonal, metres per unit).
_UNIT_GUESSES = ((50.0, 0.001, "millimetres"), (5.0, 0.01, "centimetres"), (0.0, 1.0, "metres"))


@dataclass
class Alignment:
    """x_model = scale · rotation @ x_file + offset (rotation (3, 3), offset (3,) metres)."""

    scale: float = 1.0
    rotation: list[list[float]] = field(default_factory=lambda: np.eye(3).tolist())
    offset: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    units: str = "metres"
    mode: str = "none"

    def to_model(self, points: np.ndarray) -> np.ndarray:
        """Points (..., 3) in the file's frame → the model frame."""
        rotation = np.asarray(self.rotation)
        return self.scale * points @ rotation.T + np.asarray(self.offset)

    def to_file(self, points: np.ndarray) -> np.ndarray:
        """Points (..., 3) in the model frame → the file's frame (exact inverse of `to_model`)."""
        rotation = np.asarray(self.rotation)
        return ((points - np.asarray(self.offset)) / self.scale) @ rotation

    def motion_to_model(self, displacements: np.ndarray) -> np.ndarray:
        """Displacements (..., 3) in the file's frame and units → the model frame (no offset)."""
        return self.scale * displacements @ np.asarray(self.rotation).T

    def as_dict(self) -> dict:
        return asdict(self)


def axes_rotation(up: str = "y", forward: str = "z") -> np.ndarray:
    """Rotation (3, 3) taking the file's `up` axis to +y and its `forward` axis to +z."""
    try:
        up_vec, forward_vec = np.array(_AXES[up.lower()]), np.array(_AXES[forward.lower()])
    except KeyError as error:
        raise ScanTalkError(f"unknown axis {error.args[0]!r}: use one of x, y, z, -x, -y, -z") from None
    if abs(float(up_vec @ forward_vec)) > 0.5:
        raise ScanTalkError(f"up={up!r} and forward={forward!r} must be different axes")
    right = np.cross(up_vec, forward_vec)
    # Rows: where the file's axes must go — file vectors expressed in (right, up, forward).
    return np.stack([right, up_vec, forward_vec])


ANCHORS = ("bbox", "nose")


def nose_tip(verts: np.ndarray) -> np.ndarray:
    """(3,) the nose tip of a y-up, +z-facing face (V, 3): the mean of its most forward points
    (0.2 %, at least 5, so one stray scan point cannot decide), centred in x on the bounding box."""
    count = max(5, len(verts) // 500)
    front = verts[np.argsort(verts[:, 2])[-count:]]
    return np.array([0.5 * (verts[:, 0].max() + verts[:, 0].min()), front[:, 1].mean(), front[:, 2].mean()])


def fit_alignment(
    verts: np.ndarray,
    align: str = "auto",
    up: str | None = None,
    forward: str | None = None,
    reference_center: np.ndarray | None = None,
    name: str = "face",
    anchor: str = "bbox",
) -> Alignment:
    """The alignment of a face `verts` (V, 3) into the model frame.

    align "auto": units guessed from the bounding box (millimetres, centimetres or metres), then
    the face's `anchor` moved onto `reference_center`: "bbox" the bounding-box centre (the
    training faces' centre), "nose" the tip of the nose (the training faces' mean nose tip) —
    the one point a full head, a face-only scan and a head with a long neck share, so a model
    that reads positions sees the mouth where it learned it. `up` / `forward` name the file's
    axes when it is not y-up / +z-facing. align "none": identity (the face must already be in
    the training frame). A face that still looks implausible afterwards (not head-sized) gets a
    warning saying which option to set.
    """
    if anchor not in ANCHORS:
        raise ScanTalkError(f"alignment anchor must be one of {ANCHORS}, got {anchor!r}")
    if align not in ("auto", "none"):
        raise ScanTalkError(f"align must be 'auto' or 'none', got {align!r}")
    rotation = axes_rotation(up or "y", forward or "z")
    if align == "none":
        alignment = Alignment(rotation=rotation.tolist(), mode="none")
        if up or forward:
            alignment.mode = "axes"
    else:
        diagonal = float(np.linalg.norm(verts.max(0) - verts.min(0)))
        scale, units = next((s, u) for lower, s, u in _UNIT_GUESSES if diagonal >= lower)
        rotated = scale * verts @ rotation.T
        center = 0.5 * (rotated.max(0) + rotated.min(0))
        if anchor == "nose":
            center = nose_tip(rotated)
        target = np.zeros(3) if reference_center is None else np.asarray(reference_center, dtype=np.float64)
        alignment = Alignment(scale, rotation.tolist(), (target - center).tolist(), units, "auto")
    aligned = alignment.to_model(verts)
    diagonal_m = float(np.linalg.norm(aligned.max(0) - aligned.min(0)))
    if not PLAUSIBLE_DIAGONAL_M[0] <= diagonal_m <= PLAUSIBLE_DIAGONAL_M[1]:
        hint = "pass align='auto'" if align == "none" else "scale the file to metres or millimetres"
        warnings.warn(
            f"{name}: after alignment the face is {diagonal_m:.3g} m across (a head is about 0.3 m); "
            f"the animation will likely be wrong — {hint}, and set up=/forward= if it is not y-up "
            "and facing +z",
            stacklevel=2,
        )
    return alignment


def aligned_template(
    verts: np.ndarray,
    align: str = "auto",
    up: str | None = None,
    forward: str | None = None,
    reference_center: np.ndarray | None = None,
    name: str = "face",
    anchor: str = "bbox",
) -> tuple[np.ndarray, Alignment]:
    """The face `verts` (V, 3) (file units) in the model frame, and the alignment used.

    The one place that turns a loaded face into the template the model sees: `Animator.animate`
    and `scantalk precompute` both call it, so the operators precomputed for a file are the
    ones (same bytes, same cache key) that animating it looks up.

    A face that the alignment moves or rescales is rounded to float32 (what the network computes
    in anyway): the same face given in millimetres or metres then yields the very same template
    bytes, hence the same operators, instead of values 1e-17 apart that an iterative eigensolver
    can amplify. A face the alignment leaves alone keeps its exact coordinates (the key the
    geometry API and training use).

    Returns:
        template (V, 3) float64 metres in the model frame, and the `Alignment`.
    """
    alignment = fit_alignment(verts, align, up, forward, reference_center, name=name, anchor=anchor)
    identity = (alignment.scale == 1.0 and np.array_equal(np.asarray(alignment.rotation), np.eye(3))
                and not np.any(alignment.offset))
    if identity:
        return np.asarray(verts, dtype=np.float64), alignment
    return alignment.to_model(verts).astype(np.float32).astype(np.float64), alignment
