"""Procedural heads: anatomical, closed, varied, with landmarks on the skin."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import pytest

from scantalk.synthesis.heads import PARTS, procedural_head
from scantalk.errors import ScanTalkError


@pytest.fixture(scope="module")
def head():
    return procedural_head(3)


def _scene(verts, faces):
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(verts.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
    return scene


def _edge_counts(faces):
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    return np.unique(edges, axis=0, return_counts=True)[1]


def test_closed_manifold_skin_and_two_separate_eyeballs(head):
    assert 5_000 <= head.num_vertices <= 30_000
    counts = _edge_counts(head.faces)
    assert (counts == 2).all(), "every edge of skin and eyeballs is shared by exactly two triangles"
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(head.verts), o3d.utility.Vector3iVector(head.faces))
    clusters, sizes, _ = mesh.cluster_connected_triangles()
    assert len(sizes) == 3  # skin + two eyeballs
    eyes = head.parts == PARTS["eyeball"]
    assert eyes.sum() > 0 and (head.parts[~eyes] == PARTS["skin"]).all()
    # The eyeballs sit in their sockets without touching the skin.
    skin_faces = head.faces[~eyes[head.faces].any(axis=1)]
    gap = _scene(head.verts, skin_faces).compute_distance(o3d.core.Tensor(head.verts[eyes].astype(np.float32))).numpy()
    assert gap.min() > 0.0005
    # Outward orientation: signed volume of the closed skin is positive.
    tri = head.verts[skin_faces]
    assert np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() > 0


def test_mouth_slit_separates_the_lips(head):
    lm = head.landmarks
    scene = _scene(head.verts, head.faces)
    slit_y = 0.5 * (lm.upper_lip[1] + lm.lower_lip[1])
    origins = np.array([[0.0, lm.upper_lip[1], 0.3], [0.0, slit_y, 0.3], [0.0, lm.lower_lip[1], 0.3]])
    rays = np.concatenate([origins, np.tile([0.0, 0.0, -1.0], (3, 1))], axis=1).astype(np.float32)
    hit_z = 0.3 - scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
    # Both lips are hit near the front; on the mouth line the ray enters the slit and cavity.
    assert abs(hit_z[0] - lm.upper_lip[2]) < 0.001 and abs(hit_z[2] - lm.lower_lip[2]) < 0.001
    assert hit_z[1] < min(hit_z[0], hit_z[2]) - 0.01
    assert 0.0025 <= head.meta["rest_lip_gap"] <= 0.004


def test_adult_proportions_in_flames_frame(head):
    skin = head.verts[head.parts == PARTS["skin"]]
    lm = head.landmarks
    above_ears = skin[np.abs(skin[:, 1] - (lm.eye_left[1] + 0.025)) < 0.003]  # the widest part of the skull
    assert 0.13 <= np.ptp(above_ears[:, 0]) <= 0.17
    assert 0.045 <= lm.mouth_width <= 0.055
    assert np.abs(0.5 * (skin.max(0) + skin.min(0))[[0, 2]]).max() < 0.02  # centred like FLAME
    assert lm.nose_tip[2] > lm.upper_lip[2] > lm.eye_left[2]  # face towards +z
    assert lm.eye_left[1] > lm.nose_tip[1] > lm.upper_lip[1] > lm.lower_lip[1] > lm.chin[1]  # y up
    assert lm.mouth_left[0] > 0 > lm.mouth_right[0]


def test_landmarks_lie_on_the_skin(head):
    lm = head.landmarks
    surface = np.stack([lm.mouth_left, lm.mouth_right, lm.upper_lip, lm.lower_lip, lm.chin, lm.nose_tip])
    distance = _scene(head.verts, head.faces).compute_distance(o3d.core.Tensor(surface.astype(np.float32))).numpy()
    assert distance.max() < 0.0006
    eyes = head.verts[head.parts == PARTS["eyeball"]]
    to_centre = np.linalg.norm(eyes[:, None] - np.stack([lm.eye_left, lm.eye_right]), axis=2).min(axis=1)
    assert np.allclose(to_centre, to_centre[0], atol=1e-4)  # the eye landmarks are the eyeball centres


@pytest.mark.slow
def test_seeds_give_different_people_and_the_same_seed_the_same_head():
    heads = [procedural_head(seed, resolution=0.005) for seed in range(4)]
    again = procedural_head(1, resolution=0.005)
    assert np.array_equal(again.verts, heads[1].verts)
    def proportions(h):
        lm = h.landmarks
        return np.array([lm.mouth_width, np.linalg.norm(lm.chin - lm.nose_tip), lm.nose_tip[2] - lm.upper_lip[2],
                         np.linalg.norm(lm.eye_left - lm.eye_right), lm.chin[2], h.verts[:, 1].min()])
    table = np.stack([proportions(h) for h in heads])
    spread = np.ptp(table, axis=0)
    assert (spread > 0.002).sum() >= 4, f"seeds should differ by millimetres in several proportions: {spread}"


def test_bad_resolution_is_a_clear_error():
    with pytest.raises(ScanTalkError, match="resolution"):
        procedural_head(0, resolution=0.05)


@pytest.mark.slow
def test_mouth_landmarks_sit_on_the_front_of_the_lips_even_on_a_mouth_open_at_rest():
    """Corners where the lips meet in front (not down the slit, inside the mouth); lip midpoints on
    the lips, even when a 10 mm gap at rest would let a search fall through into the mouth."""
    from dataclasses import replace

    from scantalk.synthesis.heads.procedural import sample_shape

    for gap in (0.003, 0.010):
        head = procedural_head(4, shape=replace(sample_shape(4), lip_gap=gap))
        lm = head.landmarks
        for corner in (lm.mouth_left, lm.mouth_right):
            nearby = np.abs(head.verts[:, 0] - corner[0]) < 0.002
            nearby &= np.abs(head.verts[:, 1] - corner[1]) < 0.006
            assert corner[2] > head.verts[nearby, 2].max() - 0.006  # the skin's front at the corner
        assert lm.upper_lip[1] - lm.lower_lip[1] > gap  # one on each lip, not both inside the gap
        assert min(lm.upper_lip[2], lm.lower_lip[2]) > max(lm.mouth_left[2], lm.mouth_right[2])


def test_stylised_shapes_go_beyond_the_adult_range_and_stay_heads():
    from scantalk.synthesis.heads.procedural import STYLISED_RANGES, sample_shape, stylised_shape
    from scantalk.rig.slit import mouth_slit

    shapes = [stylised_shape(seed) for seed in range(40)]
    assert stylised_shape(7) == shapes[7]
    adults = [sample_shape(seed) for seed in range(40)]
    for key in ("chin", "mouth_half_width", "nose_projection"):
        lo, hi = STYLISED_RANGES[key]
        assert min(getattr(s, key) for s in shapes) < min(getattr(s, key) for s in adults)
        assert max(getattr(s, key) for s in shapes) > max(getattr(s, key) for s in adults)
        assert all(lo <= getattr(s, key) for s in shapes if getattr(s, key) < getattr(adults[0], key) - 1.0)
    head = procedural_head(5, resolution=0.004, shape=shapes[5])
    assert mouth_slit(head).kind == "open"
