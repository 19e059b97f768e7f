"""What every export shares: input checks, where the file goes, the report, and the export folder.

An export given a file path (`face.glb`, `face.usdc`) writes that one file. Given a folder
(a path without the format's suffix), it writes the file inside it plus `audio.wav` (the
speech) and `export.json` (fps, frame count, what produced the animation, the report), so a
DCC tool or engine gets everything it needs to play the face in sync with the voice.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from scantalk.atomic import atomic_path, atomic_write_text
from scantalk.errors import ExportError, OutputExistsError
from scantalk.frames import FrameStore, block_frames

EXPORT_INFO = "export.json"
AUDIO_FILE = "audio.wav"


@dataclass
class ExportReport:
    """What an export wrote and how faithful it is.

    Attributes:
        path: the main file written (.glb, .usda/.usdc, .csv, .json).
        format: "glb", "usda", "usdc", "arkit-csv" or "arkit-json".
        files: every file written, the main one first (audio.wav and export.json in folder mode).
        num_frames: T.
        num_vertices: V (0 for curve exports).
        fps: frames per second of the written animation.
        num_targets: morph targets / blend shapes stored (0 for point caches and curves).
        exact: True when every frame is stored as it is (per-frame targets or a point cache).
        max_error: largest per-vertex distance (metres in the written file) between the input
            frames and what the file plays back, over every frame and vertex.
        rms_error: root mean square of that distance (metres).
        bound: the bound asked for (metres), None for exact exports.
        bound_met: False when the rank cap stopped the factorisation above the bound.
        size_bytes: size of the main file.
        seconds: wall time of the export.
        notes: sentences a user should read (e.g. the cap was reached).
        rotation: (3, 3) as nested lists, the rotation applied to the file's coordinates so the
            face stands y up and looks along +z as glTF and USD stages say (identity for a face
            stored that way); x_written = rotation @ x_file · unit scale.
    """

    path: Path
    format: str
    files: list[Path] = field(default_factory=list)
    num_frames: int = 0
    num_vertices: int = 0
    fps: float = 0.0
    num_targets: int = 0
    exact: bool = True
    max_error: float = 0.0
    rms_error: float = 0.0
    bound: float | None = None
    bound_met: bool = True
    size_bytes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    rotation: list[list[float]] = field(default_factory=lambda: np.eye(3).tolist())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (paths as strings)."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["files"] = [str(path) for path in self.files]
        return data


def check_frames(frames: Any, neutral: Any, faces: Any, fps: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float]:
    """Validate an animation's arrays once, for every exporter.

    Args:
        frames: (T, V, 3) positions.
        neutral: (V, 3) rest positions.
        faces: (F, 3) vertex indices or None for a point cloud.
        fps: frames per second (> 0).

    Returns:
        frames float32, neutral float32, faces int64 or None, fps float.

    Raises:
        ExportError: a shape, value or index that cannot be exported, with what to do.
    """
    # A long animation's frames stay on disk (`FrameStore`): read by blocks, never whole.
    frames = frames if isinstance(frames, FrameStore) else np.asarray(frames)
    if frames.ndim != 3 or frames.shape[-1] != 3 or frames.shape[0] < 1 or frames.shape[1] < 1:
        raise ExportError(f"animation frames have shape {frames.shape}; expected (T, V, 3) with T ≥ 1 frames")
    neutral = np.asarray(neutral)
    if neutral.shape != frames.shape[1:]:
        raise ExportError(f"neutral face has shape {neutral.shape} but the frames have {frames.shape[1]} vertices; "
                          "pass the neutral of the same mesh")
    if not (all_finite(frames) and np.all(np.isfinite(neutral))):
        raise ExportError("animation holds NaN or infinite positions; fix the frames before exporting")
    if faces is not None:
        faces = np.asarray(faces)
        if (faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer)
                or (faces.size and (faces.min() < 0 or faces.max() >= frames.shape[1]))):
            raise ExportError(f"faces have shape {faces.shape}; expected (F, 3) vertex indices below "
                              f"{frames.shape[1]} (or None for a point cloud)")
        faces = faces.astype(np.int64)
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        fps = float("nan")
    if not (np.isfinite(fps) and fps > 0):
        raise ExportError(f"animation fps {fps!r} must be a positive number of frames per second")
    if not isinstance(frames, FrameStore):  # a store is float32 already
        frames = frames.astype(np.float32, copy=False)
    return frames, neutral.astype(np.float32, copy=False), faces, fps


def all_finite(frames: np.ndarray) -> bool:
    """True when every value of `frames` (T, V, 3) is finite, read a block of frames at a time."""
    step = block_frames(frames.shape[1])
    return all(np.isfinite(frames[start:start + step]).all() for start in range(0, len(frames), step))


def check_bound(max_error: Any, max_targets: Any) -> tuple[float, int]:
    """`max_error` (metres, > 0) and `max_targets` (≥ 1) as numbers, or ExportError."""
    try:
        bound, cap = float(max_error), int(max_targets)
    except (TypeError, ValueError):
        raise ExportError(f"max_error={max_error!r} and max_targets={max_targets!r} must be numbers") from None
    if not (np.isfinite(bound) and bound > 0):
        raise ExportError(f"max_error={max_error!r} must be a positive distance in metres, e.g. 1e-4 (0.1 mm)")
    if cap < 1:
        raise ExportError(f"max_targets={max_targets!r} must be at least 1 (or pass exact=True)")
    return bound, cap


def unit_scale_of(meta: dict[str, Any], unit_scale: float | None) -> float:
    """Metres per unit of the animation: `unit_scale` if given, else the alignment's guess, else 1."""
    if unit_scale is None:
        alignment = meta.get("alignment") if isinstance(meta, dict) else None
        unit_scale = alignment.get("scale", 1.0) if isinstance(alignment, dict) else 1.0
    try:
        scale = float(unit_scale)
    except (TypeError, ValueError):
        scale = float("nan")
    if not (np.isfinite(scale) and scale > 0):
        raise ExportError(f"unit_scale={unit_scale!r} must be the positive number of metres per unit "
                          "of the animation (1 for metres, 0.001 for millimetres)")
    return scale


