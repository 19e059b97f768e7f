"""The factored model: a per-face basis (V, B, 3) that articulation moves linearly, scored over all
poses in closed form, invariant to vertex order and units, and rebuilt exactly from its checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.checkpoint import load_model, load_model_with_checkpoint, save_model
from scantalk.errors import CheckpointError
from scantalk.face.samples import real_face
from scantalk.geometry import compute_operators
from scantalk.model.articulated import (
    RIG_INPUTS,
    ArticulatedConfig,
    ArticulatedTalker,
    rig_inputs,
    rig_pose_loss,
)

# The per-vertex basis decoder: an untrained one keeps the face still, which these tests rely on.
TINY = dict(width=8, n_blocks=1, audio_hidden=16, lstm_hidden=8, lstm_layers=1, k_eig=16, frontend="mel", decoder="basis")
NUM_INPUTS = len(RIG_INPUTS)
JAW = ARTICULATION_CHANNELS.index("jaw_open")


def _trained_looking(seed: int = 0) -> ArticulatedTalker:
    """A tiny model whose decoder is nudged off its zero start, so it predicts real motion."""
    torch.manual_seed(seed)
    model = ArticulatedTalker(ArticulatedConfig(**TINY))
    with torch.no_grad():
        for parameter in model.decoder.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def face():
    head = real_face("mediapipe")
    return head.verts, head.faces


def _random_bases(seed: int, num_vertices: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shape = (num_vertices, NUM_INPUTS, 3)
    return (torch.randn(shape, generator=generator, dtype=torch.float64),
            torch.randn(shape, generator=generator, dtype=torch.float64))


def _uniform_pose_moment() -> torch.Tensor:
    """E[u uᵀ] of u = rig_inputs(a), a uniform on [0, 1]^A, worked out by hand."""
    count = len(ARTICULATION_CHANNELS)
    moment = torch.full((NUM_INPUTS, NUM_INPUTS), 1 / 4, dtype=torch.float64)  # E[a_i a_j], i ≠ j
    moment[range(count), range(count)] = 1 / 3  # E[a_i²]
    moment[-1, :count] = moment[:count, -1] = 1 / 6  # E[a_j a_jaw²] = 1/2 · 1/3
    moment[-1, JAW] = moment[JAW, -1] = 1 / 4  # E[a_jaw³]
    moment[-1, -1] = 1 / 5  # E[a_jaw⁴]
    return moment


def test_rig_pose_loss_is_the_mean_error_over_sampled_poses():
    predicted, target = _random_bases(0)
    poses = torch.rand(20000, len(ARTICULATION_CHANNELS), generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64)
    sampled = ((ArticulatedTalker.displacement(predicted, poses) - ArticulatedTalker.displacement(target, poses))
               ** 2).sum(-1).mean()
    closed_form = rig_pose_loss(predicted, target, _uniform_pose_moment())
    # Monte-Carlo error of 20k poses is well under 2 %; a wrong moment or index order is off by far more.
    assert float(closed_form) == pytest.approx(float(sampled), rel=0.05)
    # With the moment of the very poses sampled, the identity is exact (up to rounding).
    inputs = rig_inputs(poses)
    assert float(rig_pose_loss(predicted, target, inputs.T @ inputs / len(inputs))) == pytest.approx(
        float(sampled), rel=1e-9)


def test_rig_pose_loss_is_zero_for_identical_bases_and_respects_vertex_weights():
    predicted, target = _random_bases(2)
    moment = _uniform_pose_moment()
    assert float(rig_pose_loss(target, target, moment)) == 0.0
    per_vertex = torch.stack([rig_pose_loss(predicted[v:v + 1], target[v:v + 1], moment) for v in range(40)])
    weight = torch.rand(40, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    expected = (per_vertex * weight).sum() / weight.sum()
    assert float(rig_pose_loss(predicted, target, moment, weight)) == pytest.approx(float(expected), rel=1e-9)
    assert float(rig_pose_loss(predicted, target, moment, 7.0 * weight)) == pytest.approx(float(expected), rel=1e-9)
    only_first = torch.zeros(40, dtype=torch.float64)
    only_first[0] = 1.0
    assert float(rig_pose_loss(predicted, target, moment, only_first)) == pytest.approx(float(per_vertex[0]), rel=1e-9)
    assert float(rig_pose_loss(predicted, target, moment)) == pytest.approx(float(per_vertex.mean()), rel=1e-9)


def test_displacement_is_linear_in_the_inputs_with_jaw_open_squared_last():
    assert RIG_INPUTS[:-1] == ARTICULATION_CHANNELS and RIG_INPUTS[-1] == "jaw_open_sq"
    basis, other = _random_bases(4)
    poses = torch.rand(6, len(ARTICULATION_CHANNELS), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    moved = ArticulatedTalker.displacement(basis, poses)
    assert moved.shape == (6, 40, 3)
    expected = torch.einsum("ta,vac->tvc", poses, basis[:, :-1]) + poses[:, JAW, None, None] ** 2 * basis[None, :, -1]
    assert torch.allclose(moved, expected, rtol=1e-12, atol=1e-12)
    # Linear in the basis: the motion of a sum of bases is the sum of their motions.
    combined = ArticulatedTalker.displacement(2.0 * basis - other, poses)
    assert torch.allclose(combined, 2.0 * moved - ArticulatedTalker.displacement(other, poses), atol=1e-10)
    # The rest pose does not move any face.
    assert ArticulatedTalker.displacement(basis, torch.zeros(1, len(ARTICULATION_CHANNELS))).abs().max() == 0.0


def test_an_untrained_decoder_keeps_the_face_still(face):
    verts, faces = face
    model = ArticulatedTalker(ArticulatedConfig(**TINY)).eval()
    ops = compute_operators(verts, faces, TINY["k_eig"])
    with torch.no_grad():
        basis = model.basis(torch.as_tensor(verts, dtype=torch.float32), ops)
    assert basis.shape == (len(verts), NUM_INPUTS, 3)
    assert basis.abs().max() == 0.0


def test_the_articulator_gives_a_track_in_the_unit_range():
    model = ArticulatedTalker(ArticulatedConfig(**TINY)).eval()
    audio = torch.as_tensor(np.random.default_rng(0).normal(0.0, 0.1, 16000), dtype=torch.float32)
    with torch.no_grad():
        track = model.articulation(audio, 30)
        batched = model.articulation(torch.stack([audio, audio]), 30)
    assert track.shape == (30, len(ARTICULATION_CHANNELS)) and batched.shape == (2, 30, len(ARTICULATION_CHANNELS))
    assert float(track.min()) >= 0.0 and float(track.max()) <= 1.0
    assert torch.allclose(batched[0], track, atol=1e-5)


def test_a_permuted_mesh_gets_the_same_motion_on_the_same_vertices(face):
    verts, faces = face
    model = _trained_looking()
    order = np.random.default_rng(1).permutation(len(verts))
    inverse = np.argsort(order)
    with torch.no_grad():
        basis = model.basis(torch.as_tensor(verts, dtype=torch.float32),
                            compute_operators(verts, faces, TINY["k_eig"])).numpy()
        permuted = model.basis(torch.as_tensor(verts[order], dtype=torch.float32),
                               compute_operators(verts[order], inverse[faces], TINY["k_eig"])).numpy()
    peak = np.abs(basis).max()
    assert peak > 1e-4  # metres per unit: the model really moves this face
    assert np.abs(permuted - basis[order]).max() < 1e-4 * peak


def test_checkpoint_round_trip_rebuilds_the_identical_model(tmp_path, face):
    model = _trained_looking(seed=3)
    config = ArticulatedConfig(**TINY, reference_center=(0.0, 0.01, 0.02))
    model.config = config  # a non-default field must survive the file too
    save_model(tmp_path / "tiny.ckpt", model, recipe={"steps": 3})
    loaded, checkpoint = load_model_with_checkpoint(tmp_path / "tiny.ckpt")
    assert isinstance(loaded, ArticulatedTalker) and not loaded.training
    assert loaded.config == config and checkpoint["recipe"] == {"steps": 3}
    state, restored = model.state_dict(), loaded.state_dict()
    assert state.keys() == restored.keys()
    assert all(torch.equal(state[key], restored[key]) for key in state)
    verts, faces = face
    ops = compute_operators(verts, faces, TINY["k_eig"])
    template = torch.as_tensor(verts, dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(model.basis(template, ops), loaded.basis(template, ops))


def test_loading_end_to_end_refuses_an_articulated_file_clearly(tmp_path):
    save_model(tmp_path / "tiny.ckpt", ArticulatedTalker(ArticulatedConfig(**TINY)))
    with pytest.raises(CheckpointError, match="ArticulatedTalker.*load_model"):
        load_model_with_checkpoint(tmp_path / "tiny.ckpt", end_to_end=True)


def test_config_round_trips_and_refuses_unknown_settings():
    config = ArticulatedConfig(**TINY, channels=ARTICULATION_CHANNELS[::-1])
    assert ArticulatedConfig.from_dict(config.to_dict()) == config
    with pytest.raises(Exception, match="unknown model settings.*'colour'"):
        ArticulatedConfig.from_dict({**config.to_dict(), "colour": "red"})


def test_an_unknown_setting_in_a_checkpoint_is_a_checkpoint_error(tmp_path):
    save_model(tmp_path / "tiny.ckpt", ArticulatedTalker(ArticulatedConfig(**TINY)))
    checkpoint = torch.load(tmp_path / "tiny.ckpt", weights_only=True)
    checkpoint["articulated_model_config"]["colour"] = "red"
    torch.save(checkpoint, tmp_path / "edited.ckpt")
    with pytest.raises(CheckpointError, match="edited.ckpt.*colour"):
        load_model(tmp_path / "edited.ckpt")


def test_an_untrained_landmark_decoder_votes_for_the_area_weighted_centre(face):
    """Zero-initialised votes are uniform per unit area with no offset: every landmark lands on the
    mass-weighted centroid, whatever the meshing density."""
    from scantalk.model.articulated import LandmarkDecoder

    verts, faces = face
    ops = compute_operators(verts, faces, k_eig=16)
    decoder = LandmarkDecoder(ArticulatedConfig(width=8, n_blocks=1, k_eig=16))
    points = decoder(torch.as_tensor(verts, dtype=torch.float32), ops)
    mass = ops.mass.double().numpy()
    centre = (mass[:, None] * verts).sum(0) / mass.sum()
    assert points.shape == (10, 3)
    assert np.abs(points.detach().numpy() - centre).max() < 1e-5


def test_the_landmark_model_moves_a_face_as_the_rig_placed_on_its_landmarks(face, monkeypatch):
    """With the landmarks found, the motion basis is exactly the rig's on those landmarks."""
    from scantalk.face.head import Head
    from scantalk.rig.rig import rig_basis

    verts, faces = face
    ops = compute_operators(verts, faces, k_eig=16)
    head = real_face("mediapipe")
    model = ArticulatedTalker(ArticulatedConfig(width=8, n_blocks=1, k_eig=16, decoder="landmarks")).eval()
    truth = torch.as_tensor(head.landmarks.as_array(), dtype=torch.float32)
    monkeypatch.setattr(model.decoder, "forward", lambda template, ops: truth)
    basis = model.basis(torch.as_tensor(verts, dtype=torch.float32), ops)
    expected = rig_basis(Head(verts.astype(np.float32).astype(np.float64), faces,
                              model.landmarks(torch.as_tensor(verts, dtype=torch.float32), ops), "input"))
    assert basis.shape == (len(verts), NUM_INPUTS, 3)
    assert np.abs(basis.numpy() - expected).max() < 1e-6 * max(1.0, np.abs(expected).max())
    assert np.abs(expected).max() > 1e-3  # the rig really moves the mouth (millimetres per unit)


def test_the_landmark_region_is_the_same_face_whatever_else_the_scan_holds():
    """A full procedural-like head and its face with a long neck attached give the decoder the
    same region: what lies far below the chin or behind the jaw is cut away."""
    from scantalk.model.articulated import landmark_region

    head = real_face("mediapipe")
    neck = head.verts[head.verts[:, 1] < head.verts[:, 1].min() + 0.02] - [0.0, 0.2, 0.0]  # points 20 cm lower
    region, _, kept = landmark_region(head.verts, None)
    with_neck, _, kept_neck = landmark_region(np.concatenate([head.verts, neck]), None)
    assert len(region) >= 100 and np.array_equal(region, with_neck) and np.array_equal(kept, kept_neck)
    verts, faces, kept = landmark_region(head.verts, head.faces)
    assert faces.max() < len(verts) and np.array_equal(verts, head.verts[kept])
