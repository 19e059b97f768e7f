"""The k smallest generalised eigenpairs of a surface Laplacian: L φ = λ M φ.

Small problems use a dense solver, mid-sized ones ARPACK shift-invert (`direct_eigenpairs`);
large ones the coarse-to-fine approximation `multilevel_eigenpairs` below.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from scantalk.errors import MeshError

# Below this many vertices a dense generalised eigensolver is both exact and fast.
DENSE_MAX_VERTICES = 400
# Relative shift σ·(mean diagonal of L / mean mass): L + σM is positive definite even with
# several connected components (each contributes a zero eigenvalue).
RELATIVE_SHIFT = 1e-8
# Each failed factorisation retries with a shift this many times larger.
SHIFT_GROWTH = 1000.0
MAX_SHIFT_RETRIES = 3


# OpenBLAS busy-waits its worker threads; on a machine whose cores are shared with other jobs
# that makes dense steps 10-20x slower than one thread. The solvers here are dominated by
# single-threaded sparse factorisations anyway, so they run BLAS with this many threads.
EIGEN_BLAS_THREADS = 1
_OPENBLAS_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads")


@functools.cache
def _openblas_libraries() -> tuple[tuple[object, object], ...]:
    """(set_num_threads, get_num_threads) of the OpenBLAS copies bundled with numpy and scipy wheels."""
    found = []
    for package in (np, scipy):
        libs_dir = Path(package.__file__).parent.parent / f"{package.__name__}.libs"
        for path in sorted(libs_dir.glob("*openblas*")):
            try:
                lib = ctypes.CDLL(str(path))
            except OSError:
                continue
            for setter in _OPENBLAS_SETTERS:
                getter = setter.replace("set_num_threads", "get_num_threads")
                if hasattr(lib, setter) and hasattr(lib, getter):
                    found.append((getattr(lib, setter), getattr(lib, getter)))
                    break
    return tuple(found)


@contextlib.contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """Run the block with OpenBLAS limited to `count` threads (no-op for other BLAS builds)."""
    libraries = _openblas_libraries()
    previous = [int(get()) for _, get in libraries]
    for set_threads, _ in libraries:
        set_threads(count)
    try:
        yield
    finally:
        for (set_threads, _), old in zip(libraries, previous):
            set_threads(old)


def spectral_scale(L: sp.spmatrix, mass: np.ndarray) -> float:
    """A typical eigenvalue size (1/m²): mean Laplacian diagonal over mean vertex area."""
    return float(np.mean(L.diagonal()) / np.mean(mass) + 1e-300)


def finish(evals: np.ndarray, evecs: np.ndarray, mass: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort ascending, keep k, clamp round-off negatives to 0 and M-normalise each eigenvector."""
    order = np.argsort(evals)[:k]
    evals, evecs = evals[order], evecs[:, order]
    evals = np.clip(evals, 0.0, None)
    norms = np.sqrt(np.einsum("vk,v,vk->k", evecs, mass, evecs))
    return evals, evecs / norms


def dense_eigenpairs(L: sp.spmatrix, mass: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k smallest pairs (k,), (V, k) by dense LAPACK; k is capped at V."""
    k = min(k, L.shape[0])
    evals, evecs = scipy.linalg.eigh(L.toarray(), np.diag(mass), subset_by_index=[0, k - 1])
    return finish(evals, evecs, mass, k)


def factorise_shifted(L: sp.spmatrix, mass: np.ndarray, shift: float):
    """Sparse LU of L + shift·M (shift > 0); returns `(solve, shift)` and regularises on failure.

    A singular or numerically broken factorisation (zero-area components, coincident points)
    is retried with a shift `SHIFT_GROWTH` times larger, up to `MAX_SHIFT_RETRIES` times.
    """
    M = sp.diags(mass)
    for _ in range(MAX_SHIFT_RETRIES + 1):
        try:
            lu = sla.splu(sp.csc_matrix(L + shift * M), permc_spec="MMD_AT_PLUS_A",
                          options={"SymmetricMode": True})
            probe = lu.solve(np.ones(L.shape[0]))
            if np.isfinite(probe).all():
                return lu.solve, shift
        except RuntimeError:
            pass
        shift *= SHIFT_GROWTH
    raise MeshError(f"the Laplacian of this {L.shape[0]}-vertex surface cannot be factorised even with a "
                    "regularising shift; the surface is probably degenerate (collapsed triangles or "
                    "coincident points) — clean it with scantalk.geometry.load_mesh")


def direct_eigenpairs(L: sp.spmatrix, mass: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Converged k smallest pairs by ARPACK shift-invert around −σ (σ tiny and positive).

    The reference solver: exact to ARPACK tolerance, but slow above ~10k vertices.
    """
    num_vertices = L.shape[0]
    if num_vertices <= max(DENSE_MAX_VERTICES, 2 * k + 1):
        return dense_eigenpairs(L, mass, k)
    solve, shift = factorise_shifted(L, mass, RELATIVE_SHIFT * spectral_scale(L, mass))
    op_inv = sla.LinearOperator(L.shape, matvec=solve, dtype=np.float64)
    # ARPACK's start vector is random unless given; a fixed one keeps results reproducible.
    start = np.ones(num_vertices) + 0.1 * np.cos(np.arange(num_vertices))
    evals, evecs = sla.eigsh(sp.csc_matrix(L), k=k, M=sp.diags(mass).tocsc(), sigma=-shift,
                             which="LM", OPinv=op_inv, v0=start)
    return finish(evals, evecs, mass, k)


# ---------------------------------------------------------------------------------------------
# Coarse-to-fine approximation (after Nasikun, Brandt & Hildebrandt 2018): a Galerkin problem on
# a prolongation of a few thousand sample vertices, then block-Davidson refinement on the mesh.

# Use the coarse-to-fine path from this many vertices up; below it ARPACK is fast enough.
MULTILEVEL_MIN_VERTICES = 15000
# Coarse sample vertices per requested eigenpair, and extra eigenpairs carried as a guard band.
SAMPLES_PER_EIGENPAIR = 12
GUARD_EIGENPAIRS = 16
# Sample vertices each fine vertex interpolates from (moving least squares, linear in the tangent plane).
INTERPOLATION_NEIGHBOURS = 8
REFINEMENT_STEPS = 2


def voxel_samples(verts: np.ndarray, area: float, count: int) -> np.ndarray:
    """About `count` vertex indices spread evenly over the surface: per occupied voxel of side
    sqrt(area / count), the vertex closest to the mean of the voxel's vertices."""
    side = np.sqrt(area / count)
    cells = np.floor((verts - verts.min(axis=0)) / side).astype(np.int64)
    extent = cells.max(axis=0) + 1
    keys = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]
    _, cell_of = np.unique(keys, return_inverse=True)
    counts = np.bincount(cell_of)
    means = np.stack([np.bincount(cell_of, verts[:, c]) for c in range(3)], axis=1) / counts[:, None]
    distance = np.linalg.norm(verts - means[cell_of], axis=1)
    order = np.lexsort((distance, cell_of))
    return order[np.r_[0, np.flatnonzero(np.diff(cell_of[order])) + 1]]


