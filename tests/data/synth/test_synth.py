"""The procedural talking-head dataset: layout, determinism, geometry, and a learnable signal."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
import soundfile
from scipy.spatial import cKDTree

from scantalk.cli import main as cli_main
from scantalk.data.synth import (
    ARTICULATION_CHANNELS,
    MESHINGS,
    REGION_NAMES,
    articulate,
    build_head,
    generate_dataset,
    make_sample_face,
    make_sample_speech,
    region_weights,
    sample_identity,
    synth_utterance,
)
from scantalk.data.synth.speech import SAMPLE_RATE, Segment, Voice, render_articulation, render_audio
from scantalk.errors import AudioError, MeshError, OutputExistsError

TINY = dict(num_train_identities=1, num_val_identities=1, num_test_identities=1,
            sequences_per_subject=1, seconds=(1.2, 1.5), verbose=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("synth") / "data", **TINY)


def _frames(root: Path, subject: str, seq: str = "s000") -> np.ndarray:
    return np.load(root / "vertices_npy" / f"{subject}_{seq}.npy")


def _template(root: Path, subject: str) -> tuple[np.ndarray, np.ndarray]:
    mesh = o3d.io.read_triangle_mesh(str(root / "templates" / f"{subject}.ply"))
    return np.asarray(mesh.vertices), np.asarray(mesh.triangles)


def test_layout_and_every_file_readable(tiny: Path) -> None:
    assert sorted(p.name for p in tiny.iterdir() if not p.name.startswith(".")) == sorted(
        ["wav", "vertices_npy", "templates", "masks", "splits.json", "dataset.json", "meta.json"])
    meta = json.loads((tiny / "meta.json").read_text())
    subjects = meta["subjects"]
    assert sorted(subjects) == sorted(p.stem for p in (tiny / "templates").glob("*.ply"))
    assert sorted(p.stem for p in (tiny / "wav").iterdir()) == sorted(f"{s}_s000" for s in subjects)
    for subject, info in subjects.items():
        assert subject == f"id{info['identity_index']:02d}_{info['meshing']}"
        verts, faces = _template(tiny, subject)
        assert verts.shape == (info["num_vertices"], 3) and faces.shape == (info["num_faces"], 3)
        frames = _frames(tiny, subject)
        assert frames.dtype == np.float32 and frames.shape[1:] == verts.shape
        audio, rate = soundfile.read(tiny / "wav" / f"{subject}_s000.wav")
        assert rate == SAMPLE_RATE and soundfile.info(tiny / "wav" / f"{subject}_s000.wav").subtype == "PCM_16"
        assert len(frames) == round(len(audio) / SAMPLE_RATE * 30) == info["sequences"]["s000"]["frames"]
        np.testing.assert_allclose(frames.mean(0), verts, atol=0.01)
        for region in ("lip", "upper"):
            mask = np.load(tiny / "masks" / f"{subject}_{region}.npy")
            assert mask.dtype == np.int64 and len(mask) >= 10 and 0 <= mask.min() and mask.max() < len(verts)
    assert json.loads((tiny / "dataset.json").read_text())["fps"] == 30


def test_same_seed_gives_identical_bytes(tiny: Path, tmp_path: Path) -> None:
    again = generate_dataset(tmp_path / "again", **TINY)
    for name in ("vertices_npy/id00_uv_coarse_s000.npy", "wav/id02_irregular_s000.wav", "templates/id01_uv_coarse.ply"):
        assert (again / name).read_bytes() == (tiny / name).read_bytes(), name
    other = synth_utterance(seed=5, seconds=2.0)
    assert not np.array_equal(synth_utterance(seed=6, seconds=2.0).articulation, other.articulation)


def _interpolate_on_sphere(query: np.ndarray, param: np.ndarray, faces: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values (T, V, 3) of a mesh over unit directions `param`, linearly interpolated at `query` (Q, 3)."""
    a, b, c = (param[faces[:, k]] for k in range(3))
    _, near = cKDTree((a + b + c) / 3.0).query(query, k=16)
    found = np.full(len(query), -1)
    weights = np.zeros((len(query), 3))
    for column in range(near.shape[1]):
        tri = near[:, column]
        corners = np.stack([a[tri], b[tri], c[tri]], axis=2)  # (Q, 3 coords, 3 corners)
        w = np.linalg.solve(corners, query[..., None])[..., 0]
        inside = (w.min(axis=1) >= -1e-9) & (found < 0)
        found[inside], weights[inside] = tri[inside], w[inside] / w[inside].sum(axis=1, keepdims=True)
    assert (found >= 0).all()
    return np.einsum("qk,tqkc->tqc", weights, values[:, faces[found]])


