"""The emotion recogniser: trained on some identities, well above chance on others, any meshing."""

from __future__ import annotations

import numpy as np
import pytest

from emotion.facs.action_units import action_unit_basis
from emotion.facs.emotions import EMOTIONS, emotion_expression
from emotion.facs.recognition import (
    EmotionClassifier, RecognitionError, canonical_points, confusion_matrix, expression_pattern, fit_classifier,
    recognise,
)
from scantalk.synthesis.heads import meshing
from scantalk.synthesis.heads.procedural import procedural_head
from scantalk.synthesis.heads.real import real_identities
from scantalk.face.samples import real_face


@pytest.fixture(scope="module")
def classifier() -> EmotionClassifier:
    heads = [procedural_head(seed, resolution=0.005) for seed in (31, 32)] + real_identities(2, seed=5)
    return fit_classifier(heads, repeats=1)


def _accuracy(head, classifier, seed: int) -> tuple[float, np.ndarray]:
    basis = action_unit_basis(head, variation=np.random.default_rng(seed))
    truth, predicted = [], []
    for i, label in enumerate(EMOTIONS):
        for level in ("low", "high"):
            shown = emotion_expression(head, label, level, basis, np.random.default_rng([seed, i]))
            truth.append(label)
            predicted.append(recognise(head, shown, classifier)[0])
    matrix = confusion_matrix(truth, predicted)
    return float(np.trace(matrix) / matrix.sum()), matrix


@pytest.mark.slow
def test_recognition_far_above_chance_on_held_out_heads_and_meshings(classifier: EmotionClassifier) -> None:
    james = real_face("james")
    held_out = [procedural_head(900003, resolution=0.005), james,
                meshing.point_cloud(meshing.decimate(james, 2500), np.random.default_rng(2), 2000)]
    for k, head in enumerate(held_out):
        accuracy, matrix = _accuracy(head, classifier, 100 + k)
        assert matrix.sum() == 2 * len(EMOTIONS)
        assert accuracy >= 0.5, f"{head.name}: {accuracy:.0%} (chance 9 %)\n{matrix}"


def test_pattern_is_the_same_on_two_meshings_of_one_head() -> None:
    head = real_face("james")
    cloud = meshing.point_cloud(head, np.random.default_rng(1), 4000)
    a = expression_pattern(head, emotion_expression(head, "afraid", 1.0))
    b = expression_pattern(cloud, emotion_expression(cloud, "afraid", 1.0))
    assert a.shape == b.shape == (len(canonical_points(head)[0]), 3)
    assert np.linalg.norm(a - b) < 0.2 * np.linalg.norm(a)


@pytest.mark.slow
def test_scores_are_probabilities_and_neutral_is_not_confident(classifier: EmotionClassifier) -> None:
    head = procedural_head(900003, resolution=0.005)
    label, scores = recognise(head, emotion_expression(head, "happy", 1.0), classifier)
    assert label == "happy" and list(scores) == list(EMOTIONS)
    assert abs(sum(scores.values()) - 1.0) < 1e-9 and scores["happy"] > 0.5
    _, neutral = recognise(head, np.zeros_like(head.verts), classifier)
    assert max(neutral.values()) < scores["happy"]


def test_confusion_matrix_and_errors() -> None:
    matrix = confusion_matrix(["happy", "sad", "sad"], ["happy", "happy", "sad"])
    assert matrix[EMOTIONS.index("sad"), EMOTIONS.index("happy")] == 1 and matrix.sum() == 3
    with pytest.raises(RecognitionError, match="not one of"):
        confusion_matrix(["joy"], ["happy"])
    with pytest.raises(RecognitionError, match="2 true labels but 1"):
        confusion_matrix(["happy", "sad"], ["happy"])
    head = real_face("mediapipe")
    with pytest.raises(RecognitionError, match="shape \\(468, 3\\)"):
        expression_pattern(head, np.zeros((10, 3)))
    with pytest.raises(RecognitionError, match="region must be one of"):
        expression_pattern(head, np.zeros((468, 3)), region="mouth")
