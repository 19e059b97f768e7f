"""The live viewer's WebSocket protocol: what the server sends, what a speaking client sends.

One WebSocket path, `/stream`, serves everybody. Every connection watches: it is sent the face
and then the audio and frames of whoever speaks. A connection may also speak: it sends a `speak`
message, then its audio as binary PCM messages, then `end`. One speaker at a time.

Text messages are JSON objects with a `"type"`. Binary messages start with a 4-byte ASCII tag;
numbers are little-endian, and every array starts at a multiple of 4 bytes (a browser reads it
with a `Float32Array` view, no copy). Times are seconds on the server's timeline: the first
speech starts at 0, each later one where the previous one ended (speech, not wall clock).

Server → every client:

| message | content |
| --- | --- |
| `{"type": "hello", "version": 1, "fps", "lookahead", "latency", "vertices", "triangles", "channels", "view": {"up": [x, y, z], "forward": [x, y, z]}}` | first, on connecting (`latency`: seconds from a sample to its frame, compute aside; `view`: the file's up and forward axes) |
| binary `MESH` u32 V, u32 F, u32 0, V·3 f32 rest positions, F·3 u32 triangles | right after `hello` (F = 0 for a point cloud) |
| `{"type": "start", "session": n, "time": t}` | speech n starts at timeline time t |
| binary `AUDI` u32 sample rate, f64 time, u32 n, u32 0, n f32 mono samples | the audio heard, at once, at its own rate (full scale 1) |
| binary `FRAM` u32 index, f64 time, u32 V, u32 A, A f32 articulation row, V·3 f32 positions | a frame, once final (`index` counts from the start of its speech; `time` on the timeline) |
| `{"type": "end", "session": n, "time": t, "frames": k}` | speech n ended at time t after k frames |
| `{"type": "error", "message": "..."}` | what was wrong with a message this client sent (the message is ignored, the connection stays) |

A client that reads slowly loses the oldest messages it has not yet been sent (each client has
its own bounded queue): it keeps up by skipping, and never holds the others back.

Client → server (to speak):

| message | content |
| --- | --- |
| `{"type": "speak", "sample_rate": 16000, "channels": 1, "format": "s16le"}` | begin a speech (format `s16le` or `f32le`, channels interleaved); answered by `start`, or by `error` while another speaks |
| binary | PCM audio: any number of whole sample frames, in real time or faster |
| `{"type": "end"}` | the end of the speech: its last frames follow, then `end` (closing the connection ends it too) |

`scantalk.live.client` speaks a file this way; `read_message` decodes what the server sends.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from scantalk.audio.stream import audio_chunk
from scantalk.errors import AudioError, ProtocolError

#: Protocol version sent in `hello`; a change that breaks old clients bumps it.
VERSION = 1
#: The WebSocket path; every other path serves the viewer's files.
STREAM_PATH = "/stream"
#: How the server's error begins when a speech is refused because another is under way.
BUSY = "another source is speaking"
#: PCM formats a speaker may send → numpy dtype (little-endian).
PCM_FORMATS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}
#: Sample rates a speaker may declare (Hz): telephone speech up to studio audio.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 192000
#: Channels a speaker may declare.
MAX_CHANNELS = 8

_MESH = struct.Struct("<4sIII")
_AUDIO = struct.Struct("<4sIdII")
_FRAME = struct.Struct("<4sIdII")


@dataclass(frozen=True)
class SpeakRequest:
    """A client's `speak` message: the PCM it will send."""

    sample_rate: int
    channels: int
    format: str

    def samples(self, data: bytes) -> np.ndarray:
        """One binary message → (n, channels) PCM samples (int16 or float32).

        Raises:
            ProtocolError: a message that is not whole sample frames, or NaN/inf floats.
        """
        dtype = PCM_FORMATS[self.format]
        frame_bytes = dtype.itemsize * self.channels
        if len(data) % frame_bytes:
            raise ProtocolError(f"an audio message of {len(data)} bytes is not a whole number of {self.format} "
                                f"sample frames of {self.channels} channel(s) ({frame_bytes} bytes each)")
        pcm = np.frombuffer(data, dtype).reshape(-1, self.channels)
        try:
            audio_chunk(pcm, "audio message")  # rejects NaN/inf before they reach the stream
        except AudioError as error:
            raise ProtocolError(str(error)) from None
        return pcm


def text(kind: str, **fields: Any) -> str:
    """A JSON text message `{"type": kind, **fields}`."""
    return json.dumps({"type": kind, **fields})


