"""Drive a headless Chromium over the DevTools protocol: the viewer's tests and the peer benchmark
open pages in it, run JavaScript and read the answers.

    with headless_chromium(profile) as port:
        asyncio.run(...)  # DevTools(page_socket(port)) / open_windows(port, urls)

Needs Debian's `chromium` and the `websockets` package (`pip install 'scantalk[live]'`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from scantalk.errors import ScanTalkError

#: Seconds Chromium has to start and announce its DevTools port (2 busy cores, software WebGL).
START_TIMEOUT_S = 60


def chromium_path() -> str | None:
    """The Chromium executable on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def headless_chromium(profile: Path, url: str = "about:blank", flags: Sequence[str] = (),
                      timeout_s: float = START_TIMEOUT_S) -> Iterator[int]:
    """A headless Chromium showing `url` with its profile in the (empty) folder `profile`, sound
    allowed without a click; yields its DevTools port and kills it on the way out.

    Raises:
        ScanTalkError: Chromium is not installed, or did not start within `timeout_s` (the end of
            its log, `profile`/chromium.log, is in the message).
    """
    chromium = chromium_path()
    if chromium is None:
        raise ScanTalkError("chromium is not installed (apt-get install chromium)")
    log = profile / "chromium.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--no-first-run", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "--autoplay-policy=no-user-gesture-required", *flags, url],
            stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        announced = profile / "DevToolsActivePort"  # Chromium writes its port here once it listens
        deadline = time.monotonic() + timeout_s
        while not (announced.is_file() and announced.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ScanTalkError(f"headless chromium did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield int(announced.read_text().split()[0])
    finally:
        process.kill()
        process.wait(10)


def _targets(port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        return json.load(response)


def page_socket(port: int, url: str | None = None) -> str:
    """The DevTools WebSocket address of the page showing `url` (default: the first page)."""
    for target in _targets(port):
        if target["type"] == "page" and (url is None or target["url"] == url):
            return target["webSocketDebuggerUrl"]
    raise ScanTalkError(f"no page {'showing ' + url if url else ''} in the browser at DevTools port {port}")


async def open_windows(port: int, urls: Sequence[str]) -> list[str]:
    """Open each of `urls` in a window of its own (a tab behind another does not draw) → their
    pages' DevTools WebSocket addresses, in order."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=10) as response:
        browser = json.load(response)["webSocketDebuggerUrl"]
    async with DevTools(browser) as devtools:
        for url in urls:
            await devtools.call("Target.createTarget", url=url, newWindow=True)
    pages = {target["url"]: target["webSocketDebuggerUrl"] for target in _targets(port)}
    return [pages[url] for url in urls]


class DevTools:
    """One DevTools connection (`async with DevTools(address) as devtools`): `call` a method and
    wait for its answer, or `evaluate` JavaScript in the page."""

    def __init__(self, address: str, max_size: int = 2**28) -> None:
        self.address, self.max_size, self.calls = address, max_size, 0

    async def __aenter__(self) -> "DevTools":
        from websockets.asyncio.client import connect

        self._connection = connect(self.address, max_size=self.max_size)
        self.socket = await self._connection.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._connection.__aexit__(*exc)

    async def call(self, method: str, **params: Any) -> dict:
        """Send `method` with `params`; its result (events arriving meanwhile are skipped).

        Raises:
            ScanTalkError: the browser answered with an error.
        """
        self.calls += 1
        await self.socket.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while (reply := json.loads(await self.socket.recv())).get("id") != self.calls:
            pass
        if "error" in reply:
            raise ScanTalkError(f"DevTools {method}: {reply['error']}")
        return reply["result"]

    async def evaluate(self, expression: str, await_promise: bool = False) -> Any:
        """The value of the JavaScript `expression` in the page (awaited if a promise).

        Raises:
            ScanTalkError: the expression threw (the page's exception is in the message).
        """
        answer = await self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=await_promise)
        if "exceptionDetails" in answer:
            raise ScanTalkError(f"the page threw on {expression[:80]!r}: {answer['exceptionDetails']}")
        return answer["result"].get("value")
