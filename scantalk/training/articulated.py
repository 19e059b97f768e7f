"""Training logic of the factored model, one LightningModule per half.

- `ArticulationDecoderModule`: the DiffusionNet decoder learns each head's rig basis from its
  neutral surface; the loss scores every articulation pose at once (`rig_pose_loss`).
- `SpeechArticulatorModule`: speech → articulation track, supervised by the tracks made from
  exact phone timings; no mesh involved, so it trains in minutes on a CPU.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import lightning as L
import numpy as np
import torch

from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.model.articulated import (
    ArticulatedConfig,
    ArticulationDecoder,
    LandmarkDecoder,
    SpeechArticulator,
    rig_inputs,
    rig_pose_loss,
)


def pose_second_moment(samples: int = 20000, seed: int = 0) -> torch.Tensor:
    """E[u uᵀ] (B, B) of the rig inputs u over the poses the decoder must get right.

    Half speech-like poses (one dominant gesture at a time, as phones produce: open, closed,
    rounded, spread, labiodental, with jaw opening alongside), half independent uniform poses
    (anything a user may type into an edited track).
    """
    rng = np.random.default_rng(seed)
    count = len(ARTICULATION_CHANNELS)
    uniform = rng.uniform(0.0, 1.0, (samples, count))
    speech = rng.uniform(0.0, 0.3, (samples, count)) * (rng.uniform(size=(samples, count)) < 0.5)
    dominant = rng.integers(0, count, samples)
    speech[np.arange(samples), dominant] = rng.uniform(0.3, 1.0, samples)
    poses = torch.as_tensor(np.concatenate([uniform, speech]), dtype=torch.float64)
    inputs = rig_inputs(poses)
    return (inputs.T @ inputs / len(inputs)).float()


class _OneHeadPerStep(L.LightningModule, ABC):
    """Shared logic of the decoder modules: one head (template, operators, targets) per step,
    a loss and one more figure (`METRIC`) logged for training and validation, Adam."""

    METRIC = "metric"

    @abstractmethod
    def _losses(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, the logged figure) of one batch."""

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        loss, metric = self._losses(batch)
        self.log("train_loss", loss, batch_size=1, prog_bar=True)
        self.log(f"train_{self.METRIC}", metric, batch_size=1, prog_bar=True)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_index: int) -> None:
        loss, metric = self._losses(batch)
        self.log("val_loss", loss, batch_size=1, prog_bar=True)
        self.log(f"val_{self.METRIC}", metric, batch_size=1, prog_bar=True)

    def transfer_batch_to_device(self, batch: dict[str, Any], device: torch.device, dataloader_idx: int):
        # Operators are a dataclass of tensors: Lightning's default mover would leave them behind.
        return {key: (value.to(device) if hasattr(value, "to") else value) for key, value in batch.items()}

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr,
                                weight_decay=self.hparams.get("weight_decay", 0.0))