def upright_rotation(meta: dict[str, Any], upright: bool) -> np.ndarray:
    """(3, 3) the rotation that stands the face y up, looking along +z: the alignment's (its
    file → model frame rotation, found or given with up=/forward=) when `upright`, else identity.
    Only the rotation is taken: the face keeps its place relative to the origin and its size."""
    alignment = meta.get("alignment") if isinstance(meta, dict) else None
    rotation = alignment.get("rotation") if isinstance(alignment, dict) and upright else None
    if rotation is None:
        return np.eye(3)
    rotation = np.asarray(rotation, dtype=np.float64)
    if rotation.shape != (3, 3) or not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-4):
        raise ExportError(f"meta['alignment']['rotation'] is not a rotation ({rotation.tolist()}); pass "
                          "upright=False to export in the file's own axes")
    return rotation


class PlacedFrames:
    """(T, V, 3) frames scaled and turned as they are read, never as a whole.

    An export of a long animation (often a memory map of tens of thousands of frames) reads it
    by frames or by vertex blocks; each read is scaled by `scale` and turned by `rotation`
    (x_written = rotation @ (x_file · scale), float32), so no transformed copy of the animation
    is ever held. Indexing must keep the last axis whole (`frames[i]`, `frames[rows, a:b]`).
    """

    def __init__(self, frames: np.ndarray, scale: float, rotation: np.ndarray):
        self.frames = frames
        self.scale = np.float32(scale)
        self.turn = rotation.T.astype(np.float32)
        self.shape = frames.shape
        self.dtype = np.dtype(np.float32)
        self.ndim = 3

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        picked = np.asarray(self.frames[index], np.float32)
        return ((picked * self.scale).astype(np.float32) @ self.turn).astype(np.float32)

    def __iter__(self):
        return (self[index] for index in range(len(self)))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)


