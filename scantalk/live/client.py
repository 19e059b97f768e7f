"""Speak a file to a running `scantalk live` server, in real time, and count the frames that come back.

    python -m scantalk.live.client ws://127.0.0.1:8765/stream speech.wav [--fast]

The file is sent as 16-bit PCM at its own rate, in `CHUNK_S` chunks paced like a microphone
(`--fast`: as fast as the server takes them), then `end`; the client waits for the speech's
last frame and prints how many frames it got and how long after their audio they arrived.
It is also the reference for writing a client in another language (`scantalk.live.protocol`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scantalk.errors import ScanTalkError
from scantalk.live.protocol import BUSY, read_message, text
from scantalk.live.sources import CHUNK_S, read_speech

#: Seconds `speak` keeps asking while another speech is under way, and how often it asks.
WAIT_S, RETRY_S = 10.0, 0.2


@dataclass
class SpeechReport:
    """What came back for one speech.

    Attributes:
        frames: frame messages received for it, in order (dicts of `read_message`).
        errors: error messages the server sent.
        lags: seconds from sending each frame's audio to receiving the frame (real time only).
    """

    frames: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)


async def speak(url: str, samples: np.ndarray, sample_rate: int, realtime: bool = True,
                wait_s: float = WAIT_S) -> SpeechReport:
    """Speak (n,) float mono `samples` at `sample_rate` Hz to the server at `url` (ws://…/stream)
    and collect the speech's frames until its `end`. While another source is speaking (or the
    server is still finishing a speech whose speaker left), ask again for up to `wait_s` seconds.

    Raises:
        ScanTalkError: the server refused the speech (another was still speaking after `wait_s`)
            or cannot be reached.
    """
    from websockets.asyncio.client import connect

    report = SpeechReport()
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    step = max(1, int(round(CHUNK_S * sample_rate)))
    sent_at: list[float] = []  # wall clock when each chunk went
    try:
        connection = await connect(url, compression=None, max_size=2**24)
    except OSError as error:
        raise ScanTalkError(f"cannot reach the live server at {url} ({error}); is `scantalk live` running?") from None
    async with connection:
        request = text("speak", sample_rate=sample_rate, channels=1, format="s16le")
        await connection.send(request)
        session, start = None, 0.0
        deadline = time.perf_counter() + wait_s
        while session is None:  # the greeting and anything else before our own start
            message = read_message(await connection.recv())
            if message["type"] == "error":
                if BUSY in message["message"] and time.perf_counter() < deadline:
                    await asyncio.sleep(RETRY_S)
                    await connection.send(request)
                    continue
                raise ScanTalkError(f"the server refused the speech: {message['message']}")
            if message["type"] == "start":
                session, start = message["session"], message["time"]

        async def send_audio() -> None:
            clock = time.perf_counter()
            for first in range(0, len(pcm), step):
                if realtime:
                    await asyncio.sleep(max(0.0, clock + (first + step) / sample_rate - time.perf_counter()))
                await connection.send(pcm[first:first + step].tobytes())
                sent_at.append(time.perf_counter())
            await connection.send(json.dumps({"type": "end"}))

        sending = asyncio.create_task(send_audio())
        async for raw in connection:
            message = read_message(raw)
            if message["type"] == "frame":
                report.frames.append(message)
                chunk = int((message["time"] - start) * sample_rate) // step
                if realtime and chunk < len(sent_at):
                    report.lags.append(time.perf_counter() - sent_at[chunk])
            elif message["type"] == "error":
                report.errors.append(message["message"])
            elif message["type"] == "end" and message["session"] == session:
                break
        await sending
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scantalk.live.client", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the server's WebSocket, e.g. ws://127.0.0.1:8765/stream")
    parser.add_argument("audio", type=Path, help="speech (.wav .flac .ogg), any rate")
    parser.add_argument("--fast", action="store_true", help="send as fast as the server takes it, not in real time")
    parser.add_argument("--wait", type=float, default=WAIT_S,
                        help=f"seconds to keep asking while another source is speaking (default {WAIT_S:g})")
    args = parser.parse_args(argv)
    try:
        samples, rate = read_speech(args.audio)
        report = asyncio.run(speak(args.url, samples, rate, realtime=not args.fast, wait_s=args.wait))
    except ScanTalkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(f"{len(report.frames)} frames for {len(samples) / rate:.2f} s of speech")
    if report.lags:
        print(f"  frame arrived {1000 * np.median(report.lags):.0f} ms (median), "
              f"{1000 * np.percentile(report.lags, 95):.0f} ms (95th percentile) after its audio was sent")
    for error in report.errors:
        print(f"  server: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
