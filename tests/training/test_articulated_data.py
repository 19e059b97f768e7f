"""Training data of the factored model: rigged heads on disk for the decoder, speech crops with
articulation targets for the articulator."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.training.articulated_data import (
    RigDataModule,
    RigDataset,
    SpeechCrop,
    SpeechDataset,
    build_rig_heads,
    collate_crops,
    load_head,
    save_head,
    training_meshings,
)
from scantalk.synthesis.heads.meshing import point_cloud
from scantalk.errors import ScanTalkError
from scantalk.face.samples import real_face
from scantalk.geometry.cache import OperatorCache
from scantalk.rig.rig import RIG_INPUTS, region_masks, rig_basis

K_EIG = 16


@pytest.fixture(scope="module")
def face():
    return real_face("mediapipe")


def test_save_head_and_load_head_round_trip_exactly(face, tmp_path):
    # A head whose maker knows its rest lip gap (procedural heads do): the rig reads it, so it must survive.
    head = dataclasses.replace(face, meta={**face.meta, "rest_lip_gap": 0.0061})
    save_head(tmp_path / "head.npz", head)
    loaded = load_head(tmp_path / "head.npz")
    assert np.array_equal(loaded.verts, head.verts) and loaded.verts.dtype == np.float64
    assert np.array_equal(loaded.faces, head.faces) and np.array_equal(loaded.parts, head.parts)
    assert np.array_equal(loaded.landmarks.as_array(), head.landmarks.as_array())
    assert loaded.name == head.name and loaded.meta["rest_lip_gap"] == 0.0061
    assert np.array_equal(rig_basis(loaded), rig_basis(head))  # the decoder's target is unchanged by the file
    assert [p.name for p in tmp_path.iterdir()] == ["head.npz"]


def test_a_point_cloud_head_round_trips_without_faces(face, tmp_path):
    cloud = point_cloud(face, np.random.default_rng(0), count=300)
    save_head(tmp_path / "cloud.npz", cloud)
    loaded = load_head(tmp_path / "cloud.npz")
    assert loaded.faces is None and np.array_equal(loaded.verts, cloud.verts)


@pytest.fixture(scope="module")
def rig_root(tmp_path_factory):
    """Two real identities in their training meshings, one for training, one for validation."""
    return build_rig_heads(tmp_path_factory.mktemp("rig"), num_procedural=0, num_real=2, val_every=2, k_eig=K_EIG)


@pytest.mark.slow
def test_rig_heads_split_by_identity_and_resume_without_rework(rig_root):
    splits = json.loads((rig_root / "splits.json").read_text())
    train_ids = {name.split("__")[0] for name in splits["train"]}
    val_ids = {name.split("__")[0] for name in splits["val"]}
    assert len(splits["train"]) >= 2 and len(splits["val"]) >= 2 and not train_ids & val_ids
    for name in splits["train"] + splits["val"]:
        assert (rig_root / "heads" / f"{name}.npz").is_file()
    stamps = {p.name: p.stat().st_mtime_ns for p in (rig_root / "heads").glob("*.npz")}
    build_rig_heads(rig_root, num_procedural=0, num_real=2, val_every=2, k_eig=K_EIG)
    assert json.loads((rig_root / "splits.json").read_text()) == splits
    assert {p.name: p.stat().st_mtime_ns for p in (rig_root / "heads").glob("*.npz")} == stamps


@pytest.mark.slow
def test_rig_items_have_matching_shapes_and_a_positive_mouth_heavy_weight(rig_root):
    module = RigDataModule(str(rig_root), k_eig=K_EIG, lip_weight=4.0)
    item = next(iter(module.train_dataloader()))
    num_vertices = item["template"].shape[0]
    assert item["template"].shape == (num_vertices, 3) and item["template"].dtype == torch.float32
    assert item["basis"].shape == (num_vertices, len(RIG_INPUTS), 3) and item["basis"].dtype == torch.float32
    assert item["weight"].shape == (num_vertices,) and bool((item["weight"] > 0).all())
    assert item["ops"].evecs.shape == (num_vertices, K_EIG)
    # The weight is area × (1 + lip_weight on the mouth): per unit area the mouth counts five times.
    mass = item["ops"].mass.numpy()
    per_area = item["weight"].numpy() / mass
    mouth = region_masks(load_head(rig_root / "heads" / f"{_name_of(rig_root, item)}.npz"))["mouth_region"]
    assert mouth.any() and np.allclose(per_area[mouth] / per_area[~mouth].mean(), 5.0, rtol=1e-4)
    assert len(list(module.val_dataloader())) == len(json.loads((rig_root / "splits.json").read_text())["val"])


def _name_of(rig_root, item) -> str:
    """The file name of the head an item came from (items carry the head's own name)."""
    for path in (rig_root / "heads").glob("*.npz"):
        if load_head(path).name == item["name"]:
            return path.stem
    raise AssertionError(f"no head file holds {item['name']}")


def test_a_folder_without_rigged_heads_says_how_to_build_them(tmp_path):
    with pytest.raises(ScanTalkError, match="build_rig_heads"):
        RigDataModule(str(tmp_path), k_eig=K_EIG).train_dataloader()


def test_rig_dataset_items_are_the_rig_of_the_stored_head(face, tmp_path):
    save_head(tmp_path / "face.npz", face)
    item = RigDataset([tmp_path / "face.npz"], OperatorCache(tmp_path / "ops"), K_EIG)[0]
    assert np.allclose(item["basis"].numpy(), rig_basis(face), atol=1e-7)
    assert np.allclose(item["template"].numpy(), face.verts, atol=1e-7)


def test_training_meshings_of_a_sparse_face_are_denser_variants_of_it(face):
    meshings = training_meshings(face, np.random.default_rng(0), extra=2)
    assert len(meshings) == 4
    assert 1500 < meshings[0].num_vertices < 2500 and 6000 < meshings[1].num_vertices < 9000
    for variant in meshings:  # the same identity: the same landmarks, the same place in space
        assert np.array_equal(variant.landmarks.as_array(), face.landmarks.as_array())
        assert np.abs(variant.verts.mean(0) - face.verts.mean(0)).max() < 0.01


def test_collate_crops_pads_with_rest_and_masks_the_padding():
    channels = len(ARTICULATION_CHANNELS)
    crops = [SpeechCrop(np.ones(16000, np.float32), np.full((30, channels), 0.5, np.float32)),
             SpeechCrop(np.ones(8000, np.float32), np.full((15, channels), 0.25, np.float32))]
    batch = collate_crops(crops)
    assert batch["audio"].shape == (2, 16000) and batch["articulation"].shape == (2, 30, channels)
    assert batch["mask"].shape == (2, 30)
    assert batch["mask"][0].sum() == 30 and batch["mask"][1].sum() == 15 and batch["mask"][1, 15:].sum() == 0
    assert batch["audio"][1, 8000:].abs().max() == 0 and batch["audio"][1, :8000].min() == 1
    assert batch["articulation"][1, 15:].abs().max() == 0 and torch.all(batch["articulation"][1, :15] == 0.25)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if shutil.which("flite") is None:
        pytest.skip("flite not installed (apt-get install flite): no tiny speech corpus can be built")
    from scantalk.synthesis.speech import build_speech_corpus, load_speech_corpus

    root = build_speech_corpus(tmp_path_factory.mktemp("corpus"), 2, seed=1, voices=("flite:awb", "flite:kal16"),
                               workers=1)
    return load_speech_corpus(root)


@pytest.mark.parametrize("augment", [False, True])
def test_speech_crops_have_unit_range_targets_covering_the_crop(corpus, augment):
    fps, crop_seconds = 30.0, 0.8
    dataset = SpeechDataset(corpus, fps=fps, crop_seconds=crop_seconds, augment=augment, seed=3)
    assert len(dataset) == len(corpus)
    for index in range(len(dataset)):
        crop = dataset[index]
        frames = len(crop.articulation)
        assert crop.articulation.shape == (frames, len(ARTICULATION_CHANNELS)) and crop.articulation.dtype == np.float32
        assert float(crop.articulation.min()) >= 0.0 and float(crop.articulation.max()) <= 1.0
        assert frames == round(crop_seconds * fps)  # every corpus utterance is at least a second long
        # The audio spans the crop's frames: the target of frame i is what is heard at i / fps.
        assert abs(len(crop.audio) - frames / fps * 16000) <= 1
        assert crop.audio.dtype == np.float32 and float(np.abs(crop.audio).max()) > 0.0


def test_speech_crops_without_augmentation_repeat(corpus):
    dataset = SpeechDataset(corpus, fps=25.0, crop_seconds=0.8, augment=False)
    first, again = dataset[0], dataset[0]
    assert np.array_equal(first.audio, again.audio) and np.array_equal(first.articulation, again.articulation)
    assert np.array_equal(first.audio, np.asarray(corpus[0].samples[:len(first.audio)], np.float32))
