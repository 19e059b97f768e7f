"""End-to-end: the Animator turns any face into an animation in the user's terms.

Only properties every valid model obeys are tested here (shapes, file vertex order, units,
determinism, invariances, errors). How *well* the shipped model talks (lip movement, a quiet
forehead, a still mouth in pauses) is measured by `experiments/evaluate/real.py` and
`experiments/evaluate/mouth.py`, so a retrained model cannot break the tests by moving its lips
differently.
"""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scantalk import Animator
from scantalk.checkpoint import DEFAULT_CHECKPOINT
from scantalk.commands.demo import DEMO_SPEECH
from scantalk.synthesis.heads.meshing import decimate
from scantalk.synthesis.heads.procedural import procedural_head
from scantalk.errors import AudioError, CheckpointError, MeshError, ScanTalkError
from scantalk.geometry import Mesh, save_mesh
from scantalk.model import ScanTalk

HELD_OUT_SEED = 4321  # not an identity of the default model's training data


@pytest.fixture(scope="module")
def animator(tmp_path_factory):
    return Animator.from_checkpoint(device="cpu", cache_dir=tmp_path_factory.mktemp("operators"))


@pytest.fixture(scope="module")
def speech():
    """Three seconds of the demo's real recording, 16 kHz."""
    samples, rate = sf.read(DEMO_SPEECH, dtype="float32")
    assert rate == 16000
    return samples[: 3 * rate]


def _head(meshing: str):
    """A held-out anatomical head: "coarse" (about 2.9k vertices), "as_made" (4.5k) or
    "decimated" (the 4.5k head simplified to 3.5k: irregular triangles); and its lip region."""
    if meshing == "coarse":
        head = procedural_head(HELD_OUT_SEED, resolution=0.01)
    else:
        head = procedural_head(HELD_OUT_SEED, resolution=0.007)
        if meshing == "decimated":
            head = decimate(head, 3500)
    mouth = 0.5 * (head.landmarks.mouth_left + head.landmarks.mouth_right)
    return head, np.flatnonzero(np.linalg.norm(head.verts - mouth, axis=1) < 0.015)


def _check_valid(animation, neutral):
    """A valid animation of `neutral` (V, 3): its shape and order, finite, float32, moving (a
    model that stopped moving the face fails here), by less than a head."""
    assert animation.frames.shape[1:] == neutral.shape and animation.frames.dtype == np.float32
    assert np.isfinite(animation.frames).all()
    extent = np.linalg.norm(neutral.max(0) - neutral.min(0))
    motion = np.abs(animation.displacements).max()
    assert 0.002 * extent < motion < 0.25 * extent  # motion, not a still face nor a different shape


@pytest.fixture(scope="module")
def still_animator():
    """A freshly initialised ScanTalk: its decoder's last layer starts at zero, so it predicts no motion."""
    return Animator(ScanTalk(k_eig=16), device="cpu", cache_dir=False)


def test_shipped_model_is_small_and_names_the_recipe_that_made_it():
    import torch

    from scantalk.checkpoint import load_model

    checkpoint = torch.load(DEFAULT_CHECKPOINT, map_location="cpu", weights_only=True)
    assert DEFAULT_CHECKPOINT.stat().st_size <= 20 * 1024 * 1024
    recipe = checkpoint["recipe"]
    repo = Path(__file__).resolve().parents[2]
    made_by = recipe.get("recipe") or recipe.get("config")
    assert made_by and (repo / made_by).is_file(), made_by
    model = load_model()
    assert not model.training


@pytest.mark.slow
@pytest.mark.parametrize("meshing", ["as_made", "decimated"])
def test_registered_and_unseen_meshings(animator, speech, meshing):
    head, _ = _head(meshing)
    animation = animator.animate(head.verts, speech, faces=head.faces, sample_rate=16000)
    assert animation.num_frames == 90 and animation.fps == 30.0
    _check_valid(animation, head.verts)


