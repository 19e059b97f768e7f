"""What a face is and how it is read: the head record, its landmarks, which way it looks.

Inference and the training data both build on these; nothing here imports training code.

- `Head`, `FaceLandmarks`, `PARTS`, `eyeball_parts` (`scantalk.face.head`): a neutral surface
  in FLAME's frame with the ten landmarks a rig is placed from.
- `LANDMARK_NAMES`, `read_landmarks`, `LandmarksError` (`scantalk.face.landmarks`): the
  `landmarks.json` a user reads and corrects.
- `find_orientation`, `Orientation`, `OrientationError` (`scantalk.face.orientation`): which way
  a stored face looks, from its geometry alone.
- `face_frame`, `FaceFrame` (`scantalk.face.frame`): the face's own frame from its landmarks
  (origin at the mouth, x left, y up, z forward, a size scale), which the rig is placed in.
- `Alignment`, `fit_alignment`, `aligned_template` (`scantalk.face.alignment`, not imported
  here): the exact similarity transform between a file's frame and the model's, and back.
- `real_face`, `REAL_FACES` (`scantalk.face.samples`, not imported here): the sample faces that
  ship with scantalk (the james scan, MediaPipe's canonical face) as heads ready to animate.
"""

from scantalk.face.frame import FaceFrame, face_frame
from scantalk.face.head import PARTS, FaceLandmarks, Head, eyeball_parts
from scantalk.face.landmarks import LANDMARK_NAMES, LandmarksError, read_landmarks
from scantalk.face.orientation import Orientation, OrientationError, find_orientation

__all__ = [
    "LANDMARK_NAMES",
    "PARTS",
    "FaceFrame",
    "FaceLandmarks",
    "Head",
    "LandmarksError",
    "Orientation",
    "OrientationError",
    "eyeball_parts",
    "face_frame",
    "find_orientation",
    "read_landmarks",
]
