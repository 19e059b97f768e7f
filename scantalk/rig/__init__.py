"""The rig placed from a face's landmarks: articulation (T, 5) → per-vertex motion (T, V, 3).

Inference and the training data both drive faces with it; nothing here imports training code.

- `rig_basis`, `rig_displacement`, `rig_inputs`, `RIG_INPUTS`, `head_slit`, `sealed`,
  `lip_opening`, `lip_vertices`, `region_masks`, `face_regions`, `FaceRegions`, `RigError`
  (`scantalk.rig.rig`): the motion basis and the smooth regions of the face it moves.
- `face_frame`, `FaceFrame`: the face frame every weight is read in; they live in
  `scantalk.face.frame` and are re-exported here for code that found them in the rig.
- `mouth_slit`, `MouthSlit`, `cut_slit` (`scantalk.rig.slit`): which vertices belong to which
  lip, read from the surface, and fused lips opened along the lip line.
- `mouth_on_slit` (`scantalk.rig.mouth_landmarks`): the mouth landmarks moved onto that slit.
- `visible_aperture`, `MouthProbe` (`scantalk.rig.aperture`): how far apart the lips look to a
  viewer in front of the face, (T,) metres.
"""

from scantalk.face.frame import FaceFrame, face_frame
from scantalk.rig.aperture import MouthProbe, visible_aperture
from scantalk.rig.rig import (
    RIG_INPUTS, FaceRegions, RigError, face_regions, head_slit, lip_opening, lip_vertices, region_masks, rig_basis,
    rig_displacement, rig_inputs, sealed,
)
from scantalk.rig.mouth_landmarks import mouth_on_slit
from scantalk.rig.slit import MouthSlit, cut_slit, mouth_slit

__all__ = [
    "RIG_INPUTS",
    "FaceFrame",
    "FaceRegions",
    "MouthProbe",
    "MouthSlit",
    "RigError",
    "cut_slit",
    "face_frame",
    "face_regions",
    "head_slit",
    "lip_opening",
    "lip_vertices",
    "mouth_on_slit",
    "mouth_slit",
    "region_masks",
    "rig_basis",
    "rig_displacement",
    "rig_inputs",
    "sealed",
    "visible_aperture",
]
