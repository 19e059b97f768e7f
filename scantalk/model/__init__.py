"""Networks built from the `nn` layers: ScanTalk."""

from scantalk.model.scantalk import ScanTalk

__all__ = ["ScanTalk"]
