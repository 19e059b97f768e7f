"""Compare the audio front ends of the articulated model: speech → articulation track (T, 5).

Front ends:
- mel: the learned `SpeechArticulator` (log-mel → CNN → BiLSTM) of an articulated checkpoint, or
  of a Lightning articulator checkpoint (`--lightning-articulator`);
- phonetic: pocketsphinx phone decoding without a transcript → `articulation_from_phones`;
- combined: per-channel weighted mean w·mel + (1 − w)·phonetic, w chosen (least squared error
  on a 0, 0.1, ..., 1 grid) on the validation corpus of synthetic held-out voices, never on the
  real recordings.

Truth: the track made from the forced-aligned phones of each clip (real recordings:
pocketsphinx alignment of the transcript; validation corpus: the synthesiser's own phone times),
with the neutral style. Figures per front end and set:
- per-channel Pearson r and RMSE against the truth, over all frames of the set pooled; mean over channels;
- viseme agreement of the decoded phones with the truth phones (phonetic only: the others have no phones);
- bilabial closure recall: share of the truth's P/B/M segments where lip_close > 0.5 at some frame
  of the segment ± 1 frame; and the share of vowels whose middle frame has lip_close > 0.5 (false closures);
- Pearson r of jaw_open with the smoothed RMS envelope of the speech (mean over clips);
- seconds of compute per second of audio (one CPU thread by default, after a warm-up call).
Prints markdown tables and a verdict, and writes experiments/results/frontends.json atomically.

    python experiments/evaluate/frontends.py [--checkpoint CKPT] [--lightning-articulator LAST.ckpt]
                                            [--val-corpus DIR] [--val-clips 100]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from scantalk import metrics
from scantalk.articulation import ARTICULATION_CHANNELS, ArticulationTrack, articulation_from_phones, viseme_agreement
from scantalk.articulation.phones import VOWELS
from scantalk.articulation.phonetic import combine_tracks, fit_combination_weights, phonetic_phones_and_track
from scantalk.atomic import atomic_write_text
from scantalk.audio.io import SAMPLE_RATE, audio_frame_count
from scantalk.errors import CheckpointError, ScanTalkError

FPS = 30.0
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CHECKPOINT = ROOT / "scantalk" / "assets" / "default.ckpt"
DEFAULT_VAL_CORPUS = ROOT / "runs" / "articulated" / "speech" / "val"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "frontends.json"
BILABIALS = ("P", "B", "M")
CLOSED = 0.5  # lip_close above this counts as the lips meeting (the rig's contact is 1)
LIGHTNING_KEYS = ("n_mels", "audio_hidden", "lstm_hidden", "lstm_layers")

TrackMaker = Callable[[np.ndarray, int], tuple[ArticulationTrack, list | None]]


@dataclass
class Clip:
    """One utterance to score: samples (N,) at 16 kHz, truth phones and truth track (T, 5)."""

    name: str
    samples: np.ndarray
    phones: list
    truth: ArticulationTrack
    envelope: np.ndarray = field(repr=False, default=None)  # (T,) smoothed RMS of the speech
    text: str = ""

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def make_clip(name: str, samples: np.ndarray, phones: list, text: str = "") -> Clip:
    """A `Clip` whose truth is `articulation_from_phones(phones)` with the neutral style at `FPS`."""
    count = audio_frame_count(len(samples), SAMPLE_RATE, FPS)
    truth = articulation_from_phones(phones, FPS, count)
    return Clip(name, samples, phones, truth, metrics.speech_envelope(samples, SAMPLE_RATE, FPS, count), text)


def real_clips() -> list[Clip]:
    """The held-out real recordings (pocketsphinx-testdata) with their forced alignments."""
    from common import real_clips

    return [make_clip(Path(u.meta["path"]).name, u.samples, u.phones) for u in real_clips()]


def val_clips(root: Path, limit: int) -> list[Clip]:
    """The first `limit` utterances of a speech corpus built by `build_speech_corpus`."""
    from scantalk.synthesis.speech import load_speech_corpus

    corpus = load_speech_corpus(root)
    return [make_clip(corpus.ids[i], u.samples, u.phones, u.text) for i, u in enumerate(corpus[:limit])]


def alignment_reference(clips: list[Clip], made: dict[str, list[ArticulationTrack]]) -> tuple[dict, dict, int]:
    """How far the real recordings' truth (a pocketsphinx forced alignment) is from the mouth's, measured
    where the exact timing is known (synthetic voices).

    Returns:
        (figures of the aligned tracks against the exact ones; {front end: mean r and RMSE of its
        tracks in `made` against the exact and against the aligned tracks, on the aligned clips}, which shows how much scoring against a
        pocketsphinx alignment favours a front end; number of clips aligned). Clips the aligner
        fails on (noisy augmentations) are left out.
    """
    from scantalk.synthesis.speech import SpeechToolError, align_phones

    kept, tracks, phones, indices = [], [], [], []
    for index, clip in enumerate(clips):
        try:
            # The dictionary has words, not punctuation: "No, one brave cloth." → "no one brave cloth".
            found = align_phones(clip.samples, " ".join(re.sub(r"[^a-z']+", " ", clip.text.lower()).split()))
        except SpeechToolError:
            continue
        kept.append(clip)
        indices.append(index)
        phones.append(found)
        tracks.append(articulation_from_phones(found, FPS, clip.truth.num_frames))
    if not kept:
        return {}, {}, 0
    as_truth = [Clip(c.name, c.samples, p, t, c.envelope, c.text) for c, p, t in zip(kept, phones, tracks)]
    against = {}
    for name, series in made.items():
        subset = [series[i] for i in indices]
        exact, aligned = figures(kept, subset, None, None), figures(as_truth, subset, None, None)
        against[name] = {"pearson_vs_exact": exact["pearson_mean"], "pearson_vs_alignment": aligned["pearson_mean"],
                         "rmse_vs_exact": exact["rmse_mean"], "rmse_vs_alignment": aligned["rmse_mean"]}
    return figures(kept, tracks, phones, None), against, len(kept)


# --- front ends -----------------------------------------------------------------------------
def articulator_from_lightning(path: Path):
    """An `ArticulatedTalker` whose articulator holds a Lightning `SpeechArticulatorModule`'s weights
    (keys "articulator.*", sizes from "hyper_parameters"); its decoder stays untrained (unused here)."""
    from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        hp = checkpoint["hyper_parameters"]
        state = {key[len("articulator."):]: value for key, value in checkpoint["state_dict"].items()
                 if key.startswith("articulator.")}
        model = ArticulatedTalker(ArticulatedConfig(**{key: hp[key] for key in LIGHTNING_KEYS if key in hp}))
        model.articulator.load_state_dict(state)
        step = int(checkpoint.get("global_step", -1))
    except FileNotFoundError:
        raise CheckpointError(f"Lightning articulator checkpoint {path} does not exist; pass the last.ckpt of "
                              "an articulator training run") from None
    except (KeyError, RuntimeError, TypeError, ValueError, OSError) as error:
        raise CheckpointError(f"{path} is not a readable SpeechArticulatorModule checkpoint ({error}); pass the "
                              "last.ckpt of an articulator training run") from None
    return model.eval(), step


def mel_front_end(args: argparse.Namespace) -> tuple[TrackMaker | None, str, str | None]:
    """(track maker or None, description, note on why it is missing) for the learned front end."""
    from scantalk.inference.animator import Animator
    from scantalk.checkpoint import load_model
    from scantalk.model.articulated import ArticulatedTalker

    if args.lightning_articulator is not None:
        model, step = articulator_from_lightning(args.lightning_articulator)
        source = f"Lightning articulator {args.lightning_articulator} (step {step})"
    else:
        model = load_model(args.checkpoint)
        source = f"checkpoint {args.checkpoint}"
        if not isinstance(model, ArticulatedTalker):
            return None, source, (f"{source} is an end-to-end ScanTalk model with no articulation output: only the "
                                  "phonetic front end is evaluated (pass --checkpoint of an articulated model or "
                                  "--lightning-articulator)")
    animator = Animator(model, checkpoint=source, device="cpu", cache_dir=False)

    def make(samples: np.ndarray, count: int) -> tuple[ArticulationTrack, None]:
        track = animator.articulate(samples, fps=FPS, sample_rate=SAMPLE_RATE)
        if track.num_frames != count:
            raise ScanTalkError(f"{source} made {track.num_frames} frames for {count}")
        return track, None

    return make, source, None


def phonetic_maker(samples: np.ndarray, count: int) -> tuple[ArticulationTrack, list]:
    phones, track = phonetic_phones_and_track(samples, FPS, count)
    return track, phones


def run_front_end(make: TrackMaker, clips: list[Clip]) -> tuple[list[ArticulationTrack], list, float]:
    """Tracks and phones of every clip, and compute seconds per second of audio (after a warm-up)."""
    make(clips[0].samples[: SAMPLE_RATE], audio_frame_count(min(len(clips[0].samples), SAMPLE_RATE), SAMPLE_RATE, FPS))
    tracks, phones, spent = [], [], 0.0
    for clip in clips:
        clock = time.perf_counter()
        track, found = make(clip.samples, clip.truth.num_frames)
        spent += time.perf_counter() - clock
        tracks.append(track)
        phones.append(found)
    return tracks, phones, spent / sum(c.seconds for c in clips)


# --- figures --------------------------------------------------------------------------------
def _segment_frames(segment, count: int) -> np.ndarray:
    """Frames i whose time i / FPS lies in [start − 1 frame, end + 1 frame] of a phone segment."""
    first = max(0, int(np.ceil(segment.start * FPS - 1.0 - 1e-9)))
    return np.arange(first, min(count, int(np.floor(segment.end * FPS + 1.0 + 1e-9)) + 1))


def closure_counts(track: ArticulationTrack, phones: list) -> tuple[int, int, int, int]:
    """(bilabials closed, bilabials, vowels closed at their middle frame, vowels) of one clip."""
    close = track["lip_close"]
    count = track.num_frames
    bilabial_hits = bilabials = vowel_hits = vowels = 0
    for segment in phones:
        if segment.phone in BILABIALS:
            frames = _segment_frames(segment, count)
            if len(frames):
                bilabials += 1
                bilabial_hits += int(close[frames].max() > CLOSED)
        elif segment.phone in VOWELS:
            middle = int(round(0.5 * (segment.start + segment.end) * FPS))
            if middle < count:
                vowels += 1
                vowel_hits += int(close[middle] > CLOSED)
    return bilabial_hits, bilabials, vowel_hits, vowels


def figures(clips: list[Clip], tracks: list[ArticulationTrack], phones: list | None, seconds_per_second: float | None) -> dict:
    """The figures of one front end over one set (see the module docstring)."""
    predicted = np.concatenate([t.array(ARTICULATION_CHANNELS) for t in tracks]).astype(np.float64)
    truth = np.concatenate([c.truth.array(ARTICULATION_CHANNELS) for c in clips]).astype(np.float64)
    pearson = {name: metrics.pearson(predicted[:, i], truth[:, i]) for i, name in enumerate(ARTICULATION_CHANNELS)}
    rmse = {name: float(np.sqrt(np.mean((predicted[:, i] - truth[:, i]) ** 2))) for i, name in enumerate(ARTICULATION_CHANNELS)}
    counts = np.array([closure_counts(t, c.phones) for t, c in zip(tracks, clips)]).sum(axis=0)
    jaw = [metrics.pearson(t["jaw_open"], c.envelope) for t, c in zip(tracks, clips)]
    viseme = None
    if phones is not None and all(p is not None for p in phones):
        agreement = [viseme_agreement(found, c.phones) for found, c in zip(phones, clips)]
        viseme = float(np.average(agreement, weights=[c.seconds for c in clips]))
    return {
        "pearson": pearson, "pearson_mean": float(np.nanmean(list(pearson.values()))),
        "rmse": rmse, "rmse_mean": float(np.mean(list(rmse.values()))),
        "viseme_agreement": viseme,
        "bilabial_closure_recall": float(counts[0] / counts[1]) if counts[1] else None,
        "bilabials": int(counts[1]),
        "vowel_false_closure": float(counts[2] / counts[3]) if counts[3] else None,
        "jaw_envelope_r": float(np.nanmean(jaw)) if np.isfinite(jaw).any() else None,
        "seconds_per_audio_second": seconds_per_second,
    }


def evaluate_set(clips: list[Clip], makers: dict[str, TrackMaker], weights: dict[str, float] | None) -> tuple[dict, dict]:
    """({front end: figures} including "truth" as reference and "combined" when weights, {name: tracks})."""
    results, tracks, phones, speed = {}, {}, {}, {}
    for name, make in makers.items():
        tracks[name], phones[name], speed[name] = run_front_end(make, clips)
    if weights is not None and {"mel", "phonetic"} <= set(tracks):
        clock = time.perf_counter()
        tracks["combined"] = [combine_tracks(m, p, weights) for m, p in zip(tracks["mel"], tracks["phonetic"])]
        combining = (time.perf_counter() - clock) / sum(c.seconds for c in clips)
        phones["combined"], speed["combined"] = None, speed["mel"] + speed["phonetic"] + combining
    for name in tracks:
        has_phones = phones[name] is not None and all(p is not None for p in phones[name])
        results[name] = figures(clips, tracks[name], phones[name] if has_phones else None, speed[name])
    results["truth"] = figures(clips, [c.truth for c in clips], [c.phones for c in clips], None)
    return results, tracks


def per_clip(clips: list[Clip], tracks: dict[str, list[ArticulationTrack]]) -> dict:
    """{clip: {"seconds", front end: {pearson_mean, rmse_mean}}}: which clips each front end finds hard."""
    table = {}
    for i, clip in enumerate(clips):
        table[clip.name] = {"seconds": clip.seconds}
        for name, made in tracks.items():
            record = figures([clip], [made[i]], None, None)
            table[clip.name][name] = {"pearson_mean": record["pearson_mean"], "rmse_mean": record["rmse_mean"]}
    return table


# --- report ---------------------------------------------------------------------------------
ROWS = ([("pearson_mean", "Pearson r vs truth, mean of 5 channels")]
        + [(f"pearson.{n}", f"  r {n}") for n in ARTICULATION_CHANNELS]
        + [("rmse_mean", "RMSE vs truth, mean of 5 channels")]
        + [(f"rmse.{n}", f"  RMSE {n}") for n in ARTICULATION_CHANNELS]
        + [("viseme_agreement", "viseme agreement (frames)"), ("bilabial_closure_recall", "p/b/m closure recall"),
           ("vowel_false_closure", "vowels with lips closed"), ("jaw_envelope_r", "jaw_open vs envelope r"),
           ("seconds_per_audio_second", "compute s per s of audio")])


def _value(record: dict, key: str) -> Any:
    for part in key.split("."):
        record = record.get(part) if isinstance(record, dict) else None
    return record


def markdown_table(title: str, results: dict) -> str:
    names = list(results)
    lines = [f"### {title}", "", "| figure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key, label in ROWS:
        cells = []
        for name in names:
            value = _value(results[name], key)
            cells.append("—" if value is None or (isinstance(value, float) and not np.isfinite(value))
                         else (f"{value:.4f}" if key.startswith("seconds") else f"{value:.3f}"))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(real: dict, val: dict | None, note: str | None, real_clip_names: list[str],
            against_alignment: dict | None = None) -> tuple[str, str]:
    """(best front end on the real recordings, a short paragraph saying why, from the figures)."""
    candidates = [name for name in real if name != "truth"]
    real = {name: {k: (float("nan") if v is None else v) for k, v in record.items()} for name, record in real.items()}
    # Shape first (r, two decimals: finer differences are noise over 40 s of speech), then error.
    best = max(candidates, key=lambda n: (round(real[n]["pearson_mean"], 2), -real[n]["rmse_mean"]))
    b = real[best]
    lead = "is best" if len(candidates) > 1 else "is the only one evaluated"
    text = (f"On the held-out real recordings the {best} front end {lead}: mean Pearson r {b['pearson_mean']:.2f} "
            f"with the forced-alignment track (RMSE {b['rmse_mean']:.3f}), p/b/m closure recall "
            f"{b['bilabial_closure_recall']:.2f}, jaw-envelope r {b['jaw_envelope_r']:.2f} (truth track "
            f"{real['truth']['jaw_envelope_r']:.2f}), {b['seconds_per_audio_second'] * 1000:.0f} ms of compute per "
            "second of audio.")
    for other in candidates:
        if other != best:
            o = real[other]
            text += (f" {other}: r {o['pearson_mean']:.3f}, RMSE {o['rmse_mean']:.3f}, closure recall "
                     f"{o['bilabial_closure_recall']:.2f}, vowels with lips closed {o['vowel_false_closure']:.3f}.")
    if len(candidates) > 1:
        runner_up = max((n for n in candidates if n != best), key=lambda n: real[n]["pearson_mean"])
        margin = b["pearson_mean"] - real[runner_up]["pearson_mean"]
        if margin < 0.02:
            text += (f" The margin over {runner_up} is small (Δr {margin:+.3f}, {real['truth']['bilabials']} p/b/m "
                     f"segments in {len(real_clip_names)} clips): on the real set the two are on a par.")
        closer = max(candidates, key=lambda n: real[n]["bilabial_closure_recall"])
        if real[closer]["bilabial_closure_recall"] > b["bilabial_closure_recall"] + 1e-9:
            text += (f" {closer} closes the lips at more p/b/m ({real[closer]['bilabial_closure_recall']:.2f} vs "
                     f"{b['bilabial_closure_recall']:.2f}) while {best} closes them at fewer vowels "
                     f"({b['vowel_false_closure']:.3f} vs {real[closer]['vowel_false_closure']:.3f}).")
    if val is not None and "mel" in real and "mel" in val:
        drop = val["mel"]["pearson_mean"] - real["mel"]["pearson_mean"]
        if drop > 0.05:
            text += (f" The learned mel front end falls from r {val['mel']['pearson_mean']:.2f} on the synthetic "
                     f"validation voices to {real['mel']['pearson_mean']:.2f} on real speech: it learned synthetic "
                     "voices' acoustics.")
        else:
            text += (f" The learned mel front end holds up on real speech (r {val['mel']['pearson_mean']:.2f} on the "
                     f"validation voices, {real['mel']['pearson_mean']:.2f} on real speech).")
        text += (f" Phonetic: r {val['phonetic']['pearson_mean']:.2f} on the validation voices, "
                 f"{real['phonetic']['pearson_mean']:.2f} on real speech.")
    if val is not None and "combined" in val:
        text += (f" On the validation voices, whose truth is independent of both front ends, the combination "
                 f"reaches r {val['combined']['pearson_mean']:.2f} (RMSE {val['combined']['rmse_mean']:.3f}) against "
                 f"mel {val['mel']['pearson_mean']:.2f} and phonetic {val['phonetic']['pearson_mean']:.2f}.")
    if "combined" in real:
        c = real["combined"]
        beats = all(c["pearson_mean"] >= real[n]["pearson_mean"] and c["rmse_mean"] <= real[n]["rmse_mean"]
                    for n in ("mel", "phonetic"))
        text += (" The combination (weights fitted on the validation voices only) "
                 + ("beats both on r and RMSE: their errors differ enough to average out." if beats else
                    "does not beat the better single front end on both r and RMSE."))
        if c["bilabial_closure_recall"] < real["phonetic"]["bilabial_closure_recall"]:
            text += " A weighted mean lowers a closure that only one front end sees below the 0.5 mark."
    if val is not None and "forced alignment" in val:
        text += (f" How exact the real set's truth is: on the validation voices a pocketsphinx forced alignment "
                 f"of the transcript reaches r {val['forced alignment']['pearson_mean']:.2f} (RMSE "
                 f"{val['forced alignment']['rmse_mean']:.3f}) against the synthesiser's phone timing.")
    text += (" Caveat: the real recordings' truth comes from a pocketsphinx forced alignment, the acoustic model "
             "the phonetic front end decodes with")
    if against_alignment and val is not None and {"mel", "phonetic"} <= set(against_alignment):
        shift = {name: r["pearson_vs_alignment"] - r["pearson_vs_exact"] for name, r in against_alignment.items()}
        text += (f". Measured where the exact timing is known (validation voices), scoring against such an alignment "
                 f"instead moves phonetic's r by {shift['phonetic']:+.3f} and mel's by {shift['mel']:+.3f}: it favours "
                 f"the phonetic front end by {shift['phonetic'] - shift['mel']:+.3f} in r.")
    else:
        text += ", which may favour it; the validation voices' truth is the synthesiser's own phone timing."
    if note:
        text += f" Note: {note}."
    return best, text


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="articulated model checkpoint")
    parser.add_argument("--lightning-articulator", type=Path, default=None,
                        help="a SpeechArticulatorModule checkpoint (Lightning last.ckpt) used instead of --checkpoint")
    parser.add_argument("--val-corpus", type=Path, default=DEFAULT_VAL_CORPUS,
                        help="speech corpus (build_speech_corpus) of held-out synthetic voices: picks the weights")
    parser.add_argument("--val-clips", type=int, default=100, help="validation utterances to use")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pocketsphinx uses one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    started = time.perf_counter()
    try:
        mel, source, note = mel_front_end(args)
        makers: dict[str, TrackMaker] = {"phonetic": phonetic_maker} if mel is None else {"mel": mel, "phonetic": phonetic_maker}
        val = None
        weights = None
        if args.val_corpus is not None and (args.val_corpus / "manifest.json").is_file():
            val_set = val_clips(args.val_corpus, args.val_clips)
            val, val_tracks = evaluate_set(val_set, makers, None)
            if mel is not None:
                weights = fit_combination_weights(val_tracks["mel"], val_tracks["phonetic"], [c.truth for c in val_set])
                combined = [combine_tracks(m, p, weights) for m, p in zip(val_tracks["mel"], val_tracks["phonetic"])]
                val["combined"] = figures(val_set, combined, None, val["mel"]["seconds_per_audio_second"]
                                          + val["phonetic"]["seconds_per_audio_second"])
                val_tracks["combined"] = combined
            aligned, against_alignment, aligned_count = alignment_reference(val_set, val_tracks)
            if aligned:
                val["forced alignment"] = aligned
            order = ("mel", "phonetic", "combined", "forced alignment", "truth")
            val = {k: val[k] for k in order if k in val}
        elif mel is not None:
            note = ((note + "; ") if note else "") + f"no validation corpus at {args.val_corpus}: no combination evaluated"
        real_set = real_clips()
        real, real_tracks = evaluate_set(real_set, makers, weights)
    except ScanTalkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    best, paragraph = verdict(real, val, note, [c.name for c in real_set],
                              against_alignment if val is not None else None)
    tables = [markdown_table(f"Real recordings ({len(real_set)} clips, {sum(c.seconds for c in real_set):.0f} s)", real)]
    if val is not None:
        tables.append(markdown_table(f"Validation voices ({len(val_set)} utterances of {args.val_corpus})", val))
    print("\n\n".join(tables))
    if weights is not None:
        print("\ncombination weights (share of mel): " + ", ".join(f"{k} {v:.1f}" for k, v in weights.items()))
    print("\n" + paragraph)
    payload = {
        "script": "experiments/evaluate/frontends.py",
        "settings": {"fps": FPS, "mel_source": source, "note": note, "val_corpus": str(args.val_corpus),
                     "val_clips": len(val_set) if val is not None else 0, "real_clips": [c.name for c in real_set],
                     "real_seconds": sum(c.seconds for c in real_set), "threads": args.threads,
                     "closed_threshold": CLOSED, "machine": platform.platform(), "torch": torch.__version__},
        "val_forced_alignment_clips": aligned_count if val is not None else 0,
        "val_scored_against_forced_alignment": against_alignment if val is not None else None,
        "combination_weights": weights, "real": real,
        "real_per_clip": per_clip(real_set, real_tracks), "val": val, "best": best, "verdict": paragraph,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(_json_safe(payload), indent=1))
    print(f"\nwrote {args.out} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
