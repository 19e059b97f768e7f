"""Training data for the factored model: rigged heads for the decoder, speech for the articulator.

Two data modules, one per half of `scantalk.model.articulated.ArticulatedTalker`:

- `RigDataModule`: neutral heads (procedural and real faces in many identities and meshings,
  `scantalk.synthesis.heads`), each with its operators and its rig basis (V, B, 3) — what the decoder
  must learn to predict from the surface alone. One head per step.
- `SpeechDataModule`: utterances from real voices with exact phone timings
  (`scantalk.synthesis.speech`), augmented on the fly, and their articulation tracks made from the
  phones (`scantalk.articulation`) with a random speaking style. Batches of equal-length crops.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from scantalk.atomic import atomic_path, atomic_write_text
from scantalk.audio.io import SAMPLE_RATE
from scantalk.errors import ScanTalkError
from scantalk.face.head import FaceLandmarks, Head
from scantalk.geometry.cache import OperatorCache


# --------------------------------------------------------------------------------------------
# Heads on disk


def _plain(value: Any) -> Any:
    """numpy values in `Head.meta` as JSON numbers and lists."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"head meta value {value!r} cannot be saved")


def save_head(path: Path, head: Head) -> None:
    """One head as a compressed .npz (verts, faces, landmarks, parts, name, meta as JSON), atomically."""
    # meta is kept because the rig reads it (a procedural head's known rest lip gap): without it
    # a reloaded head's rig basis, the decoder's training target, would differ from the head's own.
    arrays: dict[str, Any] = {"verts": head.verts.astype(np.float64), "landmarks": head.landmarks.as_array(),
                              "name": np.array(head.name), "meta": np.array(json.dumps(head.meta, default=_plain))}
    if head.faces is not None:
        arrays["faces"] = head.faces.astype(np.int64)
    if head.parts is not None:
        arrays["parts"] = head.parts.astype(np.int8)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)


def load_head(path: Path) -> Head:
    """The inverse of `save_head` (no pickles: plain arrays and JSON only; numpy values in meta
    come back as lists)."""
    with np.load(path, allow_pickle=False) as data:
        return Head(verts=data["verts"], faces=data["faces"] if "faces" in data else None,
                    landmarks=FaceLandmarks.from_array(data["landmarks"]), name=str(data["name"]),
                    parts=data["parts"] if "parts" in data else None,
                    meta=json.loads(str(data["meta"])) if "meta" in data else {})


def _seed_of(name: str) -> int:
    return zlib.crc32(name.encode())


# --------------------------------------------------------------------------------------------
# Rig data (decoder)


