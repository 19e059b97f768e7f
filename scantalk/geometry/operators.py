"""Surface operators for DiffusionNet: mass, Laplacian, eigenbasis, tangent gradients.

`compute_operators` turns a mesh or point cloud into a `SurfaceOperators` bundle; `hks` gives
heat kernel signatures from it. The sparse operators are torch CSR tensors: CSR and COO
products run within noise of each other (experiments/bench/operators.py, "sparse_format" in
results/operators.json), and CSR is half the index memory, maps one-to-one onto the saved
indptr/indices/data layout, and supports autograd through `@`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp
import torch

from scantalk.errors import MeshError, ScanTalkError
from scantalk.geometry.eigen import EIGEN_BLAS_THREADS, direct_eigenpairs, limit_blas_threads
from scantalk.geometry.gradients import gradient_operators
from scantalk.geometry.laplacian import laplacian_and_mass
from scantalk.geometry.multilevel import MULTILEVEL_MIN_VERTICES, multilevel_eigenpairs
from scantalk.geometry.neighbours import POINT_CLOUD_NEIGHBOURS, knn, knn_edges, mesh_edges
from scantalk.geometry.normals import pca_normals, tangent_frames, vertex_normals
from scantalk.geometry.ordering import CanonicalOrder
from scantalk.geometry.validation import validate_arrays

EIGENSOLVERS = ("auto", "direct", "multilevel")

# Version 3: operators are computed on the canonical vertex order, eigenvector signs are fixed.
OPERATOR_FORMAT_VERSION = 3

_SPARSE_FIELDS = ("L", "grad_x", "grad_y")
_DENSE_FIELDS = ("verts", "mass", "evals", "evecs", "frames")


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
        return SurfaceOperators(**{
            f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
            for f in fields(self)
        })

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain numpy arrays (sparse matrices as CSR indptr/indices/data) for `np.savez`.

        Keys: format_version, verts, faces ((0, 3) for a point cloud), mass, evals, evecs, frames,
        and <name>_indptr, <name>_indices, <name>_data, <name>_shape for L, grad_x, grad_y.
        """
        arrays: dict[str, np.ndarray] = {"format_version": np.array(OPERATOR_FORMAT_VERSION, dtype=np.int64)}
        for name in _DENSE_FIELDS:
            arrays[name] = getattr(self, name).detach().cpu().numpy()
        arrays["faces"] = (np.zeros((0, 3), dtype=np.int64) if self.faces is None
                           else self.faces.detach().cpu().numpy().astype(np.int64))
        for name in _SPARSE_FIELDS:
            csr = getattr(self, name).detach().cpu().to_sparse_csr()
            arrays[f"{name}_indptr"] = csr.crow_indices().numpy().astype(np.int64)
            arrays[f"{name}_indices"] = csr.col_indices().numpy().astype(np.int64)
            arrays[f"{name}_data"] = csr.values().numpy().astype(np.float32)
            arrays[f"{name}_shape"] = np.array(csr.shape, dtype=np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "SurfaceOperators":
        """Inverse of `to_arrays`; raises `ValueError` on missing or inconsistent arrays."""
        required = ["format_version", "faces", *_DENSE_FIELDS] + [
            f"{name}_{part}" for name in _SPARSE_FIELDS for part in ("indptr", "indices", "data", "shape")
        ]
        missing = [key for key in required if key not in arrays]
        if missing:
            raise ValueError(f"operator arrays are missing {missing}")
        version = int(np.asarray(arrays["format_version"]))
        if version != OPERATOR_FORMAT_VERSION:
            raise ValueError(f"operator arrays have format version {version}, expected {OPERATOR_FORMAT_VERSION}")
        verts = np.asarray(arrays["verts"])
        if verts.ndim != 2 or verts.shape[1] != 3:
            raise ValueError(f"verts must be (V, 3), got {verts.shape}")
        V = verts.shape[0]
        evals, evecs = np.asarray(arrays["evals"]), np.asarray(arrays["evecs"])
        k = evals.shape[0] if evals.ndim == 1 else -1
        expected = {"mass": (V,), "evals": (k,), "evecs": (V, k), "frames": (V, 3, 3)}
        for name, shape in expected.items():
            if k < 0 or np.asarray(arrays[name]).shape != shape:
                raise ValueError(f"{name} has shape {np.asarray(arrays[name]).shape}, expected {shape} for V={V}")
        faces = np.asarray(arrays["faces"])
        if faces.ndim != 2 or faces.shape[1] != 3 or (faces.size and (faces.min() < 0 or faces.max() >= V)):
            raise ValueError(f"faces must be (F, 3) indices into {V} vertices, got shape {faces.shape}")
        sparse = {}
        for name in _SPARSE_FIELDS:
            indptr, indices, data, shape = (np.asarray(arrays[f"{name}_{part}"])
                                            for part in ("indptr", "indices", "data", "shape"))
            if (tuple(shape.tolist()) != (V, V) or indptr.shape != (V + 1,) or indices.shape != data.shape
                    or indptr[-1] != len(indices) or (indices.size and (indices.min() < 0 or indices.max() >= V))):
                raise ValueError(f"sparse matrix {name} is inconsistent with V={V}")
            sparse[name] = _csr_tensor(indptr, indices, data, (V, V))
        return cls(
            verts=_float_tensor(verts), faces=torch.from_numpy(faces.astype(np.int64)) if faces.size else None,
            mass=_float_tensor(arrays["mass"]), evals=_float_tensor(evals), evecs=_float_tensor(evecs),
            frames=_float_tensor(arrays["frames"]), **sparse,
        )


def _float_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _csr_tensor(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    with warnings.catch_warnings():
        # torch warns that CSR support is "beta" on every construction; the ops used here are stable.
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(np.ascontiguousarray(indptr, dtype=np.int64)),
            torch.from_numpy(np.ascontiguousarray(indices, dtype=np.int64)),
            torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)), size=size)


