"""Read an EmoVOCA-layout folder (see `emotion.emovoca.layout`) back as talking-sequence records.

`read_emovoca(root, split=...)` lists lazy `EmotionalRef`s; `ref.load()` gives an
`EmotionalSequence`: a `scantalk.datasets.TalkingSequence` plus `emotion` (index into EMOTIONS),
`intensity` (low/mid/high as 1/3, 2/3, 1) and `label`. Splits follow the talking subjects
(`splits.json` copied from the talking set). Records carry the `emotion` / `intensity`
attributes that `scantalk.training.datamodule.SequenceDataset` passes to the emotion head.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scantalk.emotions import EMOTIONS, INTENSITY_LEVELS, emotion_index
from emotion.emovoca.layout import INTENSITY_NUMBERS, MANIFEST, OUTPUT_FOLDERS
from scantalk.datasets.load import select_split
from scantalk.datasets.masks import subject_masks
from scantalk.datasets.processed import ProcessedRef, read_templates, split_stem
from scantalk.datasets.sequence import TalkingSequence
from scantalk.errors import DatasetError

_LEVEL_OF_NUMBER = {number: level for level, number in INTENSITY_NUMBERS.items()}


@dataclass
class EmotionalSequence(TalkingSequence):
    """A `TalkingSequence` with emotion () int index into EMOTIONS, intensity float in [0, 1], label name."""

    emotion: int = 0
    intensity: float = 1.0
    label: str = ""


@dataclass
class EmotionalRef(ProcessedRef):
    """A lazy emotional sequence: frames `vertices_path`, audio `wav_path`, emotion and intensity."""

    emotion: int = field(default=0, kw_only=True)
    intensity: float = field(default=1.0, kw_only=True)
    label: str = field(default="", kw_only=True)

    def load(self) -> EmotionalSequence:
        sequence = super().load()
        return EmotionalSequence(**vars(sequence), emotion=self.emotion, intensity=self.intensity, label=self.label)


def _scalar(path: Path) -> np.ndarray:
    try:
        return np.asarray(np.load(path, allow_pickle=False))
    except (ValueError, OSError, EOFError) as error:
        raise DatasetError(f"{path}: unreadable .npy ({error}); rebuild the emotional dataset") from error


def _emotion_of(path: Path) -> int:
    """An index file (EmoVOCA's int) or a one-hot vector of 11 → the index."""
    value = _scalar(path)
    if value.ndim == 1 and value.shape[0] == len(EMOTIONS):
        return int(np.argmax(value))
    if value.size == 1 and 0 <= int(value.reshape(())) < len(EMOTIONS):
        return int(value.reshape(()))
    raise DatasetError(f"{path}: expected an emotion index in [0, {len(EMOTIONS) - 1}] or a one-hot vector of {len(EMOTIONS)}")


def _intensity_of(path: Path) -> float:
    """EmoVOCA's 1/2/3 → 1/3, 2/3, 1."""
    value = _scalar(path)
    number = int(value.reshape(())) if value.size == 1 else -1
    if number not in _LEVEL_OF_NUMBER:
        raise DatasetError(f"{path}: expected an intensity of 1 (low), 2 (mid) or 3 (high), got {value.tolist()}")
    return INTENSITY_LEVELS[_LEVEL_OF_NUMBER[number]]


def read_emovoca(root: str | Path, split: str | None = None, fps: float | None = None) -> list[EmotionalRef]:
    """Every emotional sequence of `root` (or of one talking-subject split), sorted by file name.

    fps: frame rate of the sequences (default: from emovoca.json, else 30).
    """
    root = Path(root).expanduser()
    for folder in OUTPUT_FOLDERS:
        if not (root / folder).is_dir():
            raise DatasetError(f"{root}: not an EmoVOCA-layout folder (no '{folder}/'); build one with `scantalk emovoca build`")
    manifest = json.loads((root / MANIFEST).read_text()) if (root / MANIFEST).is_file() else {}
    templates = read_templates(root)
    if not templates:
        raise DatasetError(f"{root}: no templates (templates/<subject>.ply or templates.pkl); rebuild the dataset")
    subjects = sorted(templates)
    refs: list[EmotionalRef] = []
    for path in sorted((root / "sequences").glob("*.npy")):
        head, _, number = path.stem.rpartition("_")
        key, _, label = head.rpartition("_")
        parts = split_stem(key, subjects)
        if parts is None or not number.isdigit():
            raise DatasetError(f"{path}: name is not <subject>_<seq>_<Label>_<1|2|3> with a known subject ({subjects[:5]})")
        subject, name = parts
        label_path, intensity_path, wav_path = (root / "label" / path.name, root / "intensity" / path.name,
                                                root / "wav" / f"{path.stem}.wav")
        for required in (label_path, intensity_path, wav_path):
            if not required.is_file():
                raise DatasetError(f"{required}: missing for {path.name}; rebuild the emotional dataset")
        emotion = _emotion_of(label_path)
        if emotion_index(label) != emotion:
            raise DatasetError(f"{path}: file name says {label!r} but {label_path} holds {EMOTIONS[emotion]!r}")
        template, faces = templates[subject]
        lips, upper = subject_masks(root, subject, template.shape[0])
        sequence_fps = float(fps if fps is not None else manifest.get("fps", {}).get(key, 30.0))
        refs.append(EmotionalRef(
            subject=subject, name=f"{name}_{label}_{number}", dataset="emovoca", fps=sequence_fps,
            template=template, faces=faces, lip_vertices=lips, upper_vertices=upper,
            vertices_path=str(path), wav_path=str(wav_path),
            emotion=emotion, intensity=_intensity_of(intensity_path), label=EMOTIONS[emotion],
        ))
    if not refs:
        raise DatasetError(f"{root}: sequences/ holds no .npy files")
    return refs if split is None else select_split(refs, split, "emovoca", root)
