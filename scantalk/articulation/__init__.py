"""Articulation: what the mouth does, as a few named curves in 0..1 (jaw opening, lip closure,
rounding, spreading, labiodental contact).

```python
from scantalk.articulation import articulation_from_phones, ArticulationTrack

track = articulation_from_phones([("SIL", 0, 0.2), ("M", 0.2, 0.28), ("AA", 0.28, 0.45)], fps=30)
track["jaw_open"]                         # (T,) float32
track.with_channel("lip_round", 0.5 * track["lip_round"]).save_csv("mouth.csv")
ArticulationTrack.load_csv("mouth.csv").plot()
```
"""

from scantalk.articulation.channels import ARTICULATION_CHANNELS, CHANNEL_UNITS, NUM_CHANNELS
from scantalk.articulation.coarticulation import ArticulationStyle, articulation_from_phones
from scantalk.articulation.phones import ARPABET_PHONES, PHONE_INVENTORY, SILENCE, Phone, TimedPhone, frame_labels, normalise_phones
from scantalk.articulation.targets import PHONE_TARGETS
from scantalk.articulation.track import ArticulationTrack
from scantalk.articulation.visemes import VISEME_CLASSES, VISEMES, phone_agreement, viseme_agreement
from scantalk.errors import ArticulationError

__all__ = [
    "ARPABET_PHONES",
    "ARTICULATION_CHANNELS",
    "ArticulationError",
    "ArticulationStyle",
    "ArticulationTrack",
    "CHANNEL_UNITS",
    "NUM_CHANNELS",
    "PHONE_INVENTORY",
    "PHONE_TARGETS",
    "Phone",
    "SILENCE",
    "TimedPhone",
    "VISEMES",
    "VISEME_CLASSES",
    "articulation_from_phones",
    "frame_labels",
    "normalise_phones",
    "phone_agreement",
    "viseme_agreement",
]
