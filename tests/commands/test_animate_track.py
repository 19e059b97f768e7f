"""`scantalk animate` with an articulated model: the track it writes, decoding an (edited) track
with `--track`, and the glb / ARKit exports. A tiny model with random weights: only what the
command promises is tested, not how well the face talks."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from scantalk.articulation import ArticulationTrack
from scantalk.checkpoint import save_model
from scantalk.cli import main
from scantalk.face.samples import real_face
from scantalk.geometry import Mesh, save_mesh
from scantalk.model import ScanTalk
from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker

# The per-vertex basis decoder: an untrained one keeps the face still, which these tests rely on.
TINY = dict(width=8, n_blocks=1, audio_hidden=16, lstm_hidden=8, lstm_layers=1, k_eig=16, frontend="mel", decoder="basis")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """face.obj (MediaPipe's 468-vertex face), 1 s of speech-like audio, a tiny articulated checkpoint."""
    folder = tmp_path_factory.mktemp("inputs")
    head = real_face("mediapipe")
    save_mesh(folder / "face.obj", head.verts, Mesh.from_arrays(head.verts, head.faces))
    time = np.arange(16000) / 16000
    sf.write(folder / "speech.wav", (0.3 * np.sin(2 * np.pi * 150 * time) * np.sin(2 * np.pi * 2 * time)), 16000)
    torch.manual_seed(0)
    model = ArticulatedTalker(ArticulatedConfig(**TINY))
    with torch.no_grad():
        for parameter in model.decoder.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)
    save_model(folder / "tiny.ckpt", model)
    return folder


@pytest.fixture(autouse=True)
def operator_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCANTALK_CACHE_DIR", str(tmp_path / "operators"))


def _animate(inputs, out, *extra, audio=True) -> list[str]:
    return ["animate", str(inputs / "face.obj"), *([str(inputs / "speech.wav")] if audio else []), "-o", str(out),
            "--checkpoint", str(inputs / "tiny.ckpt"), "--no-video", "--device", "cpu", *extra]


@pytest.mark.slow
def test_animate_writes_the_track_and_track_decodes_it_back(inputs, tmp_path):
    assert main(_animate(inputs, tmp_path / "out")) == 0
    out = tmp_path / "out"
    track = ArticulationTrack.load_csv(out / "articulation.csv")
    assert np.array_equal(ArticulationTrack.load_json(out / "articulation.json").values, track.values)
    frames = np.load(out / "animation.npy")
    assert frames.shape == (30, 468, 3) and track.num_frames == 30 and track.fps == 30.0
    assert np.abs(frames - np.load(out / "neutral.npy")).max() > 1e-4  # the tiny model does move the face

    assert main(_animate(inputs, tmp_path / "again", "--track", str(out / "articulation.csv"), audio=False)) == 0
    again = tmp_path / "again"
    assert np.abs(np.load(again / "animation.npy") - frames).max() < 1e-7
    assert np.array_equal(ArticulationTrack.load_csv(again / "articulation.csv").values, track.values)
    assert json.loads((again / "meta.json").read_text())["num_frames"] == 30


@pytest.mark.slow
def test_an_edited_track_moves_the_face_as_edited(inputs, tmp_path):
    rest = ArticulationTrack(np.zeros((25, 5)), 25.0)  # as long as the 1 s of speech
    rest.save_csv(tmp_path / "rest.csv")
    opened = rest.with_channel("jaw_open", np.linspace(0.0, 1.0, 25))
    opened.save_csv(tmp_path / "opened.csv")
    for name in ("rest", "opened"):
        assert main(_animate(inputs, tmp_path / name, "--track", str(tmp_path / f"{name}.csv"))) == 0
    still = np.load(tmp_path / "rest" / "animation.npy") - np.load(tmp_path / "rest" / "neutral.npy")
    moving = np.load(tmp_path / "opened" / "animation.npy") - np.load(tmp_path / "opened" / "neutral.npy")
    assert still.shape == moving.shape == (25, 468, 3)
    assert json.loads((tmp_path / "opened" / "meta.json").read_text())["fps"] == 25.0  # the track's rate
    assert np.abs(still).max() == 0.0 and np.abs(moving[0]).max() == 0.0 and np.abs(moving[-1]).max() > 1e-4
    # AUDIO given with --track is kept as the soundtrack.
    audio, rate = sf.read(tmp_path / "opened" / "audio.wav")
    assert rate == 16000 and len(audio) == 16000


