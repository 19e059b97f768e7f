"""Action units placed from landmarks: linear, rigid eyeballs, realistic sizes, symmetric, meshing-agnostic."""

from __future__ import annotations

import numpy as np
import pytest

from emotion.facs.action_units import (
    ACTION_UNITS, BILATERAL_UNITS, PEAK_MM, UNILATERAL_OF, ActionUnitError, action_unit_basis,
    expression_displacement, identity_scales,
)
from emotion.facs.emotions import EMOTIONS, emotion_combination, emotion_expression, expression_weights
from scantalk.synthesis.heads.procedural import procedural_head
from scantalk.errors import ScanTalkError
from scantalk.face.head import PARTS, FaceLandmarks, Head
from scantalk.face.samples import real_face


@pytest.fixture(scope="module")
def head() -> Head:
    return procedural_head(21, resolution=0.005)


@pytest.fixture(scope="module")
def basis(head: Head) -> np.ndarray:
    return action_unit_basis(head)


def test_basis_is_linear_and_keeps_eyeballs_rigid(head: Head, basis: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, len(ACTION_UNITS)), rng.uniform(0, 1, len(ACTION_UNITS))
    combined = expression_displacement(head, 0.3 * a + 0.7 * b, basis)
    separate = 0.3 * expression_displacement(head, a, basis) + 0.7 * expression_displacement(head, b, basis)
    np.testing.assert_allclose(combined, separate, atol=1e-12)
    assert basis.shape == (head.num_vertices, len(ACTION_UNITS), 3)
    eyeball = head.parts == PARTS["eyeball"]
    assert eyeball.any() and np.all(basis[eyeball] == 0.0)
    # A track of activations gives one displacement per frame.
    assert expression_displacement(head, np.stack([a, b]), basis).shape == (2, head.num_vertices, 3)


@pytest.mark.parametrize("name", ["procedural", "james"])
def test_peak_magnitudes_are_realistic(name: str, head: Head, basis: np.ndarray) -> None:
    if name == "james":
        head = real_face("james")
        basis = action_unit_basis(head)
    peaks_mm = 1000.0 * np.linalg.norm(basis, axis=2).max(axis=0)
    for i, unit in enumerate(BILATERAL_UNITS):
        low, high = PEAK_MM[unit]
        assert low <= peaks_mm[i] <= high, f"{unit}: {peaks_mm[i]:.2f} mm outside [{low}, {high}]"


def test_unilateral_units_add_up_to_the_bilateral_unit(basis: np.ndarray, head: Head) -> None:
    x = head.verts[:, 0] - head.landmarks.mouth_centre[0]
    for name, bilateral in UNILATERAL_OF.items():
        i, j = ACTION_UNITS.index(name), ACTION_UNITS.index(bilateral)
        twin = name.replace("L_", "R_").replace("_left", "_right") if "L_" in name else None
        if twin:
            np.testing.assert_allclose(basis[:, i] + basis[:, ACTION_UNITS.index(twin)], basis[:, j], atol=1e-12)
            # The left unit moves the head's left side (x > 0) and not its right.
            moved = np.linalg.norm(basis[:, i], axis=1)
            assert moved[x > 0.01].max() > 0.5 * np.linalg.norm(basis[:, j], axis=1).max()
            assert moved[x < -0.01].max() < 0.05 * moved.max()


def _mirrored(head: Head) -> Head:
    flip = np.array([-1.0, 1.0, 1.0])
    lm = head.landmarks
    swapped = FaceLandmarks(
        mouth_left=lm.mouth_right * flip, mouth_right=lm.mouth_left * flip, upper_lip=lm.upper_lip * flip,
        lower_lip=lm.lower_lip * flip, chin=lm.chin * flip, nose_tip=lm.nose_tip * flip,
        eye_left=lm.eye_right * flip, eye_right=lm.eye_left * flip,
        jaw_hinge_left=lm.jaw_hinge_right * flip, jaw_hinge_right=lm.jaw_hinge_left * flip)
    return Head(head.verts * flip, head.faces, swapped, head.name + "/mirrored", head.parts, dict(head.meta))


def test_bilateral_units_are_mirror_symmetric(head: Head, basis: np.ndarray) -> None:
    mirrored = action_unit_basis(_mirrored(head))
    flip = np.array([-1.0, 1.0, 1.0])
    for i, unit in enumerate(BILATERAL_UNITS):
        peak = np.linalg.norm(basis[:, i], axis=1).max()
        error = np.linalg.norm(mirrored[:, i] * flip - basis[:, i], axis=1).max()
        assert error < 0.01 * peak, f"{unit}: mirror error {error / peak:.3%} of the peak"


