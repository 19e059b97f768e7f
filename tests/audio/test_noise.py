"""Very noisy speech: the speech-to-noise estimate and the floor lowered for the recogniser."""

from __future__ import annotations

import numpy as np
import pytest

from scantalk.audio.noise import NOISY_DB, spectral_subtraction, speech_to_noise_db

RATE = 16000


def _syllables(seconds: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Voiced bursts (200 Hz and four harmonics) 0.2 s on, 0.2 s off; and where they sound."""
    t = np.arange(int(seconds * RATE)) / RATE
    on = np.floor(t / 0.2) % 2 == 0
    return 0.3 * on * sum(np.sin(2 * np.pi * 200 * k * t) / k for k in range(1, 6)), on


def _level_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64))))


def test_the_estimate_tells_clean_speech_from_speech_under_noise_as_loud():
    voiced, on = _syllables()
    rng = np.random.default_rng(0)
    clean = (voiced + 1e-4 * rng.standard_normal(len(voiced))).astype(np.float32)
    noisy = (voiced + np.sqrt(np.mean(voiced[on] ** 2)) * rng.standard_normal(len(voiced))).astype(np.float32)
    assert speech_to_noise_db(clean) > 40.0 > NOISY_DB
    assert speech_to_noise_db(noisy) < NOISY_DB
    assert speech_to_noise_db(clean[:300]) == float("inf")  # shorter than two frames: nothing to tell


def test_subtraction_lowers_the_floor_between_syllables_more_than_the_syllables():
    voiced, on = _syllables()
    noise = 0.05 * np.random.default_rng(1).standard_normal(len(voiced))
    noisy = (voiced + noise).astype(np.float32)
    cleaned = spectral_subtraction(noisy)
    assert cleaned.shape == noisy.shape and cleaned.dtype == np.float32
    # Away from the bursts' edges (a frame is 32 ms): the pauses lose far more than the bursts.
    t = np.arange(len(voiced)) / RATE
    inner = np.abs((t % 0.2) - 0.1) < 0.06
    pause, burst = ~on & inner, on & inner
    pause_drop = _level_db(noisy[pause]) - _level_db(cleaned[pause])
    burst_drop = _level_db(noisy[burst]) - _level_db(cleaned[burst])
    assert pause_drop > 1.5 and burst_drop < 0.5 * pause_drop
    assert np.array_equal(spectral_subtraction(noisy[:100]), noisy[:100])  # too short to have a floor


@pytest.mark.slow
def test_only_very_noisy_speech_is_heard_through_the_subtraction(papa_spoken, monkeypatch):
    import scantalk.articulation.sphinx as sphinx

    calls = []
    real = sphinx.spectral_subtraction
    monkeypatch.setattr(sphinx, "spectral_subtraction", lambda x, rate: calls.append(len(x)) or real(x, rate))
    speech = papa_spoken.samples.astype(np.float32)
    sphinx.decode_phones(speech, method="phones")
    assert calls == []
    level = np.sqrt(np.mean(np.square(speech[np.abs(speech) > 0.01])))
    noisy = (speech + level * np.random.default_rng(2).standard_normal(len(speech))).astype(np.float32)
    phones = sphinx.decode_phones(noisy, method="phones")
    assert calls == [len(noisy)]
    assert phones[0].start == 0.0 and phones[-1].end == pytest.approx(len(noisy) / RATE)