def test_meshings_of_one_identity_move_alike_at_the_same_surface_point(tiny: Path) -> None:
    coarse_v, _ = _template(tiny, "id00_uv_coarse")
    fine_v, fine_f = _template(tiny, "id00_icosphere")
    assert len(coarse_v) != len(fine_v)
    coarse = _frames(tiny, "id00_uv_coarse") - coarse_v.astype(np.float32)
    fine = _frames(tiny, "id00_icosphere") - fine_v.astype(np.float32)
    # A radial surface: a vertex's direction is its parameter, so the files alone say where it is.
    coarse_dir = coarse_v / np.linalg.norm(coarse_v, axis=1, keepdims=True)
    fine_dir = fine_v / np.linalg.norm(fine_v, axis=1, keepdims=True)
    transferred = _interpolate_on_sphere(coarse_dir, fine_dir, fine_f, fine)
    assert np.abs(coarse).max() > 0.003  # there is motion to compare
    assert np.linalg.norm(transferred - coarse, axis=2).max() < 0.001


def test_mouth_moves_much_more_than_the_upper_face(tiny: Path) -> None:
    for subject in ("id00_uv_coarse", "id00_icosphere", "id02_irregular"):
        verts, _ = _template(tiny, subject)
        motion = np.linalg.norm(_frames(tiny, subject) - verts.astype(np.float32), axis=2)
        lip = motion[:, np.load(tiny / "masks" / f"{subject}_lip.npy")]
        upper = motion[:, np.load(tiny / "masks" / f"{subject}_upper.npy")]
        assert 0.003 < lip.max() < 0.015  # VOCASET-like millimetres
        assert lip.max(axis=1).mean() > 10 * upper.max(axis=1).mean()


def test_silence_leaves_the_mouth_at_rest() -> None:
    head = build_head(sample_identity(4), "icosphere")
    utterance = synth_utterance(seed=11, seconds=5.0)
    frames = articulate(head, utterance.articulation)
    motion = np.linalg.norm(frames - head.verts.astype(np.float32), axis=2)
    times = np.arange(len(frames)) / utterance.fps
    quiet = np.zeros(len(frames), bool)
    for seg in utterance.segments:
        if seg.kind == "pause":
            quiet |= (times > seg.start + 0.12) & (times < seg.end - 0.12)
    assert quiet.sum() >= 3 and (~quiet).sum() > 10
    mouth = np.asarray(utterance.articulation)[:, :4]
    assert np.abs(mouth[quiet]).max() < 0.01
    assert motion[quiet].max() < 2e-4 < 0.003 < motion[~quiet].max()
    samples = (times[quiet] * SAMPLE_RATE).astype(int)
    assert np.abs(utterance.audio[samples]).max() < 0.005 < np.abs(utterance.audio).max()


def test_vowels_drive_jaw_and_formants_as_speech_does() -> None:
    voice = Voice(f0=120.0, formant_scale=1.0)
    peaks = {}
    for vowel in ("a", "i"):
        plan = [Segment("pause", "", 0.0, 0.3), Segment("vowel", vowel, 0.3, 0.6, 1.0), Segment("pause", "", 0.6, 1.0)]
        jaw = render_articulation(plan, 30, 30.0)[:, ARTICULATION_CHANNELS.index("jaw_open")]
        audio = render_audio(plan, voice, SAMPLE_RATE, np.random.default_rng(0))[int(0.35 * SAMPLE_RATE):int(0.55 * SAMPLE_RATE)]
        spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
        freqs = np.fft.rfftfreq(len(audio), 1.0 / SAMPLE_RATE)
        low = freqs < 1200  # where F1 lives: ≈730 Hz for "a", ≈270 Hz for "i"
        peaks[vowel] = (jaw.max(), freqs[low][np.argmax(spectrum[low])])
    assert peaks["a"][0] > 2.5 * peaks["i"][0]
    assert 550 < peaks["a"][1] < 900 and peaks["i"][1] < 400


@pytest.mark.parametrize("meshing", MESHINGS)
def test_meshes_are_closed_manifolds_facing_out_at_head_size(meshing: str) -> None:
    verts, faces = make_sample_face(seed=77, meshing=meshing)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique_edges, count = np.unique(edges, axis=0, return_counts=True)
    assert (count == 2).all()
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    assert len(np.unique(directed, axis=0)) == len(directed)  # consistent orientation
    assert len(verts) - len(unique_edges) + len(faces) == 2  # a sphere: no holes, no handles
    assert cKDTree(verts).query(verts, k=2)[0][:, 1].min() > 1e-5  # no duplicate (seam/pole) vertices
    a, b, c = (verts[faces[:, k]] for k in range(3))
    assert np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0 > 0  # outward normals
    extent = verts.max(0) - verts.min(0)
    assert 0.14 < extent[0] < 0.22 and 0.18 < extent[1] < 0.28 and 0.17 < extent[2] < 0.26
    assert verts[np.argmax(verts[:, 2])][1] > -0.03  # the nose tip leads the face, towards +z
    assert np.linalg.norm(0.5 * (verts.max(0) + verts.min(0))) < 0.02  # centred near the origin


