"""Reading and writing ScanTalk checkpoints safely (no arbitrary unpickling).

Two kinds are accepted: Lightning checkpoints written by `ScanTalkModule` and the slim files
written by `save_model` (what ships in `scantalk/assets/`). Both carry `scantalk_kind` and the
model configuration, so the file alone rebuilds the model.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from scantalk.atomic import atomic_path
from scantalk.errors import CheckpointError
from scantalk.model import ScanTalk

CHECKPOINT_KIND = "scantalk"
DEFAULT_CHECKPOINT = Path(__file__).parent / "assets" / "default.ckpt"


def load_checkpoint_dict(path: str | Path) -> dict[str, Any]:
    """The checkpoint at `path` as a dict, loaded with `weights_only=True`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: pass the path of a .ckpt written by "
                              "`scantalk fit`, or omit it to use the shipped default model")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
            "it is corrupted, truncated, or not a PyTorch checkpoint — re-download or re-train it"
        ) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("scantalk_kind") != CHECKPOINT_KIND:
        raise CheckpointError(
            f"checkpoint {path} was not written by ScanTalk (no 'scantalk_kind' entry): it belongs to another "
            "model; use a checkpoint from `scantalk fit` or the shipped default"
        )
    if "scantalk_model_config" not in checkpoint or "state_dict" not in checkpoint:
        raise CheckpointError(f"checkpoint {path} lacks the model configuration or weights; re-save it")
    return checkpoint


def model_from_checkpoint(path: str | Path | None = None) -> tuple[ScanTalk, dict[str, Any]]:
    """Rebuild a `ScanTalk` from a checkpoint (default: the shipped model) → (model, checkpoint)."""
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    checkpoint = load_checkpoint_dict(path)
    model = ScanTalk(**checkpoint["scantalk_model_config"])
    state = checkpoint["state_dict"]
    # Lightning prefixes the module's attribute name; slim files store the model's own keys.
    if any(key.startswith("model.") for key in state):
        state = {key[len("model."):]: value for key, value in state.items() if key.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint {path} does not match its own model configuration: {error}") from None
    model.eval()
    return model, checkpoint


def save_model(path: str | Path, model: ScanTalk, **extra: Any) -> None:
    """A slim checkpoint (config + weights + `extra` metadata such as the recipe), atomically."""
    checkpoint = {
        "scantalk_kind": CHECKPOINT_KIND,
        "scantalk_model_config": dict(model.config),
        "state_dict": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        **extra,
    }
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
