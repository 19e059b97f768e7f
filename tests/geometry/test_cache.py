"""The operator cache: hits, misses, corruption recovery, concurrent writers, unusable directories."""

from __future__ import annotations

import multiprocessing
import os
import warnings

import numpy as np
import pytest
import torch

from scantalk.errors import CacheError
from scantalk.geometry import cache as cache_module
from scantalk.geometry import operators
from scantalk.geometry.cache import OperatorCache, default_cache_dir

K_EIG = 8


@pytest.fixture(scope="module")
def sphere(make_icosphere):
    return make_icosphere(1)


@pytest.fixture(scope="module")
def real_ops(sphere):
    verts, faces = sphere
    return operators.compute_operators(verts, faces, k_eig=K_EIG)


@pytest.fixture
def counted(monkeypatch, real_ops):
    """Replace compute_operators by one that counts calls and returns precomputed operators."""
    calls = []

    def fake(verts, faces=None, k_eig=128):
        calls.append((np.array(verts), None if faces is None else np.array(faces), k_eig))
        return real_ops

    monkeypatch.setattr(operators, "compute_operators", fake)
    return calls


def _assert_same_ops(a, b):
    for name in ("verts", "mass", "evals", "evecs", "frames"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    for name in ("L", "grad_x", "grad_y"):
        assert torch.equal(getattr(a, name).to_dense(), getattr(b, name).to_dense()), name


def test_real_operators_round_trip_through_the_cache(tmp_path, sphere, real_ops):
    verts, faces = sphere
    cache = OperatorCache(tmp_path)
    first = cache.get_or_compute(verts, faces, k_eig=K_EIG)
    assert cache.contains(verts, faces, K_EIG)
    assert cache.path_for(verts, faces, K_EIG).parent == tmp_path
    again = cache.get_or_compute(verts, faces, k_eig=K_EIG)
    _assert_same_ops(first, again)
    _assert_same_ops(real_ops, again)
    assert again.num_vertices == len(verts) and again.k_eig == K_EIG


def test_hit_computes_once(tmp_path, sphere, counted):
    verts, faces = sphere
    cache = OperatorCache(tmp_path)
    for _ in range(3):
        cache.get_or_compute(verts, faces, k_eig=K_EIG)
    assert len(counted) == 1
    # a second cache object on the same directory (another run) also hits
    OperatorCache(tmp_path).get_or_compute(verts, faces, k_eig=K_EIG)
    assert len(counted) == 1


def test_any_change_is_a_miss(tmp_path, sphere, counted):
    verts, faces = sphere
    cache = OperatorCache(tmp_path)
    moved = verts.copy()
    moved[3, 1] += 1e-12
    variants = [(verts, faces, K_EIG), (moved, faces, K_EIG), (verts, faces[:, [1, 2, 0]], K_EIG),
                (verts, faces, K_EIG + 1), (verts, None, K_EIG)]  # fmt: skip
    paths = {cache.path_for(*variant) for variant in variants}
    assert len(paths) == len(variants)
    for variant in variants:
        cache.get_or_compute(*variant)
    assert len(counted) == len(variants)
    # the key does not depend on the caller's dtype
    assert cache.path_for(verts.astype(np.float64), faces.astype(np.int32), K_EIG) == cache.path_for(verts, faces, K_EIG)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip_byte", "other_mesh"])
def test_corrupted_entry_warns_recomputes_and_rewrites(tmp_path, sphere, counted, damage):
    verts, faces = sphere
    cache = OperatorCache(tmp_path)
    cache.get_or_compute(verts, faces, k_eig=K_EIG)
    path = cache.path_for(verts, faces, K_EIG)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif damage == "flip_byte":
        # flip a byte inside the stored evecs payload: the zip stays readable, the checksum catches it
        spot = data.find(b"evecs.npy")
        position = data.find(b"\n", data.find(b"{'descr'", spot)) + 40
        path.write_bytes(data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :])
    else:
        other = cache.path_for(verts * 2, faces, K_EIG)
        cache.get_or_compute(verts * 2, faces, k_eig=K_EIG)
        path.write_bytes(other.read_bytes())
    calls_before = len(counted)
    with pytest.warns(RuntimeWarning, match=path.name):
        ops = cache.get_or_compute(verts, faces, k_eig=K_EIG)
    assert len(counted) == calls_before + 1 and ops.num_vertices == len(verts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.get_or_compute(verts, faces, k_eig=K_EIG)  # rewritten: loads cleanly
    assert len(counted) == calls_before + 1


def _write_same_key(directory: str, verts: np.ndarray, faces: np.ndarray, rounds: int, barrier) -> None:
    cache = OperatorCache(directory)
    ops = operators.compute_operators(verts, faces, k_eig=K_EIG)
    barrier.wait()
    for _ in range(rounds):
        cache._store(cache.path_for(verts, faces, K_EIG), cache.path_for(verts, faces, K_EIG).stem, ops)


def test_concurrent_writers_leave_a_valid_entry(tmp_path, sphere, counted):
    verts, faces = sphere
    # fork: the children inherit the patched (fast) compute_operators
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    writers = [context.Process(target=_write_same_key, args=(str(tmp_path), verts, faces, 15, barrier)) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    assert [p.name for p in tmp_path.iterdir()] == [OperatorCache(tmp_path).path_for(verts, faces, K_EIG).name]
    calls_before = len(counted)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ops = OperatorCache(tmp_path).get_or_compute(verts, faces, k_eig=K_EIG)
    assert len(counted) == calls_before and ops.num_vertices == len(verts)


def test_a_file_is_not_a_cache_but_an_unwritable_directory_only_warns(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheError, match="is a file"):
        OperatorCache(blocker)
    with pytest.warns(RuntimeWarning, match="not writable"):
        cache = OperatorCache(blocker / "sub")
    assert not cache.writable
    with pytest.raises(CacheError, match="not writable"):
        cache.require_writable()


def _make_read_only(monkeypatch, directory):
    """Writes into `directory` fail as on a read-only mount (chmod does not stop root)."""
    real = cache_module.tempfile.TemporaryFile

    def temporary_file(*args, dir=None, **kwargs):
        if dir is not None and os.path.samefile(dir, directory):
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(cache_module.tempfile, "TemporaryFile", temporary_file)


def test_read_only_cache_serves_its_entries_and_computes_the_rest(tmp_path, sphere, counted, monkeypatch):
    verts, faces = sphere
    OperatorCache(tmp_path).get_or_compute(verts, faces, k_eig=K_EIG)
    assert len(counted) == 1
    _make_read_only(monkeypatch, tmp_path)
    if os.geteuid() != 0:
        tmp_path.chmod(0o500)  # a real read-only directory as well, where the OS enforces it
    try:
        with pytest.warns(RuntimeWarning, match="not writable"):
            cache = OperatorCache(tmp_path)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the hit costs no further warning
            ops = cache.get_or_compute(verts, faces, k_eig=K_EIG)
            assert len(counted) == 1 and ops.num_vertices == len(verts)
            other = cache.get_or_compute(verts * 2.0, faces, k_eig=K_EIG)  # a miss: computed, not stored
        assert len(counted) == 2 and other is not None
        assert not cache.contains(verts * 2.0, faces, K_EIG)
    finally:
        tmp_path.chmod(0o700)


def test_clear_and_default_dir(tmp_path, sphere, counted, monkeypatch):
    verts, faces = sphere
    cache = OperatorCache(tmp_path / "ops")
    cache.get_or_compute(verts, faces, k_eig=K_EIG)
    cache.get_or_compute(verts, None, k_eig=K_EIG)
    assert cache.clear() == 2 and not cache.contains(verts, faces, K_EIG)
    monkeypatch.setenv(cache_module.CACHE_DIR_ENV, str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert OperatorCache().directory == tmp_path / "env"
    monkeypatch.delenv(cache_module.CACHE_DIR_ENV)
    assert default_cache_dir().name == "operators"
