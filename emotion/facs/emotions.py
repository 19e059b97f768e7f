"""EmoVOCA's 11 emotions as FACS action-unit combinations, with continuous intensity and mixes.

Each label maps to activations of `emotion.facs.action_units.ACTION_UNITS` at full intensity
(`EMOTION_UNITS`). The prototypes follow the FACS Investigator's Guide / EMFACS tables (Ekman,
Friesen & Hager 2002) and the "prototypical" combinations of Ekman & Friesen (1978) and Cohn,
Ambadar & Ekman (2007):

- happy: 6 + 12 (the Duchenne smile), the lips just parted by a little 26 at the broad end.
- sad: 1 + 4 + 15 (+17), with slightly drooping lids (a little 43).
- angry: 4 + 5 + 7 + 23 / 24 (lowered, drawn brows, glaring lids, tight pressed lips).
- afraid: 1 + 2 + 4 + 5 + 20 + 26 (raised and drawn brows, wide eyes, stretched lips, jaw dropped).
- disgust: 9 + 10 (+15 + 17), the brows pulled down a little by the nose wrinkler.

EmoVOCA's other labels are not FACS prototypes; their combinations are reasoned from what people
describe and from EMFACS-style blends:

- pleased (contentment): a mild closed-lip smile, 12 with a little 6, relaxed, slightly lowered lids
  (43) and a touch of 14: softer than happy and with heavier lids.
- drunk: drooping lids (43), a slack jaw (26), a lopsided mild smile (right 12), inner brows lifted
  a little (1) as the face loses tone.
- ill (nauseated, unwell): mild 1 + 4 (a pained brow), 15, drooping lids (43), a trace of the
  nausea signs 10 and a slack 26.
- moody (sullen): 4 + 15 + 17 with lips pressed (24): a pout without the glare of anger.
- suspicious: lowered brows (4), narrowed eyes (7), an asymmetric smirk (left 12, right 14) and
  one outer brow raised (left 2).
- upset (distressed): 1 + 4 + 15 + 17 + 20, the grief brow with stretched, trembling lips and
  slightly raised lids (5).

`expression_weights(emotion, intensity)` scales a combination by the intensity in [0, 1]
(monotone in every unit; EmoVOCA's low / mid / high are 1/3, 2/3, 1). A mix such as
{"happy": 0.6, "pleased": 0.3} is a FACS blend: the face shows the units of every emotion in it,
each emotion scaled by its share relative to the largest share (happy 1, pleased 0.5 here), and a
unit two emotions share combines as the Euclidean norm of their activations (it does not add up:
happy + pleased smiles once, a little wider). So a 50/50 mix carries each emotion's pattern
nearly whole and sits closer to each of its two emotions than to neutral, even for two that pull
the same feature opposite ways (happy and sad at the mouth corners), where an average would
cancel to a neutral face. Per-identity jitter draws how strongly this person shows each unit of
each emotion.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from emotion.facs.action_units import ACTION_UNITS, NUM_ACTION_UNITS, ActionUnitError, expression_displacement
from scantalk.emotions import EMOTIONS, emotion_index, emotion_shares, intensity_value
from scantalk.errors import ScanTalkError
from scantalk.face.head import Head

__all__ = ["EMOTIONS", "EMOTION_UNITS", "emotion_combination", "expression_displacement", "expression_weights",
           "emotion_expression"]

EMOTION_UNITS: dict[str, dict[str, float]] = {
    "afraid": {"AU01_inner_brow_raiser": 0.9, "AU02_outer_brow_raiser": 0.8, "AU04_brow_lowerer": 0.5,
               "AU05_upper_lid_raiser": 1.0, "AU20_lip_stretcher": 0.9, "AU26_jaw_drop": 0.7},
    "disgust": {"AU09_nose_wrinkler": 1.0, "AU10_upper_lip_raiser": 0.9, "AU15_lip_corner_depressor": 0.35,
                "AU17_chin_raiser": 0.4, "AU04_brow_lowerer": 0.25},
    "angry": {"AU04_brow_lowerer": 1.0, "AU05_upper_lid_raiser": 0.7, "AU07_lid_tightener": 0.7,
              "AU23_lip_tightener": 0.8, "AU24_lip_pressor": 0.6},
    "sad": {"AU01_inner_brow_raiser": 1.0, "AU04_brow_lowerer": 0.5, "AU15_lip_corner_depressor": 0.8,
            "AU17_chin_raiser": 0.35, "AU43_eyes_closed": 0.2},
    "happy": {"AU06_cheek_raiser": 1.0, "AU12_lip_corner_puller": 1.0, "AU26_jaw_drop": 0.15},
    "drunk": {"AU43_eyes_closed": 0.8, "AU26_jaw_drop": 0.6, "AU12R_lip_corner_puller_right": 0.45,
              "AU01_inner_brow_raiser": 0.25},
    "ill": {"AU01_inner_brow_raiser": 0.35, "AU04_brow_lowerer": 0.35, "AU15_lip_corner_depressor": 0.6,
            "AU43_eyes_closed": 0.55, "AU10_upper_lip_raiser": 0.25, "AU26_jaw_drop": 0.2},
    "moody": {"AU04_brow_lowerer": 0.6, "AU15_lip_corner_depressor": 0.45, "AU17_chin_raiser": 0.7,
              "AU24_lip_pressor": 0.45},
    "pleased": {"AU12_lip_corner_puller": 0.5, "AU06_cheek_raiser": 0.2, "AU43_eyes_closed": 0.55,
                "AU14_dimpler": 0.25},
    "suspicious": {"AU04_brow_lowerer": 0.5, "AU07_lid_tightener": 0.9, "AU12L_lip_corner_puller_left": 0.45,
                   "AU14R_dimpler_right": 0.5, "AU02L_outer_brow_raiser_left": 0.35},
    "upset": {"AU01_inner_brow_raiser": 0.65, "AU04_brow_lowerer": 0.75, "AU15_lip_corner_depressor": 0.5,
              "AU17_chin_raiser": 0.55, "AU20_lip_stretcher": 0.7, "AU05_upper_lid_raiser": 0.3},
}
"""Activation of each action unit per label at intensity 1 (units not listed stay at 0)."""

JITTER = 0.25
"""Default per-identity jitter: each active unit of each emotion is scaled log-uniformly within ±25 %."""


def emotion_combination(emotion: str) -> np.ndarray:
    """Activations (U,) of one label at intensity 1 (case-insensitive; unknown labels list the known)."""
    label = EMOTIONS[emotion_index(emotion)]
    combination = np.zeros(NUM_ACTION_UNITS)
    for unit, value in EMOTION_UNITS[label].items():
        combination[ACTION_UNITS.index(unit)] = value
    return combination


def expression_weights(emotion: str | Mapping[str, float], intensity: float | str = 1.0,
                       rng: np.random.Generator | None = None, jitter: float = JITTER) -> np.ndarray:
    """Action-unit activations (U,) of an emotion (or a mix) at a continuous intensity.

    Args:
        emotion: a label of `EMOTIONS` or a mix {label: share ≥ 0}, e.g. {"happy": 0.6, "pleased": 0.3};
            shares are relative (divided by the largest share); the intensity sets the strength.
        intensity: 0 (neutral) to 1 (full), or "low" / "mid" / "high"; every activation grows
            linearly with it.
        rng: per-identity jitter: the same generator state gives the same person at every
            intensity, so monotonicity holds per identity.
        jitter: the jitter's relative range (log-uniform in [1/(1+jitter), 1+jitter]).

    Returns:
        weights (U,) float64 ≥ 0 in `ACTION_UNITS` order.

    Raises:
        ScanTalkError: unknown label (the message lists the known ones), intensity outside [0, 1].
        ActionUnitError: an empty mix, a negative share, a jitter outside [0, 1).
    """
    level = intensity_value(intensity)
    try:
        shares = emotion_shares(emotion)
    except ScanTalkError as error:
        raise ActionUnitError(str(error)) from None
    if not (np.isfinite(jitter) and 0.0 <= jitter < 1.0):
        raise ActionUnitError(f"expression jitter must be in [0, 1), got {jitter}; use e.g. 0.25.")
    per_emotion = []
    for label, share in zip(EMOTIONS, shares):  # a fixed order: a generator draws the same numbers for the same mix
        if share == 0:
            continue
        combination = emotion_combination(label)
        if rng is not None:
            combination = combination * np.exp(rng.uniform(-np.log1p(jitter), np.log1p(jitter), NUM_ACTION_UNITS))
        per_emotion.append(share * combination)
    # A blend shows the units of all its emotions (FACS blends); a unit two emotions share is
    # combined as a Euclidean norm, so it grows by at most √n instead of adding up.
    return level * np.sqrt(np.sum(np.square(per_emotion), axis=0))


def emotion_expression(head: Head, emotion: str | Mapping[str, float], intensity: float | str = 1.0,
                       basis: np.ndarray | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
    """Displacement (V, 3) metres of `head` showing `emotion` at `intensity` (see `expression_weights`)."""
    return expression_displacement(head, expression_weights(emotion, intensity, rng), basis)