def mls_prolongation(verts: np.ndarray, frames: np.ndarray, samples: np.ndarray) -> sp.csr_matrix:
    """Sparse (V, S) interpolation from sample vertices to every vertex by moving least squares.

    Each vertex fits a linear function in its tangent plane to its nearest samples (weights
    (1 − d/r)², r just beyond the farthest one); the row is that fit's value at the vertex. Rows
    sum to 1 and reproduce linear functions, which makes the Galerkin eigenvalues second-order
    accurate in the sample spacing (a plain partition of unity is only first order).
    """
    from scipy.spatial import cKDTree

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


def rayleigh_ritz(basis: np.ndarray, L_basis: np.ndarray, mass: np.ndarray, count: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best `count` eigenpair approximations in span(basis (V, n)); L_basis = L @ basis.

    Returns Ritz values (count,), vectors (V, count) M-orthonormal, and L @ vectors.
    """
    stiffness = basis.T @ L_basis
    gram = basis.T @ (mass[:, None] * basis)
    stiffness, gram = 0.5 * (stiffness + stiffness.T), 0.5 * (gram + gram.T)
    # Drop directions the basis nearly repeats, so the small generalised problem stays well posed.
    gram_values, gram_vectors = np.linalg.eigh(gram)
    keep = gram_values > 1e-10 * gram_values.max()
    whiten = gram_vectors[:, keep] / np.sqrt(gram_values[keep])
    values, vectors = np.linalg.eigh(whiten.T @ stiffness @ whiten)
    coefficients = whiten @ vectors[:, :count]
    return values[:count], basis @ coefficients, L_basis @ coefficients


def block_davidson(L: sp.csr_matrix, mass: np.ndarray, vectors: np.ndarray, steps: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Refine approximate eigenvectors (V, b): each step adds the Jacobi-preconditioned residuals
    D⁻¹(Lx − θMx) to the basis and takes Rayleigh–Ritz on [x, residuals]. The coarse space gets the
    smooth part of each eigenvector right; these steps remove the fine-scale interpolation error."""
    count = vectors.shape[1]
    diagonal = L.diagonal()[:, None]
    values, vectors, L_vectors = rayleigh_ritz(vectors, L @ vectors, mass, count)
    for _ in range(steps):
        correction = (L_vectors - mass[:, None] * vectors * values) / diagonal
        basis = np.concatenate([vectors, correction], axis=1)
        L_basis = np.concatenate([L_vectors, L @ correction], axis=1)
        values, vectors, L_vectors = rayleigh_ritz(basis, L_basis, mass, count)
    return values, vectors


def multilevel_eigenpairs(L: sp.spmatrix, mass: np.ndarray, verts: np.ndarray, frames: np.ndarray, k: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k smallest pairs (k,), (V, k): exact Galerkin solve on an MLS prolongation P of
    about SAMPLES_PER_EIGENPAIR·k voxel samples (L_c = PᵀLP, M_c = PᵀMP, dense), lifted to the
    mesh and refined by `REFINEMENT_STEPS` block-Davidson steps. Falls back to the direct solver
    when the mesh is too small to coarsen or the coarse problem is singular."""
    L = sp.csr_matrix(L)
    count = k + GUARD_EIGENPAIRS
    samples = voxel_samples(verts, float(mass.sum()), SAMPLES_PER_EIGENPAIR * k)
    if len(samples) < 2 * count or 4 * len(samples) > L.shape[0]:
        return direct_eigenpairs(L, mass, k)
    prolongation = mls_prolongation(verts, frames, samples)
    coarse_L = (prolongation.T @ L @ prolongation).toarray()
    coarse_M = (prolongation.T @ sp.diags(mass) @ prolongation).toarray()
    try:
        _, coarse_vectors = scipy.linalg.eigh(coarse_L, coarse_M, subset_by_index=[0, count - 1])
    except np.linalg.LinAlgError:
        return direct_eigenpairs(L, mass, k)
    values, vectors = block_davidson(L, mass, prolongation @ coarse_vectors, REFINEMENT_STEPS)
    return finish(values, vectors, mass, k)
