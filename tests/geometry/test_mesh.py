"""Loading, cleaning and saving meshes and point clouds, and the map back to the file's order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from scantalk.errors import MeshError
from scantalk.geometry.mesh import Mesh, load_mesh, save_mesh


def _face_set(faces: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(sorted(face)) for face in faces.tolist()}


@pytest.mark.parametrize("suffix", [".obj", ".off", ".ply"])
def test_text_formats_load_exactly_in_file_order(make_icosphere, write_mesh, suffix):
    verts, faces = make_icosphere(2)
    mesh = load_mesh(write_mesh("face" + suffix, verts, faces))
    np.testing.assert_array_equal(mesh.verts, verts)
    np.testing.assert_array_equal(mesh.faces, faces)
    np.testing.assert_array_equal(mesh.file_to_clean, np.arange(len(verts)))
    assert not mesh.is_point_cloud and mesh.source.endswith(suffix)


@pytest.mark.parametrize("suffix", [".stl", ".glb"])
def test_binary_formats_load_the_same_surface(make_icosphere, write_mesh, suffix):
    verts, faces = make_icosphere(1)
    mesh = load_mesh(write_mesh("face" + suffix, verts, faces))
    # open3d may reorder these formats' vertices (STL has no shared vertices at all): compare
    # the surface up to a permutation, at float32 precision.
    distance, to_original = cKDTree(verts).query(mesh.verts)
    assert mesh.verts.shape == verts.shape and distance.max() < 1e-6
    assert _face_set(to_original[mesh.faces]) == _face_set(faces)


@pytest.mark.parametrize("suffix", [".ply", ".pcd", ".xyz"])
def test_point_cloud_formats(make_icosphere, write_mesh, suffix):
    verts, _ = make_icosphere(1)
    cloud = load_mesh(write_mesh("scan" + suffix, verts))
    assert cloud.is_point_cloud and cloud.faces is None and cloud.file_faces is None
    np.testing.assert_array_equal(cloud.verts, verts)


@pytest.mark.parametrize("suffix", [".obj", ".off", ".ply", ".xyz"])
def test_save_in_file_order_round_trips_exactly(make_icosphere, write_mesh, tmp_path, suffix):
    verts, faces = make_icosphere(1)
    mesh = load_mesh(write_mesh("face.obj", verts, faces if suffix != ".xyz" else None))
    moved = mesh.file_verts + np.random.default_rng(0).normal(scale=1e-3, size=mesh.file_verts.shape)
    save_mesh(tmp_path / ("out" + suffix), moved, mesh)
    again = load_mesh(tmp_path / ("out" + suffix))
    np.testing.assert_array_equal(again.file_verts, moved)
    if suffix != ".xyz":
        np.testing.assert_array_equal(again.file_faces, faces)
    assert not list(tmp_path.glob(".*tmp*")), "atomic save left a temporary file"


@pytest.mark.parametrize("suffix", [".stl", ".pcd"])
def test_save_float32_formats(make_icosphere, write_mesh, tmp_path, suffix):
    verts, faces = make_icosphere(1)
    mesh = load_mesh(write_mesh("face.obj", verts, faces))
    save_mesh(tmp_path / ("out" + suffix), verts * 2, mesh)
    again = load_mesh(tmp_path / ("out" + suffix))
    distance, _ = cKDTree(verts * 2).query(again.verts)
    assert again.verts.shape == verts.shape and distance.max() < 1e-6
    assert again.is_point_cloud == (suffix == ".pcd")


def test_triangle_soup_is_welded_and_maps_back(make_icosphere, write_mesh):
    verts, faces = make_icosphere(1)
    soup_verts = verts[faces.reshape(-1)]  # every face has its own 3 vertices, like STL exports
    soup_verts[1::7] += 1e-12  # round-off seams: near, not exact, duplicates
    soup_faces = np.arange(len(soup_verts)).reshape(-1, 3)
    mesh = load_mesh(write_mesh("soup.obj", soup_verts, soup_faces))
    assert mesh.verts.shape == verts.shape and mesh.faces.shape == faces.shape
    # each file vertex is carried by a cleaned vertex at its own position
    np.testing.assert_allclose(mesh.verts[mesh.file_to_clean], soup_verts, atol=1e-11)
    values = np.random.default_rng(1).normal(size=(4, len(mesh.verts), 3))
    in_file_order = mesh.to_file_order(values)
    assert in_file_order.shape == (4, len(soup_verts), 3)
    first, second = faces.reshape(-1)[0], np.flatnonzero(faces.reshape(-1) == faces.reshape(-1)[0])[1]
    np.testing.assert_array_equal(in_file_order[:, first], in_file_order[:, second])


def test_to_file_order_accepts_torch_and_checks_shape(make_icosphere):
    verts, faces = make_icosphere(0)
    mesh = Mesh.from_arrays(np.concatenate([verts, verts[:1]]), faces)
    values = torch.arange(12 * 2, dtype=torch.float32).reshape(12, 2)
    mapped = mesh.to_file_order(values)
    assert isinstance(mapped, torch.Tensor) and mapped.shape == (13, 2)
    assert torch.equal(mapped[12], values[0])
    with pytest.raises(ValueError, match="12"):
        mesh.to_file_order(np.zeros((11, 3)))


def test_unreferenced_vertices_map_to_nearest_kept(make_icosphere):
    verts, faces = make_icosphere(1)
    stray = verts[7] * 1.01
    mesh = Mesh.from_arrays(np.concatenate([verts, stray[None]]), faces)
    assert len(mesh.verts) == len(verts)
    assert mesh.file_to_clean[-1] == 7


def test_degenerate_and_duplicate_faces_are_dropped(make_icosphere):
    verts, faces = make_icosphere(1)
    midpoint = (verts[faces[0, 0]] + verts[faces[0, 1]]) / 2
    extended = np.concatenate([verts, midpoint[None]])
    mid = len(verts)
    bad = np.array([[0, 0, 1], [faces[0, 0], mid, faces[0, 1]], faces[3][::-1], faces[5][[1, 2, 0]]])
    mesh = Mesh.from_arrays(extended, np.concatenate([faces, bad]))
    np.testing.assert_array_equal(mesh.faces, faces)
    assert len(mesh.verts) == len(verts)


def test_non_manifold_edge_and_two_components_are_accepted(make_icosphere):
    fin = np.array([[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, -1, 0], [0.5, 0, 1]], dtype=float)
    fin_faces = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])  # three triangles on edge 0-1
    mesh = Mesh.from_arrays(fin, fin_faces)
    assert mesh.faces.shape == (3, 3) and mesh.verts.shape == (5, 3)
    verts, faces = make_icosphere(1)
    both = Mesh.from_arrays(np.concatenate([verts, verts + 3.0]), np.concatenate([faces, faces + len(verts)]))
    assert both.verts.shape == (2 * len(verts), 3) and both.faces.shape == (2 * len(faces), 3)


def test_obj_polygons_texture_indices_and_negative_indices(tmp_path):
    path = tmp_path / "quad.obj"
    path.write_text(
        "# exported\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 9 9 9\nvt 0 0\nvn 0 0 1\n"
        "f 1/1/1 2/1/1 3/1/1 4/1/1\nf -5 -3 -2\n"
    )
    mesh = load_mesh(path)
    # vertex order is the file's even with texture coordinates; the stray vertex 5 is mapped
    np.testing.assert_array_equal(mesh.file_verts[4], [9, 9, 9])
    assert _face_set(mesh.faces) == {(0, 1, 2), (0, 2, 3)}
    assert mesh.file_to_clean[4] == 2


def test_binary_ply_with_extra_properties_and_mixed_polygons(tmp_path):
    path = tmp_path / "scan.ply"
    vertex = np.zeros(5, dtype=[("x", ">f4"), ("y", ">f4"), ("z", ">f4"), ("red", "u1")])
    vertex["x"], vertex["y"], vertex["z"] = [0, 1, 1, 0, 2], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]
    header = ("ply\nformat binary_big_endian 1.0\nelement vertex 5\nproperty float x\nproperty float y\n"
              "property float z\nproperty uchar red\nelement face 2\nproperty list uchar int vertex_indices\n"
              "property uchar flags\nend_header\n")  # fmt: skip
    quad = np.array([4], ">u1").tobytes() + np.array([0, 1, 2, 3], ">i4").tobytes() + b"\x07"
    tri = np.array([3], ">u1").tobytes() + np.array([1, 4, 2], ">i4").tobytes() + b"\x07"
    path.write_bytes(header.encode() + vertex.tobytes() + quad + tri)
    mesh = load_mesh(path)
    np.testing.assert_array_equal(mesh.file_verts[4], [2, 0, 1])
    assert _face_set(mesh.faces) == {(0, 1, 2), (0, 2, 3), (1, 2, 4)}


BAD_FILES = [
    ("empty.obj", b"", "empty"),
    ("garbage.ply", b"\x00\x01 not a mesh", "magic"),
    ("words.obj", b"hello world\n", "no vertices"),
    ("nan.obj", b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "NaN"),
    ("range.off", b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 9\n", "only 3"),
    ("negative.off", b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 -1\n", "negative"),
    ("zero.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", "negative"),
    ("flat.obj", b"v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\nf 1 1 2\n", "degenerate"),
    ("short.off", b"OFF\n4 2 0\n0 0 0\n1 0 0\n", "truncated"),
    ("broken.stl", b"solid x\n garbage\n", "could not read"),
    ("broken.glb", b"glTF not really", "could not read"),
    ("broken.pcd", b"garbage\n", "could not read"),
    ("mesh.abc", b"v 0 0 0\n", "unsupported"),
]


@pytest.mark.parametrize(("name", "content", "fragment"), BAD_FILES)
def test_bad_files_raise_mesh_error_naming_the_file(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MeshError, match=fragment) as info:
        load_mesh(path)
    assert name in str(info.value)


def test_truncated_binary_ply_is_detected(make_icosphere, write_mesh, tmp_path):
    verts, faces = make_icosphere(1)
    mesh = load_mesh(write_mesh("face.obj", verts, faces))
    save_mesh(tmp_path / "full.ply", verts, mesh)
    data = (tmp_path / "full.ply").read_bytes()
    (tmp_path / "cut.ply").write_bytes(data[: len(data) - 200])
    with pytest.raises(MeshError, match="cut.ply"):
        load_mesh(tmp_path / "cut.ply")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MeshError, match="nothere.obj.*does not exist"):
        load_mesh(tmp_path / "nothere.obj")
    with pytest.raises(MeshError, match="directory"):
        load_mesh(tmp_path)


def test_from_arrays_validation_names_the_input(make_icosphere):
    verts, faces = make_icosphere(0)
    with pytest.raises(MeshError, match="my_scan.*shape"):
        Mesh.from_arrays(verts[:, :2], faces, name="my_scan")
    with pytest.raises(MeshError, match="my_scan.*only 12"):
        Mesh.from_arrays(verts, faces + 1, name="my_scan")
    with pytest.raises(MeshError, match="integers"):
        Mesh.from_arrays(verts, faces + 0.5)
    with pytest.raises(MeshError, match="infinite"):
        Mesh.from_arrays(np.where(np.arange(12)[:, None] == 3, np.inf, verts), faces)


def test_save_mesh_rejects_wrong_shape_and_format(make_icosphere, tmp_path):
    verts, faces = make_icosphere(0)
    mesh = Mesh.from_arrays(verts, faces)
    with pytest.raises(MeshError, match="out.obj.*file order"):
        save_mesh(tmp_path / "out.obj", verts[:5], mesh)
    with pytest.raises(MeshError, match="out.abc.*unsupported"):
        save_mesh(tmp_path / "out.abc", verts, mesh)
    cloud = Mesh.from_arrays(verts)
    with pytest.raises(MeshError, match="cloud.stl"):
        save_mesh(tmp_path / "cloud.stl", verts, cloud)
    assert not any(Path(tmp_path).iterdir())


def test_obj_with_a_utf8_bom_keeps_its_first_vertex(tmp_path):
    path = tmp_path / "bom.obj"
    path.write_bytes(b"\xef\xbb\xbfv 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\n")
    mesh = load_mesh(path)
    assert mesh.file_verts.shape == (4, 3) and np.array_equal(mesh.file_verts[0], [0, 0, 0])
    assert np.array_equal(mesh.file_faces, [[0, 1, 2], [0, 1, 3]])


def test_obj_with_latin1_comments_is_read(tmp_path):
    path = tmp_path / "latin1.obj"
    text = "# modèle exporté par Café3D — tête\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    path.write_bytes(text.replace("—", "-").encode("latin-1"))
    mesh = load_mesh(path)
    assert mesh.file_verts.shape == (3, 3) and np.array_equal(mesh.file_faces, [[0, 1, 2]])


def test_from_file_order_undoes_to_file_order(make_icosphere):
    verts, faces = make_icosphere(1)
    mesh = Mesh.from_arrays(np.concatenate([verts, verts[:3]]), faces)  # three file vertices merged
    values = np.random.default_rng(0).normal(size=(2, len(mesh.verts), 3))
    np.testing.assert_array_equal(mesh.from_file_order(mesh.to_file_order(values)), values)
    with pytest.raises(ValueError, match=str(len(verts) + 3)):
        mesh.from_file_order(values)


def test_points_on_one_line_are_no_surface():
    points = np.zeros((200, 3))
    points[:, 0] = np.linspace(0.0, 0.2, 200)
    with pytest.raises(MeshError, match="lie on one line"):
        Mesh.from_arrays(points, None)
