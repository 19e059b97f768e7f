"""The mouth close-up: where the mouth is in an animation, and a camera framed on it.

A whole head at video resolution leaves the mouth a few dozen pixels wide, too small to judge
whether the lips part. The close-up frames the mouth so it spans about half the picture. The
mouth is found from the face's landmarks when the animation carries them, otherwise from the
motion itself: in speech the lips and the jaw move most.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from scantalk.errors import ScanTalkError
from scantalk.face.landmarks import LANDMARK_NAMES, read_landmarks
from scantalk.frames import frame_chunks
from scantalk.geometry.topology import boundary_edges
from scantalk.render.camera import Camera, check_points, check_rotation

# Fraction of the close-up's width the mouth spans: wide enough to judge the lips, with room
# for the chin below and the nose above.
MOUTH_FILL = 0.5
# The landmarks that place the mouth: its corners, then its upper and lower midline points.
_MOUTH_POINTS = ("mouth_left", "mouth_right", "upper_lip", "lower_lip")
# Vertices moving at least this fraction of the (robust) largest motion form the moving region.
_MOVING_FRACTION = 0.5
# Motion below this fraction of the face's size is no motion (a still or a numerically static animation).
_STILL_FRACTION = 1e-4
# The open mouth moves at least this fraction of the largest motion, on average over its rim (the
# upper lip may hardly move).
_HOLE_FRACTION = 0.2
# A mouth found from motion is at least / at most this fraction of the face's width.
_MOUTH_WIDTH_RANGE = (0.2, 0.6)


@dataclass(frozen=True)
class MouthRegion:
    """Where the mouth is, in the frames' coordinates and length unit.

    centre: (3,) the middle of the mouth, on the lips · width: corner to corner (or the width of
    the region that moves most) · source: "landmarks" or "motion", how it was found.
    """

    centre: np.ndarray
    width: float
    source: str


def mouth_from_landmarks(landmarks: np.ndarray | Mapping[str, Any]) -> MouthRegion:
    """The mouth from a face's landmarks (e.g. `Animation.meta["landmarks"]`).

    Args:
        landmarks: (10, 3) points in `LANDMARK_NAMES` order (mouth_left, mouth_right,
            upper_lip, lower_lip, chin, nose_tip, eye_left, eye_right, jaw_hinge_left,
            jaw_hinge_right), or what `landmarks.json` holds (`{"points": {name: [x, y, z]}}`, or
            just the name → point mapping) with at least the four mouth points; in the frames'
            coordinates.

    Returns:
        The region centred between the lip corners and lip midpoints, as wide as the corners.

    Raises:
        ScanTalkError: the landmarks are in neither form, lack a mouth point, or put both mouth
            corners at one point.
    """
    if isinstance(landmarks, Mapping):
        named = read_landmarks(landmarks)
        missing = [name for name in _MOUTH_POINTS if name not in named]
        if missing:
            raise ScanTalkError(f"the landmarks lack {', '.join(missing)}; the mouth close-up needs "
                                f"{', '.join(_MOUTH_POINTS)}.")
        points = np.stack([named[name] for name in _MOUTH_POINTS])
    else:
        array = np.asarray(landmarks, dtype=np.float64)
        if array.shape != (len(LANDMARK_NAMES), 3):
            raise ScanTalkError(f"landmarks must be ({len(LANDMARK_NAMES)}, 3) points in the order "
                                f"{', '.join(LANDMARK_NAMES)}; got shape {array.shape}.")
        points = array[[LANDMARK_NAMES.index(name) for name in _MOUTH_POINTS]]
    points = check_points(points, "The mouth landmarks")
    width = float(np.linalg.norm(points[0] - points[1]))
    if width <= 0.0:
        raise ScanTalkError("the landmarks put both mouth corners at one point; fix mouth_left / mouth_right.")
    return MouthRegion(centre=points.mean(axis=0), width=width, source="landmarks")


def mouth_from_motion(frames: np.ndarray, faces: np.ndarray | None = None,
                      rotation: np.ndarray | None = None) -> MouthRegion:
    """The mouth as the part of the face that moves most over the animation.

    Args:
        frames: (T, V, 3) an array or a `FrameStore` (read a chunk at a time).
        faces: (F, 3) the mesh's triangles, or None for a point cloud.
        rotation: (3, 3) the face's right, up and forward directions as rows (see
            `Camera.framing`); None: x right, y up, the face looks towards +z.

    Returns:
        On a mesh whose mouth is open as a slit: the hole (a loop of boundary edges) at most
        60 % of the face's width that moves most, if it moves at least a fifth as much as the
        face's largest motion. Otherwise the
        region swept by the vertices moving at least half as much (lips and jaw, in speech),
        taken as twice the mouth's width. Centred as seen from the front, on the region's
        front-most plane; the width is kept within 20-60 % of the face's. When nothing moves,
        the middle of the face at half its width.
    """
    low = high = None
    for chunk in frame_chunks(frames):
        chunk = np.asarray(chunk, dtype=np.float64)
        low = chunk.min(axis=0) if low is None else np.minimum(low, chunk.min(axis=0))
        high = chunk.max(axis=0) if high is None else np.maximum(high, chunk.max(axis=0))
    if low is None:
        raise ScanTalkError("an animation with no frames has no mouth to frame.")
    rotation = check_rotation(rotation)
    local = check_points(np.asarray(frames[0]), "The first frame") @ rotation.T
    face_low, face_high = local.min(axis=0), local.max(axis=0)
    face_width = float(face_high[0] - face_low[0])
    amplitude = np.linalg.norm(high - low, axis=1)
    # A robust peak: a few stray vertices (scan debris) must not define "most".
    peak = float(np.quantile(amplitude, 0.995))
    if peak <= _STILL_FRACTION * float(np.max(face_high - face_low)):
        middle = 0.5 * (face_low + face_high)
        centre = np.array([middle[0], middle[1], face_high[2]]) @ rotation
        return MouthRegion(centre=centre, width=0.5 * face_width, source="motion")
    widest = _MOUTH_WIDTH_RANGE[1] * face_width
    slit = None if faces is None else _moving_hole(np.asarray(faces), amplitude, peak, local[:, 0], widest)
    if slit is not None:
        region_low, region_high = local[slit].min(axis=0), local[slit].max(axis=0)
        width = region_high[0] - region_low[0]
    else:
        moving = local[amplitude >= _MOVING_FRACTION * peak]
        region_low, region_high = np.percentile(moving, [2.0, 98.0], axis=0)
        # Lips and jaw sweep about twice the mouth's width (and height): frame all of it.
        width = 2.0 * MOUTH_FILL * float(np.max(region_high[:2] - region_low[:2]))
    width = float(np.clip(width, *(face_width * np.asarray(_MOUTH_WIDTH_RANGE))))
    centre_local = np.array([0.5 * (region_low[0] + region_high[0]), 0.5 * (region_low[1] + region_high[1]),
                             region_high[2]])
    return MouthRegion(centre=centre_local @ rotation, width=width, source="motion")


def mouth_camera(region: MouthRegion, rotation: np.ndarray | None = None, resolution: int = 512,
                 fill: float = MOUTH_FILL, fov_degrees: float = 20.0) -> Camera:
    """A camera in front of the mouth, framing it so it spans `fill` of the picture's width.

    Args:
        region: where the mouth is.
        rotation: (3, 3) the face's right, up and forward directions as rows (None: y up, +z forward).
        resolution: pixels per side of the square picture.
        fill: the fraction of the width the mouth spans, in (0, 1].
        fov_degrees: the vertical field of view.

    Returns:
        The close-up camera, to be kept for the whole sequence.
    """
    if not 0.0 < fill <= 1.0:
        raise ScanTalkError(f"fill must lie in (0, 1], the fraction of the picture the mouth spans; got {fill}.")
    return Camera.looking_at(region.centre, region.width / (2.0 * fill), rotation, resolution, fov_degrees)


def _moving_hole(faces: np.ndarray, amplitude: np.ndarray, peak: float, across: np.ndarray,
                 widest: float) -> np.ndarray | None:
    """Vertex indices of the hole in the mesh (a loop of edges used by one triangle) whose vertices
    move most on average, among holes at most `widest` wide along `across` (V,) (the left-right
    coordinate), if it moves at least `_HOLE_FRACTION` of `peak`; else None. The open mouth of a
    scan or mask is such a hole; a mask's rim is too wide, the neck and the eyes move far less."""
    boundary = boundary_edges(faces)
    if len(boundary) < 3:
        return None
    vertices, paired = np.unique(boundary, return_inverse=True)
    paired = paired.reshape(-1, 2)
    graph = coo_matrix((np.ones(len(paired)), (paired[:, 0], paired[:, 1])), shape=(len(vertices),) * 2)
    count, loop = connected_components(graph, directed=False)
    sizes = np.bincount(loop, minlength=count)
    mean_motion = np.bincount(loop, weights=amplitude[vertices], minlength=count) / sizes
    left, right = np.full(count, np.inf), np.full(count, -np.inf)
    np.minimum.at(left, loop, across[vertices])
    np.maximum.at(right, loop, across[vertices])
    mean_motion[(right - left > widest) | (sizes < 4)] = -np.inf
    best = int(np.argmax(mean_motion))
    if mean_motion[best] < _HOLE_FRACTION * peak:
        return None
    return vertices[loop == best]