def test_two_meshings_move_the_same_at_the_same_surface_point(head: Head, basis: np.ndarray) -> None:
    """A point cloud sampled on the mesh's skin triangles moves as the mesh does there (barycentric)."""
    rng = np.random.default_rng(3)
    skin = np.flatnonzero((head.parts[head.faces] == PARTS["skin"]).all(axis=1))
    faces = head.faces[rng.choice(skin, 4000)]
    bary = rng.dirichlet(np.ones(3), len(faces))
    points = np.einsum("pk,pkc->pc", bary, head.verts[faces])
    cloud = head.with_geometry(points, None, np.zeros(len(points), dtype=np.int8), "points")
    on_cloud = action_unit_basis(cloud)
    on_mesh = np.einsum("pk,pkuc->puc", bary, basis[faces])
    for i, unit in enumerate(ACTION_UNITS):
        peak = np.linalg.norm(basis[:, i], axis=1).max()
        error = np.linalg.norm(on_cloud[:, i] - on_mesh[:, i], axis=1)
        assert np.quantile(error, 0.99) < 0.10 * peak, f"{unit}: 99th percentile {np.quantile(error, 0.99) / peak:.1%}"


def test_identity_variation_scales_each_unit(head: Head, basis: np.ndarray) -> None:
    scales = identity_scales(np.random.default_rng(4))
    assert np.all((scales >= 1 / 1.2 - 1e-12) & (scales <= 1.2 + 1e-12)) and np.ptp(scales) > 0.05
    varied = action_unit_basis(head, variation=np.random.default_rng(4))
    np.testing.assert_allclose(varied, basis * scales[None, :, None], atol=1e-15)
    with pytest.raises(ActionUnitError, match="one per ACTION_UNITS"):
        action_unit_basis(head, scale=np.ones(3))


def test_every_label_has_a_distinct_non_empty_combination(head: Head, basis: np.ndarray) -> None:
    patterns = []
    for label in EMOTIONS:
        combination = emotion_combination(label)
        assert (combination > 0).sum() >= 3
        patterns.append(expression_displacement(head, combination, basis).ravel())
    patterns = np.stack(patterns)
    patterns /= np.linalg.norm(patterns, axis=1, keepdims=True)
    cosine = patterns @ patterns.T
    assert np.all(cosine[~np.eye(len(EMOTIONS), dtype=bool)] < 0.97)


def test_intensity_is_monotone_in_every_unit_and_in_magnitude(head: Head, basis: np.ndarray) -> None:
    levels = np.linspace(0.0, 1.0, 6)
    for label in EMOTIONS:
        weights = np.stack([expression_weights(label, level, np.random.default_rng(7)) for level in levels])
        assert np.all(weights[0] == 0) and np.all(np.diff(weights, axis=0) >= 0)
        size = [np.linalg.norm(expression_displacement(head, w, basis)) for w in weights]
        assert np.all(np.diff(size) > 0)
    assert np.allclose(expression_weights("sad", "mid"), expression_weights("sad", 2 / 3))


def test_a_mix_lands_between_its_emotions(head: Head, basis: np.ndarray) -> None:
    for a, b in [("happy", "pleased"), ("sad", "upset"), ("afraid", "disgust"), ("angry", "suspicious")]:
        mix = emotion_expression(head, {a: 0.5, b: 0.5}, 1.0, basis)
        for label in (a, b):
            pure = emotion_expression(head, label, 1.0, basis)
            assert np.linalg.norm(mix - pure) < np.linalg.norm(mix), (a, b, label)  # closer to it than to neutral
    # Shares are relative: only their ratio matters.
    np.testing.assert_allclose(expression_weights({"happy": 0.6, "pleased": 0.3}),
                               expression_weights({"happy": 1.0, "pleased": 0.5}))


def test_errors_name_the_bad_input() -> None:
    with pytest.raises(ScanTalkError, match="known emotions: afraid, disgust"):
        expression_weights("joyful", 0.5)
    with pytest.raises(ScanTalkError, match="outside \\[0, 1\\]"):
        expression_weights("happy", 1.5)
    with pytest.raises(ScanTalkError, match="outside \\[0, 1\\]"):
        expression_weights("happy", -0.1)
    with pytest.raises(ScanTalkError, match="known emotions"):
        expression_weights({"happy": 0.5, "gleeful": 0.5})
    with pytest.raises(ActionUnitError, match="no positive share"):
        expression_weights({"happy": 0.0})
    with pytest.raises(ActionUnitError, match="weights must be finite"):
        expression_displacement(procedural_head(21, resolution=0.005), np.ones(4))
