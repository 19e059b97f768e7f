"""Reading and writing checkpoints safely (no arbitrary unpickling), for every model in the project.

Talking-head models come in two kinds: the end-to-end `ScanTalk` (Lightning checkpoints written
by `ScanTalkModule`, or slim files from `save_model`) and the factored `ArticulatedTalker` (slim
files; the shipped default in `scantalk/assets/`). Every file carries `scantalk_kind` and the
model's typed configuration, so the file alone rebuilds the model (`load_model`). Other models
(the EmoBlender) read their files through `load_checkpoint_dict` with their own kind.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch

from scantalk.atomic import atomic_path
from scantalk.errors import CheckpointError, ScanTalkError
from scantalk.model import ScanTalk, ScanTalkConfig
from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker

CHECKPOINT_KIND = "scantalk"
CONFIG_KEY = "scantalk_model_config"
ARTICULATED_KIND = "scantalk-articulated"
ARTICULATED_CONFIG_KEY = "articulated_model_config"
DEFAULT_CHECKPOINT = Path(__file__).parent / "assets" / "default.ckpt"
# torch.load reports a file that is no checkpoint at all (audio, text) with whatever its parser
# tripped over, IndexError and AttributeError included.
_READ_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError,
                IndexError, AttributeError, TypeError, UnicodeDecodeError)


def _reason(error: BaseException) -> str:
    """Why torch could not read a file, without torch's advice to load it with weights_only=False
    (that would run arbitrary code from an untrusted file)."""
    if isinstance(error, pickle.UnpicklingError) or "weights_only" in str(error):
        return "it holds Python objects other than tensors and plain containers, which are refused for safety"
    first_line = (str(error).splitlines() or [""])[0][:200]
    return f"{type(error).__name__}: {first_line}"


def load_checkpoint_dict(path: str | Path, kind: str | tuple[str, ...] = CHECKPOINT_KIND, config_key: str = CONFIG_KEY,
                         what: str = "checkpoint") -> dict[str, Any]:
    """The checkpoint at `path` as a dict, loaded with `weights_only=True` and checked.

    Args:
        path: the file.
        kind: the `scantalk_kind` entry it must carry ("scantalk", "emoblender"), or a tuple of
            accepted kinds.
        config_key: the entry holding the model configuration.
        what: how error messages name the file ("checkpoint", "blender checkpoint").

    Returns:
        The dict, with `config_key` and `state_dict` present.

    Raises:
        CheckpointError: missing, unreadable, unsafe, another model's, or incomplete.
    """
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    path = Path(path).expanduser()
    if path.is_dir():
        raise CheckpointError(f"{what} {path} is a folder, not a checkpoint file: pass the .ckpt file inside it "
                              "(e.g. one written by `scantalk fit` under its checkpoints/ folder)")
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist: pass the path of a .ckpt written by "
                              "`scantalk fit`" + (", or omit it to use the shipped default model" if CHECKPOINT_KIND in kinds else ""))
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except _READ_ERRORS as error:
        raise CheckpointError(f"{what} {path} cannot be read ({_reason(error)}); it is corrupted, truncated, "
                              "or not a PyTorch checkpoint of this project — re-download or re-train it") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("scantalk_kind") not in kinds:
        found = checkpoint.get("scantalk_kind") if isinstance(checkpoint, dict) else None
        wanted = " or ".join(repr(k) for k in kinds)
        raise CheckpointError(f"{what} {path} is not a {wanted} checkpoint (its kind: {found!r}); "
                              "it belongs to another model — pass a checkpoint of this project's talking-head models")
    if checkpoint.get("scantalk_kind") == ARTICULATED_KIND:
        config_key = ARTICULATED_CONFIG_KEY
    if config_key not in checkpoint or "state_dict" not in checkpoint:
        raise CheckpointError(f"{what} {path} lacks the model configuration or weights; re-save it")
    return checkpoint


def config_from_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> ScanTalkConfig:
    """The `ScanTalkConfig` stored in a loaded checkpoint; CheckpointError naming `path` if invalid."""
    stored = checkpoint[CONFIG_KEY]
    if not isinstance(stored, dict):
        raise CheckpointError(f"checkpoint {path}: its model configuration is not a dict; re-save it")
    try:
        return ScanTalkConfig.from_dict(stored)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint {path} has a model configuration this version cannot build ({error}); "
                              "it was written by another version or edited — re-train or re-export it") from None


@dataclass(frozen=True)
class LoadedModel:
    """A model rebuilt from its checkpoint, and the checkpoint's dict (recipe, epoch, hyperparameters);
    unpacks as `model, checkpoint = ...`."""

    model: ScanTalk | ArticulatedTalker
    checkpoint: dict[str, Any]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.model, self.checkpoint))


def load_model(path: str | Path | None = None) -> ScanTalk | ArticulatedTalker:
    """Rebuild whichever talking-head model a checkpoint holds (eval mode): a `ScanTalk` or an
    `ArticulatedTalker`; `load_model_with_checkpoint` also gives the checkpoint's dict.

    Args:
        path: a checkpoint from `scantalk fit`, `save_model` or a recipe; None for the shipped model.
    """
    return load_model_with_checkpoint(path).model


def load_model_with_checkpoint(path: str | Path | None = None, end_to_end: bool = False) -> LoadedModel:
    """Rebuild the model a checkpoint holds (eval mode), with the checkpoint's dict.

    Args:
        path: a checkpoint from `scantalk fit`, `save_model` or a recipe; None for the shipped model.
        end_to_end: require an end-to-end `ScanTalk` (training and evaluating it).

    Returns:
        LoadedModel(model, checkpoint).

    Raises:
        CheckpointError: a file that is not a usable checkpoint, or (with `end_to_end`) one that
            holds another kind of model.
    """
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    checkpoint = load_checkpoint_dict(path, kind=(CHECKPOINT_KIND, ARTICULATED_KIND))
    if checkpoint["scantalk_kind"] == ARTICULATED_KIND:
        stored = checkpoint[ARTICULATED_CONFIG_KEY]
        try:
            model = ArticulatedTalker(ArticulatedConfig.from_dict(stored, source=f"checkpoint {path}"))
        except (TypeError, ValueError, AttributeError, ScanTalkError) as error:
            raise CheckpointError(f"checkpoint {path} has a model configuration this version cannot build "
                                  f"({error}); re-train or re-export it") from None
    else:
        config = config_from_checkpoint(checkpoint, path)
        try:
            model = ScanTalk(config)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path} has an invalid model configuration ({error}); re-train it") from None
    state = checkpoint["state_dict"]
    # Lightning prefixes the module's attribute name; slim files store the model's own keys.
    if any(key.startswith("model.") for key in state):
        state = {key[len("model."):]: value for key, value in state.items() if key.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint {path} does not match its own model configuration: {error}") from None
    check_finite_weights(model.state_dict(), path)
    model.eval()
    if end_to_end and not isinstance(model, ScanTalk):
        raise CheckpointError(f"checkpoint {path} holds a {type(model).__name__}, not an end-to-end ScanTalk; "
                              "use scantalk.checkpoint.load_model (or Animator) for it")
    return LoadedModel(model, checkpoint)


def check_finite_weights(state: dict[str, Any], path: str | Path, what: str = "checkpoint") -> None:
    """CheckpointError naming `path` if any floating-point tensor of `state` holds NaN or inf.

    Such a model would animate every face into NaN; it comes from a diverged training run or a
    corrupted file, never from a usable model.
    """
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(f"{what} {path} has weights that are not finite (NaN or inf, first in {key!r}); "
                                  "it comes from a diverged training run or is corrupted — use another checkpoint")


def save_model(path: str | Path, model: ScanTalk | ArticulatedTalker, **extra: Any) -> None:
    """Write a slim checkpoint (config + weights + `extra` metadata such as the recipe), atomically.

    Args:
        path: destination `.ckpt`.
        model: the model; its `ScanTalkConfig` is stored as a plain dict.
        **extra: further plain-container entries.
    """
    articulated = isinstance(model, ArticulatedTalker)
    checkpoint = {
        "scantalk_kind": ARTICULATED_KIND if articulated else CHECKPOINT_KIND,
        (ARTICULATED_CONFIG_KEY if articulated else CONFIG_KEY): model.config.to_dict(),
        "state_dict": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        **extra,
    }
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
