"""The phonetic front end (speech → decoded phones → track) and combining two tracks."""

from __future__ import annotations

import numpy as np
import pytest

from scantalk.articulation import ARTICULATION_CHANNELS, ArticulationError, ArticulationTrack
from scantalk.articulation.phonetic import (
    channel_weights,
    combine_tracks,
    fit_combination_weights,
    phonetic_phones_and_track,
    phonetic_track,
)
from scantalk.audio.io import audio_frame_count
from scantalk.errors import ScanTalkError

FPS = 30.0
JAW, CLOSE = ARTICULATION_CHANNELS.index("jaw_open"), ARTICULATION_CHANNELS.index("lip_close")


def _frames_of(segment, fps: float, count: int) -> np.ndarray:
    """Frames overlapping the segment, widened by one frame each side (as the comparison scores)."""
    first = max(0, int(np.ceil(segment.start * fps - 1.0 - 1e-9)))
    return np.arange(first, min(count, int(np.floor(segment.end * fps + 1.0 + 1e-9)) + 1))


@pytest.fixture(scope="module")
def spoken(papa_spoken):
    return papa_spoken


@pytest.mark.slow
def test_lips_close_at_p_and_open_at_the_vowel(spoken):
    track = phonetic_track(spoken.samples, fps=FPS)
    assert track.num_frames == audio_frame_count(len(spoken.samples), 16000, FPS)
    assert track.channels == ARTICULATION_CHANNELS
    phones = spoken.phones
    first_p = next(i for i, p in enumerate(phones) if p.phone == "P")
    vowel = next(p for p in phones[first_p:] if p.phone in ("AA", "AH", "AE"))
    closure = track.values[_frames_of(phones[first_p], FPS, track.num_frames), CLOSE]
    centre = int(round(0.5 * (vowel.start + vowel.end) * FPS))
    assert closure.max() > 0.5  # the lips meet at the /p/ the voice says
    assert track.values[centre, CLOSE] < 0.2  # and are apart in the vowel after it
    assert track.values[centre, JAW] > 0.15 > track.values[0, JAW]  # the jaw opens from rest


@pytest.mark.slow
def test_frame_count_rate_and_phones(spoken):
    phones, track = phonetic_phones_and_track(spoken.samples, fps=25.0, num_frames=40)
    assert track.values.shape == (40, len(ARTICULATION_CHANNELS)) and track.fps == 25.0
    assert phones[0].start == 0.0 and phones[-1].end == pytest.approx(spoken.duration)
    assert any(p.phone in ("P", "B", "M") for p in phones)
    # 8 kHz input is resampled for the recogniser: still one frame per 1/fps of the audio.
    slow = phonetic_track(spoken.samples[::2], fps=FPS, sample_rate=8000)
    assert slow.num_frames == audio_frame_count(len(spoken.samples[::2]), 8000, FPS)


def test_bad_audio_and_fps_are_clean_errors():
    with pytest.raises(ScanTalkError, match="empty"):
        phonetic_track(np.zeros(0, dtype=np.float32))
    with pytest.raises(ArticulationError, match="fps"):
        phonetic_track(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), fps=0)


def _track(seed: int, frames: int = 12, fps: float = FPS) -> ArticulationTrack:
    return ArticulationTrack(np.random.default_rng(seed).uniform(0, 1, (frames, len(ARTICULATION_CHANNELS))), fps)


def test_combine_weights_select_and_mix():
    a, b = _track(1), _track(2)
    np.testing.assert_allclose(combine_tracks(a, b, 1.0).values, a.values)
    np.testing.assert_allclose(combine_tracks(a, b, 0.0).values, b.values)
    np.testing.assert_allclose(combine_tracks(a, b, 0.5).values, 0.5 * (a.values + b.values), rtol=1e-6)
    mixed = combine_tracks(a, b, {"lip_close": 0.0})  # unnamed channels keep a
    np.testing.assert_allclose(mixed["lip_close"], b["lip_close"])
    np.testing.assert_allclose(mixed["jaw_open"], a["jaw_open"])
    per_channel = combine_tracks(a, b, [1.0, 0.0, 0.25, 1.0, 1.0])
    np.testing.assert_allclose(per_channel["lip_round"], 0.25 * a["lip_round"] + 0.75 * b["lip_round"], rtol=1e-6)


def test_combine_matches_channels_by_name():
    a, b = _track(1), _track(2)
    reversed_b = ArticulationTrack(b.values[:, ::-1], FPS, ARTICULATION_CHANNELS[::-1])
    np.testing.assert_allclose(combine_tracks(a, reversed_b, 0.3).values, combine_tracks(a, b, 0.3).values)


@pytest.mark.parametrize("weights, message", [
    (1.5, "0..1"), (-0.1, "0..1"), (float("nan"), "0..1"), ([0.5, 0.5], "2 combination weights"),
    ({"smile": 0.5}, "smile"), ("half", "not numbers"),
])
def test_bad_weights_are_clean_errors(weights, message):
    with pytest.raises(ArticulationError, match=message):
        combine_tracks(_track(1), _track(2), weights)


