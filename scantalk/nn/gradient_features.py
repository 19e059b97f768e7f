"""Rotation-invariant gradient features of DiffusionNet (Sharp et al. 2022, section 3.3).

Each channel's tangent gradient g = (g_x, g_y) lives in a per-vertex tangent frame whose
orientation is arbitrary. A learned complex-linear map over channels, A = A_re + i·A_im, gives a
second vector field b = A g (complex multiplication rotates and scales in the tangent plane), and
the feature is tanh(⟨g, b⟩) per channel: a dot product of two tangent vectors, so it does not
change when the frames are rotated.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class GradientFeatures(nn.Module):
    """tanh(g_x·b_x + g_y·b_y) per channel with b = A g; parameters `A_re`, `A_im` (C, C).

    With `with_rotations=False` the map is real (b = A_re g, componentwise) and `A_im` is absent.
    """

    def __init__(self, channels: int, with_rotations: bool = True) -> None:
        super().__init__()
        self.channels = channels
        self.with_rotations = with_rotations
        bound = channels**-0.5  # nn.Linear's default scale, for a map without bias
        self.A_re = nn.Parameter(torch.empty(channels, channels).uniform_(-bound, bound))
        self.A_im = nn.Parameter(torch.empty(channels, channels).uniform_(-bound, bound)) if with_rotations else None

    def forward(self, gradients: torch.Tensor) -> torch.Tensor:
        """gradients (2, V, ..., C): (x, y) tangent components per channel → features (V, ..., C).

        The output has the dtype of `gradients` unless autocast selects another for the products.
        """
        if gradients.shape[0] != 2 or gradients.shape[-1] != self.channels:
            raise ValueError(
                f"GradientFeatures expects gradients of shape (2, V, ..., {self.channels}), got {tuple(gradients.shape)}"
            )
        g_x, g_y = gradients.unbind(0)
        if self.A_im is None:
            b_x, b_y = F.linear(gradients, self.A_re).unbind(0)  # b = A g, componentwise
            dots = g_x * b_x
            dots.addcmul_(g_y, b_y)
            return dots.tanh_()
        # unbind (not indexing) so the backward pass stacks gradients instead of zero-filling
        # a full-size buffer per slice.
        re_x, re_y = F.linear(gradients, self.A_re).unbind(0)
        im_x, im_y = F.linear(gradients, self.A_im).unbind(0)
        # b_x = A_re g_x − A_im g_y, b_y = A_re g_y + A_im g_x; ⟨g, b⟩ regrouped to save temporaries.
        dots = g_x * re_x
        dots.addcmul_(g_y, re_y)
        dots.addcmul_(g_y, im_x)
        dots.addcmul_(g_x, im_y, value=-1.0)
        return dots.tanh_()
