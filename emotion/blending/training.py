"""Training the `EmoBlender` with Lightning: `EmoBlenderModule` (losses), `load_blender`, and the
per-subject batching its data modules share (`SubjectBatches`, `SubjectBatchesDataModule`).

The data are the anatomical heads speaking through the rig × FACS expressions
(`emotion.blending.data.HeadsBlenderDataModule`). A batch is `frames_per_batch` talking frames of
one subject and as many expressions on the same surface, so the batch shares one
`SurfaceOperators`. It trains through `scantalk fit` like every model:

    scantalk fit --config experiments/configs/emoblender_heads.yaml

(the config names `emotion.blending.training.EmoBlenderModule` and `emotion.blending.data.HeadsBlenderDataModule`
by class_path).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from emotion.blending.model import EmoBlender
from scantalk.checkpoint import load_checkpoint_dict
from scantalk.errors import CheckpointError, ScanTalkError

CHECKPOINT_KIND = "emoblender"


class EmoBlenderModule(L.LightningModule):
    """Lightning wrapper of `EmoBlender`: its losses, logged per term, and Adam.

    Args:
        latent, width, n_blocks, k_eig, encoder_xyz, objective, gradient_features, frequencies,
            position_unit, displacement_unit, use_normals, talking_skip: the blender's (see
            `emotion.blending.EmoBlender`).
        lr: Adam learning rate.
        init_checkpoint: start from this blender checkpoint's weights. One without normals is
            widened to take them, starting as the network it was; one without the talking skip
            starts with its decoder deaf to z_talk, so that it draws its expression alone on the
            talking motion the skip now carries (the talking term starts at zero error).
    """

    def __init__(self, latent: int = 256, width: int = 64, n_blocks: int = 4, k_eig: int = 128,
                 encoder_xyz: bool = True, objective: str = "split", gradient_features: bool = True,
                 frequencies: int = 4, position_unit: float = 0.1, displacement_unit: float = 0.001,
                 use_normals: bool = False, talking_skip: bool = False, lr: float = 1e-3,
                 init_checkpoint: str | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.blender = EmoBlender(latent=latent, width=width, n_blocks=n_blocks, k_eig=k_eig, encoder_xyz=encoder_xyz,
                                  objective=objective, gradient_features=gradient_features, frequencies=frequencies,
                                  position_unit=position_unit, displacement_unit=displacement_unit,
                                  use_normals=use_normals, talking_skip=talking_skip)
        self.lr = lr
        if init_checkpoint:
            self._warm_start(init_checkpoint)

    def _warm_start(self, path: str) -> None:
        """Start from another blender's weights; a blender without normals is widened to take
        them, with zero weights on the new inputs, so it starts as the network it was."""
        checkpoint = load_checkpoint_dict(path, kind=CHECKPOINT_KIND, config_key="emoblender_config",
                                          what="blender checkpoint")
        old = checkpoint["state_dict"]
        state = self.state_dict()
        position = 3 + 6 * self.blender.frequencies  # the decoder's inputs: position ‖ normals ‖ latents
        for key, value in state.items():
            source = old.get(key)
            if source is None:
                raise CheckpointError(f"{path} has no weights {key}; warm-start from a blender of the same shape")
            if source.shape == value.shape:
                state[key] = source
            elif key.endswith("input_linear.weight") and source.shape[1] + 3 == value.shape[1]:
                widened = torch.zeros_like(value)
                split = position if key.startswith("blender.decoder.") else source.shape[1]
                widened[:, :split] = source[:, :split]
                widened[:, split + 3:] = source[:, split:]
                state[key] = widened
            else:
                raise CheckpointError(f"{path}: weights {key} of shape {tuple(source.shape)} do not fit {tuple(value.shape)}")
        if self.blender.talking_skip and not checkpoint["emoblender_config"].get("talking_skip", False):
            # The decoder's inputs end with z_talk ‖ z_expr: zero z_talk's, so decode(z_t, z_e) = decode(0, z_e).
            weight = state["blender.decoder.input_linear.weight"].clone()
            latent = self.blender.latent
            weight[:, -2 * latent:-latent] = 0.0
            state["blender.decoder.input_linear.weight"] = weight
        self.load_state_dict(state)

    def setup(self, stage: str) -> None:
        """Refuse data whose operators have another k_eig than the blender (a config mistake)."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        data_k_eig = getattr(datamodule, "k_eig", None)
        if data_k_eig is not None and data_k_eig != self.blender.k_eig:
            raise ScanTalkError(f"model.init_args.k_eig ({self.blender.k_eig}) and data.init_args.k_eig ({data_k_eig}) "
                                "differ in the EmoBlender config: set both to the same number of eigenpairs")

    def _step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        parts = self.blender.losses(batch["template"], batch["talking"], batch["expression"], batch["ops"],
                                    scales=batch.get("scales"), mixture_expression=batch.get("mixture_expression"))
        for name, value in parts.items():
            self.log(f"{stage}_{name}", value, batch_size=batch["talking"].shape[0], prog_bar=name == "loss")
        return parts["loss"]

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """The summed blender loss of one batch (one subject's surface)."""
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """The same losses on a validation subject, logged as `val_*` (`val_loss` for checkpoints)."""
        return self._step(batch, "val")

    def transfer_batch_to_device(self, batch: dict[str, Any], device: torch.device, dataloader_idx: int) -> dict[str, Any]:
        """Move tensors and the batch's `SurfaceOperators` to `device`."""
        return {key: value.to(device) for key, value in batch.items()}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam over all three networks."""
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Tag the file as a blender checkpoint and store the blender's configuration."""
        checkpoint["scantalk_kind"] = CHECKPOINT_KIND
        checkpoint["emoblender_config"] = dict(self.blender.config)


