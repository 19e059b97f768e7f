"""Audio encoders: shapes, gradients, normalisation, config round trips, offline model loading."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from scantalk.audio import (
    HubertEncoder,
    MelEncoder,
    Wav2Vec2Encoder,
    build_audio_encoder,
    mel_filterbank,
    resample_frames,
)
from scantalk.errors import AudioError, ModelNotFoundError, ScanTalkError

RATE = 16000


def speech_like(seconds: float, seed: int = 0, batch: int | None = None) -> torch.Tensor:
    """(N,) or (B, N) amplitude-modulated harmonics + noise: varies in time like speech."""
    generator = torch.Generator().manual_seed(seed)
    n = int(seconds * RATE)
    t = torch.arange(n) / RATE
    shape = (n,) if batch is None else (batch, n)
    pitch = 120 + 80 * torch.rand(shape[:-1] + (1,), generator=generator)
    envelope = 0.5 + 0.5 * torch.sin(2 * torch.pi * 3.0 * t + 6 * torch.rand(shape[:-1] + (1,), generator=generator))
    voiced = sum(torch.sin(2 * torch.pi * k * pitch * t) / k for k in range(1, 6))
    audio = 0.3 * envelope * voiced + 0.02 * torch.randn(shape, generator=generator)
    return audio.reshape(shape)


# ---------------------------------------------------------------- MelEncoder


@pytest.fixture(scope="module")
def mel() -> MelEncoder:
    torch.manual_seed(0)
    return MelEncoder(n_mels=40, hidden=32, output_dim=24).eval()


@pytest.mark.parametrize("num_frames", [1, 7, 30, 75])
def test_mel_shapes(mel: MelEncoder, num_frames: int) -> None:
    audio = speech_like(1.0)
    assert mel(audio, num_frames).shape == (num_frames, 24)
    assert mel(torch.stack([audio, audio.flip(0)]), num_frames).shape == (2, num_frames, 24)
    assert mel.output_dim == 24 and mel.sample_rate == RATE


def test_mel_gradients_reach_weights_and_audio() -> None:
    encoder = MelEncoder(n_mels=40, hidden=16, output_dim=8)
    audio = speech_like(0.5).requires_grad_(True)
    encoder(audio, 15).square().mean().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert audio.grad is not None and torch.isfinite(audio.grad).all() and audio.grad.abs().sum() > 0


def test_mel_different_audio_gives_different_features(mel: MelEncoder) -> None:
    first, second = mel(speech_like(1.0, seed=1), 30), mel(speech_like(1.0, seed=2), 30)
    assert (first - second).abs().mean() > 0.05 * first.abs().mean()


def test_mel_is_loudness_invariant_and_batch_consistent(mel: MelEncoder) -> None:
    clips = speech_like(1.0, seed=3, batch=3)
    batched = mel(clips, 30)
    for i in range(3):
        torch.testing.assert_close(batched[i], mel(clips[i], 30), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(mel(clips[0] * 20.0, 30), batched[0], atol=1e-4, rtol=1e-3)


def test_mel_handles_silent_padding_and_digital_silence(mel: MelEncoder) -> None:
    speech = speech_like(0.5)
    padded = torch.cat([speech, torch.zeros(RATE)])  # half a second of speech, one of silence
    features = mel(padded, 45)
    assert torch.isfinite(features).all()
    # The padded tail looks alike frame to frame; speech frames differ from it.
    tail, head = features[-10:], features[:10]
    assert (tail - tail.mean(0)).abs().mean() < (head - tail.mean(0)).abs().mean()
    assert torch.isfinite(mel(torch.zeros(RATE), 30)).all()
    assert mel(torch.zeros(100), 1).shape == (1, 24)


def test_mel_config_round_trip_rebuilds_same_network(mel: MelEncoder) -> None:
    config = mel.config()
    assert config["name"] == "mel" and config["n_mels"] == 40
    rebuilt = build_audio_encoder(config)
    rebuilt.load_state_dict(mel.state_dict())
    rebuilt.eval()
    audio = speech_like(0.5)
    torch.testing.assert_close(rebuilt(audio, 10), mel(audio, 10))
    assert build_audio_encoder(json.dumps(config)).config() == config
    assert isinstance(build_audio_encoder("mel"), MelEncoder)


def test_mel_filterbank_triangles() -> None:
    bank = mel_filterbank(n_fft=512, n_mels=40, sample_rate=RATE, f_min=20.0, f_max=7600.0)
    assert bank.shape == (257, 40)
    assert (bank >= 0).all() and bank.max() <= 1.0
    centres = bank.argmax(dim=0)
    assert (centres[1:] >= centres[:-1]).all()  # filters ordered from low to high frequency
    assert bank[:, -1].nonzero().max() <= 7600 / (RATE / 2) * 256 + 1  # nothing above f_max
    with pytest.raises(ScanTalkError, match="fewer mels"):
        mel_filterbank(n_fft=64, n_mels=80)


def test_resample_frames_keeps_constant_and_endpoints() -> None:
    constant = torch.full((1, 3, 50), 2.5)
    for antialias in (False, True):
        torch.testing.assert_close(resample_frames(constant, 30, antialias), torch.full((1, 3, 30), 2.5))
    ramp = torch.linspace(0, 1, 50).reshape(1, 1, 50)
    resampled = resample_frames(ramp, 30)
    assert resampled[0, 0, 0] == 0 and resampled[0, 0, -1] == 1  # corners aligned (ScanTalk)
    assert resample_frames(ramp, 50) is ramp


def test_bad_encoder_inputs_raise_project_errors(mel: MelEncoder) -> None:
    with pytest.raises(ScanTalkError, match="num_frames"):
        mel(speech_like(0.5), 0)
    with pytest.raises(AudioError, match=r"\(N,\) or \(B, N\)"):
        mel(torch.zeros(1, 2, 800), 3)
    with pytest.raises(AudioError, match="empty"):
        mel(torch.zeros(0), 3)
    with pytest.raises(ScanTalkError, match="Unknown audio encoder"):
        build_audio_encoder("whisper")
    with pytest.raises(ScanTalkError, match="unsupported settings"):
        build_audio_encoder({"name": "mel", "n_mel": 3})


# ------------------------------------------------- HubertEncoder / Wav2Vec2Encoder (tiny random models)

TINY = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=37,
    conv_dim=(32,) * 7,
    conv_kernel=(10, 3, 3, 3, 3, 2, 2),
    conv_stride=(5, 2, 2, 2, 2, 2, 2),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model

    folders = {}
    torch.manual_seed(0)
    for name, config_class, model_class in [
        ("hubert", HubertConfig, HubertModel),
        ("wav2vec2", Wav2Vec2Config, Wav2Vec2Model),
    ]:
        folder = tmp_path_factory.mktemp(f"tiny-{name}")
        model_class(config_class(**TINY)).save_pretrained(folder)
        folders[name] = folder
    return folders


ENCODERS = {"hubert": HubertEncoder, "wav2vec2": Wav2Vec2Encoder}


@pytest.mark.parametrize("name", ["hubert", "wav2vec2"])
def test_pretrained_shapes_for_many_frame_counts(tiny_models: dict[str, Path], name: str) -> None:
    encoder = ENCODERS[name](str(tiny_models[name])).eval()
    assert encoder.output_dim == 32
    audio = speech_like(0.5)  # 24 CNN frames at 50 Hz
    with torch.no_grad():
        for num_frames in (1, 2, 15, 24, 60):  # fewer and more frames than CNN outputs
            assert encoder(audio, num_frames).shape == (num_frames, 32)
        assert encoder(speech_like(0.5, batch=2), 15).shape == (2, 15, 32)
        # Shorter than the CNN's 400-sample receptive field: padded, still one vector per frame.
        assert encoder(speech_like(0.02), 1).shape == (1, 32)


@pytest.mark.parametrize("name", ["hubert", "wav2vec2"])
def test_pretrained_freezes_cnn_and_trains_transformer(tiny_models: dict[str, Path], name: str) -> None:
    encoder = ENCODERS[name](str(tiny_models[name]))
    cnn = list(encoder.model.feature_extractor.parameters())
    assert cnn and all(not p.requires_grad for p in cnn)
    # Train mode: dropout and LayerDrop may skip whole transformer layers, never the projection.
    encoder.train()(speech_like(0.5), 15).square().mean().backward()
    assert all(p.grad is None for p in cnn)
    for parameter in (encoder.model.feature_projection.projection.weight, encoder.model.encoder.layer_norm.weight):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0
    encoder.zero_grad()
    encoder.eval()(speech_like(0.5), 15).square().mean().backward()
    for layer in encoder.model.encoder.layers:
        assert layer.attention.q_proj.weight.grad is not None and layer.attention.q_proj.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in cnn)

    unfrozen = ENCODERS[name](str(tiny_models[name]), freeze_feature_extractor=False)
    assert all(p.requires_grad for p in unfrozen.model.feature_extractor.parameters())


@pytest.mark.parametrize("name", ["hubert", "wav2vec2"])
def test_pretrained_eval_is_deterministic_and_loudness_invariant(tiny_models: dict[str, Path], name: str) -> None:
    encoder = ENCODERS[name](str(tiny_models[name])).eval()
    audio = speech_like(0.5, seed=4)
    with torch.no_grad():
        first, second = encoder(audio, 15), encoder(audio, 15)
        louder = encoder(audio * 10.0 + 0.1, 15)  # louder and with a DC offset
        other = encoder(speech_like(0.5, seed=5), 15)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(louder, first, atol=1e-4, rtol=1e-3)
    assert not torch.allclose(other, first, atol=1e-3)


@pytest.mark.parametrize("name", ["hubert", "wav2vec2"])
def test_pretrained_config_round_trip_reloads_weights(tiny_models: dict[str, Path], name: str) -> None:
    encoder = ENCODERS[name](str(tiny_models[name]))
    config = encoder.config()
    assert config["name"] == name and config["model"] == str(tiny_models[name])
    rebuilt = build_audio_encoder(config)
    assert type(rebuilt) is type(encoder)
    for (key, ours), theirs in zip(encoder.state_dict().items(), rebuilt.state_dict().values()):
        torch.testing.assert_close(ours, theirs, msg=key)


@pytest.mark.parametrize("name", list(ENCODERS))
def test_spec_augment_masks_time_spans_in_training_only(tiny_models: dict[str, Path], name: str) -> None:
    encoder = ENCODERS[name](str(tiny_models[name]), spec_augment=True)
    torch.manual_seed(0)
    hidden = torch.randn(2, 60, encoder.output_dim)
    masked = encoder._mask_time_spans(hidden)
    replaced = (masked != hidden).any(-1)  # (B, T) frames replaced by the learned mask embedding
    span = encoder.model.config.mask_time_length
    assert replaced.any(dim=1).all() and not replaced.all()
    assert int(replaced.sum(dim=1).min()) >= span
    audio = speech_like(1.0, seed=1)
    encoder.eval()
    with torch.no_grad():
        torch.testing.assert_close(encoder(audio, 40), encoder(audio, 40), rtol=0, atol=0)  # eval: no masking


def test_wrong_model_kind_and_non_model_folder(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="'wav2vec2' model"):
        HubertEncoder(str(tiny_models["wav2vec2"]))
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        HubertEncoder(str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        Wav2Vec2Encoder(str(tmp_path / "no" / "such" / "folder"))
    weightless = tmp_path / "weightless"
    weightless.mkdir()
    (weightless / "config.json").write_text((tiny_models["hubert"] / "config.json").read_text())
    with pytest.raises(ModelNotFoundError, match="weightless"):
        HubertEncoder(str(weightless))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[object]:
    """Any socket connection or DNS lookup is recorded and fails; the HF cache is empty."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    return attempts


