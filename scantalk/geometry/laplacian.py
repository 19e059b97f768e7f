"""Laplacian and lumped mass of a triangle mesh or a point cloud.

Clean meshes (every edge shared by at most two triangles, no sliver or collapsed triangles) get
the plain cotan Laplacian with barycentric lumped mass from potpourri3d. That is the finite-element
operator the robust Laplacian refines, several times faster to build (robust_laplacian builds an
intrinsic Delaunay triangulation by edge flips; figures in experiments/bench/results/), and on
well-shaped triangles its spectrum agrees with the robust one to discretisation accuracy.
Everything else (non-manifold scans, slivers, collapsed triangles, point clouds) gets the robust
(intrinsic Delaunay, mollified) Laplacian of Sharp & Crane 2020 through `robust_laplacian`,
whose cotan weights stay bounded where plain cotans blow up or the mesh has no consistent
1-ring. What neither library offers, and lives here, is the test that picks between them.
"""

from __future__ import annotations

import numpy as np
import potpourri3d
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
        (L (V, V) scipy CSR float64 in m⁰ (cotan weights are dimensionless), mass (V,) float64 in m²).
    """
    if faces is not None and plain_cotan_suits(verts, faces):
        L = potpourri3d.cotan_laplacian(verts, faces)
        mass = potpourri3d.vertex_areas(verts, faces)
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


def plain_cotan_suits(verts: np.ndarray, faces: np.ndarray) -> bool:
    """Whether the plain cotan Laplacian is well behaved on this mesh.

    False for an edge in more than two triangles, a collapsed triangle, or a corner angle whose
    |cot| exceeds `MAX_PLAIN_COTAN`: those meshes get the robust Laplacian.

    Args:
        verts: (V, 3) float64 positions.
        faces: (F, 3) int64 triangles.

    Returns:
        True when `potpourri3d.cotan_laplacian` may be used.
    """
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    ab, bc, ca = b - a, c - b, a - c
    double_area = np.linalg.norm(np.cross(ab, ca), axis=1)  # (F,)
    dots = np.stack([np.einsum("fi,fi->f", ab, ca), np.einsum("fi,fi->f", bc, ab),
                     np.einsum("fi,fi->f", ca, bc)], axis=1)  # −(edge·edge) at corners a, b, c
    squared = np.stack([np.einsum("fi,fi->f", e, e) for e in (ab, bc, ca)], axis=1)
    if np.any(double_area <= COLLAPSED_TRIANGLE * squared.max(axis=1)):
        return False
    # cot of a corner = (its two edge vectors' dot product) / (2·area).
    if (np.abs(dots).max(axis=1) / double_area).max() > MAX_PLAIN_COTAN:
        return False
    return is_edge_manifold(faces, len(verts))
