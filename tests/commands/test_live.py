"""`scantalk live FACE`: a user's mistakes are one-line errors before anything loads; the server
prints its URL, plays a file to a viewer, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import soundfile as sf

from scantalk.cli import main
from scantalk.geometry import Mesh, save_mesh

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def face_file(tmp_path_factory, mediapipe_face):
    path = tmp_path_factory.mktemp("face") / "face.obj"
    verts, faces = mediapipe_face
    save_mesh(path, verts, Mesh.from_arrays(verts, faces))
    return path


@pytest.mark.parametrize("arguments, message", [
    (["--loop"], "--loop plays an --audio file"),
    (["--port", "70000"], "--port 70000 is not a TCP port"),
    (["--fps", "0"], "fps"),
    (["--audio", "missing.wav"], "missing.wav"),
    (["--life", "2"], "--life 2.0 must be in 0..1"),
    (["--life-groups", "ears"], "--life-groups 'ears'"),
])
def test_mistakes_are_one_line_errors(face_file, arguments, message, capsys):
    assert main(["live", str(face_file), *arguments]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and "Traceback" not in error


def test_a_microphone_without_sounddevice_or_portaudio_says_what_to_install(face_file, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # as if it were not installed
    assert main(["live", str(face_file), "--microphone"]) == 1
    error = capsys.readouterr().err
    assert "sounddevice" in error and "--audio FILE" in error


@pytest.mark.integration
def test_live_serves_a_file_to_a_viewer_and_stops_on_ctrl_c(face_file, tiny_articulated_checkpoint, papa_spoken,
                                                           tmp_path):
    pytest.importorskip("websockets", reason="the live viewer needs websockets (pip install 'scantalk[live]')")
    from scantalk.live.protocol import read_message

    speech = tmp_path / "papa.wav"
    sf.write(speech, papa_spoken.samples, 16000)
    # PYTHONFAULTHANDLER: a server that does not stop is aborted, and says where its threads were.
    environment = {**os.environ, "PYTHONPATH": str(REPO), "SCANTALK_CACHE_DIR": str(tmp_path / "cache"),
                   "PYTHONFAULTHANDLER": "1"}
    server = subprocess.Popen([sys.executable, "-m", "scantalk.cli", "live", str(face_file), "--port", "0",
                               "--checkpoint", str(tiny_articulated_checkpoint), "--audio", str(speech), "--loop",
                               "--device", "cpu"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        first = server.stdout.readline()
        assert first.startswith("scantalk live: open http://127.0.0.1:"), first + server.stderr.read()
        url = first.split()[3]
        with urllib.request.urlopen(url, timeout=10) as page:
            assert b"viewer.js" in page.read()

        async def frames() -> int:
            from websockets.asyncio.client import connect

            count = 0
            async with connect(url.replace("http", "ws") + "stream", max_size=2**24) as viewer:
                while count < 10:
                    count += read_message(await viewer.recv())["type"] == "frame"
            return count

        assert asyncio.run(asyncio.wait_for(frames(), 60)) == 10
        server.send_signal(signal.SIGINT)
        try:
            out, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.send_signal(signal.SIGABRT)
            out, err = server.communicate(timeout=30)
            pytest.fail(f"the server did not stop within 30 s of Ctrl-C; where it was:\n{err[-6000:]}")
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
