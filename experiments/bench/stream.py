"""Latency of `Animator.stream` on a ~10k-vertex head over a long talk, on this machine's CPU.

    python experiments/bench/stream.py [--seconds 300] [--lookahead 0.1 0.2] [--chunk-ms 20] [--life 1]

Real recorded speech (the pocketsphinx test recordings, joined with short pauses and repeated
to `--seconds`) is pushed in microphone-sized chunks. Each push is timed for real; the schedule
of a live session is then replayed on a clock: chunk k reaches the program when its last
sample has been captured, and is processed once it has arrived and the previous push has
finished. A frame's latency runs from the moment the sound it shows was spoken (its time in
the audio) to the end of the push that gives it out, split into

- lookahead: the audio heard past the frame before it is final (the setting);
- waiting: for the chunk to fill and for the recogniser's next 20 ms hop;
- compute: the push that gives the frame out, and any backlog of earlier pushes.

Also: frames given out per second of audio (30 at 30 fps when it keeps up), how far behind the
live audio the last frame came out, and the resident memory every 30 s of audio (flat when
the state does not grow). `--life 1` also draws blinks, gaze, brows and head motion live. Prints a table and writes JSON (default
experiments/bench/results/stream.json).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import report  # noqa: E402

HEAD_SEED = 2100  # a held-out procedural head
HEAD_RESOLUTION = 0.0042  # metres: ~10.8k vertices


def _rss_mb() -> float:
    """Current resident memory of this process in MiB (Linux)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    import resource

    return pages * resource.getpagesize() / 2**20


def _talk(seconds: float) -> np.ndarray:
    """`seconds` of real speech at 16 kHz: the test recordings with 0.4 s pauses, repeated."""
    from scantalk.synthesis.speech.real import real_speech_set

    pause = np.zeros(6400, np.float32)
    pieces = [piece for utterance in real_speech_set() for piece in (utterance.samples, pause)]
    once = np.concatenate(pieces)
    repeats = int(np.ceil(seconds * 16000 / len(once)))
    return np.tile(once, repeats)[:int(seconds * 16000)]


def run(animator, head, speech: np.ndarray, lookahead: float, chunk: int, fps: float, life: float = 0.0) -> dict:
    stream = animator.stream((head.verts, head.faces), fps=fps, lookahead=lookahead, life=life)
    chunk_s = chunk / 16000
    free_at = 0.0  # when the (replayed) program is done with the previous push
    latencies, computes, memory = [], [], []
    out_count = 0
    for k, start in enumerate(range(0, len(speech), chunk)):
        arrives = min(start + chunk, len(speech)) / 16000
        clock = time.perf_counter()
        frames = stream.push(speech[start:start + chunk], 16000)
        took = time.perf_counter() - clock
        begins = max(arrives, free_at)
        free_at = begins + took
        computes.append(took)
        for frame in frames:
            latencies.append((free_at - frame.time, begins - arrives + took))
        out_count += len(frames)
        if k % max(1, int(30.0 / chunk_s)) == 0:
            memory.append((start / 16000, _rss_mb()))
    stream.close()
    total = np.array([latency for latency, _ in latencies])
    backlog_and_compute = np.array([c for _, c in latencies])
    seconds = len(speech) / 16000
    return {
        "lookahead_s": lookahead,
        "life": life,
        "chunk_ms": 1000 * chunk_s,
        "vertices": len(head.verts),
        "latency_median_ms": 1000 * float(np.median(total)),
        "latency_p95_ms": 1000 * float(np.percentile(total, 95)),
        "latency_max_ms": 1000 * float(total.max()),
        "compute_median_ms": 1000 * float(np.median(backlog_and_compute)),
        "compute_p95_ms": 1000 * float(np.percentile(backlog_and_compute, 95)),
        "waiting_median_ms": 1000 * float(np.median(total - backlog_and_compute) - lookahead),
        "frames_per_audio_s": out_count / seconds,
        "behind_at_end_ms": 1000 * max(0.0, free_at - seconds),
        "cpu_share": float(np.sum(computes)) / seconds,
        "rss_first_mb": memory[0][1],
        "rss_last_mb": memory[-1][1],
        "rss_max_mb": max(m for _, m in memory),
        "memory_trace": memory,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the talk (default 5 minutes)")
    parser.add_argument("--lookahead", type=float, nargs="+", default=[0.1], help="lookaheads to measure (s)")
    parser.add_argument("--chunk-ms", type=float, default=20.0, help="microphone chunk length (ms)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--life", type=float, default=0.0, help="draw blinks, gaze, brows and head motion live (0..1)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    from scantalk import Animator
    from scantalk.synthesis.heads.procedural import procedural_head

    head = procedural_head(HEAD_SEED, resolution=HEAD_RESOLUTION)
    speech = _talk(args.seconds)
    animator = Animator.from_checkpoint()
    rows = []
    for lookahead in args.lookahead:
        print(f"streaming {args.seconds:.0f} s of speech onto {len(head.verts)} vertices, lookahead {lookahead} s ...",
              file=sys.stderr, flush=True)
        rows.append(run(animator, head, speech, lookahead, int(round(args.chunk_ms * 16)), args.fps, args.life))
    table = [{key: value for key, value in row.items() if key != "memory_trace"} for row in rows]
    report("stream", table, args.out, seconds=args.seconds, traces={row["lookahead_s"]: row["memory_trace"] for row in rows},
           command=" ".join(["python", "experiments/bench/stream.py", *(argv if argv is not None else sys.argv[1:])]))
    return rows


if __name__ == "__main__":
    main()
