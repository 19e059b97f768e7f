import numpy as np
import pytest
import torch

from scantalk.geometry import compute_operators
from scantalk.geometry.shapes import icosphere
from scantalk.model import ScanTalk, ScanTalkConfig


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


def test_factored_decoder_and_its_chunking_match_the_plain_decoder(sphere):
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
        model.decoder.chunk_floats = 1  # the runtime memory knob: the smallest chunks it allows
        chunked = model.decode(identity, motion, ops)
    scale = plain.abs().max()
    torch.testing.assert_close(fast / scale, plain / scale, atol=1e-5, rtol=0)
    torch.testing.assert_close(chunked / scale, plain / scale, atol=1e-5, rtol=0)


def test_config_round_trips_and_memory_settings_are_not_architecture():
    model = ScanTalk(width=16, n_blocks=2, k_eig=32, reference_center=(0.0, 0.01, 0.02))
    assert ScanTalkConfig.from_dict(model.config.to_dict()) == model.config
    # Old checkpoints stored a chunk budget: it is read and ignored, an unknown key is refused.
    assert ScanTalkConfig.from_dict({"width": 16, "max_chunk_floats": 1000}) == ScanTalkConfig(width=16)
    with pytest.raises(ValueError, match="n_layers"):
        ScanTalkConfig.from_dict({"n_layers": 3})


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


def test_regions_identity_input_hears_the_regions_beside_the_coordinates(sphere):
    template, ops = sphere
    torch.manual_seed(0)
    model = ScanTalk(k_eig=32, identity_input="xyz+regions").eval()
    assert model.needs_regions and not ScanTalk(k_eig=32).needs_regions
    regions = torch.rand(template.shape[0], 3)
    with torch.no_grad():
        identity = model.encode_identity(template, ops, regions)
        flipped = model.encode_identity(template, ops, 1.0 - regions)
        assert identity.shape == (template.shape[0], 32)
        assert not torch.allclose(identity, flipped)  # the regions reach the features
        with pytest.raises(ValueError, match="regions"):
            model.encode_identity(template, ops)
        with pytest.raises(ValueError, match="regions"):
            model.encode_identity(template, ops, regions[:10])


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="lstm_hidden"):
        ScanTalk(latent=32, lstm_hidden=8)
    with pytest.raises(ValueError, match="identity_input"):
        ScanTalk(identity_input="normals")
    with pytest.raises(ValueError, match="align_anchor"):
        ScanTalk(align_anchor="chin")


@pytest.mark.parametrize("anchor", ["bbox", "nose"])
def test_the_model_says_which_point_of_a_face_lands_on_its_reference(anchor):
    """A model trained on faces placed by their nose tip sees every face placed so, whatever its
    crop: the face's `align_anchor` lands on the model's `reference_center`."""
    from scantalk import Animator
    from scantalk.face.alignment import nose_tip
    from scantalk.face.samples import real_face

    head = real_face("mediapipe")
    reference = np.array([0.0, -0.01, 0.1])
    model = ScanTalk(width=8, n_blocks=1, k_eig=16, latent=8, lstm_hidden=4, lstm_layers=1,
                     reference_center=tuple(reference), align_anchor=anchor)
    animator = Animator(model, cache_dir=False)
    speech = np.random.default_rng(0).standard_normal(3200).astype(np.float32) * 0.1
    alignment = animator.animate((head.verts * 1000.0, head.faces), speech, sample_rate=16000).meta["alignment"]
    placed = head.verts * 1000.0 * alignment["scale"] @ np.asarray(alignment["rotation"]).T + alignment["offset"]
    point = nose_tip(placed) if anchor == "nose" else 0.5 * (placed.max(0) + placed.min(0))
    np.testing.assert_allclose(point, reference, atol=1e-6)
