"""Dataset readers on tiny datasets in the exact raw-VOCASET and FaceFormer layouts."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from scantalk.datasets import TalkingSequence, detect_layout, load_dataset, read_vertex_mask
from scantalk.datasets.processed import split_stem
from scantalk.errors import DatasetError



FRAME_OFFSET = 1e-3  # the fixtures move frame k by k * FRAME_OFFSET along x (conftest.FRAME_OFFSET)


def _frame_numbers(frames: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Recover each frame's capture index from the fixture's x offset."""
    return np.round((frames[:, 0, 0] - template[0, 0]) / FRAME_OFFSET).astype(int)


# --- raw VOCASET ---------------------------------------------------------------------------

def test_raw_vocaset_lists_sequences_and_subsamples_60_to_30_fps(writers, raw_vocaset_dir: Path) -> None:
    assert detect_layout(raw_vocaset_dir) == "vocaset_raw"
    refs = load_dataset(raw_vocaset_dir)
    assert [ref.key for ref in refs][:2] == [f"{writers.VOCASET_SUBJECTS[0]}_sentence01", f"{writers.VOCASET_SUBJECTS[0]}_sentence02"]
    assert len(refs) == 6 and all(ref.fps == 30.0 and ref.dataset == "vocaset" for ref in refs)
    sequence = refs[0].load()
    assert isinstance(sequence, TalkingSequence)
    assert sequence.frames.shape == (5, writers.NUM_VERTICES, 3) and sequence.frames.dtype == np.float32
    # frame indices 1..9 stored in reverse row order: every 2nd in capture order is 1, 3, 5, 7, 9
    np.testing.assert_array_equal(_frame_numbers(sequence.frames, sequence.template), [1, 3, 5, 7, 9])
    assert sequence.sample_rate == 16000 and sequence.audio.dtype == np.float32
    assert sequence.audio.shape[0] == round(int(22000 * 9 / 60) * 16000 / 22000)
    assert np.abs(sequence.audio).max() <= 1.0 and sequence.faces is None
    expected_x = np.broadcast_to(np.array([1, 3, 5, 7, 9])[:, None] * FRAME_OFFSET, (5, writers.NUM_VERTICES))
    np.testing.assert_allclose(sequence.displacements[:, :, 0], expected_x, atol=1e-6)
    np.testing.assert_allclose(sequence.displacements[:, :, 1:], 0.0, atol=1e-7)


def test_raw_vocaset_frame_step_and_template_mesh_faces(writers, raw_vocaset_dir: Path, tmp_path: Path) -> None:
    verts, faces = writers.grid_template()
    writers.write_ply(tmp_path / "FLAME_sample.ply", verts, faces)
    refs = load_dataset(raw_vocaset_dir, frame_step=1, template_mesh=tmp_path / "FLAME_sample.ply")
    assert refs[0].fps == 60.0 and refs[0].load_frames().shape[0] == 9
    np.testing.assert_array_equal(refs[0].faces, faces)
    with pytest.raises(DatasetError, match="60 fps"):
        load_dataset(raw_vocaset_dir, fps=25)


def test_raw_vocaset_listing_does_not_read_the_audio_pickle(writers, raw_vocaset_dir: Path) -> None:
    (raw_vocaset_dir / "raw_audio_fixed.pkl").write_bytes(b"not a pickle at all")
    refs = load_dataset(raw_vocaset_dir, split="test")
    assert {ref.subject for ref in refs} == {"FaceTalk_170809_00138_TA"}
    assert refs[0].load_frames().shape == (5, writers.NUM_VERTICES, 3)
    with pytest.raises(DatasetError, match="raw_audio_fixed.pkl"):
        refs[0].load_audio()


def test_refs_survive_pickling_for_loader_workers(raw_vocaset_dir: Path, processed_vocaset_dir: Path) -> None:
    for root in (raw_vocaset_dir, processed_vocaset_dir):
        ref = load_dataset(root)[0]
        clone = pickle.loads(pickle.dumps(ref))
        np.testing.assert_array_equal(clone.load_frames(), ref.load_frames())


# --- processed (FaceFormer) layout -----------------------------------------------------------

def test_split_stem_uses_longest_known_subject() -> None:
    subjects = ["FaceTalk_170728_03272_TA", "A", "A_B"]
    assert split_stem("FaceTalk_170728_03272_TA_sentence01", subjects) == ("FaceTalk_170728_03272_TA", "sentence01")
    assert split_stem("A_B_seq_1", subjects) == ("A_B", "seq_1")
    assert split_stem("A_x", subjects) == ("A", "x")
    assert split_stem("Z_x", subjects) is None


