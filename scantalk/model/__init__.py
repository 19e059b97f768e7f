"""Networks built from the `nn` layers: ScanTalk (its typed config) and its optional emotion head."""

from scantalk.model.conditioning import EmotionConditioning
from scantalk.model.config import ScanTalkConfig
from scantalk.model.scantalk import ScanTalk

__all__ = ["EmotionConditioning", "ScanTalk", "ScanTalkConfig"]
