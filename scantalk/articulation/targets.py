"""Per-phone articulation targets and dominances: what each ARPAbet phone asks of the mouth.

Each phone has, per channel of `ARTICULATION_CHANNELS`, a *target* (0 = rest, 1 = full extent)
and a *dominance* (how strongly the phone insists on that target against its neighbours; Cohen &
Massaro, 1993). Vowels set the jaw by vowel height and insist that the lips stay apart;
bilabials (p, b, m) and labiodentals (f, v) insist on contact so they reach it whatever
surrounds them; rounding on consonants that do not care about it (t, s, k...) is weak, so a
rounded vowel's protrusion spreads across them, as in "stoop"; /h/ is transparent (it takes the
shape of the vowel that follows). Diphthongs are two targets, one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scantalk.articulation.channels import ARTICULATION_CHANNELS, NUM_CHANNELS
from scantalk.articulation.phones import PHONE_INVENTORY, SILENCE


@dataclass(frozen=True)
class PhoneTarget:
    """One articulatory goal: per channel (in `ARTICULATION_CHANNELS` order) a target in 0..1 and a
    dominance > 0 (relative weight in the coarticulation blend)."""

    target: tuple[float, ...]
    dominance: tuple[float, ...]


def _goal(jaw: float = 0.0, close: float = 0.0, rnd: float = 0.0, spread: float = 0.0, labio: float = 0.0, *,
          dominance: tuple[float, float, float, float, float]) -> PhoneTarget:
    return PhoneTarget((jaw, close, rnd, spread, labio), dominance)


def _vowel(jaw: float, rnd: float, spread: float) -> PhoneTarget:
    # Lips must be apart and off the teeth for any vowel (dominance 1 on closure and contact); a
    # rounded vowel resists spreading and a spread one resists rounding, a neutral one lets both in.
    round_dominance = 1.0 if rnd >= 0.4 else (0.6 if spread >= 0.4 else 0.4)
    spread_dominance = 1.0 if spread >= 0.4 else (0.8 if rnd >= 0.4 else 0.4)
    return _goal(jaw, 0.0, rnd, spread, 0.0, dominance=(1.0, 1.0, round_dominance, spread_dominance, 1.0))


_BILABIAL = _goal(0.06, 1.0, dominance=(1.0, 9.0, 0.15, 0.3, 1.0))
_LABIODENTAL = _goal(0.1, 0.0, 0.0, 0.1, 1.0, dominance=(0.8, 1.0, 0.2, 0.3, 9.0))
_DENTAL = _goal(0.18, 0.0, 0.0, 0.15, dominance=(0.5, 1.0, 0.2, 0.3, 1.0))
_ALVEOLAR = _goal(0.18, 0.0, 0.0, 0.15, dominance=(0.4, 0.6, 0.15, 0.2, 0.6))
_SIBILANT = _goal(0.1, 0.0, 0.0, 0.45, dominance=(0.8, 0.8, 0.3, 0.5, 0.8))
_POSTALVEOLAR = _goal(0.12, 0.0, 0.65, 0.0, dominance=(0.7, 0.8, 0.9, 0.6, 0.8))
_VELAR = _goal(0.25, dominance=(0.25, 0.5, 0.1, 0.1, 0.5))

PHONE_TARGETS: dict[str, tuple[PhoneTarget, ...]] = {
    # Monophthongs: jaw by vowel height (open AA/AE/AO wide, close IY/UW small).
    "AA": (_vowel(0.85, 0.0, 0.1),),
    "AE": (_vowel(0.75, 0.0, 0.35),),
    "AH": (_vowel(0.55, 0.0, 0.1),),
    "AO": (_vowel(0.7, 0.5, 0.0),),
    "EH": (_vowel(0.5, 0.0, 0.35),),
    "ER": (_vowel(0.35, 0.4, 0.0),),
    "IH": (_vowel(0.3, 0.0, 0.5),),
    "IY": (_vowel(0.2, 0.0, 0.8),),
    "UH": (_vowel(0.35, 0.55, 0.0),),
    "UW": (_vowel(0.2, 0.9, 0.0),),
    # Diphthongs: onset then offset target.
    "AW": (_vowel(0.8, 0.0, 0.1), _vowel(0.3, 0.7, 0.0)),
    "AY": (_vowel(0.8, 0.0, 0.1), _vowel(0.3, 0.0, 0.55)),
    "EY": (_vowel(0.5, 0.0, 0.4), _vowel(0.25, 0.0, 0.7)),
    "OW": (_vowel(0.55, 0.5, 0.0), _vowel(0.3, 0.8, 0.0)),
    "OY": (_vowel(0.6, 0.55, 0.0), _vowel(0.25, 0.0, 0.6)),
    # Consonants.
    "P": (_BILABIAL,), "B": (_BILABIAL,), "M": (_BILABIAL,),
    "F": (_LABIODENTAL,), "V": (_LABIODENTAL,),
    "TH": (_DENTAL,), "DH": (_DENTAL,),
    "T": (_ALVEOLAR,), "D": (_ALVEOLAR,), "N": (_ALVEOLAR,),
    "L": (_goal(0.22, dominance=(0.4, 0.6, 0.15, 0.2, 0.6)),),
    "S": (_SIBILANT,), "Z": (_SIBILANT,),
    "SH": (_POSTALVEOLAR,), "ZH": (_POSTALVEOLAR,), "CH": (_POSTALVEOLAR,), "JH": (_POSTALVEOLAR,),
    "K": (_VELAR,), "G": (_VELAR,), "NG": (_VELAR,),
    "HH": (_goal(0.3, dominance=(0.02, 0.02, 0.02, 0.02, 0.02)),),
    "Y": (_goal(0.15, 0.0, 0.0, 0.6, dominance=(0.5, 0.8, 0.5, 0.8, 0.8)),),
    "W": (_goal(0.1, 0.0, 1.0, 0.0, dominance=(0.5, 0.8, 1.5, 1.0, 0.8)),),
    "R": (_goal(0.2, 0.0, 0.5, 0.0, dominance=(0.4, 0.8, 0.8, 0.5, 0.8)),),
    # Rest; pauses get their dominance from their length (see `coarticulation`).
    SILENCE: (_goal(0.0, dominance=(1.0, 1.0, 1.0, 1.0, 1.0)),),
}

DIPHTHONG_ONSET_FRACTION = 0.5
"""Share of a diphthong's duration given to its onset target."""