class RigDataset(Dataset):
    """Items: {"template" (V, 3) float32 m, "ops", "basis" (V, B, 3) float32 m, "weight" (V,),
    "landmarks" (10, 3) float32 m}.

    The vertex weight is the lumped area (so every meshing of a surface counts the same) times
    (1 + `lip_weight` on the mouth region): lips are where a millimetre shows. With
    `landmark_crop`, items are the face region the landmark decoder reads (`landmark_region`)
    with its operators and the head's landmarks only (no basis), each head first aligned as
    inference aligns a face (`align="auto"`, nose tip onto `anchor_reference`).
    """

    def __init__(self, paths: Sequence[Path], cache: OperatorCache, k_eig: int, lip_weight: float = 4.0,
                 landmark_crop: bool = False, anchor_reference: Sequence[float] | None = None) -> None:
        self.paths = list(paths)
        self.landmark_crop = landmark_crop
        self.anchor_reference = None if anchor_reference is None else np.asarray(anchor_reference, dtype=np.float64)
        self.cache = cache
        self.k_eig = k_eig
        self.lip_weight = lip_weight

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        from scantalk.rig.rig import region_masks, rig_basis

        head = load_head(self.paths[index])
        if self.landmark_crop:
            from scantalk.face.alignment import aligned_template
            from scantalk.model.articulated import landmark_region

            # Exactly what inference does: align="auto" moves the nose tip onto the reference.
            # Training heads are already y-up and facing +z: no orientation to find (the same bytes).
            template, alignment = aligned_template(head.verts, "auto", "y", "z", reference_center=self.anchor_reference,
                                                   anchor="nose")
            landmarks = alignment.to_model(head.landmarks.as_array())
            verts, faces, _ = landmark_region(template, head.faces)
            ops = self.cache.get_or_compute(verts, faces, self.k_eig)
            return {"template": torch.as_tensor(verts, dtype=torch.float32), "ops": ops,
                    "landmarks": torch.as_tensor(landmarks, dtype=torch.float32), "name": head.name}
        ops = self.cache.get_or_compute(head.verts, head.faces, self.k_eig)
        basis = rig_basis(head)
        mouth = region_masks(head)["mouth_region"].astype(np.float32)
        mass = ops.mass.numpy()
        weight = mass / mass.mean() * (1.0 + self.lip_weight * mouth)
        return {"template": torch.as_tensor(head.verts, dtype=torch.float32), "ops": ops,
                "basis": torch.as_tensor(basis, dtype=torch.float32), "weight": torch.as_tensor(weight),
                "landmarks": torch.as_tensor(head.landmarks.as_array(), dtype=torch.float32), "name": head.name}


def _single(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0]


class RigDataModule(L.LightningDataModule):
    """Rigged heads for the decoder, read from `root/heads/*.npz` (see `build_rig_heads`).

    Args:
        root: folder written by `build_rig_heads` (heads/, splits.json).
        cache_dir: operator cache (default root/operators).
        k_eig: eigenpairs per head (must match the model's).
        lip_weight: extra loss weight of the mouth region.
        num_workers: DataLoader workers (operators are computed there on first use).
        landmark_crop: serve the face regions the landmark decoder reads (see `RigDataset`).
        anchor_reference: (3,) metres, where alignment puts each head's nose tip (the mean nose
            tip of the training heads; the model stores it as its `reference_center`).
    """

    def __init__(self, root: str, cache_dir: str | None = None, k_eig: int = 128, lip_weight: float = 4.0,
                 num_workers: int = 0, landmark_crop: bool = False,
                 anchor_reference: tuple[float, float, float] | None = None) -> None:
        super().__init__()
        self.root = Path(root)
        self.cache = OperatorCache(Path(cache_dir) if cache_dir else self.root / "operators")
        self.k_eig = k_eig
        self.lip_weight = lip_weight
        self.num_workers = num_workers
        self.landmark_crop = landmark_crop
        self.anchor_reference = anchor_reference

    def _split(self, name: str) -> RigDataset:
        splits_file = self.root / "splits.json"
        if not splits_file.is_file():
            raise ScanTalkError(f"{self.root} holds no rigged heads (splits.json missing); build them with "
                                "`python experiments/recipes/default_articulated.py` or `build_rig_heads`")
        names = json.loads(splits_file.read_text())[name]
        return RigDataset([self.root / "heads" / f"{n}.npz" for n in names], self.cache, self.k_eig, self.lip_weight,
                          self.landmark_crop, self.anchor_reference)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self._split("train"), batch_size=1, shuffle=True, collate_fn=_single,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self._split("val"), batch_size=1, collate_fn=_single, num_workers=0)


# --------------------------------------------------------------------------------------------
# Speech data (articulator)


@dataclass
class SpeechCrop:
    """A training example: audio (N,) float32 at 16 kHz and its articulation (T, A) at `fps`."""

    audio: np.ndarray
    articulation: np.ndarray