def sparse_to_torch(matrix: sp.spmatrix) -> torch.Tensor:
    """scipy sparse (V, V) → torch float32 sparse CSR tensor (sorted indices, duplicates summed)."""
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    csr.sum_duplicates()
    csr.sort_indices()
    return _csr_tensor(csr.indptr, csr.indices, csr.data, csr.shape)


def compute_operators(
    verts: np.ndarray,
    faces: np.ndarray | None = None,
    k_eig: int = 128,
    *,
    eigensolver: str = "auto",
    blas_threads: int | None = EIGEN_BLAS_THREADS,
    timings: dict[str, float] | None = None,
    name: str = "<array>",
) -> SurfaceOperators:
    """Operators of a triangle mesh or a point cloud: the one way to build `SurfaceOperators`.

    The result does not depend on the vertex order: everything is computed on a canonical,
    coordinate-based order (`ordering.CanonicalOrder`) and mapped back, so the same surface with
    its vertices permuted (faces re-indexed) gets the same operators, permuted, bit for bit.

    Args:
        verts: (V, 3) positions in metres.
        faces: (F, 3) integer triangles, or None (or an empty array) for a point cloud, which
            needs more than `POINT_CLOUD_NEIGHBOURS` points.
        k_eig: eigenpairs wanted; k = min(k_eig, V) are returned.
        eigensolver: "auto" (dense/ARPACK below `MULTILEVEL_MIN_VERTICES` vertices,
            coarse-to-fine above), "direct" (always the converged ARPACK solve) or "multilevel".
        blas_threads: BLAS threads for the eigensolver (None: leave the BLAS setting alone).
        timings: if given, receives wall seconds for "ordering", "laplacian", "gradients" and "eigen".
        name: how the input is called in error messages (e.g. its file path).

    Returns:
        `SurfaceOperators` of float32 CPU tensors in the input's vertex order.

    Raises:
        MeshError: for arrays that are not a surface (wrong shapes, NaNs, face indices out of
            range) or a point cloud too small for its neighbourhoods, before any expensive work.
        ScanTalkError: for an invalid `k_eig` or `eigensolver`.
    """
    if eigensolver not in EIGENSOLVERS:
        raise ScanTalkError(f"eigensolver must be one of {', '.join(EIGENSOLVERS)}, got {eigensolver!r}.")
    if isinstance(k_eig, bool) or not isinstance(k_eig, (int, np.integer)) or k_eig < 1:
        raise ScanTalkError(f"k_eig must be a positive integer (e.g. 128), got {k_eig!r}.")
    if faces is not None and np.asarray(faces).size == 0:
        faces = None  # an empty face list is how point clouds are stored on disk
    input_verts, input_faces = validate_arrays(verts, faces, name)
    if input_faces is None and len(input_verts) <= POINT_CLOUD_NEIGHBOURS:
        raise MeshError(
            f"{name} is a point cloud of {len(input_verts)} points, too few for its operators: each point's "
            f"normal, Laplacian and gradient are fitted to its {POINT_CLOUD_NEIGHBOURS} nearest neighbours, so "
            f"at least {POINT_CLOUD_NEIGHBOURS + 1} points are needed; pass a denser point cloud or the mesh with its faces."
        )
    timings = {} if timings is None else timings

    start = time.perf_counter()
    canonical = CanonicalOrder.of(input_verts)
    verts = input_verts[canonical.order]
    faces = None if input_faces is None else canonical.faces_to_canonical(input_faces)
    timings["ordering"] = time.perf_counter() - start

    start = time.perf_counter()
    L, mass = laplacian_and_mass(verts, faces)
    timings["laplacian"] = time.perf_counter() - start

    start = time.perf_counter()
    if faces is None:
        neighbours = knn(verts, POINT_CLOUD_NEIGHBOURS)
        normals = pca_normals(verts, neighbours)
        source, target = knn_edges(neighbours)
    else:
        normals = vertex_normals(verts, faces)
        source, target = mesh_edges(faces, len(verts))
    frames = tangent_frames(normals)
    grad_x, grad_y = gradient_operators(verts, frames, source, target)
    timings["gradients"] = time.perf_counter() - start

    start = time.perf_counter()
    use_multilevel = eigensolver == "multilevel" or (
        eigensolver == "auto" and len(verts) >= MULTILEVEL_MIN_VERTICES)
    with limit_blas_threads(blas_threads):
        if use_multilevel:
            evals, evecs = multilevel_eigenpairs(L, mass, verts, frames, int(k_eig))
        else:
            evals, evecs = direct_eigenpairs(L, mass, int(k_eig))
    timings["eigen"] = time.perf_counter() - start

    start = time.perf_counter()
    to_input = canonical.rows_to_input
    result = SurfaceOperators(
        verts=_float_tensor(input_verts),
        faces=None if input_faces is None else torch.from_numpy(input_faces),
        mass=_float_tensor(to_input(mass)), L=sparse_to_torch(canonical.sparse_to_input(L)),
        evals=_float_tensor(evals), evecs=_float_tensor(to_input(evecs.astype(np.float32))),
        grad_x=sparse_to_torch(canonical.sparse_to_input(grad_x)),
        grad_y=sparse_to_torch(canonical.sparse_to_input(grad_y)),
        frames=_float_tensor(to_input(frames)),
    )
    timings["ordering"] += time.perf_counter() - start
    return result


def hks(ops: SurfaceOperators, n_scales: int = 16) -> torch.Tensor:
    """Heat kernel signature (V, n_scales) in 1/m²: Σ_i exp(−λ_i t) φ_i² at log-spaced times.

    Times span 4·ln10/λ_max … 4·ln10/λ_1 (Sun et al. 2009), λ_1 the first non-zero eigenvalue,
    so the scales follow the surface's size rather than a fixed unit.
    """
    evals = ops.evals.double()
    positive = evals[evals > 1e-8 * evals.max().clamp_min(1e-30)]
    if positive.numel() == 0:
        times = torch.ones(n_scales, dtype=torch.float64, device=evals.device)
    else:
        t_min = 4.0 * np.log(10.0) / float(positive.max())
        t_max = 4.0 * np.log(10.0) / float(positive.min())
        times = torch.logspace(np.log10(t_min), np.log10(t_max), n_scales, dtype=torch.float64,
                               device=evals.device)
    decay = torch.exp(-evals[None, :] * times[:, None])  # (n_scales, k)
    return ((ops.evecs.double() ** 2) @ decay.T).to(ops.evecs.dtype)
