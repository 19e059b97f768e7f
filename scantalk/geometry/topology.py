"""Connectivity of a triangle mesh: its separate pieces, its boundary (edges of one triangle), its
edge graph, shortest paths along its edges, and a cut along such a path."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra


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


def edge_graph(verts: np.ndarray, faces: np.ndarray) -> tuple[csr_matrix, np.ndarray]:
    """(graph, edges): the mesh's edges (E, 2) (smaller index first) and a sparse (V, V) graph
    holding each edge's length (metres) once, for shortest walks on the surface."""
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1), axis=0)
    length = np.linalg.norm(verts[edges[:, 0]] - verts[edges[:, 1]], axis=1)
    count = len(verts)
    return coo_matrix((length, (edges[:, 0], edges[:, 1])), shape=(count, count)).tocsr(), edges


def surface_path(verts: np.ndarray, faces: np.ndarray, waypoints: np.ndarray) -> np.ndarray:
    """Shortest edge path on the mesh through the vertices nearest to `waypoints` (W, 3) → (K,) indices."""
    graph, _ = edge_graph(verts, faces)
    stops = [int(np.argmin(np.linalg.norm(verts - point, axis=1))) for point in waypoints]
    path = [stops[0]]
    for start, goal in zip(stops[:-1], stops[1:]):
        if goal == path[-1]:
            continue
        _, predecessors = dijkstra(graph, directed=False, indices=start, return_predecessors=True)
        if predecessors[goal] < 0:
            raise ValueError("the waypoints lie on separate pieces of the mesh")
        leg = [goal]
        while leg[-1] != start:
            leg.append(int(predecessors[leg[-1]]))
        path.extend(leg[::-1][1:])
    return np.asarray(path, dtype=np.int64)


def split_along(verts: np.ndarray, faces: np.ndarray, path: np.ndarray, up: np.ndarray, gap: float = 0.0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split a surface along a vertex path (corner → corner): each interior path vertex gets a
    copy for the faces on its lower side (lower along `up` (3,)), the two sides opened by up to
    `gap` at the middle (0 keeps them touching).

    Returns:
        verts (V + K, 3), faces (F, 3), upper path (K + 2,) and lower path (K + 2,) indices (the
        corners shared).
    """
    faces = np.asarray(faces).copy()
    copies = np.arange(len(verts), len(verts) + len(path) - 2)
    verts = np.concatenate([verts, verts[path[1:-1]]])
    for i in range(1, len(path) - 1):
        vertex, cut = path[i], {path[i - 1], path[i + 1]}
        fan = np.flatnonzero((faces == vertex).any(axis=1))
        # Faces around the vertex that share an edge off the path are on one side; the two path
        # edges split the fan into an upper and a lower side.
        side = list(range(len(fan)))
        for a in range(len(fan)):
            for b in range(a + 1, len(fan)):
                shared = (set(faces[fan[a]]) & set(faces[fan[b]])) - {vertex}
                if shared and not shared & cut:
                    old, new = side[b], side[a]
                    side = [new if label == old else label for label in side]
        side = np.asarray(side)
        labels = np.unique(side)
        heights = [float(verts[faces[fan[side == label]]].mean(axis=(0, 1)) @ up) for label in labels]
        lower = fan[side == labels[int(np.argmin(heights))]]
        faces[lower] = np.where(faces[lower] == vertex, copies[i - 1], faces[lower])
    if gap > 0:
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(verts[path], axis=0), axis=1))])
        taper = np.sin(np.pi * arc / arc[-1])[1:-1, None]
        verts[path[1:-1]] += 0.5 * gap * taper * up
        verts[copies] -= 0.5 * gap * taper * up
    return verts, faces, path.copy(), np.concatenate([[path[0]], copies, [path[-1]]])
