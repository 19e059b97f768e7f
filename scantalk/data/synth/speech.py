"""Speech-like audio and the articulation track it was built from, from one syllable plan.

A plan is a list of timed segments (pauses, plosive closures and bursts, fricatives, a nasal,
vowels with a stress). The audio renders it with a source-filter model at 16 kHz: a
band-limited glottal source (f0 contour 90-220 Hz per speaker) through 3 formant resonators
for vowels, shaped noise for fricatives and bursts. The articulation track renders the same
plan as per-segment targets (vowel identity × stress → jaw/round/spread; plosives → closure),
smoothed by a Gaussian (coarticulation) and sampled at the mesh fps. Motion is therefore a
deterministic, smooth function of what is audible; silence means articulation 0 (rest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import butter, lfilter, sosfilt

from scantalk.audio.io import SAMPLE_RATE
from scantalk.data.synth.motion import ARTICULATION_CHANNELS
from scantalk.errors import AudioError

# (F1, F2, F3) Hz of an adult voice, and (jaw_open, lip_round, lip_spread) targets.
VOWELS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "a": ((730.0, 1090.0, 2440.0), (1.0, 0.0, 0.15)),
    "e": ((530.0, 1840.0, 2480.0), (0.55, 0.0, 0.6)),
    "i": ((270.0, 2290.0, 3010.0), (0.22, 0.0, 1.0)),
    "o": ((570.0, 840.0, 2410.0), (0.6, 0.8, 0.0)),
    "u": ((300.0, 870.0, 2240.0), (0.28, 1.0, 0.0)),
}
ONSETS: tuple[str, ...] = ("", "p", "b", "m", "s", "f")
_ONSET_PROBABILITY = (0.2, 0.16, 0.16, 0.16, 0.16, 0.16)

# Articulation (jaw_open, lip_round, lip_spread, lip_closure) held during consonant segments.
_CONSONANT_TARGETS: dict[str, tuple[float, float, float, float]] = {
    "closure": (0.0, 0.0, 0.0, 1.0),
    "burst": (0.12, 0.0, 0.0, 0.0),
    "m": (0.0, 0.0, 0.0, 0.8),
    "s": (0.12, 0.0, 0.5, 0.0),
    "f": (0.1, 0.0, 0.0, 0.5),  # lower lip against the upper teeth
}
COARTICULATION_SIGMA = 0.03
"""Seconds: Gaussian smoothing of the segment targets (anticipation and carry-over)."""


@dataclass(frozen=True)
class Voice:
    """A speaker: base f0 (Hz) and a formant scale (vocal-tract length)."""

    f0: float
    formant_scale: float


@dataclass(frozen=True)
class Segment:
    """One timed piece of the plan: kind ∈ pause/closure/burst/fricative/nasal/vowel,
    phone (e.g. "a", "p", "s"), start/end seconds, stress 0..1 (loudness of a vowel)."""

    kind: str
    phone: str
    start: float
    end: float
    stress: float = 0.0


@dataclass(frozen=True)
class Utterance:
    """audio (N,) float32 at `sample_rate` Hz · articulation (T, 5) float32 at `fps`
    (channels `ARTICULATION_CHANNELS`) · segments: the plan both were built from."""

    audio: np.ndarray
    articulation: np.ndarray
    segments: tuple[Segment, ...]
    sample_rate: int
    fps: float
    voice: Voice


def sample_voice(seed: int) -> Voice:
    """A speaker voice, the same for the same `seed`."""
    rng = np.random.default_rng([0x5E, int(seed)])
    f0 = float(rng.uniform(90.0, 220.0))
    # Higher voices tend to come with shorter vocal tracts.
    scale = float(np.clip(0.9 + 0.2 * (f0 - 90.0) / 130.0 + rng.normal(0.0, 0.03), 0.88, 1.15))
    return Voice(f0=f0, formant_scale=scale)


def plan_syllables(rng: np.random.Generator, seconds: float) -> list[Segment]:
    """Pauses and CV syllables filling exactly `seconds`, starting and ending in silence."""
    segments: list[Segment] = []
    t = float(rng.uniform(0.15, 0.35))
    segments.append(Segment("pause", "", 0.0, t))
    while True:
        onset = str(rng.choice(ONSETS, p=_ONSET_PROBABILITY))
        vowel = str(rng.choice(list(VOWELS)))
        stress = float(rng.uniform(0.45, 1.0))
        pieces: list[tuple[str, str, float]] = []
        if onset in ("p", "b"):
            pieces += [("closure", onset, rng.uniform(0.05, 0.08)), ("burst", onset, 0.015)]
        elif onset == "m":
            pieces.append(("nasal", "m", rng.uniform(0.06, 0.09)))
        elif onset in ("s", "f"):
            pieces.append(("fricative", onset, rng.uniform(0.08, 0.12)))
        pieces.append(("vowel", vowel, rng.uniform(0.12, 0.26)))
        pause = rng.uniform(0.15, 0.4) if rng.random() < 0.25 else 0.0
        if t + sum(p[2] for p in pieces) + pause > seconds - 0.25:
            break
        for kind, phone, duration in pieces:
            segments.append(Segment(kind, phone, t, t + float(duration), stress))
            t += float(duration)
        if pause:
            segments.append(Segment("pause", "", t, t + float(pause)))
            t += float(pause)
    segments.append(Segment("pause", "", t, float(seconds)))
    return segments


def _resonator(frequency: float, bandwidth: float) -> tuple[np.ndarray, np.ndarray]:
    """All-pole 2nd-order resonance (b, a) at `frequency` Hz with unity gain at DC (Klatt-style)."""
    r = np.exp(-np.pi * bandwidth / SAMPLE_RATE)
    theta = 2.0 * np.pi * frequency / SAMPLE_RATE
    a = np.array([1.0, -2.0 * r * np.cos(theta), r * r])
    return np.array([a.sum()]), a


def _glottal_source(f0: np.ndarray) -> np.ndarray:
    """Band-limited sawtooth (N,) following the f0 contour (N,) Hz, harmonics falling as 1/k.

    One wavetable holds every harmonic that stays below 7.6 kHz at the contour's highest f0
    (so nothing aliases at 16 kHz); reading it at the running phase costs O(N).
    """
    harmonics = max(1, int(7600.0 / f0.max()))
    table_size = 4096
    grid = 2.0 * np.pi * np.arange(table_size + 1) / table_size
    table = sum(np.sin(k * grid) / k for k in range(1, harmonics + 1))
    cycles = np.cumsum(f0) / SAMPLE_RATE
    position = (cycles - np.floor(cycles)) * table_size
    return np.interp(position, np.arange(table_size + 1), table)


def _envelope(length: int, ramp_seconds: float = 0.008) -> np.ndarray:
    ramp = min(length // 2, int(ramp_seconds * SAMPLE_RATE))
    env = np.ones(length)
    if ramp > 0:
        edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        env[:ramp], env[length - ramp:] = edge, edge[::-1]
    return env


def _band_noise(rng: np.random.Generator, length: int, low: float, high: float) -> np.ndarray:
    sos = butter(4, [low, high], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return sosfilt(sos, rng.normal(size=length))


def render_audio(segments: list[Segment], voice: Voice, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """The plan's waveform (num_samples,) float32 in [-1, 1] at 16 kHz."""
    t = np.arange(num_samples) / SAMPLE_RATE
    duration = num_samples / SAMPLE_RATE
    f0 = voice.f0 * (1.08 - 0.16 * t / duration) * (1.0 + 0.06 * np.sin(2.0 * np.pi * 0.7 * t + rng.uniform(0, 6.3)))
    for seg in segments:  # stressed vowels are sung a little higher
        if seg.kind == "vowel":
            f0 *= 1.0 + 0.08 * seg.stress * np.exp(-0.5 * ((t - 0.5 * (seg.start + seg.end)) / 0.08) ** 2)
    source = _glottal_source(f0)
    audio = 3e-4 * rng.normal(size=num_samples)  # a quiet room, never digital silence
    for seg in segments:
        start, end = int(round(seg.start * SAMPLE_RATE)), min(num_samples, int(round(seg.end * SAMPLE_RATE)))
        length = end - start
        if length <= 8 or seg.kind == "pause" or (seg.kind == "closure" and seg.phone == "p"):
            continue
        if seg.kind == "vowel":
            sound = source[start:end]
            formants = np.array(VOWELS[seg.phone][0]) * voice.formant_scale
            for frequency, bandwidth in zip(formants, (90.0, 110.0, 150.0)):
                sound = lfilter(*_resonator(frequency, bandwidth), sound)
            level = 0.08 * seg.stress
        elif seg.kind == "nasal":
            sound = lfilter(*_resonator(270.0 * voice.formant_scale, 100.0), source[start:end])
            level = 0.025
        elif seg.kind == "closure":  # "b": a low voice bar under the closed lips
            sound = lfilter(*_resonator(200.0, 150.0), source[start:end])
            level = 0.006
        elif seg.kind == "burst":
            sound = _band_noise(rng, length, 1000.0, 5000.0) * np.exp(-np.arange(length) / (0.004 * SAMPLE_RATE))
            level = 0.05 if seg.phone == "p" else 0.03
        else:  # fricative
            low, level = (4000.0, 0.03) if seg.phone == "s" else (1500.0, 0.012)
            sound = _band_noise(rng, length, low, 7500.0)
        sound = sound * _envelope(length) if seg.kind != "burst" else sound
        rms = np.sqrt(np.mean(sound**2)) + 1e-12
        audio[start:end] += level * sound / rms
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def render_articulation(segments: list[Segment], num_frames: int, fps: float) -> np.ndarray:
    """The plan's articulation (num_frames, 5) float32, smoothed and sampled at `fps`."""
    step = 0.001  # build targets on a 1 ms grid, smooth, then sample at the frame times
    total = int(np.ceil(segments[-1].end / step)) + 1
    targets = np.zeros((total, len(ARTICULATION_CHANNELS)))
    for seg in segments:
        span = slice(int(round(seg.start / step)), int(round(seg.end / step)))
        if seg.kind == "vowel":
            (jaw, rnd, spread) = VOWELS[seg.phone][1]
            targets[span, :3] = [jaw * (0.55 + 0.45 * seg.stress), rnd * (0.7 + 0.3 * seg.stress), spread]
            targets[span, 4] = seg.stress
        elif seg.kind in ("closure", "burst"):
            targets[span, :4] = _CONSONANT_TARGETS[seg.kind]
        elif seg.kind in ("nasal", "fricative"):
            targets[span, :4] = _CONSONANT_TARGETS[seg.phone]
    smooth = gaussian_filter1d(targets, COARTICULATION_SIGMA / step, axis=0, mode="constant")
    # The brows follow loudness slowly, as speakers' foreheads do.
    smooth[:, 4] = gaussian_filter1d(targets[:, 4], 0.12 / step, mode="constant")
    frame_index = np.minimum(np.round(np.arange(num_frames) / fps / step).astype(int), total - 1)
    return smooth[frame_index].astype(np.float32)


