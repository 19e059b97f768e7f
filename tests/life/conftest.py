"""Fixtures of the life tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def animator(tmp_path_factory):
    """A tiny landmark-decoder model: with the face's landmarks given, its rig (and life's) is placed right."""
    from scantalk import Animator
    from scantalk.checkpoint import save_model
    from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker

    torch.manual_seed(0)
    model = ArticulatedTalker(ArticulatedConfig(width=8, n_blocks=1, audio_hidden=16, lstm_hidden=8, lstm_layers=1,
                                                k_eig=16, frontend="mel"))
    path = tmp_path_factory.mktemp("model") / "tiny.ckpt"
    save_model(path, model)
    return Animator.from_checkpoint(path, device="cpu", cache_dir=False)
