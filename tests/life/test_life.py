"""Life beyond the mouth: the track (channels, units, files), drawing it from speech, and the rig
that decodes it onto heads with separate eyeballs, eyes in the skin, and a bust's shoulders."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import scantalk
from scantalk.face.samples import real_face
from scantalk.life import (LIFE_CHANNELS, LIFE_GROUPS, LifeError, LifeRig, LifeTrack, lid_gaps, lid_margins,
                           life_from_speech)
from scantalk.synthesis.heads.procedural import procedural_head

SPEECH = scantalk.__file__.rsplit("/", 1)[0] + "/assets/speech/librivox_sense_and_sensibility_0870.wav"
FPS = 30.0


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    samples, rate = sf.read(SPEECH, dtype="float32")
    assert rate == 16000
    return np.concatenate([samples, np.zeros(8000, np.float32), samples])  # two sentences and a pause


@pytest.fixture(scope="module")
def head():
    """A procedural head: skin, lids over two separate eyeballs, a neck."""
    return procedural_head(11, resolution=0.004)


def _pose(**channels: float) -> np.ndarray:
    row = np.zeros((1, len(LIFE_CHANNELS)))
    for name, value in channels.items():
        row[0, LIFE_CHANNELS.index(name)] = value
    return row


def _frames(head, rig, **channels):
    return head.verts + rig.displace(head.verts, np.zeros((1,) + head.verts.shape), _pose(**channels))[0]


# --- the track ------------------------------------------------------------------------------


def test_a_track_refuses_unknown_channels_values_out_of_range_and_nan():
    with pytest.raises(LifeError, match="unknown"):
        LifeTrack(np.zeros((3, 1)), 30.0, ("wink",))
    with pytest.raises(LifeError, match="head_yaw"):
        LifeTrack.still(3, 30.0).with_channel("head_yaw", np.full(3, 90.0))  # degrees beyond a neck
    with pytest.raises(LifeError, match="fill the gap"):
        LifeTrack.still(3, 30.0).with_channel("blink_left", np.array([0.0, np.nan, 0.0]))
    with pytest.raises(LifeError, match="fps"):
        LifeTrack(np.zeros((3, len(LIFE_CHANNELS))), 0.0)


def test_a_track_saved_as_csv_reads_back_and_edits_and_switches_act_on_their_channels(tmp_path):
    values = np.random.default_rng(0).uniform(0.0, 1.0, (12, len(LIFE_CHANNELS)))
    track = LifeTrack(values, 25.0)
    back = LifeTrack.load_csv(track.save_csv(tmp_path / "life.csv"))
    assert back.fps == 25.0 and back.channels == LIFE_CHANNELS and np.array_equal(back.values, track.values)
    edited = track.with_channel("head_yaw", np.full(12, -3.0))
    assert np.all(edited["head_yaw"] == -3.0) and np.array_equal(edited["blink_left"], track["blink_left"])
    calm = track.without(("head", "gaze"))
    for group, names in LIFE_GROUPS.items():
        for name in names:
            assert np.any(calm[name]) == (group not in ("head", "gaze"))
    # A spreadsheet that drops the comment line still reads (fps from the time column).
    text = (tmp_path / "life.csv").read_text().split("\n", 1)[1]
    (tmp_path / "plain.csv").write_text(text)
    assert LifeTrack.load_csv(tmp_path / "plain.csv").fps == pytest.approx(25.0)
    assert track.resample(50.0).num_frames == 24


# --- drawn from speech ----------------------------------------------------------------------


def test_life_from_speech_is_deterministic_and_zero_life_is_still(speech):
    count = int(len(speech) / 16000 * FPS)
    first = life_from_speech(speech, 16000, FPS, count, seed=4)
    assert np.array_equal(first.values, life_from_speech(speech, 16000, FPS, count, seed=4).values)
    assert not np.array_equal(first.values, life_from_speech(speech, 16000, FPS, count, seed=5).values)
    assert not np.any(life_from_speech(speech, 16000, FPS, count, life=0.0).values)
    only_blinks = life_from_speech(speech, 16000, FPS, count, groups=["blinks"], seed=4)
    assert np.array_equal(only_blinks["blink_left"], first["blink_left"])
    assert not np.any(only_blinks.array()[:, 2:])
    with pytest.raises(LifeError, match="0..1"):
        life_from_speech(speech, 16000, FPS, count, life=2.0)
    with pytest.raises(LifeError, match="group"):
        life_from_speech(speech, 16000, FPS, count, groups=["ears"])


def test_blinks_close_fully_at_a_human_rate_and_the_head_stays_in_a_natural_range(speech):
    count = int(len(speech) / 16000 * FPS)
    track = life_from_speech(speech, 16000, FPS, count, seed=0)
    lid = track["blink_left"]
    peaks = np.flatnonzero((lid[1:] == 1.0) & (lid[:-1] < 1.0))
    minutes = count / FPS / 60.0
    assert len(peaks) >= 1 and 5.0 <= len(peaks) / minutes <= 30.0
    assert np.array_equal(lid, track["blink_right"])
    assert np.abs(track["head_yaw"]).max() <= 10.0 and np.abs(track["head_pitch"]).max() <= 6.0
    assert np.abs(track["head_yaw"]).max() > 0.5  # it does move


# --- decoded onto heads ---------------------------------------------------------------------


def test_a_full_blink_brings_the_lids_together_over_separate_eyeballs_without_entering_them(head):
    rig = LifeRig.of(head)
    skin = head.parts == 0
    closed = _frames(head, rig, blink_left=1.0, blink_right=1.0)
    pairs = lid_margins(rig, head.verts, skin)
    (open_gaps, closed_gaps) = lid_gaps(rig, np.stack([head.verts, closed]), pairs)
    for eye, open_gap, closed_gap in zip(rig.eyes, open_gaps, closed_gaps):
        assert len(eye.eyeball) > 0
        assert open_gap > 0.006 and closed_gap < max(0.001, 0.1 * open_gap)
        inside = np.linalg.norm(closed[skin] - eye.centre, axis=1) < eye.radius
        assert not inside.any()
    half = lid_gaps(rig, _frames(head, rig, blink_left=0.5)[None], pairs)[0]
    assert half[0] < 0.8 * open_gaps[0] and half[1] == pytest.approx(open_gaps[1])  # only the left eye blinks


@pytest.mark.parametrize("seed", [900041, 900044])
def test_the_lids_of_a_coarse_meshing_close_too(seed):
    """At a 5 mm meshing the vertices around an eye stand as far apart as its opening is tall:
    the opening is read from where the surface itself is cut, and a blink still closes it."""
    coarse = procedural_head(seed, resolution=0.005)
    rig = LifeRig.of(coarse)
    skin = coarse.parts == 0
    closed = _frames(coarse, rig, blink_left=1.0, blink_right=1.0)
    (open_gaps, closed_gaps) = lid_gaps(rig, np.stack([coarse.verts, closed]), lid_margins(rig, coarse.verts, skin))
    for eye, open_gap, closed_gap in zip(rig.eyes, open_gaps, closed_gaps):
        assert open_gap > 0.006 and closed_gap < max(0.001, 0.1 * open_gap)
        assert not (np.linalg.norm(closed[skin] - eye.centre, axis=1) < eye.radius).any()


def test_an_eye_landmark_found_a_little_off_still_finds_the_opening_and_closes_it():
    """MediaPipe's mask with its eye landmarks 0.6-1 mm off, as the landmark finder places them:
    each eye's opening is still read from the surface, and a blink closes it."""
    from dataclasses import replace

    from scantalk.face.head import FaceLandmarks
    from scantalk.life.rig import DEFAULT_OPENING

    face = real_face("mediapipe")
    points = face.landmarks.as_array()
    for offset in ([0.0005, 0.0004, 0.0003], [0.001, 0.0, 0.0003]):
        points[6:8] = face.landmarks.as_array()[6:8] + np.array(offset)
        moved = replace(face, landmarks=FaceLandmarks.from_array(points))
        rig = LifeRig.of(moved)
        assert all(tuple(round(v, 6) for v in eye.opening) != DEFAULT_OPENING for eye in rig.eyes)
        pairs = lid_margins(rig, face.verts)
        (open_gaps, closed_gaps) = lid_gaps(rig, np.stack([face.verts, _frames(moved, rig, blink_left=1.0,
                                                                                blink_right=1.0)]), pairs)
        assert np.all(closed_gaps <= np.maximum(0.001, 0.1 * open_gaps))


