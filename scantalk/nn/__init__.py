"""Neural layers on surfaces; they take tensors and `SurfaceOperators`, never files.

`DiffusionNet` is the network users build; `DiffusionNetBlock`, `SpectralDiffusion` and
`GradientFeatures` are its layers (vertex-major features (V, ..., C)), and `spectral_basis`
gives the cached operator tensors they share.
"""

from scantalk.nn.basis import SpectralBasis, spectral_basis
from scantalk.nn.diffusion import SpectralDiffusion
from scantalk.nn.diffusionnet import DiffusionNet, DiffusionNetBlock
from scantalk.nn.gradient_features import GradientFeatures

__all__ = ["DiffusionNet", "DiffusionNetBlock", "GradientFeatures", "SpectralBasis", "SpectralDiffusion", "spectral_basis"]
