"""Animation frames that need not fit in memory: written to an `.npy` chunk by chunk, read back a
frame or a chunk at a time.

Ten minutes of speech on a 200k-vertex scan is 18,000 × 200,000 × 3 floats (43 GB): more than a
machine's memory, so `Animator.animate(..., out="frames.npy")` streams the decoder's chunks to
disk with a `FrameWriter` and returns a `FrameStore` — an array-like with `.shape`, `len()`,
integer and slice indexing and `chunks()` — whose reads go through ordinary file reads, not a
memory map, so the process's resident memory stays at one chunk however long the animation is.
`np.asarray(store)` still loads everything for those who want it. `MIN_FPS` / `MAX_FPS` bound
the frame rate of every animation and articulation track.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from scantalk.errors import AnimationError, OutputExistsError

FRAME_DTYPE = np.dtype("<f4")
# Frame rates that make sense for a face animation; 1e9 fps would ask for billions of frames.
MIN_FPS, MAX_FPS = 1.0, 240.0


#: Bytes of frames read or handled at a time when a long animation is gone through in blocks.
BLOCK_BYTES = 64 << 20


def block_frames(num_vertices: int) -> int:
    """Frames of `num_vertices` float32 xyz vertices in one `BLOCK_BYTES` block (at least 1)."""
    return max(1, BLOCK_BYTES // max(1, int(num_vertices) * 12))


class FrameWriter:
    """Write (T, V, 3) float32 frames to an `.npy` file in order, chunk by chunk, atomically.

    Use as a context manager: the file appears at `path` only when every frame was written; an
    error or an interruption leaves no file (the partial one is a hidden sibling, created with an
    unpredictable name, that is removed). Frames that are not finite (NaN, inf) are refused: a
    broken model or input must never leave a file that looks like an animation.

    Args:
        path: the destination `.npy`.
        num_frames, num_vertices: the final shape (T, V, 3).
        overwrite: replace an existing file at `path`; without it an existing file is refused.
    """

    def __init__(self, path: str | Path, num_frames: int, num_vertices: int, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.shape = (int(num_frames), int(num_vertices), 3)
        self.overwrite = overwrite
        self.written = 0
        self._tmp: Path | None = None
        self._handle = None
        self._check_destination()

    def _check_destination(self) -> None:
        if self.path.is_symlink() or (self.path.exists() and not self.overwrite):
            raise OutputExistsError(f"frames file {self.path} already exists; pass overwrite=True to replace it, "
                                    "or choose a new .npy path")

    def __enter__(self) -> "FrameWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp: an exclusive create under a random name, so a planted file or symlink is never followed.
        handle, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        self._tmp = Path(tmp)
        self._handle = os.fdopen(handle, "wb")
        np.lib.format.write_array_header_1_0(
            self._handle, {"descr": FRAME_DTYPE.str, "fortran_order": False, "shape": self.shape})
        return self

    def write(self, chunk: np.ndarray) -> None:
        """Append frames (t, V, 3) (any float dtype; stored as float32)."""
        chunk = np.ascontiguousarray(chunk, dtype=FRAME_DTYPE)
        if chunk.ndim != 3 or chunk.shape[1:] != self.shape[1:]:
            raise ValueError(f"frames chunk of shape {chunk.shape} does not fit frames of shape {self.shape}")
        if self.written + len(chunk) > self.shape[0]:
            raise ValueError(f"{self.written + len(chunk)} frames written into a file of {self.shape[0]}")
        if not np.isfinite(chunk).all():
            bad = self.written + int(np.flatnonzero(~np.isfinite(chunk).reshape(len(chunk), -1).all(axis=1))[0])
            raise AnimationError(f"frame {bad} of {self.path.name} is not finite (NaN or inf): the model or its "
                                 "inputs are broken (e.g. a corrupted checkpoint); nothing was written")
        self._handle.write(chunk.tobytes())
        self.written += len(chunk)

    def __exit__(self, kind, error, traceback) -> None:
        self._handle.close()
        if kind is None and self.written != self.shape[0]:
            self._tmp.unlink(missing_ok=True)
            raise ValueError(f"only {self.written} of {self.shape[0]} frames were written to {self.path}")
        if kind is not None:
            self._tmp.unlink(missing_ok=True)
            return
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)
        try:
            if self.overwrite:
                os.replace(self._tmp, self.path)
            else:
                self._check_destination()
                # link(2) never replaces: a file that appeared meanwhile is kept, ours is refused.
                try:
                    os.link(self._tmp, self.path)
                except FileExistsError:
                    self._check_destination()
                    raise
                except OSError:  # a file system without hard links
                    os.rename(self._tmp, self.path)
        finally:
            self._tmp.unlink(missing_ok=True)

    def store(self) -> "FrameStore":
        """The finished file as a `FrameStore`."""
        return FrameStore(self.path)


class FrameStore:
    """Read-only (T, V, 3) float32 frames in an `.npy` file, read a piece at a time.

    Supports `len()`, `.shape`, `.ndim`, `.dtype`, `store[i]` → (V, 3), `store[a:b]` → (b-a, V, 3),
    iteration over frames, `chunks(frames_per_chunk)`, and `np.asarray(store)` (everything).
    """

    ndim = 3
    dtype = FRAME_DTYPE

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(handle)
                self._offset = handle.tell()
        except (OSError, ValueError) as error:
            raise AnimationError(f"{self.path} is not a readable .npy frames file ({error}); "
                                 "re-create it with `scantalk animate`") from None
        if fortran or np.dtype(dtype) != FRAME_DTYPE or len(shape) != 3 or shape[2] != 3:
            raise AnimationError(f"{self.path} holds {np.dtype(dtype)} {shape} values, not (T, V, 3) float32 frames")
        expected = self._offset + int(np.prod(shape)) * FRAME_DTYPE.itemsize
        if self.path.stat().st_size < expected:
            raise AnimationError(f"{self.path} is truncated ({self.path.stat().st_size} of {expected} bytes); "
                                 "re-create it with `scantalk animate`")
        self.shape = tuple(int(s) for s in shape)

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, stop: int) -> np.ndarray:
        frame_values = self.shape[1] * 3
        with open(self.path, "rb") as handle:
            handle.seek(self._offset + start * frame_values * FRAME_DTYPE.itemsize)
            data = np.fromfile(handle, dtype=FRAME_DTYPE, count=(stop - start) * frame_values)
        return data.reshape(stop - start, self.shape[1], 3)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            position = int(index) + (len(self) if index < 0 else 0)
            if not 0 <= position < len(self):
                raise IndexError(f"frame {index} of {len(self)}")
            return self._read(position, position + 1)[0]
        if isinstance(index, slice):
            positions = range(*index.indices(len(self)))
            if len(positions) == 0:
                return np.empty((0, self.shape[1], 3), FRAME_DTYPE)
            # Read the contiguous span the slice covers (either direction), then step through it.
            low, high = min(positions[0], positions[-1]), max(positions[0], positions[-1])
            block = self._read(low, high + 1)
            return block[np.asarray(positions) - low] if positions.step != 1 else block
        if isinstance(index, tuple) and index and _basic(index[1:]):
            # store[t, v], store[a:b, :, 0], store[rows, v0:v1]: read only the frames asked for, a
            # block at a time, and index within each (the same answer as numpy's, since the
            # remaining indices are basic ones), so a column of a long animation costs its size.
            if isinstance(index[0], (int, np.integer)):
                return self[index[0]][index[1:]]
            if isinstance(index[0], slice):
                positions = np.arange(len(self))[index[0]]
                if len(positions) <= self._block_frames():  # a short span: read it whole
                    return self[index[0]][(slice(None),) + index[1:]]
            else:
                positions = np.arange(len(self))[np.asarray(index[0])]
                if positions.ndim != 1:
                    return np.asarray(self)[index]
            rest = (slice(None),) + index[1:]
            if len(positions) == 0:
                return np.empty((0, self.shape[1], 3), FRAME_DTYPE)[rest]
            return self._gather(positions, rest)
        return np.asarray(self)[index]

    def _gather(self, positions: np.ndarray, rest: tuple) -> np.ndarray:
        """`frames[positions][rest]`, read a block of frames at a time so that only one block is
        ever in memory. A run of consecutive frames goes through a memory map (a few vertices of
        every frame read a fraction of the file), each block's pages dropped from this process's
        resident memory once copied (the kernel keeps them in its page cache); scattered frames
        are read one by one."""
        size = self._block_frames()
        if len(positions) < 2 or not np.all(np.diff(positions) == 1):
            pieces = [np.stack([self._read(int(t), int(t) + 1)[0] for t in positions[start:start + size]])[rest]
                      for start in range(0, len(positions), size)]
            return np.concatenate(pieces)
        with open(self.path, "rb") as handle:
            mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            frames = np.frombuffer(mapping, FRAME_DTYPE, count=int(np.prod(self.shape)),
                                   offset=self._offset).reshape(self.shape)
            pieces = []
            for start in range(int(positions[0]), int(positions[-1]) + 1, size):
                pieces.append(np.array(frames[start:min(start + size, int(positions[-1]) + 1)][rest]))
                mapping.madvise(mmap.MADV_DONTNEED)
            del frames
        finally:
            mapping.close()
        return np.concatenate(pieces)

    def _block_frames(self) -> int:
        """Frames per read when a long span is read in pieces: about 64 MB."""
        return block_frames(self.shape[1])

    def __iter__(self) -> Iterator[np.ndarray]:
        for chunk in self.chunks():
            yield from chunk

    def chunks(self, frames_per_chunk: int | None = None) -> Iterator[np.ndarray]:
        """Consecutive (t, V, 3) blocks; by default about 64 MB each."""
        size = frames_per_chunk or self._block_frames()
        for start in range(0, len(self), size):
            yield self._read(start, min(len(self), start + size))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = self._read(0, len(self))
        return values if dtype is None else values.astype(dtype)

    def astype(self, dtype, copy: bool = True) -> np.ndarray:
        return np.asarray(self).astype(dtype)

    def __repr__(self) -> str:
        return f"FrameStore({str(self.path)!r}, shape={self.shape})"


def load_npy(path: str | Path) -> np.ndarray:
    """An .npy file (no pickles) whose header is checked against the file first: a header that
    promises more data than the file holds (truncated, or forged to claim terabytes) is a
    ValueError, never an attempt to allocate it."""
    path = Path(path)
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(handle)
        offset = handle.tell()
    promised = offset + int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    if promised > path.stat().st_size:
        raise ValueError(f"its header promises {promised} bytes but the file holds {path.stat().st_size}")
    return np.load(path, allow_pickle=False)


def _basic(indices: tuple) -> bool:
    """Whether `indices` are all basic numpy indices (integers, slices, ..., None): indexing with
    them commutes with taking frames first, unlike array indices."""
    return all(item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice)) for item in indices)


def frame_chunks(frames, frames_per_chunk: int | None = None) -> Iterator[np.ndarray]:
    """(t, V, 3) blocks of an in-memory array or a `FrameStore`, without loading a store whole."""
    if isinstance(frames, FrameStore):
        yield from frames.chunks(frames_per_chunk)
        return
    frames = np.asarray(frames)
    size = frames_per_chunk or block_frames(frames.shape[1])
    for start in range(0, len(frames), size):
        yield frames[start:start + size]
