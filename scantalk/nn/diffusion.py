"""Learned-time spectral heat diffusion, the spatial-communication layer of DiffusionNet.

Layers in `scantalk.nn` work on *vertex-major* features `(V, ..., C)`: any number of frame axes
between the vertex axis and the channel axis. That layout makes "fold the frames into channels"
a free reshape to (V, N): one dense product with the thin eigenbasis serves every frame and
channel at once, and per-vertex MLPs stay plain `Linear`s on the last axis.
"""

from __future__ import annotations

import torch
from torch import nn

from scantalk.errors import MeshError
from scantalk.geometry.operators import SurfaceOperators
from scantalk.nn.basis import SpectralBasis, spectral_basis

MIN_DIFFUSION_TIME = 1e-8


def _clamped_time(time: torch.Tensor) -> torch.Tensor:
    """max(time, 1e-8) whose gradient is the identity's, so a time pushed below the floor can
    still be pulled back by the loss (a plain clamp would freeze it at zero gradient)."""
    floored = time.clamp(min=MIN_DIFFUSION_TIME)
    return time + (floored - time).detach()


class SpectralDiffusion(nn.Module):
    """Heat diffusion of each channel for its own learned time t_c (parameter `diffusion_time`).

    diffuse(x) = Φ (exp(-λ t) ⊙ Φᵀ (mass ⊙ x)), computed in the truncated eigenbasis Φ (V, k).
    Times are in the surface's units squared (m² for meshes in metres). The products always run
    in float32, also under autocast, because the eigenbasis products lose too much in half.
    """

    def __init__(self, channels: int, time_init: float = 0.0) -> None:
        super().__init__()
        self.channels = channels
        self.diffusion_time = nn.Parameter(torch.full((channels,), float(time_init)))

    def forward(self, x: torch.Tensor, ops: SurfaceOperators | SpectralBasis) -> torch.Tensor:
        """(V, ..., C) features → (V, ..., C) diffused features (float32)."""
        basis = spectral_basis(ops, with_gradients=False)
        coefficients = self.spectral_coefficients(x, basis)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return (basis.synthesis @ coefficients).view(x.shape)

    def diffuse_with_gradients(self, x: torch.Tensor, ops: SurfaceOperators | SpectralBasis) -> tuple[torch.Tensor, torch.Tensor]:
        """Diffused features and their tangent gradients, from one shared product.

        x (V, ..., C) → diffused (V, ..., C) and gradients (2, V, ..., C): the (grad_x, grad_y)
        components of each diffused channel in the vertex tangent frames (per metre), float32.
        """
        basis = spectral_basis(ops, with_gradients=True)
        coefficients = self.spectral_coefficients(x, basis)
        with torch.autocast(device_type=x.device.type, enabled=False):
            # Two products rather than one stacked product sliced apart: slicing makes autograd
            # allocate and zero-fill a full-size gradient buffer per slice in the backward pass.
            diffused = (basis.synthesis @ coefficients).view(x.shape)
            gradients = (basis.gradient_synthesis @ coefficients).view(2, *x.shape)
        return diffused, gradients

    def spectral_coefficients(self, x: torch.Tensor, basis: SpectralBasis) -> torch.Tensor:
        """Decayed spectral coefficients (k, N) of (V, ..., C) features, N = x.numel() / V."""
        num_vertices, channels = x.shape[0], x.shape[-1]
        if num_vertices != basis.num_vertices:
            raise MeshError(
                f"features have {num_vertices} vertices but the surface operators have {basis.num_vertices}; "
                "compute the operators from the same mesh as the features"
            )
        if x.device != basis.analysis.device:
            raise ValueError(
                f"features are on {x.device} but the surface operators on {basis.analysis.device}; move them with ops.to(device)"
            )
        if channels != self.channels:
            raise ValueError(f"SpectralDiffusion expects {self.channels} channels, got features of shape {tuple(x.shape)}")
        with torch.autocast(device_type=x.device.type, enabled=False):
            flat = x.to(torch.float32).reshape(num_vertices, -1)
            coefficients = basis.analysis @ flat  # (k, N)
            decay = torch.exp(-basis.evals[:, None] * _clamped_time(self.diffusion_time.float())[None, :])  # (k, C)
            k = basis.k_eig
            return (coefficients.view(k, -1, channels) * decay[:, None, :]).view(k, -1)
