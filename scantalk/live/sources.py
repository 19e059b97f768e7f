"""Where live speech comes from on the server: a file played in real time, or a microphone.

Each source has a `sample_rate` (Hz) and `chunks()`, an async iterator of (n,) float32 mono
chunks of `CHUNK_S` seconds, each given when it would have been heard (a file is paced by the
event loop's clock). A client speaking over the WebSocket is the third source (see
`scantalk.live.protocol`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from scantalk.audio.io import SAMPLE_RATE, load_audio
from scantalk.errors import ScanTalkError

#: Seconds of audio in each chunk a source gives (a microphone's block; a file's step).
CHUNK_S = 0.02
#: Seconds of silence between two passes of a looped file, so the mouth rests between them.
LOOP_GAP_S = 0.5


def read_speech(path: str | Path) -> tuple[np.ndarray, int]:
    """A speech file as ((N,) float32 mono, its own sample rate in Hz) — kept at its rate, so a
    browser plays it as recorded.

    Raises:
        AudioError: the file is missing, not audio, silent or too short (as `load_audio`).
    """
    try:
        rate = sf.info(str(path)).samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        rate = SAMPLE_RATE  # not audio: load_audio says what is wrong with it
    return load_audio(path, sample_rate=rate), rate


class FileSpeech:
    """A speech file played in real time (or as fast as it is read, `realtime=False`).

    Args:
        path: a wav/flac/ogg file (any rate, mono or stereo).
        loop: play it again and again (`LOOP_GAP_S` of silence between passes) until stopped.
        realtime: give each chunk when it would have been heard; False gives them at once.
    """

    def __init__(self, path: str | Path, loop: bool = False, realtime: bool = True) -> None:
        self.samples, self.sample_rate = read_speech(path)
        self.loop, self.realtime = loop, realtime
        self.name = str(path)

    async def chunks(self) -> AsyncIterator[np.ndarray]:
        step = max(1, int(round(CHUNK_S * self.sample_rate)))
        gap = np.zeros(int(round(LOOP_GAP_S * self.sample_rate)), np.float32)
        clock = asyncio.get_running_loop().time
        start, given = clock(), 0
        while True:
            for samples in (self.samples, gap) if self.loop else (self.samples,):
                for first in range(0, len(samples), step):
                    chunk = samples[first:first + step]
                    given += len(chunk)
                    if self.realtime:
                        await asyncio.sleep(max(0.0, start + given / self.sample_rate - clock()))
                    yield chunk
            if not self.loop:
                return


def _sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as error:
        raise ScanTalkError("the microphone needs the optional sounddevice package and PortAudio: "
                            "pip install 'scantalk[microphone]' and apt-get install libportaudio2 "
                            f"(or play a file with --audio FILE) [{error}]") from None
    except OSError as error:  # sounddevice is there but the PortAudio library is not
        raise ScanTalkError(f"the microphone needs the PortAudio library ({error}): apt-get install "
                            "libportaudio2, or play a file with --audio FILE") from None
    return sounddevice


class Microphone:
    """Live speech from an input device (needs the optional `sounddevice` package).

    Args:
        device: a sounddevice device name or number (default: the system's default input).

    Raises:
        ScanTalkError: sounddevice or PortAudio is missing, or there is no such input device.
    """

    def __init__(self, device: str | int | None = None) -> None:
        self._sd = _sounddevice()
        try:
            info = self._sd.query_devices(device, "input")
        except (ValueError, self._sd.PortAudioError) as error:
            raise ScanTalkError(f"no microphone {'found' if device is None else repr(device)} ({error}); "
                                "list the inputs with `python -m sounddevice`, or play a file with --audio FILE") from None
        self.device = device
        self.sample_rate = int(info["default_samplerate"])
        self.name = str(info["name"])

    async def chunks(self) -> AsyncIterator[np.ndarray]:
        loop = asyncio.get_running_loop()
        heard: asyncio.Queue[np.ndarray] = asyncio.Queue()

        def record(block: np.ndarray, frames: int, time: Any, status: Any) -> None:
            loop.call_soon_threadsafe(heard.put_nowait, block[:, 0].copy())

        with self._sd.InputStream(device=self.device, channels=1, samplerate=self.sample_rate, dtype="float32",
                                  blocksize=int(round(CHUNK_S * self.sample_rate)), callback=record):
            while True:
                yield await heard.get()
