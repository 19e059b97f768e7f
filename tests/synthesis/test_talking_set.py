"""The procedural talking set, written in the layout 4D datasets are shared in and read back as one."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from scantalk.synthesis.heads.procedural import procedural_head
from scantalk.datasets.load import load_dataset
from scantalk.synthesis.talking_set import TALKING_FPS, subject_name, write_talking_set
from scantalk.rig.rig import lip_vertices, region_masks, rig_basis

pytestmark = pytest.mark.skipif(shutil.which("festival") is None or shutil.which("flite") is None,
                                reason="festival and flite are needed (apt-get install festival flite)")


@pytest.mark.slow
def test_the_set_reads_back_as_a_dataset_whose_motion_is_the_rig(tmp_path):
    train, val = procedural_head(3001, resolution=0.01), procedural_head(3002, resolution=0.01)
    root = write_talking_set(tmp_path / "talking", {"train": [train], "val": [val]}, per_head=1)
    assert json.loads((root / "splits.json").read_text()) == {"train": [subject_name(train)], "val": [subject_name(val)]}
    refs = load_dataset(root, split="train")
    assert len(refs) == 1
    sequence = refs[0].load()
    assert sequence.fps == TALKING_FPS and sequence.sample_rate == 16000
    np.testing.assert_allclose(sequence.template, train.verts, atol=1e-6)
    np.testing.assert_array_equal(sequence.faces, train.faces)
    # The lip mask is the lips' region (what the lip loss and LVE weigh), midlines included.
    np.testing.assert_array_equal(sequence.lip_vertices, np.flatnonzero(region_masks(train)["lips"]))
    assert set(lip_vertices(train)) <= set(sequence.lip_vertices.tolist()) and len(sequence.lip_vertices) > 20
    assert sequence.upper_vertices is not None and len(sequence.upper_vertices) > 0
    # One frame per 1/30 s of the speech, and every frame lies in the span of the head's rig.
    assert abs(len(sequence.frames) - len(sequence.audio) / 16000 * TALKING_FPS) <= 1
    motion = (sequence.frames - sequence.template[None]).reshape(len(sequence.frames), -1)
    basis = rig_basis(train).reshape(train.num_vertices, -1, 3).transpose(1, 0, 2).reshape(-1, train.num_vertices * 3)
    coefficients = np.linalg.lstsq(basis.T, motion.T, rcond=None)[0]
    assert np.abs(basis.T @ coefficients - motion.T).max() < 1e-5
    assert np.abs(motion).max() > 0.003  # the mouth moves millimetres
    # A finished set is left as it is.
    stamp = (root / "splits.json").stat().st_mtime_ns
    write_talking_set(root, {"train": [val]}, per_head=1)
    assert (root / "splits.json").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_a_test_set_speaks_with_the_voices_it_is_given(tmp_path, monkeypatch):
    """A held-out set is spoken by the held-out voices, heads taking them in turn; the default is
    the training voices."""
    import scantalk.synthesis.speech as speech
    from scantalk.synthesis.speech import HELD_OUT_VOICES, TRAIN_VOICES

    heard = []
    real = speech.synthesize_many

    def spy(texts, voice, *args, **kwargs):
        heard.append(voice)
        return real(texts, voice, *args, **kwargs)

    monkeypatch.setattr(speech, "synthesize_many", spy)
    heads = [procedural_head(3001, resolution=0.01), procedural_head(3002, resolution=0.01)]
    write_talking_set(tmp_path / "test", {"test": heads}, per_head=1, voices=HELD_OUT_VOICES)
    assert heard == list(HELD_OUT_VOICES[:2])
    heard.clear()
    write_talking_set(tmp_path / "train", {"train": heads[:1]}, per_head=1)
    assert heard == [TRAIN_VOICES[0]]


@pytest.mark.slow
def test_a_config_entry_writes_the_set_on_first_use_and_the_old_generator_is_named(tmp_path):
    """`talking_set: {...}` in a config writes the set into its root once; the removed
    `procedural: {...}` entry is a clear error that says what to write instead."""
    from scantalk.training.datamodule import TalkingHeadDataModule
    from scantalk.synthesis.talking_set import GENERATOR, talking_set_params
    from scantalk.errors import DatasetError

    spec = {"root": str(tmp_path / "talking"), "talking_set": {"identities": 1, "val_identities": 1,
                                                               "test_identities": 0, "sentences": 1,
                                                               "resolution": 0.01}}
    data = TalkingHeadDataModule([spec])
    data.prepare_data()
    assert len(data.records("train")) == len(data.records("val")) == 1
    assert talking_set_params(tmp_path / "talking")["identities"] == 1
    assert json.loads((tmp_path / "talking" / "dataset.json").read_text())["generator"] == GENERATOR
    stamp = (tmp_path / "talking" / "splits.json").stat().st_mtime_ns
    TalkingHeadDataModule([spec]).prepare_data()  # written once
    assert (tmp_path / "talking" / "splits.json").stat().st_mtime_ns == stamp
    with pytest.raises(DatasetError, match="talking_set"):
        TalkingHeadDataModule([{"procedural": {}}])
