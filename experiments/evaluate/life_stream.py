"""Is the face drawn live as alive as offline? The life motion of `Animator.stream(life=1)` beside
that of `Animator.animate(life=1)` on the same real speech.

    python experiments/evaluate/life_stream.py            # a 60 s real recording, 3 seeds (about 2 min)
    python experiments/evaluate/life_stream.py --seconds 20 --seeds 1

Speech: the real test recordings one after another (`evaluate_life.recording`, with their forced
alignment's pauses). Face: the held-out `james` scan (the life rows do not depend on the face;
the face is what the stream animates). Per seed, offline and live (lookahead 0.1 s, 20 ms chunks):

- blinks per minute; the share starting within 300 ms of a pause (≥ 150 ms of silence in the
  alignment) or a clip boundary; whether every blink closes fully (1.0) and opens again;
- brows: Pearson r between brow_inner_up and the voice's pitch excess, and the share of brow
  raises within 200 ms of an F0 peak (`evaluate_life.brow_figures`);
- head: the 5th-95th percentile span of yaw, pitch and roll (degrees);
- gaze: saccades per minute (frames where the gaze moves more than 2°);
- the cost of the life rows and their decoding per frame (live).

Writes `experiments/results/life_stream_eval.json` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from life import FPS, NEAR_PAUSE_S, brow_figures, recording  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"


def figures(life, audio: np.ndarray, phones, boundaries) -> dict:
    """Track-level figures of a `LifeTrack` over `audio`."""
    lid = life["blink_left"]
    starts = np.flatnonzero((lid > 0) & (np.r_[0.0, lid[:-1]] == 0)) / FPS
    closes = [lid[int(t * FPS):int((t + 0.5) * FPS)] for t in starts]
    pauses = [(p.start, p.end) for p in phones if p.phone == "SIL" and p.end - p.start >= 0.15]
    pauses += [(b, b) for b in boundaries]
    near = [any(a - NEAR_PAUSE_S <= t <= b + NEAR_PAUSE_S for a, b in pauses) for t in starts]
    minutes = life.num_frames / FPS / 60.0
    gaze = np.hypot(np.diff(life["eye_yaw"]), np.diff(life["eye_pitch"]))
    saccades = np.flatnonzero((gaze > 2.0) & (np.r_[0.0, gaze[:-1]] <= 2.0))
    return {
        "blinks_per_minute": len(starts) / minutes,
        "blinks_near_pause": float(np.mean(near)) if near else None,
        "blinks_closing_fully": float(np.mean([c.max() == 1.0 and c[-1] == 0.0 for c in closes])) if closes else None,
        **brow_figures(life, audio),
        **{f"{name}_span_deg": float(np.subtract(*np.percentile(life[name], [95, 5])))
           for name in ("head_yaw", "head_pitch", "head_roll")},
        "saccades_per_minute": len(saccades) / minutes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the recording")
    parser.add_argument("--seeds", type=int, default=3, help="life seeds drawn (0, 1, ...)")
    parser.add_argument("--checkpoint", default=None, help="model (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=RESULTS / "life_stream_eval.json")
    args = parser.parse_args(argv)

    from scantalk import Animator
    from scantalk.atomic import atomic_write_text
    from scantalk.face.samples import real_face
    from scantalk.life import LifeTrack

    clock = time.perf_counter()
    audio, phones, boundaries = recording(args.seconds)
    head = real_face("james")
    face = (head.verts, head.faces)
    animator = Animator.from_checkpoint(args.checkpoint, cache_dir=False)
    rows = []
    for seed in range(args.seeds):
        offline = animator.animate(face, audio, sample_rate=16000, life=1.0, life_seed=seed).life
        print(f"seed {seed}: offline done, streaming ...", file=sys.stderr, flush=True)
        still, live_clock = animator.stream(face, lookahead=0.1), 0.0
        alive = animator.stream(face, lookahead=0.1, life=1.0, life_seed=seed)
        frames = []
        for start in range(0, len(audio), 320):
            chunk = audio[start:start + 320]
            begun = time.perf_counter()
            frames += alive.push(chunk)
            live_clock += time.perf_counter() - begun
            begun = time.perf_counter()
            still.push(chunk)
            live_clock -= time.perf_counter() - begun
        frames += alive.close()
        live = LifeTrack(np.stack([frame.life for frame in frames]).astype(np.float64), FPS)
        for name, track in (("offline", offline), ("live", live)):
            row = {"seed": seed, "mode": name, **figures(track, audio, phones, boundaries)}
            if name == "live":
                row["life_ms_per_frame"] = 1000.0 * live_clock / len(frames)
            rows.append(row)
    print(f"\n{args.seconds:g} s of real speech on james, seeds 0-{args.seeds - 1}\n")
    columns = ("blinks_per_minute", "blinks_near_pause", "blinks_closing_fully", "pearson_brow_vs_pitch_excess",
               "raises_within_200ms_of_f0_peak", "head_yaw_span_deg", "head_pitch_span_deg", "saccades_per_minute")
    print("| seed | mode | " + " | ".join(columns) + " | life ms / frame |")
    print("|---" * (len(columns) + 3) + "|")
    for row in rows:
        cells = [f"{row[key]:.2f}" if isinstance(row[key], float) else str(row[key]) for key in columns]
        cost = f"{row['life_ms_per_frame']:.2f}" if "life_ms_per_frame" in row else ""
        print(f"| {row['seed']} | {row['mode']} | " + " | ".join(cells) + f" | {cost} |")
    payload = {"rows": rows, "seconds": time.perf_counter() - clock,
               "command": " ".join(["python", "experiments/evaluate/life_stream.py"] + sys.argv[1:])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(payload, indent=1))
    print(f"\nwrote {args.out} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
