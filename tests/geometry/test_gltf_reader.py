"""glTF meshes are read on the file's own vertices, in the file's order (no merging, no reordering)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scantalk.errors import MeshError
from scantalk.face.samples import real_face
from scantalk.geometry.mesh import load_mesh
from scantalk.inference.animation import Animation


@pytest.fixture(scope="module")
def glb(tmp_path_factory):
    head = real_face("mediapipe")
    frames = np.repeat(head.verts[None].astype(np.float32), 2, axis=0)
    frames[1] += 1e-3
    path = tmp_path_factory.mktemp("gltf") / "face.glb"
    Animation(frames, head.verts.astype(np.float32), head.faces, 30.0, np.zeros(0, np.float32), 16000, {}).export_gltf(path)
    return head, path


def test_a_glb_comes_back_in_its_own_vertex_order(glb):
    head, path = glb
    mesh = load_mesh(path)
    assert np.abs(mesh.file_verts - head.verts).max() < 1e-6  # float32 storage
    assert np.array_equal(mesh.file_faces, head.faces)


def test_a_gltf_with_an_external_buffer_reads_the_same(tmp_path):
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], np.float32)
    faces = np.array([[3, 1, 0], [0, 2, 3]], np.uint16)  # the order a user chose
    (tmp_path / "data.bin").write_bytes(verts.tobytes() + faces.tobytes())
    document = {
        "asset": {"version": "2.0"}, "buffers": [{"uri": "data.bin", "byteLength": 60}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 48}, {"buffer": 0, "byteOffset": 48, "byteLength": 12}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 4, "type": "VEC3"},
                      {"bufferView": 1, "componentType": 5123, "count": 6, "type": "SCALAR"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
    }
    (tmp_path / "quad.gltf").write_text(json.dumps(document))
    mesh = load_mesh(tmp_path / "quad.gltf")
    assert np.array_equal(mesh.file_verts, verts) and np.array_equal(mesh.file_faces, faces)


def test_a_truncated_glb_is_a_clear_error(glb, tmp_path):
    _, path = glb
    broken = tmp_path / "broken.glb"
    broken.write_bytes(path.read_bytes()[:200])
    with pytest.raises(MeshError, match="broken.glb.*truncated"):
        load_mesh(broken)
