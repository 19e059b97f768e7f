"""Who is a vertex's neighbour: k nearest neighbours of a point cloud, 1-ring edges of a mesh.

Normals, point-cloud Laplacians and tangent gradients are all fitted over these neighbourhoods.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

# Neighbours used for point-cloud normals, Laplacians and gradients (the DiffusionNet reference
# uses 30). A point cloud needs more points than this to have operators at all.
POINT_CLOUD_NEIGHBOURS = 30


def knn(verts: np.ndarray, k: int, which: np.ndarray | None = None) -> np.ndarray:
    """The k nearest other vertices of some vertices.

    Args:
        verts: (V, 3) positions.
        k: neighbours per vertex; capped at V - 1.
        which: (n,) indices of the vertices to query, all V if None.

    Returns:
        (n, min(k, V - 1)) int64 indices into `verts`, nearest first, the vertex itself excluded.
    """
    which = np.arange(len(verts)) if which is None else which
    k = min(k, len(verts) - 1)
    _, idx = cKDTree(verts).query(verts[which], k=k + 1)
    return idx.reshape(len(which), k + 1)[:, 1:]


def mesh_edges(faces: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Directed 1-ring edges of a triangle mesh, each undirected edge once in each direction.

    Args:
        faces: (F, 3) int64 triangles.
        num_vertices: V.

    Returns:
        (source (E,), target (E,)) int64, sorted by (source, target).
    """
    pairs = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    pairs = np.concatenate([pairs, pairs[:, ::-1]])
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    keys = np.sort(pairs[:, 0] * np.int64(num_vertices) + pairs[:, 1])
    # Sort-and-compare, not np.unique: numpy ≥ 2.3 dispatches that to a hash table, 8x slower here.
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
    return keys // num_vertices, keys % num_vertices


def knn_edges(neighbours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges from a neighbour table.

    Args:
        neighbours: (V, K) indices, row i the neighbours of vertex i.

    Returns:
        (source (V·K,), target (V·K,)) int64.
    """
    source = np.repeat(np.arange(len(neighbours)), neighbours.shape[1])
    return source, neighbours.ravel()
