"""The Animator with a factored (articulated) model: speech → an editable track → any face.

Only properties every articulated model obeys are tested (a tiny model with random weights):
streamed and in-memory frames agree, a saved track decodes back to the same frames, edits and
channel order act as the track says, file order and units are kept, and misuse is a clear error.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scantalk import Animator
from scantalk.articulation import ArticulationTrack
from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.errors import ScanTalkError
from scantalk.face.samples import real_face
from scantalk.frames import FrameStore
from scantalk.model import ScanTalk
from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker
from scantalk.rig.rig import sealed

# Well above float32 rounding of positions near 0.1 m (~7e-9 m), far below the motion (~1 mm).
SAME_FRAMES_M = 1e-7


@pytest.fixture(scope="module")
def animator(tiny_animator):
    return tiny_animator


@pytest.fixture(scope="module")
def face(mediapipe_face):
    return mediapipe_face


@pytest.fixture(scope="module")
def speech():
    rng = np.random.default_rng(0)
    time = np.arange(16000) / 16000
    return (0.3 * np.sin(2 * np.pi * 180 * time) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * time))
            + 0.02 * rng.normal(size=time.size)).astype(np.float32)


def _track(num_frames: int = 12, seed: int = 1, **fixed) -> ArticulationTrack:
    values = np.random.default_rng(seed).uniform(0.0, 1.0, (num_frames, len(ARTICULATION_CHANNELS)))
    track = ArticulationTrack(values, 30.0)
    for name, value in fixed.items():
        track = track.with_channel(name, np.full(num_frames, value))
    return track


def _motion(animation) -> float:
    return float(np.abs(animation.displacements).max())


@pytest.mark.slow
def test_streamed_and_in_memory_frames_are_identical(animator, face, speech, tmp_path):
    in_memory = animator.animate(face, speech, sample_rate=16000)
    streamed = animator.animate(face, speech, sample_rate=16000, out=tmp_path / "frames.npy")
    assert isinstance(streamed.frames, FrameStore) and streamed.frames.path == tmp_path / "frames.npy"
    assert in_memory.frames.shape == (30, len(face[0]), 3) and _motion(in_memory) > 1e-4
    assert np.array_equal(np.asarray(streamed.frames), in_memory.frames)
    assert np.array_equal(streamed.articulation.values, in_memory.articulation.values)


@pytest.mark.slow
def test_the_saved_track_decodes_back_to_the_saved_frames(animator, face, speech, tmp_path):
    animation = animator.animate(face, speech, sample_rate=16000)
    animation.save(tmp_path / "out")
    assert (tmp_path / "out" / "articulation.csv").is_file() and (tmp_path / "out" / "articulation.json").is_file()
    for name in ("articulation.csv", "articulation.json"):
        decoded = animator.animate_track(face, tmp_path / "out" / name)
        assert decoded.fps == animation.fps and decoded.num_frames == animation.num_frames
        assert np.abs(decoded.frames - animation.frames).max() < SAME_FRAMES_M
    from scantalk.inference.animation import Animation

    loaded = Animation.load(tmp_path / "out")
    assert np.array_equal(loaded.articulation.values, animation.articulation.values)
    assert loaded.articulation.channels == ARTICULATION_CHANNELS


@pytest.mark.slow
def test_animate_keeps_the_track_it_decoded(animator, face, speech):
    track = animator.articulate(speech, fps=25, sample_rate=16000)
    animation = animator.animate(face, speech, fps=25, sample_rate=16000)
    assert np.array_equal(animation.articulation.values, track.values) and animation.fps == 25.0
    assert np.abs(animator.animate_track(face, track).frames - animation.frames).max() < SAME_FRAMES_M


def test_articulate_needs_no_face(animator, speech):
    track = animator.articulate(speech, fps=30, sample_rate=16000)
    assert isinstance(track, ArticulationTrack)
    assert track.values.shape == (30, len(ARTICULATION_CHANNELS)) and track.fps == 30.0
    assert track.channels == ARTICULATION_CHANNELS
    assert float(track.values.min()) >= 0.0 and float(track.values.max()) <= 1.0


@pytest.mark.slow
def test_setting_a_channel_to_zero_removes_its_motion(animator, face):
    rest = {name: 0.0 for name in ARTICULATION_CHANNELS}
    jaw_only = _track(**{**rest, "jaw_open": 0.8})
    moving = animator.animate_track(face, jaw_only)
    edited = animator.animate_track(face, jaw_only.with_channel("jaw_open", np.zeros(jaw_only.num_frames)))
    half = animator.animate_track(face, jaw_only.with_channel("jaw_open", np.full(jaw_only.num_frames, 0.4)))
    assert _motion(moving) > 1e-4
    assert _motion(edited) < 1e-3 * _motion(moving)  # the rest pose: the face stays still
    assert _motion(edited) < _motion(half) < _motion(moving)


@pytest.mark.slow
def test_channels_in_another_order_are_reordered(animator, face):
    track = _track()
    reordered = ArticulationTrack(track.array(ARTICULATION_CHANNELS[::-1]), track.fps, ARTICULATION_CHANNELS[::-1])
    expected = animator.animate_track(face, track)
    assert np.abs(animator.animate_track(face, reordered).frames - expected.frames).max() < SAME_FRAMES_M


def test_a_missing_channel_is_a_clear_error(animator, face):
    track = _track()
    kept = ARTICULATION_CHANNELS[:-1]
    partial = ArticulationTrack(track.array(kept), track.fps, kept)
    with pytest.raises(ScanTalkError, match=r"lacks the channels \['labiodental'\].*zeros"):
        animator.animate_track(face, partial)


@pytest.mark.slow
def test_a_permuted_face_gets_the_same_motion_in_its_own_order(animator, face):
    verts, faces = face
    order = np.random.default_rng(2).permutation(len(verts))
    track = _track()
    original = animator.animate_track(face, track)
    permuted = animator.animate_track((verts[order], np.argsort(order)[faces]), track)
    assert np.array_equal(permuted.neutral, verts[order])
    motion = original.displacements
    assert np.abs(permuted.displacements - motion[:, order]).max() < 1e-4 * np.abs(motion).max()


@pytest.mark.slow
def test_a_face_in_millimetres_moves_a_thousand_times_as_far(animator, face):
    verts, faces = face
    track = _track()
    metres = animator.animate_track(face, track)
    millimetres = animator.animate_track((verts * 1000.0, faces), track)
    assert millimetres.meta["alignment"]["units"] == "millimetres"
    expected = 1000.0 * metres.displacements
    assert np.abs(millimetres.displacements - expected).max() < 0.01 * np.abs(expected).max()


def test_an_untrained_articulated_model_keeps_the_face_still(face, speech, tiny_articulated_config):
    still = Animator(ArticulatedTalker(ArticulatedConfig(**tiny_articulated_config)), device="cpu", cache_dir=False)
    animation = still.animate((face[0] * 1000.0, face[1]), speech, sample_rate=16000)
    assert np.array_equal(animation.frames, np.broadcast_to(face[0] * 1000.0, animation.frames.shape))


def test_emotion_with_a_model_that_finds_no_landmarks_is_refused(animator, face, speech):
    with pytest.raises(ScanTalkError, match="finds the face's landmarks"):
        animator.animate(face, speech, sample_rate=16000, emotion="happy")
    with pytest.raises(ScanTalkError, match="intensity was given without an emotion"):
        animator.animate(face, speech, sample_rate=16000, intensity=0.5)


def test_track_methods_need_an_articulated_model(face, speech):
    end_to_end = Animator(ScanTalk(k_eig=16), device="cpu", cache_dir=False)
    assert not end_to_end.articulated
    with pytest.raises(ScanTalkError, match="articulate needs a model that speaks through an articulation track"):
        end_to_end.articulate(speech, sample_rate=16000)
    with pytest.raises(ScanTalkError, match="animate_track needs"):
        end_to_end.animate_track(face, _track())


@pytest.mark.slow
def test_fit_face_reads_an_animation_back_in_the_model_frame(animator, face):
    """A face file in millimetres and shuffled order: its animation, mapped back by the fit,
    is the track's motion on the fit's basis."""
    verts, faces = face
    order = np.random.default_rng(3).permutation(len(verts))
    shuffled = (1000.0 * verts[order], np.argsort(order)[faces])
    track = _track()
    animation = animator.animate_track(shuffled, track)
    fit = animator.fit_face(shuffled)
    assert fit.head is None and fit.alignment.units == "millimetres"  # the tiny model's decoder finds no landmarks
    # The rig is fed the track with its closures sealed (the jaw follows the lips' contact).
    expected = ArticulatedTalker.displacement(torch.as_tensor(fit.basis), sealed(torch.as_tensor(track.values))).numpy()
    read = fit.motion_to_model(animation.displacements)
    assert read.shape == expected.shape == (len(track.values), len(fit.template), 3)
    assert np.abs(read - expected).max() < 1e-4 * np.abs(expected).max()
