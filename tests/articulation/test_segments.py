"""The phone vocabulary: every engine's and recogniser's phone names map onto ARPAbet + SIL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scantalk.articulation.segments import PHONES, SILENCE, PhoneSegment, silence_vowelless_runs, to_arpabet

RADIO_PHONES = Path("/usr/share/festival/radio_phones.scm")
# flite's cmu phone set (cmu_us_lex / usenglish), as its voices print them with -psdur.
FLITE_PHONES = (
    "aa ae ah ao aw ax axr ay b ch d dh eh el em en er ey f g hh ih ix iy jh k l m n nx ng ow oy p r s sh "
    "t th uh uw v w y z zh pau h# brk dx"
).split()


def test_contract_vocabulary_is_39_arpabet_phones_plus_silence():
    assert len(PHONES) == 40 and len(set(PHONES)) == 40
    assert SILENCE == "SIL" and PHONES[-1] == "SIL"
    assert all(p.isupper() and not any(c.isdigit() for c in p) for p in PHONES)


def test_every_flite_and_pocketsphinx_phone_maps_into_the_vocabulary():
    for name in FLITE_PHONES + ["AH0", "ER1", "+NSN+", "+SPN+", "<sil>", "SIL"]:
        assert to_arpabet(name) in PHONES, name
    assert to_arpabet("pau") == "SIL" and to_arpabet("ax") == "AH" and to_arpabet("axr") == "ER"


@pytest.mark.skipif(not RADIO_PHONES.is_file(), reason="festival is not installed (apt-get install festival)")
def test_every_phone_of_festivals_radio_phone_set_maps_into_the_vocabulary():
    text = RADIO_PHONES.read_text()
    members = text[text.index("Phone set members") :]
    # Each member is "(name vc vlng vheight vfront vrnd ctype cplace cvox)": eight features.
    names = [m.group(1) for m in re.finditer(r"^\s*\((\S+)((?:\s+\S+){8})\s*\)", members, flags=re.MULTILINE)]
    assert len(names) >= 45  # the radio set: 44 phones, pauses and breath
    for name in names:
        assert to_arpabet(name) in PHONES, name


def test_unknown_phone_is_reported_not_guessed():
    with pytest.raises(KeyError, match="no ARPAbet mapping"):
        to_arpabet("qq")


def _seq(*items):
    return [PhoneSegment(phone, start, end) for phone, start, end in items]


def test_a_run_of_consonants_between_pauses_is_heard_as_a_pause():
    heard = _seq(("SIL", 0, 0.5), ("F", 0.5, 0.6), ("T", 0.6, 0.7), ("SIL", 0.7, 1.0), ("M", 1.0, 1.1),
                 ("AA", 1.1, 1.3), ("SIL", 1.3, 1.5))
    kept = silence_vowelless_runs(heard)
    assert [(p.phone, p.start, p.end) for p in kept] == [("SIL", 0, 1.0), ("M", 1.0, 1.1), ("AA", 1.1, 1.3),
                                                         ("SIL", 1.3, 1.5)]


def test_consonants_still_arriving_wait_a_syllable_onset_for_their_vowel():
    onset = _seq(("SIL", 0, 1.0), ("M", 1.0, 1.08))
    assert [p.phone for p in silence_vowelless_runs(onset, open_end=1.1)] == ["SIL", "M"]
    noise = _seq(("SIL", 0, 1.0), ("F", 1.0, 1.2), ("S", 1.2, 1.5))
    assert [p.phone for p in silence_vowelless_runs(noise, open_end=1.5)] == ["SIL"]
