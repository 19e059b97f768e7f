"""The emotion head, EmoVOCA's way: trained on an emotional dataset, and driving the shipped
model's FACS units through the Animator exactly as the provider's own table would."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion.facs.action_units import ACTION_UNITS
from emotion.facs.emotions import expression_weights
from emotion.emovoca.head_training import HeadExample, train_expression_head
from scantalk import Animator
from scantalk.checkpoint import load_model
from scantalk.emotions import EMOTIONS
from scantalk.errors import ScanTalkError
from scantalk.face.samples import real_face
from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker

FACS_TABLE = np.stack([expression_weights(label, 1.0) for label in EMOTIONS])  # (E, U)


def _shipped(labels=(), units=()) -> ArticulatedTalker:
    """The shipped model's speech networks, with an emotion head for `labels` × `units` (or none)."""
    base = load_model(None)
    settings = base.config.to_dict() | {"emotion_labels": list(labels), "expression_units": list(units)}
    model = ArticulatedTalker(ArticulatedConfig.from_dict(settings))
    model.load_state_dict({key: value for key, value in base.state_dict().items()
                           if not key.startswith("expression_head.")}, strict=False)
    return model.eval()


def _with_head(table: np.ndarray, units=ACTION_UNITS) -> ArticulatedTalker:
    """The shipped model with an emotion head whose activations at full intensity are `table`."""
    model = _shipped(EMOTIONS, units)
    with torch.no_grad():  # softplus⁻¹(table), with −30 (≈ 1e-13) for units at rest
        raw = torch.as_tensor(table, dtype=torch.float32)
        model.expression_head.table.copy_(torch.where(raw > 0, raw + torch.log(-torch.expm1(-raw)), torch.full_like(raw, -30.0)))
    return model.eval()


@pytest.fixture(scope="module")
def speech():
    rng = np.random.default_rng(2)
    return (0.1 * rng.normal(size=12000) * np.sin(np.linspace(0, 8, 12000)) ** 2).astype(np.float32)


@pytest.mark.slow
def test_a_head_holding_the_facs_table_animates_as_the_provider(speech):
    plain = Animator(_shipped(), device="cpu", cache_dir=False)  # emotion= reads the FACS table
    headed = Animator(_with_head(FACS_TABLE), device="cpu", cache_dir=False)
    head = real_face("mediapipe")
    face = (head.verts, head.faces)
    for emotion in ("happy", {"sad": 1.0, "moody": 0.5}, [(0.0, "afraid", 0.4), (0.5, "disgust", 1.0)]):
        intensity = None if isinstance(emotion, list) else 0.7
        expected = np.asarray(plain.animate(face, speech, sample_rate=16000, emotion=emotion, intensity=intensity).frames)
        got = np.asarray(headed.animate(face, speech, sample_rate=16000, emotion=emotion, intensity=intensity).frames)
        assert np.abs(got - expected).max() < 1e-6  # metres
    assert headed.emotions == list(EMOTIONS)


@pytest.mark.slow
def test_a_head_for_other_units_is_refused_by_name(speech):
    headed = Animator(_with_head(FACS_TABLE[:, :3], units=("AU1", "AU2", "AU99")), device="cpu", cache_dir=False)
    head = real_face("mediapipe")
    with pytest.raises(ScanTalkError, match="AU99"):
        headed.animate((head.verts, head.faces), speech, sample_rate=16000, emotion="happy")


@pytest.mark.slow
def test_training_recovers_each_emotions_activations():
    rng = np.random.default_rng(0)
    units = len(ACTION_UNITS)
    shape = rng.normal(size=(units, units))
    gram = (shape @ shape.T / units + np.eye(units)).astype(np.float32)
    examples = []
    for label in range(len(EMOTIONS)):
        for intensity in (1 / 3, 2 / 3, 1.0):
            frames = int(rng.integers(20, 40))
            examples.append(HeadExample(label, intensity, rng.uniform(0, 1, (frames, 5)).astype(np.float32),
                                        np.repeat(intensity * FACS_TABLE[label][None], frames, 0).astype(np.float32), gram))
    head, stats = train_expression_head(examples, 5, steps=400, verbose=False)
    assert stats["relative_error"] < 0.05  # the share of the added expression it misses
    with torch.no_grad():
        learned = head.per_label(torch.zeros(1, 5))[0].numpy()
    assert np.abs(learned - FACS_TABLE).max() < 0.1 * FACS_TABLE.max()
