"""The ScanTalk network: speech + a neutral face of any topology → per-vertex displacements.

    template (V, 3) ──encoder DiffusionNet──► identity (V, C)
    audio (N,) ──AudioEncoder──► (T, D) ──Linear──► (T, C) [‖ emotion] ──BiLSTM──► motion (T, C)
    decoder DiffusionNet([identity_v ‖ motion_t]) ──► displacement (T, V, 3)
    frames = template + displacement
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from scantalk.audio import build_audio_encoder
from scantalk.geometry.operators import SurfaceOperators, hks
from scantalk.model.conditioning import EmotionConditioning
from scantalk.nn import DiffusionNet

# Activations of one decoder frame cost about this many floats per vertex and channel
# (block input, diffusion, two gradient components, MLP hidden layers, autograd copies);
# used only to pick a chunk size that keeps a long sequence on a large scan in bounded memory.
_FLOATS_PER_VERTEX_CHANNEL = 12


class ScanTalk(nn.Module):
    """ScanTalk with DiffusionNet encoder/decoder and a BiLSTM audio head.

    Defaults follow the paper: latent 32, DiffusionNet width 32 with 4 blocks, k_eig 128,
    Linear(D→32) then a 3-layer bidirectional LSTM with hidden size 16.

    Args:
        audio_encoder: name ("mel", "hubert", "wav2vec2") or config dict for
            `scantalk.audio.build_audio_encoder`.
        latent: identity / motion feature size C.
        width, n_blocks: DiffusionNet width and depth (encoder and decoder).
        k_eig: eigenpairs the operators must have (recorded so users precompute the right ones).
        lstm_layers, lstm_hidden: the bidirectional LSTM (output 2·lstm_hidden must equal latent).
        identity_input: "xyz" (neutral-face coordinates, metres) or "hks" (heat kernel signature,
            invariant to rigid motion of the face).
        hks_scales: HKS channels when identity_input is "hks".
        emotion: None, or a config dict for `scantalk.model.conditioning.EmotionConditioning`
            (label + intensity embeddings joined to the audio features before the LSTM).
        position_unit: metres per unit of the encoder's xyz input (0.1: it sees decimetres).
        displacement_unit: metres per unit of the decoder's output (0.001: it predicts
            millimetres). Faces live in metres and move by millimetres; expressing both in units
            near 1 keeps Adam's step (~lr per weight) from throwing the output around by
            centimetres, which otherwise stalls training at the still template.
        max_chunk_floats: activation budget (in floats) for one decoder chunk of frames.
    """

    def __init__(
        self,
        audio_encoder: str | dict[str, Any] = "mel",
        latent: int = 32,
        width: int = 32,
        n_blocks: int = 4,
        k_eig: int = 128,
        lstm_layers: int = 3,
        lstm_hidden: int = 16,
        identity_input: str = "xyz",
        hks_scales: int = 16,
        emotion: dict[str, Any] | None = None,
        max_chunk_floats: int = 400_000_000,
        position_unit: float = 0.1,
        displacement_unit: float = 0.001,
    ) -> None:
        super().__init__()
        if 2 * lstm_hidden != latent:
            raise ValueError(f"2 * lstm_hidden ({2 * lstm_hidden}) must equal latent ({latent})")
        if identity_input not in ("xyz", "hks"):
            raise ValueError(f"identity_input must be 'xyz' or 'hks', got {identity_input!r}")
        self.config: dict[str, Any] = dict(
            audio_encoder=audio_encoder, latent=latent, width=width, n_blocks=n_blocks, k_eig=k_eig,
            lstm_layers=lstm_layers, lstm_hidden=lstm_hidden, identity_input=identity_input,
            hks_scales=hks_scales, emotion=emotion, max_chunk_floats=max_chunk_floats,
            position_unit=position_unit, displacement_unit=displacement_unit,
        )
        self.position_unit = position_unit
        self.displacement_unit = displacement_unit
        self.k_eig = k_eig
        self.identity_input = identity_input
        self.hks_scales = hks_scales
        self.max_chunk_floats = max_chunk_floats

        self.audio_encoder = build_audio_encoder(audio_encoder)
        self.audio_projection = nn.Linear(self.audio_encoder.output_dim, latent)
        self.emotion = None
        lstm_input = latent
        if emotion is not None:
            self.emotion = EmotionConditioning(**emotion)
            lstm_input += self.emotion.output_dim
        self.lstm = nn.LSTM(lstm_input, lstm_hidden, num_layers=lstm_layers, batch_first=True, bidirectional=True)

        identity_channels = 3 if identity_input == "xyz" else hks_scales
        self.encoder = DiffusionNet(identity_channels, latent, width=width, n_blocks=n_blocks)
        self.decoder = DiffusionNet(2 * latent, 3, width=width, n_blocks=n_blocks)
        # Start from "no motion": the first predictions are the template itself (as in ScanTalk).
        self.decoder.zero_init_last()

    @property
    def has_emotion(self) -> bool:
        return self.emotion is not None

    def encode_identity(self, template: torch.Tensor, ops: SurfaceOperators) -> torch.Tensor:
        """Per-vertex identity features (V, C) of a neutral face `template` (V, 3) in metres."""
        if self.identity_input == "xyz":
            features = template / self.position_unit
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
        """Displacements (T, V, 3) in metres from identity (V, C) and motion (T, C) features.

        The decoder's input layer is linear in [identity ‖ motion], so it is split: the identity
        part is computed once per vertex and the motion part once per frame, and the decoder's
        first block runs on that sum without per-frame eigenbasis products
        (`DiffusionNet.forward_separable`) — the (T, V, 2C) concatenation is never built.
        Frames are decoded in chunks sized to `max_chunk_floats`, which is exact because frames
        do not interact in the decoder.
        """
        latent = identity.shape[-1]
        weight, bias = self.decoder.input_linear.weight, self.decoder.input_linear.bias
        identity_part = identity @ weight[:, :latent].T + bias  # (V, W)
        motion_part = motion @ weight[:, latent:].T  # (T, W)
        num_frames, num_vertices = motion.shape[0], identity.shape[0]
        per_frame = num_vertices * self.decoder.width * _FLOATS_PER_VERTEX_CHANNEL
        chunk = max(1, min(num_frames, self.max_chunk_floats // max(per_frame, 1)))
        chunks = [self.decoder.forward_separable(identity_part, motion_part[start : start + chunk], ops)
                  for start in range(0, num_frames, chunk)]
        return torch.cat(chunks, dim=0) * self.displacement_unit

    def forward(
        self,
        audio: torch.Tensor,
        template: torch.Tensor,
        ops: SurfaceOperators,
        num_frames: int,
        emotion: torch.Tensor | None = None,
        intensity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Animated frames (T, V, 3) = template (V, 3) + predicted displacement, in metres."""
        identity = self.encode_identity(template, ops)
        motion = self.encode_motion(audio, num_frames, emotion, intensity)
        return template.unsqueeze(0) + self.decode(identity, motion, ops)
