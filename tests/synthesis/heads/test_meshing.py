"""Meshing variants keep the surface, the landmarks and the part labels of the head."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import pytest

from scantalk.synthesis.heads import MESHING_KINDS, PARTS, meshing_variants, procedural_head
from scantalk.synthesis.heads.meshing import MeshingError, decimate, permute, point_cloud, sample_surface


@pytest.fixture(scope="module")
def head():
    return procedural_head(5, resolution=0.004)


@pytest.fixture(scope="module")
def variants(head):
    return dict(zip(MESHING_KINDS, meshing_variants(head, np.random.default_rng(0))))


def _distance_to(verts, faces, points):
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(verts.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
    return scene.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy()


def test_every_variant_keeps_the_shape_landmarks_and_parts(head, variants):
    reference = sample_surface(head, np.random.default_rng(1), 20_000)
    for kind, variant in variants.items():
        assert variant.name.startswith(head.name + "/") and variant.name != head.name
        assert np.array_equal(variant.landmarks.as_array(), head.landmarks.as_array())
        # Every variant point lies on the original surface (noise: within a few sigma).
        off = _distance_to(head.verts, head.faces, variant.verts)
        assert np.percentile(off, 99) < (0.0025 if kind == "noisy" else 0.001), kind
        if kind != "face_crop" and variant.faces is not None:
            # ...and the variant still covers the whole original surface (a small Hausdorff distance).
            missing = _distance_to(variant.verts, variant.faces, reference)
            assert np.percentile(missing, 99) < 0.002, kind
        eyes = variant.verts[variant.parts == PARTS["eyeball"]]
        lm = head.landmarks
        if kind != "face_crop":
            to_eye = np.linalg.norm(eyes[:, None] - np.stack([lm.eye_left, lm.eye_right]), axis=2).min(axis=1)
            assert len(eyes) > 0 and to_eye.max() < 0.0135, kind


def test_variants_have_other_vertex_counts_and_orders(head, variants):
    assert variants["decimated"].num_vertices < 0.7 * head.num_vertices
    assert variants["subdivided"].num_vertices > 3 * head.num_vertices
    assert variants["clustered"].num_vertices != head.num_vertices
    assert variants["point_cloud"].faces is None
    assert not np.array_equal(variants["permuted"].verts, head.verts)


def test_permutation_keeps_every_triangle(head):
    moved = permute(head, np.random.default_rng(3))
    as_points = lambda h: np.sort(np.sort(h.verts[h.faces].reshape(len(h.faces), -1), axis=1), axis=0)  # noqa: E731
    assert np.allclose(as_points(moved), as_points(head))
    assert np.array_equal(np.sort(moved.parts), np.sort(head.parts))


def test_holes_avoid_the_lips_and_open_the_surface(head, variants):
    holed = variants["holes"]
    assert len(holed.faces) < len(head.faces)
    lost = _distance_to(holed.verts, holed.faces, head.verts)
    near_mouth = np.linalg.norm(head.verts - head.landmarks.mouth_centre, axis=1) < 0.03
    assert lost[near_mouth].max() < 1e-6 and lost.max() > 0.003


def test_face_crop_keeps_only_the_front(head, variants):
    crop = variants["face_crop"]
    assert crop.num_vertices < 0.6 * head.num_vertices
    assert crop.verts[:, 2].min() > head.landmarks.jaw_hinge[2]


def test_point_cloud_cannot_be_decimated(head):
    cloud = point_cloud(head, np.random.default_rng(0), 2000)
    with pytest.raises(MeshingError, match="point cloud"):
        decimate(cloud, 1000)
    with pytest.raises(MeshingError, match="unknown"):
        meshing_variants(head, np.random.default_rng(0), kinds=("melted",))