def test_processed_vocaset_defaults_to_30_fps_from_60_fps_files(writers, processed_vocaset_dir: Path) -> None:
    refs = load_dataset(processed_vocaset_dir)
    assert detect_layout(processed_vocaset_dir) == "processed"
    assert {ref.subject for ref in refs} == set(writers.VOCASET_SUBJECTS)
    assert {ref.name for ref in refs} == {"sentence01", "sentence02"}
    assert all(ref.dataset == "vocaset" and ref.fps == 30.0 for ref in refs)
    sequence = refs[0].load()
    np.testing.assert_array_equal(_frame_numbers(sequence.frames, sequence.template), [0, 2, 4, 6])
    assert sequence.audio.shape[0] == round(int(22050 * 8 / 30) * 16000 / 22050)
    every_frame = load_dataset(processed_vocaset_dir, frame_step=1, fps=60)[0]
    assert every_frame.fps == 60.0 and every_frame.load_frames().shape[0] == 8


@pytest.mark.parametrize("flat", [True, False])
def test_processed_accepts_flat_and_3d_vertex_arrays(writers, tmp_path: Path, flat: bool) -> None:
    writers.write_processed(tmp_path, ["F1", "M1"], flat=flat)
    refs = load_dataset(tmp_path)
    assert refs[0].dataset == "biwi" and refs[0].fps == 25.0
    frames = refs[0].load_frames()
    assert frames.shape == (8, writers.NUM_VERTICES, 3)
    np.testing.assert_array_equal(_frame_numbers(frames, refs[0].template), np.arange(8))


def test_templates_from_ply_files_carry_faces_in_file_order(writers, tmp_path: Path) -> None:
    written = writers.write_processed(tmp_path, ["subject_a", "subject_a_b"], templates="ply")
    refs = load_dataset(tmp_path)
    assert {ref.key for ref in refs} == {"subject_a_sentence01", "subject_a_sentence02",
                                         "subject_a_b_sentence01", "subject_a_b_sentence02"}
    ref = next(ref for ref in refs if ref.subject == "subject_a_b")
    verts, faces = written["subject_a_b"]
    np.testing.assert_allclose(ref.template, verts, atol=1e-6)
    np.testing.assert_array_equal(ref.faces, faces)
    assert ref.dataset == "custom" and ref.fps == 30.0


# --- masks -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["npy", "npy_bool", "txt_space", "txt_comma", "mat", "mat_key", "pkl_array"])
def test_mask_formats(writers, tmp_path: Path, kind: str) -> None:
    indices = np.array([3, 1, 7, 12])
    path = tmp_path / f"mask.{kind.split('_')[0]}"
    if kind == "npy":
        np.save(path, indices)
    elif kind == "npy_bool":
        np.save(path, np.isin(np.arange(writers.NUM_VERTICES), indices))
    elif kind == "txt_space":
        path.write_text("3 1\n7\t12\n")
    elif kind == "txt_comma":
        path.write_text("3, 1, 7, 12")
    elif kind == "mat":
        scipy.io.savemat(path, {"name": "lips", "idx": indices.astype(np.int32)})
    elif kind == "mat_key":
        scipy.io.savemat(path, {"other": np.arange(3), "lip": indices.astype(np.int32)})
    else:
        path.write_bytes(pickle.dumps(indices))
    key = "lip" if kind == "mat_key" else None
    np.testing.assert_array_equal(read_vertex_mask(path, key=key, num_vertices=writers.NUM_VERTICES), [1, 3, 7, 12])


def test_flame_style_mask_pickle_regions(tmp_path: Path) -> None:
    path = tmp_path / "FLAME_masks.pkl"
    path.write_bytes(pickle.dumps({"lips": np.array([5, 4]), "forehead": np.array([20, 21]),
                                   "eye_region": np.array([15, 21]), "nose": np.array([9])}, protocol=2))
    np.testing.assert_array_equal(read_vertex_mask(path, "lip"), [4, 5])
    np.testing.assert_array_equal(read_vertex_mask(path, "upper"), [15, 20, 21])
    np.testing.assert_array_equal(read_vertex_mask(path, key="nose"), [9])
    with pytest.raises(DatasetError, match="out|span"):
        read_vertex_mask(path, "upper", num_vertices=18)


def test_mask_precedence_explicit_then_per_subject_then_shared(writers, tmp_path: Path) -> None:
    writers.write_processed(tmp_path, ["F1", "M1"])
    (tmp_path / "masks").mkdir()
    np.save(tmp_path / "masks" / "F1_lip.npy", np.array([1, 2]))
    np.save(tmp_path / "masks" / "lip.npy", np.array([7]))
    np.save(tmp_path / "masks" / "upper.npy", np.array([20, 25]))
    lips = {ref.subject: ref.lip_vertices.tolist() for ref in load_dataset(tmp_path)}
    assert lips == {"F1": [1, 2], "M1": [7]}
    assert load_dataset(tmp_path)[0].upper_vertices.tolist() == [20, 25]
    (tmp_path / "all_lips.txt").write_text("0, 29")
    refs = load_dataset(tmp_path, lip_mask=tmp_path / "all_lips.txt")
    assert all(ref.lip_vertices.tolist() == [0, 29] for ref in refs)
    np.save(tmp_path / "masks" / "M1_upper.npy", np.array([30]))
    with pytest.raises(DatasetError, match="M1_upper.npy"):
        load_dataset(tmp_path)


