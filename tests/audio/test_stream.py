"""Audio pushed chunk by chunk is mixed down and resampled exactly as the whole recording is."""

from __future__ import annotations

import numpy as np
import pytest

from scantalk.audio.io import prepare_audio
from scantalk.audio.stream import StreamResampler
from scantalk.errors import AudioError


def _chunked(resampler: StreamResampler, samples: np.ndarray, sizes: list[int]) -> np.ndarray:
    out, start, turn = [], 0, 0
    while start < len(samples):
        size = sizes[turn % len(sizes)]
        out.append(resampler.push(samples[start:start + size]))
        start, turn = start + size, turn + 1
    out.append(resampler.close())
    return np.concatenate(out)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("sizes", [[1, 7, 333], [4410], [5000, 3]])
def test_chunks_of_any_size_resample_as_the_whole_recording(rate, sizes):
    rng = np.random.default_rng(rate)
    samples = (0.1 * rng.standard_normal(rate)).astype(np.float32)
    whole = prepare_audio(samples, rate)
    streamed = _chunked(StreamResampler(rate), samples, sizes)
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_stereo_integer_chunks_are_mixed_down_and_scaled():
    rng = np.random.default_rng(1)
    stereo = (rng.standard_normal((48000, 2)) * 3000).astype(np.int16)
    streamed = _chunked(StreamResampler(48000), stereo, [960])
    np.testing.assert_allclose(streamed, prepare_audio(stereo, 48000), atol=1e-6)


def test_a_chunk_with_nan_is_refused_by_name():
    resampler = StreamResampler(16000)
    with pytest.raises(AudioError, match="NaN"):
        resampler.push(np.array([0.0, np.nan, 0.1]))


def test_pushing_after_close_is_refused():
    resampler = StreamResampler(44100)
    resampler.push(np.zeros(100))
    resampler.close()
    with pytest.raises(AudioError, match="closed"):
        resampler.push(np.zeros(100))
