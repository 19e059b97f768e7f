"""Exports imported by headless Blender as an artist would: the mesh Blender plays is the project's."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from scantalk.export import export_gltf
from scantalk.face.alignment import axes_rotation
from scantalk.inference.animation import Animation

BLENDER = shutil.which("blender")
pytestmark = pytest.mark.skipif(BLENDER is None, reason="Blender is not installed (make installs Debian's blender)")


def _driver():
    path = Path(__file__).resolve().parents[2] / "experiments" / "evaluate/exports_in_blender.py"
    spec = importlib.util.spec_from_file_location("evaluate_exports_in_blender", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_z_up_face_stands_up_in_blender_and_plays_within_the_bound(tmp_path, talking_animation):
    driver = _driver()
    rotation = axes_rotation("z", "-y")  # stored z up, facing -y: the file → model rotation
    stored = Animation(talking_animation.frames @ rotation, talking_animation.neutral @ rotation,
                       talking_animation.faces, talking_animation.fps, talking_animation.audio,
                       meta={"alignment": {"scale": 1.0, "rotation": rotation.tolist()}})
    report = export_gltf(stored, tmp_path / "face.glb", max_error=1e-4)
    assert np.allclose(report.rotation, rotation)
    frames = [0, 17, 59]
    played = driver.blender_frames(next(iter(driver.clients(BLENDER, None).values())), report.path, stored.fps, frames, tmp_path)
    # Blender shows the face as the model frame has it (upright), in its own z-up axes.
    expected = talking_animation.frames[frames] @ driver.Y_UP_TO_BLENDER.T
    rest = talking_animation.neutral @ driver.Y_UP_TO_BLENDER.T
    assert np.abs(played["rest"] - rest).max() < 1e-6  # same vertices, same order, upright
    error = np.linalg.norm(played["frames"] - expected, axis=-1).max()
    assert error <= report.max_error + 1e-6 and report.max_error <= 1e-4
    assert played["fps"] == pytest.approx(30.0) and (played["frame_start"], played["frame_end"]) == (0, 59)
