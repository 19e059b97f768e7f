"""Real faces (james scan, MediaPipe canonical) in FLAME's frame, and the identities warped from them."""

from __future__ import annotations

import numpy as np
import pytest

from scantalk.synthesis.heads import real
from scantalk.synthesis.heads.real import IdentityWarp, deformed_identity, flipped_triangles, real_identities
from scantalk.errors import DatasetError, ScanTalkError
from scantalk.face import samples
from scantalk.face.head import Head
from scantalk.face.samples import HELD_OUT_FACE, REAL_FACES, real_face

SURFACE_LANDMARKS = ("mouth_left", "mouth_right", "upper_lip", "lower_lip", "chin", "nose_tip")


@pytest.fixture(scope="module", params=REAL_FACES)
def face(request) -> Head:
    return real_face(request.param)


def assert_face_like(head: Head) -> None:
    """A frontal, upright, adult-sized face in FLAME's frame (metres, y up, +z forward)."""
    marks = head.landmarks
    assert 0.04 <= marks.mouth_width <= 0.065
    assert 0.12 <= np.ptp(head.verts[:, 0]) <= 0.24
    # The nose tip is the most forward point, on the midline.
    assert marks.nose_tip[2] >= head.verts[:, 2].max() - 0.002
    assert abs(marks.nose_tip[0]) < 0.006
    eyes_y = 0.5 * (marks.eye_left[1] + marks.eye_right[1])
    assert marks.chin[1] < marks.lower_lip[1] < marks.mouth_centre[1] < marks.upper_lip[1] < marks.nose_tip[1] < eyes_y
    assert marks.eye_left[0] > 0.02 and marks.eye_right[0] < -0.02          # x > 0 is the head's left
    assert marks.mouth_left[0] > 0 > marks.mouth_right[0]
    assert marks.jaw_hinge_left[0] > 0 > marks.jaw_hinge_right[0]
    assert 0.05 < marks.upper_lip[2] - marks.jaw_hinge[2] < 0.11          # condyles well behind the lips


def test_the_training_side_reads_the_sample_faces_from_their_one_home():
    assert (real.real_face, real.REAL_FACES, real.HELD_OUT_FACE) == (
        samples.real_face, samples.REAL_FACES, samples.HELD_OUT_FACE)


def test_real_faces_sit_in_flame_frame(face):
    assert_face_like(face)
    marks = face.landmarks
    assert marks.mouth_centre[1] == pytest.approx(-0.04, abs=0.003)
    assert 0.08 <= marks.upper_lip[2] <= 0.1
    assert face.faces.dtype == np.int64 and face.faces.max() < face.num_vertices
    assert face.parts.shape == (face.num_vertices,) and not face.parts.any()


def test_landmarks_on_surface_and_hinges_eyes_inside(face):
    marks = face.landmarks
    for name in SURFACE_LANDMARKS:
        assert np.linalg.norm(face.verts - getattr(marks, name), axis=1).min() < 1e-3, name
    for name in ("eye_left", "eye_right", "jaw_hinge_left", "jaw_hinge_right"):
        point = getattr(marks, name)
        in_front = np.linalg.norm(face.verts[:, :2] - point[:2], axis=1) < 0.01
        assert in_front.any() and face.verts[in_front, 2].max() > point[2] + 0.004, f"{name} not under the skin"
    assert np.linalg.norm(face.verts - marks.jaw_hinge_left, axis=1).min() > 0.005
    level = np.abs(face.verts[:, 1] - marks.jaw_hinge[1]) < 0.01
    assert face.verts[level, 0].max() > marks.jaw_hinge_left[0] + 0.01   # the hinge is inside the face's width


def test_mouth_is_an_open_slit(face):
    upper, lower = face.meta["mouth_slit"]
    assert upper[0] == lower[0] and upper[-1] == lower[-1]                # the lips meet at the corners
    assert np.all(face.verts[upper[1:-1], 1] > face.verts[lower[1:-1], 1])  # and are apart between them
    edges = np.sort(face.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    boundary = {tuple(edge) for edge in unique[counts == 1]}
    for row in (upper, lower):
        assert all(tuple(sorted(edge)) in boundary for edge in zip(row[:-1], row[1:]))


def test_held_out_face_is_marked():
    assert HELD_OUT_FACE in REAL_FACES
    assert real_face(HELD_OUT_FACE).meta["held_out"]


def test_deformation_is_deterministic_and_varied(face):
    first, again, other = deformed_identity(face, 7), deformed_identity(face, 7), deformed_identity(face, 8)
    np.testing.assert_array_equal(first.verts, again.verts)
    np.testing.assert_array_equal(first.landmarks.as_array(), again.landmarks.as_array())
    difference = np.linalg.norm(first.verts - other.verts, axis=1)
    assert 0.001 < difference.mean() < 0.02                                # millimetres, not centimetres
    assert np.linalg.norm(first.verts - face.verts, axis=1).mean() > 0.001
    np.testing.assert_array_equal(first.faces, face.faces)


def test_deformed_identities_stay_faces_without_flips(face):
    widths = []
    for seed in range(8):
        head = deformed_identity(face, seed)
        assert_face_like(head)
        assert not flipped_triangles(face.verts, head.verts, face.faces).any()
        upper, lower = head.meta["mouth_slit"]
        assert np.all(head.verts[upper[1:-1], 1] > head.verts[lower[1:-1], 1])   # slit still open
        widths.append(head.landmarks.mouth_width)
    assert np.ptp(widths) > 0.002                                          # identities differ in proportions


def test_landmarks_track_the_warp(face):
    head = deformed_identity(face, 3)
    for name in SURFACE_LANDMARKS:
        vertex = int(np.argmin(np.linalg.norm(face.verts - getattr(face.landmarks, name), axis=1)))
        np.testing.assert_allclose(getattr(head.landmarks, name), head.verts[vertex], atol=1e-12)
    warp = IdentityWarp(**{key: np.asarray(value) if isinstance(value, list) else value
                           for key, value in head.meta["warp"].items()})
    np.testing.assert_allclose(head.landmarks.as_array(), warp(face.landmarks.as_array()), atol=1e-12)


def test_zero_strength_is_the_same_face(face):
    head = deformed_identity(face, 5, strength=0.0)
    np.testing.assert_allclose(head.verts, face.verts, atol=1e-12)


def test_real_identities_keep_the_held_out_face_out():
    heads = real_identities(4, seed=1)
    assert [head.meta["source"] for head in heads] == ["mediapipe"] * 4
    assert len({head.name for head in heads}) == 4
    both = real_identities(4, seed=1, held_out=None)
    assert [head.meta["source"] for head in both] == ["james", "mediapipe", "james", "mediapipe"]
    np.testing.assert_array_equal(real_identities(2, seed=1)[1].verts, heads[1].verts)


def test_bad_arguments_raise_project_errors():
    with pytest.raises(ScanTalkError, match="unknown real face 'bob'"):
        real_face("bob")
    with pytest.raises(DatasetError, match="held_out"):
        real_identities(2, held_out="bob")
    with pytest.raises(DatasetError, match="strength"):
        deformed_identity(real_face("mediapipe"), 0, strength=-1.0)


def test_every_meshing_of_a_head_gets_the_same_warp(face):
    # The warp is placed from landmarks only, so a point cloud (or remeshing) of the same head
    # lands on the same deformed surface as the mesh itself.
    points = face.with_geometry(face.verts[::3].copy(), None, None, "points")
    np.testing.assert_allclose(deformed_identity(points, 11).verts, deformed_identity(face, 11).verts[::3], atol=1e-12)
