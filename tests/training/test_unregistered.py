"""Training on unregistered scans: registered frames seen as raw scans, the Chamfer loss and its
regularisers, and the unregistered config run as a user runs it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scantalk.errors import ScanTalkError
from scantalk.geometry import compute_operators
from scantalk.training.unregistered import chamfer_terms, smoothness, surface_points, unregistered_loss


def _square(steps: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """A unit square (two triangles) rising 1 cm along z each frame: frames (T, 4, 3), faces."""
    corners = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    frames = torch.stack([corners + torch.tensor([0.0, 0.0, 0.01 * t]) for t in range(steps)])
    return frames, torch.tensor([[0, 1, 2], [0, 2, 3]])


def test_scan_points_lie_on_each_frames_surface_spread_over_it_and_differ_between_frames():
    frames, faces = _square()
    points = surface_points(frames, faces, 20000, torch.Generator().manual_seed(0))
    assert points.shape == (3, 20000, 3)
    for t in range(3):
        assert torch.allclose(points[t, :, 2], torch.full((20000,), 0.01 * t))  # on that frame's plane
        assert points[t, :, :2].min() >= 0.0 and points[t, :, :2].max() <= 1.0
        # Uniform over the area: both triangles' halves as full as each other, the centre in the middle.
        assert abs((points[t, :, 0] > points[t, :, 1]).float().mean().item() - 0.5) < 0.02
        assert torch.allclose(points[t, :, :2].mean(dim=0), torch.tensor([0.5, 0.5]), atol=0.01)
    assert not torch.allclose(points[0, :, :2], points[1, :, :2])  # every frame its own scan
    cloud = surface_points(frames, None, 50, torch.Generator().manual_seed(0))
    assert cloud.shape == (3, 50, 3) and all(bool((cloud[t, :, None] == frames[t, None]).all(-1).any(-1).all())
                                             for t in range(3))


def test_chamfer_is_zero_on_the_scan_whatever_its_order_and_pulls_an_offset_frame_back():
    points = torch.rand(2, 300, 3, generator=torch.Generator().manual_seed(1))
    pred = points[:, torch.randperm(300, generator=torch.Generator().manual_seed(2))].clone()
    assert chamfer_terms(pred, points)["chamfer"].item() == 0.0
    lifted = (pred + torch.tensor([0.0, 0.0, 0.001])).requires_grad_(True)
    terms = chamfer_terms(lifted, points, lip_vertices=torch.tensor([0, 1]))
    # Each point's nearest neighbour is itself 1 mm away: 1 mm² each way.
    assert terms["to_scan"].item() == pytest.approx(1e-6, rel=1e-3)
    assert terms["to_model"].item() == pytest.approx(1e-6, rel=1e-3)
    assert terms["lip"].item() == pytest.approx(1e-6, rel=1e-3)
    terms["chamfer"].backward()
    assert (lifted.grad[..., 2] > 0).all() and lifted.grad[..., :2].abs().max() == 0.0  # straight back down
    # Scans of their own sizes, one per frame.
    sized = chamfer_terms(pred, [points[0], points[1, :100]])
    assert sized["to_scan"].item() > 0.0 and sized["to_model"].item() == 0.0
    with pytest.raises(ValueError, match="2 predicted frames but 1 scans"):
        chamfer_terms(pred, [points[0]])


def test_smoothness_is_zero_for_a_rigid_shift_and_grows_with_a_crumpled_surface():
    grid = np.stack(np.meshgrid(np.linspace(0, 0.1, 12), np.linspace(0, 0.1, 12)), -1).reshape(-1, 2)
    verts = np.concatenate([grid, np.zeros((len(grid), 1))], axis=1)
    index = np.arange(144).reshape(12, 12)
    faces = np.concatenate([np.stack([index[:-1, :-1], index[1:, :-1], index[1:, 1:]], -1).reshape(-1, 3),
                            np.stack([index[:-1, :-1], index[1:, 1:], index[:-1, 1:]], -1).reshape(-1, 3)])
    ops = compute_operators(verts, faces, k_eig=8)
    shift = torch.zeros(2, 144, 3) + torch.tensor([0.0, 0.0, 0.003])
    assert smoothness(shift, ops).item() == pytest.approx(0.0, abs=1e-9)
    bump = torch.zeros(2, 144, 3)
    bump[:, :, 2] = 0.003 * torch.exp(-torch.as_tensor(((grid - 0.05) ** 2).sum(1) / 0.02**2, dtype=torch.float32))
    crumpled = bump.clone()
    crumpled[:, ::2, 2] += 0.002
    assert 0.0 < smoothness(bump, ops).item() < smoothness(crumpled, ops).item()
    still = torch.as_tensor(verts, dtype=torch.float32)
    terms = unregistered_loss(still + bump, still + bump, still, ops, None)
    assert terms["chamfer"].item() == 0.0 and terms["acceleration"].item() == 0.0
    assert terms["loss"].item() == pytest.approx(1e-4 * terms["smooth"].item())


@pytest.mark.slow
def test_the_module_says_what_to_set_when_unregistered_samples_carry_no_scans(tiny_dataset, tmp_path):
    from scantalk.datasets import load_dataset
    from scantalk.training.datamodule import SequenceDataset
    from scantalk.model import ScanTalk
    from scantalk.training import ScanTalkModule

    records = load_dataset(tiny_dataset, split="train")
    module = ScanTalkModule(ScanTalk(width=8, n_blocks=2, k_eig=16).config, targets="unregistered")
    with pytest.raises(ScanTalkError, match="unregistered_points"):
        module.training_step(SequenceDataset(records, str(tmp_path / "ops"), k_eig=16)[0], 0)
    sample = SequenceDataset(records, str(tmp_path / "ops"), k_eig=16, unregistered_points=256)[0]
    assert sample["target_points"].shape == (sample["frames"].shape[0], 256, 3)
    loss = module.training_step(sample, 0)
    assert torch.isfinite(loss) and loss.item() > 0.0
    with pytest.raises(ScanTalkError, match="targets must be one of"):
        ScanTalkModule(targets="raw")


def test_point_to_plane_lets_vertices_lie_between_the_scans_samples_but_not_off_its_surface():
    frames, faces = _square(1)
    points, normals = surface_points(frames, faces, 400, torch.Generator().manual_seed(3), normals=True)
    assert torch.allclose(normals, torch.tensor([0.0, 0.0, 1.0]).expand_as(normals))
    grid = torch.stack(torch.meshgrid(torch.linspace(0.1, 0.9, 9), torch.linspace(0.1, 0.9, 9), indexing="ij"), -1)
    on_plane = torch.cat([grid.reshape(1, -1, 2), torch.zeros(1, 81, 1)], dim=-1)  # not at the samples
    assert chamfer_terms(on_plane, points)["to_scan"].item() > 1e-4  # point to point: the spacing shows
    assert chamfer_terms(on_plane, points, normals=normals)["to_scan"].item() == pytest.approx(0.0, abs=1e-12)
    lifted = on_plane + torch.tensor([0.0, 0.0, 0.002])
    assert chamfer_terms(lifted, points, normals=normals)["to_scan"].item() == pytest.approx(4e-6, rel=1e-4)


@pytest.mark.integration
def test_scantalk_fit_runs_the_unregistered_config(tiny_dataset, tmp_path):
    """`scantalk fit --config experiments/configs/scantalk_unregistered.yaml` as a user runs it,
    on the tiny talking set, writes a checkpoint that loads back as a ScanTalk model."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from scantalk.checkpoint import load_model_with_checkpoint

    repo = Path(__file__).resolve().parents[2]
    datasets = json.dumps([{"root": str(tiny_dataset)}])
    result = subprocess.run(
        [sys.executable, "-m", "scantalk.cli", "fit", "--config", "experiments/configs/scantalk_unregistered.yaml",
         f"--data.datasets={datasets}", f"--data.cache_dir={tmp_path / 'ops'}", "--data.unregistered_points=256",
         f"--trainer.default_root_dir={tmp_path / 'runs'}", "--model.config.width=8", "--model.config.n_blocks=2",
         "--model.config.k_eig=16", "--trainer.max_steps=2",
         "--trainer.limit_val_batches=1"],
        cwd=repo, env={**os.environ, "PYTHONUNBUFFERED": "1"}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    model, checkpoint = load_model_with_checkpoint(next((tmp_path / "runs").rglob("last.ckpt")), end_to_end=True)
    assert checkpoint["hyper_parameters"]["targets"] == "unregistered" and model.config.k_eig == 16


def test_with_the_templates_faces_scan_points_between_its_vertices_cost_nothing_either():
    """Point to plane back to the model: a scan of the predicted surface itself, sampled between
    its vertices, costs nothing; lifted off it, the lift's square."""
    frames, faces = _square(1)
    points = surface_points(frames, faces, 400, torch.Generator().manual_seed(4))
    assert chamfer_terms(frames, points)["to_model"].item() > 1e-3  # the vertices' spacing shows
    assert chamfer_terms(frames, points, faces=faces)["to_model"].item() == pytest.approx(0.0, abs=1e-12)
    lifted = points + torch.tensor([0.0, 0.0, 0.002])
    assert chamfer_terms(frames, lifted, faces=faces)["to_model"].item() == pytest.approx(4e-6, rel=1e-4)
