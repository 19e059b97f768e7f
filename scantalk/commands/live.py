"""`scantalk live FACE`: the face talking in a browser, live, from a file, a microphone or a client."""

from __future__ import annotations

import argparse
import asyncio
import sys
import webbrowser

from scantalk.commands.animate import parse_emotion, parse_life_groups
from scantalk.errors import ScanTalkError

#: Seconds Ctrl-C waits for the viewers' connections to close before the server stops anyway.
STOP_TIMEOUT_S = 5.0


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("face", help="mesh or point cloud (.obj .ply .off .stl .glb .pcd .xyz)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--audio", default=None,
                        help="play this speech file (.wav .flac .ogg) in real time; without --audio or "
                             "--microphone, clients speak over the WebSocket (python -m scantalk.live.client)")
    source.add_argument("--microphone", nargs="?", const="default", default=None, metavar="DEVICE",
                        help="speak into the default microphone, or DEVICE (needs `pip install 'scantalk[microphone]'`)")
    parser.add_argument("--loop", action="store_true", help="with --audio: play it again and again")
    parser.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.add_argument("--checkpoint", default=None, help="an articulated .ckpt (default: the shipped model)")
    parser.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    parser.add_argument("--lookahead", type=float, default=None,
                        help="seconds of audio heard past a frame before it is shown (default 0.1): "
                             "longer is more accurate (from 0.3 words are heard too: the lips close "
                             "on more p/b/m), shorter answers sooner")
    parser.add_argument("--align", choices=["auto", "none"], default="auto")
    parser.add_argument("--up", default=None, help="the file's up axis, e.g. z (default y)")
    parser.add_argument("--forward", default=None, help="the axis the face looks along, e.g. -y (default z)")
    parser.add_argument("--landmarks", default=None, help="a landmarks.json to place the rig from instead of the points found")
    parser.add_argument("--emotion", default=None, help="one emotion label (happy) or mix (happy:0.6,pleased:0.3)")
    parser.add_argument("--intensity", type=float, default=None, help="emotion strength in [0, 1]")
    parser.add_argument("--life", type=float, default=0.0,
                        help="0..1: blinks, gaze, brows and head motion drawn live from the speech (0 = only the mouth moves)")
    parser.add_argument("--life-groups", default=None,
                        help="which of blinks,gaze,brows,head --life draws (comma-separated; default all)")
    parser.add_argument("--life-seed", type=int, default=0, help="the random draw of the life motion")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")


def run(args: argparse.Namespace) -> int:
    from scantalk.inference.animation import check_fps
    from scantalk.inference.animator import Animator, resolve_device
    from scantalk.face.landmarks import read_landmarks
    from scantalk.live.server import LiveServer
    from scantalk.live.sources import FileSpeech, Microphone

    # Everything a user can get wrong is checked before the model loads.
    fps = check_fps(args.fps)
    if args.loop and args.audio is None:
        raise ScanTalkError("--loop plays an --audio file again and again; give the file with --audio FILE")
    if not 0 <= args.port <= 65535:
        raise ScanTalkError(f"--port {args.port} is not a TCP port; use 1024..65535, or 0 for any free one")
    emotion = parse_emotion(args.emotion)
    life_groups = parse_life_groups(args.life_groups)
    if not 0.0 <= args.life <= 1.0:
        raise ScanTalkError(f"--life {args.life} must be in 0..1 (0 = only the mouth moves, 1 = fully alive)")
    landmarks = None if args.landmarks is None else read_landmarks(args.landmarks)
    device = resolve_device(args.device)
    speech = FileSpeech(args.audio, loop=args.loop) if args.audio is not None else None
    if args.microphone is not None:
        speech = Microphone(None if args.microphone == "default" else _device(args.microphone))
    animator = Animator.from_checkpoint(args.checkpoint, device=device)

    prepared = []

    def make_stream():
        # The face is prepared once; every later speech starts the same stream afresh.
        if not prepared:
            prepared.append(animator.stream(args.face, fps=fps, lookahead=args.lookahead, align=args.align,
                                            up=args.up, forward=args.forward, landmarks=landmarks, emotion=emotion,
                                            intensity=args.intensity, life=args.life, life_groups=life_groups,
                                            life_seed=args.life_seed))
            return prepared[0]
        return prepared[0].reset()

    async def serve() -> None:
        try:
            server = LiveServer(make_stream, port=args.port, up=args.up, forward=args.forward)
            await server.start()
        except OSError as error:
            raise ScanTalkError(f"cannot listen on 127.0.0.1:{args.port} ({error}); pick another --port, "
                                "or --port 0 for any free one") from None
        try:
            print(f"scantalk live: open {server.url} (speech goes to {server.stream_url}; Ctrl-C stops)", flush=True)
            if args.open:
                webbrowser.open(server.url)
            if speech is None:
                print("  waiting for a client to speak: python -m scantalk.live.client "
                      f"{server.stream_url} speech.wav", flush=True)
            else:
                print(f"  speaking: {speech.name}", flush=True)
                frames = await server.speak(speech.chunks(), speech.sample_rate)
                print(f"  {frames} frames; still serving (Ctrl-C stops)", flush=True)
            await asyncio.Event().wait()
        finally:
            try:
                await asyncio.wait_for(server.close(), STOP_TIMEOUT_S)
            except TimeoutError:
                print(f"scantalk live: the viewers' connections did not close within {STOP_TIMEOUT_S:g} s; "
                      "stopping anyway", file=sys.stderr, flush=True)

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        print("scantalk live: stopped", flush=True)
    return 0


def _device(name: str) -> str | int:
    """A --microphone DEVICE as sounddevice takes it: a number is a device index."""
    return int(name) if name.isdigit() else name
