"""The procedural talking set: heads saying synthetic sentences through the rig, written as 4D
datasets are shared (the processed FaceFormer layout that `scantalk.datasets.load_dataset` reads).

    root/templates/<subject>.ply          neutral face (its own meshing)
    root/vertices_npy/<subject>_sentenceNN.npy   (T, V, 3) float32 metres at 30 fps
    root/wav/<subject>_sentenceNN.wav     16 kHz speech (festival / flite voices)
    root/masks/<subject>_lip.npy, _upper.npy     lip and upper-face vertex indices
    root/splits.json, root/dataset.json   subjects per split; kind, fps, frame step

Each sentence's phone timings become an articulation track (`articulation_from_phones`, with a
speaking style drawn per sentence), and the head's rig (`rig_basis`) turns it into motion: the
ground truth is exactly what the factored default would show, on faces of any meshing. The same
configs a user points at VOCASET train on it.

`generate_talking_set(root, identities=8, ...)` writes one from new anatomical heads (what
`scantalk synth DIR` and a config's `talking_set: {...}` entry run); `write_talking_set(root,
splits, per_head)` writes one from the heads it is given (the recipes' real-face identities and
remeshings).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from scantalk.face.frame import face_frame
from scantalk.face.head import Head

TALKING_FPS = 30.0
GENERATOR = "scantalk.synthesis.talking_set"
"""`dataset.json`'s "generator" in a set `generate_talking_set` wrote."""
TALKING_ENTRIES = ("templates", "vertices_npy", "wav", "masks", "splits.json", "dataset.json")
"""Everything a talking set's folder holds."""


def subject_name(head: Head) -> str:
    """A file-safe subject name from a head's name ("procedural/1000" → "procedural_1000")."""
    return re.sub(r"[^A-Za-z0-9]+", "_", head.name).strip("_") or "head"


def upper_face(head: Head) -> np.ndarray:
    """Vertex indices (K,) of the upper face: above the eyes' centres, in front of the ears."""
    frame = face_frame(head)
    local = frame.local(head.verts)
    eyes = frame.local(np.stack([head.landmarks.eye_left, head.landmarks.eye_right]))
    front = local[:, 2] > eyes[:, 2].min() - 0.03 * frame.scale
    return np.flatnonzero((local[:, 1] > eyes[:, 1].mean()) & front).astype(np.int64)


