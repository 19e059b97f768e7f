"""A face alive beyond its mouth: blinks, gaze, brows and head motion from the speech.

`life_from_speech` draws a `LifeTrack` (named channels with units, `LIFE_CHANNELS`) from a
recording; `LifeRig` decodes it onto any head (lids over separate eyeballs, eyes in the skin or
closed eyes; eyeballs turned rigidly; the head about a neck pivot). `Animator.animate(...,
life=1.0)` does both; `animate_track(..., life=track)` takes an edited track.

```python
from scantalk import Animator
from scantalk.life import LifeTrack

animation = Animator.from_checkpoint().animate("face.ply", "speech.wav", life=1.0, life_groups=["blinks", "head"])
track = animation.life.with_channel("head_yaw", animation.life["head_yaw"] * 0.5)  # calmer head turns
again = Animator.from_checkpoint().animate_track("face.ply", animation.articulation, life=track)
```
"""

from scantalk.life.channels import LIFE_CHANNELS, LIFE_GROUPS, LIFE_LIMITS, LIFE_UNITS
from scantalk.life.motion import life_from_speech
from scantalk.life.rig import LifeRig, lid_gaps, lid_margins
from scantalk.life.track import LifeError, LifeTrack

__all__ = ["LIFE_CHANNELS", "LIFE_GROUPS", "LIFE_LIMITS", "LIFE_UNITS", "LifeError", "LifeRig", "LifeTrack",
           "lid_gaps", "lid_margins", "life_from_speech"]
