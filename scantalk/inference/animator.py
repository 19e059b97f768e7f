"""`Animator`: animate any face (mesh, scan, point cloud) from speech with a trained model.

    animator = Animator.from_checkpoint()          # the shipped default model
    animation = animator.animate("scan.ply", "speech.wav", fps=30)
    animation.save("out/"); animation.to_video("out/animation.mp4")
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from scantalk.articulation import ArticulationTrack
from scantalk.atomic import atomic_write_text
from scantalk.audio import audio_frame_count, load_audio, prepare_audio
from scantalk.audio.io import SAMPLE_RATE
from scantalk.audio.windows import OVERLAP_SECONDS, WINDOW_SECONDS, windowed
from scantalk.checkpoint import DEFAULT_CHECKPOINT, load_model_with_checkpoint
from scantalk.emotions import emotion_shares, intensity_value
from scantalk.errors import CacheError, DeviceError, FaceNotFoundError, MeshError, ScanTalkError
from scantalk.expression import expression_track, speech_owned_lips
from scantalk.face.alignment import Alignment, aligned_template, file_frames
from scantalk.face.head import Head
from scantalk.face.head import eyeball_parts
from scantalk.face.landmarks import implausible, landmarks_record, merged, read_landmarks
from scantalk.frames import FrameStore, FrameWriter
from scantalk.geometry import Mesh, load_mesh
from scantalk.geometry.cache import OperatorCache, default_cache_dir
from scantalk.inference.animation import Animation, check_fps
from scantalk.life.channels import LIFE_GROUPS
from scantalk.model import ScanTalk
from scantalk.model.articulated import ArticulatedTalker
from scantalk.plugins import plugin_expressions, resolve
from scantalk.rig.mouth_landmarks import mouth_on_slit
from scantalk.rig.rig import head_slit, sealed

from scantalk.inference.stream import DEFAULT_LOOKAHEAD, AnimationStream

# The landmarks the mouth slit may move; once the user gives them all, they stay where given.
MOUTH_LANDMARKS = ("mouth_left", "mouth_right", "upper_lip", "lower_lip")

# One chunk of frames holds about this many float32 values (16 M: 64 MB, with a few working
# copies well under a gigabyte): 256 frames at 20k vertices, 26 frames at 200k.
CHUNK_VALUES = 16_000_000


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


@dataclass
class FaceFit:
    """A face as an articulated model sees it (`Animator.fit_face`), in the model frame.

    mesh: the face as loaded and cleaned · template (V, 3) metres: its cleaned vertices aligned
    into the model frame · alignment: file frame → model frame · head: the face with the
    landmarks the model found on it (None for a model that finds none) · basis (V, B, 3)
    metres: the motion per rig input (`rig_inputs` of an articulation track; column 0 opens the
    jaw), so a track's motion is `ArticulatedTalker.displacement(basis, values)`.
    """

    mesh: Mesh
    template: np.ndarray
    alignment: Alignment
    head: Head | None
    basis: np.ndarray

    def landmarks_in_file(self) -> np.ndarray:
        """(10, 3) the landmarks the rig was placed from, in the face file's coordinates."""
        if self.head is None:
            raise ScanTalkError("this model places no landmarks on a face (it predicts its motion basis directly)")
        return self.alignment.to_file(self.head.landmarks.as_array())

    def save_landmarks(self, directory: str | Path, given: dict | None = None) -> tuple[Path, Path]:
        """Write `landmarks.json` (the points in the file's coordinates, the mouth slit, the
        alignment; edit it and pass it back with `landmarks=`) and `landmarks.png` (the face with
        its landmarks, the jaw's vertices in red and the still upper lip in blue) into `directory`."""
        from scantalk.render.landmarks import landmarks_picture

        directory = Path(directory)
        if self.head is None:
            raise ScanTalkError("this model places no landmarks on a face (it predicts its motion basis directly)")
        record = face_landmarks_record(self.head, self.alignment, given)
        json_path = directory / "landmarks.json"
        atomic_write_text(json_path, json.dumps(record, indent=2))
        jaw = self.mesh.to_file_order(np.linalg.norm(self.basis[:, 0], axis=-1)[:, None])[:, 0]
        picture = landmarks_picture(self.mesh.file_verts, self.mesh.file_faces, self.landmarks_in_file(), jaw,
                                    directory / "landmarks.png", rotation=np.asarray(self.alignment.rotation))
        return json_path, picture

    def motion_to_model(self, file_motion: np.ndarray) -> np.ndarray:
        """Displacements (..., V_file, 3) of the face file (its vertex order, frame and units) →
        (..., V, 3) on `template`, in the model frame."""
        return self.alignment.motion_to_model(self.mesh.from_file_order(np.asarray(file_motion)))


