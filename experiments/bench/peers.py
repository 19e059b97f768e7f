"""Peers side by side: the browser viseme library `@met4citizen/headaudio` and this project's front
end on the same aligned real recordings (issue 21).

    python experiments/bench/peers.py [--clips 12] [--lookahead 0.1]

HeadAudio (npm, MIT: an AudioWorklet computing MFCCs and picking the nearest Gaussian prototype by
Mahalanobis distance, driving Oculus viseme blend shapes) is installed at run time into a cache
folder (`~/.cache/scantalk/peers`, never the repository) and run in headless Chromium: each clip
is rendered through an AudioBufferSourceNode into the HeadAudio node in an OfflineAudioContext at
48 kHz (as a page plays sound), and the processor's messages are kept with their audio times. Its
mouth is then replayed with the package's own `update(dt)` every 10 ms, each decision applied at
the audio time of the newest sample it used (what a real-time page would show, less the
message-passing delay). Read out two ways:

- "animated": the blend-shape values the package gives an avatar; the mouth class is that of the
  largest value (rest when every value is below 0.1), closed when viseme_PP is the largest (or,
  second row, when viseme_PP > 0.5 of its 0.75 maximum);
- "classifier": the latest prototype decision itself (rest after the VAD ends speech).

This project's side: the offline front end (`decode_phones`, "words") and the streaming front end
(`ArticulationStream`, fed hop by hop, each frame's class the phone the stream had heard when the
frame was given out, `--lookahead` seconds later).

Against the forced alignment of `real_speech_set()` (pocketsphinx-testdata, never trained on):

- mouth-class accuracy: the share of 10 ms frames whose class (`scantalk.articulation.visemes`:
  closed, labiodental, dental, alveolar, postalveolar, velar, rounded, spread, open, rest) is the
  alignment's, pooled over clips, as given and at the best lag;
- lag: the shift (-300..+300 ms, positive = later than the sound) that maximises that agreement,
  and the shift that maximises the overlap (IoU) of closed frames with the aligned P/B/M;
- p/b/m recall and closed frames on a real p/b/m, as `experiments/evaluate/closures.py` counts
  them (30 fps; our tracks: lip_close > 0.5).

Oculus visemes onto the classes: sil→rest, PP→closed, FF→labiodental, TH→dental, DD/SS/nn→alveolar,
kk→velar, CH→postalveolar, RR/O/U→rounded, aa→open, E→open (its phones are ɛ ə ʌ: EH and AH,
both "open" here), I→spread.

Prints a markdown table and writes JSON (default experiments/bench/results/peers.json). Skips
HeadAudio with a message when npm or chromium is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

# The evaluations first, then this folder in front of them (its `common` is the one imported here).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluate"))
sys.path.insert(0, str(Path(__file__).parent))
from common import report  # noqa: E402

PACKAGE = "@met4citizen/headaudio@0.1.0"
CACHE = Path.home() / ".cache" / "scantalk" / "peers"
OCULUS = ("aa", "E", "I", "O", "U", "PP", "SS", "TH", "DD", "FF", "kk", "nn", "RR", "CH", "sil")
OCULUS_CLASS = {"sil": "rest", "PP": "closed", "FF": "labiodental", "TH": "dental", "DD": "alveolar",
                "kk": "velar", "CH": "postalveolar", "SS": "alveolar", "nn": "alveolar", "RR": "rounded",
                "aa": "open", "E": "open", "I": "spread", "O": "rounded", "U": "rounded"}
STEP_S = 0.01  # the comparison grid: 100 frames per second
FPS = 30.0  # the closure figures, as evaluate/closures.py
REST_BELOW = 0.1  # an animated mouth whose largest viseme value is below this is at rest
PP_CLOSED = 0.5
MAX_LAG_S = 0.3
TAIL_S = 0.5  # silence rendered after each clip so the last decisions come out
RENDER_RATE = 48000
CHROMIUM_TIMEOUT_S = 60

PAGE = """<!doctype html><meta charset="utf-8"><title>headaudio</title>
<script type="module">
import { HeadAudio } from "./pkg/dist/headaudio.min.mjs";
window.runClip = async (url, seconds) => {
  const samples = new Float32Array(await (await fetch(url)).arrayBuffer());
  const context = new OfflineAudioContext({numberOfChannels: 1, sampleRate: %(rate)d,
                                           length: Math.ceil((samples.length / 16000 + seconds) * %(rate)d)});
  await context.audioWorklet.addModule("./pkg/dist/headworklet.min.mjs");
  const node = new HeadAudio(context);
  await node.loadModel("./pkg/dist/model-en-mixed.bin");
  const events = [];
  node.port.onmessage = (message) => events.push(message.data);
  const buffer = new AudioBuffer({numberOfChannels: 1, length: samples.length, sampleRate: 16000});
  buffer.copyToChannel(samples, 0);
  const source = new AudioBufferSourceNode(context, {buffer});
  source.connect(node);
  source.start(0);
  // The render thread takes the model message only between quanta: hold it after the first one
  // (2.7 ms of silence, before the first 32 ms window is full) until the model is in.
  context.suspend(128 / %(rate)d).then(() => setTimeout(() => context.resume(), 300));
  await context.startRendering();
  let seen = -1;  // messages from the render thread may still be on their way
  while (seen !== events.length) { seen = events.length; await new Promise(r => setTimeout(r, 300)); }
  // Replay the mouth as a page's animation loop would, every 10 ms of audio time, each message
  // applied once the audio it needed has been heard (a viseme's window ends d/2 after its t).
  const due = (e) => e.event === "viseme" ? e.t + e.d / 2 : e.t;
  const timed = events.filter(e => e.t !== undefined).map(e => [due(e), e]).sort((a, b) => a[0] - b[0]);
  const current = new Array(15).fill(0), values = [];
  node.onvalue = (key, value) => { current[node.visemeNames.indexOf(key)] = value; };
  let next = 0;
  const steps = Math.ceil((samples.length / 16000 + seconds) / %(step)g);
  for (let k = 0; k < steps; k++) {
    while (next < timed.length && timed[next][0] <= k * %(step)g + 1e-9) node._onmessage({data: timed[next++][1]});
    node.update(%(step)g * 1000);
    values.push(current.slice());
  }
  return JSON.stringify({events: timed.map(([time, e]) => ({event: e.event, viseme: e.viseme ?? null, t: time})),
                         values});
};
window.pageReady = true;
</script>"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".bin": "application/octet-stream"}

    def log_message(self, *args) -> None:
        pass


