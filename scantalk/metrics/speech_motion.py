"""What a viewer checks, without ground-truth motion (real speech on heads nobody captured).

The lips part on vowels, rest in pauses, close on p/b/m, move more than the forehead, follow the
loudness of the speech, and do all this the same way whatever the meshing, vertex order or units
(`experiments/evaluate/real.py` reports them). Frames are (T, V, 3); frame t covers
[t / fps, (t + 1) / fps).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from scantalk.errors import MetricsError
from scantalk.metrics.arrays import ArrayLike, common_length, numpy_array, vertex_frames, vertex_indices

VOWELS: frozenset[str] = frozenset(
    ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"))
"""ARPAbet vowels (no stress digits), as `scantalk.articulation.segments` names them."""

BILABIALS: frozenset[str] = frozenset(("P", "B", "M"))
"""Phones made with both lips closed."""

SILENCE_PHONE = "SIL"


def nearest_vertex(verts: ArrayLike, point: ArrayLike) -> int:
    """Index of the vertex of `verts` (V, 3) closest to `point` (3,), in the same units."""
    distances = np.linalg.norm(numpy_array(verts).reshape(-1, 3) - numpy_array(point).reshape(1, 3), axis=1)
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
    frames_array, rest = vertex_frames(frames), numpy_array(neutral).reshape(-1, 3)
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
    values = numpy_array(opening).ravel()
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
    values = numpy_array(opening).ravel()
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
    values = numpy_array(opening).ravel()
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
    rows = numpy_array(closures).reshape(-1, 2)
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
    distances = np.linalg.norm(numpy_array(verts).reshape(-1, 3) - numpy_array(mouth_centre).reshape(1, 3), axis=1)
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
    points = numpy_array(verts).reshape(-1, 3)
    left, right = numpy_array(eye_left), numpy_array(eye_right)
    level, half_width = 0.5 * (left[1] + right[1]), 0.5 * abs(left[0] - right[0]) + margin
    inside = ((points[:, 1] >= level + above) & (points[:, 1] <= level + above + height)
              & (points[:, 2] >= 0.5 * (left[2] + right[2])) & (np.abs(points[:, 0] - 0.5 * (left[0] + right[0])) <= half_width))
    return np.flatnonzero(inside)


def motion_std(frames: ArrayLike, vertices: ArrayLike) -> float:
    """Mean over `vertices` of the temporal standard deviation of each vertex's position.

    Per vertex: sqrt(Σ_xyz var_t(x_t)) (ddof=0), the RMS distance from its mean position, which
    is the std of the displacement whatever the template. frames: (T, V, 3); units of frames.
    """
    frames_array = vertex_frames(frames)
    selected = frames_array[:, vertex_indices(vertices, frames_array.shape[1])]
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
    audio = numpy_array(samples).ravel()
    bounds = np.round(np.arange(num_frames + 1) * sample_rate / fps).astype(np.int64)
    rms = np.array([np.sqrt(np.mean(audio[a:b] ** 2)) if b > a and a < len(audio) else 0.0
                    for a, b in zip(bounds[:-1], bounds[1:])])
    width = max(1, int(round(smoothing * fps)))
    return np.convolve(rms, np.ones(width) / width, mode="same")


def pearson(a: ArrayLike, b: ArrayLike) -> float:
    """Pearson correlation of two (T,) series; NaN when either is constant (no motion to correlate)."""
    x, y = numpy_array(a).ravel(), numpy_array(b).ravel()
    length = min(len(x), len(y))
    x, y = x[:length] - x[:length].mean(), y[:length] - y[:length].mean()
    denominator = np.sqrt(np.sum(x**2) * np.sum(y**2))
    return float(np.sum(x * y) / denominator) if denominator > 1e-300 else float("nan")


def mouth_side(points: ArrayLike, mouth_left: ArrayLike, mouth_right: ArrayLike, upper_lip: ArrayLike,
               lower_lip: ArrayLike) -> np.ndarray:
    """(V,) +1 above the mouth slit, −1 below: the slit's height follows the polyline corner →
    midline midpoint → corner, so the two lips, a fraction of a millimetre apart, are told apart."""
    points = numpy_array(points).reshape(-1, 3)
    left, right = numpy_array(mouth_left), numpy_array(mouth_right)
    middle = 0.5 * (numpy_array(upper_lip) + numpy_array(lower_lip))
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

    source, goal = numpy_array(points).reshape(-1, 3), numpy_array(target).reshape(-1, 3)
    if points_side is None or target_side is None:
        return cKDTree(goal).query(source)[1].astype(np.int64)
    source_side, goal_side = np.asarray(points_side).ravel(), np.asarray(target_side).ravel()
    matches = np.empty(len(source), dtype=np.int64)
    for side in np.unique(source_side):
        candidates = np.flatnonzero(goal_side == side)
        if candidates.size == 0:
            raise MetricsError(f"target has no vertex on side {side} of the mouth slit")
        mine = source_side == side
        matches[mine] = candidates[cKDTree(goal[candidates]).query(source[mine])[1]]
    return matches


def relative_displacement_error(reference: ArrayLike, other: ArrayLike) -> float:
    """‖other − reference‖ / ‖reference‖ over all frames and vertices (Frobenius norms).

    reference, other: displacements (T, P, 3) at corresponding points (e.g. gathered with
    `corresponding_vertices`); cut to the shorter length. NaN when the reference does not move.
    """
    ref, oth = common_length(reference, other)
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
    result, ref = common_length(frames, reference)
    peak = float(np.linalg.norm(ref - numpy_array(neutral).reshape(1, -1, 3), axis=2).max())
    worst = float(np.quantile(np.linalg.norm(result - ref, axis=2), quantile))
    return worst / peak if peak > 0 else float("nan")
