"""`scantalk fit|validate|test|predict`: LightningCLI over `ScanTalkModule` + `TalkingHeadDataModule`.

Multi-GPU and multi-node training are Lightning's DDP: `--trainer.devices N --trainer.num_nodes M`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.cli import LightningCLI

from scantalk.atomic import atomic_save_npy
from scantalk.data.datamodule import TalkingHeadDataModule
from scantalk.training.module import ScanTalkModule


class PredictionWriter(BasePredictionWriter):
    """Writes each predicted sequence as `<output_dir>/<subject>_<name>.npy` (T, V, 3), atomically.

    That is the layout `scantalk evaluate PRED_DIR --dataset DIR` reads.
    """

    def __init__(self, output_dir: str = "predictions") -> None:
        super().__init__(write_interval="batch")
        self.output_dir = Path(output_dir)

    def write_on_batch_end(self, trainer: Any, pl_module: Any, prediction: Any, batch_indices: Any,
                           batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        path = self.output_dir / f"{prediction['subject']}_{prediction['name']}.npy"
        atomic_save_npy(path, prediction["frames"].numpy())

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        print(f"predictions written to {self.output_dir.resolve()}")


class ScanTalkCLI(LightningCLI):
    """LightningCLI with the values that must agree tied together: the data's k_eig is the model's."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.link_arguments("model.config.k_eig", "data.k_eig")


def run_lightning_cli(argv: list[str]) -> LightningCLI:
    """Run LightningCLI with `argv` such as ["fit", "--config", "experiments/configs/synthetic.yaml"]."""
    return ScanTalkCLI(
        ScanTalkModule,
        TalkingHeadDataModule,
        args=argv,
        save_config_kwargs={"overwrite": True},
    )
