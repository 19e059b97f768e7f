"""EmoBlender: reconstruction of held-out motion, μe = 0 gives talking back, μe scales the expression."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion.blending.model import EmoBlender, blend, default_mu, relative_squared_error
from scantalk.errors import ScanTalkError
from scantalk.geometry.operators import compute_operators

TRAIN_LABELS = ("afraid", "happy")
TRAIN_LEVELS = (0.4, 0.7, 1.0)


def relative_error(prediction: torch.Tensor, target: torch.Tensor) -> float:
    return float(torch.linalg.norm(prediction - target) / torch.linalg.norm(target))


@pytest.fixture(scope="module")
def trained(small_head):
    """A tiny blender trained for 400 steps (~20 s on one core) on one small anatomical head."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # small products: a second thread costs more than it gives on a shared CPU
        torch.manual_seed(0)
        head = small_head
        ops = compute_operators(head.verts, head.faces, k_eig=48)
        template = torch.tensor(head.verts, dtype=torch.float32)
        expressions = head.expressions(TRAIN_LABELS)
        shapes = torch.tensor(np.stack([expressions[label] for label in TRAIN_LABELS]))
        talking = torch.tensor(head.talking(200, seed=0))
        blender = EmoBlender(latent=16, width=32, n_blocks=2, k_eig=48, gradient_features=False)
        optimiser = torch.optim.Adam(blender.parameters(), lr=1e-2)
        levels = torch.tensor(TRAIN_LEVELS)
        for _ in range(400):
            frames = talking[torch.randint(0, len(talking), (4,))]
            chosen = shapes[torch.randint(0, len(shapes), (4,))] * levels[torch.randint(0, len(levels), (4,))][:, None, None]
            loss = blender.losses(template, frames, chosen, ops)["loss"]
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    blender.eval()
    held_out_talking = torch.tensor(head.talking(40, seed=1))  # another phone string
    return blender, ops, template, shapes, held_out_talking


@pytest.mark.slow
def test_reconstructs_held_out_talking_motion(trained):
    blender, ops, template, _, talking = trained
    with torch.no_grad():
        z_talk = blender.encode_talking(talking, template, ops)
        decoded = blender.decode(template, z_talk, torch.zeros_like(z_talk), ops)
    error = relative_error(decoded, talking)
    # A zero prediction has relative error 1.
    assert error < 0.35, error


@pytest.mark.slow
def test_reconstructs_expressions_at_held_out_intensity(trained):
    blender, ops, template, shapes, _ = trained
    expressions = shapes * 0.55  # intensities seen in training: 0.4, 0.7, 1.0
    with torch.no_grad():
        z_expr = blender.encode_expression(expressions, template, ops)
        decoded = blender.decode(template, torch.zeros_like(z_expr), z_expr, ops)
    for index, label in enumerate(TRAIN_LABELS):
        error = relative_error(decoded[index], expressions[index])
        assert error < 0.6, (label, error)


@pytest.mark.slow
def test_zero_expression_weight_returns_talking_motion(trained):
    blender, ops, template, shapes, talking = trained
    frames = template + talking
    result = blend(blender, template, frames, shapes[0], ops, mu_t=1.0, mu_e=0.0)
    assert result.shape == frames.shape
    assert relative_error(result - template, talking) < 0.35
    # And the expression weight matters: full μe moves the result away from the talking frames.
    expressive = blend(blender, template, frames, shapes[0], ops, mu_t=1.0, mu_e=1.0)
    assert relative_error(expressive - template, talking) > relative_error(result - template, talking)


@pytest.mark.slow
def test_larger_expression_weight_gives_more_expression(trained, small_head):
    blender, ops, template, shapes, talking = trained
    upper = torch.as_tensor(small_head.upper)
    frames = template + talking
    amounts = []
    for mu_e in (0.0, 1 / 3, 2 / 3, 1.0):
        result = blend(blender, template, frames, shapes[0], ops, mu_t=1.0, mu_e=mu_e)
        amounts.append(float((result - frames)[:, upper].norm(dim=-1).mean()))
    assert all(b > a for a, b in zip(amounts, amounts[1:])), amounts
    target = float(shapes[0][upper].norm(dim=-1).mean())
    assert 0.4 * target < amounts[-1] < 1.6 * target, (amounts, target)


def test_default_weights_follow_the_objective():
    assert default_mu(EmoBlender(latent=4, width=8, n_blocks=1), "mid") == (1.0, pytest.approx(2 / 3))
    assert default_mu(EmoBlender(latent=4, width=8, n_blocks=1, objective="emovoca"), "high") == (2.0, 3.0)
    with pytest.raises(ScanTalkError, match="low, mid, high"):
        default_mu(EmoBlender(latent=4, width=8, n_blocks=1), "extreme")