# --- splits ----------------------------------------------------------------------------------

def test_standard_vocaset_splits(processed_vocaset_dir: Path) -> None:
    subjects = {split: {ref.subject for ref in load_dataset(processed_vocaset_dir, split=split)}
                for split in ("train", "val", "test")}
    assert subjects == {"train": {"FaceTalk_170728_03272_TA"}, "val": {"FaceTalk_170811_03275_TA"},
                        "test": {"FaceTalk_170809_00138_TA"}}


def test_standard_biwi_and_multiface_splits(writers, tmp_path: Path) -> None:
    writers.write_processed(tmp_path / "biwi", ["F1", "F7", "M6"])
    assert {ref.subject for ref in load_dataset(tmp_path / "biwi", split="test")} == {"M6"}
    multiface = ["m--20180105--0000--002643814--GHS", "20171024_a", "20190828"]
    writers.write_processed(tmp_path / "mf", multiface)
    refs = load_dataset(tmp_path / "mf", split="test")
    assert refs[0].dataset == "multiface" and {ref.subject for ref in refs} == {multiface[0]}
    assert {ref.subject for ref in load_dataset(tmp_path / "mf", split="train")} == {"20171024_a"}


def test_splits_json_defines_any_split(writers, tmp_path: Path) -> None:
    writers.write_processed(tmp_path, ["id_0", "id_1", "id_2"])
    (tmp_path / "splits.json").write_text(json.dumps({"train": ["id_0"], "test_unseen_meshing": ["id_1", "id_2"]}))
    assert {ref.subject for ref in load_dataset(tmp_path, split="test_unseen_meshing")} == {"id_1", "id_2"}
    with pytest.raises(DatasetError, match="available: \\['test_unseen_meshing', 'train'\\]"):
        load_dataset(tmp_path, split="val")
    (tmp_path / "splits.json").unlink()
    with pytest.raises(DatasetError, match="no splits.json"):
        load_dataset(tmp_path, split="train")


def test_dataset_json_sets_folder_defaults(writers, tmp_path: Path) -> None:
    writers.write_processed(tmp_path, ["id_0"])
    (tmp_path / "dataset.json").write_text(json.dumps({"dataset": "procedural", "fps": 24, "frame_step": 2}))
    ref = load_dataset(tmp_path)[0]
    assert (ref.dataset, ref.fps, ref.load_frames().shape[0]) == ("procedural", 24.0, 4)


# --- layout detection and errors -------------------------------------------------------------

def test_layout_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="found nothing"):
        load_dataset(tmp_path / "empty")
    (tmp_path / "odd" / "meshes").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"found \['meshes/'\].*data_verts.npy.*wav/"):
        load_dataset(tmp_path / "odd")


def test_unmatched_files_warn_and_nothing_matched_errors(writers, tmp_path: Path) -> None:
    writers.write_processed(tmp_path, ["F1"])
    np.save(tmp_path / "vertices_npy" / "F1_extra.npy", np.zeros((3, writers.NUM_VERTICES * 3), np.float32))
    with pytest.warns(UserWarning, match="F1_extra"):
        refs = load_dataset(tmp_path)
    assert len(refs) == 2
    for path in (tmp_path / "wav").glob("*.wav"):
        path.rename(path.with_name("X9_" + path.name))
    with pytest.raises(DatasetError, match="no sequence"), pytest.warns(UserWarning):
        load_dataset(tmp_path)


def test_broken_files_raise_dataset_error_naming_them(writers, tmp_path: Path) -> None:
    writers.write_processed(tmp_path, ["F1"])
    bad = tmp_path / "vertices_npy" / "F1_sentence01.npy"
    np.save(bad, np.zeros((4, (writers.NUM_VERTICES - 1) * 3), np.float32))
    with pytest.raises(DatasetError, match=r"F1_sentence01.npy.*30 vertices"):
        load_dataset(tmp_path)
    bad.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DatasetError, match="F1_sentence01.npy.*corrupted"):
        load_dataset(tmp_path)


def test_unsafe_template_pickle_is_refused(writers, tmp_path: Path) -> None:
    writers.write_processed(tmp_path, ["F1"])
    (tmp_path / "templates.pkl").write_bytes(
        b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x04true\x94\x85\x94R\x94."
    )
    with pytest.raises(DatasetError, match=r"templates.pkl.*refusing.*system"):
        load_dataset(tmp_path)


@pytest.mark.slow
def test_listing_a_dataset_does_not_import_torch_and_audio_is_at_the_one_sample_rate(tmp_path) -> None:
    import subprocess
    import sys

    # A fresh interpreter: whether torch is loaded is global state this test process cannot undo.
    code = ("import sys; import scantalk.datasets; from scantalk.audio import SAMPLE_RATE; "
            "print(SAMPLE_RATE, 'torch' in sys.modules, 'emotion' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["16000", "False", "False"], result.stderr[-2000:]
