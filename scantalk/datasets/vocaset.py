"""VOCASET in its raw release layout (as downloaded from voca.is.tue.mpg.de).

    root/data_verts.npy          (N, 5023, 3) float32 metres, every captured frame at 60 fps
    root/subj_seq_to_idx.pkl     {subject: {sequence: {frame_index: row in data_verts}}}
    root/raw_audio_fixed.pkl     {subject: {sequence: {"audio": (S,) array, "sample_rate": int}}}
    root/templates.pkl           {subject: (5023, 3)}

The release has no faces; pass `template_mesh=` (FLAME's `FLAME_sample.ply`) to get them.
Listing reads only the two small pickles and the header of `data_verts.npy`. `load_frames`
memory-maps `data_verts.npy` and copies one sequence's rows; the audio pickle (a few hundred MB)
is read on the first `load_audio` of a process and kept for the next ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scantalk.datasets.masks import subject_masks
from scantalk.datasets.processed import npy_shape, read_template_file
from scantalk.datasets.safe_pickle import safe_load_pickle
from scantalk.datasets.sequence import SequenceRef
from scantalk.errors import DatasetError

RAW_FILES = ("data_verts.npy", "subj_seq_to_idx.pkl", "raw_audio_fixed.pkl", "templates.pkl")
CAPTURE_FPS = 60.0

# One audio pickle per process: {path: content}. Sequences of one dataset share it.
_AUDIO_CACHE: dict[str, Any] = {}


@dataclass
class VocasetRawRef(SequenceRef):
    """A raw-VOCASET sequence: rows `rows` (T,) of `verts_path`, audio in `audio_path`."""

    verts_path: str = field(kw_only=True)
    rows: np.ndarray = field(kw_only=True)
    audio_path: str = field(kw_only=True)

    def load_frames(self) -> np.ndarray:
        try:
            verts = np.load(self.verts_path, mmap_mode="r", allow_pickle=False)
            return np.asarray(verts[self.rows], dtype=np.float32)
        except (ValueError, OSError) as error:
            raise DatasetError(f"{self.verts_path}: cannot read frames of {self.key} ({error})") from error

    def load_audio(self) -> np.ndarray:
        from scantalk.audio.io import prepare_audio

        if self.audio_path not in _AUDIO_CACHE:
            _AUDIO_CACHE.clear()
            _AUDIO_CACHE[self.audio_path] = safe_load_pickle(self.audio_path)
        try:
            entry = _AUDIO_CACHE[self.audio_path][self.subject][self.name]
            audio, sample_rate = entry["audio"], int(entry["sample_rate"])
        except (KeyError, TypeError) as error:
            raise DatasetError(
                f"{self.audio_path}: no audio for {self.subject}/{self.name} "
                f"(expected {{subject: {{sequence: {{'audio', 'sample_rate'}}}}}})"
            ) from error
        return prepare_audio(np.asarray(audio), sample_rate, name=f"{self.audio_path} [{self.subject}/{self.name}]")


def read_vocaset_raw(
    root: str | Path,
    frame_step: int = 2,
    template_mesh: str | Path | None = None,
    lip_mask: str | Path | None = None,
    upper_mask: str | Path | None = None,
) -> list[VocasetRawRef]:
    """List every sequence of a raw VOCASET folder, sorted by (subject, sequence).

    frame_step: keep every `frame_step`-th captured frame (2: the field's 30 fps; fps is
    60 / frame_step). template_mesh: a FLAME-topology mesh file whose faces every sequence
    gets (its vertex count must be 5023). lip_mask / upper_mask: mask files for every subject
    (see `scantalk.datasets.masks`); otherwise `root/masks/` is searched.
    """
    root = Path(root)
    missing = [name for name in RAW_FILES if not (root / name).is_file()]
    if missing:
        raise DatasetError(f"{root}: raw VOCASET layout needs {list(RAW_FILES)}; missing {missing}")
    if int(frame_step) < 1:
        raise DatasetError(f"frame_step must be a positive integer, got {frame_step}")
    verts_path = root / "data_verts.npy"
    shape = npy_shape(verts_path)
    if len(shape) != 3 or shape[2] != 3:
        raise DatasetError(f"{verts_path}: expected an (N, V, 3) array of vertices, found shape {shape}")
    num_rows, num_vertices = shape[0], shape[1]

    index = safe_load_pickle(root / "subj_seq_to_idx.pkl")
    templates = safe_load_pickle(root / "templates.pkl")
    if not isinstance(index, dict) or not isinstance(templates, dict):
        raise DatasetError(f"{root}: subj_seq_to_idx.pkl and templates.pkl must each hold a dict keyed by subject")
    faces = None
    if template_mesh is not None:
        mesh_verts, faces = read_template_file(template_mesh)
        if mesh_verts.shape[0] != num_vertices:
            raise DatasetError(f"{template_mesh}: {mesh_verts.shape[0]} vertices, but {verts_path} has {num_vertices}")

    refs: list[VocasetRawRef] = []
    for subject in sorted(index, key=str):
        if subject not in templates:
            raise DatasetError(f"{root / 'templates.pkl'}: no template for subject '{subject}'")
        template = np.asarray(templates[subject], dtype=np.float32).reshape(-1, 3)
        if template.shape[0] != num_vertices:
            raise DatasetError(
                f"{root / 'templates.pkl'}: template of '{subject}' has {template.shape[0]} vertices, "
                f"data_verts.npy has {num_vertices}"
            )
        lips, upper = subject_masks(root, str(subject), num_vertices, lip_mask, upper_mask)
        for sequence in sorted(index[subject], key=str):
            frame_to_row = index[subject][sequence]
            rows = np.array([frame_to_row[frame] for frame in sorted(frame_to_row)], dtype=np.int64)[::frame_step]
            if rows.size == 0:
                continue
            if rows.min() < 0 or rows.max() >= num_rows:
                raise DatasetError(
                    f"{root / 'subj_seq_to_idx.pkl'}: {subject}/{sequence} points at rows up to {rows.max()}, "
                    f"but data_verts.npy has {num_rows}; the two files come from different releases"
                )
            refs.append(VocasetRawRef(
                subject=str(subject), name=str(sequence), dataset="vocaset", fps=CAPTURE_FPS / frame_step,
                template=template, faces=faces, lip_vertices=lips, upper_vertices=upper,
                verts_path=str(verts_path), rows=rows, audio_path=str(root / "raw_audio_fixed.pkl"),
            ))
    if not refs:
        raise DatasetError(f"{root / 'subj_seq_to_idx.pkl'}: lists no sequences")
    return refs
