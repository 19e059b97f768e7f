"""Rebuild james.npz and mediapipe_canonical.npz from their upstream packages (run by hand, offline).

Not imported by the package; it documents exactly how the vendored arrays were made:

    pip download menpo3d==0.8.6 --no-deps --no-binary :all: --no-build-isolation -d /tmp/menpo3d
    tar xzf /tmp/menpo3d/menpo3d-0.8.6.tar.gz -C /tmp/menpo3d
    (cd /tmp && npm pack @mediapipe/face_mesh@0.4.1657299874 && mkdir -p mp && tar xzf mediapipe-face_mesh-*.tgz -C mp)
    python make_assets.py /tmp/menpo3d/menpo3d-0.8.6/menpo3d/data /tmp/mp/package
"""

from __future__ import annotations

import json
import re
import struct
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# The emscripten loader lists the packed files with byte ranges; the canonical face is the mesh
# inside this FaceGeometry pipeline-metadata protobuf.
MEDIAPIPE_MEMBER = "/third_party/mediapipe/modules/face_geometry/data/geometry_pipeline_metadata_landmarks.binarypb"


def read_james(data_dir: Path) -> dict[str, np.ndarray]:
    """james.obj positions (mm) and triangles, and the 68 landmarks of james.ljson (mm, file order)."""
    verts, faces = [], []
    for line in (data_dir / "james.obj").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "v":
            verts.append([float(value) for value in parts[1:4]])
        elif parts and parts[0] == "f":
            faces.append([int(token.split("/")[0]) - 1 for token in parts[1:4]])
    landmarks = json.loads((data_dir / "james.ljson").read_text())["groups"]["LJSON"]["landmarks"]["points"]
    return {
        "verts_mm": np.asarray(verts, dtype=np.float32),
        "faces": np.asarray(faces, dtype=np.int32),
        "landmarks_mm": np.asarray(landmarks, dtype=np.float32),
    }


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _protobuf_fields(data: bytes):
    """(field number, wire type, value) of one protobuf message; only the wire types it uses."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 5:
            value, at = struct.unpack("<f", data[at:at + 4])[0], at + 4
        elif wire == 2:
            size, at = _varint(data, at)
            value, at = data[at:at + size], at + size
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
        yield number, wire, value


def read_mediapipe(package_dir: Path) -> dict[str, np.ndarray]:
    """The canonical face (cm, y up, +z forward): Mesh3d field 3 = vertex buffer (x y z u v), field 4 = triangles."""
    loader = (package_dir / "face_mesh_solution_packed_assets_loader.js").read_text()
    match = re.search(r'"filename": "%s", "start": (\d+), "end": (\d+)' % re.escape(MEDIAPIPE_MEMBER), loader)
    start, end = int(match.group(1)), int(match.group(2))
    blob = (package_dir / "face_mesh_solution_packed_assets.data").read_bytes()[start:end]
    mesh = next(value for number, _, value in _protobuf_fields(blob) if number == 1)
    vertex_buffer, index_buffer = [], []
    for number, wire, value in _protobuf_fields(mesh):
        if number == 3:
            vertex_buffer.extend([value] if wire == 5 else struct.unpack(f"<{len(value) // 4}f", value))
        elif number == 4:
            if wire == 0:
                index_buffer.append(value)
            else:
                at = 0
                while at < len(value):
                    index, at = _varint(value, at)
                    index_buffer.append(index)
    vertices = np.asarray(vertex_buffer, dtype=np.float32).reshape(-1, 5)
    return {
        "verts_cm": vertices[:, :3].copy(),
        "uv": vertices[:, 3:].copy(),
        "faces": np.asarray(index_buffer, dtype=np.int32).reshape(-1, 3),
    }


if __name__ == "__main__":
    np.savez_compressed(HERE / "james.npz", **read_james(Path(sys.argv[1])))
    np.savez_compressed(HERE / "mediapipe_canonical.npz", **read_mediapipe(Path(sys.argv[2])))