CHANNEL_TIME_SCALE: dict[str, float] = {
    "jaw_open": 1.0,
    # Lip contact is made and broken fast (tens of ms) ...
    "lip_close": 0.25,
    # ... while rounding is anticipated far ahead, across consonants that do not care about it.
    "lip_round": 1.6,
    "lip_spread": 1.0,
    "labiodental": 0.3,
}
"""Multiplier of the style's anticipation and carry-over time constants, per channel."""

CHANNEL_DECAY_POWER: dict[str, float] = {
    "jaw_open": 1.0, "lip_round": 1.0, "lip_spread": 1.0,
    # Contacts fall off as a Gaussian (Cohen & Massaro's exponent c = 2): a p/b/m several times as
    # dominant as a vowel closes the lips even when a frame lands near its edge, yet barely reaches
    # into the middle of a short vowel next to it.
    "lip_close": 2.0, "labiodental": 2.0,
}
"""Exponent c of the dominance decay exp(-(distance / time constant) ** c), per channel."""

assert set(PHONE_TARGETS) == set(PHONE_INVENTORY), "every inventory phone needs targets"
assert all(len(g.target) == NUM_CHANNELS == len(g.dominance) for goals in PHONE_TARGETS.values() for g in goals)


def target_arrays(phone: str) -> tuple[np.ndarray, np.ndarray]:
    """Targets and dominances of `phone` (an inventory symbol): two (P, A) float64 arrays, P parts."""
    goals = PHONE_TARGETS[phone]
    return (np.array([g.target for g in goals], dtype=np.float64),
            np.array([g.dominance for g in goals], dtype=np.float64))


def channel_time_scale() -> np.ndarray:
    """(A,) float64 `CHANNEL_TIME_SCALE` in `ARTICULATION_CHANNELS` order."""
    return np.array([CHANNEL_TIME_SCALE[name] for name in ARTICULATION_CHANNELS], dtype=np.float64)


def channel_decay_power() -> np.ndarray:
    """(A,) float64 `CHANNEL_DECAY_POWER` in `ARTICULATION_CHANNELS` order."""
    return np.array([CHANNEL_DECAY_POWER[name] for name in ARTICULATION_CHANNELS], dtype=np.float64)
