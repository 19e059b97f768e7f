"""Reading speech audio: any file soundfile reads → float32 mono at the encoders' 16 kHz.

`load_audio` reads a file and hands the samples to `prepare_audio`, which also serves arrays
that are already in memory (a microphone buffer, a VOCASET pickle). Both refuse audio that
cannot drive an animation — empty, silent, shorter than one video frame, NaN/inf — with an
`AudioError` that names the input and says what to do.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from scantalk.errors import AudioError, ScanTalkError

#: Sample rate (Hz) of all speech audio in scantalk: what every encoder expects and every reader returns.
SAMPLE_RATE = 16000

#: Audio shorter than one video frame at 30 fps (about 33 ms) cannot drive even one mesh frame.
MIN_DURATION_S = 1.0 / 30.0

#: A clip whose absolute peak is below this (full scale = 1.0) is treated as silent.
SILENCE_PEAK = 1e-4

#: A clip whose RMS is below this (full scale = 1.0) is treated as silent.
SILENCE_RMS = 1e-5

_FORMATS_HINT = (
    "soundfile (libsndfile) reads wav, flac, ogg/vorbis/opus and, with libsndfile >= 1.1, mp3; "
    "convert other formats first, e.g. `ffmpeg -i input.m4a -ac 1 -ar 16000 output.wav`"
)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file as float32 mono at `sample_rate` Hz.

    Args:
        path: a wav, flac, ogg (or any other format libsndfile reads) file.
        sample_rate: output rate in Hz; files at other rates are resampled (polyphase filter).

    Returns:
        (N,) float32 samples in [-1, 1] full scale, N = duration (s) · `sample_rate`.

    Raises:
        AudioError: the file is missing, not audio, empty, silent, shorter than one video
            frame at 30 fps, or holds NaN/inf samples.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"Audio file {str(path)!r} does not exist; check the path.")
    if not path.is_file():
        raise AudioError(f"Audio path {str(path)!r} is not a file; pass the path of a wav/flac/ogg file.")
    try:
        with sf.SoundFile(str(path)) as handle:
            file_rate = handle.samplerate
            if handle.frames * handle.channels <= WHOLE_READ_VALUES or file_rate == sample_rate:
                # Mixed down block by block: a long stereo file never sits in memory whole.
                mono = np.concatenate([_mono_block(block) for block in handle.blocks(
                    blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True)] or [np.zeros(0, np.float32)])
                return prepare_audio(mono, file_rate, target_rate=sample_rate, name=str(path))
            mono = _streamed_mono(handle, sample_rate, str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioError(
            f"Audio file {str(path)!r} could not be read as audio ({error}); {_FORMATS_HINT}."
        ) from error
    # Checked at the file's rate as it streamed; at 16 kHz now, so only the rate stays to match.
    return prepare_audio(mono, sample_rate, target_rate=sample_rate, name=str(path))


#: Files of up to this many values (frames × channels) are read in one piece.
WHOLE_READ_VALUES = 2**24
_BLOCK_FRAMES = 2**20


def _mono_block(block: np.ndarray) -> np.ndarray:
    """(n, channels) float32 → (n,) float32 mono (the channels' mean, summed in float64)."""
    return block.mean(axis=1, dtype=np.float64).astype(np.float32) if block.shape[1] > 1 else block[:, 0].copy()


def _streamed_mono(handle: sf.SoundFile, target_rate: int, name: str) -> np.ndarray:
    """A long file at another rate, read, mixed down and resampled block by block.

    `resample_poly` on each block with enough of its neighbours around it (the filter's reach,
    rounded to the rate ratio so the output grid lines up) gives the samples it would give on
    the whole signal; memory is a few blocks, not the file.
    """
    rate = _positive_rate(handle.samplerate, f"sample rate of {name!r}")
    divisor = math.gcd(rate, target_rate)
    up, down = target_rate // divisor, rate // divisor
    reach = (10 * max(up, down)) // up + 2  # resample_poly's default filter: ±10·max(up, down) taps at the high rate
    context = -(-reach // down) * down
    block = -(-_BLOCK_FRAMES // down) * down
    total = handle.frames
    pieces, previous = [], np.zeros(0, np.float32)
    start = 0
    while start < total:
        handle.seek(start)
        stop = min(total, start + block)
        ahead = handle.read(min(total, stop + context) - start, dtype="float32", always_2d=True)
        current = _mono_block(ahead)
        if not np.all(np.isfinite(current)):
            raise AudioError(f"Audio {name!r} has NaN/inf samples; the file is corrupted — re-export it.")
        window = np.concatenate([previous[-context:], current])
        lead = len(window) - len(current)
        out = resample_poly(window, up, down)
        first = lead * up // down
        count = -(-(stop - start) * up // down) if stop == total else (stop - start) * up // down
        pieces.append(out[first:first + count].astype(np.float32))
        previous = current[: stop - start]
        start = stop
    mono = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    # The whole-signal length: round(N · up / down) as prepare_audio gives.
    return mono[: -(-total * up // down)]


def prepare_audio(
    samples: np.ndarray,
    sample_rate: int,
    target_rate: int = SAMPLE_RATE,
    name: str = "<array>",
) -> np.ndarray:
    """Check, mix down to mono and resample audio that is already in memory.

    Args:
        samples: (N,) mono or (N, channels) samples. Floats are taken as full scale 1.0;
            integer PCM (int16, int32, uint8) is scaled to [-1, 1].
        sample_rate: rate of `samples` in Hz (a positive integer).
        target_rate: output rate in Hz.
        name: how error messages call this audio (e.g. the file it came from).

    Returns:
        (M,) float32 mono samples at `target_rate`, M = round(N · target_rate / sample_rate).

    Raises:
        AudioError: wrong shape, empty, NaN/inf, silent, or shorter than one 30 fps frame.
    """
    sample_rate = _positive_rate(sample_rate, f"sample rate of {name!r}")
    target_rate = _positive_rate(target_rate, "target sample rate")
    samples = np.asarray(samples)
    if samples.size == 0:
        raise AudioError(f"Audio {name!r} is empty (0 samples); pass a recording of speech.")
    mono = _to_float_mono(samples, name)
    if not np.all(np.isfinite(mono)):
        bad = int(np.count_nonzero(~np.isfinite(mono)))
        raise AudioError(
            f"Audio {name!r} has {bad} NaN/inf samples; the file is corrupted — re-export it."
        )
    duration = mono.size / sample_rate
    if duration < MIN_DURATION_S:
        raise AudioError(
            f"Audio {name!r} lasts {duration * 1000:.1f} ms, shorter than one video frame at "
            f"30 fps ({MIN_DURATION_S * 1000:.1f} ms, sub-frame-length); pass a longer recording."
        )
    peak = float(np.max(np.abs(mono)))
    rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
    if peak < SILENCE_PEAK or rms < SILENCE_RMS:
        raise AudioError(
            f"Audio {name!r} is silent (peak {peak:.2e}, RMS {rms:.2e} of full scale); check that "
            "the recording holds speech and that the microphone/channel was not muted."
        )
    if sample_rate != target_rate:
        divisor = math.gcd(sample_rate, target_rate)
        mono = resample_poly(mono, target_rate // divisor, sample_rate // divisor)
    return np.ascontiguousarray(mono, dtype=np.float32)


def audio_frame_count(num_samples: int, sample_rate: int, fps: float) -> int:
    """Number of mesh frames that `num_samples` of audio at `sample_rate` Hz cover at `fps`.

    Only whole frames count: a frame needs its full 1/fps seconds of audio.

    Raises:
        AudioError: the audio is shorter than one frame.
    """
    sample_rate = _positive_rate(sample_rate, "sample rate")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ScanTalkError(f"Frame rate fps={fps!r} must be a positive number (e.g. 30 or 25).")
    # The epsilon keeps e.g. 16000 samples at 16 kHz and 30 fps from flooring 29.999... to 29.
    frames = math.floor(num_samples * fps / sample_rate + 1e-6)
    if frames < 1:
        raise AudioError(
            f"{num_samples} samples at {sample_rate} Hz ({num_samples / sample_rate * 1000:.1f} ms) "
            f"are shorter than one frame at {fps} fps; pass a longer recording."
        )
    return frames


def _positive_rate(rate: int | float, what: str) -> int:
    """`rate` as a positive int, or a ScanTalkError saying what was wrong."""
    if isinstance(rate, (int, np.integer)) and rate > 0:
        return int(rate)
    if isinstance(rate, (float, np.floating)) and math.isfinite(rate) and rate > 0 and rate == int(rate):
        return int(rate)
    raise ScanTalkError(f"The {what} is {rate!r}; it must be a positive whole number of Hz (e.g. 16000).")


def _to_float_mono(samples: np.ndarray, name: str) -> np.ndarray:
    """(N,) or (N, channels) numeric samples → (N,) float64 mono in full-scale units."""
    if samples.ndim == 2:
        if samples.shape[1] > samples.shape[0]:
            raise AudioError(
                f"Audio {name!r} has shape {samples.shape}: more channels than samples. Arrays must "
                "be (N,) or (N, channels); if channels come first, pass `samples.T`."
            )
    elif samples.ndim != 1:
        raise AudioError(
            f"Audio {name!r} has shape {samples.shape}; arrays must be (N,) or (N, channels)."
        )
    if np.issubdtype(samples.dtype, np.integer):
        info = np.iinfo(samples.dtype)
        # Integer PCM: unsigned is offset binary (uint8 wav), signed is two's complement.
        offset = (int(info.max) + 1) / 2 if info.min == 0 else 0.0
        scale = (int(info.max) + 1) / 2 if info.min == 0 else float(-int(info.min))
        samples = (samples.astype(np.float64) - offset) / scale
    elif np.issubdtype(samples.dtype, np.floating):
        samples = samples.astype(np.float64, copy=False)
    else:
        raise AudioError(
            f"Audio {name!r} has dtype {samples.dtype}; pass float or integer PCM samples."
        )
    return samples.mean(axis=1) if samples.ndim == 2 else samples
