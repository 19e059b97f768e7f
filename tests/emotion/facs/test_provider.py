"""emotion= on an articulated model: FACS expressions placed on any face from the landmarks its
decoder finds, as a label, a mix, or keyframes over time."""

from __future__ import annotations

import numpy as np
import pytest

from scantalk import Animator
from scantalk.errors import ScanTalkError
from scantalk.face.samples import real_face


@pytest.fixture(scope="module")
def animator():
    return Animator.from_checkpoint(device="cpu", cache_dir=False)


@pytest.fixture(scope="module")
def face():
    head = real_face("mediapipe")
    return head.verts, head.faces


@pytest.fixture(scope="module")
def speech():
    rng = np.random.default_rng(0)
    return (0.1 * rng.normal(size=16000) * np.sin(np.linspace(0, 12, 16000)) ** 2).astype(np.float32)


def _extra(animation, plain) -> np.ndarray:
    """(T, V) how far each vertex moved beyond the plain animation, in the face's units."""
    return np.linalg.norm(np.asarray(animation.frames) - np.asarray(plain.frames), axis=-1)


@pytest.mark.slow
def test_an_expression_adds_motion_that_grows_with_intensity(animator, face, speech):
    if not animator.articulated:
        pytest.skip("the shipped model is not articulated")
    plain = animator.animate(face, speech, sample_rate=16000)
    none = animator.animate(face, speech, sample_rate=16000, emotion="happy", intensity=0.0)
    half = animator.animate(face, speech, sample_rate=16000, emotion="happy", intensity=0.5)
    full = animator.animate(face, speech, sample_rate=16000, emotion="happy", intensity=1.0)
    assert np.abs(np.asarray(none.frames) - np.asarray(plain.frames)).max() < 1e-7
    assert 1.8 * _extra(half, plain).max() < _extra(full, plain).max()  # linear: twice as far
    assert _extra(full, plain).max() > 1e-3  # millimetres, on a face in metres
    assert full.meta["emotion"] == "happy"


@pytest.mark.slow
def test_a_mix_and_keyframes(animator, face, speech):
    if not animator.articulated:
        pytest.skip("the shipped model is not articulated")
    plain = animator.animate(face, speech, sample_rate=16000)
    happy = animator.animate(face, speech, sample_rate=16000, emotion="happy")
    sad = animator.animate(face, speech, sample_rate=16000, emotion="sad")
    moving = animator.animate(face, speech, sample_rate=16000, emotion=[(0.0, "happy", 1.0), (0.8, "sad", 1.0)])
    frames = np.asarray(moving.frames)
    # Held before the first keyframe's time and after the last one's; eased in between.
    assert np.abs(frames[0] - np.asarray(happy.frames)[0]).max() < 1e-6
    assert np.abs(frames[-1] - np.asarray(sad.frames)[-1]).max() < 1e-6
    mixed = animator.animate(face, speech, sample_rate=16000, emotion={"happy": 1.0, "sad": 1.0})
    assert _extra(mixed, plain).max() > 0.0
    with pytest.raises(ScanTalkError, match="known emotions: afraid"):
        animator.animate(face, speech, sample_rate=16000, emotion="ecstatic")
    with pytest.raises(ScanTalkError, match="keyframes"):
        animator.animate(face, speech, sample_rate=16000, emotion=[(0.0, "happy")])
    with pytest.raises(ScanTalkError, match="its own intensity"):
        animator.animate(face, speech, sample_rate=16000, emotion=[(0.0, "happy", 1.0)], intensity=0.5)


@pytest.mark.slow
def test_the_cli_takes_labels_mixes_and_keyframes(animator, face, speech, tmp_path):
    import soundfile as sf

    from scantalk.cli import main
    from scantalk.commands.animate import parse_emotion
    from scantalk.geometry import Mesh, save_mesh

    assert parse_emotion("happy") == "happy"
    assert parse_emotion("happy:0.6,pleased:0.3") == {"happy": 0.6, "pleased": 0.3}
    assert parse_emotion("0=sad@0.5;3=happy:0.6,pleased:0.3@1") == [(0.0, "sad", 0.5),
                                                                     (3.0, {"happy": 0.6, "pleased": 0.3}, 1.0)]
    with pytest.raises(ScanTalkError, match="TIME_S=EMOTION@INTENSITY"):
        parse_emotion("0=sad")
    if not animator.articulated:
        pytest.skip("the shipped model is not articulated")
    verts, faces = face
    save_mesh(tmp_path / "face.ply", verts, Mesh.from_arrays(verts, faces))
    sf.write(tmp_path / "speech.wav", speech, 16000)
    assert main(["animate", str(tmp_path / "face.ply"), str(tmp_path / "speech.wav"), "-o", str(tmp_path / "out"),
                 "--no-video", "--emotion", "0=sad@0.5;0.5=happy@1"]) == 0
    assert (tmp_path / "out" / "animation.npy").is_file()
