"""The EmoBlender's training data on the anatomical heads: rig speech × FACS expressions.

Every subject is an anatomical head (`scantalk.synthesis.heads.procedural`) at a coarse, randomly
chosen meshing. Its talking frames come from the rig (`scantalk.rig.rig`) driven by
articulation tracks of random phone strings (`scantalk.articulation`), its expressions from the
FACS action units (`emotion.facs.action_units`) with this person's own unit strengths, as the 11
emotions or random mixes of two, at intensities in [min_intensity, 1]. The mixture the blender
learns is the talking frame plus the expression with its lip gap left to speech
(`scantalk.expression.speech_owned_lips`), so a blend keeps the expression *and* the lip motion:

    scantalk fit --config experiments/configs/emoblender_heads.yaml
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from emotion.blending.training import SubjectBatches, SubjectBatchesDataModule
from emotion.facs.action_units import action_unit_basis
from emotion.facs.emotions import expression_weights
from scantalk.articulation import articulation_from_phones
from scantalk.articulation.coarticulation import ArticulationStyle
from scantalk.articulation.phones import SILENCE, VOWELS
from scantalk.articulation.targets import PHONE_TARGETS
from scantalk.synthesis.heads.procedural import procedural_head
from scantalk.emotions import EMOTIONS
from scantalk.expression import speech_owned_lips
from scantalk.geometry.cache import OperatorCache, default_cache_dir
from scantalk.rig.rig import rig_basis, rig_inputs

FPS = 30.0
CONSONANTS = tuple(sorted(set(PHONE_TARGETS) - set(VOWELS) - {SILENCE}))


def random_articulation(rng: np.random.Generator, seconds: float = 4.0) -> np.ndarray:
    """(T, 5) articulation of a random phone string at 30 fps: syllables (consonants + a vowel)
    of typical durations with pauses between phrases, said in a random speaking style."""
    phones, t = [], 0.2
    while t < seconds:
        for _ in range(int(rng.integers(0, 3))):
            duration = float(rng.uniform(0.05, 0.12))
            phones.append((str(rng.choice(CONSONANTS)), t, t + duration))
            t += duration
        duration = float(rng.uniform(0.07, 0.22))
        phones.append((str(rng.choice(VOWELS)), t, t + duration))
        t += duration
        if rng.random() < 0.15:
            t += float(rng.uniform(0.15, 0.5))  # a pause: the gap counts as silence
    style = ArticulationStyle(amplitude=tuple(float(a) for a in rng.uniform(0.75, 1.25, 5)),
                              effort=float(rng.uniform(0.8, 1.25)))
    return articulation_from_phones(phones, FPS, num_frames=int((t + 0.2) * FPS), style=style).values


def blender_subject(seed: int, k_eig: int, cache: OperatorCache, resolution: float, tracks: int = 6) -> dict[str, Any]:
    """One anatomical head with everything a blender batch draws from.

    Returns:
        "template" (V, 3) float32 metres, "ops", "rig" (V, 6, 3) and "units" (V, U, 3) float32
        metres per unit, "owned" (V, U, 3) the units with their lip gap left to speech, and
        "poses" (N, 6) rig inputs of `tracks` random utterances.
    """
    rng = np.random.default_rng([seed, 7])
    head = procedural_head(seed, resolution=resolution)
    rig = rig_basis(head)
    units = action_unit_basis(head, variation=rng)
    template = head.verts.astype(np.float32)
    return {
        "name": head.name, "template": template, "ops": cache.get_or_compute(template, head.faces, k_eig),
        "rig": rig.astype(np.float32), "units": units.astype(np.float32),
        "owned": speech_owned_lips(units, rig[:, 0], head).astype(np.float32),
        "poses": np.concatenate([rig_inputs(random_articulation(rng)) for _ in range(tracks)]).astype(np.float32),
    }


def random_weights(rng: np.random.Generator, intensity: float) -> np.ndarray:
    """Action-unit activations (U,): one of the 11 emotions, or (one time in four) a mix of two."""
    first = str(rng.choice(EMOTIONS))
    if rng.random() < 0.25:
        return expression_weights({first: 1.0, str(rng.choice(EMOTIONS)): float(rng.uniform(0.2, 1.0))}, intensity, rng=rng)
    return expression_weights(first, intensity, rng=rng)


class _Batches(SubjectBatches):
    """Item i: `frames_per_batch` talking frames and as many expressions on subject i % S."""

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, index])
        subject = self.subjects[index % len(self.subjects)]
        poses = subject["poses"][rng.integers(0, len(subject["poses"]), self.frames_per_batch)]
        weights = np.stack([random_weights(rng, 1.0) for _ in range(self.frames_per_batch)]).astype(np.float32)
        scales = rng.uniform(self.min_intensity, 1.0, self.frames_per_batch).astype(np.float32)
        return {
            "template": torch.from_numpy(subject["template"]),
            "talking": torch.from_numpy(np.einsum("tb,vbc->tvc", poses, subject["rig"])),
            "expression": torch.from_numpy(np.einsum("tu,vuc->tvc", weights, subject["units"])),
            "mixture_expression": torch.from_numpy(np.einsum("tu,vuc->tvc", weights, subject["owned"])),
            "scales": torch.from_numpy(scales),
            "ops": subject["ops"],
        }


class HeadsBlenderDataModule(SubjectBatchesDataModule):
    """Anatomical heads speaking through the rig × FACS expressions, batched per subject.

    Args:
        train_seeds, val_seeds: identity seeds of `procedural_head` (keep them apart from the
            evaluation heads, 900001 onwards).
        resolutions: marching-cubes spacings in metres; each subject takes one at random
            (0.006-0.008: 3.5-6k vertices), so the blender does not learn one meshing.
        k_eig: eigenpairs per template (must equal the blender's k_eig).
        cache_dir: operator cache folder (default: the user cache).
        frames_per_batch: talking frames (and expressions) per batch.
        min_intensity: mixtures show the expression at strengths in [min_intensity, 1].
        batches_per_epoch, val_batches: batches per training epoch / validation run.
        seed: seed of the draws (batch i of a split is the same in every run).
    """

    def __init__(self, train_seeds: list[int] | None = None, val_seeds: list[int] | None = None,
                 resolutions: list[float] | None = None, k_eig: int = 64, cache_dir: str | None = None,
                 frames_per_batch: int = 8, min_intensity: float = 0.2, batches_per_epoch: int = 200,
                 val_batches: int = 20, seed: int = 0) -> None:
        super().__init__()
        self.seeds = {"train": list(train_seeds or range(1, 25)), "val": list(val_seeds or [801, 802])}
        self.resolutions = list(resolutions or [0.006, 0.007, 0.008])
        self.k_eig, self.cache_dir = k_eig, str(cache_dir or default_cache_dir())
        self.frames_per_batch, self.min_intensity = frames_per_batch, min_intensity
        self.batches_per_epoch, self.val_batches, self.seed = batches_per_epoch, val_batches, seed
        self._subjects: dict[str, list[dict[str, Any]]] = {}

    def subjects(self, split: str) -> list[dict[str, Any]]:
        """The subjects of "train" or "val", built once and kept (`blender_subject` each)."""
        if split not in self._subjects:
            from tqdm import tqdm

            cache = OperatorCache(self.cache_dir)
            rng = np.random.default_rng(self.seed)
            seeds = self.seeds[split]
            self._subjects[split] = [
                blender_subject(seed, self.k_eig, cache, float(rng.choice(self.resolutions)))
                for seed in tqdm(seeds, desc=f"blender heads ({split})", unit="head")
            ]
        return self._subjects[split]

    def batches(self, split: str, length: int, seed: int) -> Dataset:
        """`length` batches of the heads of `split`, drawn with `seed`."""
        return _Batches(self.subjects(split), self.frames_per_batch, self.min_intensity, length, seed)
