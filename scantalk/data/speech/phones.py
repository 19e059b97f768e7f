"""The phone vocabulary every speech source speaks: ARPAbet without stress, plus "SIL".

Festival (radio phone set), flite (cmu phone set) and pocketsphinx each name phones their own
way; `to_arpabet` maps all of them onto the 39 ARPAbet phones and "SIL", so the articulation
targets downstream need one table only. `PhoneSegment` and `Utterance` are the records that
carry speech with its phone timing through the data pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scantalk.articulation.phones import Phone
from scantalk.audio.io import SAMPLE_RATE  # the rate of every `Utterance`, as the audio encoders expect

#: Silence, pauses, breaths and noise: the mouth is at rest.
SILENCE = "SIL"

#: The 39 ARPAbet phones (no stress digits) and "SIL", in a fixed order (index = phone id).
PHONES: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH", SILENCE,
)  # fmt: skip

PHONE_INDEX: dict[str, int] = {phone: index for index, phone in enumerate(PHONES)}

# Engine phones that are not plain ARPAbet. Reduced and syllabic variants map onto the phone a
# viewer sees on the lips: a schwa opens the mouth like AH, a flap closes it like T/D, a
# syllabic "el"/"em"/"en" is articulated as the consonant.
_ALIASES: dict[str, str] = {
    "AX": "AH",  # schwa
    "AXR": "ER",  # r-coloured schwa
    "IX": "IH",  # reduced high vowel
    "UX": "UW",  # fronted u
    "DX": "T",  # flap (butter)
    "NX": "N",  # nasal flap (winner)
    "EL": "L",  # syllabic l (bottle)
    "EM": "M",  # syllabic m
    "EN": "N",  # syllabic n (button)
    "HV": "HH",  # voiced h
    "Q": "T",  # glottal stop, written in place of t
    # Silence and non-speech, as each engine names them.
    "PAU": SILENCE,  # festival and flite pauses
    "H#": SILENCE,  # utterance boundary (TIMIT-style, some flite voices)
    "BRK": SILENCE,  # flite phrase break
    "BRTH": SILENCE,  # festival radio set: breath
    "SIL": SILENCE,
    "SP": SILENCE,
    "<SIL>": SILENCE,
    "+NSN+": SILENCE,  # pocketsphinx noise fillers
    "+SPN+": SILENCE,
    "+BREATH+": SILENCE,
    "+COUGH+": SILENCE,
    "+UM+": SILENCE,
    "+UH+": SILENCE,
    "+SMACK+": SILENCE,
}

#: Phones grouped by what the lips and jaw show (a viewer cannot tell P from B from M). Used to
#: score a phone recogniser at the level that matters for animation.
MOUTH_SHAPES: dict[str, str] = {
    **dict.fromkeys(("P", "B", "M"), "closed"),
    **dict.fromkeys(("F", "V"), "labiodental"),
    **dict.fromkeys(("TH", "DH"), "dental"),
    **dict.fromkeys(("T", "D", "N", "L", "S", "Z", "K", "G", "NG", "HH", "Y"), "open_narrow"),
    **dict.fromkeys(("SH", "ZH", "CH", "JH", "R", "ER"), "rounded_narrow"),
    **dict.fromkeys(("W", "UW", "UH", "OW", "OY", "AO"), "rounded"),
    **dict.fromkeys(("IY", "IH", "EY", "EH"), "spread"),
    **dict.fromkeys(("AA", "AE", "AH", "AY", "AW"), "open_wide"),
    SILENCE: "rest",
}


PhoneSegment = Phone
"""One phone and when it is heard: `phone` (an entry of `PHONES`), `start` and `end` in seconds
from the start of the audio — the timed phone `scantalk.articulation` reads, under the name the
speech data has always used."""


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


def to_arpabet(name: str) -> str:
    """Map one engine's phone name (festival radio, flite cmu, pocketsphinx) onto `PHONES`.

    Args:
        name: e.g. "pau", "ax", "AH1", "+NSN+".

    Returns:
        The ARPAbet phone or "SIL".

    Raises:
        KeyError: for a name no supported engine emits (a gap in this table, not a user error).
    """
    upper = name.strip().upper()
    if upper[-1:].isdigit() and upper[:-1] in PHONE_INDEX:  # stress digit, e.g. "AH1"
        upper = upper[:-1]
    if upper in PHONE_INDEX:
        return upper
    if upper in _ALIASES:
        return _ALIASES[upper]
    if upper.startswith("+") and upper.endswith("+"):  # any other pocketsphinx filler
        return SILENCE
    raise KeyError(f"phone {name!r} has no ARPAbet mapping in scantalk.data.speech.phones")


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


def merge_silences(segments: list[PhoneSegment]) -> list[PhoneSegment]:
    """Join consecutive "SIL" segments into one (e.g. flite's "pau" next to a phrase break)."""
    merged: list[PhoneSegment] = []
    for segment in segments:
        if merged and segment.phone == SILENCE and merged[-1].phone == SILENCE:
            merged[-1] = PhoneSegment(SILENCE, merged[-1].start, segment.end)
        else:
            merged.append(segment)
    return merged


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
