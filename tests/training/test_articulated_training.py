"""Training logic of the factored model: each LightningModule learns its one fixed batch, and the
decoder module runs under a real Lightning Trainer on rigged heads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.training.articulated_data import RigDataModule, RigDataset, SpeechCrop, collate_crops, save_head
from scantalk.face.samples import real_face
from scantalk.geometry.cache import OperatorCache
from scantalk.model.articulated import RIG_INPUTS
from scantalk.training.articulated import ArticulationDecoderModule, SpeechArticulatorModule, pose_second_moment

K_EIG = 16
STEPS = 30
# Thirty Adam steps on one batch cut either loss far more than this; no BLAS difference gets near it.
LEARNED = 0.7


@pytest.fixture(scope="module")
def rig_root(tmp_path_factory):
    """A rigged-head folder (the layout `build_rig_heads` writes) holding MediaPipe's face."""
    root = tmp_path_factory.mktemp("rig")
    save_head(root / "heads" / "face.npz", real_face("mediapipe"))
    (root / "splits.json").write_text(json.dumps({"train": ["face"], "val": ["face"]}))
    return root


def _fit(module, batch, steps: int = STEPS) -> tuple[float, float]:
    """(initial loss, loss after `steps` Adam steps) on one batch, single-threaded for repeatability."""
    torch.set_num_threads(1)  # the suite's conftest restores the thread count
    torch.manual_seed(0)
    optimizer = module.configure_optimizers()
    losses = []
    for step in range(steps + 1):
        loss = module._losses(batch)
        loss = loss["loss"] if isinstance(loss, dict) else loss[0]
        losses.append(float(loss.detach()))
        if step < steps:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return losses[0], losses[-1]


def test_pose_second_moment_is_a_valid_moment_of_the_rig_inputs():
    moment = pose_second_moment(samples=4000, seed=1)
    assert moment.shape == (len(RIG_INPUTS), len(RIG_INPUTS))
    assert torch.allclose(moment, moment.T)
    assert float(torch.linalg.eigvalsh(moment.double()).min()) > 0.0  # every input direction is scored
    assert torch.equal(pose_second_moment(samples=4000, seed=1), moment)
    jaw = ARTICULATION_CHANNELS.index("jaw_open")
    # Inputs lie in [0, 1] and the last is jaw_open², so E[jaw⁴] ≤ E[jaw³] ≤ E[jaw²] ≤ 1.
    assert float(moment[-1, -1]) <= float(moment[jaw, -1]) <= float(moment[jaw, jaw]) <= 1.0


def test_the_decoder_module_learns_a_heads_rig(rig_root):
    torch.manual_seed(0)
    module = ArticulationDecoderModule(width=8, n_blocks=1, k_eig=K_EIG, lr=1e-2)
    batch = RigDataset([rig_root / "heads" / "face.npz"], OperatorCache(rig_root / "ops"), K_EIG)[0]
    with torch.no_grad():
        _, relative = module._losses(batch)
    assert float(relative) == pytest.approx(1.0, rel=1e-5)  # a zero start misses all of the rig's motion
    initial, final = _fit(module, batch)
    assert final < LEARNED * initial


def test_the_articulator_module_learns_a_batch_of_tracks():
    torch.manual_seed(0)
    module = SpeechArticulatorModule(n_mels=20, audio_hidden=16, lstm_hidden=8, lstm_layers=1, lr=1e-2)
    rng = np.random.default_rng(0)
    time = np.arange(30) / 30
    crops = []
    for phase in (0.0, 1.5):
        open_jaw = (0.5 + 0.45 * np.sin(2 * np.pi * 2 * time + phase)).astype(np.float32)
        track = np.zeros((30, len(ARTICULATION_CHANNELS)), np.float32)
        track[:, 0] = open_jaw
        # Audio loud where the jaw is open, as speech is: something for the network to hear.
        envelope = np.repeat(open_jaw, 16000 // 30 + 1)[:16000]
        audio = (envelope * rng.normal(0.0, 0.3, 16000)).astype(np.float32)
        crops.append(SpeechCrop(audio, track))
    batch = collate_crops(crops)
    initial, final = _fit(module, batch)
    assert final < LEARNED * initial


def test_padding_does_not_count_in_the_articulator_loss():
    torch.manual_seed(0)
    module = SpeechArticulatorModule(n_mels=20, audio_hidden=16, lstm_hidden=8, lstm_layers=1)
    channels = len(ARTICULATION_CHANNELS)
    batch = collate_crops([SpeechCrop(np.zeros(16000, np.float32), np.zeros((30, channels), np.float32)),
                           SpeechCrop(np.zeros(8000, np.float32), np.zeros((15, channels), np.float32))])
    with torch.no_grad():
        predicted = module.articulator(batch["audio"], 30)
    # Targets of 1 in the padded frames would be a large error if padding were scored.
    padded = {**batch, "articulation": batch["articulation"].clone()}
    padded["articulation"][1, 15:] = 1.0
    with torch.no_grad():
        assert float(module._losses(padded)["position"]) == pytest.approx(float(module._losses(batch)["position"]))
    assert predicted.shape == (2, 30, channels)


def test_the_decoder_module_runs_under_a_lightning_trainer(rig_root, tmp_path):
    import lightning as L

    torch.set_num_threads(1)
    module = ArticulationDecoderModule(width=8, n_blocks=1, k_eig=K_EIG)
    data = RigDataModule(str(rig_root), cache_dir=str(tmp_path / "ops"), k_eig=K_EIG)
    trainer = L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                        limit_val_batches=1)
    trainer.fit(module, datamodule=data)
    assert trainer.global_step == 2
    assert np.isfinite(float(trainer.callback_metrics["train_loss"]))
    assert "val_relative" in trainer.callback_metrics


def test_the_landmark_decoder_module_learns_a_heads_landmarks(rig_root):
    from scantalk.training.articulated import LandmarkDecoderModule

    torch.manual_seed(0)
    module = LandmarkDecoderModule(width=8, n_blocks=1, k_eig=K_EIG, lr=1e-2)
    batch = RigDataset([rig_root / "heads" / "face.npz"], OperatorCache(rig_root / "ops"), K_EIG)[0]
    initial, final = _fit(module, batch)
    assert final < LEARNED * initial
