"""Approximate k smallest generalised eigenpairs L φ = λ M φ of a large surface, coarse to fine.

After Nasikun, Brandt & Hildebrandt 2018, made multilevel like a full-multigrid eigensolver: a
hierarchy of nested voxel samples, each level interpolated from the next coarser one by moving
least squares, with Galerkin operators PᵀLP and PᵀMP; an exact dense solve on the coarsest level,
then on each finer level the prolonged eigenvectors get one block-Davidson step. Each level's
step removes the error at its own scale, so the accuracy does not degrade with the fine/coarse
ratio as a two-level scheme's does. Speed and accuracy against the converged ARPACK solve are
measured by experiments/bench/operators.py (results in experiments/bench/results/operators.json).

Every choice here (voxel representatives, neighbour ties) follows the vertex order, which
`compute_operators` makes canonical, so the result does not depend on how a file numbers its
vertices.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.spatial import cKDTree

from scantalk.geometry.eigen import direct_eigenpairs, finish

# Use the coarse-to-fine path from this many vertices up; below it ARPACK is as fast.
MULTILEVEL_MIN_VERTICES = 3000
# Coarsest-level samples per requested eigenpair (dense solve, cubic in this), extra eigenpairs
# carried as a guard band, and the vertex-count ratio between consecutive levels.
SAMPLES_PER_EIGENPAIR = 6
GUARD_EIGENPAIRS = 16
LEVEL_RATIO = 4.0
# Sample vertices each fine vertex interpolates from (moving least squares, linear in the tangent plane).
INTERPOLATION_NEIGHBOURS = 8
# Davidson steps per level. Refinement runs in float32: sgemm is twice dgemm, and Ritz values
# are quadratically accurate in the vectors, far inside the 1% budget.
REFINEMENT_STEPS = 1
REFINEMENT_DTYPE = np.float32


def voxel_samples(verts: np.ndarray, area: float, count: int) -> np.ndarray:
    """About `count` vertices spread evenly over the surface.

    Per occupied voxel, the vertex closest to the mean of the voxel's vertices. The voxel side
    starts at sqrt(area / count) and is corrected once by the count it gave (partly occupied
    voxels otherwise overshoot by tens of percent).

    Args:
        verts: (V, 3) positions in metres.
        area: the surface area in m².
        count: how many samples are wanted.

    Returns:
        (S,) sorted int64 indices into `verts`, S ≈ count.
    """
    side = np.sqrt(area / count)
    samples = _voxel_representatives(verts, side)
    if abs(len(samples) - count) > 0.1 * count:
        samples = _voxel_representatives(verts, side * np.sqrt(len(samples) / count))
    return samples


def _voxel_representatives(verts: np.ndarray, side: float) -> np.ndarray:
    """Sorted indices of one vertex per occupied voxel of side `side` (m)."""
    cells = np.floor((verts - verts.min(axis=0)) / side).astype(np.int64)
    extent = cells.max(axis=0) + 1
    keys = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]
    _, cell_of = np.unique(keys, return_inverse=True)
    counts = np.bincount(cell_of)
    means = np.stack([np.bincount(cell_of, verts[:, c]) for c in range(3)], axis=1) / counts[:, None]
    distance = np.linalg.norm(verts - means[cell_of], axis=1)
    order = np.lexsort((distance, cell_of))
    return np.sort(order[np.r_[0, np.flatnonzero(np.diff(cell_of[order])) + 1]])


def mls_prolongation(verts: np.ndarray, frames: np.ndarray, samples: np.ndarray) -> sp.csr_matrix:
    """Sparse (V, S) interpolation from sample vertices to every vertex by moving least squares.

    Each vertex fits a linear function in its tangent plane to its nearest samples (weights
    (1 − d/r)², r just beyond the farthest one); the row is that fit's value at the vertex. Rows
    sum to 1 and reproduce linear functions, which makes the Galerkin eigenvalues second-order
    accurate in the sample spacing (a plain partition of unity is only first order).

    Args:
        verts: (V, 3) positions in metres.
        frames: (V, 3, 3) tangent frames, rows basis_x, basis_y, normal.
        samples: (S,) indices into `verts` of the coarse level's vertices.

    Returns:
        (V, S) scipy CSR float64 prolongation P (coarse values → fine values).
    """
    num_neighbours = min(INTERPOLATION_NEIGHBOURS, len(samples))
    distance, nearest = cKDTree(verts[samples]).query(verts, k=num_neighbours)
    distance, nearest = distance.reshape(len(verts), -1), nearest.reshape(len(verts), -1)
    radius = 1.25 * distance[:, -1:] + 1e-12
    weight = (1.0 - distance / radius) ** 2  # (V, K)
    offset = verts[samples][nearest] - verts[:, None, :]  # (V, K, 3)
    uv = np.einsum("vci,vki->vkc", frames[:, :2], offset) / radius[:, :, None]  # (V, K, 2), scaled
    basis = np.concatenate([np.ones_like(uv[..., :1]), uv], axis=2)  # (V, K, 3): 1, u, v
    moment = np.einsum("vk,vka,vkb->vab", weight, basis, basis)
    # A ridge on the linear terms keeps collinear or clustered samples solvable (falls back to
    # a weighted average there); it is tiny next to a well-spread neighbourhood's moments.
    moment[:, 1, 1] += 1e-6 * weight.sum(axis=1)
    moment[:, 2, 2] += 1e-6 * weight.sum(axis=1)
    first_row = np.linalg.solve(moment, np.broadcast_to(np.array([1.0, 0.0, 0.0]), (len(verts), 3))[..., None])[..., 0]
    values = weight * np.einsum("va,vka->vk", first_row, basis)
    rows = np.repeat(np.arange(len(verts)), num_neighbours)
    return sp.csr_matrix((values.ravel(), (rows, nearest.ravel())), shape=(len(verts), len(samples)))


def small_rayleigh_ritz(stiffness: np.ndarray, gram: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Lowest `count` pairs of the small dense problem stiffness·c = θ·gram·c (float64, (n, n)).

    Returns θ (count,) and coefficients (n, count) with cᵀ·gram·c = I. Directions the basis nearly
    repeats (gram eigenvalue below 1e-7 of the largest, float32 round-off level) are dropped.
    """
    stiffness, gram = 0.5 * (stiffness + stiffness.T), 0.5 * (gram + gram.T)
    gram_values, gram_vectors = np.linalg.eigh(gram)
    keep = gram_values > 1e-7 * gram_values.max()
    whiten = gram_vectors[:, keep] / np.sqrt(gram_values[keep])
    values, vectors = np.linalg.eigh(whiten.T @ stiffness @ whiten)
    return values[:count], whiten @ vectors[:, :count]


