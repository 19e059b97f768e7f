"""Finding which way a stored face looks, and its nose, from the geometry alone."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from scantalk.face import alignment
from scantalk.face.alignment import Alignment, aligned_template, fit_alignment, nose_tip
from scantalk.face.orientation import Orientation, OrientationError, find_orientation
from scantalk.face.samples import real_face
from scantalk.synthesis.heads import procedural_head
from scantalk.synthesis.heads.meshing import crop_face, decimate, point_cloud

# The 24 proper rotations that permute and flip the axes: model frame → how a file may store it.
AXIS_ROTATIONS = np.round(Rotation.create_group("O").as_matrix())
UNITS = (1.0, 100.0, 1000.0)  # metres, centimetres, millimetres


def _sphere(centre, radii, resolution: int = 16):
    import open3d as o3d

    sphere = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=resolution)
    return np.asarray(sphere.vertices) * radii + centre, np.asarray(sphere.triangles).astype(np.int64)


def _with_part(head, verts, faces, name):
    return dataclasses.replace(head, verts=np.concatenate([head.verts, verts]),
                               faces=np.concatenate([head.faces, faces + len(head.verts)]), name=f"{head.name}/{name}")


def _bust(head):
    """The head with its neck stretched to three times its length, standing on shoulders."""
    chin = head.landmarks.chin[1] - 0.02
    verts = head.verts.copy()
    below = verts[:, 1] < chin
    verts[below, 1] = chin - 3.0 * (chin - verts[below, 1])
    stretched = dataclasses.replace(head, verts=verts)
    return _with_part(stretched, *_sphere([0.0, verts[:, 1].min() - 0.03, -0.04], [0.2, 0.08, 0.11]), "bust")


def _hair_cap(head):
    """A separate shell of hair 1 cm over the top and back of the skull."""
    top = head.verts[:, 1].max()
    verts, faces = _sphere([0.0, top - 0.09, -0.015], [0.09, 0.1, 0.11], resolution=24)
    keep = (verts[:, 1] > top - 0.08) | (verts[:, 2] < -0.05)
    index = np.cumsum(keep) - 1
    return _with_part(head, verts[keep], index[faces[keep[faces].all(axis=1)]], "hair")


def _big_chin(head):
    """A sculpted character: the chin pushed 3.5 cm forward, beyond the nose."""
    chin = head.landmarks.chin
    weight = np.exp(-np.sum((head.verts - chin) ** 2, axis=1) / (2 * 0.018 ** 2))
    verts = head.verts + 0.035 * weight[:, None] * np.array([0.0, 0.0, 1.0])
    return dataclasses.replace(head, verts=verts, name=f"{head.name}/big-chin")


@pytest.fixture(scope="module")
def heads():
    procedural = [procedural_head(seed, resolution=0.005) for seed in (900000, 900001)]
    return {"procedural": procedural[0], "decimated": decimate(procedural[1], 3000),
            "james": real_face("james"), "mediapipe": real_face("mediapipe")}


@pytest.fixture(scope="module")
def odd_heads():
    base = [procedural_head(seed, resolution=0.005) for seed in (900002, 900003, 900004)]
    return {"bust": _bust(base[0]), "crop": crop_face(base[1]),
            "points": point_cloud(base[2], np.random.default_rng(0)),
            "hair": _hair_cap(base[1]), "big_chin": _big_chin(base[2])}


def _angle_degrees(rotation: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0))))


def _stored(head, turn: np.ndarray, units: float = 1.0) -> tuple[np.ndarray, np.ndarray | None]:
    """The head as a file stores it: turned by `turn` (model → file) and in other units."""
    return head.verts @ turn.T * units, head.faces


@pytest.mark.slow
@pytest.mark.parametrize("index", range(24))
def test_every_axis_aligned_orientation_is_found_exactly(heads, index):
    turn = AXIS_ROTATIONS[index]
    for number, (name, head) in enumerate(heads.items()):
        units = UNITS[(index + number) % 3]
        found = find_orientation(*_stored(head, turn, units), name=name)
        assert np.array_equal(found.rotation @ turn, np.eye(3)), (name, found.description, found.cues)
        assert found.tilt_degrees == 0.0 and found.confidence > alignment.MIN_FRAME_CONFIDENCE
        assert np.linalg.norm(found.nose_tip / units @ turn - head.landmarks.nose_tip) < 0.008


@pytest.mark.slow
def test_a_tilted_face_is_stood_up_within_a_few_degrees(heads):
    rng = np.random.default_rng(7)
    for name in ("procedural", "james"):
        for _ in range(3):
            axis = rng.normal(size=3)
            tilt = Rotation.from_rotvec(axis / np.linalg.norm(axis) * np.radians(rng.uniform(12.0, 20.0)))
            turn = AXIS_ROTATIONS[rng.integers(24)] @ tilt.as_matrix()
            found = find_orientation(*_stored(heads[name], turn, 1000.0))
            assert _angle_degrees(found.rotation @ turn) < 6.0, (name, found.description)
            assert "tilt" in found.description and found.confidence >= alignment.MIN_TILT_CONFIDENCE


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bust", "crop", "points", "hair", "big_chin"])
def test_busts_crops_clouds_hair_and_caricatures_are_found(odd_heads, kind):
    head = odd_heads[kind]
    for index in (0, 9, 17):  # upright, and two other ways
        turn = AXIS_ROTATIONS[index]
        found = find_orientation(*_stored(head, turn, 1000.0), name=kind)
        assert _angle_degrees(found.rotation @ turn) < 1e-6, (kind, index, found.description, found.cues)
        assert found.confidence > alignment.MIN_FRAME_CONFIDENCE
        assert np.linalg.norm(found.nose_tip / 1000.0 @ turn - head.landmarks.nose_tip) < 0.01


@pytest.mark.slow
def test_the_nose_tip_is_the_nose_and_not_a_chin_that_juts_out_beyond_it(odd_heads):
    head = odd_heads["big_chin"]
    landmarks = head.landmarks
    chin_front = head.verts[np.argmax(head.verts[:, 2])]
    assert np.linalg.norm(chin_front - landmarks.chin) < 0.04  # the premise: the most forward point is the chin
    tip = nose_tip(head.verts)
    assert np.linalg.norm(tip - landmarks.nose_tip) < 0.005
    # Anchored at the nose, the face lands where its nose is, not 7 cm lower.
    reference = np.array([0.0, 0.0, 0.1])
    template, _ = aligned_template(head.verts, "auto", reference_center=reference, anchor="nose", faces=head.faces)
    assert np.linalg.norm(template[np.argmin(np.linalg.norm(head.verts - landmarks.nose_tip, axis=1))]
                          - reference) < 0.006


def _old_nose_tip(verts: np.ndarray) -> np.ndarray:
    """The nose tip before this module: the mean of the most forward 0.2 % of the points."""
    front = verts[np.argsort(verts[:, 2])[-max(5, len(verts) // 500):]]
    return np.array([0.5 * (verts[:, 0].max() + verts[:, 0].min()), front[:, 1].mean(), front[:, 2].mean()])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["procedural", "james", "mediapipe"])
def test_upright_faces_keep_their_exact_bytes(heads, name):
    """An upright face gives the very template (and so the cache key) it gave before orientations
    were looked for, with and without its triangles, in metres and in millimetres."""
    head = heads[name]
    assert np.array_equal(nose_tip(head.verts), _old_nose_tip(head.verts))
    reference = np.array([0.0, -0.01, 0.1])
    for units in (1.0, 1000.0):
        verts = head.verts * units
        for anchor in ("bbox", "nose"):
            metres = verts * (0.001 if units > 1.0 else 1.0)
            centre = _old_nose_tip(metres) if anchor == "nose" else 0.5 * (metres.max(0) + metres.min(0))
            expected = (metres + (reference - centre)).astype(np.float32).astype(np.float64)
            for faces in (head.faces, None):
                template, found = aligned_template(verts, "auto", reference_center=reference, anchor=anchor,
                                                   faces=faces)
                assert found.frame == "found: up=+y forward=+z" and np.array_equal(found.rotation, np.eye(3))
                assert template.tobytes() == expected.tobytes()


@pytest.mark.slow
def test_a_found_frame_maps_the_file_back_exactly_and_is_recorded(heads):
    head = heads["james"]
    turn = AXIS_ROTATIONS[5]
    verts = head.verts @ turn.T * 1000.0
    found = fit_alignment(verts, "auto", name="james.obj", faces=head.faces)
    assert np.allclose(found.to_model(verts) - found.offset, head.verts, atol=1e-9)
    assert np.allclose(found.to_file(found.to_model(verts)), verts)
    record = found.as_dict()
    assert record["frame"].startswith("found: up=") and record["frame_confidence"] > 0.5
    given = fit_alignment(verts, "auto", up=found.frame.split("up=")[1].split()[0],
                          forward=found.frame.split("forward=")[1].split()[0])
    assert np.array_equal(given.rotation, found.rotation)  # the same bytes as naming the axes by hand
    old = {key: value for key, value in record.items() if key not in ("frame", "frame_confidence")}
    assert Alignment(**old).frame_confidence == 1.0  # an alignment saved before still loads


def test_up_and_forward_still_override(heads, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the orientation was looked for although the axes were given")

    monkeypatch.setattr(alignment, "find_orientation", refuse)
    head = heads["procedural"]
    given = fit_alignment(head.verts, "auto", up="z", forward="-y")
    assert given.frame == "given: up=z forward=-y" and given.frame_confidence == 1.0


def test_an_unsure_frame_keeps_the_file_as_stored_and_says_what_to_pass(heads, monkeypatch):
    unsure = Orientation(rotation=AXIS_ROTATIONS[3], confidence=0.1, description="up=+z forward=-y", up="+z",
                         forward="-y", tilt_degrees=0.0, nose_tip=np.zeros(3), symmetry_error=0.01)
    monkeypatch.setattr(alignment, "find_orientation", lambda *args, **kwargs: unsure)
    with pytest.warns(UserWarning, match=r"scan\.ply: unsure which way.*up='\+z', forward='-y'"):
        kept = fit_alignment(heads["procedural"].verts, "auto", name="scan.ply")
    assert np.array_equal(kept.rotation, np.eye(3)) and kept.frame.startswith("as stored")


def test_something_that_is_not_a_face_is_said_so():
    rng = np.random.default_rng(0)
    ball = rng.normal(size=(2000, 3))
    ball = 0.1 * ball / np.linalg.norm(ball, axis=1, keepdims=True)
    with pytest.raises(OrientationError, match="ball.ply: no nose-like protrusion"):
        find_orientation(ball, name="ball.ply")
    with pytest.raises(OrientationError, match="at least 50"):
        find_orientation(ball[:10], name="ball.ply")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = fit_alignment(ball, "auto", name="ball.ply")
    assert any("ball.ply" in str(w.message) and "up=" in str(w.message) for w in caught)
    assert np.array_equal(kept.rotation, np.eye(3)) and kept.frame_confidence == 0.0