@pytest.mark.slow
def test_decimated_mesh_and_point_cloud(animator, speech, tmp_path):
    import open3d as o3d

    head, _ = _head("as_made")
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(head.verts), o3d.utility.Vector3iVector(head.faces))
    small = mesh.simplify_quadric_decimation(target_number_of_triangles=len(head.faces) // 3)
    verts, faces = np.asarray(small.vertices), np.asarray(small.triangles)
    _check_valid(animator.animate(verts, speech, faces=faces, sample_rate=16000), verts)
    path = tmp_path / "points.xyz"
    np.savetxt(path, head.verts)
    animation = animator.animate(path, speech, sample_rate=16000)
    assert animation.faces is None
    _check_valid(animation, head.verts)


def _non_manifold_scan(verts, faces, size=1.0):
    """verts/faces with a fin (a third face on one edge), a detached sliver of "hair" (head of `size` metres-units)."""
    a, b = faces[0][:2]
    extra = np.vstack([verts[a] + [0.0, 0.0, 0.01 * size], verts[:3] * 0.05 + [0.0, 0.16 * size, 0.0]])
    n = len(verts)
    return np.vstack([verts, extra]), np.vstack([faces, [[a, b, n]], [[n + 1, n + 2, n + 3]]])


@pytest.mark.slow
def test_non_manifold_scan_with_several_components(animator, speech, tmp_path):
    head, _ = _head("as_made")
    verts, faces = _non_manifold_scan(head.verts, head.faces)
    path = tmp_path / "scan.ply"
    save_mesh(path, verts, Mesh.from_arrays(verts, faces))
    animation = animator.animate(path, speech, sample_rate=16000)
    assert animation.frames.shape[1] == len(verts)
    _check_valid(animation, verts)


@pytest.mark.slow
def test_a_still_model_gives_back_the_file_exactly(still_animator, speech):
    """No motion predicted → every frame is the file's own vertices: order, units and position kept."""
    head, _ = _head("decimated")
    order = np.random.default_rng(1).permutation(len(head.verts))
    verts_mm = head.verts[order] * 1000.0 + np.array([3.0, -50.0, 20.0])  # millimetres, off-centre, shuffled
    faces = np.argsort(order)[head.faces]
    for face in ((verts_mm, faces), _non_manifold_scan(verts_mm, faces, size=1000.0)):
        animation = still_animator.animate(face, speech[:16000], sample_rate=16000)
        assert np.array_equal(animation.frames, np.broadcast_to(face[0].astype(np.float32), animation.frames.shape))
    assert animation.meta["alignment"]["units"] == "millimetres"


@pytest.mark.slow
def test_tuple_array_and_path_faces_give_the_same_animation(animator, speech, tmp_path):
    head, _ = _head("coarse")
    path = tmp_path / "face.obj"
    save_mesh(path, head.verts, Mesh.from_arrays(head.verts, head.faces))
    by_tuple = animator.animate((head.verts, head.faces), speech[:16000], sample_rate=16000)
    by_arrays = animator.animate(head.verts, speech[:16000], faces=head.faces, sample_rate=16000)
    by_path = animator.animate(path, speech[:16000], sample_rate=16000)
    assert np.array_equal(by_tuple.frames, by_arrays.frames) and np.array_equal(by_tuple.frames, by_path.frames)
    assert np.array_equal(by_tuple.faces, head.faces)
    with pytest.raises(ScanTalkError, match="tuple"):
        animator.animate((head.verts, head.faces), speech, faces=head.faces, sample_rate=16000)


@pytest.mark.slow
def test_millimetre_scan_in_another_vertex_order(animator, speech):
    head, _ = _head("decimated")
    order = np.random.default_rng(0).permutation(len(head.verts))
    inverse = np.argsort(order)
    verts_mm, faces = head.verts[order] * 1000.0, inverse[head.faces]
    animation = animator.animate(verts_mm, speech, faces=faces, sample_rate=16000)
    assert animation.meta["alignment"]["units"] == "millimetres"
    _check_valid(animation, verts_mm)
    # The same face in metres and file order moves the same way, up to units and order.
    reference = animator.animate(head.verts, speech, faces=head.faces, sample_rate=16000)
    in_metres = animation.frames[:, inverse] / 1000.0
    error = np.abs(in_metres - reference.frames).max()
    assert error < 0.1 * np.abs(reference.displacements).max(), error


@pytest.mark.slow
def test_animating_twice_gives_the_same_frames(animator, speech):
    head, _ = _head("coarse")
    first = animator.animate(head.verts, speech[:16000], faces=head.faces, sample_rate=16000)
    second = animator.animate(head.verts, speech[:16000], faces=head.faces, sample_rate=16000)
    assert np.array_equal(first.frames, second.frames)


def test_emotion_options(speech):
    head, _ = _head("coarse")
    emotional = Animator(ScanTalk(k_eig=16, emotion={"embed_dim": 8}), device="cpu", cache_dir=False)
    with pytest.raises(ScanTalkError, match="known emotions: afraid"):
        emotional.animate(head.verts, speech, faces=head.faces, sample_rate=16000, emotion="ecstatic")
    with pytest.raises(ScanTalkError, match=r"outside \[0, 1\]"):
        emotional.animate(head.verts, speech, faces=head.faces, sample_rate=16000, emotion="happy", intensity=1.5)
    plain = Animator(ScanTalk(k_eig=16), device="cpu", cache_dir=False)
    with pytest.raises(ScanTalkError, match="no emotion head"):
        plain.animate(head.verts, speech, faces=head.faces, sample_rate=16000, emotion="happy")


@pytest.mark.slow
def test_bad_faces_and_audio_are_clear_errors(animator, speech, tmp_path):
    head, _ = _head("coarse")
    (tmp_path / "garbage.ply").write_bytes(b"\x00\x01 not a mesh")
    with pytest.raises(MeshError, match="garbage.ply"):
        animator.animate(tmp_path / "garbage.ply", speech, sample_rate=16000)
    with pytest.raises(MeshError, match="missing.obj"):
        animator.animate(tmp_path / "missing.obj", speech, sample_rate=16000)
    with pytest.raises(AudioError, match="missing.wav"):
        animator.animate(head.verts, tmp_path / "missing.wav", faces=head.faces)
    sf.write(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(AudioError, match="silent.wav"):
        animator.animate(head.verts, tmp_path / "silent.wav", faces=head.faces)
    sf.write(tmp_path / "short.wav", speech[:160], 16000)  # 10 ms
    with pytest.raises(AudioError, match="short.wav"):
        animator.animate(head.verts, tmp_path / "short.wav", faces=head.faces)


def test_checkpoints_of_other_models_are_refused(tmp_path):
    import torch

    torch.save({"state_dict": {"layer.weight": torch.zeros(2)}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="another model"):
        Animator.from_checkpoint(tmp_path / "other.ckpt")
    (tmp_path / "broken.ckpt").write_bytes(DEFAULT_CHECKPOINT.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupted"):
        Animator.from_checkpoint(tmp_path / "broken.ckpt")
    with pytest.raises(CheckpointError, match="does not exist"):
        Animator.from_checkpoint(tmp_path / "nowhere.ckpt")


@pytest.mark.slow
def test_long_audio_is_seamless(animator, speech):
    """Windows of 1 s cross-faded over 0.2 s give the same motion as one pass, without jumps."""
    head, lips = _head("coarse")
    whole = animator.animate(head.verts, speech, faces=head.faces, sample_rate=16000)
    windowed_animator = Animator(animator.model, recipe=animator.recipe, device="cpu", cache_dir=False,
                                 window_seconds=1.0, overlap_seconds=0.2)
    windowed = windowed_animator.animate(head.verts, speech, faces=head.faces, sample_rate=16000)
    lip_track = windowed.frames[:, lips].mean(1)
    jumps = np.linalg.norm(np.diff(lip_track, axis=0), axis=-1)
    reference_jumps = np.linalg.norm(np.diff(whole.frames[:, lips].mean(1), axis=0), axis=-1)
    assert jumps.max() < 2.0 * reference_jumps.max() + 1e-5
    assert np.abs(windowed.frames - whole.frames).max() < 0.5 * np.abs(whole.displacements).max()