def load_blender(path: str | Path) -> EmoBlender:
    """An `EmoBlender` (eval mode) from a checkpoint written by `EmoBlenderModule` training.

    Args:
        path: the `.ckpt` (`scantalk fit --config experiments/configs/emoblender_heads.yaml` writes them).

    Returns:
        The blender, in eval mode.

    Raises:
        CheckpointError: missing, unreadable or unsafe file, another model's, or a configuration
            or weights this version cannot build.
    """
    checkpoint = load_checkpoint_dict(path, kind=CHECKPOINT_KIND, config_key="emoblender_config", what="blender checkpoint")
    # Blenders saved before position_unit / displacement_unit existed used 0.1 m and 1 mm, the
    # defaults, so their stored configuration rebuilds the same network.
    try:
        blender = EmoBlender(**checkpoint["emoblender_config"])
        blender.load_state_dict({key[len("blender."):]: value for key, value in checkpoint["state_dict"].items()
                                 if key.startswith("blender.")})
    except (TypeError, ValueError, RuntimeError) as error:
        first_line = (str(error).splitlines() or [""])[0][:200]
        raise CheckpointError(f"blender checkpoint {path} does not match this version's EmoBlender ({first_line}); "
                              "re-train it with `scantalk fit --config experiments/configs/emoblender_heads.yaml`") from None
    return blender.eval()


class SubjectBatches(Dataset):
    """Item i: a batch of talking frames and expressions on subject i % S (one surface); a
    subclass may draw its items otherwise from the same subjects."""

    def __init__(self, subjects: list[dict[str, Any]], frames_per_batch: int, min_intensity: float,
                 length: int, seed: int) -> None:
        self.subjects, self.frames_per_batch, self.min_intensity = subjects, frames_per_batch, min_intensity
        self.length, self.seed = length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, index])
        subject = self.subjects[index % len(self.subjects)]
        talking = subject["talking"]
        chosen = rng.integers(0, len(talking), self.frames_per_batch)
        labels = rng.integers(0, len(subject["expressions"]), self.frames_per_batch)
        strengths = rng.uniform(self.min_intensity, 1.0, self.frames_per_batch).astype(np.float32)
        return {
            "template": torch.from_numpy(subject["template"]),
            "talking": torch.from_numpy(talking[chosen]),
            "expression": torch.from_numpy(subject["expressions"][labels] * strengths[:, None, None]),
            "ops": subject["ops"],
        }


class SubjectBatchesDataModule(L.LightningDataModule, metaclass=abc.ABCMeta):
    """Batches of one subject's surface each: subclasses give `batches(split, length, seed)`
    and set `batches_per_epoch`, `val_batches` and `seed`."""

    batches_per_epoch: int
    val_batches: int
    seed: int

    @abc.abstractmethod
    def batches(self, split: str, length: int, seed: int) -> Dataset:
        """`length` batches of the subjects of `split`, drawn with `seed`."""

    def _loader(self, split: str, length: int, seed: int) -> DataLoader:
        return DataLoader(self.batches(split, length, seed), batch_size=None, shuffle=split == "train")

    def train_dataloader(self) -> DataLoader:
        """`batches_per_epoch` shuffled batches of the training subjects."""
        return self._loader("train", self.batches_per_epoch, self.seed)

    def val_dataloader(self) -> DataLoader:
        """`val_batches` batches of the validation subjects."""
        return self._loader("val", self.val_batches, self.seed + 1)
