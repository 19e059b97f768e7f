"""`TalkingSequence` (one talking sequence in memory) and `SequenceRef` (a cheap handle to one).

Readers hand out `SequenceRef`s: each holds the small per-subject arrays (template, faces,
masks) and the *location* of the big ones (vertex frames, audio), and reads those only in
`load()` / `load_frames()` / `load_audio()`. A 500-sequence VOCASET therefore costs a few
megabytes to list; a training loader materialises one sequence at a time. Refs are plain
picklable dataclasses, so they travel to DataLoader worker processes.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from math import gcd

import numpy as np
from scipy.signal import resample_poly

from scantalk.errors import DatasetError

AUDIO_SAMPLE_RATE = 16000
"""Sample rate (Hz) of every `TalkingSequence.audio`."""


@dataclass
class TalkingSequence:
    """One talking sequence: speech audio and the face vertices it drives.

    subject, name: subject id and sequence name (e.g. "FaceTalk_170728_03272_TA", "sentence01") ·
    audio (N,) float32 mono at `sample_rate` Hz (16 kHz from every reader) ·
    frames (T, V, 3) float32 metres at `fps` · template (V, 3) float32 neutral face of the subject ·
    faces (F, 3) int64 or None · lip_vertices (L,) / upper_vertices (U,) int64 vertex indices or
    None · dataset: which dataset it came from ("vocaset", "biwi", "multiface", "procedural", ...).
    """

    subject: str
    name: str
    audio: np.ndarray
    sample_rate: int
    frames: np.ndarray
    template: np.ndarray
    faces: np.ndarray | None
    fps: float
    lip_vertices: np.ndarray | None = None
    upper_vertices: np.ndarray | None = None
    dataset: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def displacements(self) -> np.ndarray:
        """(T, V, 3) metres: `frames - template`."""
        return self.frames - self.template[None]

    @property
    def key(self) -> str:
        """"<subject>_<name>", the file stem the processed layout and `scantalk evaluate` use."""
        return f"{self.subject}_{self.name}"


@dataclass
class SequenceRef(abc.ABC):
    """A sequence not yet read: small arrays in memory, frames and audio on disk.

    Same metadata fields as `TalkingSequence`; `load()` reads the rest. Subclasses (one per
    dataset layout) say where the frames and audio live.
    """

    subject: str
    name: str
    dataset: str
    fps: float
    template: np.ndarray
    faces: np.ndarray | None
    lip_vertices: np.ndarray | None = field(default=None, kw_only=True)
    upper_vertices: np.ndarray | None = field(default=None, kw_only=True)

    @property
    def key(self) -> str:
        """"<subject>_<name>", the file stem the processed layout and `scantalk evaluate` use."""
        return f"{self.subject}_{self.name}"

    @property
    def num_vertices(self) -> int:
        return int(self.template.shape[0])

    @abc.abstractmethod
    def load_frames(self) -> np.ndarray:
        """(T, V, 3) float32 metres at `fps`; raises `DatasetError` on unreadable files."""

    @abc.abstractmethod
    def load_audio(self) -> np.ndarray:
        """(N,) float32 mono at 16 kHz; raises `DatasetError` on unreadable files."""

    def load(self) -> TalkingSequence:
        """Read frames and audio into a `TalkingSequence`."""
        return TalkingSequence(
            subject=self.subject,
            name=self.name,
            audio=self.load_audio(),
            sample_rate=AUDIO_SAMPLE_RATE,
            frames=self.load_frames(),
            template=self.template,
            faces=self.faces,
            fps=self.fps,
            lip_vertices=self.lip_vertices,
            upper_vertices=self.upper_vertices,
            dataset=self.dataset,
        )


def audio_to_16k(audio: np.ndarray, sample_rate: int, source: str) -> np.ndarray:
    """Any stored waveform → (N,) float32 mono at 16 kHz.

    audio: (N,) or (N, channels); integer PCM is scaled to [-1, 1], channels are averaged.
    Resampling is polyphase (`scipy.signal.resample_poly`). `source` names the file in errors.
    """
    waveform = np.asarray(audio)
    if waveform.size == 0:
        raise DatasetError(f"{source}: the audio is empty; re-export the sequence's audio")
    if np.issubdtype(waveform.dtype, np.integer):
        waveform = waveform.astype(np.float64) / float(np.iinfo(waveform.dtype).max)
    waveform = waveform.astype(np.float64)
    if waveform.ndim == 2:
        # Stored as (N, channels) by soundfile and VOCASET; a (channels, N) array is the rarer case.
        waveform = waveform.mean(axis=1 if waveform.shape[0] >= waveform.shape[1] else 0)
    if waveform.ndim != 1:
        raise DatasetError(f"{source}: audio of shape {tuple(audio.shape)} is not a mono or stereo waveform")
    if int(sample_rate) <= 0:
        raise DatasetError(f"{source}: invalid audio sample rate {sample_rate}")
    return _resample(waveform, int(sample_rate), AUDIO_SAMPLE_RATE).astype(np.float32)


def _resample(waveform: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """(N,) at `rate_in` Hz → (round(N·rate_out/rate_in),) at `rate_out` Hz, polyphase filter."""
    if rate_in == rate_out:
        return waveform
    divisor = gcd(rate_in, rate_out)
    return resample_poly(waveform, rate_out // divisor, rate_in // divisor)
