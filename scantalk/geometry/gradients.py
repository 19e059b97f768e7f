"""Sparse tangent-gradient operators by weighted local least squares (frames: `normals.py`).

For vertex i with neighbours j, the edge e_ij = x_j − x_i is projected into i's tangent plane
and written in its frame as a 2-vector u_ij. The gradient g_i minimises
Σ_j w_ij (u_ij·g_i − (f_j − f_i))², so g_i = A_i⁻¹ Σ_j w_ij u_ij (f_j − f_i) with the 2×2
A_i = Σ_j w_ij u_ij u_ijᵀ. Everything is computed per directed edge and summed per vertex with
`np.bincount`: no loop over vertices, any neighbourhood size.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Tikhonov term on A_i relative to its mean trace: keeps isolated vertices, collinear 1-rings and
# collapsed triangles finite (their gradient in the missing direction becomes 0) while changing
# well-posed vertices by ~1e-6 relative.
GRADIENT_REGULARISATION = 1e-6


def gradient_operators(
    verts: np.ndarray, frames: np.ndarray, source: np.ndarray, target: np.ndarray
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Sparse tangent-gradient operators by weighted local least squares (see the module docstring).

    Neighbours are weighted uniformly; the fit is exact for linear fields on planar neighbourhoods.

    Args:
        verts: (V, 3) positions in metres.
        frames: (V, 3, 3) from `normals.tangent_frames`, rows basis_x, basis_y, normal.
        source: (E,) int64 directed edges' first vertices (`neighbours.mesh_edges` / `knn_edges`).
        target: (E,) int64 directed edges' second vertices.

    Returns:
        (grad_x, grad_y), each (V, V) scipy CSR float64: (grad_x @ f, grad_y @ f) is the tangent
        gradient of a scalar field f (V,) at each vertex in its (basis_x, basis_y) frame, in units
        of f per metre.
    """
    num_vertices = len(verts)
    edge = verts[target] - verts[source]
    u = np.einsum("eij,ej->ei", frames[source, :2, :], edge)  # (E, 2) edge in source's frame
    a11 = np.bincount(source, u[:, 0] * u[:, 0], minlength=num_vertices)
    a12 = np.bincount(source, u[:, 0] * u[:, 1], minlength=num_vertices)
    a22 = np.bincount(source, u[:, 1] * u[:, 1], minlength=num_vertices)
    trace = a11 + a22
    mean_trace = trace[trace > 0].mean() if (trace > 0).any() else 1.0
    eps = GRADIENT_REGULARISATION * (trace + 1e-3 * mean_trace)
    a11, a22 = a11 + eps, a22 + eps
    det = a11 * a22 - a12 * a12
    # Closed-form inverse of the symmetric 2×2 normal matrix, applied per edge.
    inv11, inv12, inv22 = a22 / det, -a12 / det, a11 / det
    coeff_x = inv11[source] * u[:, 0] + inv12[source] * u[:, 1]
    coeff_y = inv12[source] * u[:, 0] + inv22[source] * u[:, 1]

    def assemble(coeff: np.ndarray) -> sp.csr_matrix:
        diagonal = -np.bincount(source, coeff, minlength=num_vertices)
        rows = np.concatenate([source, np.arange(num_vertices)])
        cols = np.concatenate([target, np.arange(num_vertices)])
        values = np.concatenate([coeff, diagonal])
        return sp.csr_matrix((values, (rows, cols)), shape=(num_vertices, num_vertices))

    return assemble(coeff_x), assemble(coeff_y)
