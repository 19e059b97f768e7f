"""Cleaning of raw vertex/face arrays (scans, exports), vectorised in numpy.

Arrays are checked first by the shared `validation.validate_arrays`.

Cleaning keeps every surviving position bit-exact (a merged group keeps the coordinates of its
first vertex in file order) and records, for every input vertex, the cleaned vertex that
carries it, so results can be written back in the file's own vertex order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from scantalk.errors import MeshError
from scantalk.geometry.validation import validate_arrays

# Vertices closer than this fraction of the bounding-box diagonal are one vertex: scanners and
# exporters write seams as exact or round-off duplicates, which would split the surface.
MERGE_TOLERANCE = 1e-9
# Twice a triangle's area below this fraction of diagonal² counts as zero: such slivers give
# infinite cotangent weights.
AREA_TOLERANCE = 1e-14


@dataclass
class CleanedArrays:
    """Result of `clean_arrays`.

    verts (V, 3) float64 · faces (F, 3) int64 or None · file_to_clean (V_file,) int64 ·
    file_verts (V_file, 3) float64 · file_faces (F_file, 3) int64 or None.
    """

    verts: np.ndarray
    faces: np.ndarray | None
    file_to_clean: np.ndarray
    file_verts: np.ndarray
    file_faces: np.ndarray | None


def merge_close_vertices(verts: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices closer than `tolerance` (same units as verts, inclusive).

    verts (V, 3) → (merged (M, 3), file_to_merged (V,) int64). Merged vertices keep the exact
    position of the first vertex of their group and appear in order of first occurrence, so a
    file without duplicates maps to itself.
    """
    n_file = verts.shape[0]
    unique, first_index, inverse = np.unique(verts, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_unique = unique.shape[0]
    group = np.arange(n_unique)
    if tolerance > 0 and n_unique > 1:
        pairs = cKDTree(unique).query_pairs(tolerance, output_type="ndarray")
        if len(pairs):
            graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_unique, n_unique))
            _, group = connected_components(graph, directed=False)
    n_groups = int(group.max()) + 1
    group_first = np.full(n_groups, n_file, dtype=np.int64)
    np.minimum.at(group_first, group, first_index)
    order = np.argsort(group_first, kind="stable")
    rank = np.empty(n_groups, dtype=np.int64)
    rank[order] = np.arange(n_groups)
    file_to_merged = rank[group[inverse]]
    return verts[group_first[order]], file_to_merged


def clean_faces(verts: np.ndarray, faces: np.ndarray, diagonal: float) -> np.ndarray:
    """Drop degenerate faces (repeated index, zero area) and duplicates (same vertex set).

    verts (V, 3), faces (F, 3) → (F', 3) int64, surviving faces in their original order.
    """
    repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
    corners = verts[faces]
    doubled_area = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    faces = faces[~repeated & (doubled_area > AREA_TOLERANCE * diagonal**2)]
    if faces.shape[0] == 0:
        return faces
    _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    return faces[np.sort(first)]


def clean_arrays(verts: np.ndarray, faces: np.ndarray | None, name: str) -> CleanedArrays:
    """Validate, merge near-duplicate vertices, drop bad faces and unreferenced vertices.

    verts (V_file, 3), faces (F_file, 3) or None. Non-manifold edges and several connected
    components are kept as they are. Unreferenced vertices of a mesh map to the nearest kept
    vertex in `file_to_clean`. Raises `MeshError` (naming `name`) for unusable input.
    """
    file_verts, file_faces = validate_arrays(verts, faces, name)
    diagonal = float(np.linalg.norm(file_verts.max(axis=0) - file_verts.min(axis=0)))
    merged, file_to_merged = merge_close_vertices(file_verts, MERGE_TOLERANCE * diagonal)
    if file_faces is None:
        if merged.shape[0] < 3:
            raise MeshError(f"{name}: the point cloud has fewer than 3 distinct points; it cannot describe a surface.")
        return CleanedArrays(merged, None, file_to_merged, file_verts, None)

    faces_clean = clean_faces(merged, file_to_merged[file_faces], diagonal)
    if faces_clean.shape[0] == 0:
        raise MeshError(
            f"{name}: all {file_faces.shape[0]} faces are degenerate (repeated vertices or zero area); "
            "the mesh has no usable surface, re-export it or load it as a point cloud."
        )
    used = np.zeros(merged.shape[0], dtype=bool)
    used[faces_clean] = True
    kept = np.flatnonzero(used)
    merged_to_clean = np.full(merged.shape[0], -1, dtype=np.int64)
    merged_to_clean[kept] = np.arange(kept.size)
    unused = np.flatnonzero(~used)
    if unused.size:
        _, nearest = cKDTree(merged[kept]).query(merged[unused])
        merged_to_clean[unused] = nearest
    return CleanedArrays(
        verts=merged[kept],
        faces=merged_to_clean[faces_clean],
        file_to_clean=merged_to_clean[file_to_merged],
        file_verts=file_verts,
        file_faces=file_faces,
    )
