"""The operator tensors DiffusionNet layers use, derived once per surface from `SurfaceOperators`.

Diffusion and gradient features only ever touch the operators through three thin matrices:

- `analysis` (k, V) = (M Φ)ᵀ: spectral coefficients of a field are `analysis @ x`;
- `synthesis` (V, k) = Φ: a field back from its coefficients;
- `gradient_synthesis` (2V, k) = [Gx Φ; Gy Φ]: the tangent gradient of a field given by its
  coefficients, because grad(Φ c) = (G Φ) c exactly.

DiffusionNet takes gradients of *diffused* fields, which are `Φ c` by construction, so the sparse
gradient products become one dense (3V, k) @ (k, N) product shared with the synthesis. On CPUs
this is faster than torch's sparse-dense product and it keeps all memory O(V·k): no (V, V)
tensor is ever densified. The sparse operators are touched once per surface (G @ Φ), and the
result is cached on the `SurfaceOperators` object itself, so an encoder and a decoder
sharing one surface pay for it once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from scantalk.errors import MeshError
from scantalk.geometry.operators import SurfaceOperators


@dataclass(frozen=True)
class SpectralBasis:
    """Float32 operator tensors for one surface with V vertices and k eigenpairs, on one device.

    mass (V,) lumped vertex areas (m²) · evals (k,) ascending (1/m²) · analysis (k, V) = (mass ⊙ Φ)ᵀ
    · synthesis (V, k) = Φ · gradient_synthesis (2V, k) = [grad_x Φ; grad_y Φ], or None when
    built without gradients · synthesis_with_gradients (3V, k) = [Φ; grad_x Φ; grad_y Φ], or None.
    """

    mass: torch.Tensor
    evals: torch.Tensor
    analysis: torch.Tensor
    synthesis: torch.Tensor
    synthesis_with_gradients: torch.Tensor | None

    @property
    def num_vertices(self) -> int:
        return int(self.synthesis.shape[0])

    @property
    def k_eig(self) -> int:
        return int(self.evals.shape[0])

    @property
    def gradient_synthesis(self) -> torch.Tensor | None:
        """[grad_x Φ; grad_y Φ] (2V, k), a view into `synthesis_with_gradients`."""
        if self.synthesis_with_gradients is None:
            return None
        return self.synthesis_with_gradients[self.num_vertices :]

    @classmethod
    def from_operators(cls, ops: SurfaceOperators, with_gradients: bool = True) -> "SpectralBasis":
        """Build the basis of `ops` (no caching; see `spectral_basis` for the cached form)."""
        evecs = ops.evecs.detach().to(torch.float32)
        mass = ops.mass.detach().to(torch.float32)
        evals = ops.evals.detach().to(torch.float32)
        num_vertices = evecs.shape[0]
        if mass.shape != (num_vertices,) or evals.shape != (evecs.shape[1],):
            raise MeshError(
                f"inconsistent surface operators: evecs {tuple(evecs.shape)}, mass {tuple(mass.shape)}, "
                f"evals {tuple(evals.shape)}; recompute them with scantalk.geometry.compute_operators"
            )
        analysis = (evecs * mass[:, None]).T.contiguous()
        stacked = None
        if with_gradients:
            stacked = torch.cat([evecs, _sparse_times_dense(ops.grad_x, evecs), _sparse_times_dense(ops.grad_y, evecs)])
        return cls(mass=mass, evals=evals, analysis=analysis, synthesis=evecs.contiguous(), synthesis_with_gradients=stacked)


def _sparse_times_dense(matrix: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    """`matrix @ dense` in float32 for a sparse (COO or CSR) or dense (V, V) `matrix`; (V, k)."""
    if matrix.layout == torch.sparse_coo:
        matrix = matrix.coalesce()
    return (matrix.to(torch.float32) @ dense).contiguous()


# Name of the attribute under which a `SurfaceOperators` object carries its derived basis (as
# PyTorch3D's `Meshes` carries its normals): (identities of the tensors it was built from, basis).
_CACHE_ATTRIBUTE = "_spectral_basis_cache"


def spectral_basis(ops: SurfaceOperators | SpectralBasis, with_gradients: bool = True) -> SpectralBasis:
    """The `SpectralBasis` of `ops`, computed once per `SurfaceOperators` object and cached on it.

    Args:
        ops: the surface's operators (V vertices, k eigenpairs), or a `SpectralBasis`, which
            passes through unchanged.
        with_gradients: also build the gradient synthesis (3V, k) that gradient features need.

    Returns:
        The basis. It lives as long as `ops` does; replacing any of the operator tensors (e.g.
        `ops.to(device)` returns a new object, or assigning `ops.evecs`) gives a fresh basis.
    """
    if isinstance(ops, SpectralBasis):
        if with_gradients and ops.synthesis_with_gradients is None:
            raise ValueError("this SpectralBasis was built without gradients; build it with with_gradients=True")
        return ops
    fingerprint = (id(ops.evecs), id(ops.mass), id(ops.evals), id(ops.grad_x), id(ops.grad_y))
    cached = getattr(ops, _CACHE_ATTRIBUTE, None)
    if cached is not None and cached[0] == fingerprint:
        basis = cached[1]
        if not with_gradients or basis.synthesis_with_gradients is not None:
            return basis
    basis = SpectralBasis.from_operators(ops, with_gradients=with_gradients)
    try:
        object.__setattr__(ops, _CACHE_ATTRIBUTE, (fingerprint, basis))
    except (AttributeError, TypeError):  # an operators object without a __dict__ is simply not cached
        pass
    return basis
