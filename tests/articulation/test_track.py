import json
import warnings

import numpy as np
import pytest

from scantalk.articulation import (ARTICULATION_CHANNELS, CHANNEL_UNITS, ArticulationError, ArticulationTrack,
                                   articulation_from_phones)


def _track(fps=30.0, frames=45):
    phones = [("SIL", 0.0, 0.3), ("M", 0.3, 0.38), ("AA", 0.38, 0.6), ("UW", 0.6, 0.8), ("F", 0.8, 0.9), ("SIL", 0.9, 1.5)]
    return articulation_from_phones(phones, fps, num_frames=frames)


def test_csv_round_trip_is_exact(tmp_path):
    track = _track()
    path = track.save_csv(tmp_path / "mouth.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#") and "fps=30" in lines[0]
    assert lines[1] == "time_s," + ",".join(ARTICULATION_CHANNELS)
    back = ArticulationTrack.load_csv(path)
    assert back.fps == 30.0 and back.channels == track.channels
    assert np.array_equal(back.values, track.values)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_csv_edited_in_a_spreadsheet_still_reads(tmp_path):
    track = _track(fps=25.0, frames=20)
    path = track.save_csv(tmp_path / "mouth.csv")
    # A spreadsheet drops the comment line, adds a byte-order mark and Windows line ends.
    path.write_bytes(("\ufeff" + "\r\n".join(path.read_text().splitlines()[1:]) + "\r\n").encode("utf-8"))
    back = ArticulationTrack.load_csv(path)
    assert back.fps == 25.0 and np.array_equal(back.values, track.values)


def test_json_round_trip_carries_units(tmp_path):
    track = _track()
    path = track.save_json(tmp_path / "mouth.json")
    document = json.loads(path.read_text())
    assert document["fps"] == 30.0 and document["num_frames"] == track.num_frames
    assert [c["name"] for c in document["channels"]] == list(ARTICULATION_CHANNELS)
    assert all(c["units"] == CHANNEL_UNITS[c["name"]] for c in document["channels"])
    back = ArticulationTrack.load_json(path)
    assert np.array_equal(back.values, track.values) and back.channels == track.channels
    assert np.array_equal(ArticulationTrack.load(path).values, ArticulationTrack.load(track.save(tmp_path / "m.csv")).values)


def test_editing_a_channel_validates_and_leaves_the_original(tmp_path):
    track = _track()
    original = track.values.copy()
    quieter = track.with_channel("jaw_open", 0.5 * track["jaw_open"])
    assert np.allclose(quieter["jaw_open"], 0.5 * track["jaw_open"])
    assert np.array_equal(quieter["lip_close"], track["lip_close"]) and np.array_equal(track.values, original)
    back = ArticulationTrack.load_csv(quieter.save_csv(tmp_path / "edited.csv"))
    assert np.array_equal(back.values, quieter.values)
    with pytest.raises(ArticulationError, match="shape"):
        track.with_channel("jaw_open", np.zeros(3))
    with pytest.raises(ArticulationError, match="unknown articulation channel"):
        track.with_channel("smile", np.zeros(track.num_frames))
    with pytest.raises(ArticulationError, match="NaN|nan"):
        track.with_channel("lip_round", np.full(track.num_frames, np.nan))
    with pytest.raises(ArticulationError, match="not millimetres or percent"):
        track.with_channel("jaw_open", 14.0 * track["jaw_open"] + 1)
    # A small overshoot from a curve editor is clipped with a warning; a tiny one is kept.
    with pytest.warns(UserWarning, match="clipped"):
        overshoot = track.with_channel("lip_round", np.full(track.num_frames, 1.2))
    assert overshoot["lip_round"].max() == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert track.with_channel("lip_round", np.full(track.num_frames, 1.02)).clip()["lip_round"].max() == 1.0


def test_subset_of_channels_and_canonical_order():
    track = _track()
    partial = ArticulationTrack(track.array(("lip_close", "jaw_open")), 30, ("lip_close", "jaw_open"))
    assert np.array_equal(partial["jaw_open"], track["jaw_open"])
    full = partial.with_channel("lip_round", track["lip_round"])
    assert full.channels == ("lip_close", "jaw_open", "lip_round")
    with pytest.raises(ArticulationError, match="no channel.*'labiodental'"):
        partial.array()


