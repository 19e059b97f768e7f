"""Training: `ScanTalkModule` (the LightningModule) and the `scantalk fit` entry point.

`scantalk.training.cli.run_lightning_cli` is LightningCLI in subclass mode: a config picks its
LightningModule and LightningDataModule by `class_path` (experiments/configs/).
"""

from scantalk.training.module import ScanTalkModule, reconstruction_loss

__all__ = ["ScanTalkModule", "reconstruction_loss"]
