"""`scantalk animate` and `scantalk render` from the command line, with the shipped model."""

import json

import numpy as np
import pytest
import soundfile as sf

from scantalk.animation import read_pc2
from scantalk.cli import main
from scantalk.data.synth import make_sample_face, make_sample_speech
from scantalk.geometry import Mesh, load_mesh, save_mesh


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    verts, faces = make_sample_face(4243, meshing="uv_coarse")
    save_mesh(folder / "face.obj", verts, Mesh.from_arrays(verts, faces))
    sf.write(folder / "speech.wav", make_sample_speech(4243, seconds=1.0), 16000)
    return folder / "face.obj", folder / "speech.wav", len(verts)


@pytest.fixture(autouse=True)
def operator_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCANTALK_CACHE_DIR", str(tmp_path / "operators"))


def test_animate_writes_everything_and_refuses_to_overwrite(inputs, tmp_path, capsys):
    face, audio, num_vertices = inputs
    out = tmp_path / "out"
    args = ["animate", str(face), str(audio), "-o", str(out), "--resolution", "96",
            "--export-meshes", "ply", "--export-cache", "pc2"]
    assert main(args) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["num_frames"] == 30 and meta["num_vertices"] == num_vertices and meta["fps"] == 30.0
    assert meta["audio_file"] == str(audio) and meta["alignment"]["units"] == "metres"
    frames = np.load(out / "animation.npy")
    assert frames.shape == (30, num_vertices, 3)
    assert (out / "animation.mp4").stat().st_size > 1000
    assert np.allclose(read_pc2(out / "animation.pc2"), frames)
    assert np.allclose(load_mesh(out / "meshes" / "frame_00010.ply").file_verts, frames[10], atol=1e-6)
    assert str(out.resolve()) in capsys.readouterr().out

    before = (out / "animation.npy").read_bytes()
    assert main(args) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "animation.npy").read_bytes() == before
    assert main([*args, "--overwrite", "--no-video"]) == 0
    assert not (out / "animation.mp4").exists()


def test_interrupted_animate_leaves_nothing_behind(inputs, tmp_path, monkeypatch):
    from scantalk.animation import Animation

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Animation, "to_video", interrupted)
    face, audio, _ = inputs
    with pytest.raises(KeyboardInterrupt):
        main(["animate", str(face), str(audio), "-o", str(tmp_path / "out")])
    assert list(tmp_path.iterdir()) == [tmp_path / "operators"]


def test_missing_face_is_a_clear_error(inputs, tmp_path, capsys):
    _, audio, _ = inputs
    assert main(["animate", str(tmp_path / "nope.ply"), str(audio), "-o", str(tmp_path / "out")]) == 1
    assert "nope.ply" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_render_side_by_side(inputs, tmp_path):
    import av

    face, audio, _ = inputs
    out = tmp_path / "out"
    assert main(["animate", str(face), str(audio), "-o", str(out), "--no-video"]) == 0
    assert main(["render", str(out), "--compare", "neutral", "--resolution", "64"]) == 0
    with av.open(str(out / "animation.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (128, 64)
        assert any(s.type == "audio" for s in container.streams)
