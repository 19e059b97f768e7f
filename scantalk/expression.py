"""How an expression joins the speech motion of an articulated model.

An expression provider (the `emotion` package's FACS action units, found through the plugin
registry) gives a per-vertex basis (V, U, 3) and activations (U,) per emotion. Two rules turn
them into motion over an animation:

- `expression_track`: the activations over time for a label, a mix or keyframes;
- `speech_owned_lips`: the basis with its effect on the lip gap removed, so that speech alone
  opens and closes the mouth. Units such as jaw drop (fear), lip pressor (anger) or a raised
  upper lip (disgust) would otherwise open a vowel by twice as much, or shut it, and a p/b/m
  would no longer close. The rest of each unit — the lip corners, cheeks, chin, brows — stays.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from scantalk.errors import ScanTalkError


def expression_track(weights_of: Callable[[Any, float], np.ndarray], emotion: Any, intensity: float | None,
                     num_frames: int, fps: float) -> np.ndarray:
    """Unit activations (T, U) over the animation for `emotion=` (see `Animator.animate_track`).

    Args:
        weights_of: (emotion or mix, intensity) → (T, U) or (U,) activations, e.g. an expression
            provider's `weights`, or a model's emotion head reading the articulation track.
        emotion: a label, a mix {label: share}, or keyframes [(time_s, label or mix, intensity), ...]
            eased with smoothstep from one to the next and held before the first and after the last.
        intensity: the strength in [0, 1] of a label or mix (default 1); None with keyframes.
        num_frames, fps: the animation's length and frame rate.
    """
    def track(label: Any, level: float) -> np.ndarray:
        weights = np.asarray(weights_of(label, level), dtype=np.float64)
        return np.broadcast_to(weights, (num_frames, weights.shape[-1]))

    if isinstance(emotion, (str, dict)):
        return np.array(track(emotion, 1.0 if intensity is None else intensity))
    try:
        keys = sorted((float(time_s), label, float(level)) for time_s, label, level in emotion)
    except (TypeError, ValueError):
        raise ScanTalkError(f"emotion={emotion!r}: give a label, a mix {{label: share}}, or keyframes "
                            "[(time_s, label or mix, intensity), ...]") from None
    if not keys:
        raise ScanTalkError("emotion keyframes are empty; give at least one (time_s, label, intensity)")
    bad = [key for key in keys if not (np.isfinite(key[0]) and np.isfinite(key[2]))]
    if bad:
        raise ScanTalkError(f"emotion keyframe {bad[0][:1] + bad[0][2:]} has a time or intensity that is not a "
                            "finite number; give times in seconds and intensities in [0, 1]")
    if intensity is not None:
        raise ScanTalkError("with emotion keyframes, each keyframe carries its own intensity; drop intensity=")
    times = np.array([key[0] for key in keys])
    weights = np.stack([track(label, level) for _, label, level in keys])  # (K, T, U)
    t = np.arange(num_frames) / fps
    after = np.clip(np.searchsorted(times, t, side="right"), 1, len(keys)) - 1
    before = np.minimum(after + 1, len(keys) - 1)
    span = np.maximum(times[before] - times[after], 1e-9)
    u = np.clip((t - times[after]) / span, 0.0, 1.0)
    ease = u * u * (3.0 - 2.0 * u)  # smoothstep: no jump in speed at a keyframe
    frames = np.arange(num_frames)
    return weights[after, frames] * (1.0 - ease)[:, None] + weights[before, frames] * ease[:, None]


def speech_owned_lips(expression_basis: np.ndarray, jaw_basis: np.ndarray, head: Any,
                      lip_radius: float = 0.015) -> np.ndarray:
    """The expression basis with the lips' relative motion removed, per unit: speech owns the gap.

    Two steps per unit, whose lip midpoints move by e_upper and e_lower:

    1. A unit that opens the jaw gives the opening back. J parts the midpoints along
       J_lower − J_upper; a unit that parts them along it loses as many jaw units, so a jaw drop
       (fear) is removed whole. A unit that closes the mouth is not answered by the jaw, which
       cannot rise past rest.
    2. The lower lip follows the upper one. What is left of the relative motion is added to the
       lower lip's side of the mouth: each vertex's share is its jaw motion |J| mapped to 0 at
       the upper lip and 1 at the lower lip (clipped to [0, 1]), fading with the distance d from
       the lower lip as exp(−(d / lip_radius)²), so the lower lip moves and the chin stays.

    The lower lip then moves exactly with the upper one, so the lips' relative position is what
    speech makes it; the brows, cheeks and lip corners keep the expression. Per-unit and linear,
    so intensities and mixes still scale and add.

    Args:
        expression_basis: (V, U, 3) motion per unit activation.
        jaw_basis: (V, 3) motion per unit of the rig's jaw opening (the `jaw_open` column).
        head: the face at rest (a `Head`: `verts` (V, 3) and its landmarks); the lip midpoints
            are the edges of the mouth slit next to its upper_lip / lower_lip landmarks
            (`lip_edges`).
        lip_radius: how far the lower lip's correction reaches, in the units of `head.verts`
            (default 15 mm for faces in metres); the lip edges are looked for within 0.4 of it.

    Returns:
        (V, U, 3), the same dtype; `expression_basis` itself is not changed.
    """
    basis = np.asarray(expression_basis)
    jaw = np.asarray(jaw_basis, dtype=np.float64)
    size = np.linalg.norm(jaw, axis=-1)
    upper_vertex, lower_vertex = lip_edges(head.verts, size, head.landmarks.upper_lip, head.landmarks.lower_lip,
                                           reach=0.4 * lip_radius)
    parting = jaw[lower_vertex] - jaw[upper_vertex]
    span = size[lower_vertex] - size[upper_vertex]
    if np.linalg.norm(parting) < 1e-9 or span < 1e-9:
        raise ScanTalkError("the rig's jaw does not move the lower lip away from the upper one on this face, so the "
                            "expression cannot leave the lip gap to speech; check the face's landmarks")
    units = basis.astype(np.float64)
    opening = ((units[lower_vertex] - units[upper_vertex]) @ parting) / float(parting @ parting)  # (U,) jaw units
    units = units - np.maximum(opening, 0.0)[None, :, None] * jaw[:, None, :]
    points = np.asarray(head.verts, dtype=np.float64)
    distance = np.linalg.norm(points - points[lower_vertex], axis=-1)
    share = np.clip((size - size[upper_vertex]) / span, 0.0, 1.0) * np.exp(-np.square(distance / lip_radius))
    relative = units[upper_vertex] - units[lower_vertex]  # (U, 3); the share is 0 and 1 at the two lips
    return (units + share[:, None, None] * relative[None]).astype(basis.dtype)


def lip_edges(points: np.ndarray, jaw_size: np.ndarray, upper_lip: np.ndarray, lower_lip: np.ndarray,
              reach: float) -> tuple[int, int]:
    """The vertices either side of the mouth slit next to two lip landmarks: (upper, lower).

    A landmark found by a model can sit millimetres off the slit, on the skin above the upper
    lip, and the gap speech owns is the one at the slit. The jaw tells the lips apart: the
    lower lip moves with it (|J| above half the lower landmark's), the upper one does not. The
    upper edge is the still vertex within `reach` of the upper landmark nearest the lower
    landmark; the lower edge is the moving vertex within `reach` of the lower landmark nearest
    that upper edge. Where a side has no such vertex, its landmark's nearest vertex is kept.

    Args:
        points: (V, 3) the face at rest.
        jaw_size: (V,) |J|, the length of each vertex's motion per unit of jaw opening.
        upper_lip, lower_lip: (3,) the landmarks.
        reach: how far from its landmark an edge may be, in the units of `points`.
    """
    from scantalk.metrics import nearest_vertex

    upper, lower = nearest_vertex(points, upper_lip), nearest_vertex(points, lower_lip)
    moving = jaw_size > 0.5 * jaw_size[lower]

    def closest(candidates: np.ndarray, target: np.ndarray, fallback: int) -> int:
        if not candidates.any():
            return fallback
        index = np.flatnonzero(candidates)
        return int(index[np.argmin(np.linalg.norm(points[index] - target, axis=-1))])

    upper = closest(~moving & (np.linalg.norm(points - upper_lip, axis=-1) < reach), lower_lip, upper)
    lower = closest(moving & (np.linalg.norm(points - lower_lip, axis=-1) < reach), points[upper], lower)
    return upper, lower
