"""Readers and writers for mesh / point-cloud file formats, returning raw (verts, faces) arrays.

OBJ, OFF, PLY and XYZ are parsed here because open3d 0.20 reorders OBJ vertices when texture
coordinates are present, parses OBJ/OFF in float32, returns uninitialised memory for `nan` in
OFF, and silently returns partial data for truncated PLY files; all of them break the promise
that results come back in the file's own vertex order. STL, glTF/GLB and PCD go through open3d.

Readers take a path and return verts (V, 3) float64 and faces (F, 3) int64 (polygons
fan-triangulated) or None for a point cloud; they raise ValueError describing what is wrong
(the caller adds the file name). Writers take a destination path, verts (V, 3), faces or None.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from scantalk.geometry.gltf_reader import read_gltf


def triangulate(polygons: list[list[int]]) -> np.ndarray | None:
    """Fan-triangulate polygons (each ≥ 3 indices) → (F, 3) int64; None when there are none."""
    if not polygons:
        return None
    by_size: dict[int, list[list[int]]] = {}
    for polygon in polygons:
        if len(polygon) < 3:
            raise ValueError(f"a face has only {len(polygon)} vertices")
        by_size.setdefault(len(polygon), []).append(polygon)
    return np.concatenate([fan_triangulate(np.asarray(group, dtype=np.int64)) for group in by_size.values()])


def fan_triangulate(polygons: np.ndarray) -> np.ndarray:
    """Equal-size polygons (P, k) → (P·(k−2), 3) int64 triangles (0, i, i+1)."""
    polygons = np.asarray(polygons, dtype=np.int64)
    if polygons.shape[1] < 3:
        raise ValueError(f"faces have only {polygons.shape[1]} vertices")
    return np.concatenate([polygons[:, [0, i, i + 1]] for i in range(1, polygons.shape[1] - 1)])


def _as_float_rows(rows: list[list[str]], what: str) -> np.ndarray:
    if any(len(row) < 3 for row in rows):
        raise ValueError(f"a {what} line has fewer than 3 coordinates")
    return np.array([row[:3] for row in rows], dtype=np.float64).reshape(-1, 3)


def read_text_lines(path: Path) -> list[str]:
    """The lines of a text mesh file: a UTF-8 byte-order mark is dropped, non-UTF-8 bytes kept.

    Exporters write UTF-8 with a BOM (Windows tools) or latin-1 comments and object names; a
    BOM left in place would hide the first `v` keyword, and a strict decoder would reject the
    file for a comment. Geometry keywords and numbers are ASCII, so decoding the rare
    non-UTF-8 file as latin-1 (every byte valid) changes nothing a reader looks at.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.splitlines()


