"""Audio encoders by name: `build_audio_encoder("mel")`, or from the config dict an encoder
gives (`AudioEncoder.config()`), as checkpoints store it. Encoders that live in upper layers
register their name with `register_audio_encoder`."""

from __future__ import annotations

import inspect
import json
from typing import Any

from scantalk.audio.encoders import AudioEncoder
from scantalk.audio.mel import MelEncoder
from scantalk.audio.pretrained import HubertEncoder, Wav2Vec2Encoder
from scantalk.errors import ScanTalkError

_REGISTERED: dict[str, type[AudioEncoder]] = {}


def register_audio_encoder(name: str, encoder: type[AudioEncoder]) -> None:
    """Make `build_audio_encoder(name)` build `encoder`: for encoders that live in upper layers
    (the phonetic front end's, `scantalk.model.phonetic_encoder`, registers itself so)."""
    _REGISTERED[name.lower()] = encoder


def build_audio_encoder(config: dict[str, Any] | str) -> AudioEncoder:
    """Make an encoder from a name or a config dict.

    Args:
        config: "mel", "hubert", "wav2vec2" or a registered name (defaults), a dict `{"name": ..., **kwargs}`
            as returned by `AudioEncoder.config()`, or that dict as a JSON string.

    Returns:
        The encoder (pretrained ones load their weights from disk; see `HubertEncoder`).
    """
    encoders: dict[str, type[AudioEncoder]] = {
        "mel": MelEncoder,
        "hubert": HubertEncoder,
        "wav2vec2": Wav2Vec2Encoder,
        **_REGISTERED,
    }
    if isinstance(config, str):
        text = config.strip()
        if text.startswith("{"):
            try:
                config = json.loads(text)
            except json.JSONDecodeError as error:
                raise ScanTalkError(f"Audio encoder config {text!r} is not valid JSON ({error}).") from error
        else:
            config = {"name": text}
    if not isinstance(config, dict) or "name" not in config:
        raise ScanTalkError(
            f"Audio encoder config {config!r} must be a name ({', '.join(encoders)}) or a dict with a 'name' key."
        )
    kwargs = dict(config)
    name = str(kwargs.pop("name")).lower()
    if name not in encoders:
        raise ScanTalkError(f"Unknown audio encoder {name!r}; choose one of: {', '.join(encoders)}.")
    try:
        inspect.signature(encoders[name]).bind(**kwargs)
    except TypeError as error:
        raise ScanTalkError(f"Audio encoder {name!r} got unsupported settings {sorted(kwargs)}: {error}.") from error
    return encoders[name](**kwargs)
