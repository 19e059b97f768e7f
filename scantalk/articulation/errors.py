"""The articulation package's user-facing error."""

from __future__ import annotations

from scantalk.errors import ScanTalkError


class ArticulationError(ScanTalkError):
    """Phones, an articulation track or a track file that cannot be used (unknown phone or channel,
    NaN, values far outside 0..1, a non-positive frame rate, a file written by something else)."""
