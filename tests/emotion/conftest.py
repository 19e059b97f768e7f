"""Shared fixtures of the EmoVOCA tests: a small anatomical head with its talking motion (the rig)
and FACS expressions, and talking sets in the processed layout written by hand (no synthesizer)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

from emotion.facs.action_units import action_unit_basis
from emotion.blending.data import random_articulation
from emotion.facs.emotions import expression_weights
from scantalk.synthesis.heads.meshing import decimate
from scantalk.synthesis.heads.procedural import procedural_head
from scantalk.synthesis.talking_set import upper_face
from scantalk.face.head import Head
from scantalk.geometry.mesh import save_arrays
from scantalk.rig.rig import lip_vertices, rig_basis, rig_inputs


@dataclass
class SmallHead:
    """An anatomical head decimated to a few hundred vertices, with its rig and action units."""

    head: Head
    rig: np.ndarray  # (V, 6, 3) metres per rig input
    units: np.ndarray  # (V, U, 3) metres per action unit

    @property
    def verts(self) -> np.ndarray:
        return self.head.verts

    @property
    def faces(self) -> np.ndarray:
        return self.head.faces

    @property
    def upper(self) -> np.ndarray:
        """(K,) the upper face's vertices (above the eyes), which an emotion moves and speech hardly."""
        return upper_face(self.head)

    def talking(self, num_frames: int, seed: int, amplitude: float = 0.3) -> np.ndarray:
        """(T, V, 3) metres of the rig saying a random phone string, softly: at `amplitude` of its
        motion the jaw moves millimetres, as much as the expressions do, so that a small blender
        trained for a few hundred steps learns both (at full motion it learns the talking alone)."""
        track = random_articulation(np.random.default_rng(seed), seconds=num_frames / 30.0 + 1.0)[:num_frames]
        return (amplitude * np.einsum("tb,vbc->tvc", rig_inputs(track), self.rig)).astype(np.float32)

    def expressions(self, labels) -> dict[str, np.ndarray]:
        """{label: (V, 3) metres} of each emotion at full intensity."""
        return {label: np.einsum("u,vuc->vc", expression_weights(label, 1.0), self.units).astype(np.float32)
                for label in labels}


def make_small_head(seed: int = 3, count: int = 700) -> SmallHead:
    head = decimate(procedural_head(seed, resolution=0.01), count)
    return SmallHead(head, rig_basis(head), action_unit_basis(head))


@pytest.fixture(scope="session")
def small_head() -> SmallHead:
    """A ~700-vertex anatomical head (cheaper than the talking set's 3-5k vertices)."""
    return make_small_head()


def write_talking_by_hand(root: Path, heads: dict[str, Head], frames: int = 24,
                          splits: dict[str, list[str]] | None = None) -> Path:
    """Each head saying something through its rig, in the processed layout the talking set uses
    (templates, one sentence each, lip and upper-face masks, splits.json: `splits`, or all in "train")."""
    for subject, head in heads.items():
        save_arrays(root / "templates" / f"{subject}.ply", head.verts, head.faces)
        jaw = 0.5 * (1 - np.cos(np.linspace(0, 4 * np.pi, frames)))
        motion = np.einsum("t,vc->tvc", jaw, rig_basis(head)[:, 0])
        (root / "vertices_npy").mkdir(parents=True, exist_ok=True)
        np.save(root / "vertices_npy" / f"{subject}_sentence01.npy", (head.verts[None] + motion).astype(np.float32))
        (root / "masks").mkdir(exist_ok=True)
        np.save(root / "masks" / f"{subject}_lip.npy", np.array(lip_vertices(head), dtype=np.int64))
        np.save(root / "masks" / f"{subject}_upper.npy", upper_face(head))
        (root / "wav").mkdir(exist_ok=True)
        samples = int(16000 * frames / 30)
        noise = 0.1 * np.random.default_rng(0).normal(size=samples) * np.repeat(jaw, 16000 // 30 + 1)[:samples]
        soundfile.write(root / "wav" / f"{subject}_sentence01.wav", noise.astype(np.float32), 16000)
    (root / "splits.json").write_text(json.dumps(splits or {"train": sorted(heads), "val": [], "test": []}))
    return root


@pytest.fixture(scope="session")
def talking_by_hand():
    """`write_talking_by_hand`, for test modules (which cannot import a conftest by name reliably)."""
    return write_talking_by_hand
