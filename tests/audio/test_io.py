"""load_audio / prepare_audio / audio_frame_count: formats, mono mix-down, resampling, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scantalk.audio import audio_frame_count, load_audio, prepare_audio
from scantalk.errors import AudioError, ScanTalkError


def sine(freq_hz: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    """(N,) float32 sine."""
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def peak_frequency(samples: np.ndarray, rate: int) -> float:
    """Frequency (Hz) of the largest FFT magnitude."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1.0 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    ("suffix", "fmt", "subtype", "tolerance"),
    [
        ("wav", "WAV", "PCM_16", 1e-4),
        ("flac", "FLAC", "PCM_16", 1e-4),
        # Vorbis is lossy: compare loosely.
        ("ogg", "OGG", "VORBIS", 0.05),
    ],
)
def test_formats_round_trip_at_16k(tmp_path: Path, suffix: str, fmt: str, subtype: str, tolerance: float) -> None:
    assert subtype in sf.available_subtypes(fmt), f"this libsndfile build cannot write {fmt}/{subtype}"
    audio = sine(440.0, 16000, 0.5)
    path = tmp_path / f"speech.{suffix}"
    sf.write(path, audio, 16000, format=fmt, subtype=subtype)
    loaded = load_audio(path)
    assert loaded.dtype == np.float32 and loaded.ndim == 1
    assert abs(len(loaded) - len(audio)) <= 0.01 * len(audio)
    n = min(len(loaded), len(audio))
    assert np.sqrt(np.mean((loaded[:n] - audio[:n]) ** 2)) < tolerance
    assert peak_frequency(loaded, 16000) == pytest.approx(440.0, abs=4.0)


def test_stereo_is_mixed_down_to_mono(tmp_path: Path) -> None:
    left = sine(300.0, 16000, 0.5, amplitude=0.4)
    right = np.zeros_like(left)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    loaded = load_audio(path)
    assert loaded.shape == left.shape
    np.testing.assert_allclose(loaded, left / 2, atol=1e-6)


def test_44k_is_resampled_to_16k_keeping_frequency(tmp_path: Path) -> None:
    path = tmp_path / "cd.wav"
    sf.write(path, sine(1000.0, 44100, 1.0), 44100, subtype="FLOAT")
    loaded = load_audio(path)
    assert len(loaded) == 16000
    assert peak_frequency(loaded, 16000) == pytest.approx(1000.0, abs=2.0)
    # Amplitude is kept by the polyphase filter (away from the edges).
    assert np.max(np.abs(loaded[1000:-1000])) == pytest.approx(0.5, abs=0.01)


def test_load_audio_honours_other_target_rate(tmp_path: Path) -> None:
    path = tmp_path / "speech.wav"
    sf.write(path, sine(200.0, 16000, 1.0), 16000)
    assert len(load_audio(path, sample_rate=8000)) == 8000


def test_prepare_audio_accepts_channels_last_and_int16() -> None:
    audio = sine(250.0, 22050, 0.5)
    pcm = np.round(audio * 32767).astype(np.int16)
    out = prepare_audio(np.stack([pcm, pcm], axis=1), 22050)
    assert out.dtype == np.float32 and len(out) == 8000
    assert np.max(np.abs(out[500:-500])) == pytest.approx(0.5, abs=0.01)


def test_prepare_audio_rejects_channels_first() -> None:
    audio = sine(250.0, 16000, 0.5)
    with pytest.raises(AudioError, match=r"samples\.T"):
        prepare_audio(np.stack([audio, audio]), 16000, name="mic")


def _write(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    sf.write(path, samples, rate, subtype="FLOAT")
    return path


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.wav", "does not exist"),
        (lambda p: _write_text(p / "notes.wav", "this is text, not audio"), "could not be read"),
        (lambda p: _write(p / "empty.wav", np.zeros(0, dtype=np.float32)), "empty"),
        (lambda p: _write(p / "silent.wav", np.zeros(16000, dtype=np.float32)), "silent"),
        (lambda p: _write(p / "hiss.wav", np.full(16000, 5e-5, dtype=np.float32)), "silent"),
        (lambda p: _write(p / "blip.wav", sine(440.0, 16000, 0.02)), "sub-frame-length"),
        (lambda p: _write(p / "broken.wav", np.where(np.arange(16000) == 5, np.nan, sine(440, 16000, 1.0))), "NaN"),
    ],
    ids=["missing", "not-audio", "empty", "silent", "near-silent", "too-short", "nan"],
)
def test_bad_files_raise_audio_error_naming_the_file(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(AudioError, match=message) as caught:
        load_audio(path)
    assert path.name in str(caught.value)


def test_directory_is_not_audio(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not a file"):
        load_audio(tmp_path)


def test_inf_in_array_names_the_array() -> None:
    audio = sine(440.0, 16000, 0.5)
    audio[10] = np.inf
    with pytest.raises(AudioError, match="clip_07"):
        prepare_audio(audio, 16000, name="clip_07")


def test_just_one_frame_long_is_accepted() -> None:
    audio = sine(440.0, 16000, 0.034)
    assert len(prepare_audio(audio, 16000)) == len(audio)


def test_bad_sample_rate_is_a_scantalk_error() -> None:
    with pytest.raises(ScanTalkError, match="positive whole number"):
        prepare_audio(sine(440.0, 16000, 0.5), 0)


@pytest.mark.parametrize(
    ("num_samples", "rate", "fps", "frames"),
    [(16000, 16000, 30, 30), (16000, 16000, 25, 25), (48000, 16000, 30, 90), (8000, 16000, 30, 15), (600, 16000, 30, 1)],
)
def test_audio_frame_count(num_samples: int, rate: int, fps: float, frames: int) -> None:
    assert audio_frame_count(num_samples, rate, fps) == frames


def test_audio_frame_count_rejects_sub_frame_audio() -> None:
    with pytest.raises(AudioError, match="shorter than one frame"):
        audio_frame_count(100, 16000, 30)


@pytest.mark.parametrize("rate", [96000, 44100, 8000])
def test_a_long_file_streams_block_by_block_to_the_same_samples(tmp_path, monkeypatch, rate):
    import scantalk.audio.io as audio_io

    rng = np.random.default_rng(0)
    t = np.arange(int(rate * 3.3)) / rate
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.normal(size=t.size),
                       0.2 * np.sin(2 * np.pi * 330 * t)], axis=1).astype(np.float32)
    sf.write(tmp_path / "long.wav", stereo, rate, subtype="FLOAT")
    whole = audio_io.prepare_audio(stereo, rate)
    # As a 10-minute file would be read: in blocks (here of 20k frames) with the filter's reach around each.
    monkeypatch.setattr(audio_io, "WHOLE_READ_VALUES", 1000)
    monkeypatch.setattr(audio_io, "_BLOCK_FRAMES", 20000)
    streamed = audio_io.load_audio(tmp_path / "long.wav")
    assert streamed.shape == whole.shape and streamed.dtype == np.float32
    np.testing.assert_allclose(streamed, whole, atol=1e-6)