def block_davidson(L: sp.csr_matrix, M: sp.csr_matrix, vectors: np.ndarray, values: np.ndarray, steps: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Refine Ritz pairs (values (b,), vectors (n, b): M-orthonormal, vectorsᵀ L vectors = diag(values)).

    Each step adds the Jacobi-preconditioned residuals D⁻¹(Lx − θMx) to the basis and takes
    Rayleigh–Ritz on [x, corrections]; the x block of the small problem is known (I, diag θ), so a
    step costs two sparse products, one (2b × n)·(n × 2b) Gram product and one (n × 2b)·(2b × b)
    update, all in the dtype of `vectors`.
    """
    count = vectors.shape[1]
    L, M = L.astype(vectors.dtype), M.astype(vectors.dtype)
    if M.nnz == M.shape[0]:  # the finest level's lumped mass: scaling rows beats a sparse product
        mass_column = M.diagonal()[:, None]
        apply_M = lambda block: mass_column * block  # noqa: E731
    else:
        apply_M = M.__matmul__
    diagonal = L.diagonal()
    diagonal = np.maximum(diagonal, 1e-6 * diagonal.mean())[:, None]  # isolated vertices have L_ii = 0
    basis = np.empty((vectors.shape[0], 2 * count), dtype=vectors.dtype)
    products = np.empty_like(basis)  # [L·basis_c, M·basis_c] for the correction block
    for _ in range(steps):
        corrections = basis[:, count:]
        np.subtract(L @ vectors, apply_M(vectors) * values.astype(vectors.dtype), out=corrections)
        corrections /= diagonal
        corrections /= np.linalg.norm(corrections, axis=0) + np.finfo(vectors.dtype).tiny
        basis[:, :count] = vectors
        products[:, :count] = L @ corrections
        products[:, count:] = apply_M(corrections)
        cross = (basis.T @ products).astype(np.float64)  # (2b, 2b): rows [x; c], columns [Lc, Mc]
        stiffness = np.block([[np.diag(values), cross[:count, :count]], [cross[:count, :count].T, cross[count:, :count]]])
        gram = np.block([[np.eye(count), cross[:count, count:]], [cross[:count, count:].T, cross[count:, count:]]])
        values, coefficients = small_rayleigh_ritz(stiffness, gram, count)
        vectors = basis @ coefficients.astype(vectors.dtype)
    return values, vectors


def multilevel_eigenpairs(L: sp.spmatrix, mass: np.ndarray, verts: np.ndarray, frames: np.ndarray, k: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k smallest eigenpairs by the coarse-to-fine hierarchy of the module docstring.

    Levels shrink by about `LEVEL_RATIO` down to SAMPLES_PER_EIGENPAIR·k vertices; every level
    is a subset of the finer one and interpolates to it with `mls_prolongation`. Falls back to
    the direct solver when the mesh is too small to coarsen or the coarse problem is singular.

    Args:
        L: (V, V) sparse positive semi-definite Laplacian.
        mass: (V,) lumped vertex areas in m².
        verts: (V, 3) positions in metres (sampling and interpolation).
        frames: (V, 3, 3) tangent frames, rows basis_x, basis_y, normal (interpolation).
        k: eigenpairs wanted.

    Returns:
        (evals (k,) in 1/m², evecs (V, k)) as `eigen.finish` leaves them.
    """
    count = k + GUARD_EIGENPAIRS
    target = SAMPLES_PER_EIGENPAIR * k
    if L.shape[0] < 2 * target:
        return direct_eigenpairs(L, mass, k)
    area = float(mass.sum())
    num_levels = max(1, int(np.ceil(np.log(L.shape[0] / target) / np.log(LEVEL_RATIO) - 0.2)))
    ratio = (L.shape[0] / target) ** (1.0 / num_levels)
    # Walk down: (prolongation from the next level, L, M) per level, finest first.
    levels: list[tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]] = []
    level_L, level_M, members = sp.csr_matrix(L), sp.diags(mass).tocsr(), np.arange(L.shape[0])
    for _ in range(num_levels):
        samples = voxel_samples(verts[members], area, int(len(members) / ratio))
        if len(samples) < 2 * count:
            break
        prolongation = mls_prolongation(verts[members], frames[members], samples)
        restriction = prolongation.T.tocsr()
        levels.append((prolongation, level_L, level_M))
        level_L = restriction @ level_L @ prolongation
        level_M = restriction @ level_M @ prolongation
        members = members[samples]
    if not levels:
        return direct_eigenpairs(L, mass, k)
    try:
        values, vectors = scipy.linalg.eigh(level_L.toarray(), level_M.toarray(), subset_by_index=[0, count - 1])
    except np.linalg.LinAlgError:
        return direct_eigenpairs(L, mass, k)
    vectors = vectors.astype(REFINEMENT_DTYPE)
    # Galerkin levels keep the prolonged vectors M-orthonormal with Ritz values unchanged, so each
    # level starts straight from the coarser level's pairs.
    for prolongation, level_L, level_M in reversed(levels):
        vectors = prolongation.astype(REFINEMENT_DTYPE) @ vectors
        values, vectors = block_davidson(level_L, level_M, vectors, values, REFINEMENT_STEPS)
    return finish(values, vectors.astype(np.float64), mass, k)
