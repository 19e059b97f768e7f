"""Speech with exact phone timing: real voices to train on, real recordings to measure on.

- `synthesize(text, voice)` speaks with Debian's festival/flite voices (recorded from real
  speakers) and returns an `Utterance` whose `phones` tile the audio (ARPAbet + "SIL").
- `sentences(n, seed)` writes varied, phonetically rich English; `augment(utt, rng)` adds tempo,
  pitch, loudness, noise, room, EQ, sample-rate and clipping changes with timings kept right.
- `build_speech_corpus(out_dir, n)` / `load_speech_corpus(out_dir)`: a resumable corpus on disk.
- `real_speech_set()`: real recordings (pocketsphinx-testdata) force-aligned by pocketsphinx;
  for evaluation only. `decode_phones(samples)`: phones of any English speech, no transcript.
"""

from scantalk.articulation.sphinx import align_phones, decode_phones
from scantalk.synthesis.speech.augment import augment, change_rate, pitch_shift, time_stretch
from scantalk.synthesis.speech.corpus import SpeechCorpus, build_speech_corpus, load_speech_corpus
from scantalk.synthesis.speech.engines import (
    HELD_OUT_VOICES,
    TRAIN_VOICES,
    VOICES,
    available_voices,
    synthesize,
    synthesize_many,
)
from scantalk.synthesis.speech.phones import PHONE_INDEX, PHONES, SILENCE, PhoneSegment, Utterance, phone_frames, to_arpabet
from scantalk.synthesis.speech.real import real_speech_set
from scantalk.synthesis.speech.text import sentences
from scantalk.errors import SpeechToolError

__all__ = [
    "HELD_OUT_VOICES",
    "PHONES",
    "PHONE_INDEX",
    "SILENCE",
    "TRAIN_VOICES",
    "VOICES",
    "PhoneSegment",
    "SpeechCorpus",
    "SpeechToolError",
    "Utterance",
    "align_phones",
    "augment",
    "available_voices",
    "build_speech_corpus",
    "change_rate",
    "decode_phones",
    "load_speech_corpus",
    "phone_frames",
    "pitch_shift",
    "real_speech_set",
    "sentences",
    "synthesize",
    "synthesize_many",
    "time_stretch",
    "to_arpabet",
]
