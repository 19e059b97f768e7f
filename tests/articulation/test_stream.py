"""Articulation rows from live speech: the same whatever the chunking, final after the lookahead,
equal to the offline track of the same phones when the lookahead is long, bounded in memory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scantalk.articulation import articulation_from_phones
from scantalk.articulation.coarticulation import articulation_frames
from scantalk.articulation.phonetic import phonetic_track
from scantalk.articulation.segments import PhoneSegment
from scantalk.articulation.stream import HOP_S, MAX_UTTERANCE_S, ArticulationStream, overlay
from scantalk.errors import ArticulationError

FPS = 30.0


def _rows(stream: ArticulationStream, samples: np.ndarray, chunk: int) -> np.ndarray:
    parts = []
    for start in range(0, len(samples), chunk):
        first, rows = stream.push(samples[start:start + chunk])
        assert first == sum(len(part) for part in parts)  # rows come in order, none skipped
        parts.append(rows)
    parts.append(stream.close()[1])
    return np.concatenate(parts)


def test_any_window_of_the_track_equals_the_same_frames_of_the_whole():
    phones = [("SIL", 0.0, 0.2), ("P", 0.2, 0.28), ("AA", 0.28, 0.5), ("M", 0.5, 0.58), ("IY", 0.58, 0.8),
              ("SIL", 0.8, 1.2)]
    whole = articulation_from_phones(phones, FPS, num_frames=36).values
    np.testing.assert_array_equal(articulation_frames(phones, FPS, 10, 17), whole[10:27])


def test_rows_do_not_depend_on_how_the_speech_is_cut(papa_spoken):
    samples = papa_spoken.samples
    one = _rows(ArticulationStream(FPS, 0.1), samples, 1600)
    other = _rows(ArticulationStream(FPS, 0.1), samples, 777)
    np.testing.assert_array_equal(one, other)
    assert len(one) == math.floor(len(samples) * FPS / 16000 + 1e-6)


def test_with_a_long_lookahead_the_rows_are_the_offline_default_track(papa_spoken):
    """A lookahead of `WORDS_LOOKAHEAD_S` or more hears each phrase as words once it ends: a phrase
    that ends with the speech gives exactly the offline default's rows."""
    rows = _rows(ArticulationStream(FPS, lookahead=5.0), papa_spoken.samples, 2000)
    offline = phonetic_track(papa_spoken.samples, FPS, num_frames=len(rows)).values
    np.testing.assert_allclose(rows, offline, atol=1e-6)
    assert rows[:, 1].max() > 0.5  # "Papa bought a map": the lips close


def test_a_short_lookahead_hears_phones_only(papa_spoken, monkeypatch):
    import scantalk.articulation.stream as module

    monkeypatch.setattr(module, "decode_phones", lambda *args, **kwargs: pytest.fail("phrase decoded as words"))
    monkeypatch.setattr(module, "WordStream", lambda: pytest.fail("live words decoded"))
    stream = ArticulationStream(FPS, lookahead=module.LIVE_WORDS_LOOKAHEAD_S - 0.1)
    assert stream.words is None
    assert _rows(stream, papa_spoken.samples, 2000)[:, 1].max() > 0.5


def test_from_a_few_tenths_of_a_second_words_are_heard_as_they_come(papa_spoken, monkeypatch):
    import scantalk.articulation.stream as module

    monkeypatch.setattr(module, "decode_phones", lambda *args, **kwargs: pytest.fail("phrase decoded as words"))
    lookahead = module.LIVE_WORDS_LOOKAHEAD_S + 0.2
    stream = ArticulationStream(FPS, lookahead)
    one = _rows(stream, papa_spoken.samples, 1600)
    assert stream.words is not None and "M" in {p.phone for p in stream.words.phones()}  # "... a map"
    assert one[:, 1].max() > 0.5
    np.testing.assert_array_equal(one, _rows(ArticulationStream(FPS, lookahead), papa_spoken.samples, 777))


def test_a_phrase_heard_as_words_replaces_the_phones_over_its_span_only():
    loop = [PhoneSegment("SIL", 0.0, 0.2), PhoneSegment("F", 0.2, 0.3), PhoneSegment("AA", 0.3, 0.6),
            PhoneSegment("SIL", 0.6, 1.0)]
    words = [PhoneSegment("SIL", 0.0, 0.25), PhoneSegment("P", 0.25, 0.3), PhoneSegment("AA", 0.3, 0.5),
             PhoneSegment("SIL", 0.5, 0.55)]
    mixed = overlay(loop, 0.1, 0.55, words)
    assert [p.phone for p in mixed] == ["SIL", "P", "AA", "SIL", "AA", "SIL"]
    assert [p.end for p in mixed] == pytest.approx([0.25, 0.3, 0.5, 0.55, 0.6, 1.0])


def test_a_row_is_given_out_once_the_lookahead_past_it_was_heard(papa_spoken):
    lookahead = 0.2
    stream = ArticulationStream(FPS, lookahead)
    pushed = 0
    for start in range(0, len(papa_spoken.samples), 1000):
        chunk = papa_spoken.samples[start:start + 1000]
        stream.push(chunk)
        pushed += len(chunk)
        decoded = pushed // 320 * HOP_S  # whole hops heard
        if stream.next_row:
            last_out = (stream.next_row - 1) / FPS
            assert last_out <= decoded - lookahead + 1e-9  # nothing before its lookahead was heard
        assert stream.next_row / FPS > decoded - lookahead - 1.0 / FPS - 1e-9  # nothing held longer


@pytest.mark.slow
@pytest.mark.parametrize("lookahead", [0.1, 0.5])  # the phone loop alone; and words as they come
def test_memory_stays_flat_over_a_long_talk(papa_spoken, lookahead):
    gap = np.zeros(8000, np.float32)
    talk = np.concatenate([papa_spoken.samples, gap] * 12)  # ~30 s
    stream = ArticulationStream(FPS, lookahead)
    for start in range(0, len(talk), 4000):
        stream.push(talk[start:start + 4000])
        assert sum(map(len, stream.phones._utterance)) <= (MAX_UTTERANCE_S + 1.0) * 16000
        assert len(stream.phones.phones()) < 150  # only the last seconds' phones are kept
        assert len(stream.voice.probabilities) < 150  # and the voice activity of a few seconds (32 ms each)
        if stream.words is not None:
            assert sum(map(len, stream.words._utterance)) <= (1.5 * MAX_UTTERANCE_S + 1.0) * 16000
            assert len(stream.words.phones()) < 150


def test_a_bad_lookahead_is_refused():
    with pytest.raises(ArticulationError, match="lookahead"):
        ArticulationStream(FPS, lookahead=-0.1)
