"""Checkpoints: the shipped model loads, bad files give one clear CheckpointError."""

from __future__ import annotations

import pytest
import torch

from scantalk.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint_dict, load_model, load_model_with_checkpoint, save_model
from scantalk.errors import CheckpointError
from scantalk.model import ScanTalk


def _slim(tmp_path, **config_changes):
    path = tmp_path / "model.ckpt"
    save_model(path, ScanTalk(width=8, n_blocks=1, k_eig=16))
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["scantalk_model_config"].update(config_changes)
    torch.save(checkpoint, path)
    return path


def test_the_shipped_model_loads_with_its_config():
    model, checkpoint = load_model_with_checkpoint()
    stored = checkpoint.get("scantalk_model_config") or checkpoint.get("articulated_model_config")
    assert model.k_eig == stored["k_eig"]
    assert not model.training


def test_an_old_checkpoint_with_a_chunk_budget_still_loads(tmp_path):
    model = load_model_with_checkpoint(_slim(tmp_path, max_chunk_floats=400_000_000), end_to_end=True).model
    assert model.config.width == 8


def test_an_unknown_config_key_is_a_checkpoint_error_naming_it(tmp_path):
    path = _slim(tmp_path, n_layers=3)
    with pytest.raises(CheckpointError, match=r"model.ckpt.*n_layers"):
        load_model_with_checkpoint(path, end_to_end=True)


class _RunsCode:
    """Unpickling this would call print: what a malicious checkpoint does with os.system."""

    def __reduce__(self):
        return (print, ("unpickled",))


def test_an_unsafe_checkpoint_is_refused_without_torchs_weights_only_advice(tmp_path, capsys):
    path = tmp_path / "unsafe.ckpt"
    torch.save({"scantalk_kind": "scantalk", "payload": _RunsCode()}, path)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint_dict(path)
    message = str(caught.value)
    assert "unsafe.ckpt" in message and "refused" in message
    assert "weights_only" not in message and "trust" not in message
    assert "unpickled" not in capsys.readouterr().out


def test_another_kind_of_checkpoint_names_its_kind(tmp_path):
    path = tmp_path / "other.ckpt"
    torch.save({"scantalk_kind": "emoblender", "state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="'emoblender'"):
        load_model_with_checkpoint(path, end_to_end=True)
    assert DEFAULT_CHECKPOINT.is_file()


def test_a_checkpoint_with_nan_weights_is_refused_naming_it(tmp_path):
    path = _slim(tmp_path)
    checkpoint = torch.load(path, weights_only=True)
    first = next(key for key, value in checkpoint["state_dict"].items() if value.is_floating_point())
    checkpoint["state_dict"][first][...] = float("nan")
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"model.ckpt has weights that are not finite"):
        load_model(path)


def test_a_folder_or_an_audio_file_as_checkpoint_is_a_clear_error(tmp_path):
    import numpy as np
    import soundfile as sf

    with pytest.raises(CheckpointError, match="is a folder"):
        load_model(tmp_path)
    sf.write(tmp_path / "speech.wav", np.zeros(1600, np.float32), 16000)
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path / "speech.wav")
    assert "speech.wav cannot be read" in str(caught.value) and "weights_only" not in str(caught.value)
