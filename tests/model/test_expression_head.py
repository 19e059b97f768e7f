"""The emotion head of an articulated model: label shares, intensity and articulation → unit
activations that vanish at intensity 0, grow linearly with it, mix like the FACS provider, and
survive the checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scantalk.checkpoint import load_model, save_model
from scantalk.emotions import EMOTIONS, emotion_shares
from scantalk.errors import ScanTalkError
from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker
from scantalk.model.expression_head import ExpressionHead

TINY = dict(width=8, n_blocks=1, audio_hidden=16, lstm_hidden=8, lstm_layers=1, k_eig=16, frontend="mel")


def _head(seed: int = 0) -> ExpressionHead:
    torch.manual_seed(seed)
    head = ExpressionHead(4, 6, 5)
    with torch.no_grad():
        head.table.normal_()
        head.speech[-1].weight.normal_(std=0.3)
    return head.eval()


def test_activations_vanish_at_zero_intensity_and_grow_linearly():
    head = _head()
    articulation = torch.rand(7, 5)
    shares = torch.tensor([[1.0, 0.0, 0.5, 0.0]]).expand(7, -1)
    with torch.no_grad():
        zero, half, full = (head(shares, torch.full((7,), level), articulation) for level in (0.0, 0.5, 1.0))
    assert torch.equal(zero, torch.zeros_like(zero))
    assert (full >= 0).all() and full.abs().max() > 0
    assert torch.allclose(2 * half, full, atol=1e-6)


def test_a_mix_combines_each_unit_as_a_euclidean_norm():
    head = _head(1)
    articulation = torch.rand(3, 5)
    one = lambda index: torch.nn.functional.one_hot(torch.full((3,), index), 4).float()  # noqa: E731
    with torch.no_grad():
        first, second = head(one(0), torch.ones(3), articulation), head(one(2), torch.ones(3), articulation)
        mixed = head(one(0) + 0.5 * one(2), torch.ones(3), articulation)
    assert torch.allclose(mixed, torch.sqrt(first ** 2 + (0.5 * second) ** 2), atol=1e-6)


def test_shares_are_relative_to_the_largest_and_checked():
    assert np.allclose(emotion_shares({"happy": 0.6, "pleased": 0.3})[[EMOTIONS.index("happy"), EMOTIONS.index("pleased")]],
                       [1.0, 0.5])
    assert emotion_shares("Sad")[EMOTIONS.index("sad")] == 1.0
    with pytest.raises(ScanTalkError, match="unknown emotion"):
        emotion_shares("elated")
    with pytest.raises(ScanTalkError, match="no positive share"):
        emotion_shares({"happy": 0.0})
    with pytest.raises(ScanTalkError, match="finite number"):
        emotion_shares({"happy": -1.0})


def test_a_head_needs_labels_and_units_together():
    with pytest.raises(ScanTalkError, match="both emotion_labels and expression_units"):
        ArticulatedConfig(**TINY, emotion_labels=("happy",))
    with pytest.raises(ScanTalkError, match="landmark decoder"):
        ArticulatedConfig(**TINY, decoder="basis", emotion_labels=("happy",), expression_units=("AU12",))


def test_the_head_survives_its_checkpoint(tmp_path):
    config = ArticulatedConfig(**TINY, emotion_labels=tuple(EMOTIONS), expression_units=("AU1", "AU12", "AU15"))
    model = ArticulatedTalker(config)
    with torch.no_grad():
        model.expression_head.table.normal_()
    save_model(tmp_path / "emotional.ckpt", model)
    loaded = load_model(tmp_path / "emotional.ckpt")
    assert loaded.config.emotion_labels == tuple(EMOTIONS) and loaded.config.expression_units == ("AU1", "AU12", "AU15")
    shares, articulation = torch.eye(len(EMOTIONS))[:2], torch.rand(2, 5)
    with torch.no_grad():
        assert torch.equal(loaded.expression_head(shares, torch.ones(2), articulation),
                           model.expression_head(shares, torch.ones(2), articulation))


def test_a_checkpoint_from_before_the_head_loads_without_one(tmp_path):
    save_model(tmp_path / "plain.ckpt", ArticulatedTalker(ArticulatedConfig(**TINY)))
    stored = torch.load(tmp_path / "plain.ckpt", weights_only=True)
    for key in ("emotion_labels", "expression_units"):  # the settings older versions did not write
        del stored["articulated_model_config"][key]
    torch.save(stored, tmp_path / "older.ckpt")
    loaded = load_model(tmp_path / "older.ckpt")
    assert loaded.expression_head is None
