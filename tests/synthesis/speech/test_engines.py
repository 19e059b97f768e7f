"""festival and flite voices: exact phone timing, quiet pauses, rate control, clear install errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from scantalk.synthesis.speech import engines
from scantalk.synthesis.speech.engines import HELD_OUT_VOICES, TRAIN_VOICES, VOICES, SpeechToolError, synthesize
from scantalk.synthesis.speech.phones import PHONES, SILENCE
from scantalk.errors import ScanTalkError

SENTENCE = "Well, the boy enjoyed a quiet pause."
# One voice per engine keeps the suite fast; every voice is exercised by the corpus recipe.
ENGINE_VOICES = [
    pytest.param("festival:kal_diphone", marks=pytest.mark.skipif(shutil.which("festival") is None, reason="festival not installed")),
    pytest.param("flite:slt", marks=pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")),
]


def _rms(samples: np.ndarray, start: float, end: float) -> float:
    part = samples[int(start * 16000) : int(end * 16000)].astype(np.float64)
    return float(np.sqrt(np.mean(part**2))) if len(part) else 0.0


def test_held_out_voices_keep_a_man_and_a_woman_out_of_training():
    assert set(TRAIN_VOICES) | set(HELD_OUT_VOICES) == set(VOICES)
    assert not set(TRAIN_VOICES) & set(HELD_OUT_VOICES)
    assert "flite:slt" in HELD_OUT_VOICES  # the woman (slt) in an engine not trained on
    assert "festival:ked_diphone" in HELD_OUT_VOICES  # a man heard nowhere in training


@pytest.mark.parametrize("voice", ENGINE_VOICES)
def test_phones_are_monotone_cover_the_audio_and_use_the_vocabulary(voice):
    utt = synthesize(SENTENCE, voice)
    assert utt.samples.dtype == np.float32 and utt.sample_rate == 16000 and utt.voice == voice
    assert 1.0 < utt.duration < 6.0
    assert utt.phones[0].start == 0.0 and utt.phones[-1].end == pytest.approx(utt.duration, abs=1e-6)
    assert all(s.end > s.start for s in utt.phones)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(utt.phones, utt.phones[1:]))
    assert all(s.phone in PHONES for s in utt.phones)
    spoken = [s.phone for s in utt.phones if s.phone != SILENCE]
    assert spoken[:3] == ["W", "EH", "L"] and "OY" in spoken


@pytest.mark.parametrize("voice", ENGINE_VOICES)
def test_silence_segments_are_quiet_in_the_waveform(voice):
    utt = synthesize(SENTENCE, voice)
    speech = np.median([_rms(utt.samples, s.start, s.end) for s in utt.phones if s.phone != SILENCE])
    # Interior pauses (the comma) and the final pause, trimmed by 20 ms for boundary tolerance.
    pauses = [s for s in utt.phones[1:] if s.phone == SILENCE and s.duration > 0.08]
    assert pauses
    for pause in pauses:
        assert _rms(utt.samples, pause.start + 0.02, pause.end - 0.02) < 0.2 * speech


@pytest.mark.parametrize("voice", ENGINE_VOICES)
def test_faster_rate_shortens_audio_and_timings_together(voice):
    normal, fast = synthesize(SENTENCE, voice), synthesize(SENTENCE, voice, rate=1.4)
    assert fast.duration / normal.duration == pytest.approx(1 / 1.4, rel=0.12)
    assert [s.phone for s in fast.phones] == [s.phone for s in normal.phones]
    assert fast.phones[-1].end == pytest.approx(fast.duration, abs=1e-6)


def test_missing_engine_names_the_apt_get_line(monkeypatch):
    monkeypatch.setattr(engines.shutil, "which", lambda name: None)
    with pytest.raises(SpeechToolError, match=r"apt-get install festival festvox-us-slt-hts"):
        synthesize("hello", "festival:us_slt_hts")
    with pytest.raises(SpeechToolError, match=r"apt-get install flite"):
        synthesize("hello", "flite:awb")


def test_bad_inputs_are_user_errors():
    with pytest.raises(ScanTalkError, match="unknown voice"):
        synthesize("hello", "espeak:en")
    with pytest.raises(ScanTalkError, match="no words"):
        synthesize(" 1 2 ", "flite:awb")
    with pytest.raises(ScanTalkError, match="rate"):
        synthesize("hello", "flite:awb", rate=0.0)


def _median_f0(samples: np.ndarray, sr: int = 16000) -> float:
    """Median autocorrelation pitch (Hz) over clearly voiced 40 ms frames."""
    found = []
    for i in range(0, len(samples) - 640, 320):
        frame = samples[i : i + 640].astype(np.float64) - samples[i : i + 640].mean()
        corr = np.correlate(frame, frame, "full")[639:]
        lag = sr // 400 + int(np.argmax(corr[sr // 400 : sr // 60]))
        if corr[0] > 0 and corr[lag] > 0.5 * corr[0]:
            found.append(sr / lag)
    return float(np.median(found))


@pytest.mark.parametrize("voice", ENGINE_VOICES)
def test_pitch_factor_raises_the_voice_and_keeps_the_timing(voice):
    text = "We were away a year ago."
    normal, higher = synthesize(text, voice), synthesize(text, voice, pitch=1.3)
    assert _median_f0(higher.samples) / _median_f0(normal.samples) == pytest.approx(1.3, rel=0.1)
    assert higher.phones == normal.phones
