"""Speech audio: loading (`load_audio`, `prepare_audio`) and per-frame audio encoders.

    audio = load_audio("speech.wav")                              # (N,) float32, 16 kHz mono
    frames = audio_frame_count(len(audio), SAMPLE_RATE, fps=30)   # mesh frames T
    encoder = build_audio_encoder("mel")                          # or "hubert", "wav2vec2", a dict
    features = encoder(torch.from_numpy(audio), frames)           # (T, encoder.output_dim)

`speech_to_noise_db` and `spectral_subtraction` (`scantalk.audio.noise`) tell very noisy speech
and lower its noise floor for the recogniser; `speech_spans` and `VoiceActivity`
(`scantalk.audio.vad`) say where someone speaks at all (not in music or noise).

Names are imported on first use, so `scantalk.audio.io` (and `SAMPLE_RATE`) can be read by the
dataset readers without pulling in torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SAMPLE_RATE": "scantalk.audio.io",
    "audio_frame_count": "scantalk.audio.io",
    "load_audio": "scantalk.audio.io",
    "prepare_audio": "scantalk.audio.io",
    "AudioEncoder": "scantalk.audio.encoders",
    "build_audio_encoder": "scantalk.audio.registry",
    "register_audio_encoder": "scantalk.audio.registry",
    "normalize_clips": "scantalk.audio.encoders",
    "resample_frames": "scantalk.audio.encoders",
    "MelEncoder": "scantalk.audio.mel",
    "mel_filterbank": "scantalk.audio.mel",
    "HubertEncoder": "scantalk.audio.pretrained",
    "Wav2Vec2Encoder": "scantalk.audio.pretrained",
    "load_speech_model": "scantalk.audio.pretrained",
    "speech_to_noise_db": "scantalk.audio.noise",
    "spectral_subtraction": "scantalk.audio.noise",
    "speech_spans": "scantalk.audio.vad",
    "VoiceActivity": "scantalk.audio.vad",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'scantalk.audio' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
