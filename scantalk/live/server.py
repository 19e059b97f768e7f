"""The live server: one face, one speaker at a time, any number of viewers, on 127.0.0.1.

`LiveServer` serves the viewer page (`static/`) over HTTP and the stream over a WebSocket on the
same port (`scantalk.live.protocol` documents the messages). Speech comes from `speak` (a file
or a microphone on the server, `scantalk.live.sources`) or from a client that speaks over the
WebSocket. Each chunk heard is sent to every viewer at once; the animation runs in one worker
thread, so the event loop never waits for it, and when it falls behind the chunks waiting are
pushed together (one larger push costs less than many small ones, so it catches up).

```python
server = LiveServer(lambda: animator.stream("scan.ply"), port=0)
async with server:
    print(server.url)                         # http://127.0.0.1:PORT/
    speech = FileSpeech("speech.wav")
    await server.speak(speech.chunks(), speech.sample_rate)
```
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import socket
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from importlib import resources
from typing import Any

import numpy as np

from scantalk.audio.stream import audio_chunk
from scantalk.errors import ScanTalkError
from scantalk.face.alignment import axes_rotation
from scantalk.inference.stream import AnimationStream, StreamFrame
from scantalk.live.audience import DEFAULT_MAX_QUEUE, Audience, Viewer
from scantalk.live.protocol import (BUSY, STREAM_PATH, VERSION, ProtocolError, audio_message, frame_message,
                                    mesh_message, read_request, speak_request, text)

try:
    import websockets
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.datastructures import Headers
    from websockets.http11 import Request, Response
except ImportError:  # the optional extra; LiveServer says how to install it
    websockets = None

#: The only address served: the viewer is for this machine (a page anyone on the network could
#: open would hand them the microphone).
HOST = "127.0.0.1"
#: Latencies (seconds) kept for `LiveServer.stats`: the last minute of frames at 30 fps.
LATENCY_WINDOW = 1800
#: Bytes the system may hold unsent for one client (it doubles this): bounded, so a slow client's
#: backlog stays in its own queue, where the oldest messages are dropped, and not in a socket
#: buffer that grows to megabytes (seconds of stale frames) before the queue sees a thing.
SEND_BUFFER_BYTES = 2**17
#: Seconds a closing connection waits for its client's goodbye (a client that stopped reading sends none).
CLOSE_TIMEOUT_S = 1.0


class LiveServer:
    """Serve the live animation of one face on http://127.0.0.1:`port`/.

    Args:
        make_stream: a fresh `AnimationStream` of the face (called once now and once after
            each speech, e.g. `lambda: animator.stream(face, lookahead=0.1)`).
        port: TCP port; 0 picks a free one (`url` tells which).
        max_queue: messages a viewer may fall behind before its oldest are dropped.
        up, forward: the face file's up and forward axes, for the viewer's camera ("y", "-z", ...);
            default: the ones the stream found (`AnimationStream.alignment`).
    """

    def __init__(self, make_stream: Callable[[], AnimationStream], port: int = 0,
                 max_queue: int = DEFAULT_MAX_QUEUE, up: str | None = None, forward: str | None = None) -> None:
        if websockets is None:
            raise ScanTalkError("the live viewer needs the websockets package: pip install 'scantalk[live]'")
        self._make_stream = make_stream
        self._port, self._max_queue = port, max_queue
        self._axes = None if up is None and forward is None else axes_rotation(up or "y", forward or "z")
        self._view: dict[str, list[float]] = {}
        self.audience = Audience()
        # One thread: pushes must run in order, and one worker leaves the other core to the loop.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scantalk-live")
        self._next_stream: asyncio.Future[AnimationStream] | None = None
        self._speaking = False
        self._session = 0
        self._timeline = 0.0  # where the next speech starts (s)
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._frames_sent = 0
        self._server: Any = None
        self._greeting: list[str | bytes] = []

    async def start(self) -> None:
        """Prepare the face (the first stream) and start listening."""
        stream = await asyncio.get_running_loop().run_in_executor(self._worker, self._make_stream)
        # The camera looks at the face from its front: the axes given, else those the stream found.
        rotation = self._axes if self._axes is not None else np.asarray(stream.alignment.rotation)
        self._view = {"up": np.asarray(rotation[1], float).tolist(), "forward": np.asarray(rotation[2], float).tolist()}
        self._next_stream = asyncio.get_running_loop().create_future()
        self._next_stream.set_result(stream)
        hello = text("hello", version=VERSION, fps=stream.fps, lookahead=stream.lookahead, latency=stream.latency,
                     vertices=len(stream.rest), triangles=0 if stream.faces is None else len(stream.faces),
                     channels=list(stream.channels), view=self._view)
        self._greeting = [hello, mesh_message(stream.rest, stream.faces)]
        self._server = await serve(self._connection, HOST, self._port, process_request=self._page,
                                   compression=None, close_timeout=CLOSE_TIMEOUT_S, max_size=2**22)

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._worker.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> "LiveServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The viewer page, http://127.0.0.1:PORT/."""
        return f"http://{HOST}:{self.port}/"

    @property
    def stream_url(self) -> str:
        """The WebSocket, ws://127.0.0.1:PORT/stream."""
        return f"ws://{HOST}:{self.port}{STREAM_PATH}"

    @property
    def stats(self) -> dict[str, Any]:
        """viewers, frames sent, messages dropped for slow viewers, and the latency from a sample
        arriving to its frame being sent (median and 95th percentile over the last frames, s)."""
        latencies = np.array(self._latencies)
        return {"viewers": len(self.audience.viewers), "frames": self._frames_sent, "dropped": self.audience.dropped,
                "latency_median_s": float(np.median(latencies)) if len(latencies) else None,
                "latency_p95_s": float(np.percentile(latencies, 95)) if len(latencies) else None}

    async def speak(self, chunks: AsyncIterable[np.ndarray], sample_rate: int) -> int:
        """Animate one speech: `chunks` ((n,) or (n, channels) PCM at `sample_rate` Hz) are sent to
        the viewers as they come, and their frames once final. Returns the number of frames.

        Raises:
            ScanTalkError: another speech is under way.
            AudioError: a chunk with NaN samples or a bad shape.
        """
        self._claim()
        return await self._speech(chunks, sample_rate)

    def _claim(self) -> None:
        if self._speaking:
            raise ProtocolError(f"{BUSY}; wait for its \"end\" message and speak again")
        self._speaking = True

    async def _speech(self, chunks: AsyncIterable[np.ndarray], sample_rate: int) -> int:
        loop = asyncio.get_running_loop()
        stopped = False
        try:
            if self._next_stream is None:
                self._next_stream = loop.run_in_executor(self._worker, self._make_stream)
            preparing, self._next_stream = self._next_stream, None
            stream = await preparing
            self._session += 1
            session, start = self._session, self._timeline
            self.audience.broadcast(text("start", session=session, time=start))
            waiting: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
            arrivals: deque[tuple[float, float]] = deque()  # (timeline time heard up to, wall clock)
            animating = asyncio.create_task(self._animate(stream, waiting, arrivals, start, sample_rate))
            heard = 0
            try:
                async for chunk in chunks:
                    mono = audio_chunk(chunk)
                    self.audience.broadcast(audio_message(start + heard / sample_rate, sample_rate, mono))
                    heard += len(mono)
                    arrivals.append((start + heard / sample_rate, time.perf_counter()))
                    waiting.put_nowait(chunk)
            except BaseException:
                animating.cancel()
                raise
            waiting.put_nowait(None)
            frames = await animating
            self._timeline = max(start + heard / sample_rate, start + frames / stream.fps)
            self.audience.broadcast(text("end", session=session, time=self._timeline, frames=frames))
            return frames
        except asyncio.CancelledError:
            stopped = True
            raise
        finally:
            self._speaking = False
            if not stopped and self._next_stream is None:  # the next speech's face, made while nobody speaks
                self._next_stream = loop.run_in_executor(self._worker, self._make_stream)

    async def _animate(self, stream: AnimationStream, waiting: asyncio.Queue, arrivals: deque,
                       start: float, sample_rate: int) -> int:
        """Push what is waiting (all of it at once), send the frames; until the None at the end."""
        loop = asyncio.get_running_loop()
        count, ended = 0, False
        while not ended:
            batch = [await waiting.get()]
            while not waiting.empty():
                batch.append(waiting.get_nowait())
            ended = batch[-1] is None
            audio = [chunk for chunk in batch if chunk is not None]
            frames = await loop.run_in_executor(self._worker, _push, stream, audio, sample_rate, ended)
            now = time.perf_counter()
            for frame in frames:
                moment = start + frame.time
                while len(arrivals) > 1 and arrivals[0][0] < moment:
                    arrivals.popleft()
                if arrivals and arrivals[0][0] >= moment and not ended:
                    self._latencies.append(now - arrivals[0][1])
                self.audience.broadcast(frame_message(frame.index, moment, frame.vertices, frame.articulation))
            count += len(frames)
            self._frames_sent += len(frames)
        return count

    async def _connection(self, connection: ServerConnection) -> None:
        connection.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        viewer = Viewer(connection, self._max_queue)
        self.audience.viewers.add(viewer)
        sending = asyncio.create_task(_send(viewer, self._greeting))
        speech: asyncio.Queue[np.ndarray | None] | None = None
        speaking: asyncio.Task | None = None
        try:
            async for message in connection:
                try:
                    if isinstance(message, bytes):
                        if speech is None:
                            raise ProtocolError("audio before a \"speak\" message: send {\"type\": \"speak\", "
                                                "\"sample_rate\": ..., \"channels\": ..., \"format\": ...} first")
                        speech.put_nowait(request.samples(message))
                        continue
                    fields = read_request(message)
                    if fields["type"] == "speak":
                        if speech is not None:
                            raise ProtocolError("this connection is already speaking; send \"end\" first")
                        request = speak_request(fields)
                        self._claim()
                        speech = asyncio.Queue()
                        speaking = asyncio.create_task(self._speech(_until_end(speech), request.sample_rate))
                    elif speech is None:
                        raise ProtocolError("\"end\" without a \"speak\" before it")
                    else:
                        speech.put_nowait(None)
                        finishing, speech, speaking = speaking, None, None
                        await finishing
                except ScanTalkError as error:  # a ProtocolError, or audio the stream refused
                    viewer.send(text("error", message=str(error)))
        except websockets.ConnectionClosed:
            pass
        finally:
            if speech is not None:  # the speaker left: its speech ends there
                speech.put_nowait(None)
                with contextlib.suppress(Exception):
                    await speaking
            self.audience.viewers.discard(viewer)
            sending.cancel()

    def _page(self, connection: ServerConnection, request: Request) -> Response | None:
        """The viewer's files for plain HTTP requests; None lets the WebSocket handshake go on."""
        path = request.path.split("?", 1)[0]
        if path == STREAM_PATH:
            return None
        name = "index.html" if path == "/" else path.lstrip("/")
        page = resources.files("scantalk.live") / "static" / name
        if "/" in name or not page.is_file():
            return connection.respond(HTTPStatus.NOT_FOUND, f"no {path} here; the viewer is at /\n")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        body = page.read_bytes()
        headers = Headers([("Content-Type", f"{kind}; charset=utf-8"), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store")])
        return Response(HTTPStatus.OK, "OK", headers, body)


async def _send(viewer: Viewer, greeting: list[str | bytes]) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        await viewer.run(greeting)


async def _until_end(speech: asyncio.Queue) -> AsyncIterator[np.ndarray]:
    while (chunk := await speech.get()) is not None:
        yield chunk


def _push(stream: AnimationStream, audio: list[np.ndarray], sample_rate: int, ended: bool) -> list[StreamFrame]:
    """The frames `audio` (chunks pushed as one) makes final, and the rest if the speech `ended`."""
    frames = stream.push(np.concatenate(audio), sample_rate) if audio else []
    return frames + stream.close() if ended else frames
