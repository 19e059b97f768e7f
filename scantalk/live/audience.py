"""Everyone watching a live stream: one bounded outbox per client, so a slow one never holds up
the stream or the others.

`Audience.broadcast` only appends to each client's outbox (it never waits); each client has
its own task that sends its outbox as fast as that client reads. When a client falls
`max_queue` messages behind, its oldest unsent messages are dropped: a slow viewer skips ahead
(its page draws the newest frame it has and re-anchors its audio), and a viewer that stopped
reading costs a fixed amount of memory until the connection's keep-alive gives up on it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

#: Messages a client may fall behind before its oldest are dropped: about 2 s of a stream
#: (50 audio chunks and 30 frames a second).
DEFAULT_MAX_QUEUE = 160


class Viewer:
    """One client's outbox of messages (str or bytes), sent in order by `run`.

    Attributes:
        dropped: messages dropped because the client fell `max_queue` behind.
        sent: messages handed to the connection.
    """

    def __init__(self, connection: Any, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        self.connection = connection
        self._outbox: deque[str | bytes] = deque(maxlen=max_queue)
        self._waiting = asyncio.Event()
        self.dropped = 0
        self.sent = 0

    @property
    def queued(self) -> int:
        return len(self._outbox)

    def send(self, message: str | bytes) -> None:
        """Queue `message` without waiting; the oldest queued one goes if the outbox is full."""
        if len(self._outbox) == self._outbox.maxlen:
            self.dropped += 1
        self._outbox.append(message)
        self._waiting.set()

    async def run(self, first: list[str | bytes]) -> None:
        """Send `first` (never dropped: the face a viewer needs), then the outbox, until the
        connection closes (the caller cancels it then)."""
        for message in first:
            await self.connection.send(message)
        while True:
            await self._waiting.wait()
            self._waiting.clear()
            while self._outbox:
                await self.connection.send(self._outbox.popleft())
                self.sent += 1


class Audience:
    """The viewers of one stream."""

    def __init__(self) -> None:
        self.viewers: set[Viewer] = set()

    def broadcast(self, message: str | bytes) -> None:
        """Queue `message` for every viewer (returns at once)."""
        for viewer in self.viewers:
            viewer.send(message)

    @property
    def dropped(self) -> int:
        return sum(viewer.dropped for viewer in self.viewers)
