"""Vertex arrays as the metrics take them: numpy or torch, (T, V, 3) or (T, V·3), cut to a common length."""

from __future__ import annotations

from typing import Any

import numpy as np

from scantalk.errors import MetricsError

ArrayLike = Any  # numpy array or torch tensor


def numpy_array(values: ArrayLike) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def vertex_frames(values: ArrayLike) -> np.ndarray:
    """(T, V, 3) or (T, V·3) → (T, V, 3) float64."""
    array = numpy_array(values)
    if array.ndim == 2 and array.shape[1] % 3 == 0:
        array = array.reshape(array.shape[0], -1, 3)
    if array.ndim != 3 or array.shape[2] != 3:
        raise MetricsError(f"expected vertex frames of shape (T, V, 3) or (T, V*3), got {array.shape}")
    return array


def common_length(pred: ArrayLike, gt: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both as (T, V, 3), cut to the shorter length; ValueError on different vertex counts."""
    pred_frames, gt_frames = vertex_frames(pred), vertex_frames(gt)
    if pred_frames.shape[1] != gt_frames.shape[1]:
        raise MetricsError(f"prediction has {pred_frames.shape[1]} vertices, ground truth {gt_frames.shape[1]}")
    length = min(pred_frames.shape[0], gt_frames.shape[0])
    if length == 0:
        raise MetricsError("prediction or ground truth has no frames")
    return pred_frames[:length], gt_frames[:length]


def vertex_indices(vertices: ArrayLike, num_vertices: int) -> np.ndarray:
    indices = np.asarray(numpy_array(vertices), dtype=np.int64).ravel()
    if indices.size == 0 or indices.min() < 0 or indices.max() >= num_vertices:
        raise MetricsError(f"vertex indices must be a non-empty subset of [0, {num_vertices})")
    return indices