def test_glb_and_arkit_exports(inputs, tmp_path):
    out = tmp_path / "out"
    assert main(_animate(inputs, out, "--export", "glb", "--export", "arkit")) == 0
    assert (out / "animation.glb").read_bytes()[:4] == b"glTF"
    track = ArticulationTrack.load_csv(out / "articulation.csv")
    with open(out / "arkit.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == track.num_frames
    assert np.allclose([float(row["JawOpen"]) for row in rows],
                       track["jaw_open"], atol=1e-5)
    assert (out / "arkit.json").stat().st_size > 0
    json.loads((out / "arkit.json").read_text())


def test_neither_audio_nor_track_is_a_clear_error(inputs, tmp_path, capsys):
    assert main(_animate(inputs, tmp_path / "out", audio=False)) == 1
    error = capsys.readouterr().err
    assert "AUDIO" in error and "--track" in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_track_problems_are_one_line_errors(inputs, tmp_path, capsys):
    assert main(_animate(inputs, tmp_path / "out", "--track", str(tmp_path / "missing.csv"))) == 1
    assert "missing.csv" in capsys.readouterr().err
    ArticulationTrack(np.zeros((5, 4)), 30.0, ("jaw_open", "lip_close", "lip_round", "lip_spread")).save_csv(
        tmp_path / "partial.csv")
    assert main(_animate(inputs, tmp_path / "out", "--track", str(tmp_path / "partial.csv"))) == 1
    assert "labiodental" in capsys.readouterr().err
    save_model(tmp_path / "end_to_end.ckpt", ScanTalk(k_eig=16))
    args = _animate(inputs, tmp_path / "out", "--track", str(tmp_path / "partial.csv"))
    args[args.index("--checkpoint") + 1] = str(tmp_path / "end_to_end.ckpt")
    assert main(args) == 1
    assert "articulation track" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_the_installed_command_decodes_a_track(inputs, tmp_path):
    ArticulationTrack(np.full((6, 5), 0.5), 30.0).save_csv(tmp_path / "track.csv")
    command = [sys.executable, "-m", "scantalk.cli", *_animate(inputs, tmp_path / "out", "--track",
                                                               str(tmp_path / "track.csv"), audio=False)]
    environment = {**os.environ, "SCANTALK_CACHE_DIR": str(tmp_path / "operators")}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "out" / "animation.npy").shape == (6, 468, 3)


@pytest.mark.slow
def test_audio_may_follow_the_options_and_a_track_alone_writes_no_soundtrack(inputs, tmp_path):
    ArticulationTrack(np.full((30, 5), 0.5), 30.0).save_csv(tmp_path / "track.csv")
    common = ["--checkpoint", str(inputs / "tiny.ckpt"), "--device", "cpu", "--resolution", "64"]
    # As the README writes it: AUDIO last, after -o.
    assert main(["animate", str(inputs / "face.obj"), "--track", str(tmp_path / "track.csv"), "-o",
                 str(tmp_path / "with_audio"), str(inputs / "speech.wav"), "--no-video", *common]) == 0
    audio, rate = sf.read(tmp_path / "with_audio" / "audio.wav")
    assert rate == 16000 and len(audio) == 16000
    # No AUDIO: no empty audio.wav.
    assert main(["animate", str(inputs / "face.obj"), "--track", str(tmp_path / "track.csv"), "-o",
                 str(tmp_path / "silent"), "--no-video", *common]) == 0
    assert not (tmp_path / "silent" / "audio.wav").exists()
    assert json.loads((tmp_path / "silent" / "meta.json").read_text())["num_frames"] == 30


@pytest.mark.slow
def test_a_track_without_audio_makes_a_silent_video_and_renders_again(inputs, tmp_path):
    ArticulationTrack(np.full((6, 5), 0.5), 30.0).save_csv(tmp_path / "track.csv")
    common = ["--checkpoint", str(inputs / "tiny.ckpt"), "--device", "cpu", "--resolution", "64"]
    assert main(["animate", str(inputs / "face.obj"), "--track", str(tmp_path / "track.csv"), "-o",
                 str(tmp_path / "silent"), *common]) == 0
    assert (tmp_path / "silent" / "animation.mp4").stat().st_size > 0
    assert main(["render", str(tmp_path / "silent"), "--resolution", "64"]) == 0
    # A video the user names is theirs: kept unless --overwrite.
    mine = tmp_path / "mine.mp4"
    mine.write_bytes(b"my own video")
    assert main(["render", str(tmp_path / "silent"), "-o", str(mine), "--resolution", "64"]) == 1
    assert mine.read_bytes() == b"my own video"
    assert main(["render", str(tmp_path / "silent"), "-o", str(mine), "--resolution", "64", "--overwrite"]) == 0
    assert mine.read_bytes() != b"my own video"


def test_a_track_and_speech_of_different_lengths_are_refused(inputs, tmp_path, capsys):
    ArticulationTrack(np.full((90, 5), 0.5), 30.0).save_csv(tmp_path / "long.csv")  # 3 s for 1 s of speech
    assert main(_animate(inputs, tmp_path / "out", "--track", str(tmp_path / "long.csv"))) == 1
    error = capsys.readouterr().err
    assert "3.00 s" in error and "1.00 s" in error and not (tmp_path / "out").exists()
