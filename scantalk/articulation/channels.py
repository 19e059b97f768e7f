"""The articulation channels: a small, named description of what the mouth does in one frame.

Every part of the factored pipeline speaks this vocabulary: phones → articulation targets
(`scantalk.articulation`), a rig that turns articulation into per-vertex motion on a head
(`scantalk.rig.rig`), the audio → articulation network and the DiffusionNet decoder that
learns the rig on any mesh. Each channel is dimensionless, 0 at rest and 1 at its full extent;
`CHANNEL_UNITS` says what 1 means on an average adult head.
"""

from __future__ import annotations

ARTICULATION_CHANNELS: tuple[str, ...] = ("jaw_open", "lip_close", "lip_round", "lip_spread", "labiodental")

CHANNEL_UNITS: dict[str, str] = {
    "jaw_open": "1 = jaw rotated down about its hinge until the chin drops about 14 mm (a wide 'aa')",
    "lip_close": "1 = lips brought together at the mouth line and lightly pressed (p, b, m)",
    "lip_round": "1 = lips pushed forward about 6 mm and the mouth narrowed by about a third (uw, w)",
    "lip_spread": "1 = mouth corners pulled outwards and back about 5 mm each (iy, s)",
    "labiodental": "1 = lower lip raised and drawn back under the upper teeth (f, v)",
}

NUM_CHANNELS = len(ARTICULATION_CHANNELS)