class Animator:
    """A trained talking-head model plus everything around it: alignment, operators, long audio.

    Two kinds of model animate faces: `ArticulatedTalker` (the shipped default: speech → a named
    articulation track → a per-face motion basis) and `ScanTalk` (the paper's end-to-end model,
    for checkpoints trained on 4D datasets). Both give back frames in the face file's vertex
    order and units, and both stream long animations to disk with `out=`.

    Args:
        model: the network (put in eval mode here).
        checkpoint: where it came from (recorded in each animation's meta).
        recipe: training facts stored with the checkpoint.
        device: "cpu", "cuda"... (default: CUDA when present).
        cache_dir: operator cache (default: the per-user cache; `False` disables caching).
        window_seconds, overlap_seconds: long audio is encoded in windows of this length that
            overlap and are cross-faded, so memory stays bounded and no seam shows.
        chunk_frames: at most this many frames are decoded (and written, with `out=`) at a time;
            fewer on large faces, so one chunk holds about `chunk_values` numbers.
        chunk_values: the size of one chunk of frames, in float32 values (frames × vertices × 3).
    """

    def __init__(
        self,
        model: ScanTalk | ArticulatedTalker,
        checkpoint: str | None = None,
        recipe: dict[str, Any] | None = None,
        device: str | torch.device | None = None,
        cache_dir: str | Path | None | bool = None,
        window_seconds: float = WINDOW_SECONDS,
        overlap_seconds: float = OVERLAP_SECONDS,
        chunk_frames: int = 256,
        chunk_values: int = CHUNK_VALUES,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.checkpoint = checkpoint
        self.recipe = dict(recipe or {})
        self.cache = None if cache_dir is False else _open_cache(cache_dir)
        self.window_seconds = window_seconds
        self.overlap_seconds = overlap_seconds
        self.chunk_frames = max(1, int(chunk_frames))
        self.chunk_values = max(1, int(chunk_values))

    def _chunk(self, num_vertices: int) -> int:
        """Frames per chunk for a face of `num_vertices`: bounded in count and in memory."""
        return max(1, min(self.chunk_frames, self.chunk_values // max(1, 3 * num_vertices)))

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, **kwargs: Any) -> "Animator":
        """An Animator from a checkpoint of either model kind; no path means the shipped default."""
        model, checkpoint = load_model_with_checkpoint(path)
        source = str(path) if path is not None else f"default ({DEFAULT_CHECKPOINT.name})"
        return cls(model, checkpoint=source, recipe=checkpoint.get("recipe"), **kwargs)

    @property
    def articulated(self) -> bool:
        """True for models that speak through an articulation track (`animate_track` works)."""
        return isinstance(self.model, ArticulatedTalker)

    @property
    def emotions(self) -> list[str]:
        """Emotion labels `emotion=` takes (empty without an emotion head or expression provider)."""
        if self.articulated:
            if self.model.config.emotion_labels:
                return list(self.model.config.emotion_labels)
            providers = plugin_expressions() if self.model.config.decoder == "landmarks" else {}
            return list(resolve(next(iter(providers.values()))).labels) if providers else []
        emotion = getattr(self.model, "emotion", None)
        return list(emotion.labels) if emotion is not None else []

    @property
    def reference_center(self) -> Any:
        """Where `align="auto"` centres a face: the training faces' centre (metres), if known."""
        config = getattr(self.model, "config", None)
        centre = getattr(config, "reference_center", None)
        return centre if centre is not None else self.recipe.get("reference_center")

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
        out: str | Path | None = None,
        landmarks: Any = None,
        life: float = 0.0,
        life_groups: Sequence[str] | None = None,
        life_seed: int = 0,
    ) -> Animation:
        """Animate `face` with `audio` → `Animation` in the face file's vertex order and units.

        Args:
            face: a mesh/point-cloud path, a `Mesh`, a tuple (verts (V, 3), faces (F, 3) | None),
                or vertices (V, 3) (with `faces` (F, 3), or None for a point cloud).
            audio: a path, or samples (N,) with `sample_rate` (Hz).
            fps: frames per second of the animation.
            align: "auto" (units from the bounding box, centring) or "none"; up / forward: the
                file's axes ("z", "-y"...) when the face is not y-up and facing +z.
            emotion / intensity: an emotion label and a strength in [0, 1] (models with the
                emotion head).
            out: an `.npy` path: frames are streamed there chunk by chunk and
                `Animation.frames` is a `FrameStore` reading that file (bounded memory for any
                length); None keeps them in memory.
            landmarks: points to place the rig from instead of the ones the model finds (a
                `landmarks.json` path, as an animation saves it, or {name: [x, y, z]} in the
                face file's coordinates; names left out are still found). Articulated models.
            life: 0..1, how alive the rest of the face is (`scantalk.life`): blinks, gaze, brows
                and head motion drawn from the speech (0 = only the mouth and jaw move, exactly
                as without it). Articulated models.
            life_groups: which of "blinks", "gaze", "brows", "head" to draw (default all).
            life_seed: the random draw of the life motion (the same seed, the same motion).

        Returns:
            The `Animation`; with an articulated model, `animation.articulation` holds the
            track (T, A) it was decoded from, and `animation.life` the `LifeTrack` when life > 0.
        """
        fps = check_fps(fps)
        clock = time.perf_counter()
        samples, audio_name = self._audio(audio, sample_rate)
        if self.articulated:
            load_s = time.perf_counter() - clock
            clock = time.perf_counter()
            self._need_articulated("animate")
            track, phones = self._articulate(samples, fps)
            life_track = None
            if life:
                from scantalk.life import life_from_speech

                # Pauses from the phones heard when the front end decodes them, else from the energy.
                life_track = life_from_speech(samples, SAMPLE_RATE, fps, track.num_frames, phones=phones, life=life,
                                              groups=life_groups, seed=life_seed)
            articulation_s = time.perf_counter() - clock
            animation = self.animate_track(face, track, audio=samples, sample_rate=SAMPLE_RATE, faces=faces,
                                           align=align, up=up, forward=forward, out=out, emotion=emotion,
                                           intensity=intensity, landmarks=landmarks, life=life_track)
            if life_track is not None:
                animation.meta["life"] = {"amount": float(life), "groups": list(life_groups or LIFE_GROUPS),
                                          "seed": int(life_seed)}
            animation.meta["audio_file"] = audio_name
            animation.meta["timings"] = {"load_s": load_s, "articulation_s": articulation_s,
                                         **animation.meta["timings"]}
            return animation

        if landmarks is not None or life:
            raise ScanTalkError(f"landmarks= and life= need an articulated model, which places its rig from the "
                                f"face's landmarks; {self.checkpoint} is an end-to-end ScanTalk model")
        emotion_index, strength = self._emotion(emotion, intensity)
        timings = {"load_s": time.perf_counter() - clock}
        mesh, template, alignment, ops = self._face(face, faces, align, up, forward, timings)
        clock = time.perf_counter()
        num_frames = audio_frame_count(len(samples), SAMPLE_RATE, fps)
        with torch.inference_mode():
            template_t = torch.as_tensor(template, dtype=torch.float32, device=self.device)
            regions = None
            if self.model.needs_regions:
                from scantalk.inference.regions import face_region_weights

                regions = torch.as_tensor(face_region_weights(template, mesh.faces, shipped_face_finder()),
                                          device=self.device)
            identity = self.model.encode_identity(template_t, ops, regions)
            features = self._windowed(self.model.audio_encoder, samples, num_frames, fps)
            motion = self.model.motion_from_features(features, emotion_index, strength)
            step = self._chunk(len(template))
            chunks = (self.model.decode(identity, motion[start:start + step], ops).float().cpu().numpy()
                      for start in range(0, num_frames, step))
            frames = self._frames(mesh, alignment, chunks, num_frames, out)
        timings["inference_s"] = time.perf_counter() - clock
        meta = {"checkpoint": self.checkpoint, "audio_file": audio_name, "face_file": mesh.source,
                "alignment": alignment.as_dict(), "emotion": emotion,
                "intensity": float(strength) if emotion is not None else None, "timings": timings}
        return Animation(frames, mesh.file_verts.astype(np.float32), mesh.file_faces, float(fps), samples,
                         SAMPLE_RATE, meta)

    def stream(
        self,
        face: str | Path | Mesh | np.ndarray | tuple[np.ndarray, np.ndarray | None],
        fps: float = 30.0,
        lookahead: float | None = None,
        faces: np.ndarray | None = None,
        align: str = "auto",
        up: str | None = None,
        forward: str | None = None,
        landmarks: Any = None,
        emotion: Any = None,
        intensity: float | None = None,
        life: float = 0.0,
        life_groups: Sequence[str] | None = None,
        life_seed: int = 0,
    ) -> AnimationStream:
        """A live animation of `face`: push audio chunks, get frames as soon as they are final.

        Args:
            face, faces, align, up, forward, landmarks: as in `animate`.
            fps: frames per second.
            lookahead: seconds of audio heard past a frame before it is given out (default
                `scantalk.inference.stream.DEFAULT_LOOKAHEAD`): shorter answers sooner, longer is
                more accurate; from 1 s, phrases are also heard as words once they end.
            emotion / intensity: one label or mix for the whole stream (see `animate_track`).
            life / life_groups / life_seed: as in `animate`, drawn live from what has been heard
                (`scantalk.life.stream`); 0 leaves the frames exactly as without.

        Returns:
            An `AnimationStream` (see `scantalk.inference.stream`): `push(chunk, sample_rate)` and
            `close()` return `StreamFrame`s (index, time, vertices (V, 3) in the file's order
            and units, articulation row, life row).
        """
        return AnimationStream(self, face, fps=fps, lookahead=DEFAULT_LOOKAHEAD if lookahead is None else lookahead,
                               faces=faces, align=align, up=up, forward=forward, landmarks=landmarks,
                               emotion=emotion, intensity=intensity, life=life, life_groups=life_groups,
                               life_seed=life_seed)

    def articulate(self, audio: str | Path | np.ndarray, fps: float = 30.0,
                   sample_rate: int | None = None) -> ArticulationTrack:
        """Speech → its `ArticulationTrack` (T, A) at `fps`, no face needed (articulated models).

        The track is what the face will do: named curves in [0, 1] (`channels`) that can be
        plotted, edited and saved (`save_csv`), then decoded onto any face with `animate_track`.
        """
        self._need_articulated("articulate")
        fps = check_fps(fps)
        samples, _ = self._audio(audio, sample_rate)
        return self._articulate(samples, fps)[0]

    def _articulate(self, samples: np.ndarray, fps: float) -> tuple[ArticulationTrack, list | None]:
        """(the track of 16 kHz `samples`, the phones the phonetic front end heard, or None)."""
        with torch.inference_mode():
            return self.model.speech_track(samples, fps, window_seconds=self.window_seconds,
                                           overlap_seconds=self.overlap_seconds)

    def animate_track(
        self,
        face: str | Path | Mesh | np.ndarray | tuple[np.ndarray, np.ndarray | None],
        track: ArticulationTrack | str | Path,
        audio: str | Path | np.ndarray | None = None,
        sample_rate: int | None = None,
        faces: np.ndarray | None = None,
        align: str = "auto",
        up: str | None = None,
        forward: str | None = None,
        out: str | Path | None = None,
        fps: float | None = None,
        emotion: Any = None,
        intensity: float | None = None,
        landmarks: Any = None,
        life: Any = None,
    ) -> Animation:
        """Decode an articulation track (e.g. one you edited) onto any face → `Animation`.

        Args:
            face: as in `animate`.
            track: an `ArticulationTrack`, or the path of one saved as .csv / .json.
            audio: optional speech to keep with the animation (path, or samples with
                `sample_rate`); it is not used to move the face.
            out: stream frames to this `.npy` (see `animate`).
            fps: resample the track to this frame rate first (default: the track's own).
            emotion / intensity: an expression over the speech (needs the `emotion` package): a
                label ("happy"), a mix ({"happy": 0.6, "pleased": 0.3}) at `intensity` in [0, 1]
                (default 1), or keyframes [(time_s, label or mix, intensity), ...] eased smoothly
                from one to the next (held before the first and after the last).
            landmarks: override the landmarks the rig is placed from (see `animate`).
            life: a `LifeTrack` (or the path of one saved as .csv): blinks, gaze, brows and head
                motion over the speech, resampled to the track's frames (see `scantalk.life`).

        Returns:
            The `Animation` at the track's fps, with `animation.articulation` = the track;
            `meta["landmarks"]` holds the points used (file coordinates) and the mouth slit found.
        """
        self._need_articulated("animate_track")
        if not isinstance(track, ArticulationTrack):
            track = ArticulationTrack.load(track)
        if fps is not None and float(fps) != track.fps:
            track = track.resample(check_fps(fps))
        track = _matching_channels(track, tuple(self.model.config.channels))
        samples = np.zeros(0, np.float32)
        if audio is not None:
            samples, _ = self._audio(audio, sample_rate)
            seconds = len(samples) / SAMPLE_RATE
            # A track made from this speech lasts as long as it (within a frame or two).
            if abs(seconds - track.num_frames / track.fps) > max(0.1, 2.0 / track.fps):
                name = audio if isinstance(audio, (str, Path)) else "the audio"
                raise ScanTalkError(f"the track lasts {track.num_frames / track.fps:.2f} s but {name} lasts "
                                    f"{seconds:.2f} s; give the speech the track was made from (or trim one to "
                                    "the other)")
        provider = self._expressions(emotion, intensity)
        given = None if landmarks is None else read_landmarks(landmarks)
        if life is not None:
            from scantalk.life import LifeTrack

            life = life if isinstance(life, LifeTrack) else LifeTrack.load_csv(life)
            life = life.resample(track.fps, track.num_frames)
        timings: dict[str, float] = {}
        mesh, template, alignment, ops = self._face(face, faces, align, up, forward, timings)
        clock = time.perf_counter()
        with torch.inference_mode():
            head, basis = self._rig(template, ops, alignment, given)
            life_rig = None
            if life is not None:
                if head is None:
                    raise ScanTalkError(f"life= needs a model that places its rig from the face's landmarks; "
                                        f"{self.checkpoint} predicts its motion basis directly")
                from scantalk.life import LifeRig

                life_rig = LifeRig.of(head)
            values = torch.as_tensor(track.values, dtype=torch.float32, device=self.device)
            expression = expression_basis = None
            if provider is not None:
                weights = expression_track(self._expression_weights(provider, values), emotion, intensity,
                                           len(values), track.fps)
                expression = torch.as_tensor(weights, dtype=torch.float32, device=self.device)
                # Speech owns the lip gap; the expression shapes everything else (see speech_owned_lips).
                owned = speech_owned_lips(provider.basis(head), basis[:, 0].cpu().numpy(), head)
                expression_basis = torch.as_tensor(owned, dtype=torch.float32, device=self.device)
            step = self._chunk(len(template))

            def motion(start: int) -> np.ndarray:
                chunk = self.model.displacement(basis, sealed(values[start:start + step]))
                if expression is not None:
                    chunk = chunk + torch.einsum("tu,vuc->tvc", expression[start:start + step], expression_basis)
                if life_rig is not None:
                    return life_rig.displace(template, chunk.cpu().numpy(), life.values[start:start + step])
                return chunk.cpu().numpy()

            chunks = (motion(start) for start in range(0, len(values), step))
            frames = self._frames(mesh, alignment, chunks, len(values), out)
        timings["inference_s"] = time.perf_counter() - clock
        meta = {"checkpoint": self.checkpoint, "audio_file": str(audio) if isinstance(audio, (str, Path)) else None,
                "face_file": mesh.source, "alignment": alignment.as_dict(), "emotion": emotion,
                "intensity": intensity, "timings": timings}
        if head is not None:
            meta["landmarks"] = face_landmarks_record(head, alignment, given)
        return Animation(frames, mesh.file_verts.astype(np.float32), mesh.file_faces, float(track.fps), samples,
                         SAMPLE_RATE, meta, articulation=track,
                         fit=FaceFit(mesh, template, alignment, head, basis.cpu().numpy()), life=life)

    def fit_face(
        self,
        face: str | Path | Mesh | np.ndarray | tuple[np.ndarray, np.ndarray | None],
        faces: np.ndarray | None = None,
        align: str = "auto",
        up: str | None = None,
        forward: str | None = None,
        landmarks: Any = None,
    ) -> FaceFit:
        """How the articulated model sees a face: aligned, its landmarks found, its motion basis.

        The first steps of `animate_track`, for looking at what the model found on a scan or
        for reading motion on it (the emotion head's training does).

        Args:
            face, faces, align, up, forward, landmarks: as in `animate`.
        """
        self._need_articulated("fit_face")
        given = None if landmarks is None else read_landmarks(landmarks)
        mesh, template, alignment, ops = self._face(face, faces, align, up, forward, {})
        with torch.inference_mode():
            head, basis = self._rig(template, ops, alignment, given)
        return FaceFit(mesh, template, alignment, head, basis.cpu().numpy())

    def _rig(self, template: np.ndarray, ops: Any, alignment: Alignment | None = None,
             given: dict[str, np.ndarray] | None = None) -> tuple[Head | None, torch.Tensor]:
        """The face with its landmarks (found, with the `given` points in file coordinates put in
        their place; None for the "basis" decoder) and its motion basis (V, B, 3)."""
        template_t = torch.as_tensor(template, dtype=torch.float32, device=self.device)
        if self.model.config.decoder == "basis":
            if given:
                raise ScanTalkError(f"landmarks= needs a model that places its rig from landmarks; {self.checkpoint} "
                                    "predicts its motion basis directly")
            return None, self.model.basis(template_t, ops, operators=self._operators)
        head = self.model.face_head(template_t, ops, operators=self._operators)
        if given:
            points = {name: alignment.to_model(point) for name, point in given.items()}
            placed = merged(head.landmarks, points)
            head = Head(head.verts, head.faces, placed, head.name, parts=eyeball_parts(head.verts, head.faces, placed))
        if not given or not set(MOUTH_LANDMARKS) <= set(given):
            # Coarse to fine: the network's mouth, moved onto the slit the surface shows if it missed it.
            head, _ = mouth_on_slit(head, head_slit(head))
        problems = implausible(head.landmarks, head.verts)
        if problems:
            which = "the landmarks given on this mesh do" if given else "the face found on this mesh does"
            raise FaceNotFoundError(f"{which} not look like a face: {'; '.join(problems)}. Check the "
                                    "orientation (pass up=/forward=, --up/--forward) or give the landmarks yourself "
                                    "(landmarks=, --landmarks: see `scantalk landmarks FACE -o DIR`)")
        slit = head_slit(head)
        if slit.kind == "fused":
            warnings.warn("the face's lips are one surface (fused, as in many scans): the mouth will stretch rather "
                          "than open; cut a slit along the lip line first (scantalk.rig.slit.cut_slit)",
                          RuntimeWarning, stacklevel=3)
        return head, self.model.basis(template_t, ops, operators=self._operators, head=head)

    def _expression_weights(self, provider: Any, articulation: torch.Tensor) -> Callable[[Any, float], np.ndarray]:
        """(emotion or mix, intensity) → activations: the model's emotion head reading the
        articulation track when it has one, else the provider's own table."""
        head = getattr(self.model, "expression_head", None)
        if head is None:
            return provider.weights
        units, labels = tuple(self.model.config.expression_units), tuple(self.model.config.emotion_labels)
        if tuple(provider.units) != units:
            raise ScanTalkError(f"this model's emotion head drives the units {list(units)}, but the installed "
                                f"expression provider has {list(provider.units)}; install the `emotion` package "
                                "version the model was trained with")

        def weights_of(emotion: Any, level: float) -> np.ndarray:
            shares = torch.as_tensor(emotion_shares(emotion, labels), dtype=torch.float32, device=self.device)
            count = len(articulation)
            strength = torch.full((count,), intensity_value(level), dtype=torch.float32, device=self.device)
            return head(shares.expand(count, -1), strength, articulation).cpu().numpy()

        return weights_of

    def _expressions(self, emotion: Any, intensity: float | None) -> Any:
        """The expression provider for `emotion=` on an articulated model, or None without emotion."""
        if emotion is None:
            if intensity is not None:
                raise ScanTalkError("intensity was given without an emotion: pass emotion='happy' (for example) too")
            return None
        if self.model.config.decoder != "landmarks":
            raise ScanTalkError(f"emotion={emotion!r} needs a model that finds the face's landmarks "
                                f"(decoder='landmarks'); {self.checkpoint} predicts its motion basis directly")
        providers = plugin_expressions()
        if not providers:
            raise ScanTalkError("emotions need the `emotion` package (FACS action units), which is not installed; "
                                "install this project with its `emotion` package, or drop emotion=")
        return resolve(next(iter(providers.values())))()

    def _need_articulated(self, what: str) -> None:
        if not self.articulated:
            raise ScanTalkError(f"{what} needs a model that speaks through an articulation track (an "
                                f"ArticulatedTalker); {self.checkpoint} is an end-to-end ScanTalk model")

    def _face(self, face: Any, faces: np.ndarray | None, align: str, up: str | None, forward: str | None,
              timings: dict[str, float]):
        """(mesh, template (V, 3) in the model frame, alignment, operators on the device)."""
        clock = time.perf_counter()
        mesh = self._mesh(face, faces)
        timings["load_face_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        anchor = getattr(getattr(self.model, "config", None), "align_anchor", "bbox")
        template, alignment = aligned_template(mesh.verts, align, up, forward, self.reference_center,
                                               name=mesh.source or "face", anchor=anchor, faces=mesh.faces)
        try:
            ops = self._operators(template, mesh.faces)
        except MeshError as error:
            # Geometry errors describe the surface; the user also needs to know which input it was.
            if mesh.source and mesh.source not in str(error):
                raise MeshError(f"{mesh.source}: {error}") from error
            raise
        timings["operators_s"] = time.perf_counter() - clock
        return mesh, template, alignment, ops

    def _frames(self, mesh: Mesh, alignment: Any, chunks: Iterator[np.ndarray], num_frames: int,
                out: str | Path | None) -> np.ndarray | FrameStore:
        """Model-frame displacement chunks (t, V, 3) metres → frames in the file's order and units."""
        to_file = file_frames(mesh, alignment)
        if out is None:
            frames = np.empty((num_frames, len(mesh.file_verts), 3), np.float32)
            start = 0
            for chunk in chunks:
                frames[start:start + len(chunk)] = to_file(chunk)
                start += len(chunk)
            return frames
        with FrameWriter(out, num_frames, len(mesh.file_verts)) as writer:
            for chunk in chunks:
                writer.write(to_file(chunk))
        return writer.store()

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
            return load_audio(audio, SAMPLE_RATE), str(audio)
        if sample_rate is None:
            raise ScanTalkError("audio given as an array needs its sample_rate (Hz), e.g. sample_rate=16000")
        return prepare_audio(np.asarray(audio), sample_rate, SAMPLE_RATE), None

    def _emotion(self, emotion: str | None, intensity: float | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if emotion is None:
            if intensity is not None:
                raise ScanTalkError("intensity was given without an emotion: pass emotion='happy' (for example) too")
            return None, None
        head = getattr(self.model, "emotion", None)
        if head is None:
            raise ScanTalkError(
                f"this model ({self.checkpoint}) has no emotion head, so emotion={emotion!r} cannot be used; "
                "use a checkpoint trained with experiments/configs/emotional.yaml, or drop the emotion"
            )
        index = head.label_index(emotion)
        value = head.check_intensity(1.0 if intensity is None else intensity)
        return torch.tensor(index, device=self.device), torch.tensor(value, dtype=torch.float32, device=self.device)

    def _operators(self, template: np.ndarray, faces: np.ndarray | None):
        if self.cache is not None:
            ops = self.cache.get_or_compute(template, faces, self.model.k_eig)
        else:
            from scantalk.geometry import compute_operators

            ops = compute_operators(template, faces, self.model.k_eig)
        return ops.to(self.device)

    def _windowed(self, encode: Callable[[torch.Tensor, int], torch.Tensor], samples: np.ndarray,
                  num_frames: int, fps: float) -> torch.Tensor:
        """`encode(audio, frames)` → (T, D) over the whole clip (`scantalk.audio.windows.windowed`)."""
        return windowed(encode, samples, num_frames, fps, self.window_seconds, self.overlap_seconds, self.device)


@lru_cache(maxsize=1)
def shipped_face_finder() -> Animator:
    """The shipped articulated model, loaded once: it finds the face on any mesh for models that
    cannot (an end-to-end model that hears the face's regions, `scantalk.inference.regions`)."""
    return Animator.from_checkpoint(None, cache_dir=False)


def _matching_channels(track: ArticulationTrack, channels: tuple[str, ...]) -> ArticulationTrack:
    """The track with exactly the model's channels, in its order (missing channels are an error)."""
    missing = [name for name in channels if name not in track.channels]
    if missing:
        raise ScanTalkError(f"the articulation track lacks the channels {missing} this model decodes "
                            f"(it has {list(track.channels)}); add them, e.g. as zeros")
    if tuple(track.channels) == channels:
        return track
    return ArticulationTrack(track.array(channels), track.fps, channels)


def _open_cache(cache_dir: str | Path | None) -> OperatorCache | None:
    """The operator cache, or None (with a warning) when its path cannot be a cache at all."""
    try:
        return OperatorCache(cache_dir or default_cache_dir())
    except CacheError as error:
        # Caching only saves time: animating must still work without it.
        warnings.warn(f"{error} Continuing without the operator cache.", RuntimeWarning, stacklevel=3)
        return None


def face_landmarks_record(head: Head, alignment: Alignment, given: dict | None = None) -> dict:
    """`landmarks.json`'s content for a face the rig was placed on: its points in the file's
    coordinates, which of them the user gave, the mouth slit and the alignment."""
    record = landmarks_record(alignment.to_file(head.landmarks.as_array()), head_slit(head).describe(),
                              alignment.as_dict())
    record["given"] = sorted(given or {})
    return record
