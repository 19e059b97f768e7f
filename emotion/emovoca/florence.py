"""Expression sets laid out like Florence 4D as EmoVOCA uses it: one neutral and one mesh per expression.

Accepted layouts (meshes .ply or .obj, any topology, one topology per identity):

    root/<identity>/neutral.ply            root/<identity>/<Expression>.ply      (ours:
                                                                                  `write_facs_expressions`)
    root/<identity>/<Expression>.ply  +  root/<identity>.ply or neutral_dir/<identity>.ply
                                           (EmoVOCA's release: New_Conditions/COMA_CH01/Afraid_30.ply
                                            with the neutral Florence4D/COMA_CH01.ply)

Expression file names map to labels case-insensitively after dropping a "_<frame>" suffix and
trailing digits ("Sad1", "Afraid_30"), with EmoVOCA's names accepted as aliases (Irritated →
angry, Smile → happy). Files naming no known emotion are skipped with a warning.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scantalk.datasets.processed import read_template_file
from scantalk.emotions import EMOTIONS, emotion_label
from scantalk.errors import DatasetError
from scantalk.geometry.mesh import save_arrays

MESH_SUFFIXES = (".ply", ".obj")
NEUTRAL_NAMES = ("neutral", "template")
LABEL_ALIASES: dict[str, str] = {
    "irritated": "angry", "anger": "angry", "smile": "happy", "happiness": "happy", "fear": "afraid",
    "disgusted": "disgust", "sadness": "sad",
}


@dataclass
class ExpressionSample:
    """One captured expression of one identity.

    neutral, expression (V, 3) float32 metres in the file's vertex order; faces (F, 3) int64 or
    None; label: an `EMOTIONS` name; source: the expression file.
    """

    identity: str
    label: str
    neutral: np.ndarray
    expression: np.ndarray
    faces: np.ndarray | None
    source: str

    @property
    def displacement(self) -> np.ndarray:
        """(V, 3) metres: expression − neutral."""
        return self.expression - self.neutral


def label_from_filename(stem: str) -> str | None:
    """The `EMOTIONS` label a file stem names ("Sad1" → "sad", "Irritated1_30" → "angry"), or None."""
    name = re.sub(r"_\d+$", "", stem.strip())
    name = re.sub(r"\d+$", "", name).lower()
    name = LABEL_ALIASES.get(name, name)
    return name if name in EMOTIONS else None


def _mesh_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MESH_SUFFIXES)


def _find_neutral(folder: Path, root: Path, neutral_dir: Path | None) -> Path | None:
    for path in _mesh_files(folder):
        if path.stem.lower() in NEUTRAL_NAMES:
            return path
    for base in ([neutral_dir] if neutral_dir is not None else []) + [root]:
        for suffix in MESH_SUFFIXES:
            candidate = base / f"{folder.name}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def read_expressions(
    root: str | Path, labels: Sequence[str] | None = None, neutral_dir: str | Path | None = None,
) -> list[ExpressionSample]:
    """Every (identity, expression) of an expression set, sorted by identity then label order.

    labels: keep only these (unknown names raise, listing the known ones). neutral_dir: where
    `<identity>.ply` neutrals live when they are not inside the identity folders.
    Raises `DatasetError` for a missing folder, an identity without a neutral, an expression
    whose vertex count differs from its neutral, or when no expression is found.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: expression folder does not exist; pass a folder with one sub-folder per identity")
    wanted = None if labels is None else {emotion_label(label) for label in labels}
    neutral_base = None if neutral_dir is None else Path(neutral_dir).expanduser()
    samples: list[ExpressionSample] = []
    skipped: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = [p for p in _mesh_files(folder) if p.stem.lower() not in NEUTRAL_NAMES]
        if not files:
            continue
        neutral_path = _find_neutral(folder, root, neutral_base)
        if neutral_path is None:
            raise DatasetError(
                f"{folder}: no neutral mesh for identity '{folder.name}'; put neutral.ply in the folder, "
                f"{folder.name}.ply beside it, or pass neutral_dir"
            )
        neutral, faces = read_template_file(neutral_path)
        for path in files:
            label = label_from_filename(path.stem)
            if label is None:
                skipped.append(path.name)
                continue
            if wanted is not None and label not in wanted:
                continue
            expression, _ = read_template_file(path)
            if expression.shape != neutral.shape:
                raise DatasetError(
                    f"{path}: {expression.shape[0]} vertices, but the neutral {neutral_path} has {neutral.shape[0]}; "
                    "an expression and its neutral must share one topology and vertex order"
                )
            samples.append(ExpressionSample(folder.name, label, neutral, expression, faces, str(path)))
    if skipped:
        warnings.warn(f"{root}: skipped {len(skipped)} meshes naming no known emotion (e.g. {skipped[:4]}; "
                      f"known: {', '.join(EMOTIONS)})", stacklevel=2)
    if not samples:
        raise DatasetError(f"{root}: no expression meshes found (expected <identity>/<Expression>.ply|.obj "
                           f"with labels among {', '.join(EMOTIONS)})")
    samples.sort(key=lambda s: (s.identity, EMOTIONS.index(s.label)))
    return samples


def write_facs_expressions(
    out_dir: str | Path,
    seeds: Sequence[int],
    resolution: float = 0.007,
    names: Sequence[str] | None = None,
    labels: Sequence[str] = EMOTIONS,
) -> Path:
    """FACS expressions (`emotion.facs.action_units`) on anatomical heads, in the Florence-like layout.

    For each seed: `<out>/<name>/neutral.ply` and `<Label>.ply` at full intensity, on
    `procedural_head(seed, resolution)`, each person with their own unit strengths and per-emotion
    jitter (seeded by the head's seed), so the set is the same on every machine.

    Args:
        out_dir: the folder to write.
        seeds: identity seeds of `scantalk.synthesis.heads.procedural.procedural_head`.
        resolution: its meshing spacing in metres.
        names: identity folder names (default "facs<seed>"); name them after the subjects of a
            talking set built on the same heads, and `scantalk emovoca build` pairs them directly.
        labels: the emotions to write.
    """
    from emotion.facs.action_units import action_unit_basis
    from emotion.facs.emotions import emotion_expression
    from scantalk.synthesis.heads.procedural import procedural_head

    out = Path(out_dir).expanduser()
    names = list(names) if names is not None else [f"facs{int(seed)}" for seed in seeds]
    if len(names) != len(seeds):
        raise DatasetError(f"write_facs_expressions got {len(seeds)} seeds but {len(names)} names")
    for seed, name in zip(seeds, names):
        head = procedural_head(int(seed), resolution=resolution)
        rng = np.random.default_rng([int(seed), 11])
        basis = action_unit_basis(head, variation=rng)
        save_arrays(out / name / "neutral.ply", head.verts, head.faces)
        for label in labels:
            moved = head.verts + emotion_expression(head, label, 1.0, basis=basis, rng=rng)
            save_arrays(out / name / f"{label.capitalize()}.ply", moved, head.faces)
    return out
