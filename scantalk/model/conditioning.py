"""`EmotionConditioning`: the optional emotion head of ScanTalk (EmoVOCA's conditioning).

A label and an intensity are embedded (32 each, as in EmoVOCA) and joined to the audio
features of every frame before the BiLSTM. "No emotion" (label None) is a zero embedding, so
one model also speaks neutrally.
"""

from __future__ import annotations

import torch
from torch import nn

from scantalk.emotions import EMOTIONS, emotion_index, intensity_value


class EmotionConditioning(nn.Module):
    """(label, intensity) → per-frame conditioning features (T, 2·embed_dim).

    Args:
        labels: the emotion names the head knows (default `scantalk.emotions.EMOTIONS`).
        embed_dim: size of each of the label and intensity embeddings (32 in EmoVOCA).
    """

    def __init__(self, labels: list[str] | None = None, embed_dim: int = 32) -> None:
        super().__init__()
        self.labels = list(labels or EMOTIONS)
        self.embed_dim = embed_dim
        self.label_embedding = nn.Embedding(len(self.labels), embed_dim)
        self.intensity_embedding = nn.Sequential(nn.Linear(1, embed_dim), nn.Tanh(), nn.Linear(embed_dim, embed_dim))

    @property
    def output_dim(self) -> int:
        return 2 * self.embed_dim

    def label_index(self, name: str) -> int:
        """Index of `name`; an unknown label raises a ScanTalkError listing the known ones."""
        return emotion_index(name, self.labels)

    @staticmethod
    def check_intensity(intensity: float | str) -> float:
        """A level name or a number in [0, 1] → the number; anything else is a clear error."""
        return intensity_value(intensity)

    def forward(self, label: torch.Tensor | None, intensity: torch.Tensor | None, num_frames: int) -> torch.Tensor:
        """Conditioning features for `num_frames` frames.

        Args:
            label: () int64 index into `labels`, or None / a negative index for no emotion.
            intensity: () float in [0, 1] (0 none, 1 strongest); None means 1.
            num_frames: T.

        Returns:
            (T, 2·embed_dim) features, the same for every frame (zeros without an emotion).
        """
        weight = self.label_embedding.weight
        if label is None or int(label) < 0:
            return weight.new_zeros(num_frames, self.output_dim)
        strength = (intensity if intensity is not None else torch.ones((), device=weight.device)).to(weight)
        label_features = self.label_embedding(label.reshape(()).to(weight.device)) * strength
        intensity_features = self.intensity_embedding(strength.reshape(1))
        features = torch.cat([label_features, intensity_features], dim=-1)
        return features.expand(num_frames, -1)
