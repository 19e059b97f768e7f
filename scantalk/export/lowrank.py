"""Low-rank morph targets: an animation as a few shapes and their weights over time, error-bounded.

An animation of T frames on V vertices is a displacement matrix D (T, 3V) relative to the
neutral face. Its truncated SVD D ≈ W · B gives K morph targets B (K, V, 3) and per-frame weights
W (T, K), which is exactly what glTF morph targets and USD blend shapes play back:
frame_t = neutral + Σ_k W[t, k] · B[k]. The rank K is the smallest that keeps the error at
*every* vertex of *every* frame under a bound (metres), measured on the float32 values a viewer
reads, not on the float64 algebra.

Memory stays bounded for large scans and long animations: D is never formed; vertices are
streamed in chunks sized to the frame count, first to accumulate the Gram matrix of at most
`GRAM_FRAMES` frames spread over the animation (its eigenvectors give the targets' directions),
then to project every frame onto those targets. An animation's motion spans few shapes, so a
sample of frames finds them; the error is still measured on every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_MAX_ERROR = 1e-4
"""Metres: the largest per-vertex reconstruction error allowed by default (0.1 mm)."""
DEFAULT_MAX_TARGETS = 64
"""The rank cap: a few dozen targets keep files small and every engine's blend-shape limit happy."""
CHUNK_VERTICES = 16384
"""The most vertices per streamed chunk; fewer for long animations (see `CHUNK_BYTES`)."""
CHUNK_BYTES = 64 * 2**20
"""A chunk's (T, 3·chunk) float64 block stays under this many bytes, whatever T."""
GRAM_FRAMES = 1500
"""The most frames whose Gram matrix is formed (1500² float64 = 18 MB; its eigensolve ~1 s)."""
# Gram eigenvalues below this fraction of the largest are rounding noise, not motion.
_RELATIVE_EIGEN_FLOOR = 1e-12


@dataclass(frozen=True)
class MorphBasis:
    """Morph targets and their weights over time.

    Attributes:
        targets: (K, V, 3) float32 displacement of each target at weight 1, in the input's units.
        weights: (T, K) float32 weight of each target in each frame, each column scaled so its
            largest magnitude is 1 (weights lie in [-1, 1]).
        max_error: the largest per-vertex distance between the animation and its reconstruction
            from the float32 targets and weights, over all frames and vertices (input units).
        rms_error: the root mean square of that per-vertex distance.
        bound: the error bound that was asked for (input units).
        bound_met: whether `max_error <= bound`; False when the rank cap was reached first.
        exact: True for one target per frame (no factorisation).
        names: the targets' names, when `nonnegative` made twins (else empty: numbered by the writer).
    """

    targets: np.ndarray
    weights: np.ndarray
    max_error: float
    rms_error: float
    bound: float
    bound_met: bool
    exact: bool = False
    names: tuple[str, ...] = ()

    @property
    def num_targets(self) -> int:
        """K."""
        return int(self.targets.shape[0])

    def reconstruct(self, neutral: np.ndarray) -> np.ndarray:
        """Frames (T, V, 3) float32 as a viewer plays them: neutral + weights · targets."""
        motion = np.tensordot(self.weights, self.targets, axes=(1, 0)) if self.num_targets else 0.0
        return (np.asarray(neutral, np.float32)[None] + motion).astype(np.float32)


def _chunks(num_vertices: int, chunk: int) -> range:
    return range(0, num_vertices, max(1, chunk))


