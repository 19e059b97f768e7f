"""Laplacian, lumped mass and vertex normals of a triangle mesh or a point cloud.

Clean meshes (every edge shared by at most two triangles, no sliver or collapsed triangles) get
the plain cotan Laplacian with barycentric lumped mass, assembled here in vectorised numpy. That
is the same finite-element operator the robust Laplacian refines, about 10x faster to build
(0.1 s vs 1 s at 40k vertices: `robust_laplacian.mesh_laplacian` builds an intrinsic Delaunay
triangulation by edge flips), and on well-shaped triangles its spectrum agrees with the robust
one to discretisation accuracy. Everything else (non-manifold scans, slivers, collapsed
triangles, point clouds) gets the robust (intrinsic Delaunay, mollified) Laplacian of Sharp &
Crane 2020 through `robust_laplacian`, whose cotan weights stay bounded where plain cotans
blow up or the mesh has no consistent 1-ring.
"""

from __future__ import annotations

import numpy as np
import robust_laplacian
import scipy.sparse as sp
from scipy.spatial import cKDTree

from scantalk.errors import MeshError

# Neighbours used for point-cloud normals and gradients (the DiffusionNet reference uses 30).
POINT_CLOUD_NEIGHBOURS = 30
# Largest |cot| of a corner angle (≈ 0.57°) for which the plain cotan Laplacian is used: beyond
# it a sliver's weight dominates its row and the intrinsic (robust) Laplacian is better behaved.
MAX_PLAIN_COTAN = 100.0


