"""Where the articulation track closes the lips, against where the speaker really did (issue 21).

    python experiments/evaluate/closures.py                 # the phonetic front end, both decoders
    python experiments/evaluate/closures.py --stream 0.1 0.3 0.5 1 2   # and the streaming front end

On every real recording of `real_speech_set()` (pocketsphinx-testdata, force-aligned at the phone
level, never trained on), the track the shipped front end makes from the audio alone is compared
with the aligned phones, per decoding method of `scantalk.articulation.sphinx.decode_phones`
("words": recognised words aligned into phones, the default; "phones": a free phone loop), and,
with `--stream`, per lookahead of the streaming front end (`scantalk.articulation.stream`, fed
in 100 ms chunks as a microphone would), each clip heard by a new stream ("stream") and all
clips heard one after another by one stream, as in a live session ("session"):

- closed frames on a real p/b/m: the share of frames with lip_close > 0.5 that fall inside a P, B
  or M (widened by one frame each side, as lips close just before the sound);
- closures on no bilabial: runs of closed frames that touch no P/B/M at all (and their count);
- p/b/m recall: the share of aligned P/B/M during which the track closes (lip_close > 0.5 at some
  frame of the phone ± 1);
- jaw in pauses: mean jaw_open (0..1) over silences of 150 ms or more, and over their middle
  (100 ms in from each edge), where a mouth at rest reads 0.

Prints a table per method and per clip, and writes JSON atomically (default
experiments/results/closures.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "closures.json"
FPS = 30.0
BILABIALS = ("P", "B", "M")
CLOSED = 0.5


def _bare(phone: str) -> str:
    return "".join(ch for ch in phone if not ch.isdigit()).upper()


def clip_figures(track, phones) -> dict:
    """Raw counts for one clip: the track (T, 5) against the aligned phones."""
    from scantalk.articulation import ARTICULATION_CHANNELS

    close = track.values[:, ARTICULATION_CHANNELS.index("lip_close")]
    jaw = track.values[:, ARTICULATION_CHANNELS.index("jaw_open")]
    count = len(close)
    on_bilabial = np.zeros(count, dtype=bool)
    recalled, bilabials = 0, 0
    pause_jaw, pause_middle = [], []
    for phone in phones:
        first, last = int(np.floor(phone.start * FPS)) - 1, int(np.ceil(phone.end * FPS)) + 1
        frames = np.arange(max(0, first), min(count, last + 1))
        name = _bare(phone.phone)
        if name in BILABIALS and frames.size:
            on_bilabial[frames] = True
            bilabials += 1
            recalled += bool((close[frames] > CLOSED).any())
        elif name == "SIL" and phone.end - phone.start >= 0.15:
            inside = np.arange(int(np.ceil(phone.start * FPS)), min(count, int(np.floor(phone.end * FPS)) + 1))
            middle = inside[(inside / FPS > phone.start + 0.1) & (inside / FPS < phone.end - 0.1)]
            if inside.size:
                pause_jaw.append(float(jaw[inside].mean()))
            if middle.size:
                pause_middle.append(float(jaw[middle].mean()))
    closed = close > CLOSED
    runs, start = [], None
    for index, value in enumerate(np.append(closed, False)):
        if value and start is None:
            start = index
        elif not value and start is not None:
            runs.append((start, index))
            start = None
    stray = sum(not on_bilabial[a:b].any() for a, b in runs)
    return {"closed_frames": int(closed.sum()), "closed_on_bilabial": int((closed & on_bilabial).sum()),
            "closures": len(runs), "closures_on_no_bilabial": int(stray), "bilabials": bilabials,
            "bilabials_closed": recalled, "pause_jaw": pause_jaw, "pause_middle_jaw": pause_middle}


def session_offsets(clips: list[np.ndarray], gap_s: float = 0.5) -> tuple[np.ndarray, list[int]]:
    """All clips (16 kHz) one after another as one live session, each starting on a whole frame
    (a multiple of 0.1 s) after `gap_s` of silence → (the session audio, each clip's first frame)."""
    block = 1600  # 0.1 s: 3 frames at 30 fps
    pieces, firsts, cursor = [], [], 0
    for samples in clips:
        length = int(np.ceil((len(samples) + gap_s * 16000) / block)) * block
        piece = np.zeros(length, np.float32)
        piece[:len(samples)] = samples
        pieces.append(piece)
        firsts.append(int(round(cursor / 16000 * FPS)))
        cursor += length
    return np.concatenate(pieces), firsts


def session_tracks(clips: list[np.ndarray], lookahead: float) -> list[np.ndarray]:
    """Each clip's rows (T_i, 5) from one `ArticulationStream` hearing all of them in a row, as
    a live session does (the recogniser adapts to the voice and the room as it goes)."""
    from scantalk.articulation.stream import ArticulationStream

    audio, firsts = session_offsets(clips)
    stream = ArticulationStream(FPS, lookahead)
    rows = [stream.push(audio[start:start + 1600])[1] for start in range(0, len(audio), 1600)]
    values = np.concatenate(rows + [stream.close()[1]])
    return [values[first:first + int(np.ceil(len(samples) / 16000 * FPS)) + 1] for first, samples in zip(firsts, clips)]


def summarise(clips: list[dict]) -> dict:
    total = {key: sum(c[key] for c in clips) for key in ("closed_frames", "closed_on_bilabial", "closures",
                                                          "closures_on_no_bilabial", "bilabials", "bilabials_closed")}
    pauses = sum((c["pause_jaw"] for c in clips), [])
    middles = sum((c["pause_middle_jaw"] for c in clips), [])
    return {**total,
            "closed_frames_on_bilabial": total["closed_on_bilabial"] / max(1, total["closed_frames"]),
            "bilabial_recall": total["bilabials_closed"] / max(1, total["bilabials"]),
            "pause_jaw_mean": float(np.mean(pauses)) if pauses else None,
            "pause_middle_jaw_mean": float(np.mean(middles)) if middles else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON results")
    parser.add_argument("--stream", type=float, nargs="*", default=[], metavar="SECONDS",
                        help="also the streaming front end at these lookaheads")
    args = parser.parse_args(argv)

    from scantalk.articulation import articulation_from_phones
    from scantalk.articulation.sphinx import DECODE_METHODS, decode_phones
    from scantalk.articulation.stream import ArticulationStream
    from scantalk.articulation.track import ArticulationTrack
    from scantalk.atomic import atomic_write_text
    from scantalk.audio import audio_frame_count
    from common import real_clips

    clock = time.perf_counter()
    utterances = real_clips()
    results = {}

    def streamed(samples: np.ndarray, lookahead: float, count: int) -> ArticulationTrack:
        stream = ArticulationStream(FPS, lookahead)
        rows = [stream.push(samples[start:start + 1600])[1] for start in range(0, len(samples), 1600)]
        values = np.concatenate(rows + [stream.close()[1]])[:count]
        return ArticulationTrack(values, FPS)

    methods = [*DECODE_METHODS, *(f"{kind}@{lookahead:g}s" for lookahead in args.stream for kind in ("stream", "session"))]
    for method in methods:
        per_clip = []
        if method.startswith("session@"):
            sessions = session_tracks([u.samples for u in utterances], float(method[8:-1]))
        for index, utterance in enumerate(utterances):
            count = audio_frame_count(len(utterance.samples), utterance.sample_rate, FPS)
            if method.startswith("stream@"):
                track = streamed(utterance.samples, float(method[7:-1]), count)
            elif method.startswith("session@"):
                track = ArticulationTrack(sessions[index][:count], FPS)
            else:
                heard = decode_phones(utterance.samples, utterance.sample_rate, method=method)
                track = articulation_from_phones(heard, FPS, num_frames=count)
            figures = clip_figures(track, utterance.phones)
            figures["clip"] = Path(str(utterance.meta.get("path", ""))).name
            per_clip.append(figures)
            print(f"{method:12s} {figures['clip']:28s} closed on p/b/m {figures['closed_on_bilabial']:3d}/"
                  f"{figures['closed_frames']:3d}  stray closures {figures['closures_on_no_bilabial']:2d}/"
                  f"{figures['closures']:2d}  p/b/m {figures['bilabials_closed']:2d}/{figures['bilabials']:2d}",
                  file=sys.stderr, flush=True)
        results[method] = {"summary": summarise(per_clip), "clips": per_clip}
    print("\n| decoding | closed frames on a real p/b/m (≥ 70 %) | closures on no bilabial | p/b/m recall (≥ 80 %) "
          "| jaw in pauses, all / middle (0 = rest) |\n|---|---|---|---|---|")
    for method, result in results.items():
        s = result["summary"]
        print(f"| {method} | {100 * s['closed_frames_on_bilabial']:.0f} % ({s['closed_on_bilabial']}/{s['closed_frames']}) | "
              f"{s['closures_on_no_bilabial']} of {s['closures']} | {100 * s['bilabial_recall']:.0f} % "
              f"({s['bilabials_closed']}/{s['bilabials']}) | {s['pause_jaw_mean']:.3f} / {s['pause_middle_jaw_mean']:.3f} |")
    payload = {"clips": len(utterances), "fps": FPS, "results": results, "seconds": time.perf_counter() - clock,
               "command": " ".join(["python", "experiments/evaluate/closures.py", *(argv or sys.argv[1:])])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(payload, indent=1))
    print(f"\nwrote {args.out} ({payload['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
