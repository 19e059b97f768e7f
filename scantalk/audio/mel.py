"""`MelEncoder`: log-mel spectrogram + a small temporal CNN, trained from scratch.

Needs no pretrained weights and no network, runs fast on a CPU and is differentiable end to
end — the offline default. The spectrogram is computed in torch (torch.stft and a triangular
mel filterbank built here), so it runs on the same device as the rest of the model.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from scantalk.audio.encoders import AudioEncoder, resample_frames
from scantalk.audio.io import SAMPLE_RATE
from scantalk.errors import ScanTalkError

#: Floor added to mel energies before the log, so digital silence stays finite.
_LOG_FLOOR = 1e-6


def hz_to_mel(freq_hz: torch.Tensor) -> torch.Tensor:
    """Hz → mel (HTK formula, 2595 · log10(1 + f / 700))."""
    return 2595.0 * torch.log10(1.0 + freq_hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """mel → Hz (inverse of `hz_to_mel`)."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(
    n_fft: int, n_mels: int, sample_rate: int = SAMPLE_RATE, f_min: float = 0.0, f_max: float | None = None
) -> torch.Tensor:
    """Triangular mel filters over the one-sided FFT bins.

    Args:
        n_fft: FFT size; the spectrum has n_fft // 2 + 1 bins from 0 to sample_rate / 2 Hz.
        n_mels: number of filters, centred at equal steps on the mel scale.
        sample_rate: audio rate in Hz.
        f_min, f_max: lowest and highest edge in Hz (f_max defaults to sample_rate / 2).

    Returns:
        (n_fft // 2 + 1, n_mels) float32 weights; each filter peaks at 1 at its centre.

    Raises:
        ScanTalkError: a filter covers no FFT bin (too many mels for this n_fft) or bad edges.
    """
    f_max = sample_rate / 2.0 if f_max is None else f_max
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0:
        raise ScanTalkError(
            f"Mel band f_min={f_min} Hz, f_max={f_max} Hz must satisfy 0 <= f_min < f_max <= {sample_rate / 2} Hz."
        )
    bin_hz = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
    mel_edges = torch.linspace(
        hz_to_mel(torch.tensor(f_min, dtype=torch.float64)).item(),
        hz_to_mel(torch.tensor(f_max, dtype=torch.float64)).item(),
        n_mels + 2,
        dtype=torch.float64,
    )
    hz_edges = mel_to_hz(mel_edges)
    lower, centre, upper = hz_edges[:-2], hz_edges[1:-1], hz_edges[2:]
    rising = (bin_hz[:, None] - lower) / (centre - lower)
    falling = (upper - bin_hz[:, None]) / (upper - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    empty = torch.nonzero(weights.sum(dim=0) == 0).flatten()
    if empty.numel():
        raise ScanTalkError(
            f"{n_mels} mel filters with n_fft={n_fft} leave filters {empty.tolist()[:5]} without any FFT bin; "
            "use fewer mels or a larger n_fft."
        )
    return weights.float()


class LogMel(nn.Module):
    """Log-mel energies at 100 Hz: (B, N) 16 kHz audio → (B, n_mels, N // hop_length + 1).

    Args:
        n_mels: filters; n_fft / win_length / hop_length: STFT sizes in samples at 16 kHz
            (defaults: 25 ms window, 10 ms hop); f_min, f_max: the mel band in Hz.
        normalise: "clip" standardises each clip over time and bands (zero mean, unit variance);
            "band" also removes each band's mean over the clip, so a microphone's or a room's
            colouring (a constant per-band gain, additive in the log domain) cancels.
    """

    def __init__(self, n_mels: int = 80, n_fft: int = 512, win_length: int = 400, hop_length: int = 160,
                 f_min: float = 20.0, f_max: float = 7600.0, normalise: str = "clip") -> None:
        super().__init__()
        if not 0 < hop_length <= win_length <= n_fft:
            raise ScanTalkError(
                f"log-mel needs 0 < hop_length <= win_length <= n_fft; got {hop_length}, {win_length}, {n_fft}."
            )
        if normalise not in ("clip", "band"):
            raise ScanTalkError(f"log-mel normalise must be 'clip' or 'band', got {normalise!r}")
        self.n_fft, self.win_length, self.hop_length, self.normalise = n_fft, win_length, hop_length, normalise
        # Derived from the settings, so kept out of the state dict (persistent=False).
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        self.register_buffer("filterbank", mel_filterbank(n_fft, n_mels, SAMPLE_RATE, f_min, f_max),
                             persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(audio, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
                              window=self.window, center=True, pad_mode="constant", return_complex=True)
        power = spectrum.real.square() + spectrum.imag.square()  # (B, F, frames)
        log_mel = torch.log(torch.einsum("bft,fm->bmt", power, self.filterbank) + _LOG_FLOOR)
        if self.normalise == "band":
            log_mel = log_mel - log_mel.mean(dim=2, keepdim=True)
        mean = log_mel.mean(dim=(1, 2), keepdim=True)
        std = log_mel.std(dim=(1, 2), keepdim=True, unbiased=False)
        return (log_mel - mean) / (std + 1e-5)


class MelEncoder(AudioEncoder):
    """Log-mel spectrogram (100 Hz) → resampled to the mesh frames → temporal Conv1d stack.

    Input (N,) or (B, N) audio at 16 kHz; output (T, output_dim) or (B, T, output_dim).
    The receptive field is 1 + (kernel_size - 1) · num_layers frames (13 frames ≈ 0.43 s at
    30 fps with the defaults), enough context for coarticulation.
    """

    def __init__(
        self,
        n_mels: int = 80,
        hidden: int = 128,
        output_dim: int = 128,
        num_layers: int = 3,
        kernel_size: int = 5,
        n_fft: int = 512,
        win_length: int = 400,
        hop_length: int = 160,
        f_min: float = 20.0,
        f_max: float = 7600.0,
        dropout: float = 0.0,
    ) -> None:
        """Args: n_mels filters; hidden and output_dim channels; num_layers Conv1d layers of
        odd kernel_size (in mesh frames); STFT n_fft / win_length / hop_length in samples at
        16 kHz (defaults: 25 ms window, 10 ms hop); mel band f_min..f_max in Hz; dropout
        between conv layers."""
        super().__init__()
        if num_layers < 1 or kernel_size < 1 or kernel_size % 2 == 0:
            raise ScanTalkError(
                f"MelEncoder needs num_layers >= 1 and an odd kernel_size; got {num_layers}, {kernel_size}."
            )
        self._settings = {
            "n_mels": n_mels, "hidden": hidden, "output_dim": output_dim, "num_layers": num_layers,
            "kernel_size": kernel_size, "n_fft": n_fft, "win_length": win_length,
            "hop_length": hop_length, "f_min": f_min, "f_max": f_max, "dropout": dropout,
        }  # fmt: skip
        self.output_dim = output_dim
        self.hop_length = hop_length
        self.spectrogram = LogMel(n_mels, n_fft, win_length, hop_length, f_min, f_max)
        padding = kernel_size // 2
        self.input_layer = nn.Sequential(nn.Conv1d(n_mels, hidden, kernel_size, padding=padding), nn.GELU())
        self.residual_layers = nn.ModuleList(
            nn.Sequential(nn.Dropout(dropout), nn.Conv1d(hidden, hidden, kernel_size, padding=padding), nn.GELU())
            for _ in range(num_layers - 1)
        )
        self.output_layer = nn.Conv1d(hidden, output_dim, kernel_size=1)

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, N) audio at 16 kHz → (B, n_mels, N // hop_length + 1) log-mel energies, each
        clip standardised (zero mean, unit variance over time and bands)."""
        return self.spectrogram(audio)

    def encode(self, audio: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B, N) normalised audio → (B, num_frames, output_dim)."""
        features = resample_frames(self.log_mel(audio), num_frames, antialias=True)
        hidden = self.input_layer(features)
        for layer in self.residual_layers:
            hidden = hidden + layer(hidden)
        return self.output_layer(hidden).transpose(1, 2)

    def config(self) -> dict[str, Any]:
        """{"name": "mel", **constructor arguments}."""
        return {"name": "mel", **self._settings}

    @property
    def receptive_field_frames(self) -> int:
        """Mesh frames of context each output frame sees (after resampling to the mesh rate)."""
        kernel, layers = self._settings["kernel_size"], self._settings["num_layers"]
        return 1 + (kernel - 1) * layers

    def extra_repr(self) -> str:
        return f"n_mels={self._settings['n_mels']}, output_dim={self.output_dim}, hop={self.hop_length}"

