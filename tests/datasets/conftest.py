"""Tiny datasets written in the exact layouts the real releases use (pickles of dicts of arrays)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile

GRID = (5, 6)  # template: a 5 x 6 vertex grid, V = 30
NUM_VERTICES = GRID[0] * GRID[1]
VOCASET_SUBJECTS = ["FaceTalk_170728_03272_TA", "FaceTalk_170811_03275_TA", "FaceTalk_170809_00138_TA"]
FRAME_OFFSET = 1e-3  # frame k of a sequence is its template moved by k * FRAME_OFFSET along x


def grid_template(shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(V, 3) float32 vertices and (F, 3) int64 faces of a triangulated grid (metres)."""
    rows, cols = GRID
    y, x = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    verts = np.stack([x.ravel() * 0.02 + shift, y.ravel() * 0.02, np.zeros(rows * cols)], axis=1).astype(np.float32)
    faces = []
    for r in range(rows - 1):
        for c in range(cols - 1):
            a, b, d, e = r * cols + c, r * cols + c + 1, (r + 1) * cols + c, (r + 1) * cols + c + 1
            faces += [[a, b, e], [a, e, d]]
    return verts, np.array(faces, dtype=np.int64)


def write_ply(path: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    lines = ["ply", "format ascii 1.0", f"element vertex {len(verts)}", "property float x", "property float y",
             "property float z", f"element face {len(faces)}", "property list uchar int vertex_indices", "end_header"]
    lines += [" ".join(f"{value:.6f}" for value in vertex) for vertex in verts]
    lines += ["3 " + " ".join(str(int(i)) for i in face) for face in faces]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def sequence_frames(template: np.ndarray, frame_indices: np.ndarray) -> np.ndarray:
    """(T, V, 3): frame k = template + k * FRAME_OFFSET along x, so a frame knows its index."""
    frames = np.repeat(template[None], len(frame_indices), axis=0).copy()
    frames[:, :, 0] += np.asarray(frame_indices, dtype=np.float32)[:, None] * FRAME_OFFSET
    return frames.astype(np.float32)


def write_raw_vocaset(root: Path, frames_per_sequence: int = 9, sequences: tuple[str, ...] = ("sentence01", "sentence02")) -> dict:
    """VOCASET raw release layout: data_verts.npy + subj_seq_to_idx / raw_audio_fixed / templates pickles.

    Rows of data_verts.npy are stored in reverse order per sequence and frame indices start at 1,
    as nothing in the format promises contiguous, ordered rows.
    """
    root.mkdir(parents=True, exist_ok=True)
    rows, index, audio, templates = [], {}, {}, {}
    for s, subject in enumerate(VOCASET_SUBJECTS):
        template, _ = grid_template(shift=0.1 * s)
        templates[subject] = template.astype(np.float64)
        index[subject], audio[subject] = {}, {}
        for sequence in sequences:
            frame_numbers = np.arange(1, frames_per_sequence + 1)
            frames = sequence_frames(template, frame_numbers)
            mapping = {}
            for k in reversed(range(frames_per_sequence)):
                mapping[int(frame_numbers[k])] = len(rows)
                rows.append(frames[k])
            index[subject][sequence] = mapping
            duration = frames_per_sequence / 60.0
            samples = (np.sin(np.linspace(0, 200, int(22000 * duration))) * 12000).astype(np.int16)
            audio[subject][sequence] = {"audio": samples, "sample_rate": 22000}
    np.save(root / "data_verts.npy", np.stack(rows))
    for name, content in (("subj_seq_to_idx.pkl", index), ("raw_audio_fixed.pkl", audio), ("templates.pkl", templates)):
        with open(root / name, "wb") as handle:
            pickle.dump(content, handle, protocol=2)
    return {"templates": templates, "frames_per_sequence": frames_per_sequence, "sequences": sequences}


def write_processed(
    root: Path,
    subjects: list[str],
    sequences: tuple[str, ...] = ("sentence01", "sentence02"),
    num_frames: int = 8,
    flat: bool = True,
    templates: str = "pkl",
    sample_rate: int = 22050,
) -> dict:
    """FaceFormer layout: wav/<subj>_<seq>.wav, vertices_npy/<subj>_<seq>.npy, templates.pkl or templates/*.ply."""
    (root / "wav").mkdir(parents=True, exist_ok=True)
    (root / "vertices_npy").mkdir(parents=True, exist_ok=True)
    written = {}
    for s, subject in enumerate(subjects):
        template, faces = grid_template(shift=0.1 * s)
        written[subject] = (template, faces)
        for sequence in sequences:
            frames = sequence_frames(template, np.arange(num_frames))
            stored = frames.reshape(num_frames, -1) if flat else frames
            np.save(root / "vertices_npy" / f"{subject}_{sequence}.npy", stored)
            duration = num_frames / 30.0
            wave = 0.3 * np.sin(np.linspace(0, 300, int(sample_rate * duration))).astype(np.float32)
            soundfile.write(root / "wav" / f"{subject}_{sequence}.wav", wave, sample_rate)
    if templates == "pkl":
        with open(root / "templates.pkl", "wb") as handle:
            pickle.dump({subject: verts for subject, (verts, _) in written.items()}, handle)
    else:
        for subject, (verts, faces) in written.items():
            write_ply(root / "templates" / f"{subject}.ply", verts, faces)
    return written


@pytest.fixture
def raw_vocaset_dir(tmp_path: Path) -> Path:
    root = tmp_path / "vocaset_raw"
    write_raw_vocaset(root)
    return root


@pytest.fixture
def processed_vocaset_dir(tmp_path: Path) -> Path:
    root = tmp_path / "vocaset_processed"
    write_processed(root, VOCASET_SUBJECTS)
    return root


class DatasetWriters:
    """The writers and constants above, handed to tests as the `writers` fixture (test modules
    cannot import a conftest by name reliably)."""

    FRAME_OFFSET = FRAME_OFFSET
    NUM_VERTICES = NUM_VERTICES
    VOCASET_SUBJECTS = VOCASET_SUBJECTS
    grid_template = staticmethod(grid_template)
    write_ply = staticmethod(write_ply)
    write_processed = staticmethod(write_processed)
    write_raw_vocaset = staticmethod(write_raw_vocaset)


@pytest.fixture
def writers() -> type[DatasetWriters]:
    return DatasetWriters
