"""Audio that arrives in chunks: mixed down and resampled to 16 kHz as it comes.

`StreamResampler` gives, chunk by chunk, exactly the samples `prepare_audio` gives for the whole
recording (the same polyphase filter, `scipy.signal.resample_poly`), holding back only the few
samples whose filter still needs input that has not arrived; `close()` releases them.

```python
resampler = StreamResampler(44100)
for chunk in microphone_chunks:          # (n,) or (n, channels), any n
    speech = resampler.push(chunk)       # (m,) float32 at 16 kHz, m ≈ n · 16000 / 44100
tail = resampler.close()
```
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import resample_poly

from scantalk.audio.io import SAMPLE_RATE, _positive_rate, _to_float_mono
from scantalk.errors import AudioError


def audio_chunk(samples: np.ndarray, name: str = "audio chunk") -> np.ndarray:
    """One chunk of a stream as (n,) float64 mono in full-scale units (silence is fine here).

    Raises:
        AudioError: a wrong shape, or NaN / inf samples.
    """
    samples = np.asarray(samples)
    if samples.size == 0:
        return np.zeros(0)
    if samples.ndim == 2 and samples.shape[0] == 1 < samples.shape[1]:
        samples = samples[0]  # a (1, n) row from a one-channel device
    mono = _to_float_mono(samples, name)
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"the {name} holds {int(np.count_nonzero(~np.isfinite(mono)))} NaN/inf samples; "
                         "the audio source is broken (check the microphone driver or the decoder feeding it)")
    return mono


class StreamResampler:
    """Chunks at `sample_rate` Hz in, 16 kHz mono float32 out, identical to resampling at once.

    Args:
        sample_rate: Hz of the chunks pushed (a positive whole number).
        target_rate: Hz out (default 16 kHz, the rate of every speech model here).

    State is bounded: the samples held back are fewer than a filter's length (tens of samples).
    """

    def __init__(self, sample_rate: int, target_rate: int = SAMPLE_RATE) -> None:
        self.sample_rate = _positive_rate(sample_rate, "sample rate of the audio stream")
        self.target_rate = _positive_rate(target_rate, "target sample rate")
        divisor = math.gcd(self.sample_rate, self.target_rate)
        self._up, self._down = self.target_rate // divisor, self.sample_rate // divisor
        # resample_poly's filter reaches 10 · max(up, down) upsampled samples either side.
        self._reach = int(math.ceil(10 * max(self._up, self._down) / self._up)) + 2
        self._buffer = np.zeros(0)
        self._buffer_start = 0  # input index of _buffer[0]; a multiple of _down
        self._received = 0  # input samples pushed so far
        self._sent = 0  # output samples returned so far
        self._closed = False

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Resample one chunk ((n,) or (n, channels), floats or integer PCM) → (m,) float32."""
        if self._closed:
            raise AudioError("this audio stream was closed; start a new one to push more audio")
        mono = audio_chunk(samples)
        if self._up == self._down:
            self._sent += len(mono)
            return mono.astype(np.float32)
        self._buffer = np.concatenate([self._buffer, mono])
        self._received += len(mono)
        # Output k sits at input position k · down / up; its filter needs input up to there + reach.
        ready = max(self._sent, int(math.floor((self._received - 1 - self._reach) * self._up / self._down)) + 1)
        return self._emit(ready)

    def close(self) -> np.ndarray:
        """The samples held back, as resampling the whole recording ends it (zero beyond its end)."""
        if self._closed:
            return np.zeros(0, np.float32)
        self._closed = True
        if self._up == self._down:
            return np.zeros(0, np.float32)
        return self._emit(int(math.ceil(self._received * self._up / self._down)))

    def _emit(self, stop: int) -> np.ndarray:
        """Outputs `_sent` … `stop − 1`, then drop the input no later output needs."""
        if stop <= self._sent:
            return np.zeros(0, np.float32)
        first_output = self._buffer_start * self._up // self._down
        resampled = resample_poly(self._buffer, self._up, self._down)
        wanted = resampled[self._sent - first_output:stop - first_output]
        if len(wanted) < stop - self._sent:  # past the end of the input: zeros, as resample_poly pads
            wanted = np.concatenate([wanted, np.zeros(stop - self._sent - len(wanted))])
        self._sent = stop
        keep_from = max(0, int(math.floor(stop * self._down / self._up)) - self._reach)
        keep_from -= keep_from % self._down
        if keep_from > self._buffer_start:
            self._buffer = self._buffer[keep_from - self._buffer_start:]
            self._buffer_start = keep_from
        return wanted.astype(np.float32)
