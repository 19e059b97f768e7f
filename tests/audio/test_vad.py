"""Voice activity: speech is found, music and noise are not, live as offline."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("silero_vad", reason="silero-vad not installed (pip install silero-vad)")

from scantalk.audio.vad import CHUNK, CHUNK_S, MARGIN_S, WARMUP_CHUNKS, VoiceActivity, speech_spans  # noqa: E402
from scantalk.errors import SpeechToolError  # noqa: E402

RATE = 16000


def _music(seconds: float = 6.0) -> np.ndarray:
    """Held chords with harmonics, a melody of 250 ms notes and a kick drum twice a second: what
    the phone loop alone hears as long vowels."""
    t = np.arange(int(seconds * RATE)) / RATE
    chords = ((220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6))
    chord = np.array(chords)[(t // 2).astype(int) % len(chords)]
    x = sum(np.sin(2 * np.pi * chord[:, i] * h * t) / h for i in range(3) for h in (1, 2, 3))
    x = x + 0.8 * np.sin(2 * np.pi * 440 * 2 ** ((np.floor(t * 4) % 5) / 12) * t)
    beat = (t % 0.5) < 0.12
    x = x + 4 * beat * np.sin(2 * np.pi * 60 * t) * np.exp(-(t % 0.5) / 0.03)
    return (0.25 * x / np.abs(x).max()).astype(np.float32)


def test_spans_cover_every_phone_of_speech_and_nothing_of_music(papa_spoken):
    gap = np.zeros(RATE, np.float32)
    speech = np.concatenate([gap, papa_spoken.samples.astype(np.float32), gap])
    spans = speech_spans(speech)
    assert spans
    for phone in papa_spoken.phones:
        if phone.phone != "SIL":
            middle = 1.0 + 0.5 * (phone.start + phone.end)
            assert any(start <= middle <= end for start, end in spans), phone
    # The second of silence before the speech is not speech (beyond the margin).
    assert spans[0][0] > 0.3
    assert speech_spans(_music()) == []
    noise = 0.05 * np.random.default_rng(0).standard_normal(4 * RATE).astype(np.float32)
    assert speech_spans(noise) == []


def test_probabilities_do_not_depend_on_how_the_audio_is_cut(papa_spoken):
    audio = np.concatenate([papa_spoken.samples.astype(np.float32), _music(1.0)])
    whole = VoiceActivity()
    whole.push(audio)
    whole.close()
    pieces = VoiceActivity()
    rng = np.random.default_rng(3)
    start = 0
    while start < len(audio):
        size = int(rng.integers(1, 3000))
        pieces.push(audio[start:start + size])
        start += size
    pieces.close()
    assert len(whole.probabilities) == -(-len(audio) // CHUNK)
    assert np.array_equal(whole.probabilities, pieces.probabilities)
    assert whole.spans() == pieces.spans()


def test_forgetting_keeps_the_spans_that_end_later(papa_spoken):
    audio = np.concatenate([papa_spoken.samples.astype(np.float32), np.zeros(3 * RATE, np.float32)] * 2)
    voice = VoiceActivity()
    voice.push(audio)
    later = 0.5 * len(audio) / RATE
    kept = [span for span in voice.spans() if span[1] > later]
    voice.forget(later)
    assert len(voice.probabilities) < -(-len(audio) // CHUNK)
    assert voice.spans(since=later) == kept


class _Scripted:
    """A stand-in network: the speech probability of chunk i is `values[i]`."""

    def __init__(self, values):
        self.values, self.calls = list(values), 0

    def reset_states(self):
        self.calls = 0

    def __call__(self, chunk, rate):
        self.calls += 1
        return self.values[self.calls - 1]


def test_the_first_chunks_alone_are_not_speech_but_speech_from_the_start_is(monkeypatch):
    import scantalk.audio.vad as vad

    onset = [0.9] * WARMUP_CHUNKS + [0.0] * 20  # an abrupt start, then nothing: no speech
    monkeypatch.setattr(vad, "_load_network", lambda: _Scripted(onset))
    voice = VoiceActivity()
    voice.push(np.zeros(len(onset) * CHUNK, np.float32))
    assert voice.spans() == []
    talk = [0.9] * 12 + [0.0] * 12  # speech from the first sample on: its margin covers the start
    monkeypatch.setattr(vad, "_load_network", lambda: _Scripted(talk))
    voice = VoiceActivity()
    voice.push(np.zeros(len(talk) * CHUNK, np.float32))
    (start, end), = voice.spans()
    assert start < 0.0 and end == pytest.approx(12 * CHUNK_S + MARGIN_S)


def test_a_closed_detector_refuses_more_audio():
    voice = VoiceActivity()
    voice.close()
    with pytest.raises(SpeechToolError, match="closed"):
        voice.push(np.zeros(100, np.float32))


def test_audio_at_another_rate_is_refused():
    with pytest.raises(SpeechToolError, match="16000 Hz"):
        speech_spans(np.zeros(8000, np.float32), sample_rate=8000)


def test_without_the_package_the_error_says_what_to_install(monkeypatch):
    from importlib import metadata

    import scantalk.audio.vad as vad

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    vad._model_path.cache_clear()
    monkeypatch.setattr(metadata, "distribution", missing)
    try:
        with pytest.raises(SpeechToolError, match="pip install silero-vad"):
            VoiceActivity()
    finally:
        vad._model_path.cache_clear()


@pytest.mark.slow
def test_music_leaves_the_mouth_at_rest_offline_and_live():
    from scantalk.articulation.coarticulation import articulation_frames
    from scantalk.articulation.phonetic import phonetic_track
    from scantalk.articulation.segments import PhoneSegment
    from scantalk.articulation.stream import ArticulationStream, PhoneStream

    music = _music()
    # The phone loop alone, live, hears vowels in it: what the voice activity is there to stop.
    loop = PhoneStream()
    loop.push(music)
    loop.close()
    assert any(p.phone in ("AA", "AO", "OW", "AH", "AE", "EH", "IY", "UW") for p in loop.phones())
    rest = articulation_frames([PhoneSegment("SIL", 0.0, len(music) / RATE)], 30.0, 0, 180)
    stream = ArticulationStream(30.0, lookahead=0.1)
    rows = [stream.push(music[start:start + 1600])[1] for start in range(0, len(music), 1600)]
    rows.append(stream.close()[1])
    live = np.concatenate(rows)
    assert np.array_equal(live, rest[:len(live)])
    offline = phonetic_track(music, fps=30.0)
    assert np.array_equal(offline.values, rest[:offline.num_frames])
