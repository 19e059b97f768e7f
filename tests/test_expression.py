"""How an expression joins speech on an articulated model: speech owns the lip gap."""

from __future__ import annotations

import numpy as np
import pytest

from scantalk import Animator
from scantalk.synthesis.heads.procedural import procedural_head
from scantalk.errors import ScanTalkError
from scantalk.expression import lip_edges, speech_owned_lips
from scantalk.face.head import PARTS, eyeball_parts
from scantalk.metrics import nearest_vertex
from scantalk.rig.rig import rig_basis


@pytest.fixture(scope="module")
def head():
    return procedural_head(4, resolution=0.008)


def _lips(head) -> tuple[int, int]:
    """The mouth slit's edges next to the head's lip landmarks, as `speech_owned_lips` finds them."""
    jaw_size = np.linalg.norm(rig_basis(head)[:, 0], axis=-1)
    return lip_edges(head.verts, jaw_size, head.landmarks.upper_lip, head.landmarks.lower_lip, reach=0.006)


def test_lip_edges_find_the_slit_from_a_landmark_placed_too_high(head):
    """A model's upper-lip landmark 3 mm up on the skin: the edge found is still at the slit."""
    jaw_size = np.linalg.norm(rig_basis(head)[:, 0], axis=-1)
    upper, lower = _lips(head)
    assert jaw_size[upper] < 0.5 * jaw_size[lower]  # the upper lip stays, the lower moves with the jaw
    raised = head.landmarks.upper_lip + np.array([0.0, 0.003, 0.0])
    assert nearest_vertex(head.verts, raised) != upper
    assert lip_edges(head.verts, jaw_size, raised, head.landmarks.lower_lip, reach=0.006) == (upper, lower)


def test_an_owned_expression_keeps_the_lips_together_and_leaves_the_brows(head):
    rng = np.random.default_rng(0)
    jaw = rig_basis(head)[:, 0]
    upper, lower = _lips(head)
    basis = rng.normal(size=(head.num_vertices, 4, 3)) * 1e-3
    basis[:, 0] = 0.7 * jaw  # a pure jaw drop
    owned = speech_owned_lips(basis, jaw, head)
    relative = owned[upper] - owned[lower]
    assert np.abs(relative).max() < 1e-12  # the lips move together under every unit
    assert np.abs(owned[:, 0]).max() < 1e-12  # a jaw drop is removed whole
    still = np.linalg.norm(jaw, axis=-1) == 0  # the jaw moves nothing here: the brows, the nose
    assert still.sum() > head.num_vertices // 4
    assert np.array_equal(owned[still], basis[still])
    assert np.allclose(speech_owned_lips(0.3 * basis, jaw, head), 0.3 * owned)  # linear


def test_a_face_whose_jaw_does_not_part_the_lips_is_refused(head):
    with pytest.raises(ScanTalkError, match="jaw does not move the lower lip away"):
        speech_owned_lips(np.zeros((head.num_vertices, 2, 3)), np.zeros((head.num_vertices, 3)), head)


@pytest.mark.slow
def test_with_an_emotion_the_lip_gap_is_the_speech_alone(head):
    animator = Animator.from_checkpoint(device="cpu", cache_dir=False)
    if not animator.articulated:
        pytest.skip("the shipped model is not articulated")
    speech = (0.1 * np.random.default_rng(1).normal(size=16000) * np.sin(np.linspace(0, 9, 16000)) ** 2).astype(np.float32)
    face = (head.verts, head.faces)
    plain = np.asarray(animator.animate(face, speech, sample_rate=16000).frames)
    afraid = np.asarray(animator.animate(face, speech, sample_rate=16000, emotion="afraid").frames)
    # The lip vertices of the landmarks the model itself finds on this face.
    # The mouth slit next to the lip landmarks the model itself finds on this face.
    fit = animator.fit_face(face)
    edges = lip_edges(fit.template, np.linalg.norm(fit.basis[:, 0], axis=-1), fit.head.landmarks.upper_lip,
                      fit.head.landmarks.lower_lip, reach=0.006)
    # Cleaned-mesh vertices → a file vertex that carries each (the frames are in file order).
    upper, lower = (int(np.argmax(fit.mesh.file_to_clean == vertex)) for vertex in edges)

    def gap(frames: np.ndarray) -> np.ndarray:
        return np.linalg.norm(frames[:, upper] - frames[:, lower], axis=-1)

    assert np.abs(gap(afraid) - gap(plain)).max() < 1e-6  # metres; fear's jaw drop does not open the vowels
    assert np.linalg.norm(afraid - plain, axis=-1).max() > 1e-3  # yet the face shows the fear
    # The head's eyeballs are meshes of their own: the model finds them, and lids do not bend them.
    eyeballs = head.parts == PARTS["eyeball"]
    assert eyeballs.any() and np.abs(afraid[:, eyeballs] - plain[:, eyeballs]).max() < 1e-9


def test_separate_eyeball_meshes_are_found(head):
    assert np.array_equal(eyeball_parts(head.verts, head.faces, head.landmarks), head.parts)
    assert eyeball_parts(head.verts, None, head.landmarks) is None  # a point cloud has no pieces


def test_keyframes_at_times_or_intensities_that_are_not_finite_are_refused():
    from scantalk.expression import expression_track

    def weights_of(label, level):
        return np.full(3, level)

    for keys in ([(float("nan"), "sad", 0.5)], [(0.0, "sad", float("inf"))]):
        with pytest.raises(ScanTalkError, match="not a finite number"):
            expression_track(weights_of, keys, None, 10, 30.0)