class ArticulationDecoderModule(_OneHeadPerStep):
    """Fits `ArticulationDecoder` to rig bases; logs the relative error over all poses.

    Args:
        width, n_blocks, k_eig, use_normals: the decoder (see `ArticulatedConfig`).
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
    """

    METRIC = "relative"

    def __init__(self, width: int = 64, n_blocks: int = 4, k_eig: int = 128, use_normals: bool = True,
                 lr: float = 1e-3, weight_decay: float = 0.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = ArticulatedConfig(width=width, n_blocks=n_blocks, k_eig=k_eig, use_normals=use_normals,
                                        decoder="basis")
        self.decoder = ArticulationDecoder(self.config)
        self.register_buffer("pose_moment", pose_second_moment(), persistent=False)

    def _losses(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        unit = self.config.displacement_unit
        predicted = self.decoder(batch["template"], batch["ops"]) / unit
        target = batch["basis"] / unit
        loss = rig_pose_loss(predicted, target, self.pose_moment, batch["weight"])
        # Relative error over all poses: what fraction of the rig's motion is missed.
        scale = rig_pose_loss(torch.zeros_like(target), target, self.pose_moment, batch["weight"])
        return loss, loss / scale.clamp_min(1e-12)


# Mouth landmarks decide where the lips part: they count four times as much as the others.
LANDMARK_WEIGHTS = (4.0, 4.0, 4.0, 4.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0)


class LandmarkDecoderModule(_OneHeadPerStep):
    """Fits `LandmarkDecoder` to the landmarks of the rigged heads (squared distance in mm);
    logs the mean error of the four mouth landmarks in mm.

    Args:
        width, n_blocks, k_eig, use_normals: the decoder (see `ArticulatedConfig`).
        lr: Adam learning rate.
    """

    METRIC = "mouth_mm"

    def __init__(self, width: int = 32, n_blocks: int = 4, k_eig: int = 128, use_normals: bool = True,
                 lr: float = 2e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = ArticulatedConfig(width=width, n_blocks=n_blocks, k_eig=k_eig, use_normals=use_normals)
        self.decoder = LandmarkDecoder(self.config)
        self.register_buffer("landmark_weight", torch.tensor(LANDMARK_WEIGHTS), persistent=False)

    def _losses(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        predicted = self.decoder(batch["template"], batch["ops"])
        distance = torch.linalg.norm(predicted - batch["landmarks"], dim=-1) * 1000.0  # mm
        loss = (self.landmark_weight * distance**2).sum() / self.landmark_weight.sum()
        return loss, distance[:4].mean()


class SpeechArticulatorModule(L.LightningModule):
    """Fits `SpeechArticulator` to articulation tracks.

    Args:
        n_mels, audio_hidden, lstm_hidden, lstm_layers: the network (see `ArticulatedConfig`).
        fps: frame rate of the tracks.
        lr: Adam learning rate.
        velocity_weight: weight of the frame-to-frame difference term (keeps timing crisp).
        closure_weight: extra weight on lip_close (a missed p/b/m is the most visible error).
        phone_weight: weight of the auxiliary phone cross-entropy (batches with "phones").
    """

    def __init__(self, n_mels: int = 80, audio_hidden: int = 128, lstm_hidden: int = 64, lstm_layers: int = 2,
                 fps: float = 30.0, lr: float = 2e-3, velocity_weight: float = 2.0,
                 closure_weight: float = 2.0, phone_weight: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = ArticulatedConfig(n_mels=n_mels, audio_hidden=audio_hidden, lstm_hidden=lstm_hidden,
                                        lstm_layers=lstm_layers)
        self.articulator = SpeechArticulator(self.config)
        weights = torch.ones(len(ARTICULATION_CHANNELS))
        weights[ARTICULATION_CHANNELS.index("lip_close")] = closure_weight
        self.register_buffer("channel_weight", weights, persistent=False)

    def _losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        target = batch["articulation"]
        mask = batch.get("mask", torch.ones(target.shape[:2], device=target.device))
        phone_loss = torch.zeros((), device=target.device)
        if "log_mel" in batch:  # precomputed features (`SpeechFeatureDataModule`)
            hidden = self.articulator.hidden(batch["log_mel"], target.shape[1])
            predicted = torch.sigmoid(self.articulator.head(hidden))
            if "phones" in batch:
                logits = self.articulator.phone_head(hidden)
                phone_loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["phones"].flatten())
        else:
            predicted = self.articulator(batch["audio"], target.shape[1])
        weight = mask[..., None] * self.channel_weight
        position = ((predicted - target) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)
        velocity_mask = (mask[:, 1:] * mask[:, :-1])[..., None] * self.channel_weight
        velocity = (((predicted.diff(dim=1) - target.diff(dim=1)) ** 2) * velocity_mask).sum()
        velocity = velocity / velocity_mask.sum().clamp_min(1.0)
        loss = position + self.hparams.velocity_weight * velocity + self.hparams.phone_weight * phone_loss
        return {"loss": loss, "position": position, "velocity": velocity, "phones": phone_loss}

    def training_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> torch.Tensor:
        losses = self._losses(batch)
        self.log("train_loss", losses["loss"], batch_size=len(batch["articulation"]), prog_bar=True)
        self.log("train_position", losses["position"], batch_size=len(batch["articulation"]))
        self.log("train_phones", losses["phones"], batch_size=len(batch["articulation"]))
        return losses["loss"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> None:
        losses = self._losses(batch)
        self.log("val_loss", losses["loss"], batch_size=len(batch["articulation"]), prog_bar=True)
        self.log("val_position", losses["position"], batch_size=len(batch["articulation"]))
        self.log("val_phones", losses["phones"], batch_size=len(batch["articulation"]))

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return optimizer
