"""The one validator of vertex/face arrays, shared by every geometry entry point.

`load_mesh`/`Mesh.from_arrays` (through `cleaning.clean_arrays`) and `compute_operators` both call
`validate_arrays`, as potpourri3d validates every input in one shared function: the same bad
array gives the same sentence wherever a user passes it.
"""

from __future__ import annotations

import numpy as np

from scantalk.errors import MeshError


def validate_arrays(verts: np.ndarray, faces: np.ndarray | None, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Check shapes, dtypes, finiteness and index ranges of a surface.

    Args:
        verts: (V, 3) real vertex positions (metres for the model; any unit is accepted here).
        faces: (F, 3) integer (or integral float) triangle indices into `verts`, or None for a
            point cloud. An empty face list is an error: pass None for a point cloud.
        name: how the input is called in error messages (a file path, "<array>").

    Returns:
        (verts (V, 3) float64 C-contiguous, faces (F, 3) int64 C-contiguous or None).

    Raises:
        MeshError: naming `name`, for every problem a user's file or array can have.
    """
    verts = np.asarray(verts)
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise MeshError(f"{name}: vertices must have shape (V, 3), got {verts.shape}; pass xyz positions.")
    if verts.shape[0] == 0:
        raise MeshError(f"{name} has no vertices; check that the file is a mesh or point cloud and not empty.")
    if not np.issubdtype(verts.dtype, np.number) or np.issubdtype(verts.dtype, np.complexfloating):
        raise MeshError(f"{name}: vertex coordinates must be real numbers, got dtype {verts.dtype}.")
    verts = np.array(verts, dtype=np.float64, order="C")
    bad_rows = np.flatnonzero(~np.isfinite(verts).all(axis=1))
    if bad_rows.size:
        raise MeshError(
            f"{name}: {bad_rows.size} vertices have NaN or infinite coordinates (first at index {bad_rows[0]}); "
            "repair or re-export the mesh."
        )
    if faces is None:
        # A surface needs two directions: points on one line (or one point) describe none.
        spread = np.linalg.svd(verts - verts.mean(axis=0), compute_uv=False) if len(verts) > 2 else np.zeros(3)
        if spread[1] <= 1e-9 * max(float(spread[0]), 1e-300):
            raise MeshError(f"{name}: the {len(verts)} points lie on one line (or at one point), so they describe no "
                            "surface; check the file.")
        return verts, None
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise MeshError(f"{name}: faces must have shape (F, 3) (triangles), got {faces.shape}; "
                        "triangulate polygons first.")
    if faces.shape[0] == 0:
        raise MeshError(f"{name} has an empty face list; pass faces=None to use it as a point cloud.")
    if not np.issubdtype(faces.dtype, np.integer):
        if not np.issubdtype(faces.dtype, np.floating) or not np.all(np.isfinite(faces)) or np.any(faces != np.round(faces)):
            raise MeshError(f"{name}: face indices must be integers, got dtype {faces.dtype}.")
    faces = np.array(faces, dtype=np.int64, order="C")
    if faces.min() < 0:
        row = int(np.flatnonzero((faces < 0).any(axis=1))[0])
        raise MeshError(f"{name}: face {row} has a negative vertex index {faces[row].tolist()}; repair or re-export the mesh.")
    if faces.max() >= verts.shape[0]:
        row = int(np.flatnonzero((faces >= verts.shape[0]).any(axis=1))[0])
        raise MeshError(
            f"{name}: face {row} refers to vertex {int(faces[row].max())} but there are only {verts.shape[0]} "
            "vertices; the file is inconsistent or truncated, re-export it."
        )
    return verts, faces
