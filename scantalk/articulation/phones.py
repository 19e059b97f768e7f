"""Timed phones as this package reads them: ARPAbet symbols with start and end times in seconds.

Anything with `.phone`, `.start` and `.end` attributes (the speech builder's segments, a
forced aligner's output) or plain `(phone, start, end)` tuples is accepted. Symbols are the 39
CMU-dictionary phones plus `SIL`; lower case, stress digits (`AH0`), the extended-ARPAbet
reductions (`AX`, `IX`, `DX`, ...) and common pause/noise tokens (`SP`, `PAU`, `+NSN+`) are
mapped onto them, so aligners' raw output can be passed in directly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, Union, runtime_checkable

import numpy as np

from scantalk.errors import ArticulationError

SILENCE = "SIL"

VOWELS: tuple[str, ...] = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
CONSONANTS: tuple[str, ...] = ("B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R",
                               "S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH")
ARPABET_PHONES: tuple[str, ...] = VOWELS + CONSONANTS
"""The 39 phones of the CMU pronouncing dictionary (no stress digits)."""
PHONE_INVENTORY: tuple[str, ...] = ARPABET_PHONES + (SILENCE,)

# Engine and aligner symbols that are not plain ARPAbet (the one table every reader of phones uses).
# Reduced and syllabic variants map onto the phone a viewer sees on the lips: a schwa opens the
# mouth like AH, a flap or a glottal stop written for t closes it like T, a syllabic "el"/"em"/"en"
# is articulated as the consonant.
PHONE_ALIASES: dict[str, str] = {
    "AX": "AH", "AXR": "ER", "AXH": "AH", "IX": "IH", "UX": "UW", "DX": "T", "NX": "N", "EL": "L",
    "EM": "M", "EN": "N", "ENG": "NG", "WH": "W", "HV": "HH", "H": "HH", "Q": "T",
    # Silence and non-speech as festival, flite, pocketsphinx and TIMIT-style aligners name them
    # (pocketsphinx's "+NSN+"-style fillers are recognised by their plus signs).
    "SP": SILENCE, "PAU": SILENCE, "H#": SILENCE, "#": SILENCE, "SILENCE": SILENCE, "<SIL>": SILENCE,
    "": SILENCE, "BRTH": SILENCE, "BRK": SILENCE, "NOISE": SILENCE,
}  # fmt: skip
_STRESS = re.compile(r"^([A-Z]+)[0-2]$")


@runtime_checkable
class TimedPhone(Protocol):
    """One phone with its start and end times in seconds."""

    phone: str
    start: float
    end: float


PhonesLike = Iterable[Union[TimedPhone, Sequence]]
"""Timed phones: objects with `.phone .start .end`, or `(phone, start, end)` tuples."""


@dataclass(frozen=True)
class Phone:
    """One normalised phone: a symbol of `PHONE_INVENTORY`, start and end in seconds (end > start)."""

    phone: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def normalise_symbol(symbol: str) -> str:
    """The inventory symbol for an aligner's or dictionary's `symbol` (`"ah0"` → `"AH"`, `"sp"` → `"SIL"`).

    Raises:
        ArticulationError: the symbol is not an ARPAbet phone, an alias of one, or a pause/noise token.
    """
    if not isinstance(symbol, str):
        raise ArticulationError(f"phone symbol {symbol!r} is not a string; pass ARPAbet symbols such as 'AA' or 'SIL'")
    text = symbol.strip().upper()
    match = _STRESS.match(text)
    if match:
        text = match.group(1)
    if text.startswith("+") and text.endswith("+"):  # pocketsphinx fillers: +NSN+, +SPN+, +BREATH+ ...
        return SILENCE
    text = PHONE_ALIASES.get(text, text)
    if text not in PHONE_INVENTORY:
        raise ArticulationError(
            f"phone {symbol!r} is not an ARPAbet phone; use one of {', '.join(PHONE_INVENTORY)} "
            "(stress digits and lower case are fine)")
    return text


def normalise_phones(phones: PhonesLike) -> list[Phone]:
    """Validate timed phones and return them as `Phone`s sorted by start time.

    Args:
        phones: objects with `.phone .start .end` or `(phone, start, end)` tuples; times in seconds.

    Returns:
        The phones with inventory symbols, in time order. Zero-length phones are dropped (aligners
        emit them for deleted sounds); overlaps of a few milliseconds are trimmed at the midpoint.

    Raises:
        ArticulationError: a malformed entry, an unknown symbol, a NaN or negative time, an end
            before its start, or phones overlapping by more than half of one of them.
    """
    result: list[Phone] = []
    for index, item in enumerate(phones):
        if isinstance(item, TimedPhone):
            symbol, start, end = item.phone, item.start, item.end
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 3:
            symbol, start, end = item
        else:
            raise ArticulationError(f"phone #{index} ({item!r}) is neither (phone, start, end) nor an object with "
                                    ".phone/.start/.end; pass timed phones in seconds")
        try:
            start, end = float(start), float(end)
        except (TypeError, ValueError):
            raise ArticulationError(f"phone #{index} ({symbol!r}) has non-numeric times {start!r}, {end!r}; "
                                    "give start and end in seconds") from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0:
            raise ArticulationError(f"phone #{index} ({symbol!r}) has times {start}..{end} s; times must be finite "
                                    "and non-negative seconds")
        if end < start:
            raise ArticulationError(f"phone #{index} ({symbol!r}) ends at {end} s before it starts at {start} s; "
                                    "check the alignment's column order (phone, start, end)")
        if end > start:
            result.append(Phone(normalise_symbol(symbol), start, end))
    result.sort(key=lambda p: p.start)
    for i in range(1, len(result)):
        prev, cur = result[i - 1], result[i]
        overlap = prev.end - cur.start
        if overlap > 0:
            if overlap > 0.5 * min(prev.duration, cur.duration):
                raise ArticulationError(
                    f"phones {prev.phone} ({prev.start:.3f}-{prev.end:.3f} s) and {cur.phone} "
                    f"({cur.start:.3f}-{cur.end:.3f} s) overlap by {overlap * 1000:.0f} ms; pass one phone "
                    "sequence in time order (not several tiers or speakers)")
            middle = 0.5 * (prev.end + cur.start)
            result[i - 1] = Phone(prev.phone, prev.start, middle)
            result[i] = Phone(cur.phone, middle, cur.end)
    return result


def default_num_frames(phones: Sequence[Phone], fps: float) -> int:
    """Whole frames at `fps` that the phones cover, as `scantalk.audio.audio_frame_count` counts them."""
    end = phones[-1].end if phones else 0.0
    # The epsilon keeps e.g. 1.0 s at 30 fps from flooring 29.999... to 29.
    return max(1, math.floor(end * fps + 1e-6))


def check_fps(fps: float) -> float:
    """`fps` as a float, or an ArticulationError naming it when it is not a positive finite number."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise ArticulationError(f"frame rate fps={fps!r} must be a positive number of frames per second (e.g. 30 or 25)")
    return value


def frame_labels(phones: PhonesLike, fps: float, num_frames: int | None = None) -> np.ndarray:
    """The phone at each frame time `i / fps`: (T,) array of inventory symbols, `SIL` where none is.

    Args:
        phones: timed phones (see `PhonesLike`).
        fps: frames per second.
        num_frames: T; default the whole frames the phones cover.

    Returns:
        (T,) array of str.
    """
    fps = check_fps(fps)
    segments = normalise_phones(phones)
    count = default_num_frames(segments, fps) if num_frames is None else int(num_frames)
    labels = np.full(count, SILENCE, dtype=object)
    if not segments:
        return labels.astype(str)
    times = np.arange(count) / fps
    starts = np.array([p.start for p in segments])
    ends = np.array([p.end for p in segments])
    index = np.searchsorted(starts, times, side="right") - 1
    inside = (index >= 0) & (times < ends[np.clip(index, 0, None)])
    symbols = np.array([p.phone for p in segments], dtype=object)
    labels[inside] = symbols[index[inside]]
    return labels.astype(str)