class SpeechDataset(Dataset):
    """Random crops of augmented utterances with articulation targets from their phones.

    Each access draws a new augmentation, a new speaking style and a new crop from torch's
    generator, which Lightning seeds per run and per DataLoader worker (`seed_everything`,
    `worker_init_fn`): runs repeat, workers never repeat one another.
    """

    def __init__(self, utterances: Sequence[Any], fps: float = 30.0, crop_seconds: float = 3.0,
                 augment: bool = True, seed: int = 0) -> None:
        self.utterances = list(utterances)
        self.fps = fps
        self.crop_frames = int(round(crop_seconds * fps))
        self.augment = augment
        self.seed = seed

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> SpeechCrop:
        from scantalk.articulation import ArticulationStyle, articulation_from_phones
        from scantalk.synthesis.speech import augment as augment_utterance

        draw = int(torch.randint(0, 2**31 - 1, ()).item()) if self.augment else 0
        rng = np.random.default_rng([self.seed, index, draw])
        utterance = self.utterances[index]
        if self.augment:
            utterance = augment_utterance(utterance, rng)
            style = ArticulationStyle.sample(rng)
        else:
            style = None
        samples = np.asarray(utterance.samples, dtype=np.float32)
        num_frames = max(1, int(len(samples) / SAMPLE_RATE * self.fps))
        track = articulation_from_phones(utterance.phones, self.fps, num_frames=num_frames, style=style).values
        frames = self.crop_frames
        if num_frames > frames:
            start = int(rng.integers(0, num_frames - frames + 1)) if self.augment else 0
        else:
            start = 0
        track = track[start:start + frames]
        begin = int(round(start / self.fps * SAMPLE_RATE))
        audio = samples[begin:begin + int(round(len(track) / self.fps * SAMPLE_RATE))]
        return SpeechCrop(audio, track.astype(np.float32))


def collate_crops(crops: list[SpeechCrop]) -> dict[str, torch.Tensor]:
    """Crops padded with silence / rest to the longest: audio (B, N), articulation (B, T, A), mask (B, T)."""
    frames = max(len(c.articulation) for c in crops)
    samples = max(len(c.audio) for c in crops)
    channels = crops[0].articulation.shape[1]
    audio = torch.zeros(len(crops), samples)
    target = torch.zeros(len(crops), frames, channels)
    mask = torch.zeros(len(crops), frames)
    for i, crop in enumerate(crops):
        audio[i, : len(crop.audio)] = torch.from_numpy(crop.audio)
        target[i, : len(crop.articulation)] = torch.from_numpy(crop.articulation)
        mask[i, : len(crop.articulation)] = 1.0
    return {"audio": audio, "articulation": target, "mask": mask}


class SpeechDataModule(L.LightningDataModule):
    """Utterances of a speech corpus (`scantalk.synthesis.speech.build_speech_corpus`) for the articulator.

    Args:
        root: the corpus folder (wav/, phones/, manifest.json).
        val_root: a corpus of held-out voices for validation (default: none).
        fps: articulation frame rate.
        crop_seconds: length of each training crop.
        batch_size: crops per step.
        num_workers: DataLoader workers.
        seed: base seed of augmentation, style and crops.
    """

    def __init__(self, root: str, val_root: str | None = None, fps: float = 30.0, crop_seconds: float = 3.0,
                 batch_size: int = 16, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.root, self.val_root = root, val_root
        self.fps, self.crop_seconds = fps, crop_seconds
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed

    def train_dataloader(self) -> DataLoader:
        from scantalk.synthesis.speech import load_speech_corpus

        dataset = SpeechDataset(load_speech_corpus(self.root), self.fps, self.crop_seconds, True, self.seed)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=True, collate_fn=collate_crops,
                          num_workers=self.num_workers, drop_last=True)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_root is None:
            return []
        from scantalk.synthesis.speech import load_speech_corpus

        dataset = SpeechDataset(load_speech_corpus(self.val_root), self.fps, crop_seconds=8.0, augment=False)
        return DataLoader(dataset, batch_size=4, collate_fn=collate_crops, num_workers=0)


# --------------------------------------------------------------------------------------------
# Building the rigged heads


