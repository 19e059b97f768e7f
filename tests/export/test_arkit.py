"""ARKit curves: Live Link Face's exact CSV layout, the documented mapping, and JSON."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from scantalk.articulation import ArticulationTrack
from scantalk.export import ARKIT_BLENDSHAPES, DRIVEN_NAMES, arkit_weights, export_arkit_csv, export_arkit_json
from scantalk.export.arkit import live_link_timecode

# Written out by hand from a Live Link Face recording's header, not derived from the code.
LIVE_LINK_FACE_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll")


@pytest.fixture
def track() -> ArticulationTrack:
    values = np.zeros((4, 5), np.float32)
    values[1] = [0.8, 0.0, 0.0, 0.5, 0.0]   # an open 'aa' with some spread
    values[2] = [0.1, 1.0, 0.0, 0.0, 0.0]   # a closure (m) on a slightly open jaw
    values[3] = [0.0, 0.0, 1.0, 0.0, 1.0]   # rounded lips and an f
    return ArticulationTrack(values, 30.0)


def test_csv_has_live_link_face_layout_and_values(tmp_path, track):
    path = export_arkit_csv(track, tmp_path / "take.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == LIVE_LINK_FACE_HEADER and len(lines) == 5
    rows = list(csv.reader(lines[1:]))
    assert [row[0] for row in rows] == ["00:00:00:00.000", "00:00:00:01.000", "00:00:00:02.000", "00:00:00:03.000"]
    assert all(row[1] == "61" and len(row) == 63 for row in rows)
    header = LIVE_LINK_FACE_HEADER.split(",")
    frame1 = dict(zip(header, rows[1]))
    assert float(frame1["JawOpen"]) == pytest.approx(0.8) and float(frame1["MouthStretchLeft"]) == pytest.approx(0.3)
    assert float(frame1["MouthClose"]) == 0.0 and float(frame1["EyeBlinkLeft"]) == 0.0
    frame2 = dict(zip(header, rows[2]))
    # mouthClose is bounded by jawOpen (ARKit closes lips against an open jaw), pressing is not.
    assert float(frame2["MouthClose"]) == pytest.approx(0.1) and float(frame2["MouthPressLeft"]) == pytest.approx(0.5)
    frame3 = dict(zip(header, rows[3]))
    assert float(frame3["MouthPucker"]) == 1.0 and float(frame3["MouthRollLower"]) == pytest.approx(0.8)
    np.testing.assert_allclose(np.array([row[2:54] for row in rows], float), arkit_weights(track), atol=1e-6)


def test_only_mouth_names_are_driven_and_weights_stay_in_range(track):
    weights = arkit_weights(track)
    assert weights.shape == (4, 52) and weights.min() >= 0.0 and weights.max() <= 1.0
    moved = {name for name, column in zip(ARKIT_BLENDSHAPES, weights.T) if column.any()}
    assert moved <= set(DRIVEN_NAMES) and "jawOpen" in moved and "browInnerUp" not in DRIVEN_NAMES


def test_timecode_counts_frames_within_the_second():
    assert live_link_timecode(61, 60.0) == "00:00:01:01.000"
    assert live_link_timecode(3600 * 30 + 45, 30.0) == "01:00:01:15.000"
    assert live_link_timecode(1, 29.97).startswith("00:00:00:01.")


def test_json_and_resampling(tmp_path, track):
    path = export_arkit_json(track, tmp_path / "take.json", fps=60.0)
    document = json.loads(path.read_text())
    assert document["fps"] == 60.0 and document["names"] == list(ARKIT_BLENDSHAPES)
    assert document["num_frames"] == len(document["weights"]) == 8
    assert "jawOpen" in document["driven"] and len(document["weights"][0]) == 52
    # Frame 2 at 60 fps is frame 1 at 30 fps (same time): the curves keep their timing.
    assert document["weights"][2][ARKIT_BLENDSHAPES.index("jawOpen")] == pytest.approx(0.8)
