"""`scantalk fit|validate|test|predict`: LightningCLI in subclass mode over any LightningModule.

Each config file names its model and data by `class_path` (`scantalk.training.ScanTalkModule` +
`scantalk.training.datamodule.TalkingHeadDataModule`, or `emotion.blending.training.EmoBlenderModule` +
`emotion.blending.data.HeadsBlenderDataModule`), so every model trains through this one command.
`scantalk` never imports `emotion`: LightningCLI imports a `class_path` when a config names it.

Every run first loads `base.yaml` beside this module (seed, trainer defaults, checkpoint
callbacks; LightningCLI's `default_config_files`), then each `--config FILE`, then flags; the
later value wins. `--print_config` shows the merged result. Multi-GPU and multi-node training are
Lightning's DDP: `--trainer.devices N --trainer.num_nodes M`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.cli import LightningCLI

from scantalk.atomic import atomic_save_npy

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")

BASE_CONFIG = Path(__file__).resolve().parent / "base.yaml"
"""The defaults every run extends (package data: an installed wheel carries it too)."""


class PredictionWriter(BasePredictionWriter):
    """Writes each predicted sequence as `<output_dir>/<subject>_<name>.npy` (T, V, 3), atomically.

    That is the layout `scantalk evaluate PRED_DIR --dataset DIR` reads.

    Args:
        output_dir: folder for the `.npy` files (created when missing); default
            `<trainer.default_root_dir>/predictions`, beside the run's logs (never the current
            folder, which may be a source checkout).
    """

    def __init__(self, output_dir: str | None = None) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = None if output_dir is None else Path(output_dir)

    def folder(self, trainer: Any) -> Path:
        """Where the predictions go for `trainer`."""
        return self.output_dir if self.output_dir is not None else Path(trainer.default_root_dir) / "predictions"

    def write_on_batch_end(self, trainer: Any, pl_module: Any, prediction: Any, batch_indices: Any,
                           batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Save one prediction: `prediction["frames"]` (T, V, 3) metres, named by subject and sequence."""
        path = self.folder(trainer) / f"{prediction['subject']}_{prediction['name']}.npy"
        atomic_save_npy(path, prediction["frames"].numpy())

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        """Say where the predictions went."""
        print(f"predictions written to {self.folder(trainer).resolve()}")


class ScanTalkCLI(LightningCLI):
    """LightningCLI with the values that must agree tied together: the data's k_eig is the model's.

    The link applies to configs whose model has `config.k_eig` (ScanTalkModule); jsonargparse
    skips it for models without that key (the EmoBlender checks its own k_eig at `setup`).
    """

    def add_arguments_to_parser(self, parser: Any) -> None:
        """Add the `link_arguments` ties to the parser of each sub-command."""
        parser.link_arguments("model.init_args.config.k_eig", "data.init_args.k_eig")


def run_lightning_cli(argv: list[str], base_config: str | Path | None = BASE_CONFIG) -> LightningCLI:
    """Run LightningCLI with `argv`, e.g. `["fit", "--config", "experiments/configs/synthetic.yaml"]`.

    Args:
        argv: a sub-command (fit, validate, test, predict) and its LightningCLI arguments.
        base_config: YAML loaded before any `--config` (the shared trainer block); None, or a
            path that does not exist, starts from Lightning's own defaults.

    Returns:
        The finished `LightningCLI` (its `trainer`, `model` and `datamodule`).
    """
    defaults = [str(base_config)] if base_config is not None and Path(base_config).is_file() else []
    return ScanTalkCLI(
        None,  # any LightningModule, chosen by `model.class_path` in the config
        None,  # any LightningDataModule, chosen by `data.class_path`
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=argv,
        parser_kwargs={command: {"default_config_files": defaults} for command in LIGHTNING_SUBCOMMANDS},
        save_config_kwargs={"overwrite": True},
    )
