"""`load_dataset`: one call for any supported dataset folder, with the field's standard splits.

Layouts: "vocaset_raw" (`data_verts.npy` + pickles, see `scantalk.datasets.vocaset`),
"processed" (`wav/` + `vertices_npy/`, see `scantalk.datasets.processed`), and any layout a plugin
registers (`scantalk.plugins`, e.g. "emovoca" from the `emotion` package). Dataset kinds
("vocaset", "biwi", "multiface", or any other name such as "talking") set the default fps,
frame step and standard subject splits. A folder may also carry:

    splits.json     {split name: [subject, ...]} — used instead of the standard splits, and may
                    name extra splits (e.g. "test_unseen_meshing")
    dataset.json    {"dataset": kind, "fps": float, "frame_step": int} — defaults for that folder
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from scantalk.datasets.processed import read_processed, read_templates
from scantalk.datasets.sequence import SequenceRef
from scantalk.datasets.vocaset import CAPTURE_FPS, read_vocaset_raw
from scantalk.errors import DatasetError
from scantalk.plugins import plugin_layouts, resolve

LAYOUTS = ("vocaset_raw", "processed")

_VOCASET_IDS = {
    "train": ["170728_03272", "170904_00128", "170725_00137", "170915_00223",
              "170811_03274", "170913_03279", "170904_03276", "170912_03278"],
    "val": ["170811_03275", "170908_03277"],
    "test": ["170809_00138", "170731_00024"],
}
STANDARD_SPLITS: dict[str, dict[str, list[str]]] = {
    "vocaset": {split: [f"FaceTalk_{i}_TA" for i in ids] for split, ids in _VOCASET_IDS.items()},
    "biwi": {
        "train": ["F1", "F2", "F3", "F4", "F5", "F6", "M1", "M2", "M3", "M4"],
        "val": ["F7", "M5"],
        "test": ["F8", "M6"],
    },
    "multiface": {
        "train": ["20171024", "20180226", "20180227", "20180406", "20180418",
                  "20180426", "20180510", "20180927", "20190529"],
        "val": ["20190828", "20190521"],
        "test": ["20181017", "20180105"],
    },
}
"""Subject splits of ScanTalk's experiments (VOCASET as FaceFormer; BIWI-6; Multiface dates)."""

# fps of the returned frames and the step over stored frames, per dataset kind. FaceFormer's
# processed VOCASET files keep the 60 fps capture (it subsamples by 2); the raw reader always
# starts from 60 fps.
DATASET_DEFAULTS: dict[str, dict[str, float]] = {
    "vocaset": {"fps": 30.0, "frame_step": 2},
    "biwi": {"fps": 25.0, "frame_step": 1},
    "multiface": {"fps": 30.0, "frame_step": 1},
}
OTHER_DEFAULTS = {"fps": 30.0, "frame_step": 1}
_VERTEX_COUNTS = {5023: "vocaset", 3895: "biwi", 5471: "multiface"}


