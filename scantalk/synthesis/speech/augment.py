"""Augmenting speech so a model trained on a few synthetic voices hears the variety users record.

Everything is numpy/scipy. Time-changing operations (tempo, pitch) keep the phone labels right:
tempo rescales every boundary, pitch is a resampling followed by a tempo change back to the
original length, so boundaries stay where they were. The rest (loudness, noise, reverberation,
equalisation, a sample-rate round trip, clipping) keep the length exactly.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

from scantalk.synthesis.speech.phones import SAMPLE_RATE, PhoneSegment, Utterance, scale_segments

#: Sample rates of the round trip: telephone, old recorders, web and studio audio (Hz).
ROUND_TRIP_RATES: tuple[int, ...] = (8000, 11025, 22050, 44100)

# WSOLA frames: 30 ms windows hold two to six pitch periods of an adult voice; searching
# +-8 ms for the best-matching continuation covers one full period of an 125 Hz voice.
_FRAME_S = 0.030
_TOLERANCE_S = 0.008


def time_stretch(samples: np.ndarray, rate: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Change tempo without changing pitch (waveform-similarity overlap-add, WSOLA).

    Args:
        samples: (N,) float mono audio.
        rate: speed factor; 1.25 plays 25 % faster (shorter output).
        sample_rate: Hz.

    Returns:
        (round(N / rate),) float32 audio.
    """
    samples = np.asarray(samples, dtype=np.float64)
    out_length = int(round(len(samples) / rate))
    frame = max(16, int(round(_FRAME_S * sample_rate)) // 2 * 2)
    hop_out = frame // 2
    hop_in = hop_out * rate
    tolerance = int(round(_TOLERANCE_S * sample_rate))
    window = np.hanning(frame)
    pad = frame + tolerance + hop_out
    padded = np.concatenate([np.zeros(pad), samples, np.zeros(pad + int(hop_in) * 2 + frame)])
    num_frames = out_length // hop_out + 2
    output = np.zeros(num_frames * hop_out + frame)
    weight = np.zeros_like(output)
    previous = pad  # input position (in `padded`) of the last frame written
    for index in range(num_frames):
        nominal = pad + int(round(index * hop_in))
        if index == 0:
            position = nominal
        else:
            # Pick the input frame near its nominal place that best continues the previous one.
            natural = padded[previous + hop_out : previous + hop_out + frame]
            lo = max(0, nominal - tolerance)
            region = padded[lo : nominal + tolerance + frame]
            scores = np.correlate(region, natural, mode="valid")
            position = lo + int(np.argmax(scores)) if np.any(scores) else nominal
        start = index * hop_out
        output[start : start + frame] += window * padded[position : position + frame]
        weight[start : start + frame] += window
        previous = position
    # Where windows overlap partially (the first half-frame) the weight undoes the taper.
    output = output / np.maximum(weight, 1e-3)
    return output[:out_length].astype(np.float32)


def _resample(samples: np.ndarray, factor: float) -> np.ndarray:
    """Resample by `factor` (output length about N * factor) with a polyphase filter."""
    ratio = Fraction(factor).limit_denominator(200)
    return resample_poly(samples, ratio.numerator, ratio.denominator)


def _fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    if len(samples) >= length:
        return samples[:length]
    return np.concatenate([samples, np.zeros(length - len(samples), dtype=samples.dtype)])


def pitch_shift(samples: np.ndarray, factor: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Raise (factor > 1) or lower the pitch, keeping the length and every phone's timing.

    Args:
        samples: (N,) float mono audio.
        factor: frequency ratio, e.g. 2 ** (3 / 12) for three semitones up.
        sample_rate: Hz.

    Returns:
        (N,) float32 audio.
    """
    # Resampling by 1/factor raises the pitch and shortens the clip by the same factor; the
    # time stretch restores the duration uniformly, so phone boundaries land where they were.
    squeezed = _resample(np.asarray(samples, dtype=np.float64), 1.0 / factor)
    restored = time_stretch(squeezed, len(squeezed) / max(len(samples), 1), sample_rate)
    return _fit_length(restored, len(samples)).astype(np.float32)


def change_rate(utt: Utterance, rate: float) -> Utterance:
    """Speak `rate` times faster: audio (N,) → (about N / rate,), every phone time × N' / N."""
    samples = time_stretch(utt.samples, rate, utt.sample_rate)
    factor = len(samples) / max(len(utt.samples), 1)
    return replace(utt, samples=samples, phones=scale_segments(utt.phones, factor))


def _colored_noise(rng: np.random.Generator, length: int, exponent: float) -> np.ndarray:
    """Noise with power ∝ 1 / f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    frequencies = np.maximum(np.fft.rfftfreq(length), 1.0 / length)
    noise = np.fft.irfft(spectrum / frequencies ** (exponent / 2), n=length)
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def _speech_rms(samples: np.ndarray, phones: list[PhoneSegment], sample_rate: int) -> float:
    voiced = np.zeros(len(samples), dtype=bool)
    for segment in phones:
        if segment.phone != "SIL":
            voiced[int(segment.start * sample_rate) : int(segment.end * sample_rate)] = True
    part = samples[voiced] if voiced.any() else samples
    return float(np.sqrt(np.mean(part.astype(np.float64) ** 2))) if len(part) else 0.0


def _room_impulse(rng: np.random.Generator, sample_rate: int, rt60: float) -> np.ndarray:
    """A synthetic room: direct path plus exponentially decaying diffuse noise (-60 dB at `rt60` s)."""
    length = int(rt60 * sample_rate)
    times = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-6.9 * times / rt60)
    tail[: int(0.003 * sample_rate)] = 0.0  # the first reflection arrives a few ms after the direct sound
    impulse = tail * rng.uniform(0.05, 0.3) / max(float(np.sqrt(np.sum(tail**2))), 1e-12)
    impulse[0] = 1.0
    return impulse


def augment(utt: Utterance, rng: np.random.Generator) -> Utterance:
    """A random mix of tempo, pitch, loudness, noise, room, EQ, sample-rate and clipping changes.

    Each operation is applied with its own probability, so some outputs are nearly clean. The
    phone timing stays right: after a tempo change every boundary is rescaled by the new length,
    and no other operation moves the audio in time.

    Args:
        utt: the speech to change (not modified).
        rng: source of randomness; the same seed gives the same result.

    Returns:
        A new `Utterance`; `meta["augment"]` lists what was applied and with which values.
    """
    sr = utt.sample_rate
    applied: dict[str, float | str] = {}
    out = utt
    if rng.random() < 0.5:
        rate = float(rng.uniform(0.8, 1.25))
        out = change_rate(out, rate)
        applied["rate"] = rate
    samples = np.asarray(out.samples, dtype=np.float64)
    if rng.random() < 0.5:
        semitones = float(rng.uniform(-4.0, 4.0))
        samples = pitch_shift(samples, 2.0 ** (semitones / 12.0), sr).astype(np.float64)
        applied["pitch_semitones"] = semitones
    if rng.random() < 0.3:
        # A cheap microphone or a phone line: band-limit from below and/or above.
        if rng.random() < 0.5:
            cutoff = float(rng.uniform(2500.0, 7000.0))
            samples = sosfilt(butter(4, cutoff, "lowpass", fs=sr, output="sos"), samples)
            applied["lowpass_hz"] = cutoff
        else:
            cutoff = float(rng.uniform(60.0, 400.0))
            samples = sosfilt(butter(2, cutoff, "highpass", fs=sr, output="sos"), samples)
            applied["highpass_hz"] = cutoff
    if rng.random() < 0.3:
        rt60 = float(rng.uniform(0.15, 0.7))
        samples = fftconvolve(samples, _room_impulse(rng, sr, rt60))[: len(samples)]
        applied["reverb_rt60_s"] = rt60
    if rng.random() < 0.5:
        snr_db = float(rng.uniform(5.0, 35.0))
        exponent = float(rng.choice([0.0, 1.0, 2.0]))
        level = _speech_rms(samples, out.phones, sr) / (10.0 ** (snr_db / 20.0))
        samples = samples + level * _colored_noise(rng, len(samples), exponent)
        applied["noise_snr_db"] = snr_db
        applied["noise_exponent"] = exponent
    if rng.random() < 0.3:
        rate = int(rng.choice(ROUND_TRIP_RATES))
        there = _resample(samples, rate / sr)
        samples = _fit_length(_resample(there, sr / rate), len(samples))
        applied["round_trip_hz"] = rate
    gain_db = float(rng.uniform(-20.0, 6.0))
    samples = samples * 10.0 ** (gain_db / 20.0)
    applied["gain_db"] = gain_db
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if rng.random() < 0.1 and peak > 0:
        # Overdriven recording: the peak would sit 3-12 dB above full scale.
        drive = 10.0 ** (float(rng.uniform(3.0, 12.0)) / 20.0)
        samples = np.clip(samples * drive / peak, -1.0, 1.0)
        applied["clip_drive"] = drive
    elif peak > 1.0:
        samples = samples / peak  # a gain change alone should not clip
    meta = dict(out.meta)
    meta["augment"] = applied
    return replace(out, samples=samples.astype(np.float32), meta=meta)


def semitones(factor: float) -> float:
    """Pitch factor → semitones (12 per octave)."""
    return 12.0 * math.log2(factor)