def placed(frames: np.ndarray, neutral: np.ndarray, scale: float,
           rotation: np.ndarray) -> tuple[np.ndarray | PlacedFrames, np.ndarray]:
    """`frames` (T, V, 3) and `neutral` (V, 3) in the written file's units and axes: scaled by
    `scale` and turned by `rotation`. The frames come back as they are when nothing changes,
    else as `PlacedFrames`, read lazily; the neutral is transformed at once (float32)."""
    if scale == 1.0 and np.array_equal(rotation, np.eye(3)):
        return frames, neutral
    return PlacedFrames(frames, scale, rotation), PlacedFrames(neutral[None], scale, rotation)[0]


def resolve_destination(path: str | Path, suffixes: tuple[str, ...], default_name: str,
                        overwrite: bool) -> tuple[Path, Path | None]:
    """Where the main file goes, and the export folder (None when `path` names the file itself).

    Args:
        path: a file path ending in one of `suffixes`, or a folder.
        suffixes: the format's file suffixes, e.g. (".glb",).
        default_name: the main file's name inside a folder, e.g. "animation.glb".
        overwrite: allow replacing files this export writes.

    Raises:
        OutputExistsError: a file would be replaced without `overwrite=True`, or `path` is a file
            of another kind.
    """
    path = Path(path)
    if path.suffix.lower() in suffixes and not path.is_dir():
        targets, folder = [path], None
    else:
        if path.exists() and not path.is_dir():
            raise OutputExistsError(f"{path} is an existing file, not a {'/'.join(suffixes)} file or a folder; "
                                    f"name the output with {suffixes[0]} or pass a folder")
        folder = path
        targets = [folder / default_name, folder / AUDIO_FILE, folder / EXPORT_INFO]
    if not overwrite:
        existing = [str(target) for target in targets if target.exists()]
        if existing:
            raise OutputExistsError(f"{', '.join(existing)} already exist(s); pass overwrite=True (--overwrite) to "
                                    "replace them, or choose another output path")
    return targets[0], folder


def write_sidecars(folder: Path, audio: np.ndarray, sample_rate: int, report: ExportReport,
                   meta: dict[str, Any]) -> list[Path]:
    """Write `audio.wav` (when there is audio) and `export.json` into `folder`; returns their paths."""
    written = []
    audio = np.asarray(audio, np.float32).reshape(-1) if audio is not None else np.zeros(0, np.float32)
    if audio.size:
        with atomic_path(folder / AUDIO_FILE) as tmp:
            sf.write(tmp, audio, int(sample_rate), subtype="PCM_16", format="WAV")
        written.append(folder / AUDIO_FILE)
    info = {"kind": "scantalk.export", "format": report.format, "file": report.path.name,
            "fps": report.fps, "num_frames": report.num_frames,
            "audio": AUDIO_FILE if audio.size else None, "sample_rate": int(sample_rate) if audio.size else None,
            "source": meta, "report": {key: value for key, value in report.to_dict().items()
                                       if key not in ("path", "files")}}
    atomic_write_text(folder / EXPORT_INFO, json.dumps(info, indent=2, default=str))
    written.append(folder / EXPORT_INFO)
    return written


def finish(report: ExportReport, folder: Path | None, audio: np.ndarray | None, sample_rate: int,
           meta: dict[str, Any], started: float) -> ExportReport:
    """Fill size, time and files of `report`, writing the folder's sidecars when there is a folder."""
    report.size_bytes = report.path.stat().st_size
    report.files = [report.path]
    report.seconds = time.perf_counter() - started
    if folder is not None:
        report.files += write_sidecars(folder, audio, sample_rate, report, meta)
    return report
