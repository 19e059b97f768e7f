"""The expression provider `scantalk` finds through the plugin registry (`EXPRESSIONS` in
`emotion.plugin`): FACS action units placed on any head from its landmarks, and the 11 EmoVOCA
emotions as combinations of them. With it, an articulated model (whose landmark decoder finds the
landmarks of any face) animates `emotion=` on faces it never saw, without retraining.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from emotion.facs.action_units import ACTION_UNITS, action_unit_basis
from emotion.facs.emotions import expression_weights
from scantalk.emotions import EMOTIONS
from scantalk.face.head import Head


class FacsExpressions:
    """labels: the emotions · units: the action units · basis(head) → (V, U, 3) metres per unit ·
    weights(emotion or mix, intensity in [0, 1]) → (U,) activations."""

    labels: tuple[str, ...] = tuple(EMOTIONS)
    units: tuple[str, ...] = ACTION_UNITS

    def basis(self, head: Head) -> np.ndarray:
        return action_unit_basis(head)

    def weights(self, emotion: str | Mapping[str, float], intensity: float) -> np.ndarray:
        return expression_weights(emotion, intensity)
