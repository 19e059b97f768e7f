"""The EmoBlender's data on the anatomical heads: rig speech and FACS expressions on one surface
per batch, with mixtures whose lips are left to speech."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion.blending.data import CONSONANTS, HeadsBlenderDataModule, random_articulation
from emotion.blending import EmoBlender, blend
from scantalk.articulation.channels import NUM_CHANNELS
from scantalk.synthesis.heads.procedural import procedural_head
from scantalk.metrics import nearest_vertex


def test_random_speech_moves_every_channel_within_its_range():
    values = random_articulation(np.random.default_rng(0), seconds=6.0)
    assert values.shape[1] == NUM_CHANNELS and len(values) >= 6 * 30
    assert values.min() >= 0.0 and values.max() <= 1.5
    assert (values.max(axis=0) > 0.2).all()  # jaw, closure, rounding, spreading and f/v all happen
    assert "P" in CONSONANTS and "AA" not in CONSONANTS


@pytest.mark.slow
def test_a_batch_is_one_surface_and_its_mixture_keeps_the_lips_together(tmp_path):
    data = HeadsBlenderDataModule(train_seeds=[3], val_seeds=[4], resolutions=[0.009], k_eig=16,
                                  cache_dir=str(tmp_path), frames_per_batch=3, batches_per_epoch=2)
    batch = next(iter(data.train_dataloader()))
    count = batch["template"].shape[0]
    for key in ("talking", "expression", "mixture_expression"):
        assert batch[key].shape == (3, count, 3)
    assert batch["ops"].mass.shape[0] == count and batch["scales"].shape == (3,)
    head = procedural_head(3, resolution=0.009)
    assert np.allclose(batch["template"].numpy(), head.verts, atol=1e-6)
    upper, lower = (nearest_vertex(head.verts, point) for point in (head.landmarks.upper_lip, head.landmarks.lower_lip))
    gap = lambda motion: (motion[:, upper] - motion[:, lower]).norm(dim=-1)  # noqa: E731
    assert gap(batch["mixture_expression"]).max() < 1e-6 < gap(batch["expression"]).max()
    assert gap(batch["talking"]).max() > 1e-3  # the speech opens the mouth by millimetres
    again = data._loader("train", 2, data.seed).dataset[0]
    assert torch.equal(again["expression"], data._loader("train", 2, data.seed).dataset[0]["expression"])


def test_the_mixture_term_scores_the_given_mixture():
    torch.manual_seed(0)
    blender = EmoBlender(latent=4, width=8, n_blocks=1, k_eig=16, gradient_features=False, frequencies=1)
    head = procedural_head(5, resolution=0.01)
    from scantalk.geometry import compute_operators

    ops = compute_operators(head.verts, head.faces, 16)
    template = torch.as_tensor(head.verts, dtype=torch.float32)
    talking, expression = torch.randn(2, len(template), 3) * 1e-3, torch.randn(2, len(template), 3) * 1e-3
    scales = torch.tensor([0.5, 1.0])
    same = blender.losses(template, talking, expression, ops, scales=scales)
    given = blender.losses(template, talking, expression, ops, scales=scales, mixture_expression=expression)
    other = blender.losses(template, talking, expression, ops, scales=scales, mixture_expression=-expression)
    assert torch.allclose(same["mixture"], given["mixture"])
    assert not torch.allclose(same["mixture"], other["mixture"])


def _random_blender(path, **shape):
    """A blender module with random weights (none zero), saved as a Lightning checkpoint at `path`."""
    import lightning as L

    from emotion.blending.training import EmoBlenderModule

    torch.manual_seed(0)
    module = EmoBlenderModule(**shape)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(std=0.2)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(path)
    return module


def test_a_blender_without_normals_warm_starts_one_with_them(tmp_path):
    from emotion.blending.training import EmoBlenderModule

    shape = dict(latent=4, width=8, n_blocks=1, k_eig=16, gradient_features=False, frequencies=1)
    plain = _random_blender(tmp_path / "plain.ckpt", **shape)
    widened = EmoBlenderModule(**shape, use_normals=True, init_checkpoint=str(tmp_path / "plain.ckpt"))
    head = procedural_head(5, resolution=0.01)
    from scantalk.geometry import compute_operators

    ops = compute_operators(head.verts, head.faces, 16)
    template = torch.as_tensor(head.verts, dtype=torch.float32)
    motion = torch.randn(2, len(template), 3) * 1e-3
    with torch.no_grad():
        before, after = (
            module.blender.decode(template, module.blender.encode_talking(motion, template, ops),
                                  module.blender.encode_expression(motion, template, ops), ops)
            for module in (plain, widened))
    assert torch.allclose(before, after, atol=1e-7) and before.abs().max() > 0


def test_a_blender_without_the_talking_skip_warm_starts_one_with_it(tmp_path):
    """The widened decoder ignores z_talk and adds the talking motion: decode(z_t, z_e, t) = t + old(0, z_e)."""
    from emotion.blending.training import EmoBlenderModule
    from scantalk.geometry import compute_operators

    shape = dict(latent=4, width=8, n_blocks=1, k_eig=16, gradient_features=False, frequencies=1, use_normals=True)
    plain = _random_blender(tmp_path / "plain.ckpt", **shape)
    skipping = EmoBlenderModule(**shape, talking_skip=True, init_checkpoint=str(tmp_path / "plain.ckpt"))
    head = procedural_head(5, resolution=0.01)
    ops = compute_operators(head.verts, head.faces, 16)
    template = torch.as_tensor(head.verts, dtype=torch.float32)
    talking, expression = torch.randn(2, len(template), 3) * 1e-3, torch.randn(2, len(template), 3) * 1e-3
    with torch.no_grad():
        z_talk = plain.blender.encode_talking(talking, template, ops)
        z_expr = plain.blender.encode_expression(expression, template, ops)
        expected = talking + plain.blender.decode(template, torch.zeros_like(z_talk), z_expr, ops)
        got = skipping.blender.decode(template, skipping.blender.encode_talking(talking, template, ops),
                                      skipping.blender.encode_expression(expression, template, ops), ops,
                                      talking=talking)
    assert torch.allclose(got, expected, atol=1e-7)
    assert skipping.blender.config["talking_skip"] and not plain.blender.config["talking_skip"]


def test_a_talking_skip_blender_carries_the_lip_motion_whole():
    """A skip blender's frames are the talking frames plus what its decoder draws, so an untrained
    (zero-output) one gives them back; a plain blender redraws them (untrained: a still face)."""
    torch.manual_seed(0)
    blender = EmoBlender(latent=4, width=8, n_blocks=1, k_eig=16, gradient_features=False, frequencies=1,
                         talking_skip=True).eval()
    head = procedural_head(5, resolution=0.01)
    from scantalk.geometry import compute_operators

    ops = compute_operators(head.verts, head.faces, 16)
    template = torch.as_tensor(head.verts, dtype=torch.float32)
    frames = template + torch.randn(6, len(template), 3) * 3e-3
    expression = torch.randn(len(template), 3) * 1e-3
    torch.testing.assert_close(blend(blender, template, frames, expression, ops, mu_t=1.0, mu_e=1.0), frames,
                               atol=1e-7, rtol=0)
    plain = EmoBlender(latent=4, width=8, n_blocks=1, k_eig=16, gradient_features=False, frequencies=1).eval()
    torch.testing.assert_close(blend(plain, template, frames, expression, ops, mu_t=1.0, mu_e=1.0),
                               template.expand_as(frames), atol=1e-7, rtol=0)
