"""`generate_dataset`: the procedural talking-head dataset in the processed (FaceFormer) layout.

    out_dir/wav/<subject>_<seq>.wav            16 kHz PCM16 speech
    out_dir/vertices_npy/<subject>_<seq>.npy   (T, V, 3) float32 metres at 30 fps
    out_dir/templates/<subject>.ply            neutral mesh with faces (binary PLY)
    out_dir/masks/<subject>_lip.npy            (L,) int64 lip vertices   (LVE)
    out_dir/masks/<subject>_upper.npy          (U,) int64 upper face     (FDD)
    out_dir/splits.json                        subject names per split ("test": both test splits)
    out_dir/dataset.json                       {"dataset": "procedural", "fps": 30, "frame_step": 1}
    out_dir/meta.json                          parameters, identities, meshings; written last

Subjects are "id<NN>_<meshing>"; sequences "s000", "s001"... Training identities appear in
several seen meshings; validation and test identities are held out; "test_unseen_meshing"
holds the test identities meshed with a meshing no training subject uses. Every meshing of
one identity speaks the same clips, so seen/unseen-meshing results compare like for like.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from tqdm import tqdm

from scantalk.atomic import atomic_path, atomic_save_npy, atomic_write_text
from scantalk.data.synth.heads import MESHINGS, HeadMesh, build_head, sample_identity
from scantalk.data.synth.motion import ARTICULATION_CHANNELS, displacements, lip_vertices, motion_basis, upper_face_vertices
from scantalk.data.synth.speech import SAMPLE_RATE, Utterance, sample_voice, synth_utterance
from scantalk.errors import DatasetError, OutputExistsError
from scantalk.geometry import formats

GENERATOR_VERSION = "1"
"""Bumped whenever the same parameters would produce different files."""

FPS = 30.0
# Written before the first file: a folder of ours that an interrupted run left without meta.json
# (regenerated), told apart from somebody's own dataset in the same layout (never touched).
STARTED_MARKER = ".scantalk-synth"
LAYOUT_ENTRIES = ("wav", "vertices_npy", "templates", "masks", "splits.json", "dataset.json", "meta.json",
                  STARTED_MARKER)


def child_seed(seed: int, *keys: int) -> int:
    """A well-mixed 32-bit seed for one part (identity, clip...) of a dataset seeded by `seed`."""
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0])


def write_ply(path: str | Path, verts: np.ndarray, faces: np.ndarray) -> None:
    """Binary little-endian PLY (float32 xyz, int32 triangles) that open3d and trimesh read, atomically."""
    with atomic_path(path) as tmp:
        formats.write_ply(tmp, np.asarray(verts), np.asarray(faces), dtype="<f4")


def _write_wav(path: Path, audio: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        soundfile.write(tmp, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")


def plan_subjects(params: dict[str, Any]) -> list[dict[str, Any]]:
    """One dict per subject: name, identity index and seed, meshing and split."""
    seen = list(params["train_meshings"])
    n_train, n_val, n_test = (params[k] for k in ("num_train_identities", "num_val_identities", "num_test_identities"))
    subjects = []

    def add(index: int, meshing: str, split: str) -> None:
        subjects.append({"name": f"id{index:02d}_{meshing}", "identity_index": index,
                         "identity_seed": child_seed(params["seed"], 1, index), "meshing": meshing, "split": split})

    for i in range(n_train):
        for k in range(min(params["meshings_per_train_identity"], len(seen))):
            add(i, seen[(i + k) % len(seen)], "train")
    for j in range(n_val):
        add(n_train + j, seen[j % len(seen)], "val")
    for j in range(n_test):
        add(n_train + n_val + j, seen[j % len(seen)], "test_seen_meshing")
        add(n_train + n_val + j, params["unseen_meshing"], "test_unseen_meshing")
    return subjects


def _clips(params: dict[str, Any], identity_index: int, identity_seed: int) -> list[tuple[str, int, Utterance]]:
    """(sequence name, speech seed, utterance) for every clip of one identity."""
    low, high = params["seconds"]
    voice = sample_voice(identity_seed)
    clips = []
    for s in range(params["sequences_per_subject"]):
        speech_seed = child_seed(params["seed"], 2, identity_index, s)
        seconds = float(np.random.default_rng(speech_seed).uniform(low, high))
        clips.append((f"s{s:03d}", speech_seed, synth_utterance(speech_seed, seconds, FPS, voice)))
    return clips


def _is_complete(out: Path, params: dict[str, Any]) -> bool:
    try:
        meta = json.loads((out / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    if meta.get("params") != params:
        return False
    for name, subject in meta.get("subjects", {}).items():
        for seq in subject.get("sequences", {}):
            if not (out / "vertices_npy" / f"{name}_{seq}.npy").is_file() or not (out / "wav" / f"{name}_{seq}.wav").is_file():
                return False
    return True


def _clear_layout(out: Path) -> None:
    """Remove the dataset's own entries (meta.json first: from then on it reads as incomplete)."""
    for entry in ("meta.json",) + LAYOUT_ENTRIES:
        path = out / entry
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _prepare_folder(out: Path, params: dict[str, Any], overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} is a file; give `generate_dataset` a folder to write the dataset into")
    if not out.exists():
        return
    has_meta = (out / "meta.json").is_file()
    foreign = [p.name for p in out.iterdir() if p.name not in LAYOUT_ENTRIES and not p.name.startswith(".")]
    layout = [p.name for p in out.iterdir() if p.name in LAYOUT_ENTRIES and p.name not in ("meta.json", STARTED_MARKER)]
    if layout and not has_meta and not (out / STARTED_MARKER).is_file():
        # wav/, vertices_npy/, templates/ without our meta.json: somebody's own dataset in the same
        # layout. Nothing the user did not create with this tool is ever deleted, overwrite or not.
        raise OutputExistsError(f"{out} holds a dataset this tool did not write ({', '.join(sorted(layout))}); "
                                "choose another folder for the procedural dataset")
    if not overwrite:
        if has_meta:
            try:
                old_params = json.loads((out / "meta.json").read_text()).get("params")
            except ValueError:
                old_params = None
            if old_params is not None and old_params != params:
                raise OutputExistsError(
                    f"{out} holds a procedural dataset made with other parameters ({old_params}); "
                    "pass overwrite=True (scantalk synth --overwrite) or choose another folder"
                )
        elif foreign:
            raise OutputExistsError(
                f"{out} is not empty and is not a procedural dataset (found {', '.join(sorted(foreign)[:5])}); "
                "choose an empty folder or pass overwrite=True (scantalk synth --overwrite)"
            )
    _clear_layout(out)


