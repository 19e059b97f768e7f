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
# that makes dense steps 5-20x slower than one thread (measured: the 40k-vertex multilevel solve
# takes 1.0-1.2 s with 1 thread, 5.7-19 s with 2 threads at load average 3 on 2 cores), while 2
# threads on an idle machine gain at most 2x on the dense part. Load averages lag by a minute,
# so no detection is attempted: the eigensolvers always run BLAS with this many threads.
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
# Coarse-to-fine approximation (after Nasikun, Brandt & Hildebrandt 2018, made multilevel like a
# full-multigrid eigensolver): a hierarchy of nested voxel samples, each level interpolated from
# the next coarser one by moving least squares with Galerkin operators P^T L P and P^T M P; an
# exact dense solve on the coarsest level, then on each finer level the prolonged eigenvectors
# get one block-Davidson step. Each level's step removes the error at its own scale, so the
# accuracy no longer degrades with the fine/coarse ratio as a two-level scheme's does
# (measured on head_like at 160k vertices, experiments/bench/operators.py: two levels with two
# float64 steps gave 0.9% worst error of the first 128 eigenvalues in 28 s; four levels with one
# float32 step each give 0.03% in 6 s, at load average 3.7 on 2 cores).

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
    """About `count` vertex indices spread evenly over the surface: per occupied voxel, the vertex
    closest to the mean of the voxel's vertices. The voxel side starts at sqrt(area / count) and
    is corrected once by the count it gave (partly occupied voxels otherwise overshoot ~40%)."""
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
    """Approximate k smallest pairs (k,), (V, k) by the coarse-to-fine hierarchy described above.

    Levels shrink by about `LEVEL_RATIO` down to SAMPLES_PER_EIGENPAIR·k vertices; every level
    is a subset of the finer one and interpolates to it with `mls_prolongation`. Falls back to
    the direct solver when the mesh is too small to coarsen or the coarse problem is singular.
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
