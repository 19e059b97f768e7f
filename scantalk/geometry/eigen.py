"""The k smallest generalised eigenpairs of a surface Laplacian: L φ = λ M φ.

Small problems use a dense solver, mid-sized ones ARPACK shift-invert (`direct_eigenpairs`);
large ones the coarse-to-fine approximation in `scantalk.geometry.multilevel`.
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
