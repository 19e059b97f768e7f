"""Pretrained speech encoders (HuBERT, wav2vec 2.0) from Hugging Face, used the ScanTalk way.

The 50 Hz output of the frozen CNN feature extractor is linearly resampled to the mesh frame
count *before* the feature projection and the transformer, so the transformer attends over
exactly one token per mesh frame (ScanTalk, following FaceFormer).

Offline by default: weights are read from a local folder or the local Hugging Face cache and
nothing touches the network unless `allow_download=True` (and HF_HUB_OFFLINE is not set).
"""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scantalk.audio.encoders import AudioEncoder, resample_frames
from scantalk.errors import ModelNotFoundError, ScanTalkError

_TRUTHY = {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    """True when the environment forbids Hugging Face downloads (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(var, "").strip().lower() in _TRUTHY for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _looks_like_path(source: str) -> bool:
    """A hub id is `name` or `owner/name`; anything else the user typed is a folder path."""
    return source.startswith((".", "/", "~")) or "\\" in source or source.count("/") > 1 or os.path.isabs(source)


def load_speech_model(
    model_class: type[nn.Module],
    source: str | Path,
    model_types: tuple[str, ...],
    allow_download: bool = False,
    cache_dir: str | Path | None = None,
) -> nn.Module:
    """Load a transformers speech model from a local folder or a hub id, offline unless allowed.

    Args:
        model_class: e.g. `transformers.HubertModel`.
        source: a folder written by `save_pretrained` or a hub id ("facebook/hubert-base-ls960").
        model_types: config `model_type`s this class accepts (e.g. ("hubert",)).
        allow_download: fetch a hub id that is not cached (ignored when HF_HUB_OFFLINE=1).
        cache_dir: Hugging Face cache folder (default: the standard HF cache).

    Raises:
        ModelNotFoundError: the folder is missing or not a model of the right kind, or the hub
            id is not on this machine (the message says how to get it).
    """
    from transformers import AutoConfig

    text = str(source)
    folder = Path(text).expanduser()
    kind = model_class.__name__
    downloading = False
    if folder.exists():
        if not (folder.is_dir() and (folder / "config.json").is_file()):
            raise ModelNotFoundError(
                f"{text!r} is not a Hugging Face model folder (no config.json inside); pass a folder written by "
                f"`{kind}.save_pretrained(...)` or `hf download <id> --local-dir <folder>`."
            )
        location = str(folder)
    elif _looks_like_path(text):
        raise ModelNotFoundError(f"Model folder {text!r} does not exist; check the path.")
    elif allow_download and not hub_offline():
        location, downloading = text, True
    else:
        # Resolve the hub id to its cached snapshot folder ourselves: huggingface_hub's download
        # functions contact the Hub (telemetry) even with local_files_only=True.
        snapshot = _cached_snapshot(text, cache_dir)
        if snapshot is None:
            raise ModelNotFoundError(_how_to_get(text))
        location = str(snapshot)
    try:
        config = AutoConfig.from_pretrained(location, local_files_only=not downloading, cache_dir=cache_dir)
    except (OSError, ValueError) as error:
        raise ModelNotFoundError(f"Could not read the model config of {text!r}: {error}") from error
    if config.model_type not in model_types:
        raise ModelNotFoundError(
            f"{text!r} holds a {config.model_type!r} model, but {kind} needs one of {list(model_types)}; "
            "pick the encoder that matches the model (e.g. 'hubert' or 'wav2vec2')."
        )
    try:
        return model_class.from_pretrained(location, local_files_only=not downloading, cache_dir=cache_dir)
    except (OSError, ValueError) as error:
        # A cached snapshot without weights (e.g. only config.json was fetched) needs a full download.
        hint = " " + _how_to_get(text) if location not in (text, str(folder)) else ""
        raise ModelNotFoundError(f"Could not load the weights of {text!r} as {kind}: {error}.{hint}") from error


def _cached_snapshot(repo_id: str, cache_dir: str | Path | None) -> Path | None:
    """The local Hugging Face cache folder of hub model `repo_id`, or None (file system only)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache_dir)
    except ValueError:  # not a valid hub id (huggingface_hub's HFValidationError)
        return None
    return Path(found).parent if isinstance(found, str) else None


def _how_to_get(repo_id: str) -> str:
    """What to do when hub model `repo_id` is not on this machine."""
    return (
        f"Model {repo_id!r} is not on this machine and downloads are off. Either run "
        f"`hf download {repo_id}` (older huggingface_hub: `huggingface-cli download {repo_id}`) on a machine "
        "with internet (then copy its Hugging Face cache, ~/.cache/huggingface/hub, here), or pass "
        "allow_download=True" + (" and unset HF_HUB_OFFLINE" if hub_offline() else "")
        + ", or pass the path of a local folder holding the model."
    )