def mesh_message(rest: np.ndarray, faces: np.ndarray | None) -> bytes:
    """`MESH`: rest positions (V, 3) and triangles (F, 3) or None."""
    rest = np.ascontiguousarray(rest, "<f4")
    triangles = np.zeros((0, 3), "<u4") if faces is None else np.ascontiguousarray(faces, "<u4")
    return _MESH.pack(b"MESH", len(rest), len(triangles), 0) + rest.tobytes() + triangles.tobytes()


def audio_message(time: float, sample_rate: int, mono: np.ndarray) -> bytes:
    """`AUDI`: (n,) mono samples at `sample_rate` Hz whose first sample is at `time` seconds."""
    samples = np.ascontiguousarray(mono, "<f4")
    return _AUDIO.pack(b"AUDI", sample_rate, time, len(samples), 0) + samples.tobytes()


def frame_message(index: int, time: float, vertices: np.ndarray, articulation: np.ndarray) -> bytes:
    """`FRAM`: frame `index` at `time` seconds, its articulation row (A,) and positions (V, 3)."""
    row = np.ascontiguousarray(articulation, "<f4")
    positions = np.ascontiguousarray(vertices, "<f4")
    return _FRAME.pack(b"FRAM", index, time, len(positions), len(row)) + row.tobytes() + positions.tobytes()


def read_message(message: str | bytes) -> dict[str, Any]:
    """Decode a server message (for Python clients): JSON as a dict; binary as a dict with
    `type` "mesh" (rest, faces), "audio" (time, sample_rate, samples) or "frame" (index, time,
    articulation, vertices)."""
    if isinstance(message, str):
        return json.loads(message)
    tag = bytes(message[:4])
    if tag == b"MESH":
        _, count, triangles, _ = _MESH.unpack_from(message)
        rest = np.frombuffer(message, "<f4", count * 3, _MESH.size).reshape(count, 3)
        faces = np.frombuffer(message, "<u4", triangles * 3, _MESH.size + rest.nbytes).reshape(triangles, 3)
        return {"type": "mesh", "rest": rest, "faces": faces if triangles else None}
    if tag == b"AUDI":
        _, rate, time, count, _ = _AUDIO.unpack_from(message)
        return {"type": "audio", "time": time, "sample_rate": rate,
                "samples": np.frombuffer(message, "<f4", count, _AUDIO.size)}
    if tag == b"FRAM":
        _, index, time, count, channels = _FRAME.unpack_from(message)
        row = np.frombuffer(message, "<f4", channels, _FRAME.size)
        vertices = np.frombuffer(message, "<f4", count * 3, _FRAME.size + row.nbytes).reshape(count, 3)
        return {"type": "frame", "index": index, "time": time, "articulation": row, "vertices": vertices}
    raise ProtocolError(f"unknown binary message tag {tag!r}")


def read_request(message: str) -> dict[str, Any]:
    """A client's text message → its JSON object, checked to have a known `type`.

    Raises:
        ProtocolError: not JSON, not an object, or no known type.
    """
    try:
        request = json.loads(message)
    except ValueError:
        raise ProtocolError(f"a text message must be a JSON object with a \"type\" (speak or end), got "
                            f"{message[:80]!r}") from None
    if not isinstance(request, dict) or request.get("type") not in ("speak", "end"):
        raise ProtocolError(f"a text message's \"type\" must be \"speak\" or \"end\", got {str(request)[:80]}")
    return request


def speak_request(request: dict[str, Any]) -> SpeakRequest:
    """Check a `speak` message's sample rate, channels and format.

    Raises:
        ProtocolError: a field missing or out of range, said with what to send instead.
    """
    rate, channels, pcm = request.get("sample_rate"), request.get("channels", 1), request.get("format", "s16le")
    if (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate)
            or rate != int(rate) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE):
        raise ProtocolError(f"speak: \"sample_rate\" must be a whole number of Hz in {MIN_SAMPLE_RATE}.."
                            f"{MAX_SAMPLE_RATE}, got {rate!r}")
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= MAX_CHANNELS:
        raise ProtocolError(f"speak: \"channels\" must be a whole number in 1..{MAX_CHANNELS}, got {channels!r}")
    if pcm not in PCM_FORMATS:
        raise ProtocolError(f"speak: \"format\" must be one of {sorted(PCM_FORMATS)}, got {pcm!r}")
    return SpeakRequest(int(rate), channels, pcm)
