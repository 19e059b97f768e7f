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

Without ground truth (real speech on heads nobody captured), the second half of this module
measures what a viewer checks: lip opening on vowels, rest in pauses, closure on p/b/m, lip
versus forehead motion, correlation with the speech envelope, and agreement across meshings,
vertex orders and units (`experiments/evaluate/real.py` reports them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

ArrayLike = Any  # numpy array or torch tensor


def _numpy(values: ArrayLike) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def _frames(values: ArrayLike) -> np.ndarray:
    """(T, V, 3) or (T, V·3) → (T, V, 3) float64."""
    array = _numpy(values)
    if array.ndim == 2 and array.shape[1] % 3 == 0:
        array = array.reshape(array.shape[0], -1, 3)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected vertex frames of shape (T, V, 3) or (T, V*3), got {array.shape}")
    return array


def _aligned(pred: ArrayLike, gt: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both as (T, V, 3), cut to the shorter length; ValueError on different vertex counts."""
    pred_frames, gt_frames = _frames(pred), _frames(gt)
    if pred_frames.shape[1] != gt_frames.shape[1]:
        raise ValueError(f"prediction has {pred_frames.shape[1]} vertices, ground truth {gt_frames.shape[1]}")
    length = min(pred_frames.shape[0], gt_frames.shape[0])
    if length == 0:
        raise ValueError("prediction or ground truth has no frames")
    return pred_frames[:length], gt_frames[:length]


def _indices(vertices: ArrayLike, num_vertices: int) -> np.ndarray:
    indices = np.asarray(_numpy(vertices), dtype=np.int64).ravel()
    if indices.size == 0 or indices.min() < 0 or indices.max() >= num_vertices:
        raise ValueError(f"vertex indices must be a non-empty subset of [0, {num_vertices})")
    return indices


def lip_max_errors(pred: ArrayLike, gt: ArrayLike, lip_vertices: ArrayLike) -> np.ndarray:
    """(T,) per frame, the largest squared L2 error over the lip vertices (squared metres)."""
    pred_frames, gt_frames = _aligned(pred, gt)
    lips = _indices(lip_vertices, gt_frames.shape[1])
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
    pred_frames, gt_frames = _aligned(pred, gt)
    return float(np.linalg.norm(pred_frames - gt_frames, axis=2).mean())


def upper_face_motion_std(frames: ArrayLike, template: ArrayLike, upper_vertices: ArrayLike) -> float:
    """mean over upper vertices of std over time of ‖frames[t, v] − template[v]‖² (ddof=0)."""
    frames_array = _frames(frames)
    upper = _indices(upper_vertices, frames_array.shape[1])
    displacement = frames_array[:, upper] - _numpy(template).reshape(-1, 3)[None, upper]
    return float(np.sum(displacement**2, axis=2).std(axis=0).mean())


def upper_face_dynamics_deviation(
    pred: ArrayLike, gt: ArrayLike, template: ArrayLike, upper_vertices: ArrayLike
) -> float:
    """FDD of one sequence: `upper_face_motion_std(gt) − upper_face_motion_std(pred)`.

    pred, gt: (T, V, 3) or (T, V·3) cut to the shorter length · template: (V, 3) the subject's
    neutral face · upper_vertices: (U,) indices. Signed, in squared metres.
    """
    pred_frames, gt_frames = _aligned(pred, gt)
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
        raise ValueError("preds, gts, templates, lip_vertices and upper_vertices must have one entry per sequence")
    names = list(names) if names is not None else [str(i) for i in range(count)]
    report = EvaluationReport()
    lip_maxima: list[np.ndarray] = []
    vertex_errors: list[np.ndarray] = []
    deviations: list[float] = []
    for i in range(count):
        pred, gt = _aligned(preds[i], gts[i])
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


# ---------------------------------------------------------------- speech-motion figures
#
# Without ground-truth motion (real speech on heads nobody captured) a prediction is judged by
# what a viewer checks: the lips part on vowels, rest in pauses, close on p/b/m, move more
# than the forehead, follow the loudness of the speech, and do all this the same way whatever
# the meshing, vertex order or units. Frames are (T, V, 3); frame t covers [t / fps, (t + 1) / fps).

VOWELS: frozenset[str] = frozenset(
    ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"))
"""ARPAbet vowels (no stress digits), as `scantalk.articulation.segments` names them."""

BILABIALS: frozenset[str] = frozenset(("P", "B", "M"))
"""Phones made with both lips closed."""

SILENCE_PHONE = "SIL"


def nearest_vertex(verts: ArrayLike, point: ArrayLike) -> int:
    """Index of the vertex of `verts` (V, 3) closest to `point` (3,), in the same units."""
    distances = np.linalg.norm(_numpy(verts).reshape(-1, 3) - _numpy(point).reshape(1, 3), axis=1)
    return int(np.argmin(distances))


def lip_opening(frames: ArrayLike, neutral: ArrayLike, upper_vertex: int, lower_vertex: int) -> np.ndarray:
    """(T,) the upper-to-lower lip midline distance minus its value in the neutral face.

    Args:
        frames: (T, V, 3) predicted positions.
        neutral: (V, 3) the face at rest, in the units of `frames`.
        upper_vertex, lower_vertex: the vertices nearest the upper_lip / lower_lip landmarks.

    Returns:
        (T,) in the units of `frames` (metres for FLAME-frame faces); 0 at rest, > 0 open,
        < 0 pressed together.
    """
    frames_array, rest = _frames(frames), _numpy(neutral).reshape(-1, 3)
    gap = np.linalg.norm(frames_array[:, upper_vertex] - frames_array[:, lower_vertex], axis=1)
    return gap - float(np.linalg.norm(rest[upper_vertex] - rest[lower_vertex]))


def _overlapping_frames(start: float, end: float, fps: float, num_frames: int) -> np.ndarray:
    """Frames whose interval [t, t + 1) / fps overlaps [start, end) s; a 30 fps frame (33 ms) is
    as long as a short consonant, so a segment must never come out empty."""
    first = int(np.floor(start * fps))
    last = int(np.ceil(end * fps)) - 1
    first, last = min(max(first, 0), num_frames - 1), min(max(last, first), num_frames - 1)
    return np.arange(first, last + 1)


def vowel_peak_openings(opening: ArrayLike, phones: Sequence[Any], fps: float) -> np.ndarray:
    """(N,) for each vowel segment, the largest lip opening over the frames it overlaps.

    Args:
        opening: (T,) from `lip_opening`.
        phones: segments with `.phone` (ARPAbet or "SIL"), `.start`, `.end` in seconds.
        fps: frame rate of `opening` in frames per second.

    Returns:
        (N,) peaks, one per vowel in time order (empty when there is none), units of `opening`.
    """
    values = _numpy(opening).ravel()
    return np.array([values[_overlapping_frames(s.start, s.end, fps, len(values))].max()
                     for s in phones if s.phone in VOWELS and s.start < len(values) / fps])


def pause_openings(opening: ArrayLike, phones: Sequence[Any], fps: float, min_pause: float = 0.15,
                   margin: float = 0.05) -> np.ndarray:
    """(N,) the mean lip opening in each silence at least `min_pause` seconds long.

    Args:
        opening: (T,) from `lip_opening`.
        phones: segments with `.phone`, `.start`, `.end` (seconds).
        fps: frame rate in frames per second.
        min_pause: shortest silence counted, seconds (shorter ones are stop closures or breaths).
        margin: seconds left out at each end, where the mouth is still closing or already
            opening for the next phone (coarticulation, and the aligner's ~20 ms error).

    Returns:
        (N,) means over the frame centres inside [start + margin, end − margin), units of `opening`.
    """
    values = _numpy(opening).ravel()
    centres = (np.arange(len(values)) + 0.5) / fps
    means = []
    for segment in phones:
        if segment.phone != SILENCE_PHONE or segment.end - segment.start < min_pause:
            continue
        inside = (centres >= segment.start + margin) & (centres < segment.end - margin)
        if inside.any():
            means.append(values[inside].mean())
    return np.array(means)


def bilabial_closures(opening: ArrayLike, phones: Sequence[Any], fps: float,
                      max_gap: float = 0.3) -> np.ndarray:
    """(N, 2) for each p/b/m followed by a vowel: [the smallest opening during it, that vowel's peak].

    Args:
        opening: (T,) from `lip_opening`.
        phones: segments with `.phone`, `.start`, `.end` (seconds), in time order.
        fps: frame rate in frames per second.
        max_gap: a bilabial counts only if a vowel starts within this many seconds of its end
            (word-final m before a pause has no vowel to compare with).

    Returns:
        (N, 2) in units of `opening`; closed lips mean column 0 well below column 1.
    """
    values = _numpy(opening).ravel()
    rows = []
    for i, segment in enumerate(phones):
        if segment.phone not in BILABIALS or segment.start >= len(values) / fps:
            continue
        vowel = next((s for s in phones[i + 1:] if s.phone in VOWELS), None)
        if vowel is None or vowel.start - segment.end > max_gap:
            continue
        closure = values[_overlapping_frames(segment.start, segment.end, fps, len(values))].min()
        peak = values[_overlapping_frames(vowel.start, vowel.end, fps, len(values))].max()
        rows.append((closure, peak))
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def closure_summary(closures: ArrayLike, max_ratio: float = 0.5, min_vowel_opening: float = 5e-4) -> dict[str, Any]:
    """How often the lips close for p/b/m: the share with closure ≤ `max_ratio` × vowel peak.

    Args:
        closures: (N, 2) from `bilabial_closures`.
        max_ratio: the target ratio of closure to the following vowel's peak.
        min_vowel_opening: below this vowel peak (metres) no closure can be seen, so the
            bilabial fails and is left out of the mean ratio (which would be noise over ~0).

    Returns:
        {"count", "fraction_closed", "mean_ratio", "ratio_count"}; fraction / mean None when empty.
    """
    rows = _numpy(closures).reshape(-1, 2)
    visible = rows[:, 1] > min_vowel_opening
    ratios = rows[visible, 0] / rows[visible, 1]
    return {
        "count": int(len(rows)),
        "fraction_closed": float(np.mean(visible & (rows[:, 0] <= max_ratio * rows[:, 1]))) if len(rows) else None,
        "mean_ratio": float(ratios.mean()) if len(ratios) else None,
        "ratio_count": int(len(ratios)),
    }


def lip_region(verts: ArrayLike, mouth_centre: ArrayLike, radius: float = 0.015) -> np.ndarray:
    """(L,) indices of the vertices within `radius` (metres, or the verts' units) of the mouth centre."""
    distances = np.linalg.norm(_numpy(verts).reshape(-1, 3) - _numpy(mouth_centre).reshape(1, 3), axis=1)
    return np.flatnonzero(distances <= radius)


def upper_face_region(verts: ArrayLike, eye_left: ArrayLike, eye_right: ArrayLike, above: float = 0.015,
                      height: float = 0.05, margin: float = 0.02) -> np.ndarray:
    """(U,) indices of the brow and forehead vertices: a band above the eyes on the face's front.

    Args:
        verts: (V, 3) neutral face in FLAME's frame (y up, face towards +z), metres.
        eye_left, eye_right: (3,) eyeball centres.
        above: the band starts this far above the eye centres (clears the eyeballs, ~12 mm radius).
        height: band height, metres (the forehead, not the scalp).
        margin: metres beyond each eye centre sideways; the band keeps z ≥ the eyes' z (the front).

    Returns:
        (U,) vertex indices, possibly empty.
    """
    points = _numpy(verts).reshape(-1, 3)
    left, right = _numpy(eye_left), _numpy(eye_right)
    level, half_width = 0.5 * (left[1] + right[1]), 0.5 * abs(left[0] - right[0]) + margin
    inside = ((points[:, 1] >= level + above) & (points[:, 1] <= level + above + height)
              & (points[:, 2] >= 0.5 * (left[2] + right[2])) & (np.abs(points[:, 0] - 0.5 * (left[0] + right[0])) <= half_width))
    return np.flatnonzero(inside)


def motion_std(frames: ArrayLike, vertices: ArrayLike) -> float:
    """Mean over `vertices` of the temporal standard deviation of each vertex's position.

    Per vertex: sqrt(Σ_xyz var_t(x_t)) (ddof=0), the RMS distance from its mean position, which
    is the std of the displacement whatever the template. frames: (T, V, 3); units of frames.
    """
    frames_array = _frames(frames)
    selected = frames_array[:, _indices(vertices, frames_array.shape[1])]
    return float(np.sqrt(selected.var(axis=0).sum(axis=1)).mean())


def speech_envelope(samples: ArrayLike, sample_rate: int, fps: float, num_frames: int,
                    smoothing: float = 0.1) -> np.ndarray:
    """(T,) RMS energy of the audio in each frame's interval, smoothed by a centred moving average.

    Args:
        samples: (N,) mono audio at `sample_rate` Hz.
        sample_rate: Hz. fps: frames per second. num_frames: T (frames past the audio get 0).
        smoothing: moving-average width in seconds (syllables last ~0.2 s; the mouth cannot follow
            the pitch-period flicker of the energy).
    """
    audio = _numpy(samples).ravel()
    bounds = np.round(np.arange(num_frames + 1) * sample_rate / fps).astype(np.int64)
    rms = np.array([np.sqrt(np.mean(audio[a:b] ** 2)) if b > a and a < len(audio) else 0.0
                    for a, b in zip(bounds[:-1], bounds[1:])])
    width = max(1, int(round(smoothing * fps)))
    return np.convolve(rms, np.ones(width) / width, mode="same")


def pearson(a: ArrayLike, b: ArrayLike) -> float:
    """Pearson correlation of two (T,) series; NaN when either is constant (no motion to correlate)."""
    x, y = _numpy(a).ravel(), _numpy(b).ravel()
    length = min(len(x), len(y))
    x, y = x[:length] - x[:length].mean(), y[:length] - y[:length].mean()
    denominator = np.sqrt(np.sum(x**2) * np.sum(y**2))
    return float(np.sum(x * y) / denominator) if denominator > 1e-300 else float("nan")


def mouth_side(points: ArrayLike, mouth_left: ArrayLike, mouth_right: ArrayLike, upper_lip: ArrayLike,
               lower_lip: ArrayLike) -> np.ndarray:
    """(V,) +1 above the mouth slit, −1 below: the slit's height follows the polyline corner →
    midline midpoint → corner, so the two lips, a fraction of a millimetre apart, are told apart."""
    points = _numpy(points).reshape(-1, 3)
    left, right = _numpy(mouth_left), _numpy(mouth_right)
    middle = 0.5 * (_numpy(upper_lip) + _numpy(lower_lip))
    xs, ys = np.array([left[0], middle[0], right[0]]), np.array([left[1], middle[1], right[1]])
    order = np.argsort(xs)
    slit_y = np.interp(points[:, 0], xs[order], ys[order])
    return np.where(points[:, 1] >= slit_y, 1, -1)


def corresponding_vertices(points: ArrayLike, target: ArrayLike, points_side: ArrayLike | None = None,
                           target_side: ArrayLike | None = None) -> np.ndarray:
    """(P,) for each of `points` (P, 3), its nearest vertex of `target` (V, 3) on the same side.

    Two meshings of one neutral surface correspond at nearest neighbours; sides (from
    `mouth_side`) keep an upper-lip point from matching the lower lip across the slit.
    """
    from scipy.spatial import cKDTree

    source, goal = _numpy(points).reshape(-1, 3), _numpy(target).reshape(-1, 3)
    if points_side is None or target_side is None:
        return cKDTree(goal).query(source)[1].astype(np.int64)
    source_side, goal_side = np.asarray(points_side).ravel(), np.asarray(target_side).ravel()
    matches = np.empty(len(source), dtype=np.int64)
    for side in np.unique(source_side):
        candidates = np.flatnonzero(goal_side == side)
        if candidates.size == 0:
            raise ValueError(f"target has no vertex on side {side} of the mouth slit")
        mine = source_side == side
        matches[mine] = candidates[cKDTree(goal[candidates]).query(source[mine])[1]]
    return matches


def relative_displacement_error(reference: ArrayLike, other: ArrayLike) -> float:
    """‖other − reference‖ / ‖reference‖ over all frames and vertices (Frobenius norms).

    reference, other: displacements (T, P, 3) at corresponding points (e.g. gathered with
    `corresponding_vertices`); cut to the shorter length. NaN when the reference does not move.
    """
    ref, oth = _aligned(reference, other)
    norm = float(np.linalg.norm(ref))
    return float(np.linalg.norm(oth - ref)) / norm if norm > 0 else float("nan")


def max_deviation_ratio(frames: ArrayLike, reference: ArrayLike, neutral: ArrayLike, quantile: float = 1.0) -> float:
    """Worst disagreement as a share of the peak motion: max_{t,v} ‖frames − reference‖ /
    max_{t,v} ‖reference − neutral‖.

    Args:
        frames, reference: (T, V, 3) in the same vertex order and units; cut to the shorter length.
        neutral: (V, 3) the face at rest.
        quantile: 1.0 for the maximum; e.g. 0.99 for the 99th percentile of the per-vertex,
            per-frame deviations (tells one stray vertex from a face-wide difference).

    Returns:
        The ratio; NaN when the reference does not move.
    """
    result, ref = _aligned(frames, reference)
    peak = float(np.linalg.norm(ref - _numpy(neutral).reshape(1, -1, 3), axis=2).max())
    worst = float(np.quantile(np.linalg.norm(result - ref, axis=2), quantile))
    return worst / peak if peak > 0 else float("nan")
