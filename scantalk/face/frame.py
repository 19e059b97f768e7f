"""The face's own frame, read from its landmarks: where the mouth is, which way is up and forward,
and how large the face is.

The rig places every weight in this frame, the mouth slit is found in it, and the face's life
and expressions are scaled by it, so two meshings of one head agree on it.

    frame = face_frame(head)          # FaceFrame: origin (3,), axes (3, 3), scale
    local = frame.local(head.verts)   # (V, 3) metres: x to the head's left, y up, z forward
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scantalk.errors import RigError
from scantalk.face.head import Head


@dataclass(frozen=True)
class FaceFrame:
    """A face frame from the landmarks: origin at the mouth centre, x towards the head's left
    corner, y up (towards the eyes), z forward; `scale` = eye-to-mouth distance / 0.07 m."""

    origin: np.ndarray
    axes: np.ndarray  # (3, 3) rows x, y, z
    scale: float

    def local(self, points: np.ndarray) -> np.ndarray:
        """Points (N, 3) in the frame (metres)."""
        return (np.asarray(points, dtype=np.float64) - self.origin) @ self.axes.T


def face_frame(head: Head) -> FaceFrame:
    """The `FaceFrame` of `head`'s landmarks.

    Raises:
        RigError: the mouth corners or the eyes coincide, so no frame can be placed.
    """
    lm = head.landmarks
    origin = lm.mouth_centre
    ex = lm.mouth_left - lm.mouth_right
    up = 0.5 * (lm.eye_left + lm.eye_right) - origin
    if np.linalg.norm(ex) < 1e-6 or np.linalg.norm(up) < 1e-6:
        raise RigError(f"head '{head.name}': its mouth corners or eyes coincide, so no face frame can be placed; "
                       "check the landmarks")
    ex = ex / np.linalg.norm(ex)
    # "Up" across the mouth slit is best read from the lips themselves (the slit is a thin
    # horizontal gap, so a tilted axis would misplace vertices just inside it); lips that touch
    # give no direction, and then the eyes do.
    lips = lm.upper_lip - lm.lower_lip
    lips = lips - (lips @ ex) * ex
    ey = lips if np.linalg.norm(lips) > 0.003 else up - (up @ ex) * ex
    ey /= np.linalg.norm(ey)
    return FaceFrame(origin, np.stack([ex, ey, np.cross(ex, ey)]), float(np.linalg.norm(up) / 0.07))
