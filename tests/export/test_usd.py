"""USD export: an exact point cache at the animation's fps and units, read back with pxr."""

from __future__ import annotations

import numpy as np
import pytest

from scantalk.animation import Animation
from scantalk.export.usd import export_usd, read_usd_frames

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
    assert speech.GetFilePathAttr().Get().path == "./audio.wav"
    frames, faces, fps, _ = read_usd_frames(report.path)
    assert faces is None and fps == 25.0
    np.testing.assert_array_equal(frames, millimetres.frames)  # file units kept, no rescaling