# ---------------------------------------------------------------- OBJ


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Wavefront OBJ: `v` lines in file order; `f` lines (v, v/vt, v/vt/vn, negative indices)."""
    vertex_rows: list[list[str]] = []
    polygons: list[list[int]] = []
    for line in read_text_lines(path):
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            vertex_rows.append(parts[1:])
        elif parts[0] == "f":
            n_so_far = len(vertex_rows)
            indices = [int(token.split("/", 1)[0]) for token in parts[1:]]
            # OBJ indices are 1-based; negative ones count back from the latest vertex. Index 0
            # is invalid and becomes -1 so that validation reports it.
            polygons.append([i - 1 if i > 0 else (n_so_far + i if i < 0 else -1) for i in indices])
    return _as_float_rows(vertex_rows, "vertex"), triangulate(polygons)


def write_obj(path: Path, verts: np.ndarray, faces: np.ndarray | None, digits: int = 17) -> None:
    """OBJ text; 17 significant digits (the default) keep float64 positions exact, 9 float32 ones."""
    buffer = io.StringIO()
    np.savetxt(buffer, verts, fmt=f"v %.{digits}g %.{digits}g %.{digits}g")
    if faces is not None:
        np.savetxt(buffer, faces + 1, fmt="f %d %d %d")
    path.write_text(buffer.getvalue(), encoding="utf-8")


# ---------------------------------------------------------------- OFF


def read_off(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Object File Format (OFF, COFF, NOFF, ...; ASCII): counts, vertex rows, `n i1 … in` faces."""
    lines = []
    for raw in read_text_lines(path):
        tokens = raw.split("#", 1)[0].split()
        if tokens:
            lines.append(tokens)
    if not lines or not lines[0][0].endswith("OFF"):
        raise ValueError("it does not start with an OFF header")
    if len(lines[0]) > 1 and lines[0][1].upper() == "BINARY":
        raise ValueError("binary OFF is not supported (save it as ASCII OFF, PLY or OBJ)")
    header_counts = lines[0][1:] if len(lines[0]) > 1 else (lines[1] if len(lines) > 1 else [])
    body = lines[1:] if len(lines[0]) > 1 else lines[2:]
    if len(header_counts) < 2:
        raise ValueError("the vertex/face count line is missing")
    n_verts, n_faces = int(header_counts[0]), int(header_counts[1])
    if len(body) < n_verts + n_faces:
        raise ValueError(f"it declares {n_verts} vertices and {n_faces} faces but has only {len(body)} data lines (truncated?)")
    verts = _as_float_rows(body[:n_verts], "vertex")
    polygons = []
    for tokens in body[n_verts : n_verts + n_faces]:
        size = int(tokens[0])
        if len(tokens) < size + 1:
            raise ValueError(f"a face line declares {size} vertices but lists fewer")
        polygons.append([int(t) for t in tokens[1 : size + 1]])
    return verts, triangulate(polygons)


def write_off(path: Path, verts: np.ndarray, faces: np.ndarray | None) -> None:
    """ASCII OFF with 17 significant digits."""
    buffer = io.StringIO()
    n_faces = 0 if faces is None else faces.shape[0]
    buffer.write(f"OFF\n{verts.shape[0]} {n_faces} 0\n")
    np.savetxt(buffer, verts, fmt="%.17g %.17g %.17g")
    if faces is not None:
        np.savetxt(buffer, faces, fmt="3 %d %d %d")
    path.write_text(buffer.getvalue(), encoding="utf-8")


# ---------------------------------------------------------------- PLY

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip


def _ply_header(data: bytes) -> tuple[str, list[tuple[str, int, list[tuple]]], int]:
    """Parse the header → (format, [(element, count, [(prop, dtype, list_count_dtype|None)])], body offset)."""
    if not data.startswith(b"ply"):
        raise ValueError("it does not start with the 'ply' magic word")
    match = re.search(rb"end_header[ \t]*\r?\n", data)
    if match is None:
        raise ValueError("the header has no end_header line")
    fmt = ""
    elements: list[tuple[str, int, list[tuple]]] = []
    for line in data[: match.start()].decode("ascii", errors="replace").splitlines()[1:]:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format":
            fmt = words[1]
        elif words[0] == "element":
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            if words[1] == "list":
                elements[-1][2].append((words[4], _PLY_TYPES[words[3]], _PLY_TYPES[words[2]]))
            else:
                elements[-1][2].append((words[2], _PLY_TYPES[words[1]], None))
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise ValueError(f"unknown PLY format {fmt!r}")
    return fmt, elements, match.end()