def chunk_for(num_frames: int, chunk: int = CHUNK_VERTICES) -> int:
    """Vertices per chunk for `num_frames` frames: at most `chunk`, and few enough that a
    (T, 3·chunk) float64 block stays under `CHUNK_BYTES`."""
    return max(1, min(int(chunk), CHUNK_BYTES // max(1, 24 * int(num_frames))))


def _displacement_chunk(frames: np.ndarray, neutral: np.ndarray, start: int, stop: int,
                        rows: np.ndarray | None = None) -> np.ndarray:
    """(T, 3·n) float64 displacements of vertices start..stop (the Gram matrix needs float64), of
    the frames `rows` only when given."""
    picked = frames[:, start:stop] if rows is None else frames[rows, start:stop]
    block = np.asarray(picked, np.float32) - np.asarray(neutral[start:stop], np.float32)[None]
    return block.reshape(block.shape[0], -1).astype(np.float64)


def _reconstruction_errors(frames: np.ndarray, neutral: np.ndarray, weights: np.ndarray,
                           targets: np.ndarray, chunk: int) -> tuple[float, float]:
    """(max, rms) per-vertex distance between `frames` and the float32 playback of the basis."""
    neutral32 = np.asarray(neutral, np.float32)
    worst, squares = 0.0, 0.0
    for start in _chunks(frames.shape[1], chunk):
        stop = min(start + chunk, frames.shape[1])
        # float32 throughout, as a GPU or DCC tool plays it back; the rounding (~1e-8 m on a
        # head-sized face) is far below any bound worth asking for.
        residual = np.asarray(frames[:, start:stop], np.float32) - neutral32[None, start:stop]
        if targets.shape[0]:
            residual -= np.tensordot(weights, targets[:, start:stop], axes=(1, 0))
        squared = np.einsum("tvc,tvc->tv", residual, residual)
        worst = max(worst, float(np.sqrt(squared.max(initial=0.0))))
        squares += float(squared.sum(dtype=np.float64))
    return worst, float(np.sqrt(squares / max(1, frames.shape[0] * frames.shape[1])))


def exact_basis(frames: np.ndarray, neutral: np.ndarray, chunk: int = CHUNK_VERTICES) -> MorphBasis:
    """One morph target per frame with one-hot weights: exact at every frame time.

    Linear interpolation of one-hot weights between two frame times blends those two frames,
    which is what a per-frame point cache shows too.

    Args:
        frames: (T, V, 3) animation.
        neutral: (V, 3) rest shape the targets are relative to.
        chunk: vertices per streamed chunk of the error measurement.

    Returns:
        A MorphBasis with T targets and identity weights (T, T).
    """
    targets = (np.asarray(frames, np.float32) - np.asarray(neutral, np.float32)[None]).astype(np.float32)
    weights = np.eye(frames.shape[0], dtype=np.float32)
    worst, rms = _reconstruction_errors(frames, neutral, weights, targets, chunk)
    return MorphBasis(targets, weights, worst, rms, bound=worst, bound_met=True, exact=True)


def factorise_motion(frames: np.ndarray, neutral: np.ndarray, *, max_error: float = DEFAULT_MAX_ERROR,
                     max_targets: int = DEFAULT_MAX_TARGETS, chunk: int = CHUNK_VERTICES) -> MorphBasis:
    """The fewest morph targets (up to `max_targets`) that reproduce every vertex within `max_error`.

    Args:
        frames: (T, V, 3) animation, any float dtype (a memory map is read chunk by chunk).
        neutral: (V, 3) rest shape; targets are displacements from it.
        max_error: bound on the per-vertex distance at every frame, in the input's units
            (metres for a face in FLAME's frame).
        max_targets: the rank cap. When even this many targets miss the bound, the basis with
            `max_targets` is returned with `bound_met=False` and the error it does reach.
        chunk: the most vertices per streamed chunk (fewer for long animations: memory is
            O(GRAM_FRAMES² + T · max_targets + CHUNK_BYTES), never O(T · V) extra).

    Returns:
        A MorphBasis (targets (K, V, 3), weights (T, K), measured errors).
    """
    num_frames, num_vertices = frames.shape[:2]
    chunk = chunk_for(num_frames, chunk)
    sample = (None if num_frames <= GRAM_FRAMES
              else np.unique(np.linspace(0, num_frames - 1, GRAM_FRAMES).round().astype(np.int64)))
    sampled = num_frames if sample is None else len(sample)
    gram = np.zeros((sampled, sampled))
    for start in _chunks(num_vertices, chunk):
        block = _displacement_chunk(frames, neutral, start, min(start + chunk, num_vertices), sample)
        gram += block @ block.T
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = np.clip(eigenvalues[order], 0.0, None), eigenvectors[:, order]
    # Components past the numerical rank carry rounding noise; never spend a target on them.
    significant = int(np.sum(eigenvalues > _RELATIVE_EIGEN_FLOOR * max(float(eigenvalues[0]), 1e-300)))
    if eigenvalues[0] <= 0.0:
        significant = 0
    cap = max(0, min(int(max_targets), significant))
    # Fix each singular vector's sign so the result does not depend on the eigensolver's whim.
    signs = np.sign(eigenvectors[np.argmax(np.abs(eigenvectors), axis=0), np.arange(sampled)])
    eigenvectors = eigenvectors * np.where(signs == 0, 1.0, signs)

    # The targets' directions: the sample's right singular vectors (cap, V, 3), orthonormal.
    left, sigma = eigenvectors[:, :cap], np.sqrt(eigenvalues[:cap])
    directions = np.zeros((cap, num_vertices, 3), np.float64)
    for start in _chunks(num_vertices, chunk):
        stop = min(start + chunk, num_vertices)
        block = _displacement_chunk(frames, neutral, start, stop, sample)
        directions[:, start:stop] = ((left.T @ block) / sigma[:, None]).reshape(cap, stop - start, 3)
    # Every frame's weights: its projection on them (T, cap); with every frame sampled this is
    # exactly the left singular vectors times the singular values.
    weights = np.zeros((num_frames, cap))
    for start in _chunks(num_vertices, chunk):
        stop = min(start + chunk, num_vertices)
        weights += _displacement_chunk(frames, neutral, start, stop) @ directions[:, start:stop].reshape(cap, 3 * (stop - start)).T
    # Scale so each weight curve peaks at ±1: an artist reads a weight of 1 as "the full shape".
    peaks = np.abs(weights).max(axis=0) if cap else np.zeros(0)
    peaks = np.where(peaks > 0, peaks, 1.0)
    weights_all = (weights / peaks).astype(np.float32)
    targets_all = (directions * peaks[:, None, None]).astype(np.float32)
    del directions, weights

    def measured(rank: int) -> tuple[float, float]:
        return _reconstruction_errors(frames, neutral, weights_all[:, :rank], targets_all[:rank], chunk)

    # The error at every vertex is at least the root-mean-square one, which the spectrum gives for
    # free: start there and gallop upwards (1, 2, 4... more targets), then bisect the last gap on
    # the measured maximum. It is nearly monotone in rank; the answer is always measured, never assumed.
    tail_energy = np.concatenate([np.cumsum(eigenvalues[::-1])[::-1], [0.0]])
    rms_of_rank = np.sqrt(tail_energy / max(1, sampled * num_vertices))
    meets_rms = np.flatnonzero(rms_of_rank[: cap + 1] <= max_error)
    low = int(meets_rms[0]) if meets_rms.size else cap
    results: dict[int, tuple[float, float]] = {}
    step, high, failing = 1, low, low - 1
    while True:
        results[high] = measured(high)
        if results[high][0] <= max_error or high == cap:
            break
        failing, high, step = high, min(cap, high + step), step * 2
    if results[high][0] <= max_error:
        low = failing + 1
        while low < high:
            middle = (low + high) // 2
            results[middle] = measured(middle)
            if results[middle][0] <= max_error:
                high = middle
            else:
                low = middle + 1
    rank = high
    worst, rms = results[rank]
    return MorphBasis(np.ascontiguousarray(targets_all[:rank]), np.ascontiguousarray(weights_all[:, :rank]),
                      worst, rms, bound=float(max_error), bound_met=worst <= max_error)


def nonnegative(basis: MorphBasis) -> MorphBasis:
    """The same motion with every weight >= 0: each target whose weight goes negative gets a
    twin, its mirror image (-target), that takes the negative part.

    Blender's glTF importer clamps shape-key weights at 0 (a slider's range comes from the first
    keyframe only), so a negative weight plays back as 0 there. Since the weights are linear
    between keyframes, max(w, 0) · B + max(-w, 0) · (-B) equals w · B at every time, not only at
    the frames; the error is unchanged. Twins are named `<name>_neg` after their target.

    Args:
        basis: targets (K, V, 3) and weights (T, K), in any sign.

    Returns:
        A MorphBasis with K + (targets that went negative) targets and weights in [0, 1].
    """
    base = [f"motion_{k:0{max(2, len(str(basis.num_targets)))}d}" for k in range(basis.num_targets)]
    names = list(basis.names) or base
    negative = np.flatnonzero((basis.weights < 0).any(axis=0))
    if negative.size == 0:
        return MorphBasis(basis.targets, basis.weights, basis.max_error, basis.rms_error, basis.bound,
                          basis.bound_met, basis.exact, tuple(names))
    targets = np.concatenate([basis.targets, -basis.targets[negative]]).astype(np.float32)
    weights = np.concatenate([np.maximum(basis.weights, 0.0), np.maximum(-basis.weights[:, negative], 0.0)],
                             axis=1).astype(np.float32)
    names += [f"{names[k]}_neg" for k in negative]
    return MorphBasis(targets, weights, basis.max_error, basis.rms_error, basis.bound, basis.bound_met,
                      basis.exact, tuple(names))
