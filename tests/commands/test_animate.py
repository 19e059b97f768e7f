"""`scantalk animate` and `scantalk render` from the command line, with the shipped model."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scantalk.cli import main
from scantalk.commands.demo import DEMO_SPEECH
from scantalk.geometry import Mesh, load_mesh, save_mesh
from scantalk.inference.animation import read_pc2
from scantalk.synthesis.heads.procedural import procedural_head


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    head = procedural_head(4243, resolution=0.01)  # a face no model trained on, about 2.9k vertices
    verts, faces = head.verts, head.faces
    save_mesh(folder / "face.obj", verts, Mesh.from_arrays(verts, faces))
    speech, rate = sf.read(DEMO_SPEECH, dtype="float32")
    sf.write(folder / "speech.wav", speech[:rate], rate)  # one second of real speech
    return folder / "face.obj", folder / "speech.wav", len(verts)


@pytest.fixture(autouse=True)
def operator_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCANTALK_CACHE_DIR", str(tmp_path / "operators"))


@pytest.mark.slow
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


@pytest.mark.slow
def test_interrupted_animate_leaves_nothing_behind(inputs, tmp_path, monkeypatch):
    from scantalk.inference.animation import Animation

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Animation, "to_video", interrupted)
    face, audio, _ = inputs
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "out")]) == 130
    assert list(tmp_path.iterdir()) == [tmp_path / "operators"]


@pytest.mark.slow
def test_missing_face_is_a_clear_error(inputs, tmp_path, capsys):
    _, audio, _ = inputs
    assert main(["animate", str(tmp_path / "nope.ply"), str(audio), "-o", str(tmp_path / "out")]) == 1
    assert "nope.ply" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_failed_run_leaves_no_folder_it_made_behind(inputs, tmp_path, capsys):
    _, audio, _ = inputs
    broken = tmp_path / "broken.ply"
    broken.write_text("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                      "property float z\nelement face 1000000000\nproperty list uchar int vertex_indices\n"
                      "end_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    assert main(["animate", str(broken), str(audio), "-o", str(tmp_path / "new" / "sub")]) == 1
    assert main(["demo", "--out", str(tmp_path / "demo" / "here"), "--face", str(broken), "--no-video"]) == 1
    assert "broken.ply" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.ply", "operators"]  # the test's cache


@pytest.mark.slow
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


@pytest.fixture
def no_inference(monkeypatch):
    """Fail loudly if a command gets as far as loading the model: its checks must come first."""
    from scantalk.inference import animator

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(animator.Animator, "from_checkpoint", classmethod(refuse))


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def test_overwrite_never_deletes_the_folder_holding_the_inputs(inputs, tmp_path, capsys, no_inference):
    import shutil

    face, audio, _ = inputs
    folder = tmp_path / "p"
    folder.mkdir()
    shutil.copy(face, folder / "face.obj")
    shutil.copy(audio, folder / "s.wav")
    args = ["animate", str(folder / "face.obj"), str(folder / "s.wav"), "-o", str(folder), "--overwrite"]
    assert main(args) == 1
    _one_line_error(capsys, "holds the input")
    assert sorted(p.name for p in folder.iterdir()) == ["face.obj", "s.wav"]


def test_overwrite_never_touches_the_current_home_or_root_folder(inputs, tmp_path, capsys, monkeypatch, no_inference):
    face, audio, _ = inputs
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.tex").write_text("years of work")
    monkeypatch.chdir(work)
    for target in (".", str(tmp_path), "/"):
        assert main(["animate", str(face), str(audio), "-o", target, "--overwrite"]) == 1
        _one_line_error(capsys, "refusing")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "home"), "--overwrite"]) == 1
    _one_line_error(capsys, "home")
    assert (work / "thesis.tex").read_text() == "years of work"


def test_output_that_is_a_file_symlink_or_read_only_fails_before_inference(inputs, tmp_path, capsys, monkeypatch,
                                                                           no_inference):
    face, audio, _ = inputs
    (tmp_path / "taken.txt").write_text("x")
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "taken.txt")]) == 1
    _one_line_error(capsys, "taken.txt", "existing file")
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "link")]) == 1
    _one_line_error(capsys, "symbolic link")
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "taken.txt" / "out")]) == 1
    _one_line_error(capsys, "cannot write")

    locked = tmp_path / "locked"
    locked.mkdir()
    from scantalk import atomic

    real = atomic.tempfile.mkdtemp

    def read_only(*args, dir=None, **kwargs):  # as on a read-only mount (chmod does not stop root)
        if dir is not None and Path(dir) == locked:
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", read_only)
    assert main(["animate", str(face), str(audio), "-o", str(locked / "out")]) == 1
    _one_line_error(capsys, "Permission denied", "writable")


@pytest.mark.parametrize("option, needle", [
    (["--device", "banana"], "not a device name"),
    (["--fps", "1e9"], "fps"),
    (["--fps", "0"], "fps"),
    (["--resolution", "0"], "resolution"),
])
def test_bad_options_fail_before_inference(inputs, tmp_path, capsys, no_inference, option, needle):
    face, audio, _ = inputs
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "out"), *option]) == 1
    _one_line_error(capsys, needle)
    assert not (tmp_path / "out").exists()


def test_cuda_on_a_machine_without_it_is_a_clear_error(inputs, tmp_path, capsys, monkeypatch, no_inference):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    face, audio, _ = inputs
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "out"), "--device", "cuda"]) == 1
    _one_line_error(capsys, "no CUDA", "--device cpu")


def test_stale_staging_of_a_killed_run_is_removed_with_a_message(inputs, tmp_path, capsys, no_inference):
    import hashlib
    import socket
    import subprocess
    import sys

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    stale = tmp_path / f".out.scantalk-staging-{host}-{dead}-k9"
    stale.mkdir()
    (stale / "animation.npy").write_bytes(b"half")
    face, audio, _ = inputs
    with pytest.raises(AssertionError, match="model was loaded"):  # valid arguments: stops at no_inference
        main(["animate", str(face), str(audio), "-o", str(tmp_path / "out")])
    assert not stale.exists()
    assert f"removed {stale}" in capsys.readouterr().err


@pytest.mark.slow
def test_render_bad_folders_and_options_are_one_line_errors(inputs, tmp_path, capsys):
    face, audio, num_vertices = inputs
    out = tmp_path / "out"
    assert main(["animate", str(face), str(audio), "-o", str(out), "--no-video"]) == 0
    capsys.readouterr()
    assert main(["render", str(out), "-o", str(tmp_path / "x.avi")]) == 1
    _one_line_error(capsys, "x.avi", ".mp4")
    assert main(["render", str(out), "--resolution", "0"]) == 1
    _one_line_error(capsys, "resolution")
    np.save(tmp_path / "gt.npy", np.zeros((30, num_vertices - 1, 3), np.float32))
    assert main(["render", str(out), "--compare", str(tmp_path / "gt.npy")]) == 1
    _one_line_error(capsys, "gt.npy", f"{num_vertices} vertices")
    meta = (out / "meta.json").read_text()
    (out / "meta.json").write_text(meta[:20])
    assert main(["render", str(out)]) == 1
    _one_line_error(capsys, "meta.json", "not valid JSON")
    (out / "meta.json").write_text(json.dumps({k: v for k, v in json.loads(meta).items() if k != "fps"}))
    assert main(["render", str(out)]) == 1
    _one_line_error(capsys, "fps")
    (out / "meta.json").write_text(meta)
    data = (out / "animation.npy").read_bytes()
    (out / "animation.npy").write_bytes(data[:-100])
    assert main(["render", str(out)]) == 1
    _one_line_error(capsys, "animation.npy", "truncated")
    assert not (out / "animation.mp4").exists()


def test_a_second_run_writing_the_same_output_is_refused_at_once(inputs, tmp_path, capsys, no_inference):
    from scantalk.inference.animation import is_animation_dir
    from scantalk.atomic import staged_output_dir

    face, audio, _ = inputs
    out = tmp_path / "out"
    with staged_output_dir(out, False, is_animation_dir, what="-o") as first_run:  # the first run, still working
        (first_run / "animation.npy").write_bytes(b"first")
        for extra in ([], ["--overwrite"]):
            assert main(["animate", str(face), str(audio), "-o", str(out), *extra]) == 1
            _one_line_error(capsys, str(out), "another scantalk run")
    assert (out / "animation.npy").read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # the lock file is gone


def test_an_output_that_appears_while_a_run_works_is_never_replaced(tmp_path):
    from scantalk.inference.animation import is_animation_dir
    from scantalk.atomic import staged_output_dir
    from scantalk.errors import OutputExistsError

    out = tmp_path / "out"
    with pytest.raises(OutputExistsError, match="while this run worked"):
        with staged_output_dir(out, False, is_animation_dir, what="-o") as staging:
            (staging / "animation.npy").write_bytes(b"mine")
            out.mkdir()
            (out / "theirs.txt").write_text("someone else's")
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_negative_axis_is_taken_as_the_value_of_up_and_forward(inputs, tmp_path, monkeypatch):
    from scantalk.commands import animate

    seen = {}
    monkeypatch.setattr(animate, "run", lambda args: seen.update(vars(args)) or 0)
    face, audio, _ = inputs
    assert main(["animate", str(face), "--up", "z", "--forward", "-y", "-o", str(tmp_path / "out"), str(audio)]) == 0
    assert (seen["up"], seen["forward"], seen["audio"]) == ("z", "-y", str(audio))
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "out"), "--up", "-z", "--forward=+x"]) == 0
    assert (seen["up"], seen["forward"]) == ("-z", "+x")


@pytest.mark.parametrize("emotion", ["nan=sad@0.5", "inf=happy@1", "0=sad@nan", "-inf=sad@1"])
def test_emotion_keyframes_at_times_that_are_not_finite_are_refused(inputs, tmp_path, capsys, no_inference, emotion):
    face, audio, _ = inputs
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "out"), f"--emotion={emotion}"]) == 1
    _one_line_error(capsys, "--emotion keyframe", "finite")
    assert not (tmp_path / "out").exists()


def test_a_checkpoint_with_nan_weights_writes_nothing(inputs, tmp_path, capsys):
    import torch

    from scantalk.checkpoint import save_model
    from scantalk.model import ScanTalk

    model = ScanTalk(width=8, n_blocks=1, k_eig=16)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    save_model(tmp_path / "nan.ckpt", model)
    face, audio, _ = inputs
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "out"), "--checkpoint",
                 str(tmp_path / "nan.ckpt"), "--no-video"]) == 1
    _one_line_error(capsys, "nan.ckpt", "not finite")
    assert not (tmp_path / "out").exists()


def test_a_folder_or_an_audio_file_as_checkpoint_is_a_one_line_error(inputs, tmp_path, capsys):
    face, audio, _ = inputs
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "out"), "--checkpoint", str(tmp_path)]) == 1
    _one_line_error(capsys, "is a folder")
    assert main(["animate", str(face), str(audio), "-o", str(tmp_path / "out"), "--checkpoint", str(audio)]) == 1
    err = _one_line_error(capsys, "speech.wav")
    assert "weights_only" not in err
    assert not (tmp_path / "out").exists()


def test_ctrl_c_is_one_line_not_a_traceback(monkeypatch, capsys):
    import scantalk.commands.landmarks as command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "run", interrupted)
    assert main(["landmarks", "face.obj", "-o", "out"]) == 130
    assert capsys.readouterr().err.strip().startswith("interrupted: scantalk landmarks stopped")