def test_meshings_have_the_advertised_sizes() -> None:
    identity = sample_identity(1)
    sizes = {m: len(build_head(identity, m, seed=3).verts) for m in MESHINGS}
    assert 2000 < sizes["uv_coarse"] < 3000 and 4000 < sizes["icosphere"] < 6000 and 8000 <= sizes["dense"] <= 10000
    assert 3500 <= sizes["irregular"] <= 4500 and len(set(sizes.values())) == 4


def test_region_weights_sit_where_their_names_say() -> None:
    head = build_head(sample_identity(9), "icosphere")
    weights = region_weights(head.identity, head.param)
    assert sorted(weights) == sorted(REGION_NAMES)
    centre_y = {}
    for name, w in weights.items():
        assert w.shape == (len(head.verts),) and w.min() >= 0.0 and w.max() <= 1.0
        assert (w > 0.5).sum() >= 5, name
        centre_y[name] = float((w[:, None] * head.verts).sum(0)[1] / w.sum())
    assert centre_y["forehead"] > centre_y["brows"] > centre_y["eyelids"] > centre_y["cheeks"]
    assert centre_y["cheeks"] > centre_y["lips"] > centre_y["jaw"]
    chin = np.argmin(head.verts[:, 1] + 10 * (head.verts[:, 2] < 0.05))
    top = np.argmax(head.verts[:, 1])
    assert weights["jaw"][chin] > 0.8 and weights["jaw"][top] < 1e-3


def test_splits_hold_out_identities_and_the_unseen_meshing(tiny: Path) -> None:
    splits = json.loads((tiny / "splits.json").read_text())
    assert {"train", "val", "test_seen_meshing", "test_unseen_meshing"} <= set(splits)
    ids = {split: {s.split("_")[0] for s in subjects} for split, subjects in splits.items()}
    meshings = {split: {s.split("_", 1)[1] for s in subjects} for split, subjects in splits.items()}
    assert not ids["train"] & (ids["val"] | ids["test_seen_meshing"] | ids["test_unseen_meshing"])
    assert not ids["val"] & ids["test_seen_meshing"]
    assert ids["test_seen_meshing"] == ids["test_unseen_meshing"]
    assert meshings["test_unseen_meshing"] == {"irregular"} and not meshings["train"] & {"irregular"}
    assert meshings["test_seen_meshing"] <= meshings["train"] and len(meshings["train"]) >= 2
    assert sorted(splits["test"]) == sorted(splits["test_seen_meshing"] + splits["test_unseen_meshing"])


def test_complete_dataset_is_reused_and_interrupted_one_regenerated(tmp_path: Path) -> None:
    out = generate_dataset(tmp_path / "d", **TINY)
    npy = out / "vertices_npy" / "id00_uv_coarse_s000.npy"
    original = npy.read_bytes()
    os.utime(npy, (1, 1))
    assert generate_dataset(out, **TINY) == out and npy.stat().st_mtime == 1  # reused, not rewritten

    (out / "meta.json").unlink()  # what an interrupted run leaves: files but no completion marker
    npy.write_bytes(b"half a file")
    generate_dataset(out, **TINY)
    assert (out / "meta.json").is_file() and npy.read_bytes() == original

    with pytest.raises(OutputExistsError, match="overwrite"):
        generate_dataset(out, **{**TINY, "seed": 1})
    generate_dataset(out, **{**TINY, "seed": 1}, overwrite=True)
    assert json.loads((out / "meta.json").read_text())["params"]["seed"] == 1

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(OutputExistsError, match="not a procedural dataset"):
        generate_dataset(foreign, **TINY)


def test_cli_writes_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["synth", str(tmp_path / "cli"), "--identities", "1", "--val-identities", "0", "--test-identities", "0",
            "--sequences", "1", "--seconds", "1", "1.1", "--seed", "3"]
    assert cli_main(args) == 0
    assert str(tmp_path / "cli") in capsys.readouterr().out
    assert json.loads((tmp_path / "cli" / "meta.json").read_text())["params"]["seed"] == 3


def test_sample_face_and_speech_for_demos() -> None:
    verts, faces = make_sample_face()
    audio = make_sample_speech(seconds=2.0)
    assert verts.shape[1] == 3 and faces.shape[1] == 3 and faces.max() == len(verts) - 1
    assert audio.dtype == np.float32 and len(audio) == 2 * SAMPLE_RATE and np.abs(audio).max() <= 1.0


def test_bad_requests_say_what_to_do() -> None:
    with pytest.raises(MeshError, match="irregular"):
        build_head(sample_identity(0), "hexagonal")
    with pytest.raises(AudioError, match="at least 1 s"):
        synth_utterance(seed=0, seconds=0.5)


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_users_dataset_in_the_same_layout_is_never_deleted(tmp_path: Path, overwrite: bool) -> None:
    for folder in ("wav", "vertices_npy", "templates"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "mine.txt").write_text("the user's")
    with pytest.raises(OutputExistsError, match="did not write"):
        generate_dataset(tmp_path, overwrite=overwrite, **TINY)
    assert all((tmp_path / folder / "mine.txt").read_text() == "the user's" for folder in ("wav", "vertices_npy", "templates"))
