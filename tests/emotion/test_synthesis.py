"""Procedural expressions and their classifier, the Florence-like reader, `scantalk emovoca build` and its reader."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from emotion.emovoca_reader import EmotionalSequence, read_emovoca
from emotion.expressions import (
    all_expressions,
    classify_emotion,
    emotion_signatures,
    expression_displacement,
    upper_face_vertices,
)
from emotion.florence import label_from_filename, read_expressions, write_procedural_expressions
from scantalk.emotions import EMOTIONS, INTENSITY_LEVELS
from emotion.synthesis import build_emovoca, transfer_nearest
from scantalk.cli import main as scantalk_main
from scantalk.data.synth import build_head, generate_dataset, sample_identity, write_ply
from scantalk.errors import DatasetError, ScanTalkError


@pytest.fixture(scope="module")
def upper_patterns(small_head):
    upper = upper_face_vertices(small_head.identity, small_head.param)
    return upper, emotion_signatures(small_head.identity, small_head.param, upper_vertices=upper)


def test_expressions_are_pairwise_distinct_on_the_upper_face(upper_patterns):
    _, patterns = upper_patterns
    assert sorted(patterns) == sorted(EMOTIONS)
    for a, b in itertools.combinations(EMOTIONS, 2):
        x, y = patterns[a].ravel(), patterns[b].ravel()
        cosine = x @ y / (np.linalg.norm(x) * np.linalg.norm(y))
        assert cosine < 0.8, (a, b, cosine)


def test_expression_amplitudes_are_millimetres_and_scale_with_intensity(small_head):
    for label in EMOTIONS:
        full = expression_displacement(small_head.identity, small_head.param, label, "high")
        assert 0.0015 < np.abs(full).max() < 0.0061, label  # brows up to ~5 mm
        low = expression_displacement(small_head.identity, small_head.param, label, "low")
        np.testing.assert_allclose(low, full * INTENSITY_LEVELS["low"], rtol=1e-5, atol=1e-9)


def test_classifier_recovers_every_label_at_every_intensity_with_talking_motion(small_head, upper_patterns):
    upper, candidates = upper_patterns
    talking = small_head.talking(60, seed=4)[:, upper]
    rng = np.random.default_rng(0)
    for label in EMOTIONS:
        for level in INTENSITY_LEVELS:
            pattern = expression_displacement(small_head.identity, small_head.param, label, level)[upper]
            assert classify_emotion(pattern, candidates) == label
            noisy = pattern[None] + talking + rng.normal(0.0, 1e-4, talking.shape)  # 0.1 mm sensor noise
            assert classify_emotion(noisy, candidates) == label, (label, level)


def test_unknown_emotion_lists_the_known_labels(small_head):
    with pytest.raises(ScanTalkError, match="known emotions: afraid, disgust, angry"):
        expression_displacement(small_head.identity, small_head.param, "bored", 1.0)


def test_florence_reader_accepts_emovoca_names_and_sibling_neutrals(tmp_path, small_head):
    verts, faces = small_head.verts, small_head.faces
    expressions = all_expressions(small_head.identity, small_head.param, ["angry", "happy", "sad"])
    write_ply(tmp_path / "COMA_CH01.ply", verts, faces)  # EmoVOCA: neutral beside the identity folder
    write_ply(tmp_path / "COMA_CH01" / "Irritated1_30.ply", verts + expressions["angry"], faces)
    write_ply(tmp_path / "COMA_CH01" / "Smile2_30.ply", verts + expressions["happy"], faces)
    write_ply(tmp_path / "COMA_CH01" / "Sad1_30.ply", verts + expressions["sad"], faces)
    write_ply(tmp_path / "COMA_CH01" / "Kiss_30.ply", verts, faces)  # not an emotion: skipped
    with pytest.warns(UserWarning, match="Kiss"):
        samples = read_expressions(tmp_path)
    assert [(s.identity, s.label) for s in samples] == [("COMA_CH01", "angry"), ("COMA_CH01", "sad"), ("COMA_CH01", "happy")]
    np.testing.assert_allclose(samples[0].displacement, expressions["angry"], atol=1e-6)
    assert label_from_filename("Drunk2_30") == "drunk" and label_from_filename("Neutral") is None


def test_nearest_transfer_matches_the_generator_on_another_meshing():
    identity = sample_identity(7)
    coarse, dense = build_head(identity, "uv_coarse"), build_head(identity, "icosphere")
    moved = transfer_nearest(expression_displacement(identity, coarse.param, "afraid"), coarse.verts, dense.verts)
    exact = expression_displacement(identity, dense.param, "afraid")
    assert np.linalg.norm(moved - exact) / np.linalg.norm(exact) < 0.2


@pytest.fixture(scope="module")
def talking_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("talking")
    return generate_dataset(root, num_train_identities=1, num_val_identities=1, num_test_identities=0,
                            sequences_per_subject=1, seconds=(1.0, 1.0), train_meshings=("uv_coarse", "icosphere"),
                            meshings_per_train_identity=1, verbose=False)


def test_build_writes_emovoca_layout_and_reader_reads_it_back(tmp_path, talking_set, capsys):
    expressions = write_procedural_expressions(tmp_path / "expr", identity_seeds=(500,), labels=["happy", "sad"])
    out = tmp_path / "emovoca"
    code = scantalk_main(["emovoca", "build", "--talking", str(talking_set), "--expressions", str(expressions),
                          "-o", str(out), "--additive", "--labels", "happy", "sad"])
    assert code == 0
    assert str(out.resolve()) in capsys.readouterr().out
    talking = sorted(p.stem for p in (talking_set / "vertices_npy").glob("*.npy"))
    stems = sorted(p.stem for p in (out / "sequences").glob("*.npy"))
    assert stems == sorted(f"{key}_{label}_{n}" for key in talking for label in ("Happy", "Sad") for n in (1, 2, 3))
    for folder, suffix in (("label", ".npy"), ("intensity", ".npy"), ("wav", ".wav")):
        assert sorted(p.stem for p in (out / folder).glob(f"*{suffix}")) == stems
    key = talking[0]
    assert int(np.load(out / "label" / f"{key}_Sad_2.npy")) == EMOTIONS.index("sad")
    assert int(np.load(out / "intensity" / f"{key}_Sad_2.npy")) == 2
    manifest = json.loads((out / "emovoca.json").read_text())
    assert {source["method"] for source in manifest["sources"].values()} == {"procedural"}

    refs = read_emovoca(out)
    assert len(refs) == len(stems)
    record = next(ref for ref in refs if ref.key == f"{key}_Sad_2").load()
    assert isinstance(record, EmotionalSequence)
    assert (record.emotion, record.label, record.intensity) == (EMOTIONS.index("sad"), "sad", pytest.approx(2 / 3))
    original = np.load(talking_set / "vertices_npy" / f"{key}.npy")
    assert record.frames.shape == original.shape and record.audio.ndim == 1
    # Additive baseline: talking + (2/3) · the subject's own sad expression, exactly.
    subject = record.subject
    info = json.loads((talking_set / "meta.json").read_text())["subjects"][subject]
    head = build_head(sample_identity(info["identity_seed"]), info["meshing"], seed=info["identity_seed"])
    expected = original + expression_displacement(head.identity, head.param, "sad", "mid")
    np.testing.assert_allclose(record.frames, expected, atol=1e-6)
    # Splits follow the talking subjects.
    train = read_emovoca(out, split="train")
    assert {ref.subject for ref in train} == set(json.loads((talking_set / "splits.json").read_text())["train"])
    # The core reads the layout through the plugin registry, as `layout: emovoca` in a config does.
    from scantalk.data import load_dataset

    assert [ref.vertices_path for ref in load_dataset(out, layout="emovoca", split="train")] == [ref.vertices_path for ref in train]


def test_build_refuses_a_non_empty_folder_and_unknown_labels(tmp_path, talking_set):
    expressions = write_procedural_expressions(tmp_path / "expr", identity_seeds=(500,), labels=["happy"])
    with pytest.raises(ScanTalkError, match="known emotions"):
        build_emovoca(talking_set, expressions, tmp_path / "out", labels=["bored"], verbose=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ScanTalkError, match="not empty"):
        build_emovoca(talking_set, expressions, tmp_path / "busy", labels=["happy"], verbose=False)


def test_reader_rejects_a_folder_that_is_not_emovoca(tmp_path):
    with pytest.raises(DatasetError, match="not an EmoVOCA-layout folder"):
        read_emovoca(tmp_path)


def test_trained_blender_checkpoint_drives_the_build(tmp_path, talking_set):
    import lightning as L
    import torch

    from emotion.training import EmoBlenderDataModule, EmoBlenderModule, load_blender

    torch.manual_seed(0)
    cache = str(tmp_path / "cache")
    module = EmoBlenderModule(latent=8, width=8, n_blocks=1, k_eig=16, gradient_features=False, lr=1e-3)
    data = EmoBlenderDataModule(root=str(talking_set), k_eig=16, cache_dir=cache, frames_per_batch=2,
                                batches_per_epoch=2, val_batches=1)
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    trainer.fit(module, datamodule=data)
    checkpoint = tmp_path / "blender.ckpt"
    trainer.save_checkpoint(checkpoint)
    blender = load_blender(checkpoint)
    assert blender.config == module.blender.config
    for name, value in module.blender.state_dict().items():
        torch.testing.assert_close(blender.state_dict()[name], value)

    expressions = write_procedural_expressions(tmp_path / "expr", identity_seeds=(500,), labels=["angry"])
    out = build_emovoca(talking_set, expressions, tmp_path / "out", checkpoint=checkpoint, labels=["angry"],
                        levels=["high"], cache_dir=cache, verbose=False)
    manifest = json.loads((out / "emovoca.json").read_text())
    assert manifest["mode"] == "blender" and manifest["mu"] == {"high": [1.0, 1.0]}
    refs = read_emovoca(out)
    assert len(refs) == len(list((talking_set / "vertices_npy").glob("*.npy")))
    frames = refs[0].load().frames
    assert np.isfinite(frames).all() and frames.shape[1:] == refs[0].template.shape


def test_blender_checkpoint_errors_name_the_file(tmp_path):
    from emotion.training import load_blender

    with pytest.raises(ScanTalkError, match="does not exist"):
        load_blender(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ScanTalkError, match="junk.ckpt cannot be read"):
        load_blender(tmp_path / "junk.ckpt")
