"""Networks built from the `nn` layers: ScanTalk and its optional emotion head."""

from scantalk.model.conditioning import EmotionConditioning
from scantalk.model.scantalk import ScanTalk

__all__ = ["EmotionConditioning", "ScanTalk"]
