"""`Animation`: an animated face in the user's terms (file vertex order and units) and its exports."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from scantalk.atomic import atomic_path, atomic_save_npy, atomic_write_bytes, atomic_write_text
from scantalk.errors import OutputExistsError, ScanTalkError

MESH_FORMATS = ("ply", "obj")


@dataclass
class Animation:
    """frames (T, V, 3) float32 in the input file's vertex order and units · neutral (V, 3) the
    input face · faces (F, 3) int64 or None (point cloud) · fps · audio (N,) float32 at
    sample_rate · meta: what produced it (checkpoint, audio file, alignment...)."""

    frames: np.ndarray
    neutral: np.ndarray
    faces: np.ndarray | None
    fps: float
    audio: np.ndarray
    sample_rate: int = 16000
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def displacements(self) -> np.ndarray:
        """(T, V, 3) motion relative to the neutral face, in the file's units."""
        return self.frames - self.neutral[None]

    def metadata(self) -> dict[str, Any]:
        return {"fps": self.fps, "num_frames": self.num_frames, "num_vertices": int(self.frames.shape[1]),
                "sample_rate": self.sample_rate, **self.meta}

    def save(self, out_dir: str | Path, overwrite: bool = False) -> Path:
        """Write animation.npy, meta.json, neutral.npy, faces.npy (meshes) and audio.wav.

        Each file is written atomically; an existing animation.npy is kept unless `overwrite`.
        """
        out_dir = Path(out_dir)
        if (out_dir / "animation.npy").exists() and not overwrite:
            raise OutputExistsError(f"{out_dir} already holds an animation; pass overwrite=True (--overwrite) "
                                    "or choose another output folder")
        atomic_save_npy(out_dir / "animation.npy", self.frames.astype(np.float32))
        atomic_save_npy(out_dir / "neutral.npy", self.neutral.astype(np.float32))
        if self.faces is not None:
            atomic_save_npy(out_dir / "faces.npy", self.faces.astype(np.int64))
        with atomic_path(out_dir / "audio.wav") as tmp:
            sf.write(tmp, self.audio, self.sample_rate, subtype="PCM_16", format="WAV")
        atomic_write_text(out_dir / "meta.json", json.dumps(self.metadata(), indent=2, default=str))
        return out_dir

    @classmethod
    def load(cls, directory: str | Path) -> "Animation":
        """Read back a folder written by `save` (or `scantalk animate`)."""
        directory = Path(directory)
        if not (directory / "animation.npy").is_file() or not (directory / "meta.json").is_file():
            raise ScanTalkError(f"{directory} is not an animation folder (animation.npy and meta.json expected); "
                                "create one with `scantalk animate`")
        meta = json.loads((directory / "meta.json").read_text())
        faces_path = directory / "faces.npy"
        audio, rate = sf.read(directory / "audio.wav", dtype="float32") if (directory / "audio.wav").exists() else (np.zeros(0, np.float32), 16000)
        frames = np.load(directory / "animation.npy", allow_pickle=False)
        neutral_path = directory / "neutral.npy"
        neutral = np.load(neutral_path, allow_pickle=False) if neutral_path.exists() else frames[0]
        known = {"fps", "num_frames", "num_vertices", "sample_rate"}
        return cls(frames, neutral, np.load(faces_path, allow_pickle=False) if faces_path.exists() else None,
                   float(meta["fps"]), audio, int(rate), {k: v for k, v in meta.items() if k not in known})

    def to_video(self, path: str | Path, resolution: int = 512, compare: str | np.ndarray | None = None,
                 progress: bool = True) -> Path:
        """Render an H.264 .mp4 with the speech as AAC audio.

        compare: None (the animation alone), "neutral" (neutral | animated side by side) or frames
        (T, V, 3) shown on the left (e.g. ground truth | prediction).
        """
        from scantalk.render import render_animation

        left = None
        if isinstance(compare, str):
            if compare != "neutral":
                raise ScanTalkError(f"compare must be 'neutral' or an array of frames, got {compare!r}")
            left = np.broadcast_to(self.neutral, self.frames.shape)
        elif compare is not None:
            left = np.asarray(compare, dtype=np.float32)
        render_animation(self.frames, self.faces, path, fps=self.fps, audio=self.audio,
                         sample_rate=self.sample_rate, resolution=resolution, compare=left, progress=progress)
        return Path(path)

    def export_meshes(self, out_dir: str | Path, fmt: str = "ply") -> list[Path]:
        """One mesh (or point cloud) per frame, `frame_00000.<fmt>`, in the file's vertex order."""
        if fmt not in MESH_FORMATS:
            raise ScanTalkError(f"mesh export format must be one of {MESH_FORMATS}, got {fmt!r}")
        out_dir = Path(out_dir)
        paths = []
        for index, frame in enumerate(self.frames):
            path = out_dir / f"frame_{index:05d}.{fmt}"
            atomic_write_bytes(path, _mesh_bytes(frame, self.faces, fmt))
            paths.append(path)
        return paths

    def export_pc2(self, path: str | Path) -> Path:
        """Blender/3ds Max point cache (.pc2): the animation applied to the original scan's vertices."""
        header = struct.pack("<12siiffi", b"POINTCACHE2\0", 1, self.frames.shape[1], 0.0, 1.0, self.num_frames)
        atomic_write_bytes(path, header + np.ascontiguousarray(self.frames, dtype="<f4").tobytes())
        return Path(path)


def read_pc2(path: str | Path) -> np.ndarray:
    """Frames (T, V, 3) float32 from a .pc2 point cache."""
    data = Path(path).read_bytes()
    magic, _, points, _, _, samples = struct.unpack("<12siiffi", data[:32])
    if magic != b"POINTCACHE2\0":
        raise ScanTalkError(f"{path} is not a .pc2 point cache")
    return np.frombuffer(data[32:], dtype="<f4").reshape(samples, points, 3).copy()


def _mesh_bytes(verts: np.ndarray, faces: np.ndarray | None, fmt: str) -> bytes:
    """A frame as ASCII .obj or binary .ply (float32 positions, file vertex order kept)."""
    if fmt == "obj":
        lines = [f"v {x:.7g} {y:.7g} {z:.7g}" for x, y, z in verts]
        if faces is not None:
            lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
        return ("\n".join(lines) + "\n").encode()
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(verts)}",
              "property float x", "property float y", "property float z"]
    body = np.ascontiguousarray(verts, dtype="<f4").tobytes()
    if faces is not None:
        header += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
        records = np.zeros(len(faces), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
        records["n"], records["idx"] = 3, faces
        body += records.tobytes()
    return ("\n".join(header + ["end_header"]) + "\n").encode() + body
