"""LVE, MVE and FDD, computed exactly as the speech-driven 3D face literature reports them.

Conventions (FaceFormer / CodeTalker / FaceDiffuser evaluation scripts), for one sequence with
prediction P and ground truth G, both (T, V, 3) in metres, and template X (V, 3):

- Lengths: P and G are cut to the shorter of the two before anything else.
- LVE (lip vertex error) = mean_t max_{v in lips} ‖P[t, v] − G[t, v]‖²  (squared metres).
- MVE (mean vertex error) = mean_t mean_v ‖P[t, v] − G[t, v]‖  (metres, not squared).
- FDD (upper-face dynamics deviation) = mean_{v in upper} std_t ‖G[t, v] − X[v]‖²
  − mean_{v in upper} std_t ‖P[t, v] − X[v]‖²  (population std, ddof=0; signed: positive when
  the prediction moves the upper face less than the ground truth).

Over a test set (`evaluate_sequences`): LVE and MVE are averaged over *all frames pooled*
(each frame weighs the same, as those scripts concatenate frames), FDD over sequences.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from scantalk.errors import MetricsError
from scantalk.metrics.arrays import ArrayLike, common_length, numpy_array, vertex_frames, vertex_indices


def lip_max_errors(pred: ArrayLike, gt: ArrayLike, lip_vertices: ArrayLike) -> np.ndarray:
    """(T,) per frame, the largest squared L2 error over the lip vertices (squared metres)."""
    pred_frames, gt_frames = common_length(pred, gt)
    lips = vertex_indices(lip_vertices, gt_frames.shape[1])
    squared = np.sum((pred_frames[:, lips] - gt_frames[:, lips]) ** 2, axis=2)
    return squared.max(axis=1)


def lip_vertex_error(pred: ArrayLike, gt: ArrayLike, lip_vertices: ArrayLike) -> float:
    """LVE of one sequence: mean over frames of the max over lips of ‖pred − gt‖² (squared metres).

    pred, gt: (T, V, 3) or (T, V·3), numpy or torch; cut to the shorter length.
    lip_vertices: (L,) vertex indices.
    """
    return float(lip_max_errors(pred, gt, lip_vertices).mean())


def mean_vertex_error(pred: ArrayLike, gt: ArrayLike) -> float:
    """MVE of one sequence: mean over frames and vertices of ‖pred − gt‖ (metres, not squared).

    pred, gt: (T, V, 3) or (T, V·3), numpy or torch; cut to the shorter length.
    """
    pred_frames, gt_frames = common_length(pred, gt)
    return float(np.linalg.norm(pred_frames - gt_frames, axis=2).mean())


def upper_face_motion_std(frames: ArrayLike, template: ArrayLike, upper_vertices: ArrayLike) -> float:
    """mean over upper vertices of std over time of ‖frames[t, v] − template[v]‖² (ddof=0)."""
    frames_array = vertex_frames(frames)
    upper = vertex_indices(upper_vertices, frames_array.shape[1])
    displacement = frames_array[:, upper] - numpy_array(template).reshape(-1, 3)[None, upper]
    return float(np.sum(displacement**2, axis=2).std(axis=0).mean())


def upper_face_dynamics_deviation(
    pred: ArrayLike, gt: ArrayLike, template: ArrayLike, upper_vertices: ArrayLike
) -> float:
    """FDD of one sequence: `upper_face_motion_std(gt) − upper_face_motion_std(pred)`.

    pred, gt: (T, V, 3) or (T, V·3) cut to the shorter length · template: (V, 3) the subject's
    neutral face · upper_vertices: (U,) indices. Signed, in squared metres.
    """
    pred_frames, gt_frames = common_length(pred, gt)
    return upper_face_motion_std(gt_frames, template, upper_vertices) - upper_face_motion_std(
        pred_frames, template, upper_vertices
    )


@dataclass
class SequenceMetrics:
    """Metrics of one sequence; lve / fdd are None when its lip / upper-face mask is unknown."""

    name: str
    num_frames: int
    mve: float
    lve: float | None
    fdd: float | None


@dataclass
class EvaluationReport:
    """Per-sequence metrics and the test-set aggregate (LVE, MVE pooled over frames; FDD over sequences)."""

    sequences: list[SequenceMetrics] = field(default_factory=list)
    lve: float | None = None
    mve: float | None = None
    fdd: float | None = None
    num_frames: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "lve": self.lve, "mve": self.mve, "fdd": self.fdd, "num_frames": self.num_frames,
            "num_sequences": len(self.sequences), "sequences": [asdict(item) for item in self.sequences],
            "units": {"lve": "m^2", "mve": "m", "fdd": "m^2"},
        }


def _same_units(pred: np.ndarray, gt: np.ndarray, name: str) -> None:
    """ScanTalkError when a prediction's face is 10× (or more) larger or smaller than its ground
    truth: millimetres scored against metres gives errors that mean nothing."""
    from scantalk.errors import ScanTalkError

    size = [float(np.linalg.norm(x[0].max(axis=0) - x[0].min(axis=0))) for x in (pred, gt)]
    if min(size) > 0 and not 0.1 < size[0] / size[1] < 10.0:
        raise ScanTalkError(f"sequence {name}: the predicted face is {size[0] / size[1]:.3g}× the size of the "
                            "ground truth (millimetres against metres?); bring the predictions to the dataset's units")


def evaluate_sequences(
    preds: Sequence[ArrayLike],
    gts: Sequence[ArrayLike],
    templates: Sequence[ArrayLike],
    lip_vertices: Sequence[ArrayLike | None],
    upper_vertices: Sequence[ArrayLike | None],
    names: Sequence[str] | None = None,
) -> EvaluationReport:
    """Metrics of a set of sequences, each with its own template and masks (any topologies).

    preds[i], gts[i]: (T_i, V_i, 3) · templates[i]: (V_i, 3) · lip_vertices[i] / upper_vertices[i]:
    index arrays or None (that sequence then has no LVE / FDD and is left out of that aggregate).
    """
    count = len(preds)
    if not (len(gts) == len(templates) == len(lip_vertices) == len(upper_vertices) == count):
        raise MetricsError("preds, gts, templates, lip_vertices and upper_vertices must have one entry per sequence")
    names = list(names) if names is not None else [str(i) for i in range(count)]
    report = EvaluationReport()
    lip_maxima: list[np.ndarray] = []
    vertex_errors: list[np.ndarray] = []
    deviations: list[float] = []
    for i in range(count):
        pred, gt = common_length(preds[i], gts[i])
        _same_units(pred, gt, names[i])
        per_frame_error = np.linalg.norm(pred - gt, axis=2).mean(axis=1)
        vertex_errors.append(per_frame_error)
        lve = fdd = None
        if lip_vertices[i] is not None:
            lip_maxima.append(lip_max_errors(pred, gt, lip_vertices[i]))
            lve = float(lip_maxima[-1].mean())
        if upper_vertices[i] is not None:
            fdd = upper_face_dynamics_deviation(pred, gt, templates[i], upper_vertices[i])
            deviations.append(fdd)
        report.sequences.append(SequenceMetrics(names[i], int(pred.shape[0]), float(per_frame_error.mean()), lve, fdd))
    if count:
        report.mve = float(np.concatenate(vertex_errors).mean())
        report.num_frames = int(sum(item.num_frames for item in report.sequences))
    if lip_maxima:
        report.lve = float(np.concatenate(lip_maxima).mean())
    if deviations:
        report.fdd = float(np.mean(deviations))
    return report
