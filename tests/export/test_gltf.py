"""glTF export: files the Khronos validator accepts, that play back the animation within the bound."""

from __future__ import annotations

import json

import numpy as np
import pygltflib
import pytest

from scantalk.errors import OutputExistsError
from scantalk.export import ExportError, export_gltf, read_gltf_frames
from scantalk.inference.animation import Animation


def _assert_valid(report: dict) -> None:
    issues = report["issues"]
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]


def _error(frames_a: np.ndarray, frames_b: np.ndarray) -> float:
    return float(np.linalg.norm(frames_a.astype(np.float64) - frames_b, axis=-1).max())


def test_low_rank_glb_is_valid_and_within_the_bound(tmp_path, talking_animation, gltf_validator):
    report = export_gltf(talking_animation, tmp_path / "face.glb", max_error=1e-4)
    _assert_valid(gltf_validator(report.path))
    frames, faces, fps = read_gltf_frames(report.path)
    assert frames.shape == talking_animation.frames.shape and fps == pytest.approx(30.0, rel=1e-5)
    np.testing.assert_array_equal(faces, talking_animation.faces)
    assert _error(frames, talking_animation.frames) <= 1e-4
    names = pygltflib.GLTF2.load(str(report.path)).meshes[0].extras["targetNames"]
    motions = [name for name in names if not name.endswith("_neg")]
    assert report.bound_met and 1 <= len(motions) <= 10 < report.num_frames
    assert report.max_error <= 1e-4 and report.size_bytes == report.path.stat().st_size


def test_every_weight_is_at_least_zero_so_blender_plays_it_unclamped(tmp_path, talking_animation):
    # Blender's importer clamps shape-key weights at 0: a negative weight would play as 0 there.
    report = export_gltf(talking_animation, tmp_path / "face.glb")
    document = pygltflib.GLTF2.load(str(report.path))
    sampler = document.animations[0].samplers[0]
    accessor, view = document.accessors[sampler.output], None
    view = document.bufferViews[accessor.bufferView]
    weights = np.frombuffer(document.binary_blob(), "<f4", accessor.count, (view.byteOffset or 0) + (accessor.byteOffset or 0))
    assert weights.min() >= 0.0 and weights.max() <= 1.0
    names = document.meshes[0].extras["targetNames"]
    assert any(name.endswith("_neg") for name in names)  # this motion needs the mirrored twins
    assert all(name[:-4] in names for name in names if name.endswith("_neg"))
    # Halfway between two keyframes too (where an importer interpolates): the pair sums to the
    # signed weight, so the played mesh is the same as with signed weights.
    frames, _, _ = read_gltf_frames(report.path)
    assert _error(frames, talking_animation.frames) <= 1e-4


def test_exact_glb_has_a_target_per_frame(tmp_path, talking_animation, gltf_validator):
    report = export_gltf(talking_animation, tmp_path / "exact.glb", exact=True)
    _assert_valid(gltf_validator(report.path))
    frames, _, _ = read_gltf_frames(report.path)
    assert report.exact and report.num_targets == talking_animation.num_frames
    assert _error(frames, talking_animation.frames) < 1e-6


def test_point_cloud_is_points_in_input_order(tmp_path, talking_animation, gltf_validator):
    order = np.random.default_rng(3).permutation(talking_animation.frames.shape[1])
    cloud = Animation(talking_animation.frames[:, order], talking_animation.neutral[order], None, 25.0,
                      np.zeros(0, np.float32))
    report = export_gltf(cloud, tmp_path / "cloud.glb")
    _assert_valid(gltf_validator(report.path))
    document = pygltflib.GLTF2.load(str(report.path))
    assert document.meshes[0].primitives[0].mode == pygltflib.POINTS
    frames, faces, fps = read_gltf_frames(report.path)
    assert faces is None and fps == pytest.approx(25.0, rel=1e-5)
    assert _error(frames, cloud.frames) <= 1e-4


def test_structure_engines_rely_on(tmp_path, talking_animation):
    report = export_gltf(talking_animation, tmp_path / "face.glb")
    document = pygltflib.GLTF2.load(str(report.path))
    mesh = document.meshes[0]
    assert len(mesh.extras["targetNames"]) == len(mesh.primitives[0].targets) == report.num_targets
    sampler = document.animations[0].samplers[0]
    channel = document.animations[0].channels[0]
    assert sampler.interpolation == "LINEAR" and channel.target.path == "weights"
    assert document.accessors[sampler.input].max[0] == pytest.approx(59 / 30.0, rel=1e-6)


def test_folder_gets_audio_and_fps(tmp_path, talking_animation):
    report = export_gltf(talking_animation, tmp_path / "export")
    names = sorted(path.name for path in (tmp_path / "export").iterdir())
    assert names == ["animation.glb", "audio.wav", "export.json"]
    info = json.loads((tmp_path / "export" / "export.json").read_text())
    assert info["fps"] == 30.0 and info["audio"] == "audio.wav" and info["file"] == "animation.glb"
    assert info["source"]["audio_file"] == "speech.wav" and report.files[0] == report.path


def test_millimetre_animation_is_written_in_metres(tmp_path, talking_animation):
    millimetres = Animation(talking_animation.frames * 1000, talking_animation.neutral * 1000,
                            talking_animation.faces, 30.0, talking_animation.audio,
                            meta={"alignment": {"scale": 0.001, "units": "millimetres"}})
    report = export_gltf(millimetres, tmp_path / "mm.glb")
    frames, _, _ = read_gltf_frames(report.path)
    assert _error(frames, talking_animation.frames) <= 1e-4


def test_a_memory_mapped_z_up_millimetre_animation_plays_upright_in_metres(tmp_path, talking_animation):
    from scantalk.face.alignment import axes_rotation

    rotation = axes_rotation("z", "-y")
    np.save(tmp_path / "frames.npy", (1000 * talking_animation.frames @ rotation).astype(np.float32))
    stored = Animation(np.load(tmp_path / "frames.npy", mmap_mode="r"), 1000 * talking_animation.neutral @ rotation,
                       talking_animation.faces, 30.0, talking_animation.audio,
                       meta={"alignment": {"scale": 0.001, "rotation": rotation.tolist()}})
    report = export_gltf(stored, tmp_path / "face.glb")
    frames, _, _ = read_gltf_frames(report.path)
    assert _error(frames, talking_animation.frames) <= 1e-4
    exact = export_gltf(stored, tmp_path / "exact.glb", exact=True)
    assert _error(read_gltf_frames(exact.path)[0], talking_animation.frames) <= 1e-6


def test_refuses_to_overwrite_and_bad_input(tmp_path, talking_animation):
    export_gltf(talking_animation, tmp_path / "face.glb")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        export_gltf(talking_animation, tmp_path / "face.glb")
    export_gltf(talking_animation, tmp_path / "face.glb", overwrite=True)
    with pytest.raises(ExportError, match="max_error"):
        export_gltf(talking_animation, tmp_path / "other.glb", max_error=0)
    broken = Animation(talking_animation.frames.copy(), talking_animation.neutral, talking_animation.faces, 30.0,
                       talking_animation.audio)
    broken.frames[3, 5, 1] = np.nan
    with pytest.raises(ExportError, match="NaN"):
        export_gltf(broken, tmp_path / "nan.glb")
    assert not (tmp_path / "nan.glb").exists() and not (tmp_path / "other.glb").exists()
