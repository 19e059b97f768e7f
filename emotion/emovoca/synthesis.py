"""Build an EmoVOCA-style emotional dataset: every talking sequence × every expression × 3 intensities.

Output layout (EmoVOCA's generator writes the first four folders the same way):

    out/sequences/<subject>_<seq>_<Label>_<n>.npy   (T, V, 3) float32 metres, absolute vertices
    out/label/<subject>_<seq>_<Label>_<n>.npy       () int64: index into EMOTIONS (EmoVOCA saves the
                                                    index, its loader one-hot encodes it)
    out/intensity/<subject>_<seq>_<Label>_<n>.npy   () int64: 1 low, 2 mid, 3 high (EmoVOCA's numbers)
    out/wav/<subject>_<seq>_<Label>_<n>.wav         the talking sequence's audio
    out/templates/<subject>.ply (or templates.pkl)  neutral faces, so records can be rebuilt
    out/masks/<subject>_lip.npy, _upper.npy         when the talking set has them
    out/splits.json                                 the talking set's (splits stay by talking subject)
    out/emovoca.json                                labels, intensities, μ, mode, per-subject expression source

<Label> is the capitalised label ("Afraid"), <n> the EmoVOCA intensity number 1/2/3.

Two ways to combine talking motion and an expression displacement e (V, 3):
- blender (a checkpoint from `emotion.blending.training`): frames = template + decode(μt·z_talk, μe·z_expr)
  (+ μt · the talking displacement for a `talking_skip` blender);
- additive baseline: frames = talking frames + μe · e, with μe = 1/3, 2/3, 1 for low/mid/high.

The expression must live on the talking subject's topology. How it gets there (recorded in
emovoca.json): "direct" — same vertex count (FLAME to FLAME, EmoVOCA's case, or FACS expressions
written on the talking set's own heads); "nearest" — any
other topology: the expression's neutral is aligned to the talking template (centroids and rms
radius) and each talking vertex takes the inverse-distance mean displacement of its 4 nearest
neutral vertices, rescaled by the alignment scale. Talking subjects take expression identities
in turn (sorted names, round robin), as EmoVOCA pairs each VOCASET actor with one Florence actor.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from emotion.emovoca.florence import ExpressionSample, read_expressions
from emotion.emovoca.layout import INTENSITY_NUMBERS, MANIFEST, OUTPUT_FOLDERS
from scantalk.emotions import EMOTIONS, INTENSITY_LEVELS, emotion_index, emotion_label
from scantalk.atomic import atomic_path, atomic_save_npy, atomic_write_bytes, atomic_write_text
from scantalk.datasets import load_dataset
from scantalk.audio.io import SAMPLE_RATE
from scantalk.datasets.sequence import SequenceRef
from scantalk.errors import DatasetError, OutputExistsError
from scantalk.geometry.mesh import save_arrays

NEIGHBOURS = 4


def sequence_stem(key: str, label: str, level: str) -> str:
    """"<subject>_<seq>_<Label>_<n>" for a talking key, a label and low / mid / high."""
    return f"{key}_{emotion_label(label).capitalize()}_{INTENSITY_NUMBERS[level]}"


def transfer_nearest(displacement: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Carry a displacement (V', 3) on surface `source` (V', 3) onto `target` (V, 3), metres → (V, 3).

    Both faces are brought together by centroid and rms radius (scans in the FLAME frame differ
    mostly in size and position); each target vertex gets the inverse-distance mean of its 4
    nearest source vertices' displacements, scaled back to the target's size.
    """
    source_centre, target_centre = source.mean(0), target.mean(0)
    scale = np.sqrt(((target - target_centre) ** 2).sum(1).mean() / ((source - source_centre) ** 2).sum(1).mean())
    aligned = (source - source_centre) * scale + target_centre
    distances, indices = cKDTree(aligned).query(target, k=min(NEIGHBOURS, len(source)))
    distances, indices = distances.reshape(len(target), -1), indices.reshape(len(target), -1)
    weights = 1.0 / np.maximum(distances, 1e-9)
    weights /= weights.sum(axis=1, keepdims=True)
    return (scale * np.einsum("vk,vkc->vc", weights, displacement[indices])).astype(np.float32)


