"""EmoVOCA's emotion labels and intensity levels: what the core model's emotion head knows.

They live in the core so that `scantalk` never needs the optional `emotion` package; the
`emotion` package (blending, emotional data synthesis) uses these same names.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scantalk.errors import ScanTalkError

EMOTIONS: tuple[str, ...] = (
    "afraid", "disgust", "angry", "sad", "happy", "drunk", "ill", "moody", "pleased", "suspicious", "upset",
)
# EmoVOCA's three intensities as points on the continuous [0, 1] scale the conditioning uses.
INTENSITY_LEVELS: dict[str, float] = {"low": 1.0 / 3.0, "mid": 2.0 / 3.0, "high": 1.0}


def emotion_index(name: str, labels: tuple[str, ...] | list[str] = EMOTIONS) -> int:
    """Index of an emotion label (case-insensitive); unknown labels list the known ones."""
    key = str(name).strip().lower()
    lowered = [label.lower() for label in labels]
    if key not in lowered:
        raise ScanTalkError(f"unknown emotion {name!r}; known emotions: {', '.join(labels)}")
    return lowered.index(key)


def emotion_label(name: str) -> str:
    """The canonical (lower-case) `EMOTIONS` label of `name` ("Sad" → "sad"); unknown labels raise
    `ScanTalkError`, listing the known ones."""
    return EMOTIONS[emotion_index(name)]


def intensity_value(intensity: float | str) -> float:
    """A level name (low/mid/high) or a number in [0, 1] → a number in [0, 1]."""
    if isinstance(intensity, str):
        if intensity.lower() in INTENSITY_LEVELS:
            return INTENSITY_LEVELS[intensity.lower()]
        try:
            intensity = float(intensity)
        except ValueError:
            raise ScanTalkError(f"intensity {intensity!r} must be low, mid, high or a number in [0, 1]") from None
    value = float(intensity)
    if not 0.0 <= value <= 1.0:
        raise ScanTalkError(f"intensity {value} is outside [0, 1]; use 0 (none) to 1 (strongest), or low/mid/high")
    return value


def emotion_shares(emotion: str | Mapping[str, float], labels: tuple[str, ...] | list[str] = EMOTIONS) -> np.ndarray:
    """(E,) each label's share of an emotion: 1 for a label; for a mix {label: share ≥ 0}, the
    shares divided by the largest (so {"happy": 0.6, "pleased": 0.3} is happy 1, pleased 0.5)."""
    mix = {emotion: 1.0} if isinstance(emotion, str) else emotion
    if not isinstance(mix, Mapping) or not mix:
        raise ScanTalkError(f"emotion must be a label ({', '.join(labels)}) or a non-empty mix {{label: share}}, "
                            f"got {emotion!r}")
    shares = np.zeros(len(labels))
    for name, share in mix.items():
        value = float(share)
        if not np.isfinite(value) or value < 0:
            raise ScanTalkError(f"the share of {name!r} in the emotion mix must be a finite number ≥ 0, got {share}")
        shares[emotion_index(name, labels)] += value
    if shares.max() <= 0:
        raise ScanTalkError(f"the emotion mix {dict(mix)!r} has no positive share; give at least one label a share > 0")
    return shares / shares.max()
