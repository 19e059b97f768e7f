"""A live server on the tiny model and MediaPipe's face, and clients that talk to it."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from typing import Any

import pytest

from scantalk.live.protocol import read_message
from scantalk.live.server import LiveServer

#: Seconds any one exchange with a server may take before a test fails instead of hanging.
EXCHANGE_TIMEOUT_S = 60


class ServerThread:
    """A `LiveServer` on its own event loop in a thread, for tests that drive it from outside
    (a browser, several clients each in `asyncio.run`)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coroutine: Coroutine) -> Any:
        """Run `coroutine` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(EXCHANGE_TIMEOUT_S)

    def spawn(self, coroutine: Coroutine) -> Any:
        """Start `coroutine` on the server's loop (a concurrent.futures.Future)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        self.call(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.server.close())
        for task in asyncio.all_tasks(self.loop):
            self.loop.call_soon_threadsafe(task.cancel)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def live_server(tiny_animator, mediapipe_face):
    """A running server (default queue) on the tiny model and MediaPipe's face."""
    with ServerThread(LiveServer(lambda: tiny_animator.stream(mediapipe_face))) as running:
        yield running


async def watch(url: str, speeches: int = 1) -> dict[str, Any]:
    """Connect as a viewer and collect what comes until `speeches` speeches have ended:
    {"hello", "mesh", "frames", "audio", "errors"}."""
    from websockets.asyncio.client import connect

    seen: dict[str, Any] = {"frames": [], "audio": [], "errors": []}
    async with connect(url, max_size=2**24) as connection:
        async for raw in connection:
            message = read_message(raw)
            kind = message["type"]
            if kind in ("hello", "mesh"):
                seen[kind] = message
            elif kind in ("frame", "audio"):
                seen[kind + "s" if kind == "frame" else kind].append(message)
            elif kind == "error":
                seen["errors"].append(message["message"])
            elif kind == "end":
                speeches -= 1
                if speeches == 0:
                    return seen
    return seen


def stalled_viewer(port: int) -> socket.socket:
    """A client that opens the WebSocket and then never reads a byte (tiny receive buffer)."""
    connection = socket.socket()
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    connection.connect(("127.0.0.1", port))
    connection.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(1)  # only the handshake, byte by byte, so nothing more is read
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return connection
