"""Shared fixtures of the EmoVOCA tests: a small procedural head, its talking motion and expressions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from scantalk.data.synth.heads import HeadIdentity, sample_identity, surface_points, triangulate_sphere
from scantalk.data.synth.motion import displacements, motion_basis


def sphere_directions(count: int, seed: int) -> np.ndarray:
    """(count, 3) jittered Fibonacci directions, denser on the face (+z) as the real meshings are."""
    rng = np.random.default_rng(seed)
    k = np.arange(count) + 0.5
    y = 1.0 - 2.0 * k / count
    angle = np.pi * (3.0 - 5.0**0.5) * k
    points = np.stack([np.sqrt(1 - y**2) * np.cos(angle), y, np.sqrt(1 - y**2) * np.sin(angle)], axis=1)
    points += rng.uniform(-0.2, 0.2, points.shape) * np.sqrt(4.0 * np.pi / count)
    points += 0.45 * np.array([0.0, -0.25, 1.0]) / np.linalg.norm([0.0, -0.25, 1.0])
    return points / np.linalg.norm(points, axis=1, keepdims=True)


@dataclass
class SmallHead:
    identity: HeadIdentity
    param: np.ndarray  # (V, 3) unit directions
    verts: np.ndarray  # (V, 3) metres
    faces: np.ndarray  # (F, 3)

    def talking(self, num_frames: int, seed: int) -> np.ndarray:
        """(T, V, 3) metres of smooth random articulation (jaw, lips, a little brow)."""
        rng = np.random.default_rng(seed)
        keys = rng.uniform(0.0, 1.0, (num_frames // 4 + 2, 5)) * np.array([1.0, 0.6, 0.6, 0.6, 0.5])
        times = np.linspace(0, len(keys) - 1, num_frames)
        track = np.stack([np.interp(times, np.arange(len(keys)), keys[:, c]) for c in range(5)], axis=1)
        return displacements(motion_basis(self.identity, self.param), track).astype(np.float32)


def make_small_head(seed: int = 3, count: int = 600) -> SmallHead:
    identity = sample_identity(seed)
    param = sphere_directions(count, seed)
    return SmallHead(identity, param, surface_points(identity, param), triangulate_sphere(param))


@pytest.fixture(scope="session")
def small_head() -> SmallHead:
    """A ~600-vertex procedural head (cheaper than the dataset meshings' 2.5k-8k vertices)."""
    return make_small_head()