def training_meshings(head: Head, rng: np.random.Generator, extra: int = 2) -> list[Head]:
    """The meshings of one identity the decoder trains on.

    A dense head (a procedural one, 17-22k vertices) is first decimated to a random 3-10k vertices,
    the range of registered templates and cleaned scans; a sparse one (MediaPipe's 468-vertex face)
    is subdivided to 1.9k and 7.5k. Then `extra` meshings of other kinds (re-triangulated, point
    cloud, scan noise, holes, a face-only crop), so no single triangulation is what the decoder
    learns to read.
    """
    from scantalk.synthesis.heads import meshing

    if head.num_vertices > 12000:
        base = [meshing.decimate(head, int(rng.integers(3000, 10000)))]
    else:
        once = meshing.subdivide(head, "loop")
        base = [once, meshing.subdivide(once, "loop")] if once.num_vertices < 3000 else [once]
    kinds = ["clustered", "point_cloud", "noisy", "holes", "face_crop"]
    chosen = rng.choice(len(kinds), size=min(extra, len(kinds)), replace=False)
    source = base[-1]
    extras = meshing.meshing_variants(source, rng, [kinds[int(i)] for i in chosen])
    return base + extras


def mean_nose_tip(root: str | Path) -> tuple[float, float, float]:
    """(3,) metres, the mean nose-tip landmark of the training heads in `root` (see `build_rig_heads`)."""
    root = Path(root)
    names = json.loads((root / "splits.json").read_text())["train"]
    noses = np.array([load_head(root / "heads" / f"{name}.npz").landmarks.nose_tip for name in names])
    return tuple(float(v) for v in noses.mean(0).round(6))


def build_rig_heads(root: str | Path, num_procedural: int = 60, num_real: int = 40, extra: int = 2,
                    val_every: int = 10, seed: int = 0, k_eig: int = 128, stylised: float = 0.0) -> Path:
    """Training heads for the decoder, written to `root` (resumable: finished identities are kept).

    Procedural anatomical heads (`procedural_head`) and real faces deformed into new identities
    (`real_identities`; the held-out real face is never used), each in the meshings of
    `training_meshings`. Every `val_every`-th identity goes to validation. Operators are
    precomputed into root/operators. With `stylised` > 0, that share of the procedural identities
    is drawn from `stylised_shape` (caricatures, extreme chins, mouths, lips, noses, mouths open
    at rest) and the real identities' warps range from ×0.3 to ×2.5 (caricatures).

    Returns:
        root, holding heads/<name>.npz, splits.json and operators/.
    """
    from tqdm import tqdm

    from scantalk.synthesis.heads.procedural import procedural_head, stylised_shape
    from scantalk.synthesis.heads.real import real_identities

    root = Path(root)
    (root / "heads").mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[str]] = {"train": [], "val": []}
    jobs = [(f"procedural_{i:04d}", "procedural", seed * 100003 + i) for i in range(num_procedural)]
    jobs += [(f"real_{i:04d}", "real", i) for i in range(num_real)]
    real_heads: list[Head] | None = None
    cache = OperatorCache(root / "operators")
    for index, (identity, kind, key) in enumerate(tqdm(jobs, desc=f"rigged heads -> {root}", unit="identity")):
        split = "val" if index % val_every == val_every - 1 else "train"
        marker = root / "heads" / f"{identity}.done"
        if marker.is_file():
            splits[split] += json.loads(marker.read_text())
            continue
        if kind == "procedural":
            styled = int((index + 1) * stylised + 1e-9) > int(index * stylised + 1e-9)  # that share, spread out
            head = procedural_head(int(key), shape=stylised_shape(int(key)) if styled else None)
        else:
            if real_heads is None:
                real_heads = real_identities(num_real, seed=seed, strengths=(0.3, 2.5) if stylised > 0 else (1.0, 1.0))
            head = real_heads[int(key)]
        rng = np.random.default_rng([seed, _seed_of(identity)])
        names = []
        for number, variant in enumerate(training_meshings(head, rng, extra)):
            name = f"{identity}__{number}"
            save_head(root / "heads" / f"{name}.npz", variant)
            cache.get_or_compute(variant.verts, variant.faces, k_eig)
            names.append(name)
        # Atomic: a marker cut short by a crash would stop every later resume with a JSON error.
        atomic_write_text(marker, json.dumps(names))
        splits[split] += names
    with atomic_path(root / "splits.json") as tmp:
        tmp.write_text(json.dumps(splits, indent=1))
    print(f"{sum(map(len, splits.values()))} rigged heads in {root} (splits.json, heads/, operators/)")
    return root


