"""The Florence-like expression reader, carrying an expression to another meshing, `scantalk emovoca
build` and its reader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emotion.facs.emotions import emotion_expression
from emotion.emovoca.reader import EmotionalSequence, read_emovoca
from emotion.emovoca.florence import label_from_filename, read_expressions, write_facs_expressions
from emotion.emovoca.synthesis import build_emovoca, transfer_nearest
from scantalk.cli import main as scantalk_main
from scantalk.synthesis.heads.procedural import procedural_head
from scantalk.emotions import EMOTIONS
from scantalk.errors import DatasetError, ScanTalkError
from scantalk.geometry.mesh import save_arrays

RESOLUTION = 0.01  # coarse anatomical heads, about 2.9k vertices


def test_florence_reader_accepts_emovoca_names_and_sibling_neutrals(tmp_path, small_head):
    verts, faces = small_head.verts, small_head.faces
    expressions = small_head.expressions(["angry", "happy", "sad"])
    save_arrays(tmp_path / "COMA_CH01.ply", verts, faces)  # EmoVOCA: neutral beside the identity folder
    save_arrays(tmp_path / "COMA_CH01" / "Irritated1_30.ply", verts + expressions["angry"], faces)
    save_arrays(tmp_path / "COMA_CH01" / "Smile2_30.ply", verts + expressions["happy"], faces)
    save_arrays(tmp_path / "COMA_CH01" / "Sad1_30.ply", verts + expressions["sad"], faces)
    save_arrays(tmp_path / "COMA_CH01" / "Kiss_30.ply", verts, faces)  # not an emotion: skipped
    with pytest.warns(UserWarning, match="Kiss"):
        samples = read_expressions(tmp_path)
    assert [(s.identity, s.label) for s in samples] == [("COMA_CH01", "angry"), ("COMA_CH01", "sad"), ("COMA_CH01", "happy")]
    np.testing.assert_allclose(samples[0].displacement, expressions["angry"], atol=1e-6)
    assert label_from_filename("Drunk2_30") == "drunk" and label_from_filename("Neutral") is None


def test_nearest_transfer_follows_the_face_in_other_units_place_and_order(small_head):
    """The same face stored 1.2× larger, elsewhere and in another vertex order gets the expression
    1.2× larger, vertex by vertex: the transfer aligns by centroid and rms radius."""
    expression = small_head.expressions(["afraid"])["afraid"]
    order = np.random.default_rng(0).permutation(len(small_head.verts))
    target = 1.2 * small_head.verts[order] + np.array([0.01, -0.02, 0.03])
    moved = transfer_nearest(expression, small_head.verts, target)
    np.testing.assert_allclose(moved, 1.2 * expression[order], atol=1e-7)


@pytest.fixture(scope="module")
def talking_set(tmp_path_factory, talking_by_hand):
    heads = {f"facs{seed}": procedural_head(seed, resolution=RESOLUTION) for seed in (500, 501)}
    return talking_by_hand(tmp_path_factory.mktemp("talking"), heads, splits={"train": ["facs500"], "val": ["facs501"]})


def _expressions(root, labels):
    """FACS expressions of the first talking subject's own head, named after it."""
    return write_facs_expressions(root, seeds=(500,), resolution=RESOLUTION, names=["facs500"], labels=labels)


def test_build_writes_emovoca_layout_and_reader_reads_it_back(tmp_path, talking_set, capsys):
    expressions = _expressions(tmp_path / "expr", ["happy", "sad"])
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
    key = "facs500_sentence01"
    assert int(np.load(out / "label" / f"{key}_Sad_2.npy")) == EMOTIONS.index("sad")
    assert int(np.load(out / "intensity" / f"{key}_Sad_2.npy")) == 2
    refs = read_emovoca(out)
    assert len(refs) == len(stems)
    record = next(ref for ref in refs if ref.key == f"{key}_Sad_2").load()
    assert isinstance(record, EmotionalSequence)
    assert (record.emotion, record.label, record.intensity) == (EMOTIONS.index("sad"), "sad", pytest.approx(2 / 3))
    original = np.load(talking_set / "vertices_npy" / f"{key}.npy")
    assert record.frames.shape == original.shape and record.audio.ndim == 1
    # Additive baseline: talking + (2/3) · the subject's own sad expression, exactly.
    sad = read_expressions(expressions, ["sad"])[0]
    np.testing.assert_allclose(record.frames, original + (2 / 3) * sad.displacement, atol=1e-6)
    # Splits follow the talking subjects.
    train = read_emovoca(out, split="train")
    assert {ref.subject for ref in train} == set(json.loads((talking_set / "splits.json").read_text())["train"])
    # The core reads the layout through the plugin registry, as `layout: emovoca` in a config does.
    from scantalk.datasets import load_dataset

    assert [ref.vertices_path for ref in load_dataset(out, layout="emovoca", split="train")] == [ref.vertices_path for ref in train]


def test_build_refuses_a_non_empty_folder_and_unknown_labels(tmp_path, talking_set):
    expressions = _expressions(tmp_path / "expr", ["happy"])
    with pytest.raises(ScanTalkError, match="known emotions"):
        build_emovoca(talking_set, expressions, tmp_path / "out", labels=["bored"], verbose=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ScanTalkError, match="not empty"):
        build_emovoca(talking_set, expressions, tmp_path / "busy", labels=["happy"], verbose=False)


def test_reader_rejects_a_folder_that_is_not_emovoca(tmp_path):
    with pytest.raises(DatasetError, match="not an EmoVOCA-layout folder"):
        read_emovoca(tmp_path)


@pytest.mark.slow
def test_trained_blender_checkpoint_drives_the_build(tmp_path, talking_set):
    import lightning as L
    import torch

    from emotion.blending.data import HeadsBlenderDataModule
    from emotion.blending.training import EmoBlenderModule, load_blender

    torch.manual_seed(0)
    cache = str(tmp_path / "cache")
    module = EmoBlenderModule(latent=8, width=8, n_blocks=1, k_eig=16, gradient_features=False, lr=1e-3)
    data = HeadsBlenderDataModule(train_seeds=[3], val_seeds=[4], resolutions=[RESOLUTION], k_eig=16, cache_dir=cache,
                                  frames_per_batch=2, batches_per_epoch=2, val_batches=1)
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    trainer.fit(module, datamodule=data)
    checkpoint = tmp_path / "blender.ckpt"
    trainer.save_checkpoint(checkpoint)
    blender = load_blender(checkpoint)
    assert blender.config == module.blender.config
    for name, value in module.blender.state_dict().items():
        torch.testing.assert_close(blender.state_dict()[name], value)

    expressions = _expressions(tmp_path / "expr", ["angry"])
    out = build_emovoca(talking_set, expressions, tmp_path / "out", checkpoint=checkpoint, labels=["angry"],
                        levels=["high"], cache_dir=cache, verbose=False)
    manifest = json.loads((out / "emovoca.json").read_text())
    assert manifest["mode"] == "blender" and manifest["mu"] == {"high": [1.0, 1.0]}
    refs = read_emovoca(out)
    assert len(refs) == len(list((talking_set / "vertices_npy").glob("*.npy")))
    frames = refs[0].load().frames
    assert np.isfinite(frames).all() and frames.shape[1:] == refs[0].template.shape


def test_blender_checkpoint_errors_name_the_file(tmp_path):
    from emotion.blending.training import load_blender

    with pytest.raises(ScanTalkError, match="does not exist"):
        load_blender(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ScanTalkError, match="junk.ckpt cannot be read"):
        load_blender(tmp_path / "junk.ckpt")
