"""The k smallest generalised eigenpairs of a surface Laplacian, L φ = λ M φ, solved exactly.

Small problems use a dense LAPACK solve, larger ones ARPACK shift-invert (`direct_eigenpairs`);
`multilevel.py` holds the coarse-to-fine approximation used for large surfaces. Every solver
ends in `finish`, which fixes what a solver leaves free: ascending order, λ ≥ 0, M-normalisation
and the sign of each eigenvector. BLAS threads are limited through threadpoolctl
(`limit_blas_threads`), because the dense steps here are what OpenBLAS's busy-waiting slows down
on a machine whose cores are shared.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from threadpoolctl import threadpool_limits

from scantalk.errors import MeshError, ScanTalkError

# Below this many vertices a dense generalised eigensolver is both exact and fast.
DENSE_MAX_VERTICES = 400
# Relative shift σ·(mean diagonal of L / mean mass): L + σM is positive definite even with
# several connected components (each contributes a zero eigenvalue).
RELATIVE_SHIFT = 1e-8
# Each failed factorisation retries with a shift this many times larger.
SHIFT_GROWTH = 1000.0
MAX_SHIFT_RETRIES = 3
# BLAS threads for the eigensolvers. OpenBLAS busy-waits its workers, so on cores shared with
# other jobs more threads make the dense steps several times slower, while on an idle machine
# they gain little; one thread measured best on the 2-core development machine
# (experiments/bench/operators.py --blas-threads 1 2, results/operators.json "blas_threads").
# None leaves the BLAS libraries as they are.
EIGEN_BLAS_THREADS: int | None = 1


@contextlib.contextmanager
def limit_blas_threads(count: int | None) -> Iterator[None]:
    """Run the block with every loaded BLAS library limited to `count` threads.

    Args:
        count: threads (≥ 1), or None to leave the libraries' settings alone.

    Raises:
        ScanTalkError: for a count below 1.
    """
    if count is None:
        yield
        return
    if count < 1:
        raise ScanTalkError(f"the BLAS thread count must be at least 1 (or None to leave it alone), got {count}.")
    with threadpool_limits(limits=int(count), user_api="blas"):
        yield


def spectral_scale(L: sp.spmatrix, mass: np.ndarray) -> float:
    """A typical eigenvalue size (1/m²): mean Laplacian diagonal over mean vertex area."""
    return float(np.mean(L.diagonal()) / np.mean(mass) + 1e-300)


def finish(evals: np.ndarray, evecs: np.ndarray, mass: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Canonical form of a solver's eigenpairs.

    Sorts ascending (stable, so equal eigenvalues keep the solver's order), keeps k, clamps
    round-off negatives to 0, M-normalises each eigenvector and flips its sign so that its entry
    of largest magnitude (the first such vertex on a tie) is positive. DiffusionNet's spectral
    filters see φφᵀ only, so the sign never changes its output; fixing it makes the raw
    eigenvectors reproducible between solvers and runs.

    Args:
        evals: (n,) eigenvalues in 1/m², n ≥ k.
        evecs: (V, n) eigenvectors, column j for evals[j].
        mass: (V,) lumped vertex areas in m².
        k: how many pairs to keep.

    Returns:
        (evals (k,) ascending ≥ 0, evecs (V, k) with φᵀ M φ = 1).
    """
    order = np.argsort(evals, kind="stable")[:k]
    evals, evecs = evals[order], evecs[:, order]
    evals = np.clip(evals, 0.0, None)
    norms = np.sqrt(np.einsum("vk,v,vk->k", evecs, mass, evecs))
    evecs = evecs / norms
    peak = evecs[np.argmax(np.abs(evecs), axis=0), np.arange(evecs.shape[1])]
    return evals, evecs * np.where(peak < 0, -1.0, 1.0)


def dense_eigenpairs(L: sp.spmatrix, mass: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k smallest pairs by dense LAPACK; k is capped at V.

    Args:
        L: (V, V) sparse Laplacian.
        mass: (V,) lumped areas in m².
        k: pairs wanted.

    Returns:
        (evals (k,), evecs (V, k)) as `finish` leaves them.
    """
    k = min(k, L.shape[0])
    evals, evecs = scipy.linalg.eigh(L.toarray(), np.diag(mass), subset_by_index=[0, k - 1])
    return finish(evals, evecs, mass, k)


def factorise_shifted(L: sp.spmatrix, mass: np.ndarray, shift: float):
    """Sparse LU of L + shift·M (shift > 0), regularised on failure.

    A singular or numerically broken factorisation (zero-area components, coincident points)
    is retried with a shift `SHIFT_GROWTH` times larger, up to `MAX_SHIFT_RETRIES` times.

    Args:
        L: (V, V) sparse Laplacian.
        mass: (V,) lumped areas in m².
        shift: the first shift to try, in 1/m².

    Returns:
        (solve, shift): `solve(b)` applies (L + shift·M)⁻¹ to a (V,) vector; the shift used.

    Raises:
        MeshError: when no shift gives a usable factorisation.
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

    The reference solver: exact to ARPACK tolerance, but slow on large surfaces (see
    `multilevel.multilevel_eigenpairs`). Dense LAPACK below `DENSE_MAX_VERTICES` or 2k + 1 vertices.

    Args:
        L: (V, V) sparse positive semi-definite Laplacian.
        mass: (V,) lumped areas in m².
        k: pairs wanted (capped at V).

    Returns:
        (evals (k,) in 1/m², evecs (V, k)) as `finish` leaves them.
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
