"""The live server: the page on 127.0.0.1, frames for a client's speech, many viewers, a stalled
viewer that holds nobody up, and protocol mistakes answered in words."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("websockets", reason="the live viewer needs websockets (pip install 'scantalk[live]')")

from websockets.asyncio.client import connect  # noqa: E402

from scantalk.errors import ScanTalkError  # noqa: E402
from scantalk.live.client import speak  # noqa: E402
from scantalk.live.protocol import read_message  # noqa: E402
from scantalk.live.server import LiveServer  # noqa: E402

from .conftest import EXCHANGE_TIMEOUT_S, ServerThread, stalled_viewer, watch  # noqa: E402


def _run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, EXCHANGE_TIMEOUT_S))


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


@pytest.mark.slow
def test_the_viewer_page_is_served_on_localhost_at_a_free_port(live_server):
    url = live_server.server.url
    assert url.startswith("http://127.0.0.1:") and live_server.server.port > 0
    status, kind, page = _get(url)
    assert status == 200 and kind.startswith("text/html") and b"viewer.js" in page
    status, kind, script = _get(url + "viewer.js")
    assert status == 200 and "javascript" in kind and b"scantalkLive" in script
    assert _get(url + "missing.js")[0] == 404
    assert _get(url + "..%2Fserver.py")[0] == 404


def test_a_client_speaking_gets_the_frames_of_its_speech(live_server, papa_spoken):
    report = _run(speak(live_server.server.stream_url, papa_spoken.samples, 16000, realtime=False))
    duration = len(papa_spoken.samples) / 16000
    assert report.errors == []
    assert abs(len(report.frames) - duration * 30) <= 2
    assert [frame["index"] for frame in report.frames] == list(range(len(report.frames)))
    vertices = np.stack([frame["vertices"] for frame in report.frames])
    assert vertices.shape[1:] == (468, 3)
    assert np.abs(vertices - vertices[0]).max() > 1e-4  # the mouth moves


@pytest.mark.slow
def test_every_viewer_gets_the_face_the_audio_and_every_frame(live_server, papa_spoken):
    async def scene():
        viewers = [asyncio.create_task(watch(live_server.server.stream_url)) for _ in range(2)]
        while live_server.server.stats["viewers"] < 2:
            await asyncio.sleep(0.01)
        report = await speak(live_server.server.stream_url, papa_spoken.samples, 16000, realtime=False)
        return report, await asyncio.gather(*viewers)

    report, seen = _run(scene())
    for viewer in seen:
        assert viewer["hello"]["fps"] == 30 and viewer["hello"]["vertices"] == 468
        assert viewer["mesh"]["rest"].shape == (468, 3) and viewer["mesh"]["faces"].shape[1] == 3
        assert len(viewer["frames"]) == len(report.frames)
        np.testing.assert_array_equal(viewer["frames"][-1]["vertices"], report.frames[-1]["vertices"])
        audio = np.concatenate([chunk["samples"] for chunk in viewer["audio"]])
        assert abs(len(audio) - len(papa_spoken.samples)) < 320  # every chunk; s16 on the wire
        starts = [chunk["time"] for chunk in viewer["audio"]]
        assert starts == sorted(starts) and starts[0] == viewer["frames"][0]["time"]  # one timeline


@pytest.mark.slow
def test_a_viewer_that_never_reads_holds_up_neither_the_stream_nor_another_viewer(tiny_animator, mediapipe_face,
                                                                                  papa_spoken):
    speech = np.tile(papa_spoken.samples, 2)  # 2.5 s in real time: more than the stalled socket can buffer
    with ServerThread(LiveServer(lambda: tiny_animator.stream(mediapipe_face), max_queue=32)) as live:
        stalled = stalled_viewer(live.server.port)

        async def scene():
            viewer = asyncio.create_task(watch(live.server.stream_url))
            while live.server.stats["viewers"] < 2:
                await asyncio.sleep(0.01)
            report = await speak(live.server.stream_url, speech, 16000, realtime=True)
            return report, await viewer

        report, seen = _run(scene())
        stats = live.server.stats
        stalled.close()
    assert abs(len(report.frames) - len(speech) / 16000 * 30) <= 2
    assert [frame["index"] for frame in seen["frames"]] == list(range(len(report.frames)))  # none lost
    assert np.median(report.lags) < 0.5  # frames kept coming in time
    assert stats["dropped"] > 0  # the stalled viewer's oldest messages went instead


BAD_MESSAGES = [
    ("hello", "must be a JSON object"),
    ("[1, 2]", "must be \"speak\" or \"end\""),
    (json.dumps({"type": "dance"}), "must be \"speak\" or \"end\""),
    (b"\x00\x01", "audio before a \"speak\" message"),
    (json.dumps({"type": "end"}), "\"end\" without a \"speak\""),
    (json.dumps({"type": "speak", "sample_rate": 0}), "\"sample_rate\" must be a whole number of Hz"),
    (json.dumps({"type": "speak", "sample_rate": "fast"}), "\"sample_rate\" must be a whole number of Hz"),
    (json.dumps({"type": "speak", "sample_rate": 16000, "channels": 0}), "\"channels\" must be"),
    (json.dumps({"type": "speak", "sample_rate": 16000, "format": "mp3"}), "\"format\" must be one of"),
]


@pytest.mark.slow
def test_protocol_mistakes_are_answered_in_words_and_the_server_carries_on(live_server, papa_spoken):
    url = live_server.server.stream_url

    async def answers(messages):
        replies = []
        async with connect(url) as connection:
            for message in messages:
                await connection.send(message)
                while (reply := read_message(await connection.recv()))["type"] not in ("error", "start"):
                    pass
                replies.append(reply)
        return replies

    replies = _run(answers([message for message, _ in BAD_MESSAGES]))
    for (message, expected), reply in zip(BAD_MESSAGES, replies):
        assert reply["type"] == "error" and expected in reply["message"], (message, reply)
    speak_floats = json.dumps({"type": "speak", "sample_rate": 16000, "format": "f32le"})
    replies = _run(answers([speak_floats, b"\x00\x00\x80", np.array([0.1, np.nan], "<f4").tobytes(), speak_floats]))
    assert [reply["type"] for reply in replies] == ["start", "error", "error", "error"]
    assert "not a whole number of f32le sample frames" in replies[1]["message"]
    assert "NaN" in replies[2]["message"]
    assert "already speaking" in replies[3]["message"]
    report = _run(speak(url, papa_spoken.samples, 16000, realtime=False))
    assert report.errors == [] and len(report.frames) > 30


def test_the_python_client_waits_its_turn_or_says_who_holds_the_stream(live_server, papa_spoken):
    """`speak` keeps asking while another speech is under way (for `wait_s`), then speaks."""
    url = live_server.server.stream_url

    async def scene():
        async with connect(url) as first:
            await first.send(json.dumps({"type": "speak", "sample_rate": 16000}))
            while read_message(await first.recv())["type"] != "start":
                pass
            with pytest.raises(ScanTalkError, match="another source is speaking"):
                await speak(url, papa_spoken.samples, 16000, realtime=False, wait_s=0.0)
            waiting = asyncio.create_task(speak(url, papa_spoken.samples, 16000, realtime=False, wait_s=30.0))
            await asyncio.sleep(0.5)
            assert not waiting.done()  # still asking: the first speaker holds the stream
            await first.send(json.dumps({"type": "end"}))
            return await waiting

    report = _run(scene())
    assert report.errors == [] and len(report.frames) > 30


def test_a_second_speaker_waits_for_the_first(live_server):
    async def scene():
        async with connect(live_server.server.stream_url) as first, connect(live_server.server.stream_url) as second:
            request = json.dumps({"type": "speak", "sample_rate": 16000})
            await first.send(request)
            while read_message(await first.recv())["type"] != "start":
                pass
            await second.send(request)
            while (reply := read_message(await second.recv()))["type"] != "error":
                pass
            return reply["message"]

    assert "another source is speaking" in _run(scene())