# --------------------------------------------------------------------------------------------
# Speech features, precomputed (articulator)


def _feature_shard(job: tuple[str, str, list[int], int, int, float]) -> str:
    """Compute and write one shard of `build_speech_features` (runs in a worker process)."""
    corpus_dir, path, indices, augmentations, seed, fps = job
    from scantalk.articulation import ArticulationStyle, articulation_from_phones
    from scantalk.audio.encoders import normalize_clips
    from scantalk.audio.mel import LogMel
    from scantalk.synthesis.speech import augment, load_speech_corpus
    from scantalk.synthesis.speech.phones import phone_frames

    torch.set_num_threads(1)
    corpus = load_speech_corpus(corpus_dir)
    spectrogram = LogMel(normalise="band")
    mels, targets, phones, mel_lengths, target_lengths = [], [], [], [], []
    for index in indices:
        for draw in range(augmentations):
            rng = np.random.default_rng([seed, index, draw])
            utterance = corpus[index] if draw == 0 else augment(corpus[index], rng)
            style = None if draw == 0 else ArticulationStyle.sample(rng)
            samples = torch.as_tensor(np.asarray(utterance.samples, dtype=np.float32))[None]
            with torch.no_grad():
                mel = spectrogram(normalize_clips(samples))[0].T.numpy()  # (F, n_mels)
            frames = int(len(utterance.samples) / SAMPLE_RATE * fps)
            track = articulation_from_phones(utterance.phones, fps, num_frames=frames, style=style).values
            mels.append(mel.astype(np.float16))
            targets.append(track.astype(np.float16))
            phones.append(phone_frames(utterance.phones, fps, frames).astype(np.int8))
            mel_lengths.append(len(mel))
            target_lengths.append(len(track))
    with atomic_path(Path(path)) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, log_mel=np.concatenate(mels), targets=np.concatenate(targets),
                     phones=np.concatenate(phones), mel_lengths=np.array(mel_lengths),
                     target_lengths=np.array(target_lengths))
    return path


def build_speech_features(corpus_dir: str | Path, out_dir: str | Path, augmentations: int = 3, seed: int = 0,
                          fps: float = 30.0, shard_size: int = 100, workers: int = 2) -> Path:
    """Log-mel features and articulation targets of a speech corpus, `augmentations` draws each.

    Draw 0 is the clean utterance with the neutral speaking style; the others are augmented
    (`scantalk.synthesis.speech.augment`) with a sampled `ArticulationStyle`. Written in shards of
    `shard_size` utterances (`shard_XXXX.npz`: log_mel (ΣF, n_mels) float16 at 100 Hz, targets
    (ΣT, A) float16 at `fps`, phones (ΣT,) int8 ids of `scantalk.synthesis.speech.PHONES` at `fps`,
    per-clip lengths), resumable, with a progress bar.

    Returns:
        out_dir.
    """
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    from tqdm import tqdm

    from scantalk.synthesis.speech import load_speech_corpus

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    count = len(load_speech_corpus(corpus_dir))
    jobs = []
    for number, start in enumerate(range(0, count, shard_size)):
        path = out_dir / f"shard_{number:04d}.npz"
        if not path.is_file():
            jobs.append((str(corpus_dir), str(path), list(range(start, min(count, start + shard_size))),
                         augmentations, seed, fps))
    if jobs:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
            for _ in tqdm(pool.map(_feature_shard, jobs), total=len(jobs), desc=f"speech features -> {out_dir}",
                          unit="shard"):
                pass
    with atomic_path(out_dir / "features.json") as tmp:
        tmp.write_text(json.dumps({"corpus": str(corpus_dir), "augmentations": augmentations, "fps": fps,
                                   "utterances": count}))
    print(f"speech features of {count} utterances x {augmentations} in {out_dir}")
    return out_dir


