"""The processed "FaceFormer layout" in which VOCASET, BIWI and Multiface are usually shared.

    root/wav/<subject>_<sequence>.wav
    root/vertices_npy/<subject>_<sequence>.npy     (T, V·3) or (T, V, 3) metres
    root/templates.pkl                              {subject: (V, 3)}   and/or
    root/templates/<subject>.ply | .obj             (also gives the faces)
    root/masks/...                                  optional, see `scantalk.datasets.masks.subject_masks`
    root/splits.json, root/dataset.json             optional, see `scantalk.datasets.load`

Subject names contain underscores ("FaceTalk_170728_03272_TA_sentence01"), so a file stem is
split at the longest known template subject followed by "_". Listing reads only the templates
and each `.npy` header; frames and audio are read by `ProcessedRef.load*()`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scantalk.datasets.masks import subject_masks
from scantalk.datasets.safe_pickle import safe_load_pickle
from scantalk.datasets.sequence import SequenceRef
from scantalk.errors import DatasetError, MeshError

TEMPLATE_SUFFIXES = (".ply", ".obj")


@dataclass
class ProcessedRef(SequenceRef):
    """A processed-layout sequence: every `frame_step`-th row of `vertices_path`, audio `wav_path`."""

    vertices_path: str = field(kw_only=True)
    wav_path: str = field(kw_only=True)
    frame_step: int = field(default=1, kw_only=True)

    def load_frames(self) -> np.ndarray:
        try:
            array = np.load(self.vertices_path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise DatasetError(f"{self.vertices_path}: corrupted .npy ({error}); re-export this sequence") from error
        frames = _as_frames(array, self.num_vertices, Path(self.vertices_path))[:: self.frame_step]
        return np.ascontiguousarray(frames, dtype=np.float32)

    def load_audio(self) -> np.ndarray:
        from scantalk.audio.io import load_audio

        return load_audio(self.wav_path)


def npy_shape(path: Path) -> tuple[int, ...]:
    """Shape stored in a `.npy` header, without reading the data (DatasetError if corrupted)."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    except (ValueError, OSError, EOFError) as error:
        raise DatasetError(f"{path}: corrupted .npy header ({error}); re-export this file") from error
    if dtype.hasobject:
        raise DatasetError(f"{path}: holds Python objects (a pickled array); re-save it as a plain float array")
    return tuple(int(size) for size in shape)


