"""Train an articulated model's emotion head (`scantalk.model.expression_head.ExpressionHead`) on
an EmoVOCA-style emotional dataset (`scantalk emovoca build`).

For every emotional sequence the head must explain what the emotion added to the talking
sequence it was built from. The model finds the landmarks of each talking template itself (its
landmark decoder), the FACS units are placed on them, and each frame's added motion is read as
unit activations by least squares, with activations ≥ 0. The units are read as the dataset was
made: a blender's build keeps the lip gap to speech (its training targets do), so its motion is
read on the units with their lip gap left to speech (`speech_owned_lips`, as the Animator places
them); the additive baseline adds the whole expression, lip gap included, so its motion is read on
the plain units. Read on the other basis, the lip gap one cannot show is explained by other units
(an upper-lip raiser turns into a nose wrinkler). The head learns, per emotion, those activations at full intensity and how they change
with the articulation (which the model's own front end reads from the sequence's audio), scored
in displacement (the activations' error weighted by the units' Gram matrix), so a unit that moves
a centimetre weighs more than one that moves a millimetre.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from emotion.emovoca.layout import MANIFEST
from emotion.facs.provider import FacsExpressions
from scantalk.audio.io import SAMPLE_RATE
from scantalk.datasets import load_dataset
from scantalk.emotions import EMOTIONS, INTENSITY_LEVELS
from scantalk.errors import DatasetError
from scantalk.expression import speech_owned_lips
from scantalk.model.expression_head import ExpressionHead

LEVEL_OF_NUMBER = {1: "low", 2: "mid", 3: "high"}


@dataclass
class HeadExample:
    """One emotional sequence, ready for the head: label index, intensity, the articulation
    (T, A), least-squares unit activations (T, U) and the Gram matrix (U, U), metres², of the
    units as the Animator shows them (lip gap left to speech), which weighs the head's errors."""

    label: int
    intensity: float
    articulation: np.ndarray
    targets: np.ndarray
    gram: np.ndarray


def head_examples(emotional_root: str | Path, animator: Any, limit: int | None = None, verbose: bool = True,
                  lips: str | None = None) -> list[HeadExample]:
    """Read an emotional dataset into `HeadExample`s with `animator`'s model (an articulated one).

    Args:
        emotional_root: a folder `scantalk emovoca build` wrote (its emovoca.json names the
            talking set the sequences were built from).
        animator: a `scantalk.Animator` of an articulated model with the landmark decoder.
        limit: read at most this many emotional sequences (all when None).
        lips: "speech" (the units with their lip gap left to speech) or "expression" (the plain
            units); default from the build's mode: "speech" for a blender's, "expression" for
            the additive baseline's.

    Raises:
        DatasetError: not an emotional dataset, or its talking set is gone.
    """
    root = Path(emotional_root).expanduser()
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise DatasetError(f"{root}: no {MANIFEST}; build the emotional dataset first with `scantalk emovoca build`")
    manifest = json.loads(manifest_path.read_text())
    if lips is None:
        lips = "expression" if manifest.get("mode") == "additive" else "speech"
    if lips not in ("speech", "expression"):
        raise ValueError(f'lips must be "speech" or "expression", got {lips!r}')
    talking_root = Path(manifest["talking"])
    if not talking_root.is_dir():
        raise DatasetError(f"{root}: its talking set {talking_root} (named in {MANIFEST}) is not there; the emotion "
                           "head needs the talking sequences the emotional ones were built from")
    refs = {ref.key: ref for ref in load_dataset(talking_root)}
    provider = FacsExpressions()
    stems = sorted(path.stem for path in (root / "sequences").glob("*.npy"))[:limit]
    faces: dict[str, tuple[Any, np.ndarray, np.ndarray, np.ndarray]] = {}
    tracks: dict[str, np.ndarray] = {}
    examples = []
    for stem in tqdm(stems, desc=f"emotion head data ← {root}", unit="seq", disable=not verbose):
        key = stem.rsplit("_", 2)[0]
        if key not in refs:
            raise DatasetError(f"{root}: sequence {stem} comes from talking sequence {key}, which {talking_root} lacks")
        ref = refs[key]
        if ref.subject not in faces:
            fit = animator.fit_face((ref.template, ref.faces))
            units = provider.basis(fit.head)
            owned = speech_owned_lips(units, fit.basis[:, 0], fit.head)
            read = owned if lips == "speech" else units
            faces[ref.subject] = (fit, read.transpose(0, 2, 1).reshape(-1, read.shape[1]),
                                  np.einsum("vuc,vwc->uw", read, read), np.einsum("vuc,vwc->uw", owned, owned))
        if key not in tracks:
            tracks[key] = animator.articulate(ref.load_audio(), fps=ref.fps, sample_rate=SAMPLE_RATE).values
        fit, units, read_gram, gram = faces[ref.subject]
        added = fit.motion_to_model(np.load(root / "sequences" / f"{stem}.npy") - ref.load_frames())
        targets = unit_activations(units, read_gram, added.reshape(len(added), -1))
        articulation = tracks[key]
        count = min(len(articulation), len(targets))
        examples.append(HeadExample(int(np.load(root / "label" / f"{stem}.npy")),
                                    INTENSITY_LEVELS[LEVEL_OF_NUMBER[int(np.load(root / "intensity" / f"{stem}.npy"))]],
                                    articulation[:count].astype(np.float32), targets[:count].astype(np.float32),
                                    gram.astype(np.float32)))
    return examples