def test_resample_keeps_timing():
    track = articulation_from_phones([("SIL", 0.0, 0.5), ("AA", 0.5, 0.7), ("SIL", 0.7, 2.0)], 100)
    peak_time = track.times[np.argmax(track["jaw_open"])]
    for fps in (25.0, 30.0, 60.0):
        resampled = track.resample(fps)
        assert resampled.fps == fps and resampled.num_frames == int(round(2.0 * fps))
        assert abs(resampled.duration - track.duration) < 1.0 / fps
        opened = resampled.times[resampled["jaw_open"] > 0.5 * track["jaw_open"].max()]
        assert opened.min() - 1 / fps <= 0.5 and opened.max() + 1 / fps >= 0.7 and abs(np.mean(opened) - 0.6) < 1.0 / fps
        assert abs(resampled.resample(100.0).times[np.argmax(resampled.resample(100.0)["jaw_open"])] - peak_time) < 1.0 / fps
    with pytest.raises(ArticulationError, match="fps"):
        track.resample(-1)


def test_invalid_tracks_raise_clear_errors(tmp_path):
    with pytest.raises(ArticulationError, match="fps"):
        ArticulationTrack(np.zeros((3, 5)), 0)
    with pytest.raises(ArticulationError, match=r"expected \(T, 5\)"):
        ArticulationTrack(np.zeros((3, 4)), 30)
    with pytest.raises(ArticulationError, match="repeat"):
        ArticulationTrack(np.zeros((3, 2)), 30, ("jaw_open", "jaw_open"))
    with pytest.raises(ArticulationError, match="does not exist"):
        ArticulationTrack.load_csv(tmp_path / "missing.csv")
    other = tmp_path / "other.csv"
    other.write_text("frame,x,y\n0,1,2\n")
    with pytest.raises(ArticulationError, match="not an articulation CSV"):
        ArticulationTrack.load_csv(other)
    other.write_text("time_s,jaw_open\n0,0.1\n0.5,0.2\n0.6,0.2\n")
    with pytest.raises(ArticulationError, match="every frame from 0 s"):
        ArticulationTrack.load_csv(other)
    other.write_text("time_s,jaw_open\n0,0.1\n0.04,abc\n")
    with pytest.raises(ArticulationError, match="line 3"):
        ArticulationTrack.load_csv(other)
    other.write_text("time_s,mouth\n0,0.1\n0.04,0.2\n")
    with pytest.raises(ArticulationError, match="unknown articulation channel"):
        ArticulationTrack.load_csv(other)
    json_path = tmp_path / "other.json"
    json_path.write_text(json.dumps({"fps": 30, "values": [[0, 0]]}))
    with pytest.raises(ArticulationError, match="not an articulation track"):
        ArticulationTrack.load_json(json_path)
    with pytest.raises(ArticulationError, match=".csv or .json"):
        _track().save(tmp_path / "mouth.txt")


def test_plot_draws_every_channel():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    track = _track()
    ax = track.plot(phones=[("M", 0.3, 0.38), ("AA", 0.38, 0.6)])
    assert len(ax.get_lines()) == len(ARTICULATION_CHANNELS)
    assert np.allclose(ax.get_lines()[0].get_ydata(), track["jaw_open"])
    assert [t.get_text() for t in ax.texts] == ["m", "aa"]
    matplotlib.pyplot.close(ax.figure)


@pytest.mark.parametrize("fps", ["0.001", "0", "1e9", "-30"])
def test_a_files_own_fps_must_be_one_fps_accepts(tmp_path, fps):
    csv_path = _track().save_csv(tmp_path / "track.csv")
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join([lines[0].replace("fps=30", f"fps={fps}"), *lines[1:]]) + "\n")
    with pytest.raises(ArticulationError, match=r"outside 1-240 frames per second"):
        ArticulationTrack.load_csv(csv_path)
    json_path = _track().save_json(tmp_path / "track.json")
    document = json.loads(json_path.read_text())
    document["fps"] = float(fps)
    json_path.write_text(json.dumps(document))
    with pytest.raises(ArticulationError, match=r"outside 1-240 frames per second"):
        ArticulationTrack.load_json(json_path)


def test_a_time_that_is_not_a_number_is_refused(tmp_path):
    path = tmp_path / "track.csv"
    path.write_text("# fps=30\ntime_s,jaw_open\n0,0.1\nnan,0.2\n0.0666667,0.3\n")
    with pytest.raises(ArticulationError, match="row 2 is nan"):
        ArticulationTrack.load_csv(path)