class ExpressionTransfer:
    """Full-intensity expression displacements (V, 3) metres on each talking subject's template."""

    def __init__(self, expressions_root: Path, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        samples = read_expressions(expressions_root, self.labels)
        self.by_identity: dict[str, dict[str, ExpressionSample]] = {}
        for sample in samples:
            self.by_identity.setdefault(sample.identity, {})[sample.label] = sample
        self.identities = sorted(self.by_identity)
        self.sources: dict[str, dict[str, str]] = {}

    def for_subject(self, subject: str, position: int, template: np.ndarray) -> dict[str, np.ndarray]:
        """{label: (V, 3)} for the `position`-th talking subject (sorted) with this template."""
        identity = self.identities[position % len(self.identities)]
        samples = self.by_identity[identity]
        missing = [label for label in self.labels if label not in samples]
        if missing:
            raise DatasetError(f"expression identity '{identity}' has no mesh for {missing}; add them or pass "
                               f"--labels without them (it has {sorted(samples)})")
        first = samples[self.labels[0]]
        method = "direct" if first.neutral.shape == template.shape else "nearest"
        self.sources[subject] = {"method": method, "identity": identity}
        if method == "direct":
            return {label: samples[label].displacement.astype(np.float32) for label in self.labels}
        return {label: transfer_nearest(samples[label].displacement, samples[label].neutral, template)
                for label in self.labels}


def _prepare_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} is a file; pass a folder for the emotional dataset")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise OutputExistsError(f"{out} is not empty; choose an empty folder or pass --overwrite")
        if not (out / MANIFEST).is_file() and not (out / "sequences").is_dir():
            raise OutputExistsError(f"{out} holds files that are not an emotional dataset; refusing to overwrite them")
        for entry in (MANIFEST, *OUTPUT_FOLDERS, "templates", "templates.pkl", "masks", "splits.json", "dataset.json"):
            path = out / entry
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def _write_audio(ref: SequenceRef, dest: Path) -> None:
    wav_path = getattr(ref, "wav_path", None)
    if wav_path is not None and Path(wav_path).is_file():
        atomic_write_bytes(dest, Path(wav_path).read_bytes())
        return
    with atomic_path(dest) as tmp:
        soundfile.write(tmp, ref.load_audio(), SAMPLE_RATE, subtype="PCM_16", format="WAV")


def _write_subject_files(out: Path, ref: SequenceRef, pickled: dict[str, np.ndarray]) -> None:
    if ref.faces is not None:
        save_arrays(out / "templates" / f"{ref.subject}.ply", ref.template, ref.faces)
    else:
        pickled[ref.subject] = np.asarray(ref.template, dtype=np.float32)
    for region, indices in (("lip", ref.lip_vertices), ("upper", ref.upper_vertices)):
        if indices is not None:
            atomic_save_npy(out / "masks" / f"{ref.subject}_{region}.npy", np.asarray(indices, dtype=np.int64))


