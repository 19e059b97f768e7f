"""The one interface every audio encoder follows (`AudioEncoder`) and what encoders share.

An encoder turns 16 kHz speech into one feature vector per mesh frame:

    encoder(audio (N,) or (B, N), num_frames) -> (num_frames, D) or (B, num_frames, D)

Encoders: `MelEncoder` ("mel", learned from scratch, no downloads — the offline default),
`HubertEncoder` ("hubert", ScanTalk's choice), `Wav2Vec2Encoder` ("wav2vec2"), and any that an
upper layer registers ("phonetic": the phonetic front end's articulation track,
`scantalk.model.phonetic_encoder`); `scantalk.audio.registry.build_audio_encoder` makes one by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from scantalk.audio.io import SAMPLE_RATE
from scantalk.errors import AudioError, ScanTalkError

#: Guard for the per-clip standard deviation (same value as Hugging Face's feature extractor).
_NORM_EPS = 1e-7


class AudioEncoder(nn.Module, ABC):
    """Base class: 16 kHz audio → per-frame features at the mesh frame rate.

    Subclasses set `output_dim`, implement `encode(audio (B, N) normalised, num_frames) ->
    (B, num_frames, output_dim)` and `config()`. `forward` handles shapes, checks and the
    per-clip normalisation, so every encoder treats its input the same way.
    """

    #: Rate (Hz) the input audio must have; resample with `scantalk.audio.load_audio`.
    sample_rate: int = SAMPLE_RATE
    #: Feature size D of each output frame.
    output_dim: int

    def forward(self, audio: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Encode audio into `num_frames` feature vectors.

        Args:
            audio: (N,) or (B, N) float waveform at 16 kHz (any loudness: each clip is
                normalised to zero mean / unit variance here).
            num_frames: number of mesh frames T to produce (>= 1).

        Returns:
            (T, D) for (N,) input, (B, T, D) for (B, N) input; D = `output_dim`.
        """
        if not isinstance(audio, torch.Tensor) or audio.ndim not in (1, 2):
            shape = tuple(audio.shape) if isinstance(audio, torch.Tensor) else type(audio).__name__
            raise AudioError(f"Audio passed to {type(self).__name__} is {shape}; pass a (N,) or (B, N) tensor.")
        if audio.shape[-1] == 0:
            raise AudioError(f"Audio passed to {type(self).__name__} is empty (0 samples).")
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
            raise ScanTalkError(f"num_frames={num_frames!r}; it must be a positive int (mesh frames to produce).")
        batched = audio.ndim == 2
        clips = normalize_clips(audio if batched else audio.unsqueeze(0))
        features = self.encode(clips, num_frames)
        return features if batched else features.squeeze(0)

    @abstractmethod
    def encode(self, audio: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B, N) normalised audio → (B, num_frames, output_dim)."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-able settings that `build_audio_encoder` turns back into this encoder."""


def normalize_clips(audio: torch.Tensor) -> torch.Tensor:
    """(B, N) waveforms → each row at zero mean and unit variance (float32).

    Silent rows stay finite (all zeros): the variance is guarded by a small epsilon.
    """
    audio = audio.float()
    mean = audio.mean(dim=-1, keepdim=True)
    var = audio.var(dim=-1, keepdim=True, unbiased=False)
    return (audio - mean) / torch.sqrt(var + _NORM_EPS)


def resample_frames(features: torch.Tensor, num_frames: int, antialias: bool = False) -> torch.Tensor:
    """Linearly resample a feature sequence in time.

    Args:
        features: (B, C, T_in) features at their own rate (e.g. 50 Hz HuBERT, 100 Hz mel).
        num_frames: T_out, the number of mesh frames.
        antialias: low-pass before downsampling (T_out < T_in) so that no input frame is
            skipped; without it this is ScanTalk's plain linear interpolation (corners aligned).

    Returns:
        (B, C, T_out) features.
    """
    if features.shape[-1] == num_frames:
        return features
    if not antialias:
        return F.interpolate(features, size=num_frames, mode="linear", align_corners=True)
    # torch antialiases only 2-D modes: treat channels as image rows and resample columns only.
    image = features.unsqueeze(1)
    resampled = F.interpolate(
        image, size=(features.shape[1], num_frames), mode="bilinear", align_corners=False, antialias=True
    )
    return resampled.squeeze(1)
