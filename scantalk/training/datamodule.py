"""`TalkingHeadDataModule`: several talking-head datasets (any topologies) in one loader.

Every sequence carries its own template, faces, fps and masks, and the operators of its
template come from the `OperatorCache`, computed once per template (in worker processes) in
`setup`. One sequence per step: different topologies cannot share a batch.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from scantalk.audio.io import SAMPLE_RATE
from scantalk.datasets.load import load_dataset
from scantalk.errors import DatasetError
from scantalk.geometry.cache import OperatorCache, default_cache_dir
from scantalk.geometry.operators import SurfaceOperators



def default_data_dir() -> Path:
    """$SCANTALK_DATA_DIR if set, else the user cache directory (e.g. ~/.cache/scantalk) / "datasets"."""
    override = os.environ.get("SCANTALK_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("scantalk")) / "datasets"


def _materialise(record: Any) -> Any:
    """A dataset entry as a full `TalkingSequence` (readers may hand out lazy references)."""
    return record.load() if hasattr(record, "load") else record


def _template_key(template: np.ndarray, faces: np.ndarray | None) -> tuple[bytes, bytes]:
    faces_bytes = b"" if faces is None else np.ascontiguousarray(faces, dtype=np.int64).tobytes()
    return np.ascontiguousarray(template, dtype=np.float64).tobytes(), faces_bytes


def _precompute(job: tuple[str, np.ndarray, np.ndarray | None, int]) -> None:
    cache_dir, template, faces, k_eig = job
    OperatorCache(cache_dir).get_or_compute(template, faces, k_eig)


class SequenceDataset(Dataset):
    """Talking sequences as training samples (dicts), each with its template's operators.

    Sample keys: audio (N,) float32 at 16 kHz · frames (T, V, 3) · template (V, 3) ·
    ops `SurfaceOperators` · lip_vertices / upper_vertices (L,) int64 or None · subject, name,
    dataset, fps · for a random training window of a longer clip, window (start frame, stop
    frame, the clip's frame count, the clip's whole audio (N_all,)) · for emotional data,
    emotion () int64 and intensity () float32 · and with `unregistered_points`, target_points
    (T, N, 3): each target frame as a raw 4D scan would give it, N points drawn afresh on its
    surface, in no correspondence with the template's vertices (`surface_points`), and for a
    mesh target_normals (T, N, 3), their unit normals.
    """

    def __init__(
        self,
        records: list[Any],
        cache_dir: str,
        k_eig: int,
        max_frames: int | None = None,
        unregistered_points: int | None = None,
    ) -> None:
        self.records = records
        self.cache_dir = cache_dir
        self.k_eig = k_eig
        self.max_frames = max_frames
        self.unregistered_points = unregistered_points
        self._ops: dict[tuple[bytes, bytes], SurfaceOperators] = {}

    def __len__(self) -> int:
        return len(self.records)

    def operators(self, template: np.ndarray, faces: np.ndarray | None) -> SurfaceOperators:
        key = _template_key(template, faces)
        if key not in self._ops:
            self._ops[key] = OperatorCache(self.cache_dir).get_or_compute(template, faces, self.k_eig)
        return self._ops[key]

    def __getitem__(self, index: int) -> dict[str, Any]:
        seq = _materialise(self.records[index])
        frames, audio = np.asarray(seq.frames, dtype=np.float32), np.asarray(seq.audio, dtype=np.float32)
        if seq.sample_rate != SAMPLE_RATE:
            raise DatasetError(f"sequence {seq.subject}/{seq.name}: audio at {seq.sample_rate} Hz, expected 16000")
        window = None
        if self.max_frames is not None and frames.shape[0] > self.max_frames:
            # A random window keeps long sequences cheap; audio is cut at the same instants. torch's
            # generator is seeded per DataLoader worker (base seed + worker id; Lightning's
            # `seed_everything(workers=True)` derives it from the run seed), so workers draw
            # different windows, unlike one generator built here and copied into every worker.
            start = int(torch.randint(0, frames.shape[0] - self.max_frames + 1, ()).item())
            stop = start + self.max_frames
            # The whole clip stays too: a model can hear all of it, as at inference, and decode
            # only the window's frames (`window`: start, stop, the clip's frame count).
            window = (start, stop, frames.shape[0], torch.from_numpy(np.ascontiguousarray(audio)))
            audio = audio[int(start * SAMPLE_RATE / seq.fps) : int(stop * SAMPLE_RATE / seq.fps)]
            frames = frames[start:stop]
        sample: dict[str, Any] = {
            "audio": torch.from_numpy(np.ascontiguousarray(audio)),
            "frames": torch.from_numpy(np.ascontiguousarray(frames)),
            "template": torch.from_numpy(np.asarray(seq.template, dtype=np.float32)),
            "ops": self.operators(seq.template, seq.faces),
            "lip_vertices": None if seq.lip_vertices is None else torch.as_tensor(seq.lip_vertices, dtype=torch.long),
            "upper_vertices": None if seq.upper_vertices is None else torch.as_tensor(seq.upper_vertices, dtype=torch.long),
            "subject": seq.subject,
            "name": seq.name,
            "dataset": getattr(seq, "dataset", ""),
            "fps": float(seq.fps),
        }
        if window is not None:
            sample["window"] = window
        if self.unregistered_points:
            from scantalk.training.unregistered import surface_points

            faces = None if seq.faces is None else torch.as_tensor(np.asarray(seq.faces), dtype=torch.long)
            sample["target_points"], normals = surface_points(sample["frames"], faces, self.unregistered_points,
                                                              normals=True)
            if faces is not None:
                sample["target_normals"] = normals
        if getattr(seq, "emotion", None) is not None:
            sample["emotion"] = torch.tensor(int(seq.emotion), dtype=torch.long)
            sample["intensity"] = torch.tensor(float(seq.intensity), dtype=torch.float32)
        return sample


def _single(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0]


class TalkingHeadDataModule(L.LightningDataModule):
    """Several datasets at once, mixed in one loader (the ScanTalk multi-topology recipe).

    Args:
        datasets: one dict per dataset: ``root`` (folder), optional ``layout`` ("auto", or
            "emovoca" for emotional data written by `scantalk emovoca build`),
            ``dataset`` ("auto" | "vocaset" | "biwi" | "multiface" | "talking"),
            ``train_split`` / ``val_split`` / ``test_split`` / ``predict_split`` (defaults
            "train" / "val" / "test" / "test"; null leaves the dataset out of that stage), and any reader option (``fps``, ``lip_mask``,
            ``upper_mask``, ``frame_step``...). ``talking_set: {...}`` writes the procedural
            talking set into ``root`` on first use (its value: keyword arguments of
            `scantalk.synthesis.talking_set.generate_talking_set`); ``root`` may then be omitted (a
            folder in the user cache).
        cache_dir: operator cache folder (default: the per-user cache).
        k_eig: eigenpairs per template (must match the model's k_eig).
        max_train_frames: random training windows of at most this many frames (None: whole).
        num_workers: DataLoader worker processes (also used for the operator precompute).
        unregistered_points: give every sample `target_points` (T, N, 3), each target frame as
            N points drawn afresh on its surface: registered data seen as unregistered 4D scans,
            for `ScanTalkModule(targets="unregistered")` (None: registered targets only).
    """

    def __init__(
        self,
        datasets: list[dict[str, Any]],
        cache_dir: str | None = None,
        k_eig: int = 128,
        max_train_frames: int | None = None,
        num_workers: int = 0,
        unregistered_points: int | None = None,
    ) -> None:
        super().__init__()
        if not datasets:
            raise DatasetError("TalkingHeadDataModule needs at least one entry in `datasets`")
        self.dataset_specs = [dict(spec) for spec in datasets]
        for spec in self.dataset_specs:
            if "procedural" in spec:
                raise DatasetError(f"dataset entry {spec}: the `procedural` generator was replaced by the talking "
                                   "set; write `talking_set: {identities: 8, sentences: 6}` instead (keyword "
                                   "arguments of scantalk.synthesis.talking_set.generate_talking_set)")
        self.cache_dir = str(cache_dir or default_cache_dir())
        self.k_eig = k_eig
        self.max_train_frames = max_train_frames
        self.num_workers = num_workers
        if unregistered_points is not None and unregistered_points < 1:
            raise DatasetError(f"unregistered_points must be at least 1 (or null), got {unregistered_points}")
        self.unregistered_points = unregistered_points
        self._splits: dict[str, list[Any]] = {}

    def prepare_data(self) -> None:
        for spec in self.dataset_specs:
            if spec.get("talking_set") is not None:
                from scantalk.synthesis.talking_set import generate_talking_set

                generate_talking_set(self._root(spec), **dict(spec["talking_set"] or {}))

    @staticmethod
    def _root(spec: dict[str, Any]) -> Path:
        if spec.get("root"):
            return Path(os.path.expanduser(str(spec["root"])))
        if spec.get("talking_set") is not None:
            return default_data_dir() / "talking"
        raise DatasetError(f"dataset entry {spec} has no `root` folder")

    def records(self, stage: str) -> list[Any]:
        """Every record of the split used for `stage` ("train", "val", "test", "predict")."""
        if stage not in self._splits:
            found: list[Any] = []
            for spec in self.dataset_specs:
                key = f"{stage}_split"
                if key in spec and spec[key] is None:
                    continue  # this dataset takes no part in that stage
                split = spec.get(key, "test" if stage == "predict" else stage)
                options = {k: v for k, v in spec.items() if k not in _SPEC_KEYS}
                found.extend(load_dataset(self._root(spec), layout=spec.get("layout", "auto"), split=split, **options))
            self._splits[stage] = found
        return self._splits[stage]

    def setup(self, stage: str | None = None) -> None:
        stages = {"fit": ["train", "val"], "validate": ["val"], "test": ["test"], "predict": ["predict"]}
        jobs: dict[tuple[bytes, bytes], tuple[str, np.ndarray, np.ndarray | None, int]] = {}
        for name in stages.get(stage or "fit", ["train", "val"]):
            for record in self.records(name):
                template, faces = record.template, record.faces
                jobs.setdefault(_template_key(template, faces), (self.cache_dir, template, faces, self.k_eig))
        cache = OperatorCache(self.cache_dir)
        missing = [job for job in jobs.values() if not cache.contains(job[1], job[2], job[3])]
        if not missing:
            return
        workers = max(1, min(len(missing), self.num_workers or 1, os.cpu_count() or 1))
        bar = tqdm(total=len(missing), desc=f"operators → {self.cache_dir}", unit="template")
        if workers == 1:
            for job in missing:
                _precompute(job)
                bar.update()
        else:
            with ProcessPoolExecutor(workers) as pool:
                for _ in pool.map(_precompute, missing):
                    bar.update()
        bar.close()

    def _loader(self, stage: str, shuffle: bool) -> DataLoader:
        dataset = SequenceDataset(
            self.records(stage), self.cache_dir, self.k_eig,
            max_frames=self.max_train_frames if stage == "train" else None,
            unregistered_points=self.unregistered_points,
        )
        return DataLoader(
            dataset, batch_size=1, shuffle=shuffle, collate_fn=_single, num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", shuffle=False)


_SPEC_KEYS = {"root", "layout", "talking_set", "train_split", "val_split", "test_split", "predict_split"}