def read_template_file(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(verts (V, 3) float32, faces (F, 3) int64 or None) exactly as stored in a mesh file.

    Uses the file's own vertex order (`Mesh.file_verts` / `file_faces`), never the cleaned mesh,
    so indices match the dataset's vertex arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: template mesh not found")
    try:
        from scantalk.geometry.mesh import load_mesh

        mesh = load_mesh(path)
        verts, faces = mesh.file_verts, mesh.file_faces
    except NotImplementedError:
        verts, faces = _read_with_open3d(path)
    except MeshError as error:
        raise DatasetError(f"{path}: unusable template mesh ({error})") from error
    faces_array = None if faces is None or len(faces) == 0 else np.asarray(faces, dtype=np.int64)
    return np.asarray(verts, dtype=np.float32), faces_array


def _read_with_open3d(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    import open3d as o3d

    mesh = o3d.io.read_triangle_mesh(str(path))
    verts = np.asarray(mesh.vertices)
    if verts.shape[0] == 0:
        raise DatasetError(f"{path}: no vertices could be read from this template mesh")
    return verts, np.asarray(mesh.triangles)


def read_templates(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """{subject: (template (V, 3) float32, faces or None)} from templates.pkl and templates/.

    A mesh in `templates/` wins over the same subject in `templates.pkl` (it also has faces).
    """
    templates: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    pickle_path = root / "templates.pkl"
    if pickle_path.is_file():
        content = safe_load_pickle(pickle_path)
        if not isinstance(content, dict):
            raise DatasetError(f"{pickle_path}: expected a dict {{subject: (V, 3) array}}, got {type(content).__name__}")
        for subject, verts in content.items():
            array = np.asarray(verts, dtype=np.float32)
            if array.ndim not in (1, 2) or array.size % 3 or array.size == 0:
                raise DatasetError(f"{pickle_path}: template of '{subject}' has shape {array.shape}, expected (V, 3)")
            templates[str(subject)] = (array.reshape(-1, 3), None)
    folder = root / "templates"
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in TEMPLATE_SUFFIXES:
                templates[path.stem] = read_template_file(path)
    return templates


def split_stem(stem: str, subjects: list[str]) -> tuple[str, str] | None:
    """("subject", "sequence") of a file stem: the longest subject followed by "_"; None if none."""
    best = None
    for subject in subjects:
        if stem.startswith(subject + "_") and len(stem) > len(subject) + 1:
            if best is None or len(subject) > len(best):
                best = subject
    return None if best is None else (best, stem[len(best) + 1:])


def _check_vertex_shape(shape: tuple[int, ...], num_vertices: int, path: Path) -> None:
    """DatasetError unless `shape` is (T, V·3) or (T, V, 3) with V the template's vertex count."""
    if (len(shape) == 3 and tuple(shape[1:]) == (num_vertices, 3)) or (len(shape) == 2 and shape[1] == num_vertices * 3):
        return
    raise DatasetError(
        f"{path}: vertex array of shape {tuple(shape)} does not match the subject's template of "
        f"{num_vertices} vertices; expected (T, {num_vertices * 3}) or (T, {num_vertices}, 3)"
    )


def _as_frames(array: np.ndarray, num_vertices: int, path: Path) -> np.ndarray:
    """(T, V·3) or (T, V, 3) → (T, V, 3)."""
    _check_vertex_shape(array.shape, num_vertices, path)
    return array.reshape(array.shape[0], num_vertices, 3)


def read_processed(
    root: str | Path,
    dataset: str = "custom",
    fps: float = 30.0,
    frame_step: int = 1,
    template_mesh: str | Path | None = None,
    lip_mask: str | Path | None = None,
    upper_mask: str | Path | None = None,
    templates: dict[str, tuple[np.ndarray, np.ndarray | None]] | None = None,
) -> list[ProcessedRef]:
    """List the sequences of a processed-layout folder, sorted by (subject, sequence).

    dataset: name recorded on each sequence. fps: frame rate of the returned frames (after
    `frame_step`). frame_step: keep every `frame_step`-th stored frame (2 for FaceFormer's
    60 fps VOCASET files). template_mesh: a mesh whose faces every subject gets (when the
    templates carry none). lip_mask / upper_mask: mask files for every subject.

    A `.wav` without its `.npy` (or the reverse), or a stem that names no template subject, is
    skipped with a warning; `DatasetError` when nothing pairs up.
    """
    root = Path(root)
    wav_dir, vert_dir = root / "wav", root / "vertices_npy"
    for folder in (wav_dir, vert_dir):
        if not folder.is_dir():
            raise DatasetError(f"{root}: processed layout needs a '{folder.name}/' folder")
    if int(frame_step) < 1:
        raise DatasetError(f"frame_step must be a positive integer, got {frame_step}")
    templates = read_templates(root) if templates is None else templates
    if not templates:
        raise DatasetError(f"{root}: no templates; expected templates.pkl or templates/<subject>.ply|.obj")
    shared_faces = None
    if template_mesh is not None:
        _, shared_faces = read_template_file(template_mesh)

    wavs = {path.stem: path for path in wav_dir.glob("*.wav")}
    vertices = {path.stem: path for path in vert_dir.glob("*.npy")}
    if not wavs or not vertices:
        raise DatasetError(f"{root}: found {len(wavs)} .wav files in wav/ and {len(vertices)} .npy files in vertices_npy/")
    unmatched = sorted(set(wavs) ^ set(vertices))
    if unmatched:
        warnings.warn(f"{root}: skipping {len(unmatched)} sequences with audio or vertices but not both "
                      f"(e.g. {unmatched[:3]})", stacklevel=2)
    subjects = sorted(templates)
    no_subject: list[str] = []
    masks: dict[str, tuple[np.ndarray | None, np.ndarray | None]] = {}
    refs: list[ProcessedRef] = []
    for stem in sorted(set(wavs) & set(vertices)):
        parts = split_stem(stem, subjects)
        if parts is None:
            no_subject.append(stem)
            continue
        subject, sequence = parts
        template, faces = templates[subject]
        faces = faces if faces is not None else shared_faces
        if faces is not None and faces.size and faces.max() >= template.shape[0]:
            raise DatasetError(f"{root}: faces index vertex {faces.max()} but '{subject}' has {template.shape[0]} vertices")
        _check_vertex_shape(npy_shape(vertices[stem]), template.shape[0], vertices[stem])
        if subject not in masks:
            masks[subject] = subject_masks(root, subject, template.shape[0], lip_mask, upper_mask)
        lips, upper = masks[subject]
        refs.append(ProcessedRef(
            subject=subject, name=sequence, dataset=dataset, fps=float(fps), template=template, faces=faces,
            lip_vertices=lips, upper_vertices=upper,
            vertices_path=str(vertices[stem]), wav_path=str(wavs[stem]), frame_step=int(frame_step),
        ))
    if no_subject:
        warnings.warn(f"{root}: skipping {len(no_subject)} sequences whose name starts with no template subject "
                      f"(e.g. {no_subject[:3]}; subjects: {subjects[:5]})", stacklevel=2)
    if not refs:
        raise DatasetError(f"{root}: no sequence has a .wav, a .npy and a template subject "
                           f"(subjects: {subjects}; sequences e.g. {sorted(vertices)[:3]})")
    return refs
