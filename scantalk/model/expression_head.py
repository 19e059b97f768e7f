"""`ExpressionHead`: the emotion head of an articulated model (EmoVOCA's label + intensity input).

It turns an emotion (label shares, so mixes work), an intensity and the articulation track into
per-frame activations of an expression provider's units (the `emotion` package's FACS action
units, by name), which the Animator places on the face:

    g_e(t) = softplus(table_e + speech_e(articulation(t)))           (U,) ≥ 0 per emotion e
    activations(t) = intensity · sqrt(Σ_e (share_e · g_e(t))²)

`table` (E, U) holds each emotion's activations at full intensity (before the softplus);
`speech` is a small network of the articulation that lets an emotion change while the mouth
moves (it starts at zero). Shares are relative (the largest is 1), and a unit two emotions share
combines as a Euclidean norm, as the FACS provider mixes (`emotion.facs.emotions.expression_weights`).
Linear in the intensity: 0 is no expression, and the expression grows with it. It is trained on an EmoVOCA-style emotional dataset (`scantalk emovoca
build`): see `experiments/recipes/emotional_default.py`.
"""

from __future__ import annotations

import torch
from torch import nn


class ExpressionHead(nn.Module):
    """shares (T, E), intensity (T,), articulation (T, A) → unit activations (T, U), all ≥ 0.

    Args:
        num_labels: E, the emotions (in the order of the model's `emotion_labels`).
        num_units: U, the provider's units (in the order of the model's `expression_units`).
        num_channels: A, the articulation channels.
        hidden: width of the articulation network.
    """

    def __init__(self, num_labels: int, num_units: int, num_channels: int, hidden: int = 32) -> None:
        super().__init__()
        self.num_labels, self.num_units = num_labels, num_units
        # softplus(-4) ≈ 0.02: every unit starts nearly at rest.
        self.table = nn.Parameter(torch.full((num_labels, num_units), -4.0))
        self.speech = nn.Sequential(nn.Linear(num_channels, hidden), nn.Tanh(), nn.Linear(hidden, num_labels * num_units))
        nn.init.zeros_(self.speech[-1].weight)
        nn.init.zeros_(self.speech[-1].bias)

    def per_label(self, articulation: torch.Tensor) -> torch.Tensor:
        """(T, A) → (T, E, U): every emotion's activations at full intensity in each frame."""
        raw = self.table[None] + self.speech(articulation).view(-1, self.num_labels, self.num_units)
        return nn.functional.softplus(raw)

    def forward(self, shares: torch.Tensor, intensity: torch.Tensor, articulation: torch.Tensor) -> torch.Tensor:
        combined = (shares[:, :, None] * self.per_label(articulation)).square().sum(1)
        return intensity[:, None] * combined.clamp_min(1e-12).sqrt()