def validate_surface(verts: np.ndarray, faces: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Check shapes, finiteness and index range; return float64 verts (V, 3), int64 faces (F, 3) or None.

    A faces array with no rows means a point cloud.
    """
    verts = np.asarray(verts, dtype=np.float64)
    if verts.ndim != 2 or verts.shape[1] != 3 or verts.shape[0] < 3:
        raise MeshError(f"surface vertices must be an array (V, 3) with V >= 3, got shape {verts.shape}; "
                        "pass the mesh's xyz positions")
    if not np.isfinite(verts).all():
        raise MeshError("surface vertices contain NaN or infinite coordinates; clean the mesh first "
                        "(scantalk.geometry.load_mesh does)")
    if faces is None:
        return verts, None
    faces = np.asarray(faces)
    if faces.size == 0:
        return verts, None
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise MeshError(f"faces must be an integer array (F, 3) of triangles, got {faces.dtype} {faces.shape}; "
                        "triangulate polygons before computing operators")
    if faces.min() < 0 or faces.max() >= len(verts):
        raise MeshError(f"faces index vertices outside 0..{len(verts) - 1} (found {faces.min()}..{faces.max()}); "
                        "the face array does not belong to these vertices")
    return verts, faces.astype(np.int64)


def laplacian_and_mass(verts: np.ndarray, faces: np.ndarray | None) -> tuple[sp.csr_matrix, np.ndarray]:
    """Positive semi-definite Laplacian L (V, V) CSR float64 and lumped vertex areas (V,) in m².

    Zero areas (unreferenced vertices, collapsed triangles) are raised to a tiny fraction of the
    mean area so the mass matrix stays invertible for the eigensolver and diffusion.
    """
    plain = None if faces is None else cotan_laplacian(verts, faces)
    if plain is not None:
        L, mass = plain
    else:
        if faces is None:
            L, M = robust_laplacian.point_cloud_laplacian(verts, n_neighbors=POINT_CLOUD_NEIGHBOURS)
        else:
            L, M = robust_laplacian.mesh_laplacian(verts, faces)
        mass = np.asarray(M.diagonal(), dtype=np.float64)
    positive = mass[mass > 0]
    floor = 1e-8 * (positive.mean() if positive.size else 1.0)
    mass = np.maximum(mass, floor)
    return sp.csr_matrix(L, dtype=np.float64), mass


def is_edge_manifold(faces: np.ndarray, num_vertices: int) -> bool:
    """True when no undirected edge of the triangles (F, 3) belongs to more than two of them."""
    lo = np.minimum(faces, np.roll(faces, -1, axis=1)).ravel()
    hi = np.maximum(faces, np.roll(faces, -1, axis=1)).ravel()
    keys = np.sort(lo * np.int64(num_vertices) + hi)
    return not bool(np.any(keys[2:] == keys[:-2]))


def cotan_laplacian(verts: np.ndarray, faces: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray] | None:
    """Plain cotan Laplacian L (V, V) CSR float64 and barycentric lumped areas (V,) in m², or None
    when the mesh needs the robust Laplacian (an edge in more than two triangles, a collapsed
    triangle or a corner angle whose |cot| exceeds `MAX_PLAIN_COTAN`).

    L_ij = −(cot α_ij + cot β_ij)/2 for the angles opposite edge ij, L_ii = −Σ_j L_ij.
    """
    num_vertices = len(verts)
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    ab, bc, ca = b - a, c - b, a - c
    double_area = np.linalg.norm(np.cross(ab, -ca), axis=1)  # (F,)
    longest = np.maximum(np.maximum(np.einsum("fi,fi->f", ab, ab), np.einsum("fi,fi->f", bc, bc)),
                         np.einsum("fi,fi->f", ca, ca))
    if np.any(double_area <= 1e-12 * longest) or not is_edge_manifold(faces, num_vertices):
        return None
    # cot of the angle at a corner = (its two edge vectors' dot product) / (2·area); the corner at
    # a weights the opposite edge (b, c), and so on.
    cotan = -np.stack([np.einsum("fi,fi->f", ab, ca), np.einsum("fi,fi->f", bc, ab),
                       np.einsum("fi,fi->f", ca, bc)], axis=1) / double_area[:, None]  # (F, 3)
    if np.abs(cotan).max() > MAX_PLAIN_COTAN:
        return None
    weight = 0.5 * cotan.T.ravel()
    head = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    tail = np.concatenate([faces[:, 2], faces[:, 0], faces[:, 1]])
    off_diagonal = sp.coo_matrix((np.concatenate([-weight, -weight]), (np.concatenate([head, tail]),
                                  np.concatenate([tail, head]))), shape=(num_vertices, num_vertices)).tocsr()
    diagonal = np.bincount(head, weight, minlength=num_vertices) + np.bincount(tail, weight, minlength=num_vertices)
    L = (off_diagonal + sp.diags(diagonal)).tocsr()
    mass = np.bincount(faces.ravel(), np.repeat(double_area / 6.0, 3), minlength=num_vertices)
    return L, mass


def knn(verts: np.ndarray, k: int, which: np.ndarray | None = None) -> np.ndarray:
    """Indices (n, k) of the k nearest other vertices of vertices `which` (all V if None)."""
    which = np.arange(len(verts)) if which is None else which
    k = min(k, len(verts) - 1)
    _, idx = cKDTree(verts).query(verts[which], k=k + 1)
    return idx[:, 1:]


def pca_normals(verts: np.ndarray, neighbours: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
    """Unit normals (n, 3) of vertices `which` (all if None): the least-variance direction of
    each neighbourhood `neighbours` (n, K) (indices into verts), oriented away from the centroid of the whole
    cloud so neighbouring normals agree on closed shapes."""
    which = np.arange(len(verts)) if which is None else which
    local = verts[neighbours] - verts[which, None, :]
    cov = np.einsum("vki,vkj->vij", local, local)
    _, vecs = np.linalg.eigh(cov)
    normals = vecs[:, :, 0]
    outward = np.einsum("vi,vi->v", normals, verts[which] - verts.mean(axis=0))
    normals[outward < 0] *= -1.0
    return normals


def vertex_normals(verts: np.ndarray, faces: np.ndarray | None) -> np.ndarray:
    """Unit normals (V, 3): area-weighted face normals on a mesh, PCA normals on a point cloud.

    Mesh vertices whose incident faces have no area (or no faces at all) fall back to PCA normals
    of their nearest neighbours, so every vertex gets a finite unit normal.
    """
    if faces is None:
        return pca_normals(verts, knn(verts, POINT_CLOUD_NEIGHBOURS))
    tri = verts[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2·area
    corners = faces.ravel()
    repeated = np.repeat(face_normals, 3, axis=0)
    normals = np.stack([np.bincount(corners, repeated[:, c], minlength=len(verts)) for c in range(3)], axis=1)
    length = np.linalg.norm(normals, axis=1)
    scale = np.median(np.linalg.norm(face_normals, axis=1)) + 1e-300
    degenerate = np.flatnonzero(length <= 1e-10 * scale)
    if degenerate.size:
        normals[degenerate] = pca_normals(verts, knn(verts, POINT_CLOUD_NEIGHBOURS, degenerate), degenerate)
        length = np.linalg.norm(normals, axis=1)
    return normals / length[:, None]
