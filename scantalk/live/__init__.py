"""Talk live in a browser: `scantalk live FACE` serves a page on 127.0.0.1 that shows the face
animating with the speech as it is heard, fed over a WebSocket.

- `scantalk.live.server.LiveServer`: the page (plain WebGL, `static/`) and the stream, one
  speaker at a time, any number of viewers, each with its own bounded queue
  (`scantalk.live.audience`), so a slow viewer skips ahead and never holds the stream up.
- `scantalk.live.sources`: speech from a file played in real time, or a microphone (the optional
  `sounddevice` package).
- `scantalk.live.protocol`: the messages, for writing a client (a third source of speech: a
  program that sends audio chunks over the WebSocket); `scantalk.live.client` is one in Python.

Needs the optional `websockets` package (`pip install 'scantalk[live]'`); the rest of scantalk
never imports this package.
"""