@pytest.mark.parametrize("offline_env", [True, False])
def test_missing_hub_model_says_how_to_get_it_without_network(
    no_network: list[object], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, offline_env: bool
) -> None:
    if offline_env:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with pytest.raises(ModelNotFoundError) as caught:
        HubertEncoder("facebook/hubert-base-ls960", cache_dir=str(tmp_path / "empty-cache"))
    message = str(caught.value)
    assert "hf download facebook/hubert-base-ls960" in message
    assert "allow_download=True" in message and "local folder" in message
    assert ("HF_HUB_OFFLINE" in message) == offline_env
    assert no_network == []


def test_local_folder_loads_with_network_disabled(tiny_models: dict[str, Path], no_network: list[object]) -> None:
    encoder = build_audio_encoder({"name": "hubert", "model": str(tiny_models["hubert"])})
    assert encoder(speech_like(0.5), 15).shape == (15, 32)
    assert no_network == []


def test_cached_hub_id_loads_offline(tiny_models: dict[str, Path], no_network: list[object], tmp_path: Path) -> None:
    # The layout huggingface_hub writes: models--<owner>--<name>/{refs/main, snapshots/<commit>/...}.
    cache = tmp_path / "hf-cache"
    repo = cache / "models--scantalk-tests--tiny-hubert"
    snapshot = repo / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123456789abcdef")
    for file in tiny_models["hubert"].iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    encoder = HubertEncoder("scantalk-tests/tiny-hubert", cache_dir=str(cache))
    assert encoder(speech_like(0.5), 15).shape == (15, 32)
    assert encoder.config()["model"] == "scantalk-tests/tiny-hubert"
    assert no_network == []


def test_cached_hub_id_without_weights_says_how_to_get_it(
    tiny_models: dict[str, Path], no_network: list[object], tmp_path: Path
) -> None:
    cache = tmp_path / "hf-cache"
    repo = cache / "models--scantalk-tests--config-only"
    snapshot = repo / "snapshots" / "fedcba9876543210"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("fedcba9876543210")
    (snapshot / "config.json").write_text((tiny_models["hubert"] / "config.json").read_text())
    with pytest.raises(ModelNotFoundError, match="hf download scantalk-tests/config-only"):
        HubertEncoder("scantalk-tests/config-only", cache_dir=str(cache))
    assert no_network == []
