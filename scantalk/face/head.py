"""What every head is, at inference and in training: a neutral surface in FLAME's frame plus the
landmarks a rig needs.

Frame and units follow FLAME: metres, y up, the face looks towards +z, the head about 0.15-0.18 m
wide and centred near the origin. A face the user brings becomes a `Head` at inference; procedural
heads (`scantalk.synthesis.heads.procedural`) and the sample faces (`scantalk.face.samples`) deformed
into new identities (`scantalk.synthesis.heads.real`) produce them for training; `scantalk.synthesis.heads.meshing` remeshes,
decimates, subdivides, samples point clouds and permutes them; `scantalk.rig.rig` turns
articulation into per-vertex motion from the landmarks alone, so every meshing of one head moves
the same way at the same surface point.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from scantalk.geometry.topology import mesh_pieces


@dataclass(frozen=True)
class FaceLandmarks:
    """Points (3,) in metres on the neutral surface (the jaw hinges lie inside the head).

    mouth_left / mouth_right: lip corners (x > 0 is the head's left) · upper_lip / lower_lip:
    outer vermilion points on the midline · chin: the most forward point of the chin ·
    nose_tip · eye_left / eye_right: eyeball centres · jaw_hinge_left / jaw_hinge_right: the
    jaw's rotation centres (condyles), just in front of the ears.
    """

    mouth_left: np.ndarray
    mouth_right: np.ndarray
    upper_lip: np.ndarray
    lower_lip: np.ndarray
    chin: np.ndarray
    nose_tip: np.ndarray
    eye_left: np.ndarray
    eye_right: np.ndarray
    jaw_hinge_left: np.ndarray
    jaw_hinge_right: np.ndarray

    @property
    def mouth_centre(self) -> np.ndarray:
        """(3,) midway between the lip corners and the two lip midline points."""
        return 0.25 * (self.mouth_left + self.mouth_right + self.upper_lip + self.lower_lip)

    @property
    def jaw_hinge(self) -> np.ndarray:
        """(3,) the jaw's rotation axis passes through this point, along the hinge-to-hinge line."""
        return 0.5 * (self.jaw_hinge_left + self.jaw_hinge_right)

    @property
    def mouth_width(self) -> float:
        """Corner-to-corner distance in metres."""
        return float(np.linalg.norm(self.mouth_left - self.mouth_right))

    def as_array(self) -> np.ndarray:
        """(10, 3) in field order (for saving and for transforming all points at once)."""
        return np.stack([np.asarray(getattr(self, f.name), dtype=np.float64) for f in fields(self)])

    @classmethod
    def from_array(cls, points: np.ndarray) -> "FaceLandmarks":
        """The inverse of `as_array`: points (10, 3) in field order."""
        points = np.asarray(points, dtype=np.float64)
        return cls(*[points[i].copy() for i in range(len(fields(cls)))])

    def transformed(self, fn) -> "FaceLandmarks":
        """Landmarks moved by `fn`, a map of points (N, 3) → (N, 3) (a warp, a rotation, a scaling)."""
        return FaceLandmarks.from_array(fn(self.as_array()))


@dataclass
class Head:
    """A neutral head (a face to animate, a training head): verts (V, 3) float64 metres, faces
    (F, 3) int64 or None for a point cloud, landmarks, a name saying where it came from, and
    optional per-vertex part labels (V,) int8 (`PARTS`) so a rig can keep eyeballs rigid."""

    verts: np.ndarray
    faces: np.ndarray | None
    landmarks: FaceLandmarks
    name: str
    parts: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def num_vertices(self) -> int:
        return int(self.verts.shape[0])

    def with_geometry(self, verts: np.ndarray, faces: np.ndarray | None, parts: np.ndarray | None,
                      suffix: str) -> "Head":
        """The same identity (landmarks) on other vertices, e.g. after remeshing; name gets `suffix`."""
        return replace(self, verts=verts, faces=faces, parts=parts, name=f"{self.name}/{suffix}", meta=dict(self.meta))


PARTS: dict[str, int] = {"skin": 0, "eyeball": 1, "teeth": 2}
"""Part labels in `Head.parts`."""


def eyeball_parts(verts: np.ndarray, faces: np.ndarray | None, landmarks: FaceLandmarks,
                  radius: float = 0.02) -> np.ndarray | None:
    """Part labels (V,) int8 marking separate eyeball meshes, or None when a face has none.

    An eyeball is a connected piece of the mesh other than the largest (the skin) that holds
    under a quarter of its vertices and lies within `radius` (metres) of an eye landmark (the eyeball centres): scans and
    registered templates often carry the eyes as their own closed surfaces, which a lid or brow
    must not bend. Point clouds (no faces) have no pieces, so nothing is marked.
    """
    if faces is None or len(faces) == 0:
        return None
    count = len(verts)
    _, piece = mesh_pieces(faces, count)
    sizes = np.bincount(piece)
    parts = np.zeros(count, dtype=np.int8)
    for label in np.flatnonzero((sizes < 0.25 * count) & (np.arange(len(sizes)) != np.argmax(sizes))):
        members = piece == label
        centre = verts[members].mean(axis=0)
        if min(np.linalg.norm(centre - landmarks.eye_left), np.linalg.norm(centre - landmarks.eye_right)) < radius:
            parts[members] = PARTS["eyeball"]
    return parts if parts.any() else None
