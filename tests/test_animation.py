import json

import numpy as np
import pytest

from scantalk.animation import Animation, read_pc2
from scantalk.errors import OutputExistsError
from scantalk.geometry import load_mesh


def _animation(num_frames: int = 4) -> Animation:
    rng = np.random.default_rng(0)
    neutral = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32) * 0.1
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], dtype=np.int64)
    frames = neutral[None] + 0.001 * rng.normal(size=(num_frames, 4, 3)).astype(np.float32)
    audio = 0.1 * np.sin(np.linspace(0, 200, 16000 * num_frames // 30)).astype(np.float32)
    return Animation(frames, neutral, faces, 30.0, audio, 16000, {"checkpoint": "test"})


def test_save_and_load_round_trip(tmp_path):
    animation = _animation()
    animation.save(tmp_path / "out")
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["fps"] == 30.0 and meta["num_frames"] == 4 and meta["num_vertices"] == 4
    back = Animation.load(tmp_path / "out")
    assert np.array_equal(back.frames, animation.frames)
    assert np.array_equal(back.faces, animation.faces)
    assert back.meta["checkpoint"] == "test"
    assert not [p for p in (tmp_path / "out").iterdir() if ".tmp" in p.name]


def test_existing_animation_is_not_overwritten(tmp_path):
    animation = _animation()
    animation.save(tmp_path)
    before = (tmp_path / "animation.npy").read_bytes()
    with pytest.raises(OutputExistsError, match="overwrite"):
        _animation(6).save(tmp_path)
    assert (tmp_path / "animation.npy").read_bytes() == before


def test_pc2_point_cache_round_trip(tmp_path):
    animation = _animation(5)
    path = animation.export_pc2(tmp_path / "a.pc2")
    assert path.stat().st_size == 32 + 5 * 4 * 3 * 4
    assert np.array_equal(read_pc2(path), animation.frames)


@pytest.mark.parametrize("fmt", ["ply", "obj"])
def test_exported_meshes_keep_vertex_order(tmp_path, fmt):
    animation = _animation(3)
    paths = animation.export_meshes(tmp_path, fmt)
    assert len(paths) == 3
    mesh = load_mesh(paths[1])
    assert np.allclose(mesh.file_verts, animation.frames[1], atol=1e-6)
    assert np.array_equal(mesh.file_faces, animation.faces)
