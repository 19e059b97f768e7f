"""Shared geometry fixtures: a small icosphere maker and writers for every supported file format.

The writers here are deliberately independent of `scantalk.geometry.formats` (plain text or
hand-packed bytes), so reader tests do not check the library against itself.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


def icosphere(subdivisions: int = 1, radius: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Icosphere: verts (V, 3) float64 on a sphere of `radius`, faces (F, 3) int64, outward-oriented.

    subdivisions 0 → 12 v / 20 f, 1 → 42 / 80, 2 → 162 / 320, 3 → 642 / 1280.
    """
    t = (1.0 + 5.0**0.5) / 2.0
    verts = np.array(
        [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
         [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], dtype=np.float64)  # fmt: skip
    faces = np.array(
        [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2],
         [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5],
         [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]], dtype=np.int64)  # fmt: skip
    verts /= np.linalg.norm(verts, axis=1, keepdims=True)
    for _ in range(subdivisions):
        edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
        unique_edges, inverse = np.unique(edges, axis=0, return_inverse=True)
        midpoints = verts[unique_edges].mean(axis=1)
        midpoints /= np.linalg.norm(midpoints, axis=1, keepdims=True)
        mid = inverse.reshape(3, -1) + verts.shape[0]  # rows: edge 01, 12, 20 of every face
        a, b, c = faces.T
        faces = np.concatenate([np.stack(tri, axis=1) for tri in
                                ((a, mid[0], mid[2]), (b, mid[1], mid[0]), (c, mid[2], mid[1]), (mid[0], mid[1], mid[2]))])  # fmt: skip
        verts = np.concatenate([verts, midpoints])
    return verts * radius, faces


def write_mesh_file(path: Path, verts: np.ndarray, faces: np.ndarray | None = None) -> Path:
    """Write verts (V, 3) / faces (F, 3) | None to `path`, format chosen by suffix.

    .obj .off .ply (ASCII, 17 digits) · .stl (ASCII, triangles only) · .glb (glTF binary,
    float32) · .pcd (ASCII) · .xyz. Returns `path`.
    """
    suffix = path.suffix.lower()
    rows = "\n".join(" ".join(f"{x:.17g}" for x in row) for row in verts)
    n_faces = 0 if faces is None else len(faces)
    if suffix == ".obj":
        text = "\n".join(f"v {line}" for line in rows.splitlines())
        if faces is not None:
            text += "\n" + "\n".join("f " + " ".join(str(i + 1) for i in face) for face in faces)
    elif suffix == ".off":
        text = f"OFF\n{len(verts)} {n_faces} 0\n{rows}\n"
        if faces is not None:
            text += "\n".join("3 " + " ".join(map(str, face)) for face in faces)
    elif suffix == ".ply":
        text = f"ply\nformat ascii 1.0\nelement vertex {len(verts)}\nproperty double x\nproperty double y\nproperty double z\n"
        if faces is not None:
            text += f"element face {n_faces}\nproperty list uchar int vertex_indices\n"
        text += f"end_header\n{rows}\n"
        if faces is not None:
            text += "\n".join("3 " + " ".join(map(str, face)) for face in faces)
    elif suffix == ".stl":
        assert faces is not None, "STL needs faces"
        facets = []
        for face in faces:
            corners = "\n".join(f"vertex {x:.9g} {y:.9g} {z:.9g}" for x, y, z in verts[face])
            facets.append(f"facet normal 0 0 0\nouter loop\n{corners}\nendloop\nendfacet")
        text = "solid test\n" + "\n".join(facets) + "\nendsolid test\n"
    elif suffix == ".pcd":
        text = (f"VERSION 0.7\nFIELDS x y z\nSIZE 8 8 8\nTYPE F F F\nCOUNT 1 1 1\nWIDTH {len(verts)}\nHEIGHT 1\n"
                f"VIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(verts)}\nDATA ascii\n{rows}\n")  # fmt: skip
    elif suffix == ".xyz":
        text = rows + "\n"
    elif suffix == ".glb":
        path.write_bytes(_glb_bytes(verts, faces))
        return path
    else:
        raise ValueError(f"no test writer for {suffix}")
    path.write_text(text + "\n")
    return path


def _glb_bytes(verts: np.ndarray, faces: np.ndarray | None) -> bytes:
    positions = np.ascontiguousarray(verts, dtype="<f4").tobytes()
    indices = b"" if faces is None else np.ascontiguousarray(faces, dtype="<u4").tobytes()
    blob = positions + indices
    primitive: dict = {"attributes": {"POSITION": 0}, "mode": 4 if faces is not None else 0}
    accessors = [{"bufferView": 0, "componentType": 5126, "count": len(verts), "type": "VEC3",
                  "min": verts.min(axis=0).tolist(), "max": verts.max(axis=0).tolist()}]  # fmt: skip
    views = [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)}]
    if faces is not None:
        primitive["indices"] = 1
        accessors.append({"bufferView": 1, "componentType": 5125, "count": faces.size, "type": "SCALAR"})
        views.append({"buffer": 0, "byteOffset": len(positions), "byteLength": len(indices)})
    document = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
                "meshes": [{"primitives": [primitive]}], "buffers": [{"byteLength": len(blob)}],
                "bufferViews": views, "accessors": accessors}  # fmt: skip
    header_json = json.dumps(document).encode()
    header_json += b" " * (-len(header_json) % 4)
    blob += b"\0" * (-len(blob) % 4)
    total = 12 + 8 + len(header_json) + 8 + len(blob)
    return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(header_json), b"JSON") + header_json
            + struct.pack("<I4s", len(blob), b"BIN\0") + blob)  # fmt: skip


@pytest.fixture(scope="session")
def make_icosphere() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """`make_icosphere(subdivisions=1, radius=1.0)` → (verts (V, 3), faces (F, 3))."""
    return icosphere


@pytest.fixture
def write_mesh(tmp_path: Path) -> Callable[..., Path]:
    """`write_mesh(name, verts, faces=None)` writes `tmp_path / name` (format by suffix), returns the path."""

    def write(name: str, verts: np.ndarray, faces: np.ndarray | None = None) -> Path:
        return write_mesh_file(tmp_path / name, np.asarray(verts, dtype=np.float64), faces)

    return write
