"""Frames on disk: `FrameWriter` writes them atomically, `FrameStore` reads them back a piece at a time.

What a user relies on: the file holds exactly the frames written (bit for bit), an interrupted
write leaves no file (and an older file untouched), a broken file is an `AnimationError` naming
it, a store indexes like the array it holds, and reading a long animation does not pull it all
into memory.
"""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest

from scantalk.errors import AnimationError
from scantalk.frames import FrameStore, FrameWriter, frame_chunks


def _frames(num_frames: int = 23, num_vertices: int = 17, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(num_frames, num_vertices, 3)).astype(np.float32)


def _write(path, frames: np.ndarray, chunk: int = 5) -> FrameStore:
    with FrameWriter(path, len(frames), frames.shape[1]) as writer:
        for start in range(0, len(frames), chunk):
            writer.write(frames[start:start + chunk])
    return writer.store()


def test_round_trip_is_exact_and_a_plain_npy(tmp_path):
    frames = _frames()
    store = _write(tmp_path / "frames.npy", frames)
    assert store.shape == frames.shape and len(store) == len(frames) and store.dtype == np.float32
    assert np.array_equal(np.asarray(store), frames)
    # Any numpy reads the file: it is an ordinary .npy, not a private format.
    assert np.array_equal(np.load(tmp_path / "frames.npy"), frames)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.npy"]  # no staging file left


def test_float64_chunks_are_stored_as_float32(tmp_path):
    frames = _frames().astype(np.float64)
    store = _write(tmp_path / "frames.npy", frames)
    assert np.array_equal(np.asarray(store), frames.astype(np.float32))


def test_a_crash_mid_write_leaves_no_file_and_keeps_an_older_one(tmp_path):
    frames = _frames()
    with pytest.raises(RuntimeError, match="decoder failed"):
        with FrameWriter(tmp_path / "new.npy", len(frames), frames.shape[1]) as writer:
            writer.write(frames[:5])
            raise RuntimeError("decoder failed")
    assert list(tmp_path.iterdir()) == []

    _write(tmp_path / "old.npy", frames)
    before = (tmp_path / "old.npy").read_bytes()
    with pytest.raises(KeyboardInterrupt):
        with FrameWriter(tmp_path / "old.npy", len(frames), frames.shape[1], overwrite=True) as writer:
            writer.write(frames[:5] + 1.0)
            raise KeyboardInterrupt
    assert (tmp_path / "old.npy").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.npy"]


def test_too_few_or_too_many_or_misshapen_frames_are_refused(tmp_path):
    frames = _frames()
    with pytest.raises(ValueError, match="only 5 of 23"):
        with FrameWriter(tmp_path / "short.npy", len(frames), frames.shape[1]) as writer:
            writer.write(frames[:5])
    with pytest.raises(ValueError, match="24 frames written"):
        with FrameWriter(tmp_path / "long.npy", len(frames), frames.shape[1]) as writer:
            writer.write(frames)
            writer.write(frames[:1])
    with pytest.raises(ValueError, match="does not fit"):
        with FrameWriter(tmp_path / "wide.npy", len(frames), frames.shape[1]) as writer:
            writer.write(frames[:, :-1])
    assert list(tmp_path.iterdir()) == []


def test_broken_files_are_animation_errors_naming_the_file(tmp_path):
    frames = _frames()
    _write(tmp_path / "frames.npy", frames)
    data = (tmp_path / "frames.npy").read_bytes()
    (tmp_path / "truncated.npy").write_bytes(data[:-12])
    (tmp_path / "header_only.npy").write_bytes(data[:40])
    (tmp_path / "text.npy").write_text("not frames at all")
    np.save(tmp_path / "float64.npy", frames.astype(np.float64))
    np.save(tmp_path / "flat.npy", frames.reshape(len(frames), -1))
    np.save(tmp_path / "fortran.npy", np.asfortranarray(frames))
    for name, reason in [("truncated.npy", "truncated"), ("header_only.npy", None), ("text.npy", "not a readable"),
                         ("float64.npy", "float64"), ("flat.npy", "not \\(T, V, 3\\)"), ("fortran.npy", "not \\(T, V, 3\\)"),
                         ("missing.npy", "not a readable")]:
        with pytest.raises(AnimationError, match=reason) as error:
            FrameStore(tmp_path / name)
        assert name in str(error.value)


