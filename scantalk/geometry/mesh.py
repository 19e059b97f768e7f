"""Mesh and point-cloud files in, cleaned arrays out, with the map back to the file's order.

CONTRACT (owned by the mesh helper; signatures fixed, bodies to be written).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Mesh:
    """A cleaned surface (or point cloud) plus what is needed to answer in the file's terms.

    verts (V, 3) float64 · faces (F, 3) int64 or None for a point cloud ·
    file_to_clean (V_file,) int64: for each vertex of the source file, the index of the cleaned
    vertex that carries it (merged duplicates share one; an unreferenced vertex maps to its
    nearest kept vertex) · file_verts (V_file, 3) float64 and file_faces (F_file, 3) | None as read ·
    source: the file path, or None for arrays.
    """

    verts: np.ndarray
    faces: np.ndarray | None
    file_to_clean: np.ndarray
    file_verts: np.ndarray
    file_faces: np.ndarray | None
    source: str | None = None

    @property
    def is_point_cloud(self) -> bool:
        return self.faces is None

    def to_file_order(self, values: np.ndarray) -> np.ndarray:
        """Per-vertex values (..., V, C) on the cleaned mesh → (..., V_file, C) in file order."""
        raise NotImplementedError

    @classmethod
    def from_arrays(cls, verts: np.ndarray, faces: np.ndarray | None = None, name: str = "<array>") -> "Mesh":
        """Validate and clean in-memory arrays exactly as `load_mesh` cleans a file."""
        raise NotImplementedError


def load_mesh(path: str | Path) -> Mesh:
    """Read .obj .ply .off .stl .gltf .glb meshes and .ply .pcd .xyz point clouds, then clean."""
    raise NotImplementedError


def save_mesh(path: str | Path, verts: np.ndarray, mesh: Mesh) -> None:
    """Write `verts` (V_file, 3) — in the file's vertex order — with `mesh.file_faces`, atomically."""
    raise NotImplementedError
