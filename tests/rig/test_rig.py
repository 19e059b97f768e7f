"""The landmark rig: linear in its basis, anatomical magnitudes, the same motion on every meshing."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import pytest

from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.synthesis.heads import procedural_head
from scantalk.synthesis.heads.meshing import cluster_vertices, decimate, point_cloud, punch_holes, subdivide
from scantalk.face.head import PARTS
from scantalk.rig.rig import (
    RIG_INPUTS, SEALED_JAW, RigError, lip_opening, lip_vertices, region_masks, rig_basis, rig_displacement, sealed,
)

CHANNEL = {name: i for i, name in enumerate(ARTICULATION_CHANNELS)}


@pytest.fixture(scope="module")
def head():
    return procedural_head(2)


def _pose(**channels) -> np.ndarray:
    a = np.zeros((1, len(ARTICULATION_CHANNELS)))
    for name, value in channels.items():
        a[0, CHANNEL[name]] = value
    return a


def _motion_mm(head, **channels) -> np.ndarray:
    return 1000.0 * np.linalg.norm(rig_displacement(head, _pose(**channels))[0], axis=1)


def test_displacement_is_exactly_linear_in_the_basis(head):
    basis = rig_basis(head)
    assert basis.shape == (head.num_vertices, len(RIG_INPUTS), 3) and RIG_INPUTS[-1] == "jaw_open_sq"
    track = np.random.default_rng(0).uniform(-0.2, 1.0, (7, 5))
    expected = np.einsum("tc,vcx->tvx", track, basis[:, :5]) + track[:, 0, None, None] ** 2 * basis[None, :, 5]
    assert np.allclose(rig_displacement(head, track), expected, rtol=0, atol=1e-12)


def test_jaw_open_drops_lips_and_chin_and_leaves_the_rest_still(head):
    d = 1000.0 * rig_displacement(head, _pose(jaw_open=1.0))[0]
    upper, lower = lip_vertices(head)
    chin = np.argmin(np.linalg.norm(head.verts - head.landmarks.chin, axis=1))
    assert 14.0 <= np.linalg.norm(d[lower]) <= 20.0 and d[lower, 1] < -11.0
    assert 19.0 <= np.linalg.norm(d[chin]) <= 24.5 and d[chin, 1] < -13.0
    # The upper lip lifts a little off the lower one (the lips part at the front, not only the jaw).
    assert 1.5 <= d[upper, 1] <= 4.0 and np.linalg.norm(d[upper]) < 4.0
    motion = np.linalg.norm(d, axis=1)
    masks = region_masks(head)
    neck_bottom = head.verts[:, 1] < head.verts[:, 1].min() + 0.02
    ears = np.abs(head.verts[:, 0]) > 0.07
    assert motion[masks["upper_face"]].max() < 0.5
    assert motion[neck_bottom].max() < 0.25 and motion[ears].max() < 1.5
    assert motion[head.parts == PARTS["eyeball"]].max() == 0.0
    # Skin stretches: between the still cheekbone and the moving jaw the motion varies smoothly.
    cheek = (np.abs(head.verts[:, 0]) > 0.045) & (head.verts[:, 2] > 0.02) & (head.verts[:, 2] < 0.06)
    assert 1.0 < motion[cheek].max() < 14.0


def test_lip_close_closes_the_rest_gap_whatever_the_jaw_asks(head):
    rest = lip_opening(head, np.zeros((1, *head.verts.shape)), relative=True)[0]
    assert rest == pytest.approx(0.0, abs=1e-12)
    gap = head.meta["rest_lip_gap"]
    jaw = lip_opening(head, rig_displacement(head, _pose(jaw_open=0.2)), relative=True)[0]
    assert jaw > 0.002
    # Sealed lips carry the jaw to SEALED_JAW, whatever opening the track asked for; the slit's
    # own gap (rest + that jaw) is gone and the lips just meet, a fraction of a millimetre past.
    for asked in (0.0, 0.2, 0.6):
        pose = sealed(_pose(jaw_open=asked, lip_close=1.0))
        assert pose[0, 0] == pytest.approx(SEALED_JAW)
        closed = lip_opening(head, rig_displacement(head, pose), relative=True)[0]
        assert -(gap + 0.001) < closed + gap < 0.0
    frames = head.verts + rig_displacement(head, _pose(lip_close=1.0))
    assert lip_opening(head, frames)[0] == pytest.approx(lip_opening(head, frames - head.verts)[0])


def test_round_spread_and_labiodental_move_the_lips_as_named(head):
    upper, lower = lip_vertices(head)
    left = np.argmin(np.linalg.norm(head.verts - head.landmarks.mouth_left, axis=1))
    rnd = 1000.0 * rig_displacement(head, _pose(lip_round=1.0))[0]
    assert 5.0 <= rnd[upper, 2] <= 7.5 and 5.0 <= rnd[lower, 2] <= 7.5 and rnd[left, 0] < -4.0
    spread = 1000.0 * rig_displacement(head, _pose(lip_spread=1.0))[0]
    assert spread[left, 0] > 3.0 and spread[left, 2] < -1.0 and 4.0 <= np.linalg.norm(spread[left]) <= 7.0
    lab = 1000.0 * rig_displacement(head, _pose(labiodental=1.0))[0]
    assert lab[lower, 1] > 3.0 and lab[lower, 2] < -3.0 and np.linalg.norm(lab[upper]) < 0.3


def _interpolated(head, field, points):
    """field (V, C) of `head` at surface points (N, 3): barycentric on the closest triangle."""
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(head.verts.astype(np.float32)), o3d.core.Tensor(head.faces.astype(np.uint32)))
    hit = scene.compute_closest_points(o3d.core.Tensor(points.astype(np.float32)))
    tri = head.faces[hit["primitive_ids"].numpy().astype(np.int64)]
    uv = hit["primitive_uvs"].numpy().astype(np.float64)
    weights = np.column_stack([1.0 - uv.sum(axis=1), uv])
    return np.einsum("nk,nkc->nc", weights, field[tri])


@pytest.mark.slow
@pytest.mark.parametrize("remesh", ["decimated", "subdivided", "clustered", "point_cloud"])
def test_every_meshing_moves_the_same_at_the_same_surface_point(head, remesh):
    rng = np.random.default_rng(4)
    other = {"decimated": lambda h: decimate(h, 6000), "subdivided": lambda h: subdivide(h, "midpoint"),
             "clustered": lambda h: cluster_vertices(h, 0.004), "point_cloud": lambda h: point_cloud(h, rng, 8000)}[remesh](head)
    track = np.eye(5)
    mine = rig_displacement(other, track)
    reference = _interpolated(head, rig_displacement(head, track).transpose(1, 0, 2).reshape(head.num_vertices, -1),
                              other.verts).reshape(other.num_vertices, 5, 3).transpose(1, 0, 2)
    error = np.linalg.norm(mine - reference, axis=2)
    peak = np.linalg.norm(rig_displacement(head, track), axis=2).max(axis=1)
    assert (np.percentile(error, 99, axis=1) < 0.1 * peak).all(), np.percentile(error, 99, axis=1) / peak
    assert (np.median(error, axis=1) < 0.01 * peak).all()


def test_rig_works_on_a_face_with_holes_and_a_point_cloud(head):
    for variant in (punch_holes(head, np.random.default_rng(1), 4), point_cloud(head, np.random.default_rng(2), 5000)):
        d = _motion_mm(variant, jaw_open=1.0)
        assert np.isfinite(d).all() and 10.0 < d.max() < 24.0
        opening = lip_opening(variant, rig_displacement(variant, _pose(jaw_open=1.0)), relative=True)[0]
        assert 0.012 < opening < 0.024


def test_bad_articulation_is_a_clear_error(head):
    with pytest.raises(RigError, match=r"\(T, 5\)"):
        rig_displacement(head, np.zeros((3, 4)))
