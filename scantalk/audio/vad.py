"""Voice activity: where in a recording someone speaks, and nowhere else.

The phone recogniser hears phones in anything: tonal music as long vowels, a drum as stops. The
mouth must rest there. `VoiceActivity` runs Silero VAD (MIT licence; the network ships inside the
`silero-vad` wheel, nothing is downloaded) over 16 kHz audio in 32 ms chunks, offline or as the
audio arrives, and `VoiceActivity.spans` gives the stretches of speech, widened by `MARGIN_S` on
either side so that a soft onset or a trailing consonant stays in.

Measured on the 12 real test recordings and 30 pieces of game music and sound effects (Debian's
lincity-ng, frozen-bubble and chromium-bsu data), see `experiments/evaluate/rooms.py`: no speech
phone falls outside the spans, clean or under 0 dB pink noise, 0.8 s of reverberation, a
telephone band or 30 dB less level; music, pink noise, room tone and hum give no span at all.
Babble is speech to it.

```python
from scantalk.audio.vad import VoiceActivity, speech_spans

spans = speech_spans(samples)          # [(start_s, end_s), ...]
voice = VoiceActivity()                # live: push audio as it comes
voice.push(chunk)
voice.spans()                          # the speech heard so far
```
"""

from __future__ import annotations

import functools
import math
import warnings
from pathlib import Path

import numpy as np

from scantalk.audio.io import SAMPLE_RATE
from scantalk.errors import SpeechToolError

#: Samples per step of the network at 16 kHz (32 ms).
CHUNK = 512
CHUNK_S = CHUNK / SAMPLE_RATE
#: A chunk whose speech probability exceeds this is speech. Over the test music its 90th
#: percentile stays below 0.05 (the highest chunk: 0.26); at 0.5, one phone of the test
#: recordings at -30 dB would fall outside the spans.
THRESHOLD = 0.3
#: Seconds around each speech chunk that still count as speech: 0.3 s keeps every phone of the
#: test recordings (0.1 s loses 2 to 10 of 355 depending on the room).
MARGIN_S = 0.3
#: The first chunks of a recording never count as speech on their own: the network starts from
#: silence, and audio that starts abruptly (music cut in mid-bar) reads up to 0.67 there. Speech
#: that starts at once goes on past them, and its margin reaches back over them.
WARMUP_CHUNKS = 4


@functools.lru_cache(maxsize=1)
def _model_path() -> Path:
    """The TorchScript network inside the installed `silero-vad` wheel (located without importing
    the package, whose import sets torch to one thread)."""
    from importlib import metadata

    try:
        path = Path(str(metadata.distribution("silero-vad").locate_file("silero_vad/data/silero_vad.jit")))
    except metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise SpeechToolError("voice activity needs the silero-vad package (MIT, bundles its network): "
                              "pip install silero-vad")
    return path


def _load_network():
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notes say nothing the user can act on
        network = torch.jit.load(str(_model_path()), map_location="cpu")
    network.eval()
    return network


class VoiceActivity:
    """Speech probabilities of 16 kHz mono audio pushed in pieces of any size, one per 32 ms chunk.

    The same audio gives the same probabilities however it is cut up (chunks are counted from
    the first sample), so a live stream and an offline pass over a recording agree.

    Attributes:
        probabilities: (n,) float32 of the chunks kept: from the first, chunk i covering
            [i, i + 1) × `CHUNK_S` seconds, until `forget` drops the oldest.
    """

    def __init__(self) -> None:
        self._network = _load_network()
        self._network.reset_states()
        self._pending = np.zeros(0, np.float32)
        self._probabilities: list[float] = []
        self._first = 0  # index of the first chunk still kept
        self._closed = False

    @property
    def probabilities(self) -> np.ndarray:
        return np.asarray(self._probabilities, np.float32)

    def push(self, samples: np.ndarray) -> None:
        """Hear (N,) float samples at 16 kHz (the remainder of a chunk waits for more)."""
        if self._closed:
            raise SpeechToolError("this voice activity detector was closed; start a new one for more audio")
        samples = np.asarray(samples, np.float32).reshape(-1)
        pending = np.concatenate([self._pending, samples])
        whole = len(pending) // CHUNK * CHUNK
        self._pending = pending[whole:]
        if whole:
            self._run(pending[:whole])

    def close(self) -> None:
        """The end of the audio: its last partial chunk is heard padded with silence."""
        if not self._closed and len(self._pending):
            self._run(np.concatenate([self._pending, np.zeros(CHUNK - len(self._pending), np.float32)]))
            self._pending = np.zeros(0, np.float32)
        self._closed = True

    def spans(self, since: float = -math.inf, margin: float = MARGIN_S) -> list[tuple[float, float]]:
        """Stretches of speech (seconds) that end after `since`: every chunk over `THRESHOLD`,
        widened by `margin` on both sides, overlapping ones merged. Chunks not yet heard count
        as silence."""
        spans: list[tuple[float, float]] = []
        loud = np.flatnonzero(np.asarray(self._probabilities) > THRESHOLD) if self._probabilities else []
        for index in loud:
            if self._first + index < WARMUP_CHUNKS:
                continue
            start = (self._first + index) * CHUNK_S - margin
            end = (self._first + index + 1) * CHUNK_S + margin
            if end <= since:
                continue
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return spans

    def forget(self, before: float) -> None:
        """Drop chunks that end more than `MARGIN_S` before `before` seconds (keeps memory flat)."""
        drop = int(math.floor((before - MARGIN_S) / CHUNK_S)) - self._first
        if drop > 0:
            del self._probabilities[:drop]
            self._first += drop

    def _run(self, audio: np.ndarray) -> None:
        import torch

        with torch.no_grad():
            chunks = torch.from_numpy(np.ascontiguousarray(audio.reshape(-1, CHUNK)))
            for chunk in chunks:
                self._probabilities.append(float(self._network(chunk, SAMPLE_RATE)))


def speech_spans(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, margin: float = MARGIN_S) -> list[tuple[float, float]]:
    """Stretches of speech in (N,) float mono `samples` at 16 kHz, in seconds (see `VoiceActivity.spans`)."""
    if sample_rate != SAMPLE_RATE:
        raise SpeechToolError(f"voice activity needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz "
                              "(scantalk.audio.prepare_audio resamples)")
    voice = VoiceActivity()
    voice.push(samples)
    voice.close()
    return voice.spans(margin=margin)
