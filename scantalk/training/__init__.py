"""Training: the LightningModule and the LightningCLI entry point."""

from scantalk.training.module import ScanTalkModule, reconstruction_loss

__all__ = ["ScanTalkModule", "reconstruction_loss"]
