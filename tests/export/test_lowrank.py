"""The factorisation behind compact morph targets: fewest targets, error bounded at every vertex."""

from __future__ import annotations

import numpy as np

from scantalk.export.lowrank import MorphBasis, exact_basis, factorise_motion, nonnegative


def _mesh_and_motion(modes: int, num_frames: int = 50, num_vertices: int = 700, decay: float = 1.0):
    rng = np.random.default_rng(1)
    neutral = rng.uniform(-0.1, 0.1, size=(num_vertices, 3)).astype(np.float32)
    # Mode k moves vertices by about 2 mm · decay^k.
    fields = rng.normal(size=(modes, num_vertices, 3)) * 0.002 * decay ** np.arange(modes)[:, None, None]
    curves = np.sin(np.outer(np.arange(num_frames) / 30.0, 2 * np.pi * np.arange(1, modes + 1)) + 0.3)
    return neutral, (neutral[None] + np.tensordot(curves, fields, axes=(1, 0))).astype(np.float32)


def test_rank_matches_the_motion_and_error_is_measured_on_the_playback():
    neutral, frames = _mesh_and_motion(modes=4)
    basis = factorise_motion(frames, neutral, max_error=1e-4)
    assert basis.num_targets == 4 and basis.bound_met
    played = basis.reconstruct(neutral)
    measured = np.linalg.norm(played.astype(np.float64) - frames, axis=-1).max()
    # The reported error is what a viewer shows (up to float32 rounding, ~1e-8 m on a 0.1 m face).
    assert measured <= basis.max_error + 1e-7 and basis.max_error <= 1e-4
    assert np.abs(basis.weights).max() <= 1.0 + 1e-6


def test_looser_bound_needs_fewer_targets_and_cap_is_reported():
    neutral, frames = _mesh_and_motion(modes=6, decay=0.05)
    tight = factorise_motion(frames, neutral, max_error=1e-6)
    loose = factorise_motion(frames, neutral, max_error=1e-4)
    # Small modes fall under a looser bound: fewer targets, still within it.
    assert 1 <= loose.num_targets < tight.num_targets
    assert loose.max_error <= 1e-4 and tight.max_error <= 1e-6
    capped = factorise_motion(frames, neutral, max_error=1e-6, max_targets=1)
    assert capped.num_targets == 1 and not capped.bound_met and capped.max_error > 1e-6


def test_streaming_in_chunks_gives_the_same_basis():
    neutral, frames = _mesh_and_motion(modes=3)
    whole = factorise_motion(frames, neutral, chunk=10_000)
    chunked = factorise_motion(frames, neutral, chunk=97)
    assert whole.num_targets == chunked.num_targets
    np.testing.assert_allclose(whole.reconstruct(neutral), chunked.reconstruct(neutral), atol=1e-6)


def test_still_face_has_no_targets_and_exact_basis_is_exact():
    neutral, frames = _mesh_and_motion(modes=2)
    still = factorise_motion(np.repeat(neutral[None], 5, 0), neutral)
    assert still.num_targets == 0 and still.max_error == 0.0
    exact = exact_basis(frames, neutral)
    assert exact.num_targets == len(frames) and exact.max_error < 1e-7


def test_nonnegative_twins_play_the_same_motion_at_and_between_keyframes():
    neutral, frames = _mesh_and_motion(modes=4)
    signed = factorise_motion(frames, neutral, max_error=1e-4)
    split = nonnegative(signed)
    assert split.weights.min() >= 0.0 and (signed.weights < 0).any()
    assert split.num_targets == signed.num_targets + int((signed.weights < 0).any(axis=0).sum())
    assert split.names[:signed.num_targets] == tuple(f"motion_{k:02d}" for k in range(signed.num_targets))
    # A player interpolates weights linearly between keyframes: halfway between each pair (where
    # a weight crosses zero, max(w, 0) of the mean is not the mean of max(w, 0)) the two still agree.
    def halfway(basis: MorphBasis) -> np.ndarray:
        weights = 0.5 * (basis.weights[1:] + basis.weights[:-1])
        return MorphBasis(basis.targets, weights, 0.0, 0.0, 0.0, True).reconstruct(neutral)

    np.testing.assert_allclose(halfway(split), halfway(signed), atol=1e-7)
    np.testing.assert_allclose(split.reconstruct(neutral), signed.reconstruct(neutral), atol=1e-7)


def test_long_animations_factorise_from_a_sample_of_frames_within_the_bound(monkeypatch):
    import scantalk.export.lowrank as lowrank

    neutral, frames = _mesh_and_motion(modes=4, num_frames=200)
    whole = factorise_motion(frames, neutral, max_error=1e-4)
    monkeypatch.setattr(lowrank, "GRAM_FRAMES", 40)  # as a 10-minute animation is sampled
    sampled = factorise_motion(frames, neutral, max_error=1e-4)
    assert sampled.num_targets == whole.num_targets == 4 and sampled.bound_met
    played = sampled.reconstruct(neutral)
    assert np.linalg.norm(played.astype(np.float64) - frames, axis=-1).max() <= 1e-4
    # Memory per chunk does not grow with the frame count.
    assert lowrank.chunk_for(18000) * 3 * 8 * 18000 <= lowrank.CHUNK_BYTES < lowrank.chunk_for(300) * 3 * 8 * 300 * 2
