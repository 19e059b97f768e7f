import numpy as np
import pytest

from scantalk.errors import ScanTalkError
from scantalk.face.alignment import axes_rotation, fit_alignment


def _head(rng: np.random.Generator) -> np.ndarray:
    # An ellipsoid about 0.16 x 0.22 x 0.2 m, centred away from the origin. It has no face to find
    # its orientation from, so the tests below name its axes (y up, facing +z).
    directions = rng.normal(size=(500, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return directions * np.array([0.08, 0.11, 0.10]) + np.array([0.3, -0.2, 1.0])


def test_millimetre_scan_is_scaled_to_metres_and_maps_back_exactly():
    head_m = _head(np.random.default_rng(0))
    head_mm = head_m * 1000.0
    alignment = fit_alignment(head_mm, "auto", up="y", forward="z")
    aligned = alignment.to_model(head_mm)
    assert alignment.units == "millimetres"
    assert np.allclose(aligned.max(0) - aligned.min(0), head_m.max(0) - head_m.min(0))
    assert np.allclose(0.5 * (aligned.max(0) + aligned.min(0)), 0.0, atol=1e-12)
    assert np.allclose(alignment.to_file(aligned), head_mm)


def test_reference_center_is_where_the_face_lands():
    head = _head(np.random.default_rng(1))
    alignment = fit_alignment(head, "auto", up="y", forward="z", reference_center=np.array([0.0, 0.01, 0.02]))
    aligned = alignment.to_model(head)
    assert np.allclose(0.5 * (aligned.max(0) + aligned.min(0)), [0.0, 0.01, 0.02])


def test_z_up_file_is_rotated_to_y_up():
    rotation = axes_rotation(up="z", forward="-y")
    assert np.allclose(rotation @ [0, 0, 1], [0, 1, 0])
    assert np.allclose(rotation @ [0, -1, 0], [0, 0, 1])
    assert np.isclose(np.linalg.det(rotation), 1.0)
    head = _head(np.random.default_rng(2))
    alignment = fit_alignment(head, "auto", up="z", forward="-y")
    assert np.allclose(alignment.to_file(alignment.to_model(head)), head)


def test_implausible_size_warns_with_the_option_to_set():
    huge = _head(np.random.default_rng(3)) * 40.0  # about 8 m across: no unit guess makes it a head
    with pytest.warns(UserWarning, match="align"):
        fit_alignment(huge, "none")


@pytest.mark.parametrize("units", [1.0, 1000.0])
def test_a_stray_triangle_far_away_changes_neither_units_nor_placement_and_is_reported(units):
    head = _head(np.random.default_rng(4)) * units
    clean = fit_alignment(head, "auto", up="y", forward="z")
    stray = np.vstack([head, head[:3] + np.array([5.0, 0.0, 0.0]) * units])  # left 5 m away
    with pytest.warns(UserWarning, match="3 of its 503 vertices lie far from the rest"):
        found = fit_alignment(stray, "auto", up="y", forward="z")
    assert found.units == clean.units and found.scale == clean.scale
    np.testing.assert_allclose(found.offset, clean.offset, atol=1e-12)


def test_bad_axes_and_modes_are_clear_errors():
    head = _head(np.random.default_rng(4))
    with pytest.raises(ScanTalkError, match="different axes"):
        fit_alignment(head, "auto", up="y", forward="-y")
    with pytest.raises(ScanTalkError, match="unknown axis"):
        fit_alignment(head, "auto", up="w")
    with pytest.raises(ScanTalkError, match="align must be"):
        fit_alignment(head, "sideways")


def test_nose_anchor_places_a_face_crop_where_its_full_head_goes():
    """A face-only scan and the full head it was cut from land on the same surface with the nose
    anchor (a model that reads positions sees the mouth where it learned it); the bounding box
    centre moves the crop by centimetres."""
    from scantalk.face.alignment import aligned_template
    from scantalk.face.samples import real_face

    head = real_face("mediapipe")
    full = np.concatenate([head.verts, head.verts * [1.0, 1.0, -1.0] - [0.0, 0.0, 0.02]])  # a back of the head
    reference = np.array([0.0, -0.01, 0.1])
    full_t, _ = aligned_template(full * 1000.0, "auto", reference_center=reference, anchor="nose")
    crop_t, _ = aligned_template(head.verts * 1000.0, "auto", reference_center=reference, anchor="nose")
    assert np.abs(full_t[: len(head.verts)] - crop_t).max() < 1e-4
    bbox_full, _ = aligned_template(full * 1000.0, "auto", reference_center=reference)
    bbox_crop, _ = aligned_template(head.verts * 1000.0, "auto", reference_center=reference)
    assert np.abs(bbox_full[: len(head.verts)] - bbox_crop).max() > 0.01