class SpeechFeatureDataset(Dataset):
    """Random crops (log-mel (n_mels, 100·s), articulation (fps·s, A), phone ids (fps·s,)) of
    precomputed features.

    Crops start on a 0.1 s grid, where 100 Hz mel frames and 30 fps targets both fall on whole
    frames; clips shorter than a crop are skipped.
    """

    def __init__(self, root: str | Path, crop_seconds: float = 2.5, fps: float = 30.0, random: bool = True) -> None:
        shards = sorted(Path(root).glob("shard_*.npz"))
        if not shards:
            raise ScanTalkError(f"{root} holds no speech features (shard_*.npz); build them with "
                                "`build_speech_features` or the default_articulated recipe")
        self.mels, self.targets, self.phones = [], [], []
        for shard in shards:
            with np.load(shard, allow_pickle=False) as data:
                mel_ends = np.cumsum(data["mel_lengths"])
                target_ends = np.cumsum(data["target_lengths"])
                self.mels += np.split(data["log_mel"], mel_ends[:-1])
                self.targets += np.split(data["targets"], target_ends[:-1])
                self.phones += np.split(data["phones"], target_ends[:-1])
        self.fps = fps
        self.crop_seconds = crop_seconds
        self.random = random
        self.usable = [i for i, t in enumerate(self.targets) if len(t) >= int(round(crop_seconds * fps))]

    def __len__(self) -> int:
        return len(self.usable)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        clip = self.usable[index]
        mel, target = self.mels[clip], self.targets[clip]
        mel_frames, target_frames = int(round(self.crop_seconds * 100)), int(round(self.crop_seconds * self.fps))
        steps = int((min(len(mel) - mel_frames, (len(target) - target_frames) * 100 / self.fps)) // 10)
        step = int(torch.randint(0, steps + 1, ()).item()) if self.random and steps > 0 else 0
        mel_start, target_start = 10 * step, int(round(step * self.fps / 10))
        window = slice(target_start, target_start + target_frames)
        return {"log_mel": torch.from_numpy(mel[mel_start:mel_start + mel_frames].T.astype(np.float32)),
                "articulation": torch.from_numpy(target[window].astype(np.float32)),
                "phones": torch.from_numpy(self.phones[clip][window].astype(np.int64))}


class SpeechFeatureDataModule(L.LightningDataModule):
    """Precomputed speech features for the articulator (see `build_speech_features`).

    Args:
        root: training features; val_root: features of held-out voices (optional).
        crop_seconds: crop length; fps: target frame rate; batch_size: crops per step.
    """

    def __init__(self, root: str, val_root: str | None = None, crop_seconds: float = 2.5, fps: float = 30.0,
                 batch_size: int = 32) -> None:
        super().__init__()
        self.root, self.val_root = root, val_root
        self.crop_seconds, self.fps, self.batch_size = crop_seconds, fps, batch_size

    def train_dataloader(self) -> DataLoader:
        dataset = SpeechFeatureDataset(self.root, self.crop_seconds, self.fps)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=True, drop_last=True)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_root is None:
            return []
        dataset = SpeechFeatureDataset(self.val_root, crop_seconds=4.0, fps=self.fps, random=False)
        return DataLoader(dataset, batch_size=16)
