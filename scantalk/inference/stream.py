"""Talk live: audio chunks in, face frames out as soon as they are final (`Animator.stream`).

The face is prepared once (aligned, its landmarks found, its rig placed), then every chunk of
speech pushed is heard by the streaming front end (`scantalk.articulation.stream`: an
incremental phone recogniser and the offline coarticulation model) and each frame is given out
once `lookahead` seconds of audio past its time have been heard. Chunks may have any size,
sample rate and channel count; the same speech gives the same frames however it is cut up, and
the state held never grows with the length of the talk.

```python
from scantalk import Animator

animator = Animator.from_checkpoint()
with animator.stream("scan.ply", lookahead=0.1) as stream:
    for chunk in microphone_chunks:                       # (n,) or (n, channels) at 48 kHz
        for frame in stream.push(chunk, sample_rate=48000):
            show(frame.vertices)                          # (V, 3), the file's order and units
    for frame in stream.close():
        show(frame.vertices)
```

Latency from a sample of audio to the frame that shows it is `lookahead` + up to one hop
(`scantalk.articulation.stream.HOP_S`) + the compute of one push. Short lookaheads hear phones
without words; from `scantalk.articulation.stream.WORDS_LOOKAHEAD_S` (1 s) each phrase is also
heard as words once it ends, as `Animator.animate`'s default front end hears it, and a phrase
that ends within the lookahead is shown exactly as offline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.articulation.stream import HOP_S, ArticulationStream
from scantalk.audio.stream import StreamResampler
from scantalk.errors import AudioError, ScanTalkError
from scantalk.expression import expression_track, speech_owned_lips
from scantalk.face.alignment import file_frames
from scantalk.inference.animation import check_fps
from scantalk.life.rig import LifeRig
from scantalk.life.stream import LifeStream
from scantalk.rig.rig import sealed

#: Default seconds of audio heard past a frame before it is shown: lips close on p/b/m about as
#: often as with the whole recording, for a median latency near 0.1 s (experiments/bench/stream.py).
DEFAULT_LOOKAHEAD = 0.1


@dataclass(frozen=True)
class StreamFrame:
    """One frame of a live animation.

    Attributes:
        index: frame number from the start of the stream (0, 1, ...).
        time: seconds of audio the frame shows (index / fps).
        vertices: (V, 3) float32, the face file's vertex order and units.
        articulation: (A,) float32 in 0..1, the track's row (`AnimationStream.channels`).
        life: (C,) the `LifeTrack` row (`scantalk.life.LIFE_CHANNELS`, their units) when the
            stream draws life, else None.
    """

    index: int
    time: float
    vertices: np.ndarray
    articulation: np.ndarray
    life: np.ndarray | None = None


class AnimationStream:
    """A live animation of one face: push audio, get frames. Made by `Animator.stream` (the
    `animator` passed in), which documents the arguments.

    Attributes:
        fps: frames per second.
        lookahead: seconds of audio heard past a frame before it is given out.
        channels: the articulation channels of each frame's row.
        rest: (V, 3) float32, the face as given (file order and units).
        faces: (F, 3) the face file's triangles, or None for a point cloud.
        alignment: how the face file sits in the model frame (`scantalk.face.alignment.Alignment`;
            the file's up is `alignment.rotation[1]`, its forward `alignment.rotation[2]`).
        heard: seconds of speech decoded so far.
    """

    def __init__(self, animator: Any, face: Any, fps: float = 30.0, lookahead: float = DEFAULT_LOOKAHEAD,
                 faces: np.ndarray | None = None, align: str = "auto", up: str | None = None,
                 forward: str | None = None, landmarks: Any = None, emotion: Any = None,
                 intensity: float | None = None, life: float = 0.0, life_groups: Sequence[str] | None = None,
                 life_seed: int = 0) -> None:
        animator._need_articulated("stream")
        self.fps = check_fps(fps)
        self._articulation = ArticulationStream(self.fps, lookahead)
        self.lookahead = self._articulation.lookahead
        self._animator = animator
        channels = tuple(animator.model.config.channels)
        missing = [name for name in channels if name not in ARTICULATION_CHANNELS]
        if missing:
            raise ScanTalkError(f"{animator.checkpoint} speaks through channels {missing} that the streaming front end "
                                f"does not make (it makes {list(ARTICULATION_CHANNELS)})")
        self.channels = channels
        self._life_options = (float(life), life_groups, int(life_seed))
        self._life = LifeStream(self.fps, *self._life_options) if life else None
        self._columns = [ARTICULATION_CHANNELS.index(name) for name in channels]
        if emotion is not None and not isinstance(emotion, (str, dict)):
            raise ScanTalkError("a stream takes one emotion (a label or a mix {label: share}) for its whole length; "
                                "keyframes need the whole recording: use Animator.animate")
        provider = animator._expressions(emotion, intensity)
        clock = time.perf_counter()
        fit = animator.fit_face(face, faces=faces, align=align, up=up, forward=forward, landmarks=landmarks)
        basis = torch.as_tensor(fit.basis, dtype=torch.float32, device=animator.device)
        self._basis = animator.model.basis_rows(basis)
        self._to_file = file_frames(fit.mesh, fit.alignment)
        self._emotion, self._intensity = emotion, intensity
        self._provider, self._expression_basis = provider, None
        if provider is not None:
            owned = speech_owned_lips(provider.basis(fit.head), fit.basis[:, 0], fit.head)
            self._expression_basis = torch.as_tensor(owned, dtype=torch.float32, device=animator.device)
        self._template = fit.template
        if self._life is not None and fit.head is None:
            raise ScanTalkError(f"life= needs a model that places its rig from the face's landmarks; "
                                f"{animator.checkpoint} predicts its motion basis directly")
        self._life_rig = LifeRig.of(fit.head) if self._life is not None else None
        self.alignment = fit.alignment
        self.rest = fit.mesh.file_verts.astype(np.float32)
        self.faces = fit.mesh.file_faces
        self.head = fit.head
        self._resampler: StreamResampler | None = None
        self._closed = False
        self.timings = {"setup_s": time.perf_counter() - clock}

    @property
    def heard(self) -> float:
        return self._articulation.phones.heard

    @property
    def latency(self) -> float:
        """Seconds from a sample of audio to the frame showing it, compute aside (lookahead + at
        most one hop of the recogniser + one frame period)."""
        return self.lookahead + HOP_S + 1.0 / self.fps

    def push(self, samples: np.ndarray, sample_rate: int = 16000) -> list[StreamFrame]:
        """Hear one chunk of speech ((n,) or (n, channels), floats or integer PCM, any n) at
        `sample_rate` Hz → the frames now final (possibly none).

        Raises:
            AudioError: NaN samples, a bad shape, or a sample rate different from earlier chunks.
            ScanTalkError: the stream was closed.
        """
        if self._closed:
            raise ScanTalkError("this stream was closed; start a new one with Animator.stream(face)")
        if self._resampler is None:
            self._resampler = StreamResampler(sample_rate)
        elif sample_rate != self._resampler.sample_rate:
            raise AudioError(f"this stream's audio is at {self._resampler.sample_rate} Hz; a chunk at {sample_rate} Hz "
                             "cannot join it (resample it first, or start a new stream)")
        return self._hear(self._resampler.push(samples))

    def close(self) -> list[StreamFrame]:
        """The end of the speech → the frames still held back (the audio's last frames)."""
        if self._closed:
            return []
        self._closed = True
        frames = []
        if self._resampler is not None:
            frames = self._hear(self._resampler.close())
        return frames + self._frames(*self._articulation.close())

    def reset(self) -> "AnimationStream":
        """Hear a new speech on the same face (prepared once): frame numbers and times start at
        0 again, the recogniser starts afresh. Returns the stream itself."""
        self._articulation = ArticulationStream(self.fps, self.lookahead)
        self._life = LifeStream(self.fps, *self._life_options) if self._life is not None else None
        self._resampler = None
        self._closed = False
        return self

    def frames(self, chunks: Iterable[np.ndarray], sample_rate: int = 16000) -> Iterator[StreamFrame]:
        """Every frame of a stream of chunks, each as soon as it is final, then the rest at its end."""
        for chunk in chunks:
            yield from self.push(chunk, sample_rate)
        yield from self.close()

    def __enter__(self) -> "AnimationStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True

    def _hear(self, speech: np.ndarray) -> list[StreamFrame]:
        if self._life is not None:
            self._life.hear(speech)
        return self._frames(*self._articulation.push(speech))

    def _frames(self, first: int, rows: np.ndarray) -> list[StreamFrame]:
        if len(rows) == 0:
            return []
        life = self._life.rows(rows) if self._life is not None else None
        values = rows[:, self._columns]
        device = self._animator.device
        with torch.inference_mode():
            track = torch.as_tensor(values, dtype=torch.float32, device=device)
            motion = self._animator.model.displacement(self._basis, sealed(track))
            if self._expression_basis is not None:
                weights_of = self._animator._expression_weights(self._provider, track)
                weights = expression_track(weights_of, self._emotion, self._intensity, len(values), self.fps)
                expression = torch.as_tensor(weights, dtype=torch.float32, device=device)
                motion = motion + torch.einsum("tu,vuc->tvc", expression, self._expression_basis)
            motion = motion.cpu().numpy()
            if life is not None:
                motion = self._life_rig.displace(self._template, motion, life)
            vertices = self._to_file(motion)
        return [StreamFrame(first + i, (first + i) / self.fps, vertices[i], values[i],
                            None if life is None else life[i].astype(np.float32)) for i in range(len(values))]