def unit_activations(units: np.ndarray, gram: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Non-negative activations (T, U) that best explain each frame's motion (T, V·3) by the
    units (V·3, U) with Gram matrix (U, U): min ‖units · w − motion‖², w ≥ 0 (action units do not
    run backwards, and without the bound overlapping units trade large opposite activations)."""
    from scipy.optimize import nnls

    # ‖A w − b‖² = ‖Lᵀ w − L⁻¹ Aᵀ b‖² + const with G = Aᵀ A = L Lᵀ: a U × U problem per frame.
    scale = float(np.trace(gram)) / len(gram)
    factor = np.linalg.cholesky(gram / scale + 1e-9 * np.eye(len(gram)))
    right = np.linalg.solve(factor, (motion @ units).T / scale).T  # (T, U)
    return np.stack([nnls(factor.T, row)[0] for row in right])


def head_loss(head: ExpressionHead, example: HeadExample) -> torch.Tensor:
    """Mean over frames of (w − w*)ᵀ G (w − w*) / tr G: squared displacement error per unit of
    expression, in metres² averaged over the units."""
    count = len(example.targets)
    shares = torch.zeros(count, head.num_labels)
    shares[:, example.label] = 1.0
    predicted = head(shares, torch.full((count,), example.intensity), torch.as_tensor(example.articulation))
    error = predicted - torch.as_tensor(example.targets)
    gram = torch.as_tensor(example.gram)
    return torch.einsum("tu,uw,tw->t", error, gram, error).mean() / gram.trace()


def train_expression_head(examples: list[HeadExample], num_channels: int, steps: int = 600, lr: float = 0.01,
                          seed: int = 0, verbose: bool = True) -> tuple[ExpressionHead, dict[str, float]]:
    """Fit a fresh `ExpressionHead` to `examples` with Adam (full batch: they are small), each
    emotion starting at its examples' mean activations.

    Returns:
        The head (eval mode) and {"loss_start", "loss_end", "relative_error"}: the last is
        √(loss / mean target energy), the share of the added expression the head misses.
    """
    if not examples:
        raise DatasetError("no emotional sequences to train the emotion head on")
    torch.manual_seed(seed)
    head = ExpressionHead(len(EMOTIONS), examples[0].targets.shape[1], num_channels)
    # Start each emotion at its mean activations per unit of intensity (softplus⁻¹, ≥ 1e-3).
    with torch.no_grad():
        for label in {example.label for example in examples}:
            mean = np.mean(np.concatenate([e.targets / e.intensity for e in examples if e.label == label]), axis=0)
            start = torch.as_tensor(np.maximum(mean, 1e-3), dtype=torch.float32)
            head.table[label] = start + torch.log(-torch.expm1(-start))
    optimiser = torch.optim.Adam(head.parameters(), lr=lr)
    energy = float(np.mean([np.einsum("tu,uw,tw->t", e.targets, e.gram, e.targets).mean() / np.trace(e.gram)
                            for e in examples]))
    losses = []
    for _ in tqdm(range(steps), desc="emotion head", unit="step", disable=not verbose):
        optimiser.zero_grad()
        loss = torch.stack([head_loss(head, example) for example in examples]).mean()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return head.eval(), {"loss_start": losses[0], "loss_end": losses[-1],
                         "relative_error": float(np.sqrt(losses[-1] / max(energy, 1e-30)))}