@pytest.mark.parametrize("index", [0, 7, 22, -1, -23, np.int64(3)])
def test_integer_indexing_agrees_with_the_array(tmp_path, index):
    frames = _frames()
    store = _write(tmp_path / "frames.npy", frames)
    assert np.array_equal(store[index], frames[index])


def test_out_of_range_frames_are_index_errors(tmp_path):
    store = _write(tmp_path / "frames.npy", _frames())
    for index in (23, -24):
        with pytest.raises(IndexError):
            store[index]


@pytest.mark.parametrize("index", [slice(None), slice(2, 9), slice(-5, None), slice(None, None, 3),
                                   slice(20, 40), slice(9, 2), slice(None, None, -1), slice(15, 3, -4),
                                   slice(-1, -24, -1)])
def test_slicing_agrees_with_the_array(tmp_path, index):
    frames = _frames()
    store = _write(tmp_path / "frames.npy", frames)
    assert store[index].shape == frames[index].shape
    assert np.array_equal(store[index], frames[index])


def test_fancy_indexing_iteration_and_chunks_agree_with_the_array(tmp_path):
    frames = _frames()
    store = _write(tmp_path / "frames.npy", frames)
    assert np.array_equal(store[[4, 1, 4]], frames[[4, 1, 4]])
    assert np.array_equal(store[:, 3], frames[:, 3])
    assert np.array_equal(np.stack(list(store)), frames)
    for size in (1, 4, 23, 100):
        chunks = list(store.chunks(size))
        assert [len(c) for c in chunks][:-1] == [size] * (len(chunks) - 1) and len(chunks[-1]) <= size
        assert np.array_equal(np.concatenate(chunks), frames)
        assert np.array_equal(np.concatenate(list(frame_chunks(store, size))), frames)
        assert np.array_equal(np.concatenate(list(frame_chunks(frames, size))), frames)
    assert np.array_equal(store.astype(np.float64), frames.astype(np.float64))


@pytest.mark.parametrize("index", [(3, 5), (3, slice(2, 6)), (-1, Ellipsis, 0), (slice(2, 9), 4),
                                   (slice(None, None, -2), slice(None), 1), (slice(4, 5), None, 0),
                                   (np.int64(2), [1, 0]), (slice(1, 4), [0, 2], 1), ([0, 2], 1),
                                   (slice(None), slice(2, 6)), ([9, 0, 9], slice(1, 3)), (np.array([], int), 0)])
def test_tuple_indexing_agrees_with_the_array_and_reads_only_the_frames_asked_for(tmp_path, monkeypatch, index):
    frames = _frames()
    store = _write(tmp_path / "frames.npy", frames)
    assert np.array_equal(store[index], frames[index])
    read = []
    original = FrameStore._read
    monkeypatch.setattr(FrameStore, "_read", lambda self, start, stop: read.append(stop - start) or original(self, start, stop))
    store[5, 3]
    store[2:4, :, 0]
    assert read == [1, 2]  # a vertex of one frame costs one frame, not the whole animation


def test_reads_are_private_copies_not_a_memory_map(tmp_path):
    """A chunk must not keep the file mapped: a memory map's pages count towards resident memory
    as they are touched, which is what the store exists to avoid."""
    store = _write(tmp_path / "frames.npy", _frames())
    for piece in (store[3], store[2:9], next(store.chunks(4)), np.asarray(store)):
        assert not isinstance(piece, np.memmap)
        base = piece
        while base.base is not None:
            base = base.base
        assert not isinstance(base, (np.memmap, memoryview)) and not isinstance(base, __import__("mmap").mmap)
        piece[...] = 0.0  # writable, and writing it does not touch the file
    assert np.array_equal(np.asarray(store), _frames())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in kilobytes on Linux only")
