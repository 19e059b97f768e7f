"""`Animator`: animate any face (mesh, scan, point cloud) from speech with a trained ScanTalk.

    animator = Animator.from_checkpoint()          # the shipped default model
    animation = animator.animate("scan.ply", "speech.wav", fps=30)
    animation.save("out/"); animation.to_video("out/animation.mp4")
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scantalk.alignment import aligned_template
from scantalk.animation import Animation, check_fps
from scantalk.audio import audio_frame_count, load_audio, prepare_audio
from scantalk.checkpoint import DEFAULT_CHECKPOINT, model_from_checkpoint
from scantalk.errors import CacheError, DeviceError, MeshError, ScanTalkError
from scantalk.geometry import Mesh, load_mesh
from scantalk.geometry.cache import OperatorCache, default_cache_dir
from scantalk.model import ScanTalk

AUDIO_RATE = 16000


def default_device() -> torch.device:
    """CUDA when this machine and PyTorch build have a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The torch device for `device` ("cpu", "cuda", "cuda:1", None = best available).

    Checked up front, so a typo or a GPU this machine lacks is a one-line error before any
    model is loaded or any inference runs. Raises DeviceError.
    """
    if device is None:
        return default_device()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise DeviceError(f"device {device!r} is not a device name; use 'cpu' or 'cuda' (or 'cuda:1')") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r}: this machine or PyTorch build ({torch.__version__}) has no CUDA "
                              "GPU; use --device cpu (or install a CUDA build of PyTorch)")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise DeviceError(f"device {device!r}: only {torch.cuda.device_count()} CUDA GPU(s) here; "
                              "use cuda:0 or cpu")
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {device!r}: Apple MPS is not available here; use --device cpu")
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"device {device!r} is not supported; use 'cpu' or 'cuda'")
    return resolved


class Animator:
    """A trained `ScanTalk` plus everything around it: alignment, operator cache, long audio.

    Args:
        model: the network (in eval mode).
        checkpoint: where it came from (recorded in each animation's meta).
        recipe: training facts stored with the checkpoint (e.g. `reference_center`, the centre
            of the training faces in metres, used by `align="auto"`).
        device: "cpu", "cuda"... (default: CUDA when present).
        cache_dir: operator cache (default: the per-user cache; `False` disables caching).
        window_seconds, overlap_seconds: long audio is encoded in windows of this length that
            overlap and are cross-faded, so memory stays bounded and no seam shows.
    """

    def __init__(
        self,
        model: ScanTalk,
        checkpoint: str | None = None,
        recipe: dict[str, Any] | None = None,
        device: str | torch.device | None = None,
        cache_dir: str | Path | None | bool = None,
        window_seconds: float = 20.0,
        overlap_seconds: float = 2.0,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.checkpoint = checkpoint
        self.recipe = dict(recipe or {})
        self.cache = None if cache_dir is False else _open_cache(cache_dir)
        self.window_seconds = window_seconds
        self.overlap_seconds = overlap_seconds

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, **kwargs: Any) -> "Animator":
        """An Animator from a ScanTalk checkpoint; no path means the shipped default model."""
        model, checkpoint = model_from_checkpoint(path)
        source = str(path) if path is not None else f"default ({DEFAULT_CHECKPOINT.name})"
        return cls(model, checkpoint=source, recipe=checkpoint.get("recipe"), **kwargs)

    @property
    def emotions(self) -> list[str]:
        """Emotion labels the model knows (empty without the emotion head)."""
        return list(self.model.emotion.labels) if self.model.emotion is not None else []

    def animate(
        self,
        face: str | Path | Mesh | np.ndarray | tuple[np.ndarray, np.ndarray | None],
        audio: str | Path | np.ndarray,
        fps: float = 30.0,
        sample_rate: int | None = None,
        faces: np.ndarray | None = None,
        align: str = "auto",
        up: str | None = None,
        forward: str | None = None,
        emotion: str | None = None,
        intensity: float | None = None,
    ) -> Animation:
        """Animate `face` with `audio` → `Animation` in the face file's vertex order and units.

        face: a mesh/point-cloud path, a `Mesh`, a tuple (verts (V, 3), faces (F, 3) | None), or
        vertices (V, 3) (with `faces` (F, 3) or None for a point cloud). audio: a path, or samples (N,) with `sample_rate` (Hz).
        align: "auto" (units from the bounding box, centring) or "none"; up/forward: the
        file's axes ("z", "-y"...) when the face is not y-up and facing +z.
        emotion / intensity: an emotion label and a strength in [0, 1] (needs the emotion head).
        """
        timings: dict[str, float] = {}
        fps = check_fps(fps)
        clock = time.perf_counter()
        mesh = self._mesh(face, faces)
        samples, audio_name = self._audio(audio, sample_rate)
        emotion_index, intensity_value = self._emotion(emotion, intensity)
        timings["load_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        template, alignment = aligned_template(mesh.verts, align, up, forward, self.recipe.get("reference_center"),
                                               name=mesh.source or "face")
        try:
            ops = self._operators(template, mesh.faces)
        except MeshError as error:
            # Geometry errors describe the surface; the user also needs to know which input it was.
            if mesh.source and mesh.source not in str(error):
                raise MeshError(f"{mesh.source}: {error}") from error
            raise
        timings["operators_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        num_frames = audio_frame_count(len(samples), AUDIO_RATE, fps)
        displacement = self._predict(template, ops, samples, num_frames, fps, emotion_index, intensity_value)
        timings["inference_s"] = time.perf_counter() - clock

        # Displacements are vectors: rotate and rescale them, never offset them, so a still
        # face maps back exactly onto the file's own coordinates.
        rotation = np.asarray(alignment.rotation)
        displacement_file = (displacement / alignment.scale) @ rotation
        frames = mesh.file_verts[None] + mesh.to_file_order(displacement_file)
        meta = {
            "checkpoint": self.checkpoint,
            "audio_file": audio_name,
            "face_file": mesh.source,
            "alignment": alignment.as_dict(),
            "emotion": emotion,
            "intensity": intensity_value if emotion is not None else None,
            "timings": timings,
        }
        return Animation(frames.astype(np.float32), mesh.file_verts.astype(np.float32), mesh.file_faces,
                         float(fps), samples, AUDIO_RATE, meta)

    def _mesh(self, face: Any, faces: np.ndarray | None) -> Mesh:
        if isinstance(face, Mesh):
            return face
        if isinstance(face, (str, Path)):
            return load_mesh(face)
        if isinstance(face, tuple):
            # (verts, faces) is how most mesh libraries hand a mesh over.
            if len(face) != 2 or faces is not None:
                raise ScanTalkError("a face given as a tuple must be (verts (V, 3), faces (F, 3) or None), "
                                    "without faces= as well")
            face, faces = face
        return Mesh.from_arrays(np.asarray(face, dtype=np.float64), None if faces is None else np.asarray(faces))

    def _audio(self, audio: Any, sample_rate: int | None) -> tuple[np.ndarray, str | None]:
        if isinstance(audio, (str, Path)):
            return load_audio(audio, AUDIO_RATE), str(audio)
        if sample_rate is None:
            raise ScanTalkError("audio given as an array needs its sample_rate (Hz), e.g. sample_rate=16000")
        return prepare_audio(np.asarray(audio), sample_rate, AUDIO_RATE), None

    def _emotion(self, emotion: str | None, intensity: float | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if emotion is None:
            if intensity is not None:
                raise ScanTalkError("intensity was given without an emotion: pass emotion='happy' (for example) too")
            return None, None
        if self.model.emotion is None:
            raise ScanTalkError(
                f"this model ({self.checkpoint}) has no emotion head, so emotion={emotion!r} cannot be used; "
                "use a checkpoint trained with experiments/configs/emotional.yaml, or drop the emotion"
            )
        index = self.model.emotion.label_index(emotion)
        value = self.model.emotion.check_intensity(1.0 if intensity is None else intensity)
        return torch.tensor(index, device=self.device), torch.tensor(value, dtype=torch.float32, device=self.device)

    def _operators(self, template: np.ndarray, faces: np.ndarray | None):
        if self.cache is not None:
            ops = self.cache.get_or_compute(template, faces, self.model.k_eig)
        else:
            from scantalk.geometry import compute_operators

            ops = compute_operators(template, faces, self.model.k_eig)
        return ops.to(self.device)

    @torch.inference_mode()
    def _predict(self, template: np.ndarray, ops: Any, samples: np.ndarray, num_frames: int, fps: float,
                 emotion: torch.Tensor | None, intensity: torch.Tensor | None) -> np.ndarray:
        """Displacement (T, V, 3) in the model frame (metres)."""
        template_t = torch.as_tensor(template, dtype=torch.float32, device=self.device)
        identity = self.model.encode_identity(template_t, ops)
        features = self._audio_features(torch.as_tensor(samples, device=self.device), num_frames, fps)
        motion = self.model.motion_from_features(features, emotion, intensity)
        return self.model.decode(identity, motion, ops).float().cpu().numpy()

    def _audio_features(self, audio: torch.Tensor, num_frames: int, fps: float) -> torch.Tensor:
        """Audio-encoder features (T, D), in cross-faded overlapping windows for long audio."""
        window = max(2, int(round(self.window_seconds * fps)))
        if num_frames <= window:
            return self.model.audio_encoder(audio, num_frames)
        overlap = max(1, min(window // 2, int(round(self.overlap_seconds * fps))))
        step = window - overlap
        total = None
        weight = torch.zeros(num_frames, 1, device=audio.device)
        start = 0
        while True:
            stop = min(start + window, num_frames)
            begin, end = int(round(start / fps * AUDIO_RATE)), int(round(stop / fps * AUDIO_RATE))
            features = self.model.audio_encoder(audio[begin:end], stop - start)
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


def _open_cache(cache_dir: str | Path | None) -> OperatorCache | None:
    """The operator cache, or None (with a warning) when its path cannot be a cache at all."""
    try:
        return OperatorCache(cache_dir or default_cache_dir())
    except CacheError as error:
        # Caching only saves time: animating must still work without it.
        warnings.warn(f"{error} Continuing without the operator cache.", RuntimeWarning, stacklevel=3)
        return None
