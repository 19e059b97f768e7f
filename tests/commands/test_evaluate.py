"""`scantalk evaluate`: broken predictions are reported, never silently averaged or cut."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scantalk.cli import main
from scantalk.geometry import Mesh, save_mesh

NUM_FRAMES = 10


@pytest.fixture
def dataset(tmp_path) -> tuple[Path, np.ndarray]:
    """A processed-layout dataset: one subject, one sequence of a square moving along x (metres)."""
    root = tmp_path / "data"
    for folder in ("wav", "vertices_npy", "templates"):
        (root / folder).mkdir(parents=True)
    template = np.array([[0, 0, 0], [0.02, 0, 0], [0, 0.02, 0], [0.02, 0.02, 0]], dtype=np.float32)
    faces = np.array([[0, 1, 3], [0, 3, 2]])
    frames = template[None] + 1e-3 * np.arange(NUM_FRAMES, dtype=np.float32)[:, None, None] * np.array([1, 0, 0])
    np.save(root / "vertices_npy" / "subj_seq.npy", frames.astype(np.float32))
    sf.write(root / "wav" / "subj_seq.wav", np.sin(np.linspace(0, 300, 16000 * NUM_FRAMES // 30)), 16000)
    save_mesh(root / "templates" / "subj.ply", template.astype(np.float64), Mesh.from_arrays(template, faces))
    return root, frames.astype(np.float32)


def _evaluate(pred_dir: Path, root: Path) -> int:
    return main(["evaluate", str(pred_dir), "--dataset", str(root), "--split", "all", "--fps", "30"])


def test_exact_prediction_scores_zero(dataset, tmp_path):
    root, frames = dataset
    (tmp_path / "pred").mkdir()
    np.save(tmp_path / "pred" / "subj_seq.npy", frames)
    assert _evaluate(tmp_path / "pred", root) == 0
    metrics = json.loads((tmp_path / "pred" / "metrics.json").read_text())
    assert metrics["mve"] == 0.0 and metrics["length_mismatches"] == {}


def test_nan_prediction_is_an_error_not_a_nan_score(dataset, tmp_path, capsys):
    root, frames = dataset
    (tmp_path / "pred").mkdir()
    broken = frames.copy()
    broken[3, 1, 0] = np.nan
    np.save(tmp_path / "pred" / "subj_seq.npy", broken)
    assert _evaluate(tmp_path / "pred", root) == 1
    err = capsys.readouterr().err
    assert "subj_seq.npy" in err and "NaN" in err and "[3]" in err
    assert not (tmp_path / "pred" / "metrics.json").exists()


@pytest.mark.parametrize("extra", [5, -3])
def test_prediction_of_another_length_is_reported(dataset, tmp_path, capsys, extra):
    root, frames = dataset
    (tmp_path / "pred").mkdir()
    resized = np.concatenate([frames, np.repeat(frames[-1:], extra, axis=0)]) if extra > 0 else frames[:extra]
    np.save(tmp_path / "pred" / "subj_seq.npy", resized)
    assert _evaluate(tmp_path / "pred", root) == 0
    err = capsys.readouterr().err
    assert "warning" in err and f"{NUM_FRAMES + extra} predicted vs {NUM_FRAMES} ground-truth frames" in err
    metrics = json.loads((tmp_path / "pred" / "metrics.json").read_text())
    assert metrics["length_mismatches"] == {
        "subj_seq": {"prediction_frames": NUM_FRAMES + extra, "ground_truth_frames": NUM_FRAMES}}


@pytest.mark.parametrize("option, needle", [(["--fps", "0"], "fps"), (["--fps", "nan"], "fps"),
                                            (["--frame-step", "0"], "--frame-step")])
def test_a_frame_rate_or_step_that_is_not_usable_is_refused(dataset, tmp_path, capsys, option, needle):
    root, frames = dataset
    (tmp_path / "pred").mkdir()
    np.save(tmp_path / "pred" / "subj_seq.npy", frames)
    assert main(["evaluate", str(tmp_path / "pred"), "--dataset", str(root), "--split", "all", *option]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "pred" / "metrics.json").exists()
