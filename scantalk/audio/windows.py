"""Long speech through a network in overlapping windows: bounded memory, no seam.

Both models read speech this way at inference: ScanTalk's audio encoder and the articulated
model's speech → articulation network (`scantalk.model.articulated.ArticulatedTalker.speech_track`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from scantalk.audio.io import SAMPLE_RATE

#: Seconds of speech a network hears at once, and how much neighbouring windows overlap.
WINDOW_SECONDS, OVERLAP_SECONDS = 20.0, 2.0


def windowed(encode: Callable[[torch.Tensor, int], torch.Tensor], samples: np.ndarray | torch.Tensor,
             num_frames: int, fps: float, window_seconds: float = WINDOW_SECONDS,
             overlap_seconds: float = OVERLAP_SECONDS, device: str | torch.device | None = None) -> torch.Tensor:
    """`encode(audio, frames)` → (T, D) over the whole 16 kHz clip `samples` (N,), in cross-faded
    overlapping windows of `window_seconds` when the clip is longer (each frame a weighted mean
    of the windows that hear it, weights ramping across each overlap)."""
    audio = torch.as_tensor(samples, device=device)
    window = max(2, int(round(window_seconds * fps)))
    if num_frames <= window:
        return encode(audio, num_frames)
    overlap = max(1, min(window // 2, int(round(overlap_seconds * fps))))
    step = window - overlap
    total = None
    weight = torch.zeros(num_frames, 1, device=audio.device)
    start = 0
    while True:
        stop = min(start + window, num_frames)
        begin, end = int(round(start / fps * SAMPLE_RATE)), int(round(stop / fps * SAMPLE_RATE))
        features = encode(audio[begin:end], stop - start)
        if total is None:
            total = torch.zeros(num_frames, features.shape[-1], device=audio.device, dtype=features.dtype)
        ramp = torch.ones(stop - start, 1, device=audio.device)
        fade = torch.linspace(0.0, 1.0, overlap + 2, device=audio.device)[1:-1, None]
        if start > 0:
            ramp[:overlap] = fade
        if stop < num_frames:
            ramp[-overlap:] = fade.flip(0)
        total[start:stop] += features * ramp
        weight[start:stop] += ramp
        if stop == num_frames:
            break
        # The last window is moved back to full length rather than left as a short stub.
        start = min(start + step, num_frames - window)
    return total / weight
