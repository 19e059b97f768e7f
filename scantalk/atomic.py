"""Atomic writes: a reader (or an interrupted run) never sees a half-written file or output folder."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from scantalk.errors import OutputError, OutputExistsError

try:
    import fcntl
except ImportError:  # Windows: the final rename still refuses to replace another run's output
    fcntl = None


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


# ---------------------------------------------------------------- whole output folders
#
# An output folder is built in a hidden sibling ("staging") folder and swapped in by renames, so
# the old output survives until the new one is complete, even under `kill -9`. Hidden folders
# are named `.<out>.<tag>-<host>-<pid>-<random>`: a later run can tell its own leftovers from
# anything a user made, and whether the process that made them is still alive.

STAGING_TAG = "scantalk-staging"
OLD_TAG = "scantalk-old"
LOCK_TAG = "scantalk-lock"
# A leftover whose process cannot be checked (another host, or pid reuse) is stale after this.
STALE_AFTER_S = 24 * 3600.0
_LEFTOVER = re.compile(rf"^\.(?P<name>.+)\.(?P<tag>{STAGING_TAG}|{OLD_TAG})-(?P<host>[0-9a-f]{{8}})-(?P<pid>\d+)-")


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _hidden_name(out: Path, tag: str) -> str:
    return f".{out.name}.{tag}-{_host_tag()}-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _is_stale(path: Path, host: str, pid: int) -> bool:
    try:
        age = time.time() - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    if host == _host_tag() and pid != os.getpid() and not _pid_alive(pid):
        return True
    return age > STALE_AFTER_S


def clean_stale_leftovers(out: str | Path, log: Callable[[str], None] | None = None) -> list[Path]:
    """Remove this tool's stale hidden folders beside `out` (from runs killed mid-write).

    A leftover old output whose replacement never arrived (killed between the two renames) is
    renamed back to `out` instead of being removed, so nothing finished is ever lost. Returns
    the paths removed or restored; `log` (default: print to stderr) receives one line for each.
    """
    out = Path(out)
    log = log or (lambda line: print(line, file=sys.stderr))
    handled: list[Path] = []
    _remove_unheld_lock(out)
    try:
        entries = sorted(out.parent.iterdir())
    except OSError:
        return handled
    for path in entries:
        match = _LEFTOVER.match(path.name)
        if not match or match["name"] != out.name or path.is_symlink() or not path.is_dir():
            continue
        if not _is_stale(path, match["host"], int(match["pid"])):
            continue
        if match["tag"] == OLD_TAG and not os.path.lexists(out):
            os.rename(path, out)
            log(f"note: restored {out}, the previous output, from {path.name} (a run was killed while replacing it)")
        else:
            shutil.rmtree(path, ignore_errors=True)
            log(f"note: removed {path}, left behind by an interrupted run (process {match['pid']})")
        handled.append(path)
    return handled


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0


def _protected_dirs() -> list[Path]:
    """Folders an output must never replace: the root, the home folder, the working folder and its parents."""
    cwd = Path.cwd().resolve()
    return [Path(cwd.anchor), Path.home().resolve(), cwd, *cwd.parents]


def check_output_dir(out: str | Path, overwrite: bool, is_previous_output: Callable[[Path], bool],
                     inputs: Iterable[str | Path] = (), what: str = "output folder") -> Path:
    """Refuse, before any work, an output folder that must not be written or replaced.

    Args:
        out: the folder the user asked for.
        overwrite: whether an existing non-empty folder may be replaced.
        is_previous_output: recognises a folder this tool wrote earlier; only those are replaced.
        inputs: files the run reads; a folder holding one of them is never replaced.
        what: how messages name the folder (e.g. "-o").

    Returns:
        `out` as a Path. Raises OutputExistsError / OutputError with a sentence saying what to do.
    """
    out = Path(out)
    if out.is_symlink():
        raise OutputExistsError(f"{what} {out} is a symbolic link; pass the real folder path or a new folder name")
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{what} {out} is an existing file, not a folder; choose a folder path")
    resolved = out.resolve()
    if resolved in _protected_dirs():
        raise OutputError(f"{what} {out} is the root, home or current folder (or holds it); "
                          "refusing to write an output there: pass a new subfolder, e.g. -o out")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise OutputExistsError(f"{what} {out} exists and is not empty; pass --overwrite (overwrite=True) "
                                    "to replace a previous output, or choose another folder")
        for source in inputs:
            source_path = Path(source).resolve()
            if source_path == resolved or resolved in source_path.parents:
                raise OutputExistsError(f"{what} {out} holds the input {source}; refusing to replace it: "
                                        "choose another output folder")
        if not is_previous_output(out):
            raise OutputExistsError(f"{what} {out} holds files this tool did not write; refusing to replace it: "
                                    "choose another output folder (or empty this one yourself)")
    return out


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.{LOCK_TAG}"


def _remove_unheld_lock(out: Path) -> None:
    """Remove the lock file of a run that was killed (no process holds its lock any more)."""
    lock_path = _lock_path(out)
    if fcntl is None or lock_path.is_symlink() or not lock_path.is_file():
        return
    try:
        handle = os.open(lock_path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock_path.unlink()  # a run that opened it meanwhile sees the file gone and takes a new one
    except OSError:
        pass  # held: a live run is writing `out`
    finally:
        os.close(handle)


@contextlib.contextmanager
def _output_lock(out: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on writing `out` (a hidden lock file beside it) for the whole run.

    A second run writing the same output is refused at once instead of silently replacing the
    first one's result. The lock is an `flock`, so a killed run releases it; the file is removed
    when the run ends.
    """
    if fcntl is None:
        yield
        return
    lock_path = _lock_path(out)
    while True:
        handle = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise OutputExistsError(f"{what} {out} is being written by another scantalk run right now; "
                                    "wait for it to finish or choose another output") from None
        # The previous holder may have removed the file between our open and our lock: then we
        # hold a lock on a file nobody else can see, so take the lock again on the current one.
        try:
            current = os.stat(lock_path, follow_symlinks=False).st_ino == os.fstat(handle).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(handle)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()
        os.close(handle)


