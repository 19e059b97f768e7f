"""`Animation`: an animated face in the user's terms (file vertex order and units) and its exports."""

from __future__ import annotations

import json
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from scantalk.atomic import atomic_path, atomic_save_npy, atomic_write_text, staged_output_dir
from scantalk.audio.io import SAMPLE_RATE
from scantalk.errors import AnimationError, ScanTalkError
from scantalk.frames import MAX_FPS, MIN_FPS, FrameStore, FrameWriter, frame_chunks, load_npy
from scantalk.geometry import formats

MESH_FORMATS = ("ply", "obj")
# meta.json's "kind": how a later `--overwrite` recognises a folder this tool wrote.
ANIMATION_KIND = "scantalk.inference.animation"
# Everything `scantalk animate` may write; a folder with anything else is not replaced.
OUTPUT_ENTRIES = frozenset({"animation.npy", "meta.json", "neutral.npy", "faces.npy", "audio.wav",
                            "animation.mp4", "animation.pc2", "meshes", "articulation.csv", "articulation.json",
                            "animation.glb", "animation.usdc", "animation.usda", "arkit.csv", "arkit.json",
                            "landmarks.json", "landmarks.png", "life.csv"})
# Frame files up to this size are read into memory by `Animation.load`; larger ones are read
# a frame or a chunk at a time (`FrameStore`).
LOAD_IN_MEMORY_BYTES = 512 << 20


def is_animation_dir(path: str | Path) -> bool:
    """Whether `path` is a previous animation output: our meta.json, and only files we write.

    Folders from before the kind tag are recognised by animation.npy plus a meta.json with fps
    and num_frames.
    """
    path = Path(path)
    try:
        names = {entry.name for entry in path.iterdir()}
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(meta, dict) or not names <= OUTPUT_ENTRIES:
        return False
    legacy = "animation.npy" in names and {"fps", "num_frames"} <= meta.keys()
    return meta.get("kind") == ANIMATION_KIND or legacy


def check_fps(fps: float) -> float:
    """`fps` as a float if it is a usable animation frame rate (MIN_FPS to MAX_FPS), else ScanTalkError."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise ScanTalkError(f"fps must be a number of frames per second, got {fps!r}") from None
    if not MIN_FPS <= value <= MAX_FPS:
        raise ScanTalkError(f"fps {fps!r} is outside {MIN_FPS:g}-{MAX_FPS:g} frames per second; "
                            "use e.g. 25, 30 or 60")
    return value


def _read_meta(path: Path) -> dict[str, Any]:
    """meta.json as a dict with a usable fps, or AnimationError naming the problem."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnimationError(f"{path} is not valid JSON ({error}); re-create the folder with `scantalk animate`, "
                             "or fix the file") from error
    if not isinstance(meta, dict):
        raise AnimationError(f"{path} must hold a JSON object, not {type(meta).__name__}")
    fps = meta.get("fps")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < float("inf"):
        raise AnimationError(f"{path} has no positive 'fps' (got {fps!r}); add e.g. \"fps\": 30 to it")
    if not MIN_FPS <= fps <= MAX_FPS:
        raise AnimationError(f"{path} gives fps {fps!r}, outside {MIN_FPS:g}-{MAX_FPS:g}; set \"fps\" to the "
                             "animation's real frame rate, e.g. 30")
    meta["fps"] = float(fps)
    return meta


def _read_array(path: Path, what: str) -> np.ndarray:
    """An .npy file (no pickles), or AnimationError for a truncated or foreign file."""
    try:
        return load_npy(path)
    except (OSError, ValueError, EOFError) as error:
        raise AnimationError(f"{path} ({what}) is truncated or not a numpy array ({error}); "
                             "re-create the folder with `scantalk animate`") from error


