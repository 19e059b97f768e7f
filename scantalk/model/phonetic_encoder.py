"""`PhoneticEncoder` ("phonetic"): ScanTalk's audio features from the phonetic front end.

Speech → pocketsphinx phones → the coarticulated articulation track (jaw, lip closure, rounding,
spreading, labiodental contact; `scantalk.articulation`) plus a speaking flag, one row per mesh
frame. The features carry no voice or room, only what the mouth does, so a model trained on
synthetic voices hears real speakers the same way; nothing is learned here (the model's own
projection and BiLSTM follow). Decoding costs about a tenth of real time on a CPU; a clip seen
before (training repeats its sentences every epoch) is answered from a cache.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.articulation.phones import SILENCE, frame_labels
from scantalk.audio.encoders import AudioEncoder
from scantalk.audio.registry import register_audio_encoder
from scantalk.audio.io import SAMPLE_RATE
from scantalk.errors import AudioError

#: Peak level the (per-clip normalised) audio is scaled to for the recogniser, which reads int16.
_PEAK = 0.9


class PhoneticEncoder(AudioEncoder):
    """16 kHz speech → (T, 6): the articulation track's five channels (0..1) and 1 while speaking.

    Args:
        cache_size: clips remembered (by their samples and frame count); 0 turns the cache off.
    """

    output_dim = len(ARTICULATION_CHANNELS) + 1

    def __init__(self, cache_size: int = 4096) -> None:
        super().__init__()
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    def encode(self, audio: torch.Tensor, num_frames: int) -> torch.Tensor:
        rows = [torch.as_tensor(self._features(clip.detach().cpu().numpy(), num_frames), device=audio.device)
                for clip in audio]
        return torch.stack(rows)

    def _features(self, samples: np.ndarray, num_frames: int) -> np.ndarray:
        key = (hashlib.sha1(np.ascontiguousarray(samples, dtype=np.float32).tobytes()).hexdigest(), num_frames)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        features = self._decode(samples, num_frames)
        if self.cache_size > 0:
            self._cache[key] = features
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return features

    @staticmethod
    def _decode(samples: np.ndarray, num_frames: int) -> np.ndarray:
        from scantalk.articulation.phonetic import phonetic_phones_and_track

        peak = float(np.abs(samples).max(initial=0.0))
        features = np.zeros((num_frames, PhoneticEncoder.output_dim), np.float32)
        if peak == 0.0:
            return features  # digital silence: the mouth rests
        fps = num_frames * SAMPLE_RATE / len(samples)
        try:
            phones, track = phonetic_phones_and_track(samples * (_PEAK / peak), fps, num_frames=num_frames)
        except AudioError:
            return features  # too short or silent for the recogniser: the mouth rests
        features[:, :-1] = track.array(ARTICULATION_CHANNELS)[:num_frames]
        features[:, -1] = frame_labels(phones, fps, num_frames) != SILENCE
        return features

    def config(self) -> dict[str, Any]:
        """{"name": "phonetic", "cache_size": ...}."""
        return {"name": "phonetic", "cache_size": self.cache_size}


register_audio_encoder("phonetic", PhoneticEncoder)