def _ply_binary_element(data: bytes, offset: int, count: int, props: list[tuple], order: str) -> tuple[dict, int]:
    """One binary element → ({prop: array}, new offset). Lists are fast-pathed when equal-length."""
    lists = [p for p in props if p[2] is not None]
    if not lists:
        dtype = np.dtype([(name, order + kind) for name, kind, _ in props])
        if offset + dtype.itemsize * count > len(data):
            raise ValueError("the file is truncated")
        table = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        return {name: table[name] for name, _, _ in props}, offset + dtype.itemsize * count
    if count == 0:
        return {name: np.empty((0, 3)) for name, _, _ in props}, offset
    # Guess every list has the length of the first row's lists, then verify.
    fields, cursor = [], offset
    for name, kind, count_kind in props:
        if count_kind is None:
            fields.append((name, order + kind))
            cursor += np.dtype(kind).itemsize
        else:
            length = int(np.frombuffer(data, dtype=order + count_kind, count=1, offset=cursor)[0])
            fields += [(name + "#n", order + count_kind), (name, order + kind, (length,))]
            cursor += np.dtype(count_kind).itemsize + length * np.dtype(kind).itemsize
    dtype = np.dtype(fields)
    if offset + dtype.itemsize * count <= len(data):
        table = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        if all(np.all(table[name + "#n"] == dtype[name].shape[0]) for name, _, c in props if c is not None):
            return {name: table[name] for name, _, _ in props}, offset + dtype.itemsize * count
    values: dict[str, list] = {name: [] for name, _, _ in props}
    for _ in range(count):
        for name, kind, count_kind in props:
            if count_kind is not None:
                (length,) = np.frombuffer(data, dtype=order + count_kind, count=1, offset=offset)
                offset += np.dtype(count_kind).itemsize
                item = np.frombuffer(data, dtype=order + kind, count=int(length), offset=offset)
                offset += item.nbytes
                values[name].append(item.tolist())
            else:
                values[name].append(np.frombuffer(data, dtype=order + kind, count=1, offset=offset)[0])
                offset += np.dtype(kind).itemsize
    return values, offset


def _ply_ascii_element(tokens: list[bytes], cursor: int, count: int, props: list[tuple]) -> tuple[dict, int]:
    if all(count_kind is None for _, _, count_kind in props):
        width = len(props)
        if cursor + width * count > len(tokens):
            raise ValueError("the file is truncated")
        table = np.array(tokens[cursor : cursor + width * count], dtype=np.float64).reshape(count, width)
        return {name: table[:, i] for i, (name, _, _) in enumerate(props)}, cursor + width * count
    values: dict[str, list] = {name: [] for name, _, _ in props}
    for _ in range(count):
        for name, _, count_kind in props:
            if count_kind is not None:
                length = int(tokens[cursor])
                values[name].append([int(t) for t in tokens[cursor + 1 : cursor + 1 + length]])
                if len(values[name][-1]) != length:
                    raise ValueError("the file is truncated")
                cursor += 1 + length
            else:
                values[name].append(float(tokens[cursor]))
                cursor += 1
    return values, cursor


