"""glTF 2.0 (.gltf, .glb) meshes read as they are stored: every triangle primitive's POSITION
accessor in file order, so an animation comes back on the file's own vertices in their order
(a general importer may merge, drop or reorder vertices). Node transforms are not applied: the
coordinates are the ones the file holds.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import numpy as np

_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
_TRIANGLES = 4


def _document(path: Path) -> tuple[dict, bytes | None]:
    """The JSON document and the GLB's binary chunk (None for a .gltf)."""
    data = path.read_bytes()
    if data[:4] != b"glTF":
        return json.loads(data.decode("utf-8")), None
    if len(data) < 20:
        raise ValueError("the GLB file is truncated (no JSON chunk)")
    _, _, total = struct.unpack_from("<4sII", data, 0)
    if total > len(data):
        raise ValueError(f"the GLB header says {total} bytes but the file holds {len(data)} (truncated)")
    offset, document, binary = 12, None, None
    while offset + 8 <= total:
        length, kind = struct.unpack_from("<I4s", data, offset)
        chunk = data[offset + 8:offset + 8 + length]
        if len(chunk) < length:
            raise ValueError("a GLB chunk runs past the end of the file (truncated)")
        if kind == b"JSON":
            document = json.loads(chunk.decode("utf-8"))
        elif kind == b"BIN\x00":
            binary = chunk
        offset += 8 + length + (-length % 4)
    if document is None:
        raise ValueError("the GLB file has no JSON chunk")
    return document, binary


def _buffer(document: dict, index: int, binary: bytes | None, folder: Path) -> bytes:
    buffer = document["buffers"][index]
    uri = buffer.get("uri")
    if uri is None:
        if binary is None:
            raise ValueError(f"buffer {index} has no uri and the file has no binary chunk")
        return binary
    if uri.startswith("data:"):
        return base64.b64decode(uri.split(",", 1)[1])
    source = (folder / uri).resolve()
    if not source.is_file():
        raise ValueError(f"buffer {index} refers to {uri}, which is not beside the file")
    return source.read_bytes()


def _accessor(document: dict, index: int, buffer_of) -> np.ndarray:
    accessor = document["accessors"][index]
    dtype = np.dtype(_COMPONENTS[accessor["componentType"]])
    width = _WIDTH[accessor["type"]]
    count = int(accessor["count"])
    if "bufferView" not in accessor:  # all zeros by the specification (sparse data not supported)
        return np.zeros((count, width), dtype)
    view = document["bufferViews"][accessor["bufferView"]]
    data = buffer_of(view["buffer"])
    start = int(view.get("byteOffset", 0)) + int(accessor.get("byteOffset", 0))
    stride = int(view.get("byteStride", 0)) or dtype.itemsize * width
    if start + stride * (count - 1) + dtype.itemsize * width > len(data):
        raise ValueError(f"accessor {index} runs past the end of its buffer (truncated file)")
    raw = np.frombuffer(data, dtype=np.uint8, count=stride * (count - 1) + dtype.itemsize * width, offset=start)
    rows = np.lib.stride_tricks.as_strided(raw, shape=(count, dtype.itemsize * width), strides=(stride, 1))
    return np.ascontiguousarray(rows).view(dtype).reshape(count, width)


def read_gltf(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Vertices (V, 3) float64 and triangles (F, 3) int64 (None when there are none) of every
    triangle primitive of every mesh, in the file's order; ValueError for what cannot be read."""
    path = Path(path)
    try:
        document, binary = _document(path)
    except (UnicodeDecodeError, json.JSONDecodeError, struct.error) as error:
        raise ValueError(f"not a glTF file ({error})") from None
    buffers: dict[int, bytes] = {}

    def buffer_of(index: int) -> bytes:
        if index not in buffers:
            buffers[index] = _buffer(document, index, binary, path.parent)
        return buffers[index]

    verts, faces, offset = [], [], 0
    try:
        for mesh in document.get("meshes", []):
            for primitive in mesh.get("primitives", []):
                if primitive.get("mode", _TRIANGLES) != _TRIANGLES or "POSITION" not in primitive["attributes"]:
                    continue
                positions = _accessor(document, primitive["attributes"]["POSITION"], buffer_of).astype(np.float64)
                if "indices" in primitive:
                    triangles = _accessor(document, primitive["indices"], buffer_of).astype(np.int64).reshape(-1, 3)
                else:
                    triangles = np.arange(len(positions) - len(positions) % 3).reshape(-1, 3)
                verts.append(positions)
                faces.append(triangles + offset)
                offset += len(positions)
    except (KeyError, IndexError, TypeError) as error:
        raise ValueError(f"its glTF structure is broken ({type(error).__name__}: {error})") from None
    if not verts:
        raise ValueError("it holds no triangle mesh")
    all_faces = np.concatenate(faces)
    return np.concatenate(verts), (all_faces if len(all_faces) else None)
