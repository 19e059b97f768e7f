"""`scantalk precompute`: fills the cache in parallel, reports bad files, keeps going."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from scantalk.cli import main
from scantalk.geometry.cache import OperatorCache
from scantalk.geometry.mesh import load_mesh


def _sphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial import ConvexHull

    # a Fibonacci sphere triangulated by its convex hull: a closed mesh without test helpers
    n = 40 * (subdivisions + 1)
    i = np.arange(n) + 0.5
    polar, azimuth = np.arccos(1 - 2 * i / n), np.pi * (1 + 5**0.5) * i
    verts = np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], axis=1)
    return verts, ConvexHull(verts).simplices


def _write_obj(path: Path, verts: np.ndarray, faces: np.ndarray) -> Path:
    lines = [f"v {x:.17g} {y:.17g} {z:.17g}" for x, y, z in verts] + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_precompute_two_files_in_parallel_then_reuses_them(tmp_path, capsys):
    files = [_write_obj(tmp_path / f"face{s}.obj", *_sphere(s)) for s in (0, 1)]
    broken = tmp_path / "broken.ply"
    broken.write_bytes(b"not a ply")
    cache_dir = tmp_path / "cache"
    argv = ["precompute", *map(str, files), str(broken), "--cache-dir", str(cache_dir), "--k-eig", "6", "--workers", "2",
            "--align", "none"]  # the file's own coordinates: the key training and the geometry API use

    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 1
    assert "broken.ply" in err and "error" in err
    assert "2 of 3 files ready" in out and str(cache_dir) in out
    cache = OperatorCache(cache_dir)
    for path in files:
        mesh = load_mesh(path)
        assert cache.contains(mesh.verts, mesh.faces, 6)
        assert f"{path}: {len(mesh.verts)} vertices, computed" in out
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ops = cache.get_or_compute(mesh.verts, mesh.faces, k_eig=6)
        assert ops.num_vertices == len(mesh.verts) and ops.k_eig == 6
    assert len(list(cache_dir.glob("*.npz"))) == 2

    assert main(["precompute", str(files[0]), "--cache-dir", str(cache_dir), "--k-eig", "6", "--align", "none"]) == 0
    assert "already cached" in capsys.readouterr().out


def test_precompute_unusable_cache_dir_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "cache"
    blocker.write_text("x")
    mesh = _write_obj(tmp_path / "face.obj", *_sphere(0))
    assert main(["precompute", str(mesh), "--cache-dir", str(blocker)]) == 1
    assert "is a file" in capsys.readouterr().err


@pytest.mark.slow
def test_precompute_then_animate_hits_the_cache(tmp_path, monkeypatch, capsys):
    """The README's promise: `scantalk precompute F` makes `scantalk animate F` skip the precompute."""
    import soundfile as sf

    from scantalk import Animator
    from scantalk.commands.demo import DEMO_SPEECH
    from scantalk.synthesis.heads.procedural import procedural_head
    from scantalk.geometry import Mesh, operators, save_mesh

    head = procedural_head(4243, resolution=0.01)
    verts, faces = head.verts, head.faces
    face = tmp_path / "face.obj"
    save_mesh(face, verts * 1000.0, Mesh.from_arrays(verts, faces))  # millimetres: align="auto" rescales
    cache_dir = tmp_path / "cache"
    assert main(["precompute", str(face), "--cache-dir", str(cache_dir)]) == 0
    assert "computed" in capsys.readouterr().out

    def recompute(*args, **kwargs):
        raise AssertionError("animate recomputed operators that precompute had cached")

    monkeypatch.setattr(operators, "compute_operators", recompute)
    animator = Animator.from_checkpoint(device="cpu", cache_dir=cache_dir)
    speech = sf.read(DEMO_SPEECH, dtype="float32")[0][:16000]  # one second of real speech at 16 kHz
    animation = animator.animate(face, speech, sample_rate=16000)
    assert animation.frames.shape == (30, len(verts), 3)
    sf.write(tmp_path / "speech.wav", speech, 16000)
    monkeypatch.setenv("SCANTALK_CACHE_DIR", str(cache_dir))
    assert main(["animate", str(face), str(tmp_path / "speech.wav"), "-o", str(tmp_path / "out"), "--no-video"]) == 0


def test_precompute_refuses_an_unwritable_cache_but_animate_only_warns(tmp_path, monkeypatch, capsys):
    from scantalk.geometry import cache as cache_module

    locked = tmp_path / "locked"
    locked.mkdir()

    def read_only(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache_module.tempfile, "TemporaryFile", read_only)
    mesh = _write_obj(tmp_path / "face.obj", *_sphere(0))
    assert main(["precompute", str(mesh), "--cache-dir", str(locked), "--align", "none", "--k-eig", "6"]) == 1
    assert "not writable" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_point_cloud_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    cloud = tmp_path / "tiny.xyz"
    np.savetxt(cloud, np.random.default_rng(0).normal(size=(20, 3)) * 0.1)
    assert main(["precompute", str(cloud), "--cache-dir", str(tmp_path / "cache"), "--k-eig", "6"]) == 1
    err = capsys.readouterr().err
    assert "tiny.xyz" in err and "points" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1
    monkeypatch.setenv("SCANTALK_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    import soundfile as sf

    from scantalk.commands.demo import DEMO_SPEECH

    sf.write(tmp_path / "s.wav", sf.read(DEMO_SPEECH, dtype="float32")[0][:16000], 16000)
    assert main(["animate", str(cloud), str(tmp_path / "s.wav"), "-o", str(out), "--no-video"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "tiny.xyz" in err and "points" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_zero_workers_or_more_eigenpairs_than_vertices_are_refused(tmp_path, capsys):
    face = _write_obj(tmp_path / "face.obj", *_sphere(1))  # 80 vertices
    common = ["--cache-dir", str(tmp_path / "cache"), "--align", "none"]
    assert main(["precompute", str(face), *common, "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--workers 0" in err and len(err.strip().splitlines()) == 1
    assert main(["precompute", str(face), *common, "--k-eig", "5000", "--workers", "1"]) == 1
    out, err = capsys.readouterr()
    assert "--k-eig 5000" in err and "80" in err and "0 of 1 files ready" in out
    assert not list((tmp_path / "cache").glob("*.npz"))
