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
    from scantalk.data import load_dataset

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
