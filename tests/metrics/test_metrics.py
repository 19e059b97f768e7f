"""LVE / MVE / FDD on cases small enough to compute by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scantalk.metrics import (evaluate_sequences, lip_vertex_error, mean_vertex_error,
                              upper_face_dynamics_deviation)

# Two frames, three vertices; ground truth at rest (zeros).
GT = np.zeros((2, 3, 3))
PRED = np.array([
    [[1, 0, 0], [0, 2, 0], [10, 0, 0]],   # squared errors 1, 4, 100 ; distances 1, 2, 10
    [[0, 0, 3], [1, 1, 0], [0, 0, 0]],    # squared errors 9, 2, 0   ; distances 3, sqrt 2, 0
], dtype=float)
LIPS = np.array([0, 1])


def test_lve_is_mean_over_frames_of_max_squared_lip_error() -> None:
    # frame maxima over lips {0, 1}: max(1, 4) = 4 and max(9, 2) = 9 → (4 + 9) / 2; vertex 2 is not a lip
    assert lip_vertex_error(PRED, GT, LIPS) == pytest.approx(6.5)


def test_mve_is_mean_unsquared_distance() -> None:
    assert mean_vertex_error(PRED, GT) == pytest.approx((1 + 2 + 10 + 3 + math.sqrt(2) + 0) / 6)


def test_fdd_is_gt_minus_pred_std_over_time_of_squared_displacement() -> None:
    template = np.zeros((2, 3))
    gt = np.zeros((3, 2, 3))
    gt[:, 0, 0] = [0, 1, 2]   # ‖d‖² = 0, 1, 4 → mean 5/3, population std sqrt(26)/3
    gt[:, 1, 1] = [1, 1, 1]   # ‖d‖² constant → std 0
    pred = np.zeros((3, 2, 3))
    pred[:, 0, 2] = [1, 1, 1]  # std 0
    pred[:, 1, 0] = [0, 0, 1]  # ‖d‖² = 0, 0, 1 → population std sqrt(2)/3
    expected = (math.sqrt(26) / 3 + 0) / 2 - (0 + math.sqrt(2) / 3) / 2
    assert upper_face_dynamics_deviation(pred, gt, template, [0, 1]) == pytest.approx(expected)
    # the template matters: moving it changes the displacements
    moved = template + np.array([1.0, 0, 0])
    assert upper_face_dynamics_deviation(pred, gt, moved, [0, 1]) != pytest.approx(expected)


def test_lengths_are_cut_to_the_shorter_and_flat_and_torch_inputs_agree() -> None:
    longer = np.concatenate([PRED, np.full((3, 3, 3), 50.0)])
    assert lip_vertex_error(longer, GT, LIPS) == pytest.approx(6.5)
    assert mean_vertex_error(GT, longer) == pytest.approx(mean_vertex_error(PRED, GT))
    flat = torch.tensor(PRED.reshape(2, 9), dtype=torch.float32)
    assert lip_vertex_error(flat, torch.zeros(2, 3, 3), torch.tensor([0, 1])) == pytest.approx(6.5)
    with pytest.raises(ValueError, match="vertices"):
        mean_vertex_error(np.zeros((2, 4, 3)), GT)


def test_test_set_aggregate_pools_frames_for_lve_mve_and_averages_fdd_over_sequences() -> None:
    # sequence A: one frame, lip error² 2 ; sequence B: three frames, lip error² 6 each
    gt_a, gt_b = np.zeros((1, 2, 3)), np.zeros((3, 2, 3))
    pred_a = gt_a.copy()
    pred_a[0, 0] = [1, 1, 0]
    pred_b = gt_b.copy()
    pred_b[:, 0] = [1, 1, 2]
    template = np.zeros((2, 3))
    report = evaluate_sequences([pred_a, pred_b], [gt_a, gt_b], [template, template], [[0], [0]], [[1], None],
                                names=["a", "b"])
    assert report.lve == pytest.approx((2 + 3 * 6) / 4)          # not the mean of per-sequence values (4)
    assert report.mve == pytest.approx((math.sqrt(2) / 2 + 3 * math.sqrt(6) / 2) / 4)
    assert [item.lve for item in report.sequences] == pytest.approx([2, 6])
    assert report.sequences[1].fdd is None and report.fdd == pytest.approx(0.0)
    assert report.num_frames == 4 and report.to_dict()["num_sequences"] == 2
    no_masks = evaluate_sequences([pred_a], [gt_a], [template], [None], [None])
    assert no_masks.lve is None and no_masks.fdd is None and no_masks.mve is not None


# --- `scantalk evaluate` end to end -----------------------------------------------------------

def _write_dataset(root, subjects, num_frames=6, num_vertices=4):
    """A processed-layout dataset: frames (T, V·3) of the template drifting along x, lip/upper masks."""
    import json
    import pickle

    import soundfile

    (root / "wav").mkdir(parents=True)
    (root / "vertices_npy").mkdir()
    (root / "masks").mkdir()
    templates = {}
    for s, subject in enumerate(subjects):
        templates[subject] = np.arange(num_vertices * 3, dtype=np.float32).reshape(num_vertices, 3) * 0.01 + s
        frames = np.repeat(templates[subject][None], num_frames, axis=0)
        frames[:, :, 0] += np.arange(num_frames, dtype=np.float32)[:, None] * 1e-3
        np.save(root / "vertices_npy" / f"{subject}_s01.npy", frames.reshape(num_frames, -1))
        soundfile.write(root / "wav" / f"{subject}_s01.wav", 0.1 * np.sin(np.arange(3200) / 5.0), 16000)
    (root / "templates.pkl").write_bytes(pickle.dumps(templates))
    np.save(root / "masks" / "lip.npy", np.array([0, 1]))
    np.save(root / "masks" / "upper.npy", np.array([2, 3]))
    (root / "splits.json").write_text(json.dumps({"train": subjects[:1], "test": subjects[1:]}))
    return templates


def test_evaluate_command_end_to_end(tmp_path, capsys) -> None:
    import json

    from scantalk.cli import main
    from scantalk.datasets import load_dataset

    _write_dataset(tmp_path / "data", ["subj_a", "subj_b", "subj_c"])
    preds = tmp_path / "preds"
    (preds / "subj_c_s01").mkdir(parents=True)
    gts = {ref.key: ref.load_frames() for ref in load_dataset(tmp_path / "data", split="test")}
    # subj_b: every vertex 3 mm off along z, stored flat ; subj_c: exact, as `animate` writes it, one frame longer
    np.save(preds / "subj_b_s01.npy", (gts["subj_b_s01"] + np.array([0, 0, 0.003], np.float32)).reshape(6, -1))
    np.save(preds / "subj_c_s01" / "animation.npy", np.concatenate([gts["subj_c_s01"], gts["subj_c_s01"][-1:]]))
    np.save(preds / "subj_a_s01.npy", gts["subj_b_s01"])  # a train subject: not part of the test split

    assert main(["evaluate", str(preds), "--dataset", str(tmp_path / "data"), "--split", "test"]) == 0
    out = capsys.readouterr()
    assert "subj_b_s01" in out.out and "mean" in out.out and "subj_a_s01" in out.err
    metrics = json.loads((preds / "metrics.json").read_text())
    per_sequence = {item["name"]: item for item in metrics["sequences"]}
    assert per_sequence["subj_b_s01"]["mve"] == pytest.approx(0.003, rel=1e-4)
    assert per_sequence["subj_b_s01"]["lve"] == pytest.approx(0.003**2, rel=1e-3)
    assert per_sequence["subj_c_s01"] == {"name": "subj_c_s01", "num_frames": 6, "mve": 0.0, "lve": 0.0, "fdd": 0.0}
    assert metrics["mve"] == pytest.approx(0.0015, rel=1e-4) and metrics["num_sequences"] == 2
    assert metrics["unmatched_predictions"] == ["subj_a_s01"]

    np.save(preds / "subj_b_s01.npy", np.zeros((6, 5, 3)))
    assert main(["evaluate", str(preds), "--dataset", str(tmp_path / "data"), "--split", "test"]) == 1
    assert "subj_b_s01.npy" in capsys.readouterr().err


# --- speech-motion figures (no ground truth) ---------------------------------------------------

from types import SimpleNamespace  # noqa: E402

from scantalk.metrics import (bilabial_closures, closure_summary, corresponding_vertices, lip_opening,  # noqa: E402
                              lip_region, max_deviation_ratio, motion_std, mouth_side, nearest_vertex,
                              pause_openings, pearson, relative_displacement_error, speech_envelope,
                              upper_face_region, vowel_peak_openings)

FPS = 10.0  # 0.1 s frames keep the frame arithmetic readable


def _segments(*rows):
    return [SimpleNamespace(phone=phone, start=start, end=end) for phone, start, end in rows]


# "pa ... me": pause, P, AA, M, IY, pause (seconds); 20 frames at 10 fps
PHONES = _segments(("SIL", 0.0, 0.5), ("P", 0.5, 0.6), ("AA", 0.6, 0.9), ("M", 0.9, 1.0), ("IY", 1.0, 1.3),
                   ("SIL", 1.3, 2.0))
# the opening a viewer would want: 0 at rest, 5 mm on vowels, lips pressed (−0.5 mm) on p and m
OPENING = np.zeros(20)
OPENING[5] = OPENING[9] = -0.0005
OPENING[6:9] = OPENING[10:13] = 0.005


def _talking_face(opening):
    """Frames (T, 2, 3) of an upper and a lower lip vertex 20 mm apart at rest, the lower one
    dropping by `opening` (metres)."""
    neutral = np.array([[0.0, 0.01, 0.09], [0.0, -0.01, 0.09]])
    frames = np.repeat(neutral[None], len(opening), axis=0)
    frames[:, 1, 1] -= opening
    return frames, neutral


def test_lip_opening_is_the_midline_gap_minus_its_rest_value_in_any_units() -> None:
    frames, neutral = _talking_face(OPENING)
    upper = nearest_vertex(neutral, [0.001, 0.012, 0.09])
    lower = nearest_vertex(neutral, [0.0, -0.011, 0.088])
    assert (upper, lower) == (0, 1)
    assert lip_opening(frames, neutral, upper, lower) == pytest.approx(OPENING, abs=1e-12)
    # millimetres in, millimetres out
    assert lip_opening(frames * 1000, neutral * 1000, 0, 1) == pytest.approx(OPENING * 1000, abs=1e-9)


def test_vowel_peaks_pauses_and_bilabial_closures_on_a_hand_made_opening() -> None:
    assert vowel_peak_openings(OPENING, PHONES, FPS) == pytest.approx([0.005, 0.005])
    assert pause_openings(OPENING, PHONES, FPS) == pytest.approx([0.0, 0.0])
    closures = bilabial_closures(OPENING, PHONES, FPS)
    assert closures == pytest.approx(np.array([[-0.0005, 0.005], [-0.0005, 0.005]]))
    summary = closure_summary(closures)
    assert summary["fraction_closed"] == 1.0 and summary["mean_ratio"] == pytest.approx(-0.1)
    assert summary["count"] == summary["ratio_count"] == 2


def test_pause_margins_skip_the_coarticulated_edges_and_short_silences_are_not_pauses() -> None:
    opening = OPENING.copy()
    opening[4] = opening[13] = 0.004   # the frames touching speech: mouth already / still moving
    assert pause_openings(opening, PHONES, FPS, margin=0.1) == pytest.approx([0.0, 0.0])
    assert pause_openings(opening, PHONES, FPS, margin=0.0) == pytest.approx([0.004 / 5, 0.004 / 7])
    short = _segments(("AA", 0.0, 0.5), ("SIL", 0.5, 0.6), ("AA", 0.6, 2.0))
    assert pause_openings(opening, short, FPS).size == 0


def test_lips_that_stay_open_fail_the_closure_and_an_unopened_vowel_hides_it() -> None:
    open_lips = OPENING.copy()
    open_lips[5] = open_lips[9] = 0.004               # p and m barely close: ratio 0.8
    summary = closure_summary(bilabial_closures(open_lips, PHONES, FPS))
    assert summary["fraction_closed"] == 0.0 and summary["mean_ratio"] == pytest.approx(0.8)
    still = np.full(20, 1e-5)                          # the model does not move: nothing to see
    summary = closure_summary(bilabial_closures(still, PHONES, FPS))
    assert summary["fraction_closed"] == 0.0 and summary["mean_ratio"] is None
    # a word-final m before a long pause has no vowel to compare with
    final_m = _segments(("AA", 0.0, 0.4), ("M", 0.4, 0.5), ("SIL", 0.5, 1.5), ("AA", 1.5, 2.0))
    assert bilabial_closures(OPENING, final_m, FPS).shape == (0, 2)
    assert closure_summary(np.zeros((0, 2)))["fraction_closed"] is None


def test_a_phone_shorter_than_a_frame_still_gets_the_frame_it_falls_in() -> None:
    opening = np.full(20, 0.005)
    opening[5] = 0.0
    phones = _segments(("AA", 0.0, 0.52), ("B", 0.52, 0.55), ("AA", 0.55, 2.0))
    assert bilabial_closures(opening, phones, FPS)[:, 0] == pytest.approx([0.0])


def test_regions_lips_near_the_mouth_and_upper_face_above_the_eyes_in_front() -> None:
    eye_left, eye_right = np.array([0.03, 0.03, 0.06]), np.array([-0.03, 0.03, 0.06])
    verts = np.array([
        [0.0, -0.04, 0.09],    # 0 upper lip (mouth centre)
        [0.012, -0.04, 0.085],  # 1 lip corner, 12 mm away
        [0.0, -0.07, 0.08],    # 2 chin, 30 mm below
        [0.0, 0.07, 0.09],     # 3 forehead
        [0.03, 0.04, 0.07],    # 4 eyeball top (only 10 mm above its centre)
        [0.0, 0.07, -0.09],    # 5 back of the head, same height as the forehead
        [0.0, 0.15, 0.0],      # 6 top of the scalp
    ])
    assert list(lip_region(verts, [0.0, -0.04, 0.09])) == [0, 1]
    assert list(upper_face_region(verts, eye_left, eye_right)) == [3]


def test_motion_std_is_rms_distance_from_the_mean_position_whatever_the_offset() -> None:
    t = np.arange(40)
    frames = np.zeros((40, 2, 3))
    frames[:, 0, 0] = 0.002 * np.sin(2 * np.pi * t / 8)   # amplitude 2 mm → std 2 mm / sqrt 2
    frames[:, 1] = [0.5, 0.5, 0.5]                        # displaced but still: no motion
    assert motion_std(frames, [0]) == pytest.approx(0.002 / math.sqrt(2))
    assert motion_std(frames, [1]) == pytest.approx(0.0, abs=1e-15)
    assert motion_std(frames, [0, 1]) == pytest.approx(0.001 / math.sqrt(2))


def test_envelope_follows_loudness_and_pearson_handles_no_motion() -> None:
    rate = 16000
    samples = np.zeros(2 * rate)
    samples[int(0.6 * rate):int(0.9 * rate)] = 0.5 * np.sin(np.arange(int(0.3 * rate)) * 0.3)  # the AA
    envelope = speech_envelope(samples, rate, FPS, 20, smoothing=0.0)
    assert envelope.argmax() in (6, 7, 8) and envelope[:5].max() == 0.0 and envelope[7] == pytest.approx(0.5 / math.sqrt(2), rel=0.05)
    assert len(speech_envelope(samples, rate, FPS, 25)) == 25          # frames past the audio are silent
    assert pearson(OPENING, 2 * OPENING + 1) == pytest.approx(1.0)
    assert pearson(OPENING, -OPENING) == pytest.approx(-1.0)
    assert math.isnan(pearson(np.ones(20), OPENING))
    assert pearson(envelope, np.maximum(OPENING, 0)) > 0.5


def test_corresponding_vertices_do_not_cross_the_mouth_slit() -> None:
    corners = dict(mouth_left=[0.025, -0.04, 0.08], mouth_right=[-0.025, -0.04, 0.08],
                   upper_lip=[0.0, -0.035, 0.09], lower_lip=[0.0, -0.045, 0.09])
    # the two lips at the slit (y = -40 mm), 0.4 mm apart; the other meshing's upper-lip vertex
    # lies 0.4 mm from this one's, its lower-lip vertex only 0.3 mm
    mesh_a = np.array([[0.0, -0.0398, 0.09], [0.0, -0.0402, 0.09]])
    mesh_b = np.array([[0.0, -0.0401, 0.09], [0.0, -0.0394, 0.09]])   # lower lip first
    sides_a, sides_b = mouth_side(mesh_a, **corners), mouth_side(mesh_b, **corners)
    assert list(sides_a) == [1, -1] and list(sides_b) == [-1, 1]
    assert list(corresponding_vertices(mesh_a, mesh_b)) == [0, 0]            # plain nearest: wrong lip
    assert list(corresponding_vertices(mesh_a, mesh_b, sides_a, sides_b)) == [1, 0]


def test_relative_error_and_max_deviation_ratio() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(5, 4, 3)) * 0.001
    assert relative_displacement_error(reference, 1.2 * reference) == pytest.approx(0.2)
    assert relative_displacement_error(reference, reference) == 0.0
    assert math.isnan(relative_displacement_error(np.zeros((5, 4, 3)), reference))
    neutral = rng.normal(size=(4, 3))
    frames = neutral + reference
    order = rng.permutation(4)
    back = np.empty_like(frames)
    back[:, order] = frames[:, order]                 # animated permuted, mapped back: identical
    assert max_deviation_ratio(back, frames, neutral) == 0.0
    off = frames.copy()
    peak = np.linalg.norm(reference, axis=2).max()
    off[2, 1, 0] += 0.05 * peak
    assert max_deviation_ratio(off, frames, neutral) == pytest.approx(0.05)
    assert max_deviation_ratio(off, frames, neutral, quantile=0.9) == 0.0   # one stray vertex in 20


def test_predictions_in_other_units_than_the_ground_truth_are_refused():
    from scantalk.errors import ScanTalkError
    from scantalk.metrics import evaluate_sequences

    gt = np.random.default_rng(0).normal(size=(4, 30, 3)) * 0.05
    with pytest.raises(ScanTalkError, match="millimetres against metres"):
        evaluate_sequences([gt * 1000.0], [gt], [gt[0]], [None], [None], names=["s1"])
    assert evaluate_sequences([gt], [gt], [gt[0]], [None], [None]).mve == 0.0