def read_ply(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Stanford PLY (ASCII or binary): vertex x/y/z in file order; face vertex_indices (or vertex_index)."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 BOM written by a text editor before the ASCII header
        data = data[3:]
    fmt, elements, offset = _ply_header(data)
    order = ">" if fmt == "binary_big_endian" else "<"
    tokens = data[offset:].split() if fmt == "ascii" else []
    cursor = 0
    verts, faces = None, None
    for name, count, props in elements:
        if fmt == "ascii":
            values, cursor = _ply_ascii_element(tokens, cursor, count, props)
        else:
            values, offset = _ply_binary_element(data, offset, count, props, order)
        if name == "vertex":
            if not all(axis in values for axis in "xyz"):
                raise ValueError("the vertex element has no x, y, z properties")
            verts = np.stack([np.asarray(values[axis], dtype=np.float64) for axis in "xyz"], axis=1)
        elif name == "face":
            key = "vertex_indices" if "vertex_indices" in values else "vertex_index"
            if key not in values:
                raise ValueError("the face element has no vertex_indices property")
            polygons = values[key]
            if not count:
                faces = None
            elif isinstance(polygons, np.ndarray):
                faces = fan_triangulate(polygons)
            else:
                faces = triangulate([list(map(int, polygon)) for polygon in polygons])
    if verts is None:
        raise ValueError("it has no vertex element")
    return verts, faces


def write_ply(path: Path, verts: np.ndarray, faces: np.ndarray | None, dtype: str = "<f8") -> None:
    """Binary little-endian PLY with int32 triangle indices and coordinates as `dtype`: double
    ("<f8", exact) or float ("<f4", half the size, what most viewers expect)."""
    kind = {"<f8": "double", "<f4": "float"}[dtype]
    header = ["ply", "format binary_little_endian 1.0", "comment written by scantalk",
              f"element vertex {verts.shape[0]}", f"property {kind} x", f"property {kind} y", f"property {kind} z"]
    if faces is not None:
        header += [f"element face {faces.shape[0]}", "property list uchar int vertex_indices"]
    header.append("end_header\n")
    with open(path, "wb") as handle:
        handle.write("\n".join(header).encode("ascii"))
        handle.write(np.ascontiguousarray(verts, dtype=dtype).tobytes())
        if faces is not None:
            table = np.empty(faces.shape[0], dtype=[("n", "u1"), ("v", "<i4", (3,))])
            table["n"] = 3
            table["v"] = faces
            handle.write(table.tobytes())


# ---------------------------------------------------------------- XYZ (point cloud)


def read_xyz(path: Path) -> tuple[np.ndarray, None]:
    """Whitespace-separated rows `x y z [extra columns ignored]`; `#` starts a comment."""
    rows = [line.split("#", 1)[0].split() for line in read_text_lines(path)]
    return _as_float_rows([row for row in rows if row], "point"), None


def write_xyz(path: Path, verts: np.ndarray, faces: np.ndarray | None) -> None:
    """One `x y z` row per point, 17 significant digits; faces are not representable and dropped."""
    buffer = io.StringIO()
    np.savetxt(buffer, verts, fmt="%.17g %.17g %.17g")
    path.write_text(buffer.getvalue(), encoding="utf-8")


# ---------------------------------------------------------------- open3d-backed formats


def _open3d():
    import open3d as o3d

    # open3d reports unreadable files on stdout; the caller turns empty results into MeshError.
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d


def read_with_open3d_mesh(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """STL via open3d (no post-processing, so vertices are not merged or reordered)."""
    mesh = _open3d().io.read_triangle_mesh(str(path), enable_post_processing=False)
    verts = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.triangles, dtype=np.int64)
    if verts.shape[0] == 0:
        raise ValueError("open3d could not read any vertices from it (corrupted or not this format)")
    return verts, (faces if faces.shape[0] else None)


def read_with_open3d_points(path: Path) -> tuple[np.ndarray, None]:
    """PCD via open3d."""
    cloud = _open3d().io.read_point_cloud(str(path))
    points = np.asarray(cloud.points, dtype=np.float64)
    if points.shape[0] == 0:
        raise ValueError("open3d could not read any points from it (corrupted or not a PCD file)")
    return points, None


def write_stl(path: Path, verts: np.ndarray, faces: np.ndarray | None) -> None:
    """Binary STL (float32, one vertex triple per triangle) via open3d."""
    if faces is None:
        raise ValueError("STL stores triangles only; save a point cloud as .ply, .pcd or .xyz")
    o3d = _open3d()
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(verts), o3d.utility.Vector3iVector(faces.astype(np.int32)))
    mesh.compute_triangle_normals()
    if not o3d.io.write_triangle_mesh(str(path), mesh):
        raise ValueError("open3d failed to write it")


def write_pcd(path: Path, verts: np.ndarray, faces: np.ndarray | None) -> None:
    """Binary PCD point cloud via open3d (faces dropped)."""
    o3d = _open3d()
    if not o3d.io.write_point_cloud(str(path), o3d.geometry.PointCloud(o3d.utility.Vector3dVector(verts))):
        raise ValueError("open3d failed to write it")


Reader = Callable[[Path], tuple[np.ndarray, np.ndarray | None]]
Writer = Callable[[Path, np.ndarray, np.ndarray | None], None]

READERS: dict[str, Reader] = {
    ".obj": read_obj, ".off": read_off, ".ply": read_ply, ".xyz": read_xyz, ".stl": read_with_open3d_mesh,
    ".gltf": read_gltf, ".glb": read_gltf, ".pcd": read_with_open3d_points,
}  # fmt: skip
WRITERS: dict[str, Writer] = {
    ".obj": write_obj, ".off": write_off, ".ply": write_ply, ".xyz": write_xyz, ".stl": write_stl, ".pcd": write_pcd,
}  # fmt: skip