def test_reading_a_long_animation_in_chunks_keeps_resident_memory_bounded(tmp_path):
    num_vertices, frames_per_chunk = 20_000, 64  # 240 kB a frame, ~15 MB a chunk
    num_frames = 640  # ~150 MB on disk
    chunk_bytes = frames_per_chunk * num_vertices * 12
    frame = np.arange(num_vertices * 3, dtype=np.float32).reshape(num_vertices, 3)
    with FrameWriter(tmp_path / "long.npy", num_frames, num_vertices) as writer:
        for start in range(0, num_frames, frames_per_chunk):
            writer.write(np.broadcast_to(frame, (frames_per_chunk, num_vertices, 3)) + start)
    store = FrameStore(tmp_path / "long.npy")
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    firsts = [float(chunk[0, 0, 0]) for chunk in store.chunks(frames_per_chunk)]
    grown_bytes = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) * 1024
    assert firsts == [float(start) for start in range(0, num_frames, frames_per_chunk)]
    # Mapping or loading the file would add its whole ~150 MB; chunked reads add about two chunks.
    assert grown_bytes < 3 * chunk_bytes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in kilobytes on Linux only")
def test_a_few_vertices_of_every_frame_of_a_long_animation_keep_resident_memory_bounded(tmp_path, monkeypatch):
    """An export reads a long animation a block of vertices at a time across all its frames: that
    costs the block, not the file."""
    num_vertices, num_frames = 20_000, 640  # 240 kB a frame, ~150 MB on disk
    frame = np.arange(num_vertices * 3, dtype=np.float32).reshape(num_vertices, 3)
    with FrameWriter(tmp_path / "long.npy", num_frames, num_vertices) as writer:
        for start in range(0, num_frames, 64):
            writer.write(np.broadcast_to(frame, (64, num_vertices, 3)) + start)
    store = FrameStore(tmp_path / "long.npy")
    monkeypatch.setattr(FrameStore, "_block_frames", lambda self: 64)  # ~15 MB blocks
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    columns = store[:, 100:300]
    rows = store[np.arange(0, num_frames, 7), 5000:5100]
    grown_bytes = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) * 1024
    assert np.array_equal(columns, frame[None, 100:300] + np.arange(num_frames, dtype=np.float32)[:, None, None] // 64 * 64)
    assert np.array_equal(rows, frame[None, 5000:5100] + (np.arange(0, num_frames, 7) // 64 * 64)[:, None, None])
    assert grown_bytes < 50 << 20  # the whole file is ~150 MB


def test_an_existing_frames_file_is_kept_without_overwrite(tmp_path):
    from scantalk.errors import OutputExistsError

    frames = _frames()
    (tmp_path / "mine.npy").write_bytes(b"a user's file")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        _write(tmp_path / "mine.npy", frames)
    assert (tmp_path / "mine.npy").read_bytes() == b"a user's file"
    with FrameWriter(tmp_path / "mine.npy", len(frames), frames.shape[1], overwrite=True) as writer:
        writer.write(frames)
    assert np.array_equal(np.load(tmp_path / "mine.npy"), frames)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.npy"]


def test_the_partial_file_never_follows_a_planted_symlink(tmp_path):
    import os

    frames = _frames()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    # Every name the old writer could have used: `.<name>.<pid>.partial`.
    (tmp_path / f".frames.npy.{os.getpid()}.partial").symlink_to(victim)
    store = _write(tmp_path / "frames.npy", frames)
    assert victim.read_text() == "precious"
    assert np.array_equal(np.asarray(store), frames)
    assert not (tmp_path / "frames.npy").is_symlink()


def test_frames_that_are_not_finite_are_never_written(tmp_path):
    from scantalk.errors import AnimationError

    frames = _frames()
    frames[7, 3, 1] = np.nan
    with pytest.raises(AnimationError, match="frame 7 .* not finite"):
        _write(tmp_path / "frames.npy", frames)
    frames[7, 3, 1] = np.inf
    with pytest.raises(AnimationError, match="not finite"):
        _write(tmp_path / "frames.npy", frames)
    assert list(tmp_path.iterdir()) == []


def test_an_npy_whose_header_promises_terabytes_is_refused_before_any_allocation(tmp_path):
    from scantalk.frames import load_npy

    path = tmp_path / "forged.npy"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 3, 3), np.float32))
    header["shape"] = (10**12, 3, 3)
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(np.zeros(18, np.float32).tobytes())
    with pytest.raises(ValueError, match="promises"):
        load_npy(path)
