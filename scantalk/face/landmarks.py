"""The landmarks a face was animated from, as a user sees and corrects them: `landmarks.json`.

Every articulated animation records the ten points its rig was placed from (mouth corners, lip
midlines, chin, nose tip, eye centres, jaw hinges) in the face file's own coordinates and units,
with the mouth slit the surface showed. A user who finds a point misplaced edits the file (or
passes a dict) and animates again with `landmarks=`; points left out are still found.

    {"units": "file", "points": {"mouth_left": [x, y, z], ...}, "mouth_slit": {"kind": "open", ...}}
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from scantalk.errors import LandmarksError
from scantalk.face.head import FaceLandmarks

LANDMARK_NAMES: tuple[str, ...] = tuple(f.name for f in fields(FaceLandmarks))
"""The landmark names, in `FaceLandmarks` order."""


# Metres the nose tip stands in front of the skin 2.5-4 cm around it, at least (a sphere the size
# of a head: 5 mm; the flattest procedural, stylised or real nose here: well over 10 mm).
NOSE_PROTRUSION = 0.008
# Metres a face's surface reaches above its eyes' centres, at least: brow and forehead (a face
# cropped tight at the hairline: 40 mm; a lower-face or mouth-only crop, on which a finder
# squeezes a whole face: under 10 mm).
EYES_BELOW_TOP = 0.015


def landmarks_record(points: np.ndarray, slit: dict | None = None, alignment: dict | None = None) -> dict:
    """What `landmarks.json` holds: `points` (10, 3) in the file's coordinates by name, the slit
    summary and the alignment that maps the file into the model frame."""
    return {"units": "file", "points": {name: [float(v) for v in point] for name, point in zip(LANDMARK_NAMES, points)},
            "mouth_slit": slit, "alignment": alignment}


def read_landmarks(landmarks: str | Path | Mapping[str, Any] | FaceLandmarks) -> dict[str, np.ndarray]:
    """Landmarks a user gives → {name: (3,) point in the face file's coordinates}.

    Args:
        landmarks: a `landmarks.json` path (as an animation saved it, or just {name: [x, y, z]}),
            a dict of the same, or a `FaceLandmarks` (all ten points, file coordinates).

    Raises:
        LandmarksError: unreadable file, unknown names, or points that are not 3 finite numbers.
    """
    if isinstance(landmarks, FaceLandmarks):
        return dict(zip(LANDMARK_NAMES, landmarks.as_array()))
    source = "landmarks"
    if isinstance(landmarks, (str, Path)):
        source = str(landmarks)
        try:
            landmarks = json.loads(Path(landmarks).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise LandmarksError(f"{source}: cannot read it as landmarks JSON ({error}); write it as "
                                 '{"points": {"mouth_left": [x, y, z], ...}} or use a landmarks.json an animation saved') from None
    if not isinstance(landmarks, Mapping):
        raise LandmarksError(f"{source}: landmarks must be a mapping of names to [x, y, z], got {type(landmarks).__name__}")
    points = landmarks.get("points", landmarks)
    if not isinstance(points, Mapping):
        raise LandmarksError(f"{source}: 'points' must map landmark names to [x, y, z]")
    unknown = sorted(set(points) - set(LANDMARK_NAMES))
    if unknown:
        raise LandmarksError(f"{source}: unknown landmark names {unknown}; the names are {list(LANDMARK_NAMES)}")
    out = {}
    for name, value in points.items():
        try:
            point = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            point = np.full(0, np.nan)
        if point.shape != (3,) or not np.isfinite(point).all():
            raise LandmarksError(f"{source}: landmark {name!r} must be 3 finite numbers [x, y, z] in the face file's "
                                 f"units, got {value!r}")
        out[name] = point
    return out


def merged(found: FaceLandmarks, given: Mapping[str, np.ndarray]) -> FaceLandmarks:
    """`found` with the points of `given` (same frame) put in their place."""
    points = found.as_array()
    for name, point in given.items():
        points[LANDMARK_NAMES.index(name)] = point
    return FaceLandmarks.from_array(points)


def implausible(landmarks: FaceLandmarks, verts: np.ndarray) -> list[str]:
    """What is wrong with landmarks placed on a face (V, 3) in the model frame (y up, facing +z,
    metres), as sentences; empty when they look like a face. Checks that hold for any human or
    stylised head: the mouth lies between the nose and the chin, the lips one above the other,
    the eyes above the nose and on the mesh (a lower-face crop has none), the corners either side
    of the midline, the points on the head."""
    problems = []
    lm = landmarks
    eyes = 0.5 * (lm.eye_left + lm.eye_right)
    mouth = lm.mouth_centre
    if not lm.chin[1] < mouth[1] < lm.nose_tip[1] < eyes[1]:
        problems.append("the mouth is not between the chin and the nose, below the eyes")
    if lm.upper_lip[1] <= lm.lower_lip[1]:
        problems.append("the upper lip is not above the lower lip")
    midline = 0.5 * (lm.eye_left[0] + lm.eye_right[0])
    if not lm.mouth_left[0] > midline > lm.mouth_right[0]:
        problems.append("the mouth corners are not either side of the face's midline")
    # A nose stands out of the face: the skin a few centimetres around its tip lies well behind it.
    # The surface's most forward point within 1.5 cm of the nose tip placed (a finder may be a
    # centimetre off): on the surface, not floating in front of it.
    near = np.flatnonzero(np.linalg.norm(verts - lm.nose_tip, axis=1) < 0.015)
    tip = verts[near[np.argmax(verts[near, 2])]] if near.size else lm.nose_tip
    lateral = np.linalg.norm(verts[:, :2] - tip[:2], axis=1)
    ring = (lateral > 0.025) & (lateral < 0.04) & (verts[:, 2] > tip[2] - 0.06)
    if ring.sum() >= 8 and tip[2] - np.median(verts[ring, 2]) < NOSE_PROTRUSION:
        problems.append("no nose stands out where the nose tip was placed")
    low, high = verts.min(axis=0), verts.max(axis=0)
    if high[1] - eyes[1] < EYES_BELOW_TOP:
        problems.append("the mesh ends at or below its eyes: it looks like a crop of the lower face (a mouth-only "
                        "mesh), and the mouth's motion is sized by the distance from the eyes to the mouth, so give "
                        "the whole face, brow included")
    margin = 0.02
    surface = np.stack([lm.mouth_left, lm.mouth_right, lm.upper_lip, lm.lower_lip, lm.chin, lm.nose_tip])
    if ((surface < low - margin) | (surface > high + margin)).any():
        problems.append("some points lie off the head")
    return problems
