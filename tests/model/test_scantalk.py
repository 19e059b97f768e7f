import numpy as np
import pytest
import torch

from scantalk.geometry import compute_operators
from scantalk.geometry.shapes import icosphere
from scantalk.model import ScanTalk


@pytest.fixture(scope="module")
def sphere():
    verts, faces = icosphere(3)
    verts = 0.1 * verts
    return torch.as_tensor(verts, dtype=torch.float32), compute_operators(verts, faces, k_eig=32)


def _audio(seconds: float, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return torch.as_tensor(np.sin(2 * np.pi * 180 * t) * (1 + rng.normal(size=t.size) * 0.1), dtype=torch.float32)


def test_untrained_model_predicts_the_template(sphere):
    template, ops = sphere
    model = ScanTalk(k_eig=32).eval()
    with torch.no_grad():
        frames = model(_audio(0.5), template, ops, num_frames=15)
    assert frames.shape == (15, template.shape[0], 3)
    assert torch.equal(frames, template.expand_as(frames))


def test_split_first_layer_and_chunking_match_the_plain_decoder(sphere):
    template, ops = sphere
    torch.manual_seed(0)
    model = ScanTalk(k_eig=32).eval()
    torch.nn.init.normal_(model.decoder.output_linear.weight, std=0.1)
    with torch.no_grad():
        identity = model.encode_identity(template, ops)
        motion = model.encode_motion(_audio(0.4), 12)
        fast = model.decode(identity, motion, ops)
        # The decoder applied to the explicit concatenation [identity_v ‖ motion_t], frame by frame.
        joined = torch.cat([identity.expand(12, -1, -1), motion[:, None].expand(-1, identity.shape[0], -1)], -1)
        plain = model.decoder(joined, ops) * model.displacement_unit
        model.max_chunk_floats = 1  # one frame per chunk
        chunked = model.decode(identity, motion, ops)
    assert torch.allclose(fast, plain, atol=1e-8)
    assert torch.allclose(chunked, plain, atol=1e-8)


def test_gradients_reach_audio_head_encoder_and_decoder(sphere):
    template, ops = sphere
    model = ScanTalk(k_eig=32)
    torch.nn.init.normal_(model.decoder.output_linear.weight, std=0.1)
    frames = model(_audio(0.3), template, ops, num_frames=9)
    frames.square().mean().backward()
    for name in ("audio_projection.weight", "lstm.weight_ih_l0", "encoder.input_linear.weight",
                 "decoder.output_linear.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_hks_identity_input(sphere):
    template, ops = sphere
    model = ScanTalk(k_eig=32, identity_input="hks", hks_scales=8).eval()
    with torch.no_grad():
        assert model.encode_identity(template, ops).shape == (template.shape[0], 32)


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="lstm_hidden"):
        ScanTalk(latent=32, lstm_hidden=8)
    with pytest.raises(ValueError, match="identity_input"):
        ScanTalk(identity_input="normals")
