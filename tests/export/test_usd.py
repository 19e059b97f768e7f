"""USD export: an exact point cache at the animation's fps and units, read back with pxr."""

from __future__ import annotations

import numpy as np
import pytest

import scantalk.export.usd as usd
from scantalk.export.usd import export_usd, read_usd_frames
from scantalk.face.alignment import axes_rotation
from scantalk.inference.animation import Animation

pxr = pytest.importorskip("pxr", reason="usd-core is not installed (pip install usd-core)")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["face.usda", "face.usdc"])
def test_point_cache_reads_back_exactly(tmp_path, talking_animation, name):
    report = export_usd(talking_animation, tmp_path / name)
    frames, faces, fps, metres_per_unit = read_usd_frames(report.path)
    np.testing.assert_array_equal(frames, talking_animation.frames)
    np.testing.assert_array_equal(faces, talking_animation.faces)
    assert fps == 30.0 and metres_per_unit == 1.0 and report.exact and report.format == name[-4:]


def test_folder_has_speech_prim_and_units(tmp_path, talking_animation):
    millimetres = Animation(talking_animation.frames * 1000, talking_animation.neutral * 1000, None, 25.0,
                            talking_animation.audio, meta={"alignment": {"scale": 0.001}})
    report = export_usd(millimetres, tmp_path / "out")
    assert sorted(path.name for path in report.files) == ["animation.usdc", "audio.wav", "export.json"]
    stage = pxr.Usd.Stage.Open(str(report.path))
    assert pxr.UsdGeom.GetStageMetersPerUnit(stage) == pytest.approx(0.001)
    assert pxr.UsdGeom.GetStageUpAxis(stage) == "Y" and stage.GetEndTimeCode() == 59
    speech = pxr.UsdMedia.SpatialAudio(stage.GetPrimAtPath("/Face/Speech"))
    assert speech.GetFilePathAttr().Get().path == "./audio.wav" and speech.GetStartTimeAttr().Get() == 0
    frames, faces, fps, _ = read_usd_frames(report.path)
    assert faces is None and fps == 25.0
    np.testing.assert_array_equal(frames, millimetres.frames)  # file units kept, no rescaling


@pytest.mark.parametrize("name", ["face.usdc", "face.usd"])
def test_a_long_memory_mapped_z_up_animation_is_written_in_pieces_and_reads_back_upright(
        tmp_path, talking_animation, monkeypatch, name):
    """A long animation (a memory map on disk, as `animate` leaves it) is saved a few frames at a
    time, so its samples never sit in memory together; the stage still plays every frame, upright."""
    monkeypatch.setattr(usd, "SAVE_EVERY_BYTES", 7 * 12 * talking_animation.frames.shape[1])  # 7 frames a save
    rotation = axes_rotation("z", "-y")  # stored z up, facing -y: the file → model rotation
    np.save(tmp_path / "frames.npy", (talking_animation.frames @ rotation).astype(np.float32))
    stored = Animation(np.load(tmp_path / "frames.npy", mmap_mode="r"), talking_animation.neutral @ rotation,
                       talking_animation.faces, 30.0, talking_animation.audio,
                       meta={"alignment": {"scale": 1.0, "rotation": rotation.tolist()}})
    report = export_usd(stored, tmp_path / name)
    frames, faces, fps, _ = read_usd_frames(report.path)
    assert frames.shape == talking_animation.frames.shape and fps == 30.0
    np.testing.assert_allclose(frames, talking_animation.frames, atol=1e-6)
    np.testing.assert_array_equal(faces, talking_animation.faces)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["face" + name[4:], "frames.npy"]  # no temporary left
