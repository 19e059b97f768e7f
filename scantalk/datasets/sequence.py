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

import numpy as np

from scantalk.audio.io import SAMPLE_RATE


@dataclass
class TalkingSequence:
    """One talking sequence: speech audio and the face vertices it drives.

    subject, name: subject id and sequence name (e.g. "FaceTalk_170728_03272_TA", "sentence01") ·
    audio (N,) float32 mono at `sample_rate` Hz (16 kHz from every reader) ·
    frames (T, V, 3) float32 metres at `fps` · template (V, 3) float32 neutral face of the subject ·
    faces (F, 3) int64 or None · lip_vertices (L,) / upper_vertices (U,) int64 vertex indices or
    None · dataset: which dataset it came from ("vocaset", "biwi", "multiface", "talking", ...).
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
        """(N,) float32 mono at 16 kHz; raises `DatasetError` / `AudioError` on unreadable audio."""

    def load(self) -> TalkingSequence:
        """Read frames and audio into a `TalkingSequence`."""
        return TalkingSequence(
            subject=self.subject,
            name=self.name,
            audio=self.load_audio(),
            sample_rate=SAMPLE_RATE,
            frames=self.load_frames(),
            template=self.template,
            faces=self.faces,
            fps=self.fps,
            lip_vertices=self.lip_vertices,
            upper_vertices=self.upper_vertices,
            dataset=self.dataset,
        )
