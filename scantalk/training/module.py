"""`ScanTalkModule`: the training logic of ScanTalk (losses, optimiser, metrics) for Lightning."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from scantalk.checkpoint import CHECKPOINT_KIND, CONFIG_KEY
from scantalk.errors import CheckpointError, FaceNotFoundError, ScanTalkError
from scantalk.geometry.operators import SurfaceOperators
from scantalk.metrics import lip_vertex_error, mean_vertex_error, upper_face_dynamics_deviation
from scantalk.model import ScanTalk, ScanTalkConfig
from scantalk.training.unregistered import unregistered_loss

TARGETS = ("registered", "unregistered")


def reconstruction_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    lip_vertices: torch.Tensor | None,
    mse_weight: float = 1.0,
    lip_weight: float = 1.0,
    velocity_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """ScanTalk's loss terms: MSE, lip-vertex MSE and velocity MSE.

    The velocity term compares frame-to-frame differences along *time*, which penalises
    jitter and a lagging mouth that a per-frame MSE forgives.

    Args:
        pred: (T, V, 3) predicted frames, metres.
        target: (T, V, 3) ground-truth frames, metres.
        lip_vertices: (L,) int64 indices of the lip vertices, or None (lip term zero).
        mse_weight: weight of the all-vertex MSE.
        lip_weight: weight of the lip-vertex MSE.
        velocity_weight: weight of the velocity MSE (zero for a single frame).

    Returns:
        Scalars "mse", "lip", "velocity" (square metres) and "loss", their weighted sum.
    """
    terms = {"mse": F.mse_loss(pred, target)}
    terms["lip"] = F.mse_loss(pred[:, lip_vertices], target[:, lip_vertices]) if lip_vertices is not None else pred.new_zeros(())
    if pred.shape[0] > 1:
        terms["velocity"] = F.mse_loss(pred[1:] - pred[:-1], target[1:] - target[:-1])
    else:
        terms["velocity"] = pred.new_zeros(())
    terms["loss"] = mse_weight * terms["mse"] + lip_weight * terms["lip"] + velocity_weight * terms["velocity"]
    return terms


class ScanTalkModule(L.LightningModule):
    """Trains `ScanTalk`. Every argument is a typed knob reachable from a LightningCLI YAML.

    Args:
        config: the network (`scantalk.model.ScanTalkConfig`: `model.config.width` etc. in YAML).
            Checkpoints store it as a plain dict, so `ScanTalkModule.load_from_checkpoint(path)`
            and `scantalk.checkpoint.load_model(path)` alone rebuild the model.
        lr: Adam learning rate (1e-4 in ScanTalk).
        weight_decay: Adam weight decay.
        mse_weight: weight of the all-vertex MSE (see `reconstruction_loss`; unregistered: of
            the Chamfer distance).
        lip_weight: weight of the lip-vertex MSE (unregistered: the lip vertices' squared
            distance to the scan).
        velocity_weight: weight of the velocity MSE (unregistered: of the frames' acceleration).
        targets: "registered" (targets are the template's vertices over time: ScanTalk's MSE,
            lip and velocity losses) or "unregistered" (targets are raw 4D scans, the samples'
            `target_points`: the IJCV extension's Chamfer loss, with surface smoothness and
            acceleration regularisers; see `scantalk.training.unregistered`). Validation
            reports MVE, LVE and FDD either way when the samples also carry registered frames.
        smooth_weight: unregistered only: weight of the displacement's surface smoothness.
        init_weights: an end-to-end checkpoint (a model or Lightning file) whose weights the
            model starts from; identity inputs this model hears beyond that one's (e.g.
            "xyz+regions" after "xyz") start at zero, so training begins from that model.

    Gradient clipping is the Trainer's (`trainer.gradient_clip_val`).
    """

    def __init__(
        self,
        config: ScanTalkConfig = ScanTalkConfig(),  # frozen: a shared default is safe
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        mse_weight: float = 1.0,
        lip_weight: float = 1.0,
        velocity_weight: float = 1.0,
        targets: str = "registered",
        smooth_weight: float = 1e-4,
        init_weights: str | None = None,
    ) -> None:
        super().__init__()
        if targets not in TARGETS:
            raise ScanTalkError(f"targets must be one of {', '.join(TARGETS)}, got {targets!r}")
        # load_from_checkpoint hands back the stored plain dict; LightningCLI a ScanTalkConfig.
        if isinstance(config, dict):
            config = ScanTalkConfig.from_dict(config)
        self.save_hyperparameters(ignore=["config"])
        self.hparams["config"] = config.to_dict()  # plain containers: loadable with weights_only=True
        self.model = ScanTalk(config)
        if init_weights is not None:
            self._start_from(init_weights)

    def _start_from(self, path: str) -> None:
        """Load `init_weights` (see the class), growing the encoder's input layer with zeros."""
        from scantalk.checkpoint import load_model_with_checkpoint

        source = load_model_with_checkpoint(path, end_to_end=True).model.state_dict()
        own = self.model.state_dict()
        for key, value in source.items():
            target = own.get(key)
            if target is not None and value.shape == target.shape:
                own[key] = value
            elif (key == "encoder.input_linear.weight" and target is not None and value.shape[0] == target.shape[0]
                  and value.shape[1] < target.shape[1]):
                grown = torch.zeros_like(target)
                grown[:, : value.shape[1]] = value
                own[key] = grown
            else:
                shape = None if target is None else tuple(target.shape)
                raise CheckpointError(f"init_weights {path}: its {key} {tuple(value.shape)} does not fit this model "
                                      f"({shape}); start from a checkpoint of the same width, depth and audio encoder")
        self.model.load_state_dict(own)

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        """Predicted frames for one sample of `TalkingHeadDataModule`.

        Args:
            batch: one sequence: "audio" (N,) 16 kHz, "template" (V, 3) metres, "ops",
                "frames" (T, V, 3) (for T), optional "emotion" and "intensity", and for a window
                of a longer clip "window" (start, stop, the clip's frame count, its whole audio).

        Returns:
            (T, V, 3) frames in metres.
        """
        emotion, intensity = batch.get("emotion"), batch.get("intensity")
        window = batch.get("window")
        regions = self._regions(batch)
        if window is None:
            return self.model(batch["audio"], batch["template"], batch["ops"], batch["frames"].shape[0],
                              emotion=emotion, intensity=intensity, regions=regions)
        # A window of a longer clip: the motion features hear the whole clip (as at inference,
        # where the BiLSTM reads all of it); only the window's frames are decoded.
        start, stop, total, audio = window
        identity = self.model.encode_identity(batch["template"], batch["ops"], regions)
        motion = self.model.encode_motion(audio, int(total), emotion, intensity)[int(start):int(stop)]
        return batch["template"].unsqueeze(0) + self.model.decode(identity, motion, batch["ops"])

    def _regions(self, batch: dict[str, Any]) -> torch.Tensor | None:
        """The template's face regions when the model hears them: found once per template
        (`scantalk.inference.regions`, as at inference) and kept."""
        if not self.model.needs_regions:
            return None
        template, faces = batch["template"], batch["ops"].faces
        template_np = template.detach().cpu().numpy()
        faces_np = None if faces is None else faces.detach().cpu().numpy()
        key = (template_np.tobytes(), b"" if faces_np is None else faces_np.tobytes())
        cache = self.__dict__.setdefault("_region_cache", {})
        if key not in cache:
            from scantalk.inference.animator import shipped_face_finder
            from scantalk.inference.regions import face_region_weights

            try:
                cache[key] = torch.from_numpy(face_region_weights(template_np, faces_np, shipped_face_finder()))
            except FaceNotFoundError as error:
                raise FaceNotFoundError(f"template of {batch.get('subject', '?')} ({batch.get('dataset', '')}): {error}; "
                                        "a model with identity_input 'xyz+regions' needs a face it can find") from None
        return cache[key].to(template.device)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Move tensors and the batch's `SurfaceOperators` (which Lightning cannot move) to `device`."""
        if isinstance(batch, dict) and isinstance(batch.get("ops"), SurfaceOperators):
            moved = {k: (v.to(device) if isinstance(v, (torch.Tensor, SurfaceOperators)) else v) for k, v in batch.items()}
            if moved.get("window") is not None:
                moved["window"] = (*moved["window"][:3], moved["window"][3].to(device))
            return moved
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def _losses(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        pred = self(batch)
        if self.hparams.get("targets", "registered") == "unregistered":
            if batch.get("target_points") is None:
                raise ScanTalkError("targets='unregistered' trains on scans: the samples carry no target_points; set "
                                    "data.init_args.unregistered_points (see experiments/configs/scantalk_unregistered.yaml)")
            terms = unregistered_loss(
                pred, batch["target_points"], batch["template"], batch["ops"], batch["lip_vertices"],
                self.hparams.mse_weight, self.hparams.lip_weight, self.hparams.smooth_weight,
                self.hparams.velocity_weight, batch.get("target_normals"), batch["ops"].faces,
            )
            return pred, terms
        terms = reconstruction_loss(
            pred, batch["frames"], batch["lip_vertices"],
            self.hparams.mse_weight, self.hparams.lip_weight, self.hparams.velocity_weight,
        )
        return pred, terms

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """The weighted loss of one sequence; logs each term under `train/`."""
        _, terms = self._losses(batch)
        self.log_dict({f"train/{k}": v for k, v in terms.items()}, batch_size=1, prog_bar=False)
        self.log("train_loss", terms["loss"], batch_size=1, prog_bar=True)
        return terms["loss"]

    def _evaluate(self, batch: dict[str, Any], prefix: str) -> None:
        pred, terms = self._losses(batch)
        gt = batch["frames"]
        metrics = {f"{prefix}/{k}": v for k, v in terms.items()}
        metrics[f"{prefix}/mve"] = torch.as_tensor(mean_vertex_error(pred, gt))
        if batch["lip_vertices"] is not None:
            metrics[f"{prefix}/lve"] = torch.as_tensor(lip_vertex_error(pred, gt, batch["lip_vertices"]))
        if batch["upper_vertices"] is not None:
            fdd = upper_face_dynamics_deviation(pred, gt, batch["template"], batch["upper_vertices"])
            metrics[f"{prefix}/fdd"] = torch.as_tensor(fdd)
        self.log_dict({k: v.float() for k, v in metrics.items()}, batch_size=1, sync_dist=True)
        self.log(f"{prefix}_loss", terms["loss"], batch_size=1, prog_bar=True, sync_dist=True)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Log the loss terms, MVE, LVE and FDD (metres) under `val/`, and `val_loss`."""
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """As `validation_step`, under `test/`."""
        self._evaluate(batch, "test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """{"subject", "name", "frames" (T, V, 3) metres on the CPU} (what `PredictionWriter` saves)."""
        return {"subject": batch["subject"], "name": batch["name"], "frames": self(batch).float().cpu()}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam with the module's `lr` and `weight_decay`."""
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Tag the file as a ScanTalk checkpoint and store the model's `ScanTalkConfig` as a dict."""
        # Lets `Animator.from_checkpoint` tell our checkpoints from other models' at a glance.
        checkpoint["scantalk_kind"] = CHECKPOINT_KIND
        checkpoint[CONFIG_KEY] = self.model.config.to_dict()