def install_headaudio(cache: Path) -> Path:
    """The package folder, installed with npm into `cache` once; raises RuntimeError when it cannot be."""
    folder = cache / "node_modules" / "@met4citizen" / "headaudio"
    if not (folder / "dist" / "model-en-mixed.bin").is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed (apt-get install npm)")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), PACKAGE],
                              capture_output=True, text=True, timeout=600)
        if done.returncode or not (folder / "dist" / "model-en-mixed.bin").is_file():
            raise RuntimeError(f"npm install {PACKAGE} failed: {done.stderr[-1000:]}")
    return folder


async def _run_page(port: int, url: str, clips: list[str], tail_s: float) -> list[dict]:
    from scantalk.live.browser import DevTools, page_socket

    async with DevTools(page_socket(port)) as page:
        await page.call("Page.navigate", url=url)
        deadline = time.monotonic() + CHROMIUM_TIMEOUT_S
        while not await page.evaluate("window.pageReady === true"):
            if time.monotonic() > deadline:
                raise RuntimeError("the headaudio page did not load in headless Chromium")
            await asyncio.sleep(0.2)
        return [json.loads(await page.evaluate(f"runClip({json.dumps(clip)}, {tail_s})", await_promise=True))
                for clip in clips]


def headaudio_visemes(clips: list[np.ndarray], package: Path, tail_s: float = TAIL_S) -> list[dict]:
    """Run HeadAudio on each (N,) 16 kHz clip in headless Chromium → per clip {"values": (S, 15)
    blend-shape values every `STEP_S` s of audio, in `OCULUS` order; "events": the processor's
    messages with the audio time (s) each was due}."""
    from scantalk.live.browser import chromium_path, headless_chromium

    if chromium_path() is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="scantalk-peers-") as temp:
        root = Path(temp)
        (root / "pkg").symlink_to(package, target_is_directory=True)
        (root / "index.html").write_text(PAGE % {"rate": RENDER_RATE, "step": STEP_S})
        names = []
        for index, samples in enumerate(clips):
            (root / f"clip{index}.f32").write_bytes(np.asarray(samples, "<f4").tobytes())
            names.append(f"clip{index}.f32")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=temp))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        profile = root / "profile"
        profile.mkdir()
        try:
            with headless_chromium(profile, timeout_s=CHROMIUM_TIMEOUT_S) as port:
                url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
                results = asyncio.run(_run_page(port, url, names, tail_s))
        finally:
            server.shutdown()
    for result in results:
        result["values"] = np.asarray(result["values"], np.float32).reshape(-1, len(OCULUS))
    return results