@pytest.mark.slow
def test_blend_rejects_frames_of_another_mesh(trained):
    blender, ops, template, shapes, _ = trained
    with pytest.raises(ScanTalkError, match="do not match the template"):
        blend(blender, template, torch.zeros(3, 10, 3), shapes[0], ops)


def test_emovoca_objective_trains_equal_latents(small_head):
    ops = compute_operators(small_head.verts, small_head.faces, k_eig=16)
    template = torch.tensor(small_head.verts, dtype=torch.float32)
    talking = torch.tensor(small_head.talking(8, seed=2)[:2])
    expression = torch.tensor(small_head.expressions(["sad"])["sad"])[None].expand(2, -1, -1)
    blender = EmoBlender(latent=4, width=8, n_blocks=1, k_eig=16, gradient_features=False, objective="emovoca")
    with torch.no_grad():
        for layer in blender.modules():  # a non-trivial decoder, so the check below is not 0 == 0
            if isinstance(layer, torch.nn.Linear):
                torch.nn.init.normal_(layer.weight, std=0.3)
        parts = blender.losses(template, talking, expression, ops)
        z_talk = blender.encode_talking(talking, template, ops)
        z_expr = blender.encode_expression(expression, template, ops)
        own_talk = relative_squared_error(blender.decode(template, z_talk, z_talk, ops), talking).mean()
        own_expr = relative_squared_error(blender.decode(template, z_expr, z_expr, ops), expression).mean()
    assert float(parts["mixture"]) == 0.0
    # EmoVOCA's objective: each branch reconstructs its own input from equal latents, decode(z, z).
    torch.testing.assert_close(parts["talking"], own_talk)
    torch.testing.assert_close(parts["expression"], own_expr)


def test_units_mean_metres_per_network_unit_as_in_scantalk(small_head):
    from emotion.blending.model import positional_encoding
    from scantalk.model import ScanTalkConfig

    # One convention in the project: inputs are divided by the unit, outputs multiplied by it.
    blender = EmoBlender(latent=4, width=8, n_blocks=1)
    scantalk = ScanTalkConfig()
    assert (blender.position_unit, blender.displacement_unit) == (scantalk.position_unit, scantalk.displacement_unit)
    template = torch.tensor(small_head.verts[:5], dtype=torch.float32)
    torch.testing.assert_close(positional_encoding(template, 0, position_unit=0.01), template * 100.0)
    with pytest.raises(ValueError, match="positive lengths in metres"):
        EmoBlender(latent=4, width=8, n_blocks=1, position_unit=-0.1)


def test_decoded_displacement_scales_with_displacement_unit(small_head):
    # The same weights read as "centimetres per unit" decode ten times the "millimetres" motion.
    ops = compute_operators(small_head.verts, small_head.faces, k_eig=16)
    template = torch.tensor(small_head.verts, dtype=torch.float32)
    torch.manual_seed(0)
    mm = EmoBlender(latent=4, width=8, n_blocks=1, k_eig=16, gradient_features=False)
    for layer in mm.modules():  # a non-zero decoder, so the comparison is not 0 == 0
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.normal_(layer.weight, std=0.3)
    cm = EmoBlender(latent=4, width=8, n_blocks=1, k_eig=16, gradient_features=False, displacement_unit=0.01)
    cm.load_state_dict(mm.state_dict())
    z = torch.randn(2, 4)
    with torch.no_grad():
        torch.testing.assert_close(cm.decode(template, z, z, ops), 10.0 * mm.decode(template, z, z, ops))


def test_blender_checkpoint_without_unit_keys_loads_with_the_old_scales(tmp_path, small_head):
    from emotion.blending.training import CHECKPOINT_KIND, load_blender

    torch.manual_seed(0)
    blender = EmoBlender(latent=4, width=8, n_blocks=1, k_eig=16, gradient_features=False)
    old_config = {key: value for key, value in blender.config.items() if key not in ("position_unit", "displacement_unit")}
    path = tmp_path / "old.ckpt"
    torch.save({"scantalk_kind": CHECKPOINT_KIND, "emoblender_config": old_config,
                "state_dict": {f"blender.{key}": value for key, value in blender.state_dict().items()}}, path)
    loaded = load_blender(path)
    assert (loaded.position_unit, loaded.displacement_unit) == (0.1, 0.001)  # decimetres and millimetres, as before
    for name, value in blender.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)
    bad = dict(old_config, latent_size=3)  # a key this version does not know
    torch.save({"scantalk_kind": CHECKPOINT_KIND, "emoblender_config": bad, "state_dict": {}}, tmp_path / "bad.ckpt")
    with pytest.raises(ScanTalkError, match="bad.ckpt does not match this version"):
        load_blender(tmp_path / "bad.ckpt")
