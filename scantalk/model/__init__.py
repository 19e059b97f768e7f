"""The two models, built from the `nn` layers, each with one typed config whose defaults ship.

- `ArticulatedTalker` / `ArticulatedConfig` (`scantalk.model.articulated`): the shipped default.
  Speech → an editable articulation track (the phonetic front end, or the learned
  `SpeechArticulator`) → a DiffusionNet `LandmarkDecoder` that places the rig on any face.
- `ScanTalk` / `ScanTalkConfig` (`scantalk.model.scantalk`, `scantalk.model.config`): the
  end-to-end model of the paper, audio features → DiffusionNet on the face's Laplacian
  eigenbasis → per-vertex displacements, trained on registered (VOCASET-like) or unregistered
  4D data.
- `EmotionConditioning` and `ExpressionHead`: the optional emotion inputs and head.
"""

from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker
from scantalk.model.conditioning import EmotionConditioning
from scantalk.model.config import ScanTalkConfig
from scantalk.model.expression_head import ExpressionHead
from scantalk.model.scantalk import ScanTalk

__all__ = ["ArticulatedConfig", "ArticulatedTalker", "EmotionConditioning", "ExpressionHead", "ScanTalk",
           "ScanTalkConfig"]
