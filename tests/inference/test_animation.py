import json

import numpy as np
import pytest

from scantalk.errors import OutputError, OutputExistsError
from scantalk.geometry import load_mesh
from scantalk.inference.animation import Animation, read_pc2


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


def _point_cloud_animation() -> Animation:
    mesh = _animation(3)
    return Animation(mesh.frames, mesh.neutral, None, 25.0, mesh.audio, 16000, {"checkpoint": "other"})


def test_overwrite_replaces_the_whole_folder_without_stale_files(tmp_path):
    _animation().save(tmp_path / "out")
    assert (tmp_path / "out" / "faces.npy").exists()
    _point_cloud_animation().save(tmp_path / "out", overwrite=True)
    assert not (tmp_path / "out" / "faces.npy").exists()  # a point cloud has no faces
    back = Animation.load(tmp_path / "out")
    assert back.faces is None and back.fps == 25.0 and back.num_frames == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or old folders left


def test_a_saved_animation_with_every_track_can_be_saved_over(tmp_path):
    """Every file `save` writes is one it recognises as its own: saving again with overwrite=True
    replaces the folder (an animation with life once could not be saved twice)."""
    from scantalk.articulation import ArticulationTrack
    from scantalk.articulation.channels import ARTICULATION_CHANNELS
    from scantalk.inference.animation import is_animation_dir
    from scantalk.life.channels import LIFE_CHANNELS
    from scantalk.life.track import LifeTrack

    plain = _animation()
    tracks = {"articulation": ArticulationTrack(np.zeros((4, len(ARTICULATION_CHANNELS)), np.float32), 30.0),
              "life": LifeTrack(np.zeros((4, len(LIFE_CHANNELS)), np.float32), 30.0, LIFE_CHANNELS)}
    animation = Animation(plain.frames, plain.neutral, plain.faces, plain.fps, plain.audio, plain.sample_rate,
                          {**plain.meta, "landmarks": {"given": None}}, **tracks)
    animation.save(tmp_path / "out")
    assert {"life.csv", "articulation.csv", "landmarks.json"} <= {p.name for p in (tmp_path / "out").iterdir()}
    assert is_animation_dir(tmp_path / "out")
    animation.save(tmp_path / "out", overwrite=True)
    assert Animation.load(tmp_path / "out").life is not None


def test_overwrite_never_replaces_a_folder_it_did_not_write(tmp_path):
    notes = tmp_path / "mine" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("keep me")
    with pytest.raises(OutputExistsError, match="did not write"):
        _animation().save(notes.parent, overwrite=True)
    _animation().save(tmp_path / "out")
    (tmp_path / "out" / "face.ply").write_text("a user's file put into an old output")
    with pytest.raises(OutputExistsError, match="did not write"):
        _animation().save(tmp_path / "out", overwrite=True)
    assert notes.read_text() == "keep me" and (tmp_path / "out" / "face.ply").exists()


def test_output_that_is_a_file_or_a_symlink_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="existing file"):
        _animation().save(tmp_path / "file", overwrite=True)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OutputError, match="symbolic link"):
        _animation().save(tmp_path / "link", overwrite=True)
    assert (tmp_path / "file").read_text() == "x"


_KILLER = """
import os, shutil, signal, sys
import numpy as np
from scantalk import atomic
from scantalk.inference.animation import Animation

out, point = sys.argv[1], sys.argv[2]
die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
if point == "writing":
    Animation.write_files = lambda self, directory: (open(os.path.join(directory, "animation.npy"), "wb"), die())
elif point == "between_renames":  # the two-rename fallback, killed after the old output moved aside
    atomic._exchange = lambda first, second: False
    atomic.os.rename = die
elif point == "after_exchange":  # new output in place, old one not yet removed
    atomic.shutil.rmtree = die
frames = np.zeros((2, 3, 3), np.float32)
Animation(frames + 1.0, frames[0], None, 30.0, np.zeros(1600, np.float32)).save(out, overwrite=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("point", ["writing", "between_renames", "after_exchange"])
def test_kill_9_at_any_moment_loses_nothing_and_the_next_run_cleans_up(tmp_path, point):
    import subprocess
    import sys

    from scantalk.atomic import clean_stale_leftovers

    out = tmp_path / "out"
    old = _animation()
    old.save(out)
    done = subprocess.run([sys.executable, "-c", _KILLER, str(out), point], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    messages: list[str] = []
    handled = clean_stale_leftovers(out, log=messages.append)
    assert len(handled) == (2 if point == "between_renames" else 1) == len(messages)  # old output + staging
    assert all(path.name in message for path, message in zip(handled, messages))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    back = Animation.load(out)
    if point == "after_exchange":
        assert back.faces is None and np.all(back.frames == 1.0)  # the new output is complete
    else:
        assert np.array_equal(back.frames, old.frames) and np.array_equal(back.faces, old.faces)


def test_a_live_run_s_staging_folder_is_left_alone(tmp_path):
    import os
    import socket
    import hashlib

    from scantalk.atomic import clean_stale_leftovers

    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    live = tmp_path / f".out.scantalk-staging-{host}-{os.getppid()}-abc"  # the parent: alive
    live.mkdir()
    assert clean_stale_leftovers(tmp_path / "out", log=lambda line: None) == []
    assert live.exists()


def test_broken_animation_folders_are_clear_errors(tmp_path):
    from scantalk.errors import AnimationError

    _animation().save(tmp_path / "out")
    folder = tmp_path / "out"
    good_meta = (folder / "meta.json").read_text()
    (folder / "meta.json").write_text('{"fps": 30, "num_fr')
    with pytest.raises(AnimationError, match="meta.json is not valid JSON"):
        Animation.load(folder)
    (folder / "meta.json").write_text(json.dumps({k: v for k, v in json.loads(good_meta).items() if k != "fps"}))
    with pytest.raises(AnimationError, match="no positive 'fps'"):
        Animation.load(folder)
    (folder / "meta.json").write_text(good_meta)
    data = (folder / "animation.npy").read_bytes()
    (folder / "animation.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(AnimationError, match="animation.npy .* truncated"):
        Animation.load(folder)


@pytest.mark.parametrize("fps", [0, -30, 1e9, float("nan"), "fast"])
def test_unusable_frame_rates_are_refused(fps):
    from scantalk.inference.animation import check_fps
    from scantalk.errors import ScanTalkError

    with pytest.raises(ScanTalkError, match="fps"):
        check_fps(fps)
    assert check_fps(25) == 25.0
