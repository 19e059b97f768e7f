"""Mesh and point-cloud files in, cleaned arrays out, with the map back to the file's order."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scantalk.atomic import atomic_path
from scantalk.errors import MeshError
from scantalk.geometry.cleaning import clean_arrays
from scantalk.geometry.formats import READERS, WRITERS

MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".gltf", ".glb")
POINT_CLOUD_SUFFIXES = (".ply", ".pcd", ".xyz")
SAVE_SUFFIXES = tuple(WRITERS)


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

    @property
    def num_vertices(self) -> int:
        """V, the number of cleaned vertices."""
        return int(self.verts.shape[0])

    def to_file_order(self, values: np.ndarray) -> np.ndarray:
        """Per-vertex values (..., V, C) on the cleaned mesh → (..., V_file, C) in file order.

        Works for numpy arrays and torch tensors (indexing along the second-to-last axis).
        """
        if values.ndim < 2 or values.shape[-2] != self.num_vertices:
            raise ValueError(
                f"expected per-vertex values of shape (..., {self.num_vertices}, C) for "
                f"{self.source or 'this mesh'}, got {tuple(values.shape)}"
            )
        if isinstance(values, np.ndarray):
            return np.take(values, self.file_to_clean, axis=-2)
        import torch

        index = torch.as_tensor(self.file_to_clean, device=values.device)
        return values.index_select(values.ndim - 2, index)

    def from_file_order(self, values: np.ndarray) -> np.ndarray:
        """Per-vertex values (..., V_file, C) in file order → (..., V, C) on the cleaned mesh.

        The inverse of `to_file_order` for values that agree on the file vertices cleaning
        merged (each cleaned vertex takes its first file vertex's value).
        """
        if values.ndim < 2 or values.shape[-2] != len(self.file_to_clean):
            raise ValueError(
                f"expected per-vertex values of shape (..., {len(self.file_to_clean)}, C) in the file order of "
                f"{self.source or 'this mesh'}, got {tuple(values.shape)}"
            )
        first = np.unique(self.file_to_clean, return_index=True)[1]  # every cleaned vertex has file vertices
        return np.take(values, first, axis=-2)

    @classmethod
    def from_arrays(cls, verts: np.ndarray, faces: np.ndarray | None = None, name: str = "<array>") -> "Mesh":
        """Validate and clean in-memory arrays exactly as `load_mesh` cleans a file.

        verts (V, 3) in metres, faces (F, 3) integer indices or None for a point cloud. `name`
        appears in error messages. Raises `MeshError` for unusable input.
        """
        cleaned = clean_arrays(verts, faces, name)
        return cls(
            verts=cleaned.verts,
            faces=cleaned.faces,
            file_to_clean=cleaned.file_to_clean,
            file_verts=cleaned.file_verts,
            file_faces=cleaned.file_faces,
            source=None,
        )


def load_mesh(path: str | Path) -> Mesh:
    """Read .obj .ply .off .stl .gltf .glb meshes and .ply .pcd .xyz point clouds, then clean.

    A file with vertices but no faces (e.g. a .ply scan) is a point cloud. Cleaning merges
    duplicate vertices (within 1e-9 × bounding-box diagonal), drops degenerate and duplicate
    faces and unreferenced vertices; `Mesh.file_to_clean` maps back to the file's vertices.
    Raises `MeshError` naming the file for a missing, unreadable, empty or invalid file.
    """
    path = Path(path)
    supported = " ".join(sorted(set(MESH_SUFFIXES + POINT_CLOUD_SUFFIXES)))
    if not path.exists():
        raise MeshError(f"mesh file {path} does not exist; check the path.")
    if path.is_dir():
        raise MeshError(f"{path} is a directory; pass a mesh or point-cloud file ({supported}).")
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise MeshError(f"{path}: unsupported file type '{path.suffix}'; convert it to one of {supported}.")
    if path.stat().st_size == 0:
        raise MeshError(f"{path} is empty (0 bytes); re-export the mesh.")
    try:
        verts, faces = READERS[suffix](path)
    except (ValueError, IndexError, KeyError, OSError, UnicodeDecodeError, struct.error) as error:
        raise MeshError(
            f"could not read {path} as a {suffix} file ({error}); check that it is a valid, complete "
            f"{suffix} file or re-export it."
        ) from error
    mesh = Mesh.from_arrays(verts, faces, name=str(path))
    mesh.source = str(path)
    return mesh


def save_mesh(path: str | Path, verts: np.ndarray, mesh: Mesh) -> None:
    """Write `verts` (V_file, 3) — in the file's vertex order — with `mesh.file_faces`, atomically.

    Formats by suffix: .obj .off .ply .xyz keep float64 positions exactly; .stl and .pcd store
    float32. Point-cloud formats (.xyz, .pcd) write the points only. Raises `MeshError` for an
    unsupported suffix, wrong shape or non-finite values.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        raise MeshError(f"cannot save {path}: unsupported file type '{path.suffix}'; use one of {' '.join(SAVE_SUFFIXES)}.")
    verts = np.asarray(verts, dtype=np.float64)
    expected = mesh.file_verts.shape
    if verts.shape != expected:
        raise MeshError(
            f"cannot save {path}: positions have shape {verts.shape} but the mesh file has {expected[0]} vertices; "
            "pass positions in file order (see Mesh.to_file_order)."
        )
    if not np.all(np.isfinite(verts)):
        raise MeshError(f"cannot save {path}: the positions contain NaN or infinite values.")
    save_arrays(path, verts, mesh.file_faces)


def save_arrays(path: str | Path, verts: np.ndarray, faces: np.ndarray | None) -> None:
    """Write `verts` (V, 3) metres and `faces` (F, 3) exactly as given (no cleaning), atomically.

    The format follows the suffix, as in `save_mesh`; datasets and generators use this for the
    arrays they made themselves. Raises `MeshError` for an unsupported suffix or unwritable data.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        raise MeshError(f"cannot save {path}: unsupported file type '{path.suffix}'; use one of {' '.join(SAVE_SUFFIXES)}.")
    try:
        with atomic_path(path) as tmp:
            WRITERS[suffix](tmp, np.asarray(verts, dtype=np.float64), None if faces is None else np.asarray(faces))
    except ValueError as error:
        raise MeshError(f"cannot save {path}: {error}.") from error
