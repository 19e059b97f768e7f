"""DiffusionNet (Sharp et al., ACM TOG 2022): discretisation-agnostic learning on surfaces.

`DiffusionNet` takes per-vertex features of one surface, either one field (V, C) or a batch of
B frames on that surface (B, V, C), and the surface's `SurfaceOperators`. All frames share one
set of operators: internally the frames are folded into channels, so every operator product is
one thin dense product (V, k) × (k, B·C) and memory stays O(V·(k + B·C)).
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
from torch import nn
from torch.nn import functional as F

from scantalk.geometry.operators import SurfaceOperators
from scantalk.nn.basis import SpectralBasis, spectral_basis
from scantalk.nn.diffusion import SpectralDiffusion
from scantalk.nn.gradient_features import GradientFeatures

# Frames are pushed through the network in chunks of about this many floats per (V, b, width)
# activation: big enough for efficient products, small enough that the allocator reuses the
# buffers instead of page-faulting fresh ones (which dominated the run time on CPU).
DEFAULT_CHUNK_FLOATS = 1 << 22
# ...but never fewer than this many columns (frames × width) in the eigenbasis products: below
# it the (k, V) and (3V, k) bases are re-read from memory for too little work (large meshes).
MIN_CHUNK_COLUMNS = 384


class DiffusionNetBlock(nn.Module):
    """x → MLP([x ‖ diffuse(x) ‖ gradient_features(diffuse(x))]) + x, on (V, ..., C) features.

    The MLP is 3C → C → C → C with ReLU between layers (dropout before the 2nd and 3rd
    linear layers when `dropout` > 0). Its first layer is applied to the three parts separately,
    which is the same linear map without materialising the 3C-wide concatenation.
    """

    def __init__(
        self,
        width: int,
        mlp_hidden: int | None = None,
        dropout: float = 0.0,
        with_gradient_features: bool = True,
        with_gradient_rotations: bool = True,
        diffusion_time_init: float = 0.0,
    ) -> None:
        super().__init__()
        hidden = width if mlp_hidden is None else mlp_hidden
        self.width = width
        self.dropout = dropout
        self.diffusion = SpectralDiffusion(width, time_init=diffusion_time_init)
        self.gradient_features = GradientFeatures(width, with_gradient_rotations) if with_gradient_features else None
        parts = 3 if with_gradient_features else 2
        self.mlp = nn.ModuleList([nn.Linear(parts * width, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, width)])

    def forward(self, x: torch.Tensor, ops: SurfaceOperators | SpectralBasis) -> torch.Tensor:
        """One block.

        Args:
            x: (V, ..., C) vertex-major features.
            ops: the surface's operators or its `SpectralBasis`.

        Returns:
            (V, ..., C) features.
        """
        if self.gradient_features is None:
            return self._mix([x, self.diffusion(x, ops)], x)
        diffused, gradients = self.diffusion.diffuse_with_gradients(x, ops)
        return self._mix([x, diffused, self.gradient_features(gradients)], x)

    def separable_parts(self, per_vertex: torch.Tensor, ops: SurfaceOperators | SpectralBasis) -> tuple:
        """Diffusion (and gradients) of `per_vertex` (V, C) and of the constant field 1 (V, C):
        what `forward_separable` combines per frame (a tuple of (V, C) / (2, V, C) tensors)."""
        ones = torch.ones_like(per_vertex)
        if self.gradient_features is None:
            return self.diffusion(per_vertex, ops), None, self.diffusion(ones, ops), None
        diffused, gradients = self.diffusion.diffuse_with_gradients(per_vertex, ops)
        diffused_one, gradients_one = self.diffusion.diffuse_with_gradients(ones, ops)
        return diffused, gradients, diffused_one, gradients_one

    def forward_separable(self, per_vertex: torch.Tensor, per_frame: torch.Tensor, parts: tuple) -> torch.Tensor:
        """The block on inputs x_t = per_vertex + per_frame[t]: (V, C) and (T, C) → (V, T, C).

        Diffusion and gradients are linear, so diffuse(a + 1·b_t) = diffuse(a) + diffuse(1)·b_t
        (per channel) and likewise for gradients: with `parts` from `separable_parts`, no
        eigenbasis product is needed per frame — exactly the same result, far fewer operations.
        """
        diffused_a, gradients_a, diffused_one, gradients_one = parts
        x = per_vertex[:, None, :] + per_frame[None, :, :]
        diffused = torch.addcmul(diffused_a[:, None, :], diffused_one[:, None, :], per_frame[None])
        if gradients_a is None:
            return self._mix([x, diffused], x)
        gradients = torch.addcmul(gradients_a[:, :, None, :], gradients_one[:, :, None, :], per_frame[None, None])
        return self._mix([x, diffused, self.gradient_features(gradients)], x)

    def _mix(self, parts: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """MLP([x ‖ diffused ‖ gradient features]) + x."""
        first, second, third = self.mlp
        hidden = F.linear(parts[0], first.weight[:, : self.width], first.bias)
        flat_hidden = hidden.view(-1, hidden.shape[-1])
        for index, part in enumerate(parts[1:], start=1):
            # In-place accumulation: autograd-safe (addmm does not need its input for backward)
            # and avoids a fresh (V, b, C) buffer per part.
            weight = first.weight[:, index * self.width : (index + 1) * self.width].to(hidden.dtype)
            flat_hidden.addmm_(part.reshape(-1, self.width).to(hidden.dtype), weight.T)
        hidden = self._activate(hidden)
        hidden = self._activate(second(hidden))
        out = third(hidden)
        return out.add_(x)

    def _activate(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden.relu_()
        if self.dropout > 0.0:
            hidden = F.dropout(hidden, self.dropout, self.training)
        return hidden


class DiffusionNet(nn.Module):
    """Input linear c_in → width, `n_blocks` DiffusionNet blocks, output linear width → c_out.

    forward(x, ops): x (V, c_in) → (V, c_out), or a batch of frames (B, V, c_in) →
    (B, V, c_out); with outputs="global_mean" the mass-weighted mean over vertices, (c_out,) or
    (B, c_out). `last_activation` (e.g. `torch.tanh`) is applied to the final output.
    `diffusion_time_init` is the initial learned diffusion time of every channel (in the mesh's
    units squared; 0 starts from the plain projection onto the k eigenvectors, as the reference).
    Frames run in chunks of about `chunk_floats` floats per activation (at least
    MIN_CHUNK_COLUMNS / width frames); frames never interact, so chunking changes no result.
    `chunk_floats` is a runtime memory setting (an attribute, not saved in the state dict):
    set `net.chunk_floats` to trade speed for peak memory.

    `forward(x, ops)` takes explicit inputs; `forward_factored(per_vertex, per_frame, ops)` takes
    inputs that are a per-vertex part joined to a per-frame part (ScanTalk's decoder).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        width: int = 128,
        n_blocks: int = 4,
        mlp_hidden: int | None = None,
        dropout: float = 0.0,
        with_gradient_features: bool = True,
        with_gradient_rotations: bool = True,
        outputs: Literal["vertices", "global_mean"] = "vertices",
        last_activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
        diffusion_time_init: float = 0.0,
        zero_init_last: bool = False,
        chunk_floats: int = DEFAULT_CHUNK_FLOATS,
    ) -> None:
        super().__init__()
        if outputs not in ("vertices", "global_mean"):
            raise ValueError(f"outputs must be 'vertices' or 'global_mean', got {outputs!r}")
        self.c_in, self.c_out, self.width = c_in, c_out, width
        self.outputs = outputs
        self.last_activation = last_activation
        self.with_gradient_features = with_gradient_features
        self.chunk_floats = chunk_floats
        self.input_linear = nn.Linear(c_in, width)
        self.blocks = nn.ModuleList(
            DiffusionNetBlock(width, mlp_hidden, dropout, with_gradient_features, with_gradient_rotations, diffusion_time_init)
            for _ in range(n_blocks)
        )
        self.output_linear = nn.Linear(width, c_out)
        if zero_init_last:
            self.zero_init_last()

    def zero_init_last(self) -> None:
        """Zero the output linear layer, so the untrained network outputs exactly zero (before
        `last_activation`); ScanTalk's decoder starts this way to predict "no displacement"."""
        with torch.no_grad():
            self.output_linear.weight.zero_()
            self.output_linear.bias.zero_()

    def forward(self, x: torch.Tensor, ops: SurfaceOperators | SpectralBasis) -> torch.Tensor:
        """The network on one field or a batch of frames on one surface.

        Args:
            x: (V, c_in) features, or (B, V, c_in) for B frames sharing `ops`.
            ops: the surface's operators (or its `SpectralBasis`).

        Returns:
            (V, c_out) / (B, V, c_out), or (c_out,) / (B, c_out) for outputs="global_mean".
        """
        if x.dim() not in (2, 3) or x.shape[-1] != self.c_in:
            raise ValueError(f"DiffusionNet expects features (V, {self.c_in}) or (B, V, {self.c_in}), got {tuple(x.shape)}")
        basis = spectral_basis(ops, with_gradients=self.with_gradient_features)
        batched = x.dim() == 3
        frames = x if batched else x.unsqueeze(0)  # (B, V, C)
        chunk = self._chunk(frames.shape[0], frames.shape[1])
        outputs = []
        for start in range(0, frames.shape[0], chunk):
            hidden = self.input_linear(frames[start : start + chunk].transpose(0, 1))  # (V, b, width)
            outputs.append(self._finish(hidden, basis, first_block=0))
        out = torch.cat(outputs, dim=0)
        if self.last_activation is not None:
            out = self.last_activation(out)
        return out if batched else out[0]

    def forward_factored(self, per_vertex: torch.Tensor, per_frame: torch.Tensor,
                         ops: SurfaceOperators | SpectralBasis) -> torch.Tensor:
        """The network on inputs x[t, v] = [per_vertex[v] ‖ per_frame[t]], without building them.

        ScanTalk's decoder input is [identity_v ‖ motion_t] and the EmoBlender's is
        [position_v ‖ latents_t]: the input layer is linear, so it is applied to each part once
        (V + T rows instead of T·V), and the first block runs on the broadcast sum without any
        per-frame eigenbasis product (see `DiffusionNetBlock.forward_separable`). Frames run in
        chunks of the network's one memory budget (`chunk_floats`); the result is the same as
        `forward` on the explicit concatenation.

        Args:
            per_vertex: (V, Cv) features of the surface's vertices.
            per_frame: (T, Cf) features of each frame, with Cv + Cf = c_in.
            ops: the surface's operators (or its `SpectralBasis`).

        Returns:
            (T, V, c_out), or (T, c_out) for outputs="global_mean".
        """
        if (per_vertex.dim() != 2 or per_frame.dim() != 2
                or per_vertex.shape[-1] + per_frame.shape[-1] != self.c_in):
            raise ValueError(f"forward_factored expects (V, Cv) and (T, Cf) with Cv + Cf = {self.c_in}, "
                             f"got {tuple(per_vertex.shape)} and {tuple(per_frame.shape)}")
        split = per_vertex.shape[-1]
        weight, bias = self.input_linear.weight, self.input_linear.bias
        vertex_part = F.linear(per_vertex, weight[:, :split], bias)  # (V, width)
        frame_part = F.linear(per_frame, weight[:, split:])  # (T, width)
        basis = spectral_basis(ops, with_gradients=self.with_gradient_features)
        parts = self.blocks[0].separable_parts(vertex_part, basis)
        chunk = self._chunk(frame_part.shape[0], vertex_part.shape[0])
        outputs = []
        for start in range(0, frame_part.shape[0], chunk):
            hidden = self.blocks[0].forward_separable(vertex_part, frame_part[start : start + chunk], parts)
            outputs.append(self._finish(hidden, basis, first_block=1))
        out = torch.cat(outputs, dim=0)
        return self.last_activation(out) if self.last_activation is not None else out

    def _chunk(self, num_frames: int, num_vertices: int) -> int:
        """Frames per chunk: about `chunk_floats` floats per (V, b, width) activation."""
        chunk = max(self.chunk_floats // max(1, num_vertices * self.width), -(-MIN_CHUNK_COLUMNS // self.width))
        return max(1, min(num_frames, chunk))

    def _finish(self, hidden: torch.Tensor, basis: SpectralBasis, first_block: int) -> torch.Tensor:
        """Blocks from `first_block` on, then the output layer: (V, b, C) → (b, V, c_out), or
        (b, c_out) for outputs="global_mean"."""
        for block in self.blocks[first_block:]:
            hidden = block(hidden, basis)
        out = self.output_linear(hidden)  # (V, b, c_out)
        if self.outputs == "global_mean":
            weights = (basis.mass / basis.mass.sum()).to(out.dtype)
            return torch.einsum("v,vbc->bc", weights, out)
        return out.transpose(0, 1)
