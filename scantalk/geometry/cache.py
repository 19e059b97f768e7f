"""On-disk cache of surface operators, keyed by the content of the mesh.

Computing the eigenbasis of a 50k-vertex scan takes seconds to minutes; the result depends only
on (verts, faces, k_eig) and the operator format, so it is stored once per content hash as one
`.npz` file. Writes are atomic (temp file + rename): two processes filling the same entry both
succeed and a reader never sees half a file. Entries carry a checksum; a truncated or corrupted
entry is reported with a warning, recomputed and rewritten. A directory that cannot be written
(a read-only shared cache, a full disk) still serves the entries it holds; it costs a warning,
not a refusal.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from scantalk.atomic import atomic_path
from scantalk.errors import CacheError
from scantalk.geometry import operators
from scantalk.geometry.operators import OPERATOR_FORMAT_VERSION, SurfaceOperators

CACHE_DIR_ENV = "SCANTALK_CACHE_DIR"
_CHECKSUM = "__checksum__"
_KEY = "__key__"


def default_cache_dir() -> Path:
    """$SCANTALK_CACHE_DIR if set, else the user cache directory (e.g. ~/.cache/scantalk) / "operators"."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("scantalk")) / "operators"


def operator_key(verts: np.ndarray, faces: np.ndarray | None, k_eig: int) -> str:
    """sha256 hex digest of verts (V, 3) as float64, faces (F, 3) as int64 (or a point-cloud marker), k_eig and format."""
    verts = np.ascontiguousarray(verts, dtype=np.float64)
    digest = hashlib.sha256()
    digest.update(f"scantalk-operators/v{OPERATOR_FORMAT_VERSION}/k{int(k_eig)}/verts{verts.shape}".encode())
    digest.update(verts.tobytes())
    if faces is None:
        digest.update(b"/point-cloud")
    else:
        faces = np.ascontiguousarray(faces, dtype=np.int64)
        digest.update(f"/faces{faces.shape}".encode())
        digest.update(faces.tobytes())
    return digest.hexdigest()


def _arrays_checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over every array's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class OperatorCache:
    """A directory of `<sha256>.npz` operator files.

    >>> cache = OperatorCache("~/.cache/scantalk/operators")
    >>> ops = cache.get_or_compute(mesh.verts, mesh.faces, k_eig=128)   # computed once, then loaded
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        """Use `directory` (created if missing; default `default_cache_dir()`).

        Raises CacheError only when the path is a file. A directory that cannot be created or
        written gives one warning; `writable` is then False, its entries are still read, and
        new operators are computed without being stored.
        """
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        if self.directory.exists() and not self.directory.is_dir():
            raise CacheError(f"operator cache {self.directory} is a file, not a directory; pass a directory path.")
        self.writable = True
        self.unwritable_reason = ""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # A real write is the only reliable writability test (ACLs, read-only mounts, root).
            with tempfile.TemporaryFile(dir=self.directory):
                pass
        except OSError as error:
            self.writable = False
            self.unwritable_reason = (f"operator cache directory {self.directory} is not writable "
                                      f"({error.strerror or error})")
            warnings.warn(f"{self.unwritable_reason}; cached entries are still used but new operators will not be "
                          f"saved: pass another directory or set {CACHE_DIR_ENV} to keep them.",
                          RuntimeWarning, stacklevel=2)

    def require_writable(self) -> None:
        """CacheError unless new entries can be stored (for commands whose job is to fill the cache)."""
        if not self.writable:
            raise CacheError(f"{self.unwritable_reason}; pass a writable --cache-dir or set {CACHE_DIR_ENV}.")

    def path_for(self, verts: np.ndarray, faces: np.ndarray | None, k_eig: int = 128) -> Path:
        """The file that holds (or will hold) the operators of verts (V, 3), faces (F, 3) | None."""
        return self.directory / f"{operator_key(verts, faces, k_eig)}.npz"

    def contains(self, verts: np.ndarray, faces: np.ndarray | None, k_eig: int = 128) -> bool:
        """Whether an entry exists for this input (its integrity is checked when loaded)."""
        return self.path_for(verts, faces, k_eig).is_file()

    def get_or_compute(self, verts: np.ndarray, faces: np.ndarray | None = None, k_eig: int = 128) -> SurfaceOperators:
        """Operators of verts (V, 3) metres, faces (F, 3) | None: loaded if cached, else computed and stored."""
        path = self.path_for(verts, faces, k_eig)
        key = path.stem
        if path.is_file():
            loaded = self._load(path, key)
            if loaded is not None:
                return loaded
        ops = operators.compute_operators(verts, faces, k_eig=k_eig)
        if self.writable:
            self._store(path, key, ops)
        return ops

    def clear(self) -> int:
        """Remove every cached entry; return how many were removed.

        Hidden temporary files of writes in progress (other processes) are left alone.
        """
        removed = 0
        for entry in self.directory.glob("*.npz"):
            if not entry.name.startswith("."):
                entry.unlink(missing_ok=True)
                removed += 1
        return removed

    def _load(self, path: Path, key: str) -> SurfaceOperators | None:
        """The stored operators, or None (after a warning) when the file is unreadable or inconsistent."""
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
            stored_key = str(arrays.pop(_KEY))
            stored_checksum = str(arrays.pop(_CHECKSUM))
            if stored_key != key:
                raise ValueError("it belongs to a different mesh")
            if stored_checksum != _arrays_checksum(arrays):
                raise ValueError("checksum mismatch")
            return SurfaceOperators.from_arrays(arrays)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            warnings.warn(
                f"operator cache file {path} is corrupted or truncated ({error}); recomputing and rewriting it.",
                RuntimeWarning,
                stacklevel=3,
            )
            return None

    def _store(self, path: Path, key: str, ops: SurfaceOperators) -> None:
        arrays = ops.to_arrays()
        arrays[_CHECKSUM] = np.array(_arrays_checksum(arrays))
        arrays[_KEY] = np.array(key)
        try:
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as handle:
                    np.savez(handle, **arrays)
        except OSError as error:
            # The caller still gets its operators; only the reuse is lost.
            warnings.warn(f"could not write operator cache file {path} ({error}); continuing without caching.",
                          RuntimeWarning, stacklevel=3)  # fmt: skip
