"""Speech records with their phone timing: `Utterance`, and the tilings the speech builders make.

`Utterance` carries speech with its phone timing through the data pipeline; `segments_from_ends`
turns an engine's phone end times into a clean tiling, `phone_frames` reads it per frame. The
phone vocabulary itself (`PHONES`, `to_arpabet`, `PhoneSegment`) lives in
`scantalk.articulation.segments`, where the phonetic front end reads it too, and is re-exported
here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scantalk.articulation.segments import (
    PHONE_INDEX, PHONES, SAMPLE_RATE, SILENCE, PhoneSegment, merge_silences, to_arpabet,
)

@dataclass
class Utterance:
    """Speech audio with its phone timing.

    Attributes:
        samples: (N,) float32 mono at `sample_rate` Hz, full scale 1.0.
        sample_rate: Hz, always 16000 in this package.
        phones: segments in time order that tile [0, N / sample_rate] without gaps or overlaps.
        text: what is said (the transcript), "" when unknown.
        voice: who says it: a `VOICES` entry for synthetic speech, the recording's source for real speech.
        meta: how it was made (rate, pitch, augmentations, source file); JSON-serialisable.
    """

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    phones: list[PhoneSegment] = field(default_factory=list)
    text: str = ""
    voice: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return len(self.samples) / self.sample_rate


def segments_from_ends(names: list[str], ends: list[float], duration: float) -> list[PhoneSegment]:
    """Build a clean phone tiling of [0, duration] from engine labels given as (name, end time).

    Festival's `utt.save.segs` and flite's `-psdur` both report each phone's end time. Engines
    disagree with their own waveform by a few milliseconds at the tail, so the last phone is
    stretched (or an extra "SIL" added) to reach `duration`, labels past the end are clipped,
    zero-length phones dropped and neighbouring identical silences merged.

    Args:
        names: engine phone names, in time order.
        ends: their end times in seconds, non-decreasing.
        duration: length of the audio in seconds.

    Returns:
        Segments in time order covering [0, duration] exactly.
    """
    segments: list[PhoneSegment] = []
    start = 0.0
    for name, end in zip(names, ends):
        end = min(float(end), duration)
        if end <= start + 1e-6:
            continue
        segments.append(PhoneSegment(to_arpabet(name), start, end))
        start = end
    if duration - start > 1e-6:
        if segments and (segments[-1].phone == SILENCE or duration - start < 0.02):
            last = segments.pop()
            segments.append(PhoneSegment(last.phone, last.start, duration))
        else:
            segments.append(PhoneSegment(SILENCE, start, duration))
    return merge_silences(segments)


def phone_frames(segments: list[PhoneSegment], fps: float, num_frames: int | None = None) -> np.ndarray:
    """The phone heard at each frame centre, as `PHONE_INDEX` ids.

    Args:
        segments: a tiling of the audio (see `Utterance.phones`).
        fps: frame rate in frames per second.
        num_frames: number of frames; default covers the last segment's end.

    Returns:
        (T,) int64 phone ids; frames past the last segment are "SIL".
    """
    if num_frames is None:
        num_frames = int(round((segments[-1].end if segments else 0.0) * fps))
    centres = (np.arange(num_frames) + 0.5) / fps
    ids = np.full(num_frames, PHONE_INDEX[SILENCE], dtype=np.int64)
    if not segments:
        return ids
    ends = np.array([segment.end for segment in segments])
    which = np.searchsorted(ends, centres, side="right")
    inside = which < len(segments)
    ids[inside] = np.array([PHONE_INDEX[segment.phone] for segment in segments])[which[inside]]
    return ids


def scale_segments(segments: list[PhoneSegment], factor: float) -> list[PhoneSegment]:
    """Multiply every time by `factor` (e.g. 1 / rate after a tempo change)."""
    return [PhoneSegment(s.phone, s.start * factor, s.end * factor) for s in segments]
