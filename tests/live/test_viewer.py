"""The viewer page in headless Chromium: it loads, connects, draws the frames it gets (read back
from the canvas) and shows each one while its own audio is heard."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time

import numpy as np
import pytest

pytest.importorskip("websockets", reason="the live viewer needs websockets (pip install 'scantalk[live]')")

from scantalk.live.browser import DevTools, chromium_path, headless_chromium, open_windows  # noqa: E402
from scantalk.live.server import LiveServer  # noqa: E402
from scantalk.live.sources import FileSpeech  # noqa: E402

from .conftest import ServerThread  # noqa: E402

CHROMIUM = chromium_path()
#: Software WebGL, and a small window: enough to see the head.
CHROMIUM_FLAGS = ("--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--window-size=320,320")
#: The issue's bound: the audio heard and the frame drawn agree within this (seconds).
MAX_SYNC_ERROR_S = 0.04
#: Frames a page draws to start up (about 0.5 s of speech), then frames it draws while its
#: synchrony is measured (1.5 s), before the canvas is read.
WARM_UP_FRAMES, FRAMES_BEFORE_READING = 15, 45
#: Seconds Chromium has to start, load the page and draw them (software WebGL on 2 busy cores).
PAGE_TIMEOUT_S = 60


async def _read_pages(port: int, urls: list[str]) -> list[tuple[dict, list[np.ndarray]]]:
    """Open each of `urls` in a window of its own in the browser at DevTools `port`, and read
    each page (`_read_page`)."""
    pages = await open_windows(port, urls)
    return await asyncio.wait_for(asyncio.gather(*(_read_page(page) for page in pages)), PAGE_TIMEOUT_S)


async def _read_page(page: str) -> tuple[dict, list[np.ndarray]]:
    """Over the DevTools protocol: wait for frames to be drawn, read the canvas a few times, then
    the page's figures (window.scantalkLive)."""
    from PIL import Image

    async with DevTools(page, max_size=2**26) as devtools:
        evaluate = devtools.evaluate

        async def drawn() -> int:
            return await evaluate("window.scantalkLive ? window.scantalkLive.framesDrawn : 0")

        deadline = time.monotonic() + PAGE_TIMEOUT_S
        while (await drawn()) < WARM_UP_FRAMES:
            assert time.monotonic() < deadline, await evaluate("JSON.stringify(window.scantalkLive)")
            await asyncio.sleep(0.2)
        # Synchrony from here on: the page has started (its first draw compiles shaders in software,
        # which holds it up long enough for its sound to run dry once on a busy machine).
        start = await evaluate("window.scantalkLive.maxSyncError = 0, window.scantalkLive.framesDrawn")
        while (await drawn()) < start + FRAMES_BEFORE_READING:
            assert time.monotonic() < deadline, await evaluate("JSON.stringify(window.scantalkLive)")
            await asyncio.sleep(0.2)
        # The figures first: encoding a PNG holds the page's thread up, which the figures would show.
        stats = json.loads(await evaluate("JSON.stringify(window.scantalkLive)"))
        pictures = []
        for _ in range(5):
            png = await evaluate("document.getElementById('view').toDataURL('image/png')")
            pictures.append(np.asarray(Image.open(io.BytesIO(base64.b64decode(png.split(",", 1)[1]))).convert("RGB")))
            await asyncio.sleep(0.15)
        return stats, pictures


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; `make test` does)")
def test_pages_draw_the_frames_in_time_with_their_audio(tiny_animator, mediapipe_face, papa_spoken, tmp_path):
    """Two pages, each in its own window, watch one stream (a looped recording played in real time)."""
    import soundfile as sf

    speech_file = tmp_path / "papa.wav"
    sf.write(speech_file, papa_spoken.samples, 16000)
    speech = FileSpeech(speech_file, loop=True)
    profile = tmp_path / "profile"
    profile.mkdir()
    with ServerThread(LiveServer(lambda: tiny_animator.stream(mediapipe_face))) as live:
        speaking = live.spawn(live.server.speak(speech.chunks(), speech.sample_rate))
        try:
            with headless_chromium(profile, flags=CHROMIUM_FLAGS, timeout_s=PAGE_TIMEOUT_S) as port:
                readings = asyncio.run(_read_pages(port, [live.server.url, live.server.url + "?viewer=2"]))
        finally:
            speaking.cancel()
    for stats, pictures in readings:
        assert stats["connected"] and stats["audioState"] == "running" and stats["errors"] == []
        assert stats["framesDrawn"] >= FRAMES_BEFORE_READING and stats["audioChunks"] > 0
        background = pictures[0][0, 0]
        face = np.any(pictures[0] != background, axis=2)
        assert 0.05 < face.mean() < 0.95  # the head fills part of the view
        changed = [np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(pictures, pictures[1:])]
        assert max(changed) > 0  # the face moves from one reading to the next
        assert stats["maxSyncError"] <= MAX_SYNC_ERROR_S, stats
        assert abs(stats["audioTime"] - stats["lastFrameTime"]) < 0.2, stats
