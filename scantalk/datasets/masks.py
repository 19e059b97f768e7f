"""Vertex-index masks (lip region for LVE, upper face for FDD) from the files datasets ship.

Accepted files: `.npy` (indices, or a boolean mask of length V), `.txt` (integers separated by
whitespace and/or commas — BIWI's `regions/lve.txt` style), `.mat` (the named key, else the
first integer array), `.pkl` (read with `safe_load_pickle`: an array, or a dict of region →
indices like FLAME's `FLAME_masks.pkl`). Indices are 0-based, as every supported dataset ships them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from scantalk.datasets.safe_pickle import safe_load_pickle
from scantalk.errors import DatasetError

# Region names FLAME_masks.pkl (and datasets copying it) use; the upper face is the union.
REGION_KEYS: dict[str, tuple[str, ...]] = {
    "lip": ("lips", "lip", "mouth"),
    "upper": ("forehead", "eye_region"),
}


def read_vertex_mask(
    path: str | Path,
    region: str = "lip",
    key: str | None = None,
    num_vertices: int | None = None,
) -> np.ndarray:
    """Vertex indices (K,) int64, sorted and unique, from a mask file.

    region: "lip" or "upper" — which keys to look for in a dict-like file (`REGION_KEYS`:
    "lips" for lips; the union of "forehead" and "eye_region" for the upper face). key: read
    exactly this key of a dict-like (.pkl/.mat) file instead. num_vertices: when given, every
    index must lie in [0, num_vertices), and a boolean mask must have that length.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: mask file not found")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        raw: Any = _load_npy(path)
    elif suffix == ".txt":
        raw = _load_txt(path)
    elif suffix == ".mat":
        raw = _load_mat(path, key)
    elif suffix == ".pkl":
        raw = safe_load_pickle(path)
    else:
        raise DatasetError(f"{path}: unsupported mask format '{suffix}'; use .npy, .txt, .mat or .pkl")
    if isinstance(raw, dict):
        raw = _select_region(raw, path, region, key)
    return _to_indices(raw, path, num_vertices)


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DatasetError(f"{path}: unreadable .npy mask ({error})") from error


def _load_txt(path: Path) -> np.ndarray:
    tokens = [token for token in re.split(r"[,\s]+", path.read_text()) if token]
    try:
        return np.array([int(float(token)) for token in tokens], dtype=np.int64)
    except ValueError as error:
        raise DatasetError(f"{path}: a mask .txt must hold integers separated by spaces or commas ({error})") from error


def _load_mat(path: Path, key: str | None) -> Any:
    from scipy.io import loadmat

    try:
        content = loadmat(str(path))
    except (ValueError, OSError, NotImplementedError) as error:
        raise DatasetError(f"{path}: unreadable .mat mask ({error})") from error
    arrays = {name: value for name, value in content.items() if not name.startswith("__")}
    if key is not None:
        return arrays
    for value in arrays.values():
        if isinstance(value, np.ndarray) and (np.issubdtype(value.dtype, np.integer) or value.dtype == bool):
            return value
    for value in arrays.values():
        # MATLAB saves plain numbers as double; accept whole-valued float arrays too.
        if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating) and np.all(value == np.round(value)):
            return value
    raise DatasetError(f"{path}: no integer array in this .mat file (found {sorted(arrays)})")


def _select_region(content: dict, path: Path, region: str, key: str | None) -> Any:
    if key is not None:
        if key not in content:
            raise DatasetError(f"{path}: no key '{key}' (keys: {sorted(map(str, content))})")
        return content[key]
    if region not in REGION_KEYS:
        raise DatasetError(f"unknown mask region '{region}'; expected one of {sorted(REGION_KEYS)}")
    names = REGION_KEYS[region]
    present = [name for name in names if name in content]
    if not present:
        raise DatasetError(
            f"{path}: none of the keys {list(names)} for the {region} region (keys: {sorted(map(str, content))}); "
            "pass the key explicitly"
        )
    if region == "lip":
        return content[present[0]]
    return np.concatenate([np.asarray(content[name]).ravel() for name in present])


def _to_indices(raw: Any, path: Path, num_vertices: int | None) -> np.ndarray:
    array = np.asarray(raw).ravel()
    if array.dtype == bool:
        if num_vertices is not None and array.shape[0] != num_vertices:
            raise DatasetError(f"{path}: boolean mask of length {array.shape[0]} for a mesh of {num_vertices} vertices")
        return np.flatnonzero(array).astype(np.int64)
    if array.size == 0:
        raise DatasetError(f"{path}: the mask is empty")
    if not (np.issubdtype(array.dtype, np.integer) or
            (np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)))):
        raise DatasetError(f"{path}: mask values must be vertex indices (integers), got dtype {array.dtype}")
    indices = np.unique(array.astype(np.int64))
    if indices[0] < 0 or (num_vertices is not None and indices[-1] >= num_vertices):
        raise DatasetError(
            f"{path}: vertex indices span [{indices[0]}, {indices[-1]}] but the mesh has "
            f"{num_vertices} vertices; is this mask for another topology?"
        )
    return indices


def subject_masks(
    root: Path,
    subject: str,
    num_vertices: int,
    lip_mask: str | Path | None = None,
    upper_mask: str | Path | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(lip_vertices, upper_vertices) of one subject of a dataset folder, each (K,) int64 or None.

    Precedence per region: the explicit file (`lip_mask` / `upper_mask`, for every subject) →
    `root/masks/<subject>_lip.npy` / `_upper.npy` → `root/masks/lip.npy` / `upper.npy` → None.
    """
    found: list[np.ndarray | None] = []
    for region, explicit in (("lip", lip_mask), ("upper", upper_mask)):
        candidates = [Path(explicit)] if explicit is not None else [
            root / "masks" / f"{subject}_{region}.npy",
            root / "masks" / f"{region}.npy",
        ]
        path = next((candidate for candidate in candidates if explicit is not None or candidate.is_file()), None)
        found.append(None if path is None else read_vertex_mask(path, region, num_vertices=num_vertices))
    return found[0], found[1]