@dataclass
class Animation:
    """frames (T, V, 3) float32 in the input file's vertex order and units (an array, or a
    `FrameStore` on disk for animations too long for memory) · neutral (V, 3) the input face ·
    faces (F, 3) int64 or None (point cloud) · fps · audio (N,) float32 at sample_rate · meta:
    what produced it (checkpoint, audio file, alignment...) · articulation: the
    `ArticulationTrack` (T, A) the frames were decoded from, for models that use one · fit: how
    an articulated model saw the face (`scantalk.inference.animator.FaceFit`: landmarks, motion basis; its
    `save_landmarks` writes landmarks.json and landmarks.png), not saved with the files · life:
    the `LifeTrack` (T, C) of blinks, gaze, brows and head motion added, when there is one."""

    frames: np.ndarray
    neutral: np.ndarray
    faces: np.ndarray | None
    fps: float
    audio: np.ndarray
    sample_rate: int = SAMPLE_RATE
    meta: dict[str, Any] = field(default_factory=dict)
    articulation: Any = None
    fit: Any = field(default=None, repr=False, compare=False)
    life: Any = None

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def displacements(self) -> np.ndarray:
        """(T, V, 3) motion relative to the neutral face, in the file's units."""
        return np.asarray(self.frames) - self.neutral[None]

    def metadata(self) -> dict[str, Any]:
        """What meta.json holds: the kind tag that marks our folders, fps, counts and `meta`."""
        return {"kind": ANIMATION_KIND, "fps": self.fps, "num_frames": self.num_frames, "num_vertices": int(self.frames.shape[1]),
                "sample_rate": self.sample_rate, **self.meta}

    def save(self, out_dir: str | Path, overwrite: bool = False) -> Path:
        """Write the folder `out_dir`: animation.npy, meta.json, neutral.npy, faces.npy (meshes), audio.wav
        (and articulation.csv/.json, life.csv, landmarks.json/.png when the animation has them).

        The whole folder is built beside `out_dir` and swapped in at the end, so `out_dir` holds
        either the previous animation or the complete new one, never a mix (no stale faces.npy
        after saving a point cloud over a mesh). An existing non-empty folder is replaced only
        with `overwrite=True` and only if it is a previous animation folder.

        Args:
            out_dir: the folder to write (created with its parents).
            overwrite: replace a previous animation folder at `out_dir`.

        Returns:
            `out_dir` as a Path.
        """
        with staged_output_dir(out_dir, overwrite, is_animation_dir, what="animation folder") as staging:
            self.write_files(staging)
        return Path(out_dir)

    def write_files(self, directory: str | Path) -> Path:
        """Write the animation's files into the existing folder `directory` (each file atomically).

        `save` uses this on its staging folder; use it directly to add an animation to a folder
        you manage yourself (e.g. your own staging folder, as `scantalk animate` does).
        """
        directory = Path(directory)
        target = directory / "animation.npy"
        # Frames already streamed into this very file (`animate(..., out=...)`) stay as they are.
        if not (isinstance(self.frames, FrameStore) and self.frames.path.resolve() == target.resolve()):
            with FrameWriter(target, self.num_frames, int(self.frames.shape[1])) as writer:
                for chunk in frame_chunks(self.frames):
                    writer.write(chunk)
        if self.fit is not None and self.fit.head is not None:
            # The points the rig was placed from, in the file's coordinates, and a picture of
            # them: edit and pass back with `landmarks=` / `--landmarks` to correct one.
            self.fit.save_landmarks(directory, (self.meta.get("landmarks") or {}).get("given"))
        elif self.meta.get("landmarks"):
            atomic_write_text(directory / "landmarks.json", json.dumps(self.meta["landmarks"], indent=2))
        if self.articulation is not None:
            self.articulation.save_csv(directory / "articulation.csv")
            self.articulation.save_json(directory / "articulation.json")
        if self.life is not None:
            self.life.save_csv(directory / "life.csv")
        atomic_save_npy(directory / "neutral.npy", self.neutral.astype(np.float32))
        if self.faces is not None:
            atomic_save_npy(directory / "faces.npy", self.faces.astype(np.int64))
        with atomic_path(directory / "audio.wav") as tmp:
            sf.write(tmp, self.audio, self.sample_rate, subtype="PCM_16", format="WAV")
        atomic_write_text(directory / "meta.json", json.dumps(self.metadata(), indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "Animation":
        """Read back a folder written by `save` (or `scantalk animate`); AnimationError if it is broken."""
        directory = Path(directory)
        if not (directory / "animation.npy").is_file() or not (directory / "meta.json").is_file():
            raise AnimationError(f"{directory} is not an animation folder (animation.npy and meta.json expected); "
                                 "create one with `scantalk animate`")
        meta = _read_meta(directory / "meta.json")
        frames_path = directory / "animation.npy"
        if frames_path.stat().st_size > LOAD_IN_MEMORY_BYTES:
            frames = FrameStore(frames_path)
        else:
            frames = _read_array(frames_path, "animation")
        if frames.ndim != 3 or frames.shape[-1] != 3 or len(frames) == 0:
            raise AnimationError(f"{directory / 'animation.npy'} has shape {frames.shape}, not (T, V, 3) frames; "
                                 "re-create the folder with `scantalk animate`")
        neutral_path, faces_path = directory / "neutral.npy", directory / "faces.npy"
        neutral = _read_array(neutral_path, "neutral face") if neutral_path.exists() else frames[0]
        if neutral.shape != frames.shape[1:]:
            raise AnimationError(f"{neutral_path} has shape {neutral.shape} but the frames have "
                                 f"{frames.shape[1]} vertices; re-create the folder with `scantalk animate`")
        faces = _read_array(faces_path, "faces") if faces_path.exists() else None
        if faces is not None and (faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer)
                                  or (faces.size and (faces.min() < 0 or faces.max() >= frames.shape[1]))):
            raise AnimationError(f"{faces_path} is not (F, 3) vertex indices below {frames.shape[1]}; "
                                 "re-create the folder with `scantalk animate`")
        audio, rate = np.zeros(0, np.float32), SAMPLE_RATE
        if (directory / "audio.wav").exists():
            try:
                audio, rate = sf.read(directory / "audio.wav", dtype="float32")
            except (sf.LibsndfileError, RuntimeError, OSError) as error:
                raise AnimationError(f"{directory / 'audio.wav'} is unreadable ({error}); delete it to render "
                                     "without sound, or re-create the folder") from error
        articulation = None
        if (directory / "articulation.csv").is_file():
            from scantalk.articulation import ArticulationTrack

            articulation = ArticulationTrack.load_csv(directory / "articulation.csv")
        life = None
        if (directory / "life.csv").is_file():
            from scantalk.life import LifeTrack

            life = LifeTrack.load_csv(directory / "life.csv")
        known = {"fps", "num_frames", "num_vertices", "sample_rate", "kind"}
        return cls(frames, neutral, faces, meta["fps"], audio, int(rate),
                   {k: v for k, v in meta.items() if k not in known}, articulation, life=life)

    def to_video(self, path: str | Path, resolution: int = 512, compare: str | np.ndarray | None = None,
                 progress: bool = True, mouth_closeup: bool = False) -> Path:
        """Render an H.264 .mp4 with the speech as AAC audio.

        Args:
            path: the .mp4 to write.
            resolution: pixels per side of each square panel.
            compare: None (the animation alone), "neutral" (neutral | animated side by side) or
                frames (T, V, 3) shown on the left (e.g. ground truth | prediction).
            progress: show a progress bar.
            mouth_closeup: add a panel on the right framed on the mouth, found from
                `meta["landmarks"]` (what `landmarks.json` holds, file coordinates) when
                present, else from the motion.

        Returns:
            `path`. The camera faces the face along `meta["alignment"]["rotation"]` when the
            animation has one (a face stored z-up is still seen from the front).
        """
        from scantalk.render import mouth_from_landmarks, render_animation

        closeup: Any = bool(mouth_closeup)
        if mouth_closeup and self.meta.get("landmarks") is not None:
            try:
                closeup = mouth_from_landmarks(self.meta["landmarks"])
            except ScanTalkError as error:
                warnings.warn(f"meta['landmarks'] is unusable ({error}); framing the mouth by its motion instead.",
                              stacklevel=2)
        alignment = self.meta.get("alignment")
        rotation = alignment.get("rotation") if isinstance(alignment, dict) else None
        left = None
        if isinstance(compare, str):
            if compare != "neutral":
                raise ScanTalkError(f"compare must be 'neutral' or an array of frames, got {compare!r}")
            left = np.broadcast_to(self.neutral, self.frames.shape)
        elif compare is not None:
            left = np.asarray(compare, dtype=np.float32)
        render_animation(self.frames, self.faces, path, fps=self.fps, audio=self.audio if len(self.audio) else None,
                         sample_rate=self.sample_rate, resolution=resolution, compare=left, progress=progress,
                         closeup=closeup, rotation=rotation)
        return Path(path)

    def export_meshes(self, out_dir: str | Path, fmt: str = "ply") -> list[Path]:
        """One mesh (or point cloud) per frame, `frame_00000.<fmt>`, in the file's vertex order."""
        if fmt not in MESH_FORMATS:
            raise ScanTalkError(f"mesh export format must be one of {MESH_FORMATS}, got {fmt!r}")
        out_dir = Path(out_dir)
        paths = []
        write = {"ply": lambda p, v, f: formats.write_ply(p, v, f, dtype="<f4"),
                 "obj": lambda p, v, f: formats.write_obj(p, v, f, digits=9)}[fmt]
        for index, frame in enumerate(self.frames):
            path = out_dir / f"frame_{index:05d}.{fmt}"
            with atomic_path(path) as tmp:
                write(tmp, np.asarray(frame, dtype=np.float32), self.faces)
            paths.append(path)
        return paths

    def export_pc2(self, path: str | Path) -> Path:
        """Blender/3ds Max point cache (.pc2): the animation applied to the original scan's vertices.

        Written a chunk of frames at a time, so any length fits in bounded memory."""
        header = struct.pack("<12siiffi", b"POINTCACHE2\0", 1, self.frames.shape[1], 0.0, 1.0, self.num_frames)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            handle.write(header)
            for chunk in frame_chunks(self.frames):
                handle.write(np.ascontiguousarray(chunk, dtype="<f4").tobytes())
        return Path(path)

    def export_gltf(self, path: str | Path, **options: Any):
        """glTF 2.0 (.glb) with morph targets and a weights animation; see `scantalk.export.export_gltf`."""
        from scantalk.export import export_gltf

        return export_gltf(self, path, **options)

    def export_usd(self, path: str | Path, **options: Any):
        """USD point cache (.usdc / .usda); see `scantalk.export.export_usd` (needs usd-core)."""
        from scantalk.export import export_usd

        return export_usd(self, path, **options)

    def export_arkit(self, path: str | Path, **options: Any) -> Path:
        """The articulation track as ARKit-named blendshape curves: .csv (Live Link Face layout) or
        .json; see `scantalk.export.arkit`. Needs an animation made by an articulated model."""
        if self.articulation is None:
            raise ScanTalkError("this animation has no articulation track (it was made by an end-to-end "
                                "ScanTalk model), so there are no ARKit curves to export")
        from scantalk.export import export_arkit_csv, export_arkit_json

        export = export_arkit_json if str(path).lower().endswith(".json") else export_arkit_csv
        return export(self.articulation, path, **{"life": self.life, **options})


def read_pc2(path: str | Path) -> np.ndarray:
    """Frames (T, V, 3) float32 from a .pc2 point cache."""
    data = Path(path).read_bytes()
    magic, _, points, _, _, samples = struct.unpack("<12siiffi", data[:32])
    if magic != b"POINTCACHE2\0":
        raise ScanTalkError(f"{path} is not a .pc2 point cache")
    return np.frombuffer(data[32:], dtype="<f4").reshape(samples, points, 3).copy()
