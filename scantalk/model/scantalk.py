"""The ScanTalk network: speech + a neutral face of any topology → per-vertex displacements.

    template (V, 3) ──encoder DiffusionNet──► identity (V, C)
    audio (N,) ──AudioEncoder──► (T, D) ──Linear──► (T, C) [‖ emotion] ──BiLSTM──► motion (T, C)
    decoder DiffusionNet([identity_v ‖ motion_t]) ──► displacement (T, V, 3)
    frames = template + displacement
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn

from scantalk.audio import build_audio_encoder
from scantalk.geometry.operators import SurfaceOperators, hks
from scantalk.model import phonetic_encoder  # noqa: F401  (registers the "phonetic" audio encoder)
from scantalk.model.conditioning import EmotionConditioning
from scantalk.model.config import ScanTalkConfig
from scantalk.nn import DiffusionNet
from scantalk.rig.rig import REGION_FEATURES

#: Identity inputs and their channels (None: `hks_scales`).
IDENTITY_INPUTS = {"xyz": 3, "hks": None, "xyz+regions": 3 + len(REGION_FEATURES)}


class ScanTalk(nn.Module):
    """ScanTalk with DiffusionNet encoder/decoder and a BiLSTM audio head.

    Args:
        config: the architecture (`ScanTalkConfig`; its defaults follow the paper).
        **overrides: fields of `ScanTalkConfig` to change, e.g. `ScanTalk(width=16, k_eig=64)`.

    Memory: the decoder runs frames in chunks of `self.decoder.chunk_floats` floats per
    activation, a runtime setting that is not saved with the model.
    """

    def __init__(self, config: ScanTalkConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        config = replace(config or ScanTalkConfig(), **overrides)
        if 2 * config.lstm_hidden != config.latent:
            raise ValueError(f"2 * lstm_hidden ({2 * config.lstm_hidden}) must equal latent ({config.latent})")
        if config.identity_input not in IDENTITY_INPUTS:
            raise ValueError(f"identity_input must be one of {', '.join(IDENTITY_INPUTS)}, got {config.identity_input!r}")
        if config.align_anchor not in ("bbox", "nose"):
            raise ValueError(f"align_anchor must be 'bbox' or 'nose', got {config.align_anchor!r}")
        self.config = config
        self.position_unit = config.position_unit
        self.displacement_unit = config.displacement_unit
        self.k_eig = config.k_eig
        self.identity_input = config.identity_input
        self.hks_scales = config.hks_scales
        audio_encoder, latent, width, n_blocks = config.audio_encoder, config.latent, config.width, config.n_blocks
        emotion, lstm_hidden, lstm_layers = config.emotion, config.lstm_hidden, config.lstm_layers

        self.audio_encoder = build_audio_encoder(audio_encoder)
        self.audio_projection = nn.Linear(self.audio_encoder.output_dim, latent)
        self.emotion = None
        lstm_input = latent
        if emotion is not None:
            self.emotion = EmotionConditioning(**emotion)
            lstm_input += self.emotion.output_dim
        self.lstm = nn.LSTM(lstm_input, lstm_hidden, num_layers=lstm_layers, batch_first=True, bidirectional=True)

        identity_channels = IDENTITY_INPUTS[config.identity_input] or config.hks_scales
        self.encoder = DiffusionNet(identity_channels, latent, width=width, n_blocks=n_blocks)
        self.decoder = DiffusionNet(2 * latent, 3, width=width, n_blocks=n_blocks)
        # Start from "no motion": the first predictions are the template itself (as in ScanTalk).
        self.decoder.zero_init_last()

    @property
    def has_emotion(self) -> bool:
        return self.emotion is not None

    @property
    def needs_regions(self) -> bool:
        """Whether `encode_identity` needs the face's regions (`scantalk.inference.regions`)."""
        return self.identity_input == "xyz+regions"

    def encode_identity(self, template: torch.Tensor, ops: SurfaceOperators,
                        regions: torch.Tensor | None = None) -> torch.Tensor:
        """Per-vertex identity features (V, C) of a neutral face `template` (V, 3) in metres.

        regions: (V, 3) `scantalk.rig.rig.region_weights` of the face, when `needs_regions`
        (`scantalk.inference.regions.face_region_weights` finds them on any mesh).
        """
        if self.identity_input == "xyz":
            features = template / self.position_unit
        elif self.needs_regions:
            if regions is None or regions.shape != (template.shape[0], len(REGION_FEATURES)):
                got = None if regions is None else tuple(regions.shape)
                raise ValueError(f"this model hears the face's regions: pass regions of shape ({template.shape[0]}, "
                                 f"{len(REGION_FEATURES)}) (scantalk.inference.regions.face_region_weights), got {got}")
            features = torch.cat([template / self.position_unit, regions.to(template)], dim=1)
        else:
            # HKS values scale with 1/area; normalise each channel so the encoder sees O(1) inputs.
            signature = hks(ops, self.hks_scales).to(template)
            features = signature / signature.mean(0, keepdim=True).clamp_min(1e-12)
        return self.encoder(features, ops)

    def encode_motion(
        self,
        audio: torch.Tensor,
        num_frames: int,
        emotion: torch.Tensor | None = None,
        intensity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-frame motion features (T, C) from 16 kHz audio (N,).

        emotion: label index () int64, intensity: () float in [0, 1]; used by the emotion head.
        """
        audio_features = self.audio_encoder(audio, num_frames)  # (T, D)
        return self.motion_from_features(audio_features, emotion, intensity)

    def motion_from_features(
        self,
        audio_features: torch.Tensor,
        emotion: torch.Tensor | None = None,
        intensity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(T, D) audio-encoder features → (T, C) motion features (projection, emotion, BiLSTM)."""
        projected = self.audio_projection(audio_features)
        if self.emotion is not None:
            projected = torch.cat([projected, self.emotion(emotion, intensity, projected.shape[0])], dim=-1)
        motion, _ = self.lstm(projected.unsqueeze(0))
        return motion.squeeze(0)

    def decode(self, identity: torch.Tensor, motion: torch.Tensor, ops: SurfaceOperators) -> torch.Tensor:
        """Displacements from identity and motion features.

        The decoder sees [identity_v ‖ motion_t] through `DiffusionNet.forward_factored`, so the
        (T, V, 2C) concatenation is never built and frames run within the decoder's memory
        budget (`self.decoder.chunk_floats`, a runtime setting).

        Args:
            identity: (V, C) per-vertex identity features.
            motion: (T, C) per-frame motion features.
            ops: the template's operators.

        Returns:
            (T, V, 3) displacements in metres.
        """
        return self.decoder.forward_factored(identity, motion, ops) * self.displacement_unit

    def forward(
        self,
        audio: torch.Tensor,
        template: torch.Tensor,
        ops: SurfaceOperators,
        num_frames: int,
        emotion: torch.Tensor | None = None,
        intensity: torch.Tensor | None = None,
        regions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Animated frames (T, V, 3) = template (V, 3) + predicted displacement, in metres
        (`regions`: see `encode_identity`)."""
        identity = self.encode_identity(template, ops, regions)
        motion = self.encode_motion(audio, num_frames, emotion, intensity)
        return template.unsqueeze(0) + self.decode(identity, motion, ops)
