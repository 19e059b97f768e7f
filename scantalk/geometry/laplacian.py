"""Laplacian and lumped mass of a triangle mesh or a point cloud.

Clean meshes (every edge shared by at most two triangles, no sliver or collapsed triangles) get
the plain cotan Laplacian with barycentric lumped mass: the finite-element operator the robust
Laplacian refines, and on well-shaped triangles its spectrum agrees with the robust one to
discretisation accuracy. Everything else (non-manifold scans, slivers, collapsed triangles,
point clouds) gets the robust (intrinsic Delaunay, mollified) Laplacian of Sharp & Crane 2020
through `robust_laplacian`, whose cotan weights stay bounded where plain cotans blow up or the
mesh has no consistent 1-ring.

The plain operator is exactly potpourri3d's `cotan_laplacian` and `vertex_areas` (a test holds
them equal), assembled here because the same pass also decides whether the mesh is clean enough
for it: the check needs every corner's cotangent anyway, and reusing them makes check plus
assembly faster than potpourri3d's assembly alone (its pure-numpy version builds 12 entries per
triangle; experiments/bench/operators.py measures both, results/operators.json "laplacian").
"""

from __future__ import annotations

import numpy as np
import robust_laplacian
import scipy.sparse as sp

from scantalk.geometry.neighbours import POINT_CLOUD_NEIGHBOURS

# Largest |cot| of a corner angle (≈ 0.57°) for which the plain cotan Laplacian is used: beyond
# it a sliver's weight dominates its row and the intrinsic (robust) Laplacian is better behaved.
MAX_PLAIN_COTAN = 100.0
# Twice a triangle's area below this fraction of its longest squared edge counts as collapsed.
COLLAPSED_TRIANGLE = 1e-12


def laplacian_and_mass(verts: np.ndarray, faces: np.ndarray | None) -> tuple[sp.csr_matrix, np.ndarray]:
    """Positive semi-definite Laplacian and lumped vertex areas of a mesh or point cloud.

    Zero areas (unreferenced vertices, collapsed triangles) are raised to a tiny fraction of the
    mean area so the mass matrix stays invertible for the eigensolver and diffusion.

    Args:
        verts: (V, 3) float64 positions in metres.
        faces: (F, 3) int64 triangles, or None for a point cloud (needs V > POINT_CLOUD_NEIGHBOURS).

    Returns:
        (L (V, V) scipy CSR float64, dimensionless cotan weights; mass (V,) float64 in m²).
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
    """The plain cotan Laplacian and barycentric lumped areas, or None where they misbehave.

    L_ij = −(cot α_ij + cot β_ij)/2 for the angles opposite edge ij, L_ii = −Σ_j L_ij; the mass of
    a vertex is a third of the area of its triangles.

    Args:
        verts: (V, 3) float64 positions in metres.
        faces: (F, 3) int64 triangles.

    Returns:
        (L (V, V) scipy CSR float64, mass (V,) float64 in m²), or None when the mesh needs the
        robust Laplacian: an edge in more than two triangles, a collapsed triangle, or a corner
        angle whose |cot| exceeds `MAX_PLAIN_COTAN`.
    """
    num_vertices = len(verts)
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    ab, bc, ca = b - a, c - b, a - c
    double_area = np.linalg.norm(np.cross(ab, -ca), axis=1)  # (F,)
    longest = np.maximum(np.maximum(np.einsum("fi,fi->f", ab, ab), np.einsum("fi,fi->f", bc, bc)),
                         np.einsum("fi,fi->f", ca, ca))
    if np.any(double_area <= COLLAPSED_TRIANGLE * longest) or not is_edge_manifold(faces, num_vertices):
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