def test_raised_or_lowered_brows_do_not_hold_a_blinking_eye_open(head):
    rig = LifeRig.of(head)
    pairs = lid_margins(rig, head.verts, head.parts == 0)
    plain = lid_gaps(rig, _frames(head, rig, blink_left=1.0, blink_right=1.0)[None], pairs)[0]
    for brows in ({"brow_inner_up": 0.8, "brow_outer_up": 0.56}, {"brow_down": 0.3}):
        closed = lid_gaps(rig, _frames(head, rig, blink_left=1.0, blink_right=1.0, **brows)[None], pairs)[0]
        assert np.all(np.abs(closed - plain) < 0.0001)  # within 0.1 mm of the blink alone
    raised = lid_gaps(rig, _frames(head, rig, brow_inner_up=0.8, brow_outer_up=0.56)[None], pairs)[0]
    assert np.all(raised > lid_gaps(rig, head.verts[None], pairs)[0])  # open, the brows still lift the lids


def test_eyeballs_turn_rigidly_about_their_centres_and_the_gaze_goes_where_asked(head):
    rig = LifeRig.of(head)
    looked = _frames(head, rig, eye_yaw=20.0, eye_pitch=-10.0)
    for eye in rig.eyes:
        before, after = head.verts[eye.eyeball], looked[eye.eyeball]
        pairs = np.random.default_rng(0).integers(0, len(before), (200, 2))
        assert np.allclose(np.linalg.norm(before[pairs[:, 0]] - before[pairs[:, 1]], axis=1),
                           np.linalg.norm(after[pairs[:, 0]] - after[pairs[:, 1]], axis=1), atol=1e-9)
        front = np.argmax((before - eye.centre) @ rig.axes[2])  # the pupil
        moved = (after[front] - before[front]) @ rig.axes.T
        assert moved[0] > 0.002 and moved[1] < -0.001  # to the head's left, and down
    skin = head.parts == 0
    assert np.array_equal(looked[skin], head.verts[skin])