class PretrainedSpeechEncoder(AudioEncoder):
    """Shared logic of `HubertEncoder` and `Wav2Vec2Encoder` (see the module docstring).

    Input (N,) or (B, N) audio at 16 kHz; output (T, hidden_size) or (B, T, hidden_size).
    """

    name: str
    model_types: tuple[str, ...]

    def __init__(
        self,
        model: str,
        freeze_feature_extractor: bool = True,
        allow_download: bool = False,
        spec_augment: bool = False,
        cache_dir: str | None = None,
    ) -> None:
        """Args: model, a hub id or a local folder; freeze_feature_extractor keeps the CNN's
        weights fixed (ScanTalk); allow_download lets a missing hub id be downloaded;
        spec_augment masks random time spans of the transformer input while training (uses the
        model's mask_time_prob); cache_dir overrides the Hugging Face cache folder."""
        super().__init__()
        self._settings = {
            "model": str(model),
            "freeze_feature_extractor": freeze_feature_extractor,
            "allow_download": allow_download,
            "spec_augment": spec_augment,
            "cache_dir": None if cache_dir is None else str(cache_dir),
        }
        self.model = load_speech_model(self._model_class(), model, self.model_types, allow_download, cache_dir)
        if getattr(self.model, "adapter", None) is not None:
            raise ScanTalkError(
                f"Model {str(model)!r} has an output adapter that changes the frame rate; "
                "use a model without `add_adapter`."
            )
        if freeze_feature_extractor:
            self.model.feature_extractor.requires_grad_(False)
        self.output_dim = int(self.model.config.hidden_size)
        self.receptive_field = _receptive_field(self.model.config.conv_kernel, self.model.config.conv_stride)

    @staticmethod
    @abstractmethod
    def _model_class() -> type[nn.Module]:
        """The transformers model class this encoder loads (e.g. `HubertModel`)."""

    def _mask_time_spans(self, hidden: torch.Tensor) -> torch.Tensor:
        """SpecAugment in time, as the model was fine-tuned with it: about `mask_time_prob` of the
        frames, in spans of `mask_time_length`, replaced by the model's learned mask embedding.

        Args:
            hidden: (B, T, hidden_size) projected features, T > mask_time_length.

        Returns:
            (B, T, hidden_size) with the masked frames replaced.
        """
        config = self.model.config
        if config.mask_time_prob <= 0 or getattr(self.model, "masked_spec_embed", None) is None:
            return hidden
        batch, frames, _ = hidden.shape
        span = int(config.mask_time_length)
        spans = max(int(config.mask_time_min_masks), int(config.mask_time_prob * frames / span + torch.rand(()).item()))
        starts = torch.randint(0, frames - span + 1, (batch, spans), device=hidden.device)
        positions = (starts[..., None] + torch.arange(span, device=hidden.device)).reshape(batch, -1)
        mask = torch.zeros(batch, frames, dtype=torch.bool, device=hidden.device).scatter_(1, positions, True)
        return torch.where(mask[..., None], self.model.masked_spec_embed.to(hidden.dtype), hidden)

    def encode(self, audio: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B, N) normalised audio → (B, num_frames, hidden_size)."""
        if audio.shape[-1] < self.receptive_field:
            # The CNN needs one receptive field (400 samples = 25 ms for base models) per output.
            audio = nn.functional.pad(audio, (0, self.receptive_field - audio.shape[-1]))
        # A frozen CNN runs without autograd: nothing upstream of it (the waveform) needs gradients.
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self._settings["freeze_feature_extractor"]):
            cnn_features = self.model.feature_extractor(audio)  # (B, C_cnn, T50)
        cnn_features = resample_frames(cnn_features, num_frames).transpose(1, 2)  # (B, T, C_cnn)
        projected = self.model.feature_projection(cnn_features)
        # wav2vec 2.0 also returns the normed CNN features; HuBERT returns the projection only.
        hidden = projected[0] if isinstance(projected, tuple) else projected
        # SpecAugment spans are mask_time_length frames long; clips shorter than one span stay unmasked.
        if self._settings["spec_augment"] and self.training and num_frames > self.model.config.mask_time_length:
            hidden = self._mask_time_spans(hidden)
        return self.model.encoder(hidden)[0]

    def config(self) -> dict[str, Any]:
        """{"name": ..., **constructor arguments}; rebuilding reloads the pretrained weights."""
        return {"name": self.name, **self._settings}


class HubertEncoder(PretrainedSpeechEncoder):
    """HuBERT (default `facebook/hubert-base-ls960`, output_dim 768) — ScanTalk's encoder."""

    name = "hubert"
    model_types = ("hubert",)

    def __init__(
        self,
        model: str = "facebook/hubert-base-ls960",
        freeze_feature_extractor: bool = True,
        allow_download: bool = False,
        spec_augment: bool = False,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(model, freeze_feature_extractor, allow_download, spec_augment, cache_dir)

    @staticmethod
    def _model_class() -> type[nn.Module]:
        from transformers import HubertModel

        return HubertModel


class Wav2Vec2Encoder(PretrainedSpeechEncoder):
    """wav2vec 2.0 (default `facebook/wav2vec2-base-960h`, output_dim 768) — FaceFormer's encoder."""

    name = "wav2vec2"
    model_types = ("wav2vec2",)

    def __init__(
        self,
        model: str = "facebook/wav2vec2-base-960h",
        freeze_feature_extractor: bool = True,
        allow_download: bool = False,
        spec_augment: bool = False,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(model, freeze_feature_extractor, allow_download, spec_augment, cache_dir)

    @staticmethod
    def _model_class() -> type[nn.Module]:
        from transformers import Wav2Vec2Model

        return Wav2Vec2Model


def _receptive_field(kernels: list[int] | tuple[int, ...], strides: list[int] | tuple[int, ...]) -> int:
    """Samples one output of a stack of strided 1-D convolutions sees (400 for HuBERT base)."""
    field, jump = 1, 1
    for kernel, stride in zip(kernels, strides):
        field += (kernel - 1) * jump
        jump *= stride
    return field
