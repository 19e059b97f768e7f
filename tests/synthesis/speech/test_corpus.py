"""The speech corpus on disk: complete records, resumable, refuses to mix two builds."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from scantalk.synthesis.speech import build_speech_corpus, load_speech_corpus
from scantalk.errors import DatasetError

pytestmark = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed (apt-get install flite)")
VOICES = ("flite:awb", "flite:kal16")  # flite starts in milliseconds: keeps the test fast


@pytest.mark.slow
def test_corpus_records_audio_with_matching_phones(tmp_path):
    root = build_speech_corpus(tmp_path / "corpus", 3, seed=1, voices=VOICES, workers=1)
    corpus = load_speech_corpus(root)
    assert len(corpus) == 3 and sorted(p.name for p in (root / "wav").iterdir()) == ["000000.wav", "000001.wav", "000002.wav"]
    for utt in corpus:
        assert utt.voice in VOICES and utt.text and utt.sample_rate == 16000
        assert utt.phones[-1].end == pytest.approx(len(utt.samples) / 16000, abs=1e-4)
        assert all(a.end == pytest.approx(b.start) for a, b in zip(utt.phones, utt.phones[1:]))


def test_interrupted_build_resumes_and_matches_an_uninterrupted_one(tmp_path):
    root = build_speech_corpus(tmp_path / "corpus", 3, seed=2, voices=VOICES, workers=1)
    before = {p.name: p.read_text() for p in (root / "phones").iterdir()}
    kept_mtime = (root / "wav" / "000000.wav").stat().st_mtime_ns
    # Simulate a crash after utterance 0: the rest and the manifest are gone.
    for name in ("000001", "000002"):
        (root / "phones" / f"{name}.json").unlink()
        (root / "wav" / f"{name}.wav").unlink()
    (root / "manifest.json").unlink()
    build_speech_corpus(root, 3, seed=2, voices=VOICES, workers=1)
    after = {p.name: p.read_text() for p in (root / "phones").iterdir()}
    assert after == before
    assert (root / "wav" / "000000.wav").stat().st_mtime_ns == kept_mtime  # done work is not redone
    assert json.loads((root / "manifest.json").read_text())["ids"] == ["000000", "000001", "000002"]


def test_growing_a_corpus_keeps_what_is_there(tmp_path):
    root = build_speech_corpus(tmp_path / "corpus", 2, seed=3, voices=VOICES, workers=1)
    first = load_speech_corpus(root)[0]
    build_speech_corpus(root, 3, seed=3, voices=VOICES, workers=1)
    grown = load_speech_corpus(root)
    assert len(grown) == 3 and np.array_equal(grown[0].samples, first.samples)


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    root = build_speech_corpus(tmp_path / "corpus", 1, seed=4, voices=VOICES, workers=1)
    with pytest.raises(DatasetError, match="other settings"):
        build_speech_corpus(root, 1, seed=5, voices=VOICES, workers=1)


def test_loading_a_folder_without_a_corpus_says_how_to_build_one(tmp_path):
    with pytest.raises(DatasetError, match="build_speech_corpus"):
        load_speech_corpus(tmp_path)
