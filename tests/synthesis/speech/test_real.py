"""Real recorded speech: force-aligned phones that are plausible, cached, and a phone decoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pocketsphinx", reason="pocketsphinx not installed (pip install pocketsphinx==5.1.1)")

from scantalk.synthesis.speech import decode_phones, phone_frames, real_speech_set  # noqa: E402
from scantalk.synthesis.speech.real import TESTDATA_DIR  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (TESTDATA_DIR / "librivox").is_dir(), reason="pocketsphinx-testdata not installed (apt-get install pocketsphinx-testdata)"
)


@pytest.fixture(scope="module")
def real_set(tmp_path_factory):
    cache = tmp_path_factory.mktemp("real_speech")
    return cache, real_speech_set(cache)


@pytest.mark.slow
def test_real_set_holds_every_recording_with_a_transcript(real_set):
    _, utterances = real_set
    sources = [u.voice for u in utterances]
    assert sources.count("librivox") == 5 and sources.count("cards") == 5
    assert {"goforward", "tidigits"} <= set(sources)
    for utt in utterances:
        assert utt.sample_rate == 16000 and utt.text and utt.meta["real"]
        assert utt.phones[0].start == 0.0 and utt.phones[-1].end == pytest.approx(utt.duration, abs=1e-3)


def test_alignment_of_a_real_clip_has_the_transcripts_phones_in_order(real_set):
    _, utterances = real_set
    utt = next(u for u in utterances if u.text == "he was not an ill disposed young man")
    spoken = [p.phone for p in utt.phones if p.phone != "SIL"]
    assert spoken[:8] == ["HH", "IY", "W", "AH", "Z", "N", "AA", "T"] and spoken[-3:] == ["M", "AE", "N"]
    # Plausible durations: real phones last 20-300 ms, and speech fills most of the clip.
    durations = np.array([p.duration for p in utt.phones if p.phone != "SIL"])
    assert np.median(durations) == pytest.approx(0.07, abs=0.04) and durations.max() < 0.4
    assert durations.sum() > 0.6 * utt.duration


def test_alignment_is_cached_as_json_and_reused(real_set):
    cache, utterances = real_set
    stored = json.loads((cache / "alignment.json").read_text())
    assert len(stored["clips"]) == len(utterances)
    again = real_speech_set(cache)
    assert [u.phones for u in again] == [u.phones for u in utterances]


@pytest.mark.slow
def test_decoding_without_transcript_agrees_with_the_alignment_on_many_frames(real_set):
    _, utterances = real_set
    utt = next(u for u in utterances if u.text == "he was not an ill disposed young man")
    decoded = decode_phones(utt.samples)
    assert decoded[-1].end == pytest.approx(utt.duration, abs=1e-3)
    reference = phone_frames(utt.phones, 100)
    agreement = float(np.mean(phone_frames(decoded, 100, len(reference)) == reference))
    assert agreement > 0.35  # measured 0.55 on this clip; chance is well under 0.1


@pytest.mark.slow
def test_phone_decoding_is_the_same_whatever_was_decoded_before():
    """pocketsphinx decoders carry state between utterances: decoding must not depend on history."""
    pytest.importorskip("pocketsphinx")
    import soundfile as sf

    import scantalk
    from scantalk.synthesis.speech import decode_phones

    clip = Path(scantalk.__file__).parent / "assets" / "speech" / "librivox_sense_and_sensibility_0870.wav"
    speech, _ = sf.read(clip, dtype="float32")
    first = decode_phones(speech[:48000])
    assert decode_phones(speech[:48000]) == first  # right after itself
    decode_phones(speech)
    assert decode_phones(speech[:48000]) == first  # after another clip


@pytest.mark.slow
def test_words_heard_then_aligned_give_the_bilabials_of_a_real_sentence(real_set):
    """The default decoding hears words with the language model and aligns them: the phones of real
    words, so "he might even have been made the amiable himself" gets lip closures."""
    _, utterances = real_set
    utt = next(u for u in utterances if u.text.startswith("he might even have been made"))
    decoded = decode_phones(utt.samples)
    assert decoded[0].start == 0.0 and decoded[-1].end == pytest.approx(utt.duration, abs=1e-3)
    heard = [p.phone for p in decoded]
    assert {"M", "B"} <= set(heard)
    loop = decode_phones(utt.samples, method="phones")
    assert loop != decoded and loop[-1].end == pytest.approx(utt.duration, abs=1e-3)


def test_an_unknown_decoding_method_is_a_clear_error():
    from scantalk.synthesis.speech import SpeechToolError

    with pytest.raises(SpeechToolError, match="words, phones"):
        decode_phones(np.zeros(16000, dtype=np.float32), method="syllables")
