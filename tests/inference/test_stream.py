"""`Animator.stream`: live frames that match the offline animation of the same track, whatever
the chunking, rate or channels of the audio; misuse is a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from scantalk import Animator
from scantalk.articulation import ArticulationTrack
from scantalk.articulation.phonetic import phonetic_track
from scantalk.errors import AudioError, ScanTalkError
from scantalk.model import ScanTalk

# Well above float32 rounding of positions near 0.1 m (~7e-9 m), far below the motion (~1 mm).
SAME_FRAMES_M = 1e-7


def _all_frames(stream, samples, chunk, rate=16000):
    frames = []
    for start in range(0, len(samples), chunk):
        frames += stream.push(samples[start:start + chunk], rate)
    return frames + stream.close()


@pytest.mark.slow
def test_with_a_long_lookahead_frames_are_the_offline_animation(tiny_animator, mediapipe_face, papa_spoken):
    """A 5 s lookahead hears the speech as words, as the offline phonetic front end does."""
    stream = tiny_animator.stream(mediapipe_face, lookahead=5.0)
    frames = _all_frames(stream, papa_spoken.samples, 1600)
    assert [frame.index for frame in frames] == list(range(len(frames)))
    heard = phonetic_track(papa_spoken.samples, 30.0, num_frames=len(frames))
    track = ArticulationTrack(heard.array(stream.channels), 30.0, stream.channels)
    offline = tiny_animator.animate_track(mediapipe_face, track)
    live = np.stack([frame.vertices for frame in frames])
    np.testing.assert_allclose(live, np.asarray(offline.frames), atol=SAME_FRAMES_M)
    assert np.abs(live - stream.rest).max() > 1e-4  # the face moves


@pytest.mark.slow
def test_the_same_speech_cut_up_differently_gives_the_same_frames(tiny_animator, mediapipe_face, papa_spoken):
    one = _all_frames(tiny_animator.stream(mediapipe_face, lookahead=0.1), papa_spoken.samples, 1000)
    other = _all_frames(tiny_animator.stream(mediapipe_face, lookahead=0.1), papa_spoken.samples, 333)
    np.testing.assert_array_equal(np.stack([f.vertices for f in one]), np.stack([f.vertices for f in other]))


@pytest.mark.slow
def test_stereo_pcm_at_another_rate_is_heard_like_the_same_speech_at_16k(tiny_animator, mediapipe_face, papa_spoken):
    at_48k = resample_poly(papa_spoken.samples, 3, 1)
    stereo = (np.stack([at_48k, at_48k], axis=1) * 32767).clip(-32768, 32767).astype(np.int16)
    frames = _all_frames(tiny_animator.stream(mediapipe_face, lookahead=0.1), stereo, 4800, rate=48000)
    reference = _all_frames(tiny_animator.stream(mediapipe_face, lookahead=0.1), papa_spoken.samples, 1600)
    assert abs(len(frames) - len(reference)) <= 1
    close = np.array([f.articulation[1] for f in frames])
    assert close.max() > 0.5  # the lips still close on "Papa ... map"


def test_a_change_of_sample_rate_mid_stream_is_refused(tiny_animator, mediapipe_face):
    stream = tiny_animator.stream(mediapipe_face)
    stream.push(np.zeros(1600, np.float32), 16000)
    with pytest.raises(AudioError, match="16000 Hz"):
        stream.push(np.zeros(4410, np.float32), 44100)


def test_pushing_after_close_is_refused(tiny_animator, mediapipe_face):
    with tiny_animator.stream(mediapipe_face) as stream:
        stream.push(np.zeros(1600, np.float32))
    with pytest.raises(ScanTalkError, match="closed"):
        stream.push(np.zeros(1600, np.float32))


def test_an_end_to_end_model_cannot_stream(mediapipe_face):
    end_to_end = Animator(ScanTalk(), device="cpu", cache_dir=False)
    with pytest.raises(ScanTalkError, match="articulation track"):
        end_to_end.stream(mediapipe_face)


@pytest.mark.slow
def test_a_reset_stream_hears_a_new_speech_as_a_fresh_one(tiny_animator, mediapipe_face, papa_spoken):
    stream = tiny_animator.stream(mediapipe_face, lookahead=0.1)
    first = _all_frames(stream, papa_spoken.samples, 1600)
    again = _all_frames(stream.reset(), papa_spoken.samples, 1600)
    assert [f.index for f in again] == list(range(len(first)))
    np.testing.assert_array_equal(np.stack([f.vertices for f in again]), np.stack([f.vertices for f in first]))