def test_mismatched_tracks_are_clean_errors():
    with pytest.raises(ArticulationError, match="fps"):
        combine_tracks(_track(1), _track(2, fps=25.0), 0.5)
    with pytest.raises(ArticulationError, match="frames"):
        combine_tracks(_track(1), _track(2, frames=13), 0.5)
    with pytest.raises(ArticulationError, match="ArticulationTrack"):
        combine_tracks(_track(1).values, _track(2), 0.5)
    partial = ArticulationTrack(np.zeros((12, 1)), FPS, ("jaw_open",))
    with pytest.raises(ArticulationError, match="no channel"):
        combine_tracks(_track(1), partial, 0.5)


def test_fit_combination_weights_recovers_the_mix():
    truth_weights = np.array([1.0, 0.0, 0.3, 0.7, 0.5])
    firsts = [_track(seed, frames=30) for seed in range(3)]
    seconds = [_track(10 + seed, frames=30) for seed in range(3)]
    references = [combine_tracks(x, y, truth_weights) for x, y in zip(firsts, seconds)]
    fitted = fit_combination_weights(firsts, seconds, references)
    assert list(fitted) == list(ARTICULATION_CHANNELS)
    np.testing.assert_allclose([fitted[name] for name in ARTICULATION_CHANNELS], truth_weights, atol=1e-9)
    with pytest.raises(ArticulationError, match="same number"):
        fit_combination_weights(firsts, seconds[:2], references)


def test_channel_weights_forms():
    np.testing.assert_allclose(channel_weights(0.2, ARTICULATION_CHANNELS), [0.2] * 5)
    np.testing.assert_allclose(channel_weights({"jaw_open": 0.0}, ARTICULATION_CHANNELS), [0, 1, 1, 1, 1])


def test_words_heard_where_the_phone_loop_hears_no_syllable_are_silenced():
    from scantalk.articulation.sphinx import within_speech
    from scantalk.articulation.segments import PhoneSegment as P

    words = [P("SIL", 0, 0.2), P("V", 0.2, 0.3), P("OW", 0.3, 0.6), P("SIL", 0.6, 1.5), P("M", 1.5, 1.6),
             P("AA", 1.6, 1.9), P("SIL", 1.9, 2.0)]
    loop = [P("SIL", 0, 1.4), P("M", 1.4, 1.6), P("AA", 1.6, 1.8), P("SIL", 1.8, 2.0)]
    kept = within_speech(words, loop, margin=0.3)
    assert [p.phone for p in kept if p.phone != "SIL"] == ["M", "AA"]
    assert kept[-1].end == 2.0 and kept[0].start == 0


def test_mains_hum_is_heard_as_silence():
    pytest.importorskip("pocketsphinx", reason="pocketsphinx not installed (pip install pocketsphinx==5.1.1)")
    from scantalk.articulation.sphinx import decode_phones
    from scantalk.articulation.stream import ArticulationStream

    time = np.arange(48000) / 16000
    hum = (0.05 * sum(np.sin(2 * np.pi * 50 * k * time) / k for k in (1, 2, 3, 5))).astype(np.float32)
    assert {p.phone for p in decode_phones(hum, method="phones")} == {"SIL"}  # the loop alone hears a "ZH"
    stream = ArticulationStream(30.0, 0.1)
    rows = np.concatenate([stream.push(hum[start:start + 1600])[1] for start in range(0, len(hum), 1600)])
    assert rows.max() < 0.05


def test_long_speech_is_cut_at_its_pauses_into_pieces_of_bounded_length():
    from scantalk.articulation.sphinx import speech_pieces

    rng = np.random.default_rng(0)
    loud = lambda seconds: (0.3 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)  # noqa: E731
    quiet = lambda seconds: np.zeros(int(seconds * 16000), np.float32)  # noqa: E731
    audio = np.concatenate([loud(7.0), quiet(0.5), loud(4.0), quiet(0.5), loud(8.0)])
    pieces = speech_pieces(audio, 16000, longest=10.0)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))  # they tile the audio
    assert all(stop - start <= 10 * 16000 for start, stop in pieces)
    cuts = np.array([stop for _, stop in pieces[:-1]]) / 16000
    assert len(cuts) == 2 and np.all(np.isin(np.floor(cuts * 4) / 4, [7.0, 7.25, 11.5, 11.75]))  # in the pauses
    assert speech_pieces(audio[:16000], 16000, longest=10.0) == [(0, 16000)]


@pytest.mark.slow
def test_speech_decoded_in_pieces_keeps_its_times(spoken, monkeypatch):
    """Long speech is decoded a piece at a time (bounded memory); the phones still tile the whole
    audio at their own times, each piece's as when it is decoded alone."""
    import scantalk.articulation.sphinx as sphinx

    gap = np.zeros(8000, np.float32)
    audio = np.concatenate([spoken.samples, gap, spoken.samples]).astype(np.float32)
    alone = sphinx.decode_phones(spoken.samples)
    monkeypatch.setattr(sphinx, "PIECE_S", 0.6 * len(audio) / 16000)
    phones = sphinx.decode_phones(audio)
    assert phones[0].start == 0.0 and phones[-1].end == pytest.approx(len(audio) / 16000)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(phones, phones[1:]))
    spoken_alone = [p.phone for p in alone if p.phone != "SIL"]
    assert [p.phone for p in phones if p.phone != "SIL"] == spoken_alone + spoken_alone
    second = [p for p in phones if p.start >= spoken.duration + 0.5 - 1e-9 and p.phone != "SIL"]
    first = [p for p in alone if p.phone != "SIL"]
    assert [p.start - spoken.duration - 0.5 for p in second] == pytest.approx([p.start for p in first], abs=0.02)
