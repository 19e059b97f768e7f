"""Connectivity of a triangle mesh: its separate pieces and its boundary (edges of one triangle)."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def mesh_pieces(faces: np.ndarray, num_vertices: int) -> tuple[int, np.ndarray]:
    """(count, label (V,)): the connected pieces of a mesh with faces (F, 3) over `num_vertices`
    vertices (a vertex in no face is a piece of its own)."""
    faces = np.asarray(faces)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(num_vertices, num_vertices))
    return connected_components(graph, directed=False)


def boundary_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) the edges used by exactly one triangle of faces (F, 3) (holes and open rims), each
    with its smaller vertex index first."""
    faces = np.asarray(faces)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    return unique[counts == 1]
