"""Atomic file writes: a reader (or an interrupted run) never sees a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; on success it is renamed onto `dest` in one step.

    On any exception the temporary file is removed and `dest` is left as it was. The rename is
    atomic on POSIX and Windows for paths on one file system, so concurrent writers of the same
    destination are safe: the last complete file wins.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Keep the real suffix last so libraries that pick a format from the extension still work.
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".tmp{dest.suffix}", dir=dest.parent)
    os.close(fd)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would have.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(dest: str | Path, data: bytes) -> None:
    """Write `data` to `dest` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(dest: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `dest` atomically."""
    atomic_write_bytes(dest, text.encode("utf-8"))


def atomic_save_npy(dest: str | Path, array: np.ndarray) -> None:
    """`np.save` to `dest` atomically (no pickled objects)."""
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)
