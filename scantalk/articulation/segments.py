"""Phones as speech engines and recognisers name them, mapped onto ARPAbet without stress plus "SIL".

Festival (radio phone set), flite (cmu phone set) and pocketsphinx each name phones their own
way; `to_arpabet` maps all of them onto the 39 ARPAbet phones and "SIL", so the articulation
targets downstream need one table only. `PhoneSegment` is one phone with its time in the audio,
as the phonetic front end (`scantalk.articulation.sphinx`) hears it and the speech corpora
(`scantalk.synthesis.speech`) carry it.
"""

from __future__ import annotations

from scantalk.articulation.phones import SILENCE, VOWELS, Phone, normalise_symbol
from scantalk.audio.io import SAMPLE_RATE  # the rate of every utterance, as the audio encoders expect
from scantalk.errors import ArticulationError

__all__ = ["PHONES", "PHONE_INDEX", "SAMPLE_RATE", "SILENCE", "PhoneSegment", "merge_silences", "silence_vowelless_runs",
           "to_arpabet"]

#: The 39 ARPAbet phones (no stress digits) and "SIL", in a fixed order (index = phone id).
PHONES: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH", SILENCE,
)  # fmt: skip

PHONE_INDEX: dict[str, int] = {phone: index for index, phone in enumerate(PHONES)}

PhoneSegment = Phone
"""One phone and when it is heard: `phone` (an entry of `PHONES`), `start` and `end` in seconds
from the start of the audio — the timed phone `scantalk.articulation` reads, under the name the
speech data has always used."""


def to_arpabet(name: str) -> str:
    """Map one engine's phone name (festival radio, flite cmu, pocketsphinx) onto `PHONES`, by
    the one alias table `scantalk.articulation.phones.PHONE_ALIASES`.

    Args:
        name: e.g. "pau", "ax", "AH1", "+NSN+".

    Returns:
        The ARPAbet phone or "SIL".

    Raises:
        KeyError: for a name no supported engine emits (a gap in the table, not a user error).
    """
    try:
        return normalise_symbol(name)
    except ArticulationError:
        raise KeyError(f"phone {name!r} has no ARPAbet mapping in scantalk.articulation.phones.PHONE_ALIASES") from None


def merge_silences(segments: list[PhoneSegment]) -> list[PhoneSegment]:
    """Join consecutive "SIL" segments into one (e.g. flite's "pau" next to a phrase break)."""
    merged: list[PhoneSegment] = []
    for segment in segments:
        if merged and segment.phone == SILENCE and merged[-1].phone == SILENCE:
            merged[-1] = PhoneSegment(SILENCE, merged[-1].start, segment.end)
        else:
            merged.append(segment)
    return merged


def silence_vowelless_runs(segments: list[PhoneSegment], open_end: float | None = None) -> list[PhoneSegment]:
    """Turn runs of phones between pauses that hold no vowel into "SIL".

    Speech comes in syllables: every stretch of it between two pauses holds a vowel. A
    recogniser hearing noise, music or a breath finds consonants only (fricatives in a drum
    beat, a stop in a click), and the mouth should rest through them.

    Args:
        segments: phones tiling the audio ("SIL" in pauses).
        open_end: for speech still arriving: the time heard so far; a run that reaches it may
            still meet its vowel and is kept only if its first phone started less than
            `VOWEL_WAIT_S` before it.

    Returns:
        The phones with every vowelless run replaced by "SIL" (neighbouring pauses merged).
    """
    out: list[PhoneSegment] = []
    run: list[PhoneSegment] = []

    def flush(still_open: bool) -> None:
        if not run:
            return
        waiting = still_open and open_end is not None and open_end - run[0].start < VOWEL_WAIT_S
        if waiting or any(segment.phone in VOWELS for segment in run):
            out.extend(run)
        else:
            out.append(PhoneSegment(SILENCE, run[0].start, run[-1].end))
        run.clear()

    for segment in segments:
        if segment.phone == SILENCE:
            flush(False)
            out.append(segment)
        else:
            run.append(segment)
    flush(True)
    return merge_silences(out)


#: Seconds a run of consonants heard at the end of live speech may wait for its vowel before it
#: is taken for noise (a syllable's onset rarely lasts longer).
VOWEL_WAIT_S = 0.25
