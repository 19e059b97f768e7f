"""Noisy recordings: how loud the speech is over the noise floor, and a quieter floor for the recogniser.

A recording made a metre from a fan or a busy street fills its pauses with noise as loud as the
speech's consonants, and pocketsphinx then hears a third of the speech or less (measured: 0.32 of
the phone time at 0 dB SNR). `speech_to_noise_db` estimates how far the loud part of a recording
stands over its floor; `spectral_subtraction` lowers a steady floor (fan, hum, hiss, a crowd far
away) so that the recogniser hears more of the words. It also dulls weak consonants, so it is
only worth it on very noisy speech (`NOISY_DB`).

```python
from scantalk.audio.noise import NOISY_DB, spectral_subtraction, speech_to_noise_db

if speech_to_noise_db(samples) < NOISY_DB:
    samples = spectral_subtraction(samples)
```
"""

from __future__ import annotations

import numpy as np

from scantalk.audio.io import SAMPLE_RATE

#: Decibels of `speech_to_noise_db` below which a recording counts as very noisy. Measured on the
#: real test recordings: clean ones 24-41 dB, with pink noise or babble at 10 dB SNR 15-20 dB,
#: at 0 dB SNR 7-11 dB.
NOISY_DB = 13.0

#: Seconds per frame of `speech_to_noise_db`.
LEVEL_FRAME_S = 0.02


def speech_to_noise_db(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """How far the loud frames of `samples` stand over its quiet ones, in dB: the 95th minus the
    10th percentile of the power of 20 ms frames (pauses hold the 10th; vowels the 95th). A
    recording shorter than two frames reads as clean (infinite)."""
    hop = max(1, int(round(LEVEL_FRAME_S * sample_rate)))
    count = len(samples) // hop
    if count < 2:
        return float("inf")
    power = np.square(np.asarray(samples[: count * hop], np.float64)).reshape(count, hop).mean(axis=1)
    level = 10.0 * np.log10(power + 1e-12)
    return float(np.percentile(level, 95) - np.percentile(level, 10))


#: Short-time Fourier frame (samples at 16 kHz: 32 ms) and hop of `spectral_subtraction`.
FRAME, HOP = 512, 128
#: The floor's power per frequency: this percentile of that frequency's power over time.
FLOOR_PERCENTILE = 10.0
#: How much of the floor is taken away (more than once: the floor's own power varies) and the
#: least gain left (keeps a trace of everything, against the "musical noise" of empty bins).
OVER_SUBTRACTION, LEAST_GAIN = 1.5, 0.1


def spectral_subtraction(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(N,) float `samples` with their steady noise floor lowered: each frequency's gain is
    1 − 1.5 × floor / power (at least 0.1), smoothed over three frames, where the floor is that
    frequency's 10th-percentile power over the whole recording. Returns (N,) float32."""
    from scipy.signal import istft, stft

    x = np.asarray(samples, np.float32)
    if len(x) < FRAME:
        return x.copy()
    _, _, spectrum = stft(x, sample_rate, nperseg=FRAME, noverlap=FRAME - HOP)
    power = np.abs(spectrum) ** 2
    floor = np.percentile(power, FLOOR_PERCENTILE, axis=1, keepdims=True)
    gain = np.maximum(LEAST_GAIN, 1.0 - OVER_SUBTRACTION * floor / np.maximum(power, 1e-20))
    kernel = np.ones(3) / 3.0
    gain = np.apply_along_axis(lambda row: np.convolve(row, kernel, mode="same"), 1, gain)
    _, cleaned = istft(spectrum * gain, sample_rate, nperseg=FRAME, noverlap=FRAME - HOP)
    out = np.zeros(len(x), np.float32)
    out[: min(len(x), len(cleaned))] = cleaned[: len(x)]
    return out