def write_talking_set(root: str | Path, splits: dict[str, list[Head]], per_head: int, seed: int = 7,
                      styles: bool = True, voices: tuple[str, ...] | None = None,
                      about: dict | None = None) -> Path:
    """Write the talking set of `splits` (split name → heads) into `root`; returns `root`.

    Args:
        root: the dataset folder (created; a finished set, with its `splits.json`, is left as is).
        splits: e.g. {"train": [...], "val": [...]}; every head needs landmarks (the rig's).
        per_head: sentences each head says (different sentences, voices in turn).
        seed: the sentences and speaking styles drawn.
        styles: draw a speaking style per sentence (`ArticulationStyle.sample`), else the neutral one.
        voices: the voices heads speak with, in turn (default `TRAIN_VOICES`; a test set takes
            `HELD_OUT_VOICES`).
        about: more keys for `dataset.json` (who wrote the set and with what parameters).
    """
    import soundfile
    from tqdm import tqdm

    from scantalk.articulation import articulation_from_phones
    from scantalk.articulation.coarticulation import ArticulationStyle
    from scantalk.atomic import atomic_path, atomic_save_npy, atomic_write_text
    from scantalk.audio import audio_frame_count
    from scantalk.synthesis.speech import TRAIN_VOICES, synthesize_many
    from scantalk.synthesis.speech.text import sentences
    from scantalk.geometry.mesh import save_arrays
    from scantalk.rig.rig import region_masks, rig_basis, rig_inputs

    root = Path(root)
    if (root / "splits.json").is_file():
        return root
    speakers = tuple(voices or TRAIN_VOICES)
    heads = [head for members in splits.values() for head in members]
    texts = sentences(len(heads) * per_head, seed=seed)
    rng = np.random.default_rng(seed)
    names: dict[str, list[str]] = {split: [] for split in splits}
    position = 0
    for split, members in splits.items():
        for head in tqdm(members, desc=f"talking set {split} → {root}", unit="head"):
            subject = subject_name(head)
            names[split].append(subject)
            save_arrays(root / "templates" / f"{subject}.ply", head.verts, head.faces)
            atomic_save_npy(root / "masks" / f"{subject}_lip.npy", np.flatnonzero(region_masks(head)["lips"]))
            atomic_save_npy(root / "masks" / f"{subject}_upper.npy", upper_face(head))
            basis = rig_basis(head)
            voice = speakers[position % len(speakers)]
            spoken = synthesize_many(texts[position * per_head:(position + 1) * per_head], voice)
            for number, utterance in enumerate(spoken):
                count = audio_frame_count(len(utterance.samples), utterance.sample_rate, TALKING_FPS)
                style = ArticulationStyle.sample(rng) if styles else None
                track = articulation_from_phones(utterance.phones, TALKING_FPS, num_frames=count, style=style)
                frames = head.verts[None] + np.einsum("tb,vbc->tvc", rig_inputs(track.values), basis)
                stem = f"{subject}_sentence{number:02d}"
                atomic_save_npy(root / "vertices_npy" / f"{stem}.npy", frames.astype(np.float32))
                with atomic_path(root / "wav" / f"{stem}.wav") as tmp:
                    soundfile.write(tmp, utterance.samples, utterance.sample_rate, subtype="PCM_16", format="WAV")
            position += 1
    meta = {"dataset": "talking", "fps": TALKING_FPS, "frame_step": 1, **(about or {})}
    atomic_write_text(root / "dataset.json", json.dumps(meta, indent=1))
    atomic_write_text(root / "splits.json", json.dumps(names, indent=1))
    return root


def generate_talking_set(root: str | Path, identities: int = 8, val_identities: int = 2, test_identities: int = 3,
                         sentences: int = 6, resolution: float = 0.007, seed: int = 0) -> Path:
    """Write a talking set of new anatomical heads into `root` (nothing is done when one is there).

    Each identity is `procedural_head` with a seed drawn from `seed`, meshed at `resolution`
    (0.007 m: about 4.5k vertices); the held-out splits are other identities. Its `dataset.json`
    records `GENERATOR` and these parameters.

    Args:
        root: the dataset folder.
        identities, val_identities, test_identities: heads in "train", "val" and "test".
        sentences: sentences each head says.
        resolution: the heads' meshing spacing, metres.
        seed: the identities, sentences and speaking styles drawn; the same seed writes the same set.

    Returns:
        `root`.

    Raises:
        DatasetError: no training identity or no sentence; `procedural_head` refuses a spacing
            outside 0.5-10 mm.
    """
    from scantalk.synthesis.heads.procedural import procedural_head
    from scantalk.errors import DatasetError

    if identities < 1 or sentences < 1 or min(val_identities, test_identities) < 0:
        raise DatasetError(f"a talking set needs at least 1 training identity and 1 sentence per head (got "
                           f"{identities} identities, {sentences} sentences) and no negative split sizes")
    params = {"identities": int(identities), "val_identities": int(val_identities),
              "test_identities": int(test_identities), "sentences": int(sentences),
              "resolution": float(resolution), "seed": int(seed)}
    counts = {"train": identities, "val": val_identities, "test": test_identities}
    heads = [procedural_head(int(state), resolution=resolution)
             for state in np.random.SeedSequence([int(seed), 0x7A1C]).generate_state(sum(counts.values()))]
    splits, start = {}, 0
    for split, count in counts.items():
        splits[split], start = heads[start:start + count], start + count
    return write_talking_set(root, splits, sentences, seed=seed, about={"generator": GENERATOR, "params": params})


def talking_set_params(root: str | Path) -> dict | None:
    """The parameters `generate_talking_set` wrote `root` with, or None when it did not write it."""
    try:
        meta = json.loads((Path(root) / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("generator") != GENERATOR or not isinstance(meta.get("params"), dict):
        return None
    return meta["params"]