def headaudio_readouts(result: dict, count: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """HeadAudio's output for one clip → readout name: ((count,) classes, (count,) closed) on the
    `STEP_S` grid."""
    values = result["values"][:count]
    largest = values.argmax(axis=1)
    at_rest = values.max(axis=1) < REST_BELOW
    animated = np.where(at_rest, "rest", np.array([OCULUS_CLASS[OCULUS[i]] for i in largest]))
    pp = OCULUS.index("PP")
    decided, state, events = [], "rest", iter(result["events"])
    event = next(events, None)
    for step in range(count):
        while event is not None and event["t"] <= step * STEP_S + 1e-9:
            if event["event"] == "viseme" and event["viseme"] is not None:
                state = OCULUS_CLASS[OCULUS[event["viseme"]]]
            elif event["event"] == "ended":
                state = "rest"
            event = next(events, None)
        decided.append(state)
    decided = np.array(decided)
    return {"animated, largest value": (animated, (largest == pp) & ~at_rest),
            "animated, PP > 0.5": (animated, values[:, pp] > PP_CLOSED),
            "classifier decision": (decided, decided == "closed")}


def _classes(phones, count: int) -> np.ndarray:
    from scantalk.articulation.phones import frame_labels
    from scantalk.articulation.visemes import VISEMES

    return np.array([VISEMES[p] for p in frame_labels(phones, 1.0 / STEP_S, count)])


def _on_grid(closed_frames: np.ndarray, count: int) -> np.ndarray:
    """(T,) per-frame values at `FPS` → (count,) on the `STEP_S` grid (the frame shown at each time)."""
    index = np.minimum(np.floor(np.arange(count) * STEP_S * FPS + 1e-6).astype(int), len(closed_frames) - 1)
    return closed_frames[index]


def _from_grid(closed: np.ndarray, frames: int) -> np.ndarray:
    """(S,) closed on the `STEP_S` grid → an articulation track's values (frames, 5) at `FPS` whose
    lip_close is 1 where closed (for `clip_figures`)."""
    from scantalk.articulation import ARTICULATION_CHANNELS

    index = np.minimum(np.round(np.arange(frames) / FPS / STEP_S).astype(int), len(closed) - 1)
    values = np.zeros((frames, len(ARTICULATION_CHANNELS)), np.float32)
    values[:, ARTICULATION_CHANNELS.index("lip_close")] = closed[index]
    return values


def stream_classes(samples: np.ndarray, lookahead: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The streaming front end on one clip, fed hop by hop → ((count,) the class of the phone it had
    heard at each grid time when that time was `lookahead` s old, (T, 5) its rows at `FPS`)."""
    from scantalk.articulation.phones import SILENCE
    from scantalk.articulation.stream import HOP_S, ArticulationStream
    from scantalk.articulation.visemes import VISEMES

    stream = ArticulationStream(FPS, lookahead)
    hop = int(round(HOP_S * 16000))
    classes, rows = [], []

    def commit(until: float) -> None:
        phones = stream.phones.phones(since=len(classes) * STEP_S - STEP_S)
        while len(classes) < count and len(classes) * STEP_S <= until + 1e-9:
            t = len(classes) * STEP_S
            phone = next((p.phone for p in phones if p.start <= t < p.end), SILENCE)
            classes.append(VISEMES[phone])

    for start in range(0, len(samples), hop):
        rows.append(stream.push(samples[start:start + hop])[1])
        commit(stream.phones.heard - lookahead)
    rows.append(stream.close()[1])
    commit(np.inf)
    return np.array(classes), np.concatenate(rows)


def _shifted(sequence: np.ndarray, shift: int, fill) -> np.ndarray:
    """sequence[t + shift] for each t (fill outside)."""
    out = np.full(len(sequence), fill, dtype=sequence.dtype)
    if shift >= 0:
        out[:len(sequence) - shift] = sequence[shift:]
    else:
        out[-shift:] = sequence[:shift]
    return out


def best_lag(systems: list[np.ndarray], truths: list[np.ndarray], score) -> tuple[float, float]:
    """The shift (s, within ±`MAX_LAG_S`; positive = the system later than the sound) that maximises
    `score(shifted systems, truths)` pooled over clips → (shift, its score)."""
    steps = int(round(MAX_LAG_S / STEP_S))
    fill = "rest" if systems[0].dtype.kind == "U" else False
    scores = {s: score(np.concatenate([_shifted(x, s, fill) for x in systems]), np.concatenate(truths))
              for s in range(-steps, steps + 1)}
    shift = max(scores, key=scores.get)
    return shift * STEP_S, scores[shift]


def _accuracy(system: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(system == truth))


def _iou(closed: np.ndarray, bilabial: np.ndarray) -> float:
    return float((closed & bilabial).sum() / max(1, (closed | bilabial).sum()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=None, help="only the first N recordings (default all)")
    parser.add_argument("--lookahead", type=float, default=0.1, help="the streaming front end's lookahead (s)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where npm installs HeadAudio")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default results/peers.json)")
    args = parser.parse_args(argv)

    from closures import clip_figures, summarise

    from scantalk.articulation import ARTICULATION_CHANNELS, articulation_from_phones
    from scantalk.articulation.sphinx import decode_phones
    from scantalk.articulation.track import ArticulationTrack
    from scantalk.audio import audio_frame_count
    from scantalk.synthesis.speech.real import real_speech_set

    clock = time.perf_counter()
    utterances = real_speech_set()[:args.clips]
    counts = [int(np.ceil(len(u.samples) / 16000 / STEP_S)) for u in utterances]
    frames = [audio_frame_count(len(u.samples), 16000, FPS) for u in utterances]
    truths = [_classes(u.phones, count) for u, count in zip(utterances, counts)]
    # system → per clip (classes on the grid, closed on the grid, track values at FPS)
    systems: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    close_channel = ARTICULATION_CHANNELS.index("lip_close")
    for utterance, count, frame_count in zip(utterances, counts, frames):
        heard = decode_phones(utterance.samples, 16000)
        track = articulation_from_phones(heard, FPS, num_frames=frame_count).values
        systems.setdefault("scantalk offline (decode_phones)", []).append(
            (_classes(heard, count), _on_grid(track[:, close_channel] > 0.5, count), track))
        classes, rows = stream_classes(utterance.samples, args.lookahead, count)
        rows = rows[:frame_count]
        systems.setdefault(f"scantalk stream ({args.lookahead:g} s lookahead)", []).append(
            (classes, _on_grid(rows[:, close_channel] > 0.5, count), rows))
    print(f"our front ends: {time.perf_counter() - clock:.0f} s", file=sys.stderr)

    skipped = None
    try:
        package = install_headaudio(args.cache)
        started = time.perf_counter()
        results = headaudio_visemes([u.samples for u in utterances], package)
        print(f"headaudio in headless chromium: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        for result, count, frame_count in zip(results, counts, frames):
            if not any(e["event"] == "viseme" for e in result["events"]):
                raise RuntimeError("headaudio gave no visemes for a clip (its model did not load in time?)")
            for readout, (classes, closed) in headaudio_readouts(result, count).items():
                systems.setdefault(f"headaudio 0.1.0 ({readout})", []).append(
                    (classes, closed, _from_grid(closed, frame_count)))
    except RuntimeError as error:
        skipped = f"headaudio skipped: {error}"
        print(skipped, file=sys.stderr)

    rows, per_clip = [], {}
    bilabials = [truth == "closed" for truth in truths]
    for name, clips in systems.items():
        classes = [c for c, _, _ in clips]
        closed = [c for _, c, _ in clips]
        figures = [clip_figures(ArticulationTrack(values, FPS), u.phones)
                   for (_, _, values), u in zip(clips, utterances)]
        totals = summarise(figures)
        class_lag, class_best = best_lag(classes, truths, _accuracy)
        closure_lag, closure_iou = best_lag(closed, bilabials, _iou)
        rows.append({"system": name,
                     "class_accuracy": _accuracy(np.concatenate(classes), np.concatenate(truths)),
                     "class_accuracy_at_lag": class_best, "class_lag_ms": round(1000 * class_lag),
                     "pbm_recall": totals["bilabial_recall"], "pbm_closed": totals["bilabials_closed"],
                     "pbm": totals["bilabials"], "closed_on_pbm": totals["closed_frames_on_bilabial"],
                     "closed_frames": totals["closed_frames"], "closure_lag_ms": round(1000 * closure_lag),
                     "closure_iou_at_lag": closure_iou})
        per_clip[name] = [{"clip": Path(str(u.meta.get("path", ""))).name, "class_accuracy": _accuracy(c, t),
                           "pbm_closed": f["bilabials_closed"], "pbm": f["bilabials"]}
                          for u, c, t, f in zip(utterances, classes, truths, figures)]

    print("\n| system | mouth-class accuracy, as given / at best lag | class lag | p/b/m recall "
          "| closed frames on a real p/b/m | closure lag |\n|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['system']} | {100 * row['class_accuracy']:.0f} % / {100 * row['class_accuracy_at_lag']:.0f} % "
              f"| {row['class_lag_ms']:+d} ms | {100 * row['pbm_recall']:.0f} % ({row['pbm_closed']}/{row['pbm']}) "
              f"| {100 * row['closed_on_pbm']:.0f} % (of {row['closed_frames']}) | {row['closure_lag_ms']:+d} ms |")
    print()
    report("peers", rows, args.out, clips=len(utterances), grid_s=STEP_S, fps=FPS, package=PACKAGE,
           render=f"OfflineAudioContext at {RENDER_RATE} Hz in headless Chromium", skipped=skipped,
           per_clip=per_clip, seconds=time.perf_counter() - clock)


if __name__ == "__main__":
    main()