def test_the_head_turns_about_the_neck_and_a_busts_shoulders_stay(head):
    rig = LifeRig.of(head)
    turned = _frames(head, rig, head_yaw=10.0, head_pitch=4.0)
    nose = np.argmin(np.linalg.norm(head.verts - head.landmarks.nose_tip, axis=1))
    shift = (turned[nose] - head.verts[nose]) @ rig.axes.T
    assert shift[0] > 0.01  # yaw + turns the face to its left
    lowest = head.verts @ rig.axes[1] < (head.verts @ rig.axes[1]).min() + 0.01
    assert np.abs(turned[lowest] - head.verts[lowest]).max() < 1e-9
    nodded = _frames(head, rig, head_pitch=5.0)
    chin = np.argmin(np.linalg.norm(head.verts - head.landmarks.chin, axis=1))
    assert (nodded[chin] - head.verts[chin]) @ rig.axes[1] < -0.002  # pitch + drops the chin


def test_brows_rise_and_fall_where_the_brows_are_and_nowhere_near_the_mouth():
    face = real_face("james")  # a scan: eyes in the skin, no eyeball parts
    rig = LifeRig.of(face)
    raised = _frames(face, rig, brow_inner_up=1.0, brow_outer_up=1.0)
    lowered = _frames(face, rig, brow_down=1.0)
    lift = (raised - face.verts) @ rig.axes[1]
    drop = (lowered - face.verts) @ rig.axes[1]
    brow = 0.5 * (face.landmarks.eye_left + face.landmarks.eye_right) + 0.02 * rig.axes[1]
    near_brow = np.linalg.norm(face.verts - brow, axis=1) < 0.035
    mouth = np.linalg.norm(face.verts - face.landmarks.mouth_centre, axis=1) < 0.03
    assert lift[near_brow].max() > 0.003 and drop[near_brow].min() < -0.002
    assert np.abs(raised[mouth] - face.verts[mouth]).max() < 1e-6
    # Eyes in the skin close too: the skin over the eye comes down.
    rig_eye = rig.eyes[0]
    closed = _frames(face, rig, blink_left=1.0)
    assert len(rig_eye.lid) and ((closed - face.verts) @ rig.axes[1])[rig_eye.lid].min() < -0.003


# --- through the Animator -------------------------------------------------------------------


@pytest.mark.slow
def test_animate_with_life_zero_is_unchanged_and_life_moves_the_upper_face_and_is_saved(animator, speech, tmp_path):
    from scantalk.inference.animation import Animation

    face = real_face("mediapipe")
    clip = speech[:48000]
    landmarks = face.landmarks
    base = animator.animate((face.verts, face.faces), clip, sample_rate=16000, landmarks=landmarks)
    zero = animator.animate((face.verts, face.faces), clip, sample_rate=16000, landmarks=landmarks, life=0.0)
    assert np.array_equal(np.asarray(base.frames), np.asarray(zero.frames)) and zero.life is None
    alive = animator.animate((face.verts, face.faces), clip, sample_rate=16000, landmarks=landmarks, life=1.0,
                             life_seed=2)
    moved = np.linalg.norm(np.asarray(alive.frames) - np.asarray(base.frames), axis=2).max(axis=0)
    brow = np.linalg.norm(face.verts - (landmarks.eye_left + 0.02 * np.array([0, 1, 0])), axis=1) < 0.02
    assert moved[brow].max() > 0.001 and alive.meta["life"]["seed"] == 2
    alive.save(tmp_path / "alive")
    back = Animation.load(tmp_path / "alive")
    assert np.array_equal(back.life.values, alive.life.values)
    again = animator.animate_track((face.verts, face.faces), alive.articulation, landmarks=landmarks,
                                   life=tmp_path / "alive" / "life.csv")
    assert np.allclose(np.asarray(again.frames), np.asarray(alive.frames), atol=1e-6)


def test_arkit_export_carries_blinks_brows_and_head_rotation_in_radians(animator, speech, tmp_path):
    import csv

    face = real_face("mediapipe")
    track = LifeTrack.still(90, 30.0).with_channel("blink_left", np.r_[np.zeros(40), np.ones(10), np.zeros(40)])
    track = track.with_channel("head_yaw", np.full(90, 6.0))
    animation = animator.animate_track((face.verts, face.faces), animator.articulate(speech[:48000], 30.0,
                                                                                      sample_rate=16000),
                                       landmarks=face.landmarks, life=track)
    rows = list(csv.DictReader(open(animation.export_arkit(tmp_path / "arkit.csv"))))
    assert max(float(row["EyeBlinkLeft"]) for row in rows) == 1.0
    assert max(float(row["EyeBlinkRight"]) for row in rows) == 0.0
    assert float(rows[0]["HeadYaw"]) == pytest.approx(np.radians(6.0), abs=1e-5)