def synth_utterance(seed: int, seconds: float, fps: float = 30.0, voice: Voice | None = None) -> Utterance:
    """A clip of about `seconds` (rounded to whole frames) with its articulation and plan.

    voice: the speaker (default: `sample_voice(seed)`). Same arguments → identical output.
    """
    if seconds < 1.0:
        raise AudioError(f"a synthetic utterance needs at least 1 s of audio, got seconds={seconds}; ask for a longer clip")
    rng = np.random.default_rng([0xA0D10, int(seed)])
    num_frames = int(round(seconds * fps))
    duration = num_frames / fps
    num_samples = int(round(duration * SAMPLE_RATE))
    segments = plan_syllables(rng, duration)
    voice = voice or sample_voice(seed)
    audio = render_audio(segments, voice, num_samples, rng)
    articulation = render_articulation(segments, num_frames, fps)
    return Utterance(audio, articulation, tuple(segments), SAMPLE_RATE, fps, voice)


def synth_speech(seed: int, seconds: float, fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """(audio (N,) float32 at 16 kHz, articulation (T, 5) float32 at `fps`) of one clip."""
    utterance = synth_utterance(seed, seconds, fps)
    return utterance.audio, utterance.articulation


def make_sample_speech(seed: int = 1000, seconds: float = 4.0) -> np.ndarray:
    """A speech-like clip (N,) float32 at 16 kHz that no default dataset trains on."""
    return synth_utterance(seed, seconds).audio
