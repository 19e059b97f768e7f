"""Mouth-shape classes (visemes) of the ARPAbet phones, and frame-level agreement between two
phone sequences (e.g. a phone recogniser's output against a forced alignment).

Phones that look alike on the lips share a class: the three bilabials are indistinguishable
from outside, so are f/v, th/dh and the alveolars. Diphthongs take the class of their onset.
"""

from __future__ import annotations

import numpy as np

from scantalk.articulation.phones import PHONE_INVENTORY, SILENCE, PhonesLike, check_fps, frame_labels, normalise_phones

_CLASSES: dict[str, tuple[str, ...]] = {
    "rest": (SILENCE,),
    "closed": ("P", "B", "M"),
    "labiodental": ("F", "V"),
    "dental": ("TH", "DH"),
    "alveolar": ("T", "D", "N", "L", "S", "Z"),
    "postalveolar": ("SH", "ZH", "CH", "JH"),
    "velar": ("K", "G", "NG", "HH"),
    "rounded": ("UW", "UH", "OW", "OY", "AO", "W", "R", "ER"),
    "spread": ("IY", "IH", "EY", "Y"),
    "open": ("AA", "AE", "AH", "AW", "AY", "EH"),
}

VISEMES: dict[str, str] = {phone: viseme for viseme, phones in _CLASSES.items() for phone in phones}
"""Phone (an inventory symbol) → mouth-shape class."""
VISEME_CLASSES: tuple[str, ...] = tuple(_CLASSES)

assert set(VISEMES) == set(PHONE_INVENTORY), "every inventory phone needs a viseme"


def _frames_of_both(phones_a: PhonesLike, phones_b: PhonesLike, fps: float) -> tuple[np.ndarray, np.ndarray]:
    fps = check_fps(fps)
    a, b = normalise_phones(phones_a), normalise_phones(phones_b)
    end = max([p.end for p in a] + [p.end for p in b] + [0.0])
    count = max(1, int(np.floor(end * fps + 1e-6)))
    return frame_labels(a, fps, count), frame_labels(b, fps, count)


def _agreement(labels_a: np.ndarray, labels_b: np.ndarray, include_silence: bool) -> float:
    keep = np.ones(len(labels_a), dtype=bool) if include_silence else ~((labels_a == SILENCE) & (labels_b == SILENCE))
    if not keep.any():
        return 1.0
    return float(np.mean(labels_a[keep] == labels_b[keep]))


def phone_agreement(phones_a: PhonesLike, phones_b: PhonesLike, fps: float = 100.0,
                    include_silence: bool = True) -> float:
    """Fraction of frames at which two timed phone sequences name the same phone.

    Args:
        phones_a, phones_b: timed phones (see `scantalk.articulation.phones.PhonesLike`); times not
            covered by a phone count as `SIL`.
        fps: frame rate of the comparison (100 = every 10 ms).
        include_silence: False leaves out the frames where both are silent.

    Returns:
        Agreement in 0..1 over the frames up to the later of the two ends.
    """
    labels_a, labels_b = _frames_of_both(phones_a, phones_b, fps)
    return _agreement(labels_a, labels_b, include_silence)


def viseme_agreement(phones_a: PhonesLike, phones_b: PhonesLike, fps: float = 100.0,
                     include_silence: bool = True) -> float:
    """Like `phone_agreement`, but two phones agree when they share a mouth-shape class (`VISEMES`)."""
    labels_a, labels_b = _frames_of_both(phones_a, phones_b, fps)
    to_viseme = np.vectorize(VISEMES.__getitem__, otypes=[object])
    return _agreement(to_viseme(labels_a).astype(str), to_viseme(labels_b).astype(str), include_silence)