def generate_dataset(
    out_dir: str | Path,
    num_train_identities: int = 8,
    num_val_identities: int = 2,
    num_test_identities: int = 3,
    sequences_per_subject: int = 6,
    seconds: tuple[float, float] = (3.0, 5.0),
    train_meshings: tuple[str, ...] = ("uv_coarse", "icosphere", "dense"),
    meshings_per_train_identity: int = 2,
    unseen_meshing: str = "irregular",
    seed: int = 0,
    overwrite: bool = False,
    verbose: bool = True,
) -> Path:
    """Write the procedural dataset to `out_dir` (see the module docstring) and return its path.

    A folder already holding a complete dataset made with the same parameters is returned at
    once (so this doubles as "generate on first use"); an interrupted one (no meta.json) is
    regenerated; overwrite=True regenerates in any case and replaces a dataset made with other
    parameters (files that are not part of the dataset are left alone). seconds: (min, max) clip length; train_meshings: meshings training subjects
    use, each training identity in `meshings_per_train_identity` of them; unseen_meshing: the
    test-only meshing. Same arguments → byte-identical files.
    """
    out = Path(out_dir).expanduser()
    for name in (*train_meshings, unseen_meshing):
        if name not in MESHINGS:
            raise DatasetError(f"unknown meshing '{name}' for the procedural dataset; choose from {', '.join(MESHINGS)}")
    if unseen_meshing in train_meshings:
        raise DatasetError(f"the unseen meshing '{unseen_meshing}' must not be one of the training meshings {train_meshings}")
    if num_train_identities < 1 or sequences_per_subject < 1 or min(seconds) < 1.0 or seconds[0] > seconds[1]:
        raise DatasetError("the procedural dataset needs ≥ 1 training identity, ≥ 1 sequence and clips of ≥ 1 s (min ≤ max)")
    params: dict[str, Any] = json.loads(json.dumps({
        "generator_version": GENERATOR_VERSION, "seed": int(seed),
        "num_train_identities": int(num_train_identities), "num_val_identities": int(num_val_identities),
        "num_test_identities": int(num_test_identities), "sequences_per_subject": int(sequences_per_subject),
        "seconds": [float(seconds[0]), float(seconds[1])], "train_meshings": list(train_meshings),
        "meshings_per_train_identity": int(meshings_per_train_identity), "unseen_meshing": unseen_meshing,
        "fps": FPS, "sample_rate": SAMPLE_RATE,
    }))
    if not overwrite and _is_complete(out, params):
        return out
    _prepare_folder(out, params, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    (out / STARTED_MARKER).write_text("written by scantalk's procedural dataset generator\n")

    started = time.perf_counter()
    subjects = plan_subjects(params)
    clips_by_identity: dict[int, list[tuple[str, int, Utterance]]] = {}
    meta_subjects: dict[str, Any] = {}
    bar = tqdm(total=len(subjects) * sequences_per_subject, desc=f"synth → {out}", unit="seq", disable=not verbose)
    for subject in subjects:
        index, name = subject["identity_index"], subject["name"]
        identity = sample_identity(subject["identity_seed"])
        head: HeadMesh = build_head(identity, subject["meshing"], seed=subject["identity_seed"])
        write_ply(out / "templates" / f"{name}.ply", head.verts, head.faces)
        atomic_save_npy(out / "masks" / f"{name}_lip.npy", lip_vertices(identity, head.param))
        atomic_save_npy(out / "masks" / f"{name}_upper.npy", upper_face_vertices(identity, head.param))
        basis = motion_basis(identity, head.param)
        if index not in clips_by_identity:
            clips_by_identity[index] = _clips(params, index, subject["identity_seed"])
        sequences = {}
        for seq, speech_seed, clip in clips_by_identity[index]:
            frames = (head.verts[None] + displacements(basis, clip.articulation)).astype(np.float32)
            atomic_save_npy(out / "vertices_npy" / f"{name}_{seq}.npy", frames)
            _write_wav(out / "wav" / f"{name}_{seq}.wav", clip.audio)
            sequences[seq] = {"frames": int(len(frames)), "seconds": len(frames) / FPS, "speech_seed": speech_seed}
            bar.update()
        meta_subjects[name] = {**subject, "identity": identity.to_dict(), "voice": vars(clips_by_identity[index][0][2].voice),
                               "num_vertices": int(len(head.verts)), "num_faces": int(len(head.faces)), "sequences": sequences}
    bar.close()

    splits = {split: [s["name"] for s in subjects if s["split"] == split]
              for split in ("train", "val", "test_seen_meshing", "test_unseen_meshing")}
    # "test" is what loaders ask for by default: every held-out subject, both meshing kinds.
    splits["test"] = splits["test_seen_meshing"] + splits["test_unseen_meshing"]
    atomic_write_text(out / "splits.json", json.dumps(splits, indent=2))
    atomic_write_text(out / "dataset.json", json.dumps({"dataset": "procedural", "fps": FPS, "frame_step": 1}))
    meta = {"generator": "scantalk.data.synth", "generator_version": GENERATOR_VERSION, "params": params,
            "fps": FPS, "sample_rate": SAMPLE_RATE, "articulation_channels": list(ARTICULATION_CHANNELS),
            "splits": splits, "subjects": meta_subjects}
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=2))  # last: the completion marker
    if verbose:
        total = sum(len(s["sequences"]) for s in meta_subjects.values())
        print(f"wrote the procedural dataset ({len(subjects)} subjects, {total} sequences) to {out} "
              f"in {time.perf_counter() - started:.1f} s")
    return out
