"""Bringing a face into the training frame (metres, y up, face towards +z) and back, exactly.

A `Alignment` is a similarity transform x_model = scale · R · x_file + offset. Animations are
computed in the model frame and mapped back with the exact inverse, so the user gets their
file's units, orientation and position. Which way the face looks is found from its geometry
(`scantalk.face.orientation`) unless the user names the file's axes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from scantalk.errors import ScanTalkError
from scantalk.geometry.mesh import Mesh
from scantalk.face.orientation import (MAX_SAMPLES, PLAUSIBLE_DIAGONAL_M, OrientationError, find_orientation,
                                       guess_units, nose_candidates, stray_points)

__all__ = ["ANCHORS", "MIN_FRAME_CONFIDENCE", "MIN_TILT_CONFIDENCE", "PLAUSIBLE_DIAGONAL_M", "Alignment",
           "aligned_template", "axes_rotation", "fit_alignment", "nose_tip"]

_AXES = {
    "x": (1.0, 0.0, 0.0), "+x": (1.0, 0.0, 0.0), "-x": (-1.0, 0.0, 0.0),
    "y": (0.0, 1.0, 0.0), "+y": (0.0, 1.0, 0.0), "-y": (0.0, -1.0, 0.0),
    "z": (0.0, 0.0, 1.0), "+z": (0.0, 0.0, 1.0), "-z": (0.0, 0.0, -1.0),
}
# Below this `Orientation.confidence` a found frame other than the stored one is not applied (the
# face stays as stored, with a warning): a file is more often stored upright than read wrongly.
# Measured: the heads of experiments/evaluate/orientation.py read >= 0.75 in all 24 frames, the
# big-chin character of tests/face/test_orientation.py 0.46 at worst; a stylised upright head with a
# 5.6 cm nose was misread ("upside down, tilted 28°") at 0.33.
MIN_FRAME_CONFIDENCE = 0.4
# Below this, a tilt found off the nearest axis-aligned frame is not applied either (it is a
# refinement of a few degrees, and needs every cue to agree).
MIN_TILT_CONFIDENCE = 0.6


@dataclass
class Alignment:
    """x_model = scale · rotation @ x_file + offset (rotation (3, 3), offset (3,) metres).

    frame says how the file's axes were read ("given: ...", "found: up=+z forward=-y",
    "as stored: ...") and frame_confidence how sure that is (1 when given, 0..1 when found).
    """

    scale: float = 1.0
    rotation: list[list[float]] = field(default_factory=lambda: np.eye(3).tolist())
    offset: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    units: str = "metres"
    mode: str = "none"
    frame: str = "as stored: up=+y forward=+z"
    frame_confidence: float = 1.0

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
NOSE_AGREEMENT = 0.012  # m: most-forward points this close to the protruding tip found lie on the nose


def nose_tip(verts: np.ndarray, faces: np.ndarray | None = None, hint: np.ndarray | None = None) -> np.ndarray:
    """(3,) the nose tip of an upright face `verts` (V, 3) metres, y up, facing +z.

    The mean of the most forward points (0.2 %, at least 5, so one stray point cannot decide),
    centred in x on the bounding box: the definition the landmark decoder learned, kept exactly
    while those points lie on the nose. Where they lie elsewhere (a chin or a collar jutting out
    beyond the nose), the same mean over the points within 1.5 cm of the nose found otherwise:

    - `hint` (3,), a nose found before (`find_orientation`'s, in this frame);
    - else, with `faces` (F, 3), the nose `find_orientation` reads on the surface when it finds
      the face upright: the most protruding tip on the midline that the face reads most clearly
      around (a coarse meshing's brow or neck can protrude further, by its facets);
    - else the most protruding forward-facing tip on the midline
      (`scantalk.face.orientation.nose_candidates`).
    """
    verts = np.asarray(verts, dtype=np.float64)
    count = max(5, len(verts) // 500)
    centre_x = 0.5 * (verts[:, 0].max() + verts[:, 0].min())
    front = verts[np.argsort(verts[:, 2])[-count:]]
    if hint is None and faces is not None and len(faces):
        hint = _upright_nose(verts, faces)
    if hint is None:
        points = verts if len(verts) <= MAX_SAMPLES else verts[np.random.default_rng(0).choice(len(verts), MAX_SAMPLES,
                                                                                                replace=False)]
        peaks = [point for point, direction, _ in nose_candidates(points, cKDTree(points), np.array([1.0, 0.0, 0.0]),
                                                                  centre_x, count=3) if direction[2] > 0.5]
        hint = peaks[0] if peaks else None
    if hint is not None and np.linalg.norm(front.mean(0)[1:] - np.asarray(hint)[1:]) >= NOSE_AGREEMENT:
        near = verts[np.linalg.norm(verts - hint, axis=1) < 0.015]
        if len(near):
            front = near[np.argsort(near[:, 2])[-count:]]
    return np.array([centre_x, front[:, 1].mean(), front[:, 2].mean()])


def _upright_nose(verts: np.ndarray, faces: np.ndarray) -> np.ndarray | None:
    """(3,) the nose `find_orientation` finds on an upright face, or None where it does not read
    the face as upright (or finds none)."""
    try:
        found = find_orientation(verts, faces)
    except OrientationError:
        return None
    return found.nose_tip if (found.up, found.forward) == ("+y", "+z") else None


def _found_frame(verts: np.ndarray, faces: np.ndarray | None,
                 name: str) -> tuple[np.ndarray, str, float, np.ndarray | None]:
    """(rotation (3, 3) file → model, frame description, confidence, the nose found (3,) in the
    file's coordinates or None) from the face itself."""
    try:
        found = find_orientation(verts, faces, name=name)
    except OrientationError as error:
        warnings.warn(f"{error}. Keeping it as stored (y up, facing +z)", stacklevel=3)
        return axes_rotation("y", "z"), "as stored: up=+y forward=+z (no face found)", 0.0, None
    if found.confidence < MIN_FRAME_CONFIDENCE and (found.up, found.forward) != ("+y", "+z"):
        warnings.warn(f"{name}: unsure which way the face looks (it looks like {found.description}, confidence "
                      f"{found.confidence:.2f}), so it is kept as stored (y up, facing +z); pass up= and forward= "
                      f"(here up={found.up!r}, forward={found.forward!r}) to say how it is stored", stacklevel=3)
        return axes_rotation("y", "z"), f"as stored: up=+y forward=+z (found {found.description}, unsure)", \
            found.confidence, None
    if found.tilt_degrees and found.confidence >= MIN_TILT_CONFIDENCE:
        return found.rotation, f"found: {found.description}", found.confidence, found.nose_tip
    # Axis-aligned: exactly the rotation `up=`/`forward=` give, so both ways make the same bytes.
    return axes_rotation(found.up, found.forward), f"found: up={found.up} forward={found.forward}", found.confidence, \
        found.nose_tip


def fit_alignment(
    verts: np.ndarray,
    align: str = "auto",
    up: str | None = None,
    forward: str | None = None,
    reference_center: np.ndarray | None = None,
    name: str = "face",
    anchor: str = "bbox",
    faces: np.ndarray | None = None,
) -> Alignment:
    """The alignment of a face `verts` (V, 3) (`faces` (F, 3) or None) into the model frame.

    align "auto": units guessed from the bounding box (millimetres, centimetres or metres); the
    file's orientation found from the face itself (`scantalk.face.orientation.find_orientation`: any of
    the 24 axis-aligned orientations plus a tilt) unless `up` / `forward` name the file's axes;
    then the face's `anchor` moved onto `reference_center`: "bbox" the bounding-box centre (the
    training faces' centre), "nose" the tip of the nose (the training faces' mean nose tip) —
    the one point a full head, a face-only scan and a head with a long neck share, so a model
    that reads positions sees the mouth where it learned it. A found orientation other than the
    stored one is applied only when confident; otherwise the face stays as stored, with a
    warning naming the `up=` / `forward=` to pass. align "none": identity, or just the named axes
    (the face must already be in the training frame). A face that still looks implausible
    afterwards (not head-sized) gets a warning saying which option to set.
    """
    if anchor not in ANCHORS:
        raise ScanTalkError(f"alignment anchor must be one of {ANCHORS}, got {anchor!r}")
    if align not in ("auto", "none"):
        raise ScanTalkError(f"align must be 'auto' or 'none', got {align!r}")
    rotation = axes_rotation(up or "y", forward or "z")
    given = f"given: up={up or 'y'} forward={forward or 'z'}"
    if align == "none":
        alignment = Alignment(rotation=rotation.tolist(), mode="axes" if up or forward else "none",
                              frame=given if up or forward else Alignment.frame)
    else:
        frame, confidence, nose = given, 1.0, None
        if up is None and forward is None:
            rotation, frame, confidence, nose = _found_frame(verts, faces, name)
        scale, units = guess_units(verts)
        rotated = scale * verts @ rotation.T
        stray = stray_points(verts)
        if stray.any():
            warnings.warn(f"{name}: {int(stray.sum())} of its {len(verts)} vertices lie far from the rest (more than "
                          "the face's own size away); the units and the placement ignore them, but they will move "
                          "with nothing: remove them from the file if they are not part of the face", stacklevel=2)
        core = rotated[~stray]
        center = 0.5 * (core.max(0) + core.min(0))
        if anchor == "nose":
            # The nose found with the orientation, else looked for on the upright surface.
            hint = None if nose is None else scale * np.asarray(nose) @ rotation.T
            center = nose_tip(core, faces if hint is None and not stray.any() else None, hint)
        target = np.zeros(3) if reference_center is None else np.asarray(reference_center, dtype=np.float64)
        alignment = Alignment(scale, rotation.tolist(), (target - center).tolist(), units, "auto", frame, confidence)
    aligned = alignment.to_model(verts)
    aligned = aligned[~stray_points(aligned)]
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
    faces: np.ndarray | None = None,
) -> tuple[np.ndarray, Alignment]:
    """The face `verts` (V, 3) (file units; `faces` (F, 3) or None) in the model frame, and the
    alignment used.

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
    alignment = fit_alignment(verts, align, up, forward, reference_center, name=name, anchor=anchor, faces=faces)
    identity = (alignment.scale == 1.0 and np.array_equal(np.asarray(alignment.rotation), np.eye(3))
                and not np.any(alignment.offset))
    if identity:
        return np.asarray(verts, dtype=np.float64), alignment
    return alignment.to_model(verts).astype(np.float32).astype(np.float64), alignment


def file_frames(mesh: Mesh, alignment: Alignment) -> Callable[[np.ndarray], np.ndarray]:
    """(t, V, 3) displacements in the model frame (metres) → (t, V, 3) float32 frames of `mesh`
    in its file's vertex order and units."""
    # Displacements are vectors: rotate and rescale them, never offset them, so a still
    # face maps back exactly onto the file's own coordinates.
    # float32 throughout: a float64 rotation would double every chunk's copies.
    rotation = (np.asarray(alignment.rotation) / alignment.scale).astype(np.float32)
    neutral = mesh.file_verts[None].astype(np.float32)

    def to_file(chunk: np.ndarray) -> np.ndarray:
        moved = mesh.to_file_order(np.asarray(chunk, dtype=np.float32) @ rotation)
        moved += neutral
        return moved

    return to_file
