"""How well do the phone timings we train and measure on agree with each other?

1. Real speech (pocketsphinx-testdata): pocketsphinx's phone decoding without a transcript
   (`decode_phones`, the phonetic audio front end) against the forced alignment of the
   transcript (`real_speech_set`), frame by frame at 100 Hz, as phones and as mouth shapes.
2. Synthetic speech: each voice's own phone labels (festival `utt.save.segs`, flite `-psdur`)
   against a pocketsphinx forced alignment of the same audio: frame agreement and the median
   offset of boundaries both put between the same two phones. This bounds how exact the
   engines' timing is (the aligner's own error is about 10-20 ms).

Run: `.venv/bin/python experiments/evaluate/phone_agreement.py` (about a minute on 2 cores). Prints a
table and writes experiments/results/phone_agreement.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from scantalk.articulation.visemes import phone_agreement, viseme_agreement
from scantalk.atomic import atomic_write_text
from scantalk.synthesis.speech import VOICES, SpeechToolError, align_phones, available_voices, decode_phones
from scantalk.synthesis.speech import sentences, synthesize
from scantalk.synthesis.speech.phones import PhoneSegment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import real_clips  # noqa: E402

FPS = 100.0


def frame_agreement(reference: list[PhoneSegment], other: list[PhoneSegment]) -> tuple[float, float]:
    """(phone, mouth-shape) share of 10 ms frames on which both label the same thing (mouth
    shapes: `scantalk.articulation.VISEMES`)."""
    return phone_agreement(reference, other, FPS), viseme_agreement(reference, other, FPS)


def boundary_offsets(reference: list[PhoneSegment], other: list[PhoneSegment], window: float = 0.1) -> list[float]:
    """|time difference| of boundaries between the same phone pair, within `window` seconds."""
    def boundaries(segments):
        return [((a.phone, b.phone), a.end) for a, b in zip(segments, segments[1:])]

    others = boundaries(other)
    offsets = []
    for pair, time_s in boundaries(reference):
        near = [abs(t - time_s) for p, t in others if p == pair and abs(t - time_s) <= window]
        if near:
            offsets.append(min(near))
    return offsets


def _alignable(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


def real_section() -> dict:
    rows = []
    for utt in real_clips():
        phone, shape = frame_agreement(utt.phones, decode_phones(utt.samples))
        rows.append({"source": utt.voice, "path": utt.meta["path"], "seconds": round(utt.duration, 2), "phone": phone, "mouth_shape": shape})
    weights = np.array([row["seconds"] for row in rows])
    summary = {
        key: {"mean_over_clips": float(np.mean([r[key] for r in rows])), "duration_weighted": float(np.average([r[key] for r in rows], weights=weights)),
              "min": float(min(r[key] for r in rows)), "max": float(max(r[key] for r in rows))}
        for key in ("phone", "mouth_shape")
    }  # fmt: skip
    return {"clips": rows, "summary": summary}


def synthetic_section(num_sentences: int) -> dict:
    rows = []
    texts = sentences(num_sentences, seed=123)
    for voice in available_voices(VOICES):
        offsets, agreements = [], []
        for text in texts:
            utt = synthesize(text, voice)
            try:
                aligned = align_phones(utt.samples, _alignable(text))
            except SpeechToolError:
                continue  # a word outside pocketsphinx's dictionary
            agreements.append(frame_agreement(aligned, utt.phones)[0])
            offsets += boundary_offsets(utt.phones, aligned)
        rows.append({
            "voice": voice, "sentences": len(agreements), "frame_agreement": float(np.mean(agreements)) if agreements else None,
            "boundaries_matched": len(offsets), "median_boundary_offset_ms": float(np.median(offsets) * 1000) if offsets else None,
            "p90_boundary_offset_ms": float(np.percentile(offsets, 90) * 1000) if offsets else None,
        })  # fmt: skip
    return {"voices": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=4, help="sentences per voice for the synthetic check")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "phone_agreement.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    real = real_section()
    print(f"{'real clip':<58} {'s':>5} {'phone %':>8} {'shape %':>8}")
    for row in real["clips"]:
        print(f"{Path(row['path']).name:<58} {row['seconds']:>5.1f} {100 * row['phone']:>8.1f} {100 * row['mouth_shape']:>8.1f}")
    for key, stats in real["summary"].items():
        print(f"decode vs forced alignment, {key}: mean {100 * stats['mean_over_clips']:.1f} % (range {100 * stats['min']:.1f}-{100 * stats['max']:.1f} %)")
    synthetic = synthetic_section(args.sentences)
    print(f"\n{'voice':<24} {'frames %':>9} {'boundaries':>10} {'median ms':>10} {'p90 ms':>8}")
    for row in synthetic["voices"]:
        if row["frame_agreement"] is not None:
            print(f"{row['voice']:<24} {100 * row['frame_agreement']:>9.1f} {row['boundaries_matched']:>10d} "
                  f"{row['median_boundary_offset_ms']:>10.1f} {row['p90_boundary_offset_ms']:>8.1f}")  # fmt: skip
    result = {"real": real, "synthetic_vs_forced_alignment": synthetic, "fps": FPS, "seconds": time.perf_counter() - started}
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
