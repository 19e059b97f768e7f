"""Recognise one of EmoVOCA's 11 emotions from a displacement, on any head, meshing or point cloud.

A displacement (V, 3) is read at `canonical_points`: about a hundred points placed from the
landmarks on the brows, forehead, lids, cheeks, nose, lips, mouth corners and chin. Each point's
value is a Gaussian-weighted mean of the displacement of the front-most surface vertices around
it, expressed in the landmark face frame and divided by the face scale, so the pattern is the same
for every meshing, vertex order and size of a face. The pattern is normalised to unit length
(the classifier reads *which* expression, not how strong), and a multinomial logistic regression
(numpy + scipy L-BFGS) maps it to the labels. It is trained on procedural expressions of other
identities (`fit_classifier`), with per-identity unit scales, per-emotion jitter and EmoVOCA's
three intensities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize
from scipy import sparse
from scipy.spatial import cKDTree

from emotion.facs.action_units import action_unit_basis, expression_displacement
from emotion.facs.emotions import EMOTIONS, expression_weights
from scantalk.emotions import INTENSITY_LEVELS, emotion_index
from scantalk.errors import ScanTalkError
from scantalk.face.frame import face_frame
from scantalk.face.head import Head


class RecognitionError(ScanTalkError):
    """A displacement, label list or classifier setting the emotion recogniser cannot use."""


REGIONS: tuple[str, ...] = ("all", "upper")
"""Which canonical points a classifier reads: the whole face, or the upper face only (brows, lids,
cheeks, nose: what a talking mouth leaves readable)."""

SAMPLE_RADIUS = 0.006
"""Metres (× face scale) around a canonical point whose surface vertices are averaged."""

DEFAULT_TRAINING_SEEDS: tuple[int, ...] = (11, 12, 13, 14, 15, 16)
"""Procedural identities of the default classifier (evaluations hold out seeds ≥ 900000)."""


def canonical_points(head: Head) -> tuple[np.ndarray, np.ndarray]:
    """Points (K, 2) in the face frame's (x, y) plane, metres, placed from `head`'s landmarks.

    Returns:
        points (K, 2) and `upper` (K,) bool: True for brows, forehead, lids, cheeks and nose.
    """
    frame = face_frame(head)
    s = frame.scale
    lm = frame.local(head.landmarks.as_array())
    hw = 0.5 * (lm[0, 0] - lm[1, 0])
    corner_y = 0.5 * (lm[0, 1] + lm[1, 1])
    eye_x, eye_y = 0.5 * (lm[6, 0] - lm[7, 0]), 0.5 * (lm[6, 1] + lm[7, 1])
    upper: list[tuple[float, float]] = []
    for x in np.array([0.0, 0.4, -0.4, 0.8, -0.8, 1.2, -1.2, 1.5, -1.5]) * eye_x:  # brows and forehead
        upper += [(x, eye_y + dy * s) for dy in (0.012, 0.020, 0.030, 0.045)]
    for side in (1.0, -1.0):  # lids, then cheeks
        upper += [(side * eye_x + dx * s, eye_y + dy * s) for dx in (-0.008, 0.0, 0.008) for dy in (0.009, -0.009)]
        upper += [(side * f * eye_x, eye_y - dy * s) for f in (0.5, 0.9, 1.3) for dy in (0.020, 0.035)]
    upper += [(dx * s, lm[5, 1] + dy * s) for dx in (0.0, 0.010, -0.010) for dy in (0.004, 0.016)]  # nose
    lower: list[tuple[float, float]] = []
    for f in (0.0, 0.5, -0.5, 0.85, -0.85):  # lips and the skin just above and below them
        x = f * hw
        lower += [(x, lm[2, 1]), (x, lm[2, 1] + 0.008 * s), (x, lm[3, 1]), (x, lm[3, 1] - 0.008 * s)]
    for side in (1.0, -1.0):  # corners, beside them, and the nasolabial cheek
        lower += [(side * hw, corner_y), (side * (hw + 0.008 * s), corner_y)]
        lower += [(side * (hw + 0.008 * s), corner_y + dy * s) for dy in (0.008, -0.008)]
        lower += [(side * (hw + 0.012 * s), corner_y + dy * s) for dy in (0.015, 0.030)]
    lower += [(dx * s, lm[4, 1] + dy * s) for dx in (0.0, 0.012, -0.012) for dy in (0.0, 0.010)]  # chin
    points = np.array(upper + lower)
    return points, np.arange(len(points)) < len(upper)


def sampling_matrix(head: Head, region: str = "all") -> sparse.csr_matrix:
    """Weights (K, V) that read a per-vertex quantity at the canonical points.

    Each row averages the front-most surface vertices within `SAMPLE_RADIUS` of its point
    (Gaussian weights; the radius doubles, up to four times, where a sparse meshing or a hole
    leaves none). A row with no vertex even then (a large hole) is all zero.

    Args:
        head: the neutral head (any meshing; holes are fine).
        region: "all" or "upper" (`REGIONS`).

    Returns:
        A sparse (K, V) matrix whose non-empty rows sum to 1.
    """
    if region not in REGIONS:
        raise RecognitionError(f"region must be one of {', '.join(REGIONS)}, got {region!r}.")
    frame = face_frame(head)
    s = frame.scale
    q = frame.local(head.verts)
    eyes_z = frame.local(head.landmarks.as_array()[6:8])[:, 2].mean()
    front = np.flatnonzero(q[:, 2] > eyes_z - 0.03 * s)  # the face, not the ears or the back of the head
    tree = cKDTree(q[front, :2])
    points, upper = canonical_points(head)
    if region == "upper":
        points = points[upper]
    rows, cols, values = [], [], []
    for k, point in enumerate(points):
        for radius in SAMPLE_RADIUS * s * np.array([1.0, 2.0, 4.0]):  # sparse meshings need a wider look
            near = np.asarray(tree.query_ball_point(point, radius), dtype=np.int64)
            if near.size:
                break
        else:
            continue
        z = q[front[near], 2]
        near = near[z > z.max() - 0.005 * s]  # the skin seen from the front, not what lies behind it
        gap = np.linalg.norm(q[front[near], :2] - point, axis=1)
        weight = np.exp(-(gap / (0.5 * radius)) ** 2)
        rows += [k] * len(near)
        cols += list(front[near])
        values += list(weight / weight.sum())
    return sparse.csr_matrix((values, (rows, cols)), shape=(len(points), head.num_vertices))


def expression_pattern(head: Head, displacement: np.ndarray, region: str = "all",
                       sampler: sparse.csr_matrix | None = None) -> np.ndarray:
    """The displacement read at the canonical points: (K, 3) in the face frame, divided by its scale.

    Args:
        head: the neutral head (any meshing; holes are fine).
        displacement: (V, 3) metres in the order of `head.verts`.
        region: "all" or "upper" (`REGIONS`).
        sampler: `sampling_matrix(head, region)` to reuse.

    Returns:
        pattern (K, 3); a point with no surface nearby (a hole) reads 0.
    """
    d = np.asarray(displacement, dtype=np.float64)
    if d.shape != head.verts.shape or not np.isfinite(d).all():
        raise RecognitionError(f"displacement must be finite, shape ({head.num_vertices}, 3) for head '{head.name}'; "
                               f"got {np.shape(displacement)}.")
    frame = face_frame(head)
    sampler = sampling_matrix(head, region) if sampler is None else sampler
    return (sampler @ d) @ frame.axes.T / frame.scale


def _feature(pattern: np.ndarray) -> np.ndarray:
    flat = pattern.ravel()
    norm = np.linalg.norm(flat)
    return flat / norm if norm > 1e-9 else flat


@dataclass(frozen=True)
class EmotionClassifier:
    """Multinomial logistic regression over unit-length expression patterns.

    weights (D, L), bias (L,), labels (L,), region: which canonical points it reads.
    """

    weights: np.ndarray
    bias: np.ndarray
    labels: tuple[str, ...]
    region: str

    def scores(self, patterns: np.ndarray) -> np.ndarray:
        """Class probabilities (N, L) of patterns (N, K, 3) or (K, 3) → (L,)."""
        p = np.asarray(patterns, dtype=np.float64)
        single = p.ndim == 2
        features = np.stack([_feature(x) for x in (p[None] if single else p)])
        if features.shape[1] != self.weights.shape[0]:
            raise RecognitionError(f"this classifier reads {self.weights.shape[0] // 3} canonical points (region "
                                   f"{self.region!r}); the pattern has {features.shape[1] // 3}.")
        logits = features @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        return prob[0] if single else prob


def _fit_logistic(features: np.ndarray, targets: np.ndarray, classes: int, l2: float) -> tuple[np.ndarray, np.ndarray]:
    n, dim = features.shape
    onehot = np.eye(classes)[targets]

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-classes].reshape(dim, classes), params[-classes:]
        logits = features @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        log_prob = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        residual = (np.exp(log_prob) - onehot) / n
        value = -(onehot * log_prob).sum() / n + 0.5 * l2 * (w * w).sum()
        return value, np.concatenate([(features.T @ residual + l2 * w).ravel(), residual.sum(axis=0)])

    result = minimize(loss, np.zeros(dim * classes + classes), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return result.x[:-classes].reshape(dim, classes), result.x[-classes:]


def training_patterns(heads: Sequence[Head], intensities: Sequence[float] = tuple(INTENSITY_LEVELS.values()),
                      repeats: int = 2, seed: int = 0, region: str = "all",
                      labels: Sequence[str] = EMOTIONS) -> tuple[np.ndarray, np.ndarray]:
    """Patterns (N, K, 3) and label indices (N,) of procedural expressions on `heads`.

    Each head gets its own identity scales and, per repeat, its own per-emotion jitter; every
    label appears at every intensity.
    """
    patterns, targets = [], []
    for h, head in enumerate(heads):
        rng = np.random.default_rng([seed, h])
        basis = action_unit_basis(head, variation=rng)
        sampler = sampling_matrix(head, region)
        for _ in range(repeats):
            for index, label in enumerate(labels):
                person = int(rng.integers(2**63))  # the same jitter at every intensity: one person
                for level in intensities:
                    weights = expression_weights(label, level, np.random.default_rng(person))
                    patterns.append(expression_pattern(head, expression_displacement(head, weights, basis), region, sampler))
                    targets.append(index)
    return np.stack(patterns), np.asarray(targets)


def fit_classifier(heads: Sequence[Head], region: str = "all", repeats: int = 2, seed: int = 0,
                   l2: float = 1e-3, labels: Sequence[str] = EMOTIONS) -> EmotionClassifier:
    """Train the recogniser on procedural expressions of `heads` (identities it will not be tested on).

    Args:
        heads: training heads (any meshings).
        region: "all" or "upper" canonical points.
        repeats: jittered expressions per head, label and intensity (low, mid, high).
        seed: seeds identity scales and jitter.
        l2: weight decay of the logistic regression.
        labels: the classes, a subset of `EMOTIONS` in any order.

    Returns:
        The fitted `EmotionClassifier`.
    """
    if not heads:
        raise RecognitionError("fit_classifier needs at least one training head.")
    labels = tuple(EMOTIONS[emotion_index(label)] for label in labels)
    patterns, targets = training_patterns(heads, repeats=repeats, seed=seed, region=region, labels=labels)
    features = np.stack([_feature(p) for p in patterns])
    weights, bias = _fit_logistic(features, targets, len(labels), l2)
    return EmotionClassifier(weights, bias, labels, region)


@lru_cache(maxsize=2)
def default_classifier(region: str = "all") -> EmotionClassifier:
    """The classifier `recognise` uses when given none: procedural seeds `DEFAULT_TRAINING_SEEDS`
    plus four deformed MediaPipe identities (the real face "james" is never used). Built once per
    process (a few seconds)."""
    from scantalk.synthesis.heads.procedural import procedural_head
    from scantalk.synthesis.heads.real import real_identities

    heads = [procedural_head(seed, resolution=0.005) for seed in DEFAULT_TRAINING_SEEDS] + real_identities(4)
    return fit_classifier(heads, region=region)


def recognise(head: Head, displacement: np.ndarray, classifier: EmotionClassifier | None = None
              ) -> tuple[str, dict[str, float]]:
    """The emotion a displacement of `head` shows.

    Args:
        head: the neutral head (any meshing, point cloud, holes).
        displacement: (V, 3) metres, e.g. `emotion.facs.emotions.emotion_expression(head, "sad")`.
        classifier: a fitted classifier; None uses `default_classifier()`.

    Returns:
        (label, scores): the most probable label and every label's probability.
    """
    classifier = default_classifier() if classifier is None else classifier
    scores = classifier.scores(expression_pattern(head, displacement, classifier.region))
    return classifier.labels[int(np.argmax(scores))], dict(zip(classifier.labels, map(float, scores)))


def confusion_matrix(true_labels: Sequence[str], predicted_labels: Sequence[str],
                     labels: Sequence[str] = EMOTIONS) -> np.ndarray:
    """Counts (L, L): row = true label, column = predicted label, in `labels` order."""
    if len(true_labels) != len(predicted_labels):
        raise RecognitionError(f"{len(true_labels)} true labels but {len(predicted_labels)} predictions; "
                               "pass one prediction per expression.")
    lookup = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for true, predicted in zip(true_labels, predicted_labels):
        for name in (true, predicted):
            if name not in lookup:
                raise RecognitionError(f"label {name!r} is not one of {', '.join(labels)}.")
        matrix[lookup[true], lookup[predicted]] += 1
    return matrix
