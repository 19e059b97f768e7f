"""Unit vertex normals of meshes and point clouds, and the tangent frames built on them.

The one `vertex_normals` of the project: area-weighted face normals on a mesh, PCA normals on a
point cloud (and on mesh vertices whose faces have no area).
"""

from __future__ import annotations

import numpy as np

from scantalk.geometry.neighbours import POINT_CLOUD_NEIGHBOURS, knn


def pca_normals(verts: np.ndarray, neighbours: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
    """Least-variance direction of each vertex's neighbourhood, as a unit normal.

    Normals are oriented away from the centroid of the whole cloud, so neighbouring normals
    agree on closed, roughly star-shaped surfaces such as heads.

    Args:
        verts: (V, 3) positions.
        neighbours: (n, K) indices into `verts`, the neighbourhood of each queried vertex.
        which: (n,) indices of the queried vertices, all V if None.

    Returns:
        (n, 3) float64 unit normals.
    """
    which = np.arange(len(verts)) if which is None else which
    local = verts[neighbours] - verts[which, None, :]
    cov = np.einsum("vki,vkj->vij", local, local)
    _, vecs = np.linalg.eigh(cov)
    normals = vecs[:, :, 0]
    outward = np.einsum("vi,vi->v", normals, verts[which] - verts.mean(axis=0))
    normals[outward < 0] *= -1.0
    return normals


def vertex_normals(verts: np.ndarray, faces: np.ndarray | None) -> np.ndarray:
    """Unit vertex normals of a mesh or point cloud.

    On a mesh: the area-weighted sum of incident face normals (follows the face winding).
    Vertices whose incident faces have no area, or that no face uses, fall back to PCA normals
    of their nearest neighbours, so every vertex gets a finite unit normal.

    Args:
        verts: (V, 3) positions.
        faces: (F, 3) int64 triangles, or None for a point cloud (PCA normals throughout).

    Returns:
        (V, 3) float64 unit normals.
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


def tangent_frames(normals: np.ndarray) -> np.ndarray:
    """Orthonormal frames whose third row is the normal.

    basis_x is the world x axis projected into the tangent plane (world y where the normal is
    within ~25° of x); basis_y = normal × basis_x.

    Args:
        normals: (V, 3) unit normals.

    Returns:
        (V, 3, 3) float64, rows basis_x, basis_y, normal.
    """
    reference = np.zeros_like(normals)
    near_x = np.abs(normals[:, 0]) > 0.9
    reference[~near_x, 0] = 1.0
    reference[near_x, 1] = 1.0
    basis_x = reference - np.einsum("vi,vi->v", reference, normals)[:, None] * normals
    basis_x /= np.linalg.norm(basis_x, axis=1, keepdims=True)
    basis_y = np.cross(normals, basis_x)
    return np.stack([basis_x, basis_y, normals], axis=1)