def detect_layout(root: str | Path) -> str:
    """"vocaset_raw" or "processed" from the files in `root`; DatasetError listing what is there."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: dataset folder does not exist")
    if not root.is_dir():
        raise DatasetError(f"{root}: is a file; pass the dataset folder")
    if (root / "data_verts.npy").is_file():
        return "vocaset_raw"
    if (root / "wav").is_dir() and (root / "vertices_npy").is_dir():
        return "processed"
    found = sorted(path.name + ("/" if path.is_dir() else "") for path in root.iterdir())
    raise DatasetError(
        f"{root}: not a dataset folder I know (found {found[:12] or 'nothing'}). Expected either raw "
        "VOCASET (data_verts.npy, subj_seq_to_idx.pkl, raw_audio_fixed.pkl, templates.pkl) or the "
        "processed layout (wav/, vertices_npy/, templates.pkl or templates/)"
    )


def guess_dataset_kind(subjects: list[str], num_vertices: int | None = None) -> str:
    """"vocaset" / "biwi" / "multiface" from subject names (or the vertex count), else "custom"."""
    if subjects and all(subject.startswith("FaceTalk_") for subject in subjects):
        return "vocaset"
    if subjects and all(re.fullmatch(r"[FM]\d+", subject) for subject in subjects):
        return "biwi"
    dates = {date for ids in STANDARD_SPLITS["multiface"].values() for date in ids}
    if subjects and all(any(_has_token(subject, date) for date in dates) for subject in subjects):
        return "multiface"
    return _VERTEX_COUNTS.get(num_vertices or -1, "custom")


def subject_in(subject: str, listed: list[str], kind: str) -> bool:
    """Whether `subject` is one of `listed` (Multiface: the date appears as a token of the name)."""
    if kind == "multiface":
        return any(_has_token(subject, date) for date in listed)
    return subject in listed


def _has_token(name: str, token: str) -> bool:
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(token)}(?![0-9])", name) is not None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (ValueError, OSError) as error:
        raise DatasetError(f"{path}: not valid JSON ({error})") from error


def load_dataset(
    root: str | Path,
    layout: str = "auto",
    split: str | None = None,
    dataset: str = "auto",
    fps: float | None = None,
    frame_step: int | None = None,
    template_mesh: str | Path | None = None,
    lip_mask: str | Path | None = None,
    upper_mask: str | Path | None = None,
) -> list[SequenceRef]:
    """Every sequence of a dataset folder (or of one split) as lazy `SequenceRef`s.

    Cheap: reads templates, masks, index pickles and `.npy` headers only; call `ref.load()` for a
    `TalkingSequence`. layout: "auto" | "vocaset_raw" | "processed" | a plugin layout (read by the
    plugin's reader with `split` and `fps`; the other options do not apply). split: None (all),
    "train" / "val" / "test" (splits.json at the root if present, else `STANDARD_SPLITS` of the
    dataset kind), or any other name splits.json defines. dataset: "auto" (from dataset.json or
    subject names) or a kind. fps / frame_step: see `DATASET_DEFAULTS` (processed layout; the
    raw layout is 60 fps / frame_step). template_mesh: faces for templates stored without them.
    lip_mask / upper_mask: index files for every subject (see `scantalk.datasets.masks`).
    """
    root = Path(root).expanduser()
    if layout == "auto":
        layout = detect_layout(root)
    elif layout not in LAYOUTS:
        readers = plugin_layouts()
        if layout not in readers:
            raise DatasetError(f"unknown layout '{layout}'; expected 'auto' or one of {[*LAYOUTS, *readers]}")
        unused = {name: value for name, value in (("frame_step", frame_step), ("template_mesh", template_mesh),
                                                  ("lip_mask", lip_mask), ("upper_mask", upper_mask)) if value is not None}
        if unused:
            raise DatasetError(f"{root}: layout '{layout}' does not take {sorted(unused)}; remove them from the dataset entry")
        return list(resolve(readers[layout])(root, split=split, fps=fps))
    elif not root.is_dir():
        raise DatasetError(f"{root}: dataset folder does not exist")
    meta_path = root / "dataset.json"
    meta = _read_json(meta_path) if meta_path.is_file() else {}
    if not isinstance(meta, dict):
        raise DatasetError(f"{meta_path}: expected a JSON object with keys dataset / fps / frame_step")
    if dataset == "auto":
        dataset = str(meta.get("dataset", "auto"))

    if layout == "vocaset_raw":
        step = int(frame_step if frame_step is not None else meta.get("frame_step", 2))
        if fps is not None and frame_step is None:
            step = int(round(CAPTURE_FPS / fps))
        if fps is not None and abs(CAPTURE_FPS / step - fps) > 1e-6:
            raise DatasetError(f"{root}: raw VOCASET is captured at 60 fps; fps={fps} is not 60 / an integer step")
        refs: list[SequenceRef] = list(read_vocaset_raw(root, step, template_mesh, lip_mask, upper_mask))
        kind = "vocaset" if dataset == "auto" else dataset
    else:
        templates = read_templates(root)
        if dataset == "auto":
            counts = {verts.shape[0] for verts, _ in templates.values()}
            dataset = guess_dataset_kind(sorted(templates), counts.pop() if len(counts) == 1 else None)
        defaults = {**DATASET_DEFAULTS.get(dataset, OTHER_DEFAULTS), **meta}
        refs = list(read_processed(
            root, dataset=dataset,
            fps=float(fps if fps is not None else defaults["fps"]),
            frame_step=int(frame_step if frame_step is not None else defaults["frame_step"]),
            template_mesh=template_mesh, lip_mask=lip_mask, upper_mask=upper_mask, templates=templates,
        ))
        kind = dataset
    if split is None:
        return refs
    return select_split(refs, split, kind, root)


def select_split(refs: list[SequenceRef], split: str, kind: str, root: Path) -> list[SequenceRef]:
    """The refs whose subject belongs to `split` (splits.json in `root`, else `STANDARD_SPLITS[kind]`)."""
    splits_path = root / "splits.json"
    if splits_path.is_file():
        splits = _read_json(splits_path)
        if not isinstance(splits, dict) or not all(isinstance(v, list) for v in splits.values()):
            raise DatasetError(f"{splits_path}: expected {{split name: [subject, ...]}}")
        source = str(splits_path)
    elif kind in STANDARD_SPLITS:
        splits, source = STANDARD_SPLITS[kind], f"the standard {kind} splits"
    else:
        raise DatasetError(
            f"{root}: no splits.json and no standard splits for dataset kind '{kind}'; write "
            f"{splits_path} as {{\"train\": [subjects], \"val\": [...], \"test\": [...]}} or pass "
            "split=None (`--split all` for `scantalk evaluate`)"
        )
    if split not in splits:
        raise DatasetError(f"split '{split}' is not in {source}; available: {sorted(splits)}")
    listed = [str(subject) for subject in splits[split]]
    chosen = [ref for ref in refs if subject_in(ref.subject, listed, kind)]
    if not chosen:
        present = sorted({ref.subject for ref in refs})
        raise DatasetError(
            f"{root}: split '{split}' of {source} lists {listed[:6]}, none of which is in this dataset "
            f"(subjects here: {present[:8]})"
        )
    return chosen