def build_emovoca(
    talking: str | Path,
    expressions: str | Path,
    out_dir: str | Path,
    checkpoint: str | Path | None = None,
    labels: Sequence[str] | None = None,
    levels: Sequence[str] = ("low", "mid", "high"),
    mu_t: float | None = None,
    mu_e: Sequence[float] | None = None,
    split: str | None = None,
    cache_dir: str | Path | None = None,
    overwrite: bool = False,
    verbose: bool = True,
    per_sequence: int | None = None,
    seed: int = 0,
) -> Path:
    """Write the emotional dataset (layout in the module docstring) to `out_dir`; returns it.

    talking: a talking-head dataset folder `scantalk.datasets.load_dataset` reads; expressions: a
    Florence-like folder (`emotion.emovoca.florence`). checkpoint: an EmoBlender checkpoint; None uses
    the additive baseline. labels: subset of `EMOTIONS` (default all 11; unknown names raise).
    levels: subset of low / mid / high. mu_t / mu_e: override the latent weights (mu_e: one
    value per level; default `emotion.blending.default_mu`, or 1/3, 2/3, 1 for the additive
    baseline). split: only this split of the talking set. cache_dir: operator cache.
    """
    talking_root, out = Path(talking).expanduser(), Path(out_dir).expanduser()
    labels = [emotion_label(label) for label in (labels or EMOTIONS)]
    levels = list(levels)
    for level in levels:
        if level not in INTENSITY_NUMBERS:
            raise DatasetError(f"unknown intensity level {level!r}; use low, mid or high")
    if mu_e is not None and len(mu_e) != len(levels):
        raise DatasetError(f"mu_e needs one value per level {levels}, got {list(mu_e)}")
    refs = load_dataset(talking_root, split=split)
    transfer = ExpressionTransfer(Path(expressions).expanduser(), labels)
    blender = None
    if checkpoint is not None:
        from emotion.blending.training import load_blender

        blender = load_blender(checkpoint)
    weights = _level_weights(blender, levels, mu_t, mu_e)
    _prepare_output(out, overwrite)

    subjects = sorted({ref.subject for ref in refs})
    per_subject: dict[str, dict[str, np.ndarray]] = {}
    pickled: dict[str, np.ndarray] = {}
    pairs = [(label, level) for label in labels for level in levels]
    order = np.random.default_rng(seed).permutation(len(pairs))
    count = len(pairs) if per_sequence is None else max(1, min(per_sequence, len(pairs)))
    total = len(refs) * count
    bar = tqdm(total=total, desc=f"emovoca → {out}", unit="seq", disable=not verbose)
    for position, ref in enumerate(refs):
        if ref.subject not in per_subject:
            per_subject[ref.subject] = transfer.for_subject(ref.subject, subjects.index(ref.subject), ref.template)
            _write_subject_files(out, ref, pickled)
        frames = ref.load_frames()
        combine = _additive if blender is None else _blender_combiner(blender, ref, cache_dir)
        chosen = [pairs[order[(position * count + j) % len(pairs)]] for j in range(count)]
        for label, level in chosen:
            mu_talk, mu_expr = weights[level]
            stem = sequence_stem(ref.key, label, level)
            emotional = combine(frames, ref.template, per_subject[ref.subject][label], mu_talk, mu_expr)
            atomic_save_npy(out / "sequences" / f"{stem}.npy", emotional.astype(np.float32))
            atomic_save_npy(out / "label" / f"{stem}.npy", np.array(emotion_index(label), dtype=np.int64))
            atomic_save_npy(out / "intensity" / f"{stem}.npy", np.array(INTENSITY_NUMBERS[level], dtype=np.int64))
            _write_audio(ref, out / "wav" / f"{stem}.wav")
            bar.update()
    bar.close()
    if pickled:
        atomic_write_bytes(out / "templates.pkl", pickle.dumps(pickled, protocol=4))
    if (talking_root / "splits.json").is_file():
        atomic_write_bytes(out / "splits.json", (talking_root / "splits.json").read_bytes())
    manifest = {
        "generator": "emotion.emovoca.synthesis", "talking": str(talking_root.resolve()),
        "expressions": str(Path(expressions).expanduser().resolve()),
        "mode": "additive" if blender is None else "blender",
        "checkpoint": None if checkpoint is None else str(Path(checkpoint).resolve()),
        "labels": labels, "levels": levels, "per_sequence": per_sequence, "seed": seed, "mu": {level: list(weights[level]) for level in levels},
        "fps": {ref.key: ref.fps for ref in refs}, "dataset": refs[0].dataset, "sources": transfer.sources,
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2))  # last: marks a complete dataset
    if verbose:
        print(f"wrote {total} emotional sequences ({manifest['mode']}) to {out.resolve()}")
    return out


def _level_weights(blender: Any, levels: list[str], mu_t: float | None,
                   mu_e: Sequence[float] | None) -> dict[str, tuple[float, float]]:
    """{level: (μt, μe)}: overrides, else `default_mu` of the blender, else (1, intensity)."""
    weights = {}
    for position, level in enumerate(levels):
        if blender is not None:
            from emotion.blending.model import default_mu

            default_t, default_e = default_mu(blender, level)
        else:
            default_t, default_e = 1.0, INTENSITY_LEVELS[level]
        weights[level] = (float(default_t if mu_t is None else mu_t),
                          float(default_e if mu_e is None else mu_e[position]))
    return weights


def _additive(frames: np.ndarray, template: np.ndarray, expression: np.ndarray, mu_t: float, mu_e: float) -> np.ndarray:
    """template + μt·(frames − template) + μe·expression, (T, V, 3) metres."""
    return template[None] + mu_t * (frames - template[None]) + mu_e * expression[None]


def _blender_combiner(blender: Any, ref: SequenceRef, cache_dir: str | Path | None) -> Any:
    from emotion.blending.model import blend
    from scantalk.geometry.cache import OperatorCache

    ops = OperatorCache(cache_dir).get_or_compute(ref.template, ref.faces, blender.k_eig)
    template = torch.from_numpy(np.asarray(ref.template, dtype=np.float32))

    def combine(frames: np.ndarray, _: np.ndarray, expression: np.ndarray, mu_t: float, mu_e: float) -> np.ndarray:
        result = blend(blender, template, torch.from_numpy(np.asarray(frames, dtype=np.float32)),
                       torch.from_numpy(expression), ops, mu_t=mu_t, mu_e=mu_e)
        return result.numpy()

    return combine
