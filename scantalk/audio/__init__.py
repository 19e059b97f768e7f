"""Speech audio: loading (`load_audio`, `prepare_audio`) and per-frame audio encoders.

    audio = load_audio("speech.wav")                       # (N,) float32, 16 kHz mono
    frames = audio_frame_count(len(audio), 16000, fps=30)  # mesh frames T
    encoder = build_audio_encoder("mel")                   # or "hubert", "wav2vec2", a dict
    features = encoder(torch.from_numpy(audio), frames)    # (T, encoder.output_dim)
"""

from scantalk.audio.encoders import AudioEncoder, build_audio_encoder, normalize_clips, resample_frames
from scantalk.audio.io import ENCODER_SAMPLE_RATE, audio_frame_count, load_audio, prepare_audio
from scantalk.audio.mel import MelEncoder, mel_filterbank
from scantalk.audio.pretrained import HubertEncoder, Wav2Vec2Encoder, load_speech_model

__all__ = [
    "ENCODER_SAMPLE_RATE",
    "AudioEncoder",
    "HubertEncoder",
    "MelEncoder",
    "Wav2Vec2Encoder",
    "audio_frame_count",
    "build_audio_encoder",
    "load_audio",
    "load_speech_model",
    "mel_filterbank",
    "normalize_clips",
    "prepare_audio",
    "resample_frames",
]
