"""Life drawn live (`LifeStream`): blinks at a human rate that close fully, bounded motion and
state, the same rows whatever the chunking, and a live face that blinks and moves its head."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import scantalk
from scantalk.life import LIFE_CHANNELS, LifeError
from scantalk.life.stream import LifeStream

SPEECH = scantalk.__file__.rsplit("/", 1)[0] + "/assets/speech/librivox_sense_and_sensibility_0870.wav"
FPS = 30.0
COLUMN = {name: i for i, name in enumerate(LIFE_CHANNELS)}


@pytest.fixture(scope="module")
def minute() -> tuple[np.ndarray, np.ndarray]:
    """About a minute of a real reader (one recording again and again, pauses between) and
    articulation-like rows that move where the voice is loud (what `LifeStream` reads as speech)."""
    samples, rate = sf.read(SPEECH, dtype="float32")
    assert rate == 16000
    pause = np.zeros(12000, np.float32)
    audio = np.concatenate([np.concatenate([samples, pause]) for _ in range(8)])
    count = int(len(audio) / 16000 * FPS)
    frames = audio[: count * 533].reshape(count, 533)  # ~1/30 s each
    loud = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10) > -45.0
    rows = np.zeros((count, 5))
    rows[loud, 0] = 0.5
    return audio, rows


def _live(audio: np.ndarray, rows: np.ndarray, frames_per_push: int, **options) -> np.ndarray:
    stream, out, heard = LifeStream(FPS, **options), [], 0
    for start in range(0, len(rows), frames_per_push):
        # Audio up to 0.1 s past the last frame asked for, as `ArticulationStream` hears it.
        until = min(len(audio), int(((start + frames_per_push) / FPS + 0.1) * 16000))
        stream.hear(audio[heard:until])
        heard = max(heard, until)
        out.append(stream.rows(rows[start:start + frames_per_push]))
    assert len(stream._audio) < 16000  # at most a second of audio is held, however long the talk
    return np.concatenate(out)


@pytest.mark.slow
def test_live_blinks_close_fully_at_a_human_rate_and_the_head_stays_in_range(minute):
    audio, rows = minute
    life = _live(audio, rows, 7, seed=1)
    lid = life[:, COLUMN["blink_left"]]
    starts = np.flatnonzero((lid[1:] > 0) & (lid[:-1] == 0))
    minutes = len(rows) / FPS / 60.0
    assert 10.0 <= len(starts) / minutes <= 25.0
    for start in starts:  # each blink closes fully, then opens again
        blink = lid[start + 1:start + 1 + int(0.5 * FPS)]
        assert blink.max() == 1.0 and blink[-1] == 0.0
    assert np.array_equal(lid, life[:, COLUMN["blink_right"]])
    assert np.abs(life[:, COLUMN["head_yaw"]]).max() <= 10.0 and np.abs(life[:, COLUMN["head_pitch"]]).max() <= 6.0
    assert np.abs(life[:, COLUMN["head_yaw"]]).max() > 0.5 and life[:, COLUMN["brow_inner_up"]].max() > 0.2
    assert np.abs(life[:, COLUMN["eye_yaw"]]).max() > 1.0  # the gaze moves


@pytest.mark.slow
def test_the_same_speech_chunked_differently_gives_the_same_rows_and_the_seed_decides(minute):
    audio, rows = minute
    audio, rows = audio[: 16000 * 15], rows[: int(15 * FPS)]
    one = _live(audio, rows, 1, seed=2)
    assert np.array_equal(one, _live(audio, rows, 13, seed=2))
    assert not np.array_equal(one, _live(audio, rows, 13, seed=3))
    assert not np.any(_live(audio, rows, 5, life=0.0))
    blinks_only = _live(audio, rows, 5, seed=2, groups=["blinks"])
    np.testing.assert_array_equal(blinks_only[:, COLUMN["blink_left"]], one[:, COLUMN["blink_left"]])
    assert not np.any(blinks_only[:, 2:])


def test_bad_amounts_and_groups_are_refused():
    with pytest.raises(LifeError, match="0..1"):
        LifeStream(FPS, life=1.5)
    with pytest.raises(LifeError, match="group"):
        LifeStream(FPS, groups=["ears"])


@pytest.mark.slow
def test_a_live_face_moves_beyond_its_mouth_and_life_zero_changes_nothing(animator, minute):
    pytest.importorskip("pocketsphinx", reason="pocketsphinx not installed (pip install pocketsphinx==5.1.1)")
    from scantalk.face.samples import real_face

    face = real_face("mediapipe")
    audio = minute[0][: 16000 * 4]

    def run(chunk, **options):
        stream = animator.stream((face.verts, face.faces), lookahead=0.1, landmarks=face.landmarks, **options)
        frames = [frame for start in range(0, len(audio), chunk) for frame in stream.push(audio[start:start + chunk])]
        return frames + stream.close()

    still = run(1600)
    alive = run(1600, life=1.0, life_seed=1)
    assert all(frame.life is None for frame in still) and alive[0].life.shape == (len(LIFE_CHANNELS),)
    np.testing.assert_array_equal(np.stack([f.articulation for f in alive]), np.stack([f.articulation for f in still]))
    moved = np.linalg.norm(np.stack([f.vertices for f in alive]) - np.stack([f.vertices for f in still]), axis=2)
    brow = np.linalg.norm(face.verts - (face.landmarks.eye_left + 0.02 * np.array([0, 1, 0])), axis=1) < 0.02
    assert moved[:, brow].max() > 0.001  # the upper face moves, not only the mouth
    np.testing.assert_array_equal(np.stack([f.vertices for f in run(700, life=1.0, life_seed=1)]),
                                  np.stack([f.vertices for f in alive]))
    np.testing.assert_array_equal(np.stack([f.vertices for f in run(1600, life=0.0)]),
                                  np.stack([f.vertices for f in still]))
