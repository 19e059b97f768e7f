"""Augmentation changes how speech sounds but keeps its phone timing right."""

from __future__ import annotations

import numpy as np
import pytest

from scantalk.synthesis.speech.augment import augment, change_rate, pitch_shift, time_stretch
from scantalk.synthesis.speech.phones import PhoneSegment, Utterance

SR = 16000


def _tone_utterance() -> Utterance:
    """0.3 s silence, 0.6 s of a 200 Hz tone ("AA"), 0.3 s silence: the phones are known exactly."""
    t = np.arange(int(0.6 * SR)) / SR
    samples = np.concatenate([np.zeros(int(0.3 * SR)), 0.5 * np.sin(2 * np.pi * 200 * t), np.zeros(int(0.3 * SR))])
    phones = [PhoneSegment("SIL", 0.0, 0.3), PhoneSegment("AA", 0.3, 0.9), PhoneSegment("SIL", 0.9, 1.2)]
    return Utterance(samples=samples.astype(np.float32), phones=phones, text="ah", voice="test")


def _active_span(samples: np.ndarray) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(samples) > 0.05)
    return loud[0] / SR, loud[-1] / SR


def _dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / SR)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_rate_change_scales_the_audio_and_every_boundary_together(rate):
    utt = _tone_utterance()
    faster = change_rate(utt, rate)
    assert len(faster.samples) == round(len(utt.samples) / rate)
    assert faster.phones[-1].end == pytest.approx(faster.duration)
    onset, offset = _active_span(faster.samples)
    assert onset == pytest.approx(faster.phones[1].start, abs=0.02)
    assert offset == pytest.approx(faster.phones[1].end, abs=0.02)
    # Tempo, not pitch: the tone stays at 200 Hz.
    middle = faster.samples[int(faster.phones[1].start * SR) + 800 : int(faster.phones[1].end * SR) - 800]
    assert _dominant_hz(middle) == pytest.approx(200, rel=0.05)


def test_pitch_shift_changes_pitch_not_length_or_timing():
    utt = _tone_utterance()
    up = pitch_shift(utt.samples, 2 ** (3 / 12))
    assert len(up) == len(utt.samples)
    onset, offset = _active_span(up)
    assert onset == pytest.approx(0.3, abs=0.02) and offset == pytest.approx(0.9, abs=0.02)
    assert _dominant_hz(up[int(0.4 * SR) : int(0.8 * SR)]) == pytest.approx(200 * 2 ** (3 / 12), rel=0.03)


def test_time_stretch_of_empty_and_tiny_audio_is_safe():
    assert len(time_stretch(np.zeros(0), 1.2)) == 0
    assert len(time_stretch(np.ones(100), 0.5)) == 200


@pytest.mark.parametrize("seed", range(6))
def test_augment_keeps_length_and_timing_consistent(seed):
    utt = _tone_utterance()
    out = augment(utt, np.random.default_rng(seed))
    assert out.samples.dtype == np.float32 and np.all(np.isfinite(out.samples))
    assert np.max(np.abs(out.samples)) <= 1.0
    assert out.phones[0].start == 0.0 and out.phones[-1].end == pytest.approx(len(out.samples) / SR)
    assert [p.phone for p in out.phones] == ["SIL", "AA", "SIL"]
    rate = out.meta["augment"].get("rate", 1.0)
    assert out.phones[1].start == pytest.approx(0.3 * len(out.samples) / len(utt.samples))
    assert len(out.samples) == round(len(utt.samples) / rate)
    assert utt.phones[1].start == 0.3  # the input is untouched


def test_augment_is_reproducible_and_varied():
    utt = _tone_utterance()
    a, b = augment(utt, np.random.default_rng(7)), augment(utt, np.random.default_rng(7))
    assert np.array_equal(a.samples, b.samples) and a.meta == b.meta
    kinds = set()
    for seed in range(40):
        kinds |= set(augment(utt, np.random.default_rng(seed)).meta["augment"])
    assert {"rate", "pitch_semitones", "reverb_rt60_s", "noise_snr_db", "round_trip_hz", "clip_drive", "gain_db"} <= kinds
    assert {"lowpass_hz", "highpass_hz"} & kinds