@contextlib.contextmanager
def staged_output_dir(out: str | Path, overwrite: bool, is_previous_output: Callable[[Path], bool],
                      inputs: Iterable[str | Path] = (), what: str = "output folder") -> Iterator[Path]:
    """Yield an empty hidden staging folder beside `out`; on success it replaces `out` atomically.

    The checks of `check_output_dir` run first, an exclusive lock on `out` is taken (a second run
    writing the same output is refused at once), stale leftovers of interrupted runs are cleaned
    (with a message), and the staging folder is created at once, so an unwritable place fails
    before any expensive work. On any exception the staging folder is removed and `out` is
    untouched. On success the swap is one atomic exchange where the OS offers it (Linux), else
    two renames; a kill between them leaves the old output in a hidden folder that the next run
    restores. Without `overwrite`, an output that appeared meanwhile is never replaced.
    """
    out = check_output_dir(out, overwrite, is_previous_output, inputs, what)
    # Folders made here for `out` (`-o new/sub`) go again if the run fails: nothing is left behind.
    created = [folder for folder in [out.parent, *out.parent.parents] if not folder.exists()]
    try:
        with _staged(out, overwrite, is_previous_output, what) as staging:
            yield staging
    except BaseException:
        for folder in created:  # deepest first; only while empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


@contextlib.contextmanager
def _staged(out: Path, overwrite: bool, is_previous_output: Callable[[Path], bool], what: str) -> Iterator[Path]:
    with contextlib.ExitStack() as stack:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(_output_lock(out, what))
            clean_stale_leftovers(out)
            staging = Path(tempfile.mkdtemp(prefix=_hidden_name(out, STAGING_TAG), dir=out.parent))
            # mkdtemp makes a private folder; the output gets what a plain mkdir would give it.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(staging, 0o777 & ~umask)
        except OSError as error:
            raise OutputError(f"{what} {out}: cannot write in {out.parent} ({error.strerror or error}); "
                              "choose a writable place") from error
        try:
            yield staging
            _swap_in(staging, out, overwrite, is_previous_output, what)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _swap_in(staging: Path, out: Path, overwrite: bool, is_previous_output: Callable[[Path], bool],
             what: str) -> None:
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        # rename(2) replaces only an empty folder: one that filled up meanwhile makes it fail.
        try:
            os.replace(staging, out)
        except OSError as error:
            raise OutputExistsError(f"{what} {out} was created by something else while this run worked; "
                                    "it was left as it is: choose another output") from error
        return
    # Checked again: the output may have been created or changed while this run worked.
    if not overwrite or not is_previous_output(out):
        raise OutputExistsError(f"{what} {out} was filled by something else while this run worked; "
                                "it was left as it is: choose another output")
    if _exchange(staging, out):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the old output
        return
    old = Path(tempfile.mkdtemp(prefix=_hidden_name(out, OLD_TAG), dir=out.parent))
    os.replace(out, old)  # onto the empty placeholder
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)
