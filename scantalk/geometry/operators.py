"""Surface operators for DiffusionNet: mass, Laplacian, eigenbasis, tangent gradients.

CONTRACT (owned by the operators helper; signatures below are fixed, bodies to be written).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

OPERATOR_FORMAT_VERSION = 1


@dataclass
class SurfaceOperators:
    """Everything DiffusionNet needs about one surface with V vertices and k eigenpairs.

    All tensors float32 (indices int64) on one device.
    verts (V, 3) metres · faces (F, 3) or None for a point cloud · mass (V,) lumped areas ·
    L (V, V) sparse, positive semi-definite cotan/robust Laplacian · evals (k,) ascending ·
    evecs (V, k) mass-orthonormal · grad_x, grad_y (V, V) sparse: a scalar field f gives the
    tangent gradient (grad_x @ f, grad_y @ f) in each vertex's frame · frames (V, 3, 3): rows
    basis_x, basis_y, normal.
    """

    verts: torch.Tensor
    faces: torch.Tensor | None
    mass: torch.Tensor
    L: torch.Tensor
    evals: torch.Tensor
    evecs: torch.Tensor
    grad_x: torch.Tensor
    grad_y: torch.Tensor
    frames: torch.Tensor

    @property
    def num_vertices(self) -> int:
        return int(self.verts.shape[0])

    @property
    def k_eig(self) -> int:
        return int(self.evals.shape[0])

    @property
    def device(self) -> torch.device:
        return self.verts.device

    def to(self, device: torch.device | str) -> "SurfaceOperators":
        """A copy with every tensor on `device`."""
        raise NotImplementedError

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain numpy arrays (sparse matrices as CSR indptr/indices/data) for `np.savez`."""
        raise NotImplementedError

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "SurfaceOperators":
        """Inverse of `to_arrays`; raises `ValueError` on missing or inconsistent arrays."""
        raise NotImplementedError


def compute_operators(verts: np.ndarray, faces: np.ndarray | None = None, k_eig: int = 128) -> SurfaceOperators:
    """Operators of a triangle mesh (faces (F, 3)) or a point cloud (faces None); verts (V, 3)."""
    raise NotImplementedError


def hks(ops: SurfaceOperators, n_scales: int = 16) -> torch.Tensor:
    """Heat kernel signature (V, n_scales) at log-spaced times."""
    raise NotImplementedError
