"""What a viewer sees of the mouth: a dark interior between parted lips, and a close-up large
enough to judge whether they part."""

from __future__ import annotations

import av
import numpy as np
import pytest

from scantalk.cli import main
from scantalk.errors import ScanTalkError
from scantalk.face.landmarks import LANDMARK_NAMES
from scantalk.face.samples import real_face
from scantalk.inference.animation import Animation
from scantalk.render import (Camera, FrameRenderer, mouth_camera, mouth_from_landmarks, mouth_from_motion,
                             render_animation, side_by_side)
from scantalk.render.cavity import enclosed_holes, outside_sign

DROP = 0.008  # metres the lower lip moves down: an open vowel


def open_mouth(head, drop: float = DROP) -> np.ndarray:
    """The head's verts (V, 3) with the lower lip and jaw moved down by up to `drop` metres: full
    at the middle of the slit, fading to nothing at the mouth corners and below the chin."""
    verts = head.verts.copy()
    upper, lower = head.meta["mouth_slit"]
    line = 0.5 * (verts[upper] + verts[lower])
    order = np.argsort(line[:, 0])
    slit_y = np.interp(verts[:, 0], line[order, 0], line[order, 1])
    across = np.clip(1.0 - ((verts[:, 0] - line[:, 0].mean()) / (0.5 * np.ptp(line[:, 0]))) ** 2, 0.0, 1.0)
    below = (verts[:, 1] < slit_y).astype(float)
    below[upper], below[lower[1:-1]] = 0.0, 1.0
    fade = np.exp(-(np.clip(slit_y - verts[:, 1], 0.0, None) / 0.05) ** 2)
    front = np.clip((verts[:, 2] - (line[:, 2].mean() - 0.05)) / 0.02, 0.0, 1.0)
    verts[:, 1] -= drop * across * below * fade * front
    return verts


@pytest.fixture(scope="module")
def face():
    """The MediaPipe face mask (468 vertices, no back, the mouth a hole) and its open-mouth pose."""
    head = real_face("mediapipe")
    return head, open_mouth(head)


def slit_point(head, verts: np.ndarray) -> np.ndarray:
    """(3,) midway between the inner upper and lower lip at the midline: inside the open mouth."""
    upper, lower = head.meta["mouth_slit"]
    middle = upper.shape[0] // 2
    return 0.5 * (verts[upper[middle]] + verts[lower[middle]])


def pixels_around(image: np.ndarray, camera: Camera, point: np.ndarray, radius: int = 1) -> np.ndarray:
    """The (k, 3) pixels of `image` in a square of `radius` around `point`'s projection."""
    pixels, _ = camera.project(point[None])
    col, row = pixels[0].astype(int)
    return image[row - radius : row + radius + 1, col - radius : col + radius + 1].reshape(-1, 3).astype(int)


def is_dark_red(pixels: np.ndarray) -> bool:
    """Dark (no channel above 70 of 255) and red-tinted: the mouth, not shadowed skin (grey-beige,
    red ≈ green) and not the light grey background."""
    return bool(np.all(pixels.max(axis=1) <= 70) and np.all(pixels[:, 0] >= 2 * pixels[:, 1]))


def test_parted_lips_show_a_dark_mouth_not_the_background(face):
    head, opened = face
    camera = Camera.framing(head.verts, 160)
    renderer = FrameRenderer(camera, head.faces, head.verts)
    inside = pixels_around(renderer(opened), camera, slit_point(head, opened))
    assert is_dark_red(inside)
    # Without the cavity the ray through the mask's mouth hits nothing: the background shows.
    plain = FrameRenderer(camera, head.faces, head.verts, cavity=False)
    assert np.all(pixels_around(plain(opened), camera, slit_point(head, opened)) == plain._background)


def test_the_inside_of_the_head_seen_through_the_lips_is_dark_not_lit_skin(face):
    head, opened = face
    # A back of the head: the mask again, 6 cm behind, wound so its outside faces backwards.
    back = opened - [0.0, 0.0, 0.06]
    verts = np.concatenate([opened, back])
    faces = np.concatenate([head.faces, head.faces[:, ::-1] + len(opened)])
    camera = Camera.framing(verts, 160)
    lit = FrameRenderer(camera, faces, verts, cull_backfaces=False, cavity=False)
    skin = pixels_around(lit(verts), camera, slit_point(head, opened))
    assert skin.max(axis=1).min() > 100  # the inside of the back is lit like the face
    dark = FrameRenderer(camera, faces, verts, cull_backfaces=False)
    assert is_dark_red(pixels_around(dark(verts), camera, slit_point(head, opened)))


def test_only_the_mouth_turns_dark_the_skin_is_untouched(face):
    head, _ = face
    camera = Camera.framing(head.verts, 96)
    with_cavity = FrameRenderer(camera, head.faces, head.verts)(head.verts)
    without = FrameRenderer(camera, head.faces, head.verts, cavity=False)(head.verts)
    rows, cols = np.nonzero(np.any(with_cavity != without, axis=-1))
    # MediaPipe's neutral lips rest 5 mm apart: that gap, and nothing else, turns dark red.
    assert 0 < len(rows) < 0.02 * 96 * 96
    assert is_dark_red(with_cavity[rows, cols])
    corners, _ = camera.project(np.stack([head.landmarks.mouth_left, head.landmarks.mouth_right]))
    assert corners[:, 0].min() <= cols.min() and cols.max() <= corners[:, 0].max()


def test_enclosed_holes_are_the_empty_pixels_the_outside_cannot_reach():
    covered = np.zeros((9, 12), dtype=bool)
    covered[1:8, 1:6] = True
    covered[3:6, 2:5] = False  # a mouth: enclosed
    covered[1:8, 7:11] = True
    covered[3:5, 7:9] = False  # a notch open to the left edge of the silhouette
    holes = enclosed_holes(covered)
    assert holes[3:6, 2:5].all() and holes.sum() == 9
    # A hole touching the outside only at a pixel corner leaks: the background is 8-connected.
    ring = np.ones((5, 5), dtype=bool)
    ring[1:3, 1:3] = False
    ring[0, 0] = False
    assert not enclosed_holes(ring).any()
    ring[0, 0] = True
    assert enclosed_holes(ring).sum() == 4
    assert not enclosed_holes(np.zeros((4, 4), dtype=bool)).any()


def test_the_outside_of_a_surface_is_told_by_volume_or_by_the_side_it_shows(face):
    head, _ = face
    towards_viewer = np.array([0.0, 0.0, 1.0])
    assert outside_sign(head.verts, head.faces, towards_viewer) == 1
    assert outside_sign(head.verts, head.faces[:, ::-1], towards_viewer) == -1
    flat = head.verts * [1.0, 1.0, 0.0]  # no volume: the side facing the viewer is the outside
    assert outside_sign(flat, head.faces, towards_viewer) == 1
    assert outside_sign(flat, head.faces, -towards_viewer) == -1
    mixed = head.faces.copy()
    mixed[::2] = mixed[::2, ::-1]  # inconsistent winding: no side can be called inside
    assert outside_sign(head.verts, mixed, towards_viewer) == 0


@pytest.mark.parametrize("found_by", ["landmarks", "motion"])
def test_the_closeup_mouth_spans_a_large_part_of_the_frame(face, found_by):
    head, opened = face
    landmarks = head.landmarks
    if found_by == "landmarks":
        region = mouth_from_landmarks(landmarks.as_array())
    else:
        region = mouth_from_motion(np.stack([head.verts, opened]), head.faces)
    assert region.source == found_by
    resolution = 128
    camera = mouth_camera(region, resolution=resolution)
    corners, _ = camera.project(np.stack([landmarks.mouth_left, landmarks.mouth_right]))
    span = abs(corners[0, 0] - corners[1, 0]) / resolution
    assert 0.4 <= span <= 0.95  # large, and both corners inside the picture
    (centre,), _ = camera.project(landmarks.mouth_centre[None])
    assert np.all(np.abs(centre - resolution / 2) < resolution / 6)
    # The whole-face view shows the same mouth at under a third of that size.
    full, _ = Camera.framing(head.verts, resolution).project(np.stack([landmarks.mouth_left, landmarks.mouth_right]))
    assert abs(full[0, 0] - full[1, 0]) / resolution < span / 1.5


def test_landmarks_come_as_an_array_or_as_landmarks_json_and_bad_ones_are_explained(face):
    head, _ = face
    points = head.landmarks.as_array()
    record = {"units": "file", "points": dict(zip(LANDMARK_NAMES, points.tolist()))}
    by_array, by_record = mouth_from_landmarks(points), mouth_from_landmarks(record)
    assert np.allclose(by_array.centre, by_record.centre) and np.allclose(by_array.centre, head.landmarks.mouth_centre)
    assert by_array.width == pytest.approx(head.landmarks.mouth_width)
    with pytest.raises(ScanTalkError, match=r"\(10, 3\)"):
        mouth_from_landmarks(points[:4])
    del record["points"]["lower_lip"]
    with pytest.raises(ScanTalkError, match="lower_lip"):
        mouth_from_landmarks(record)


def test_a_face_stored_z_up_is_seen_from_the_front(face):
    head, _ = face
    # Rows: the face's right, up and forward directions in the file (up is +z, forward is −y).
    rotation = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    stored = head.verts @ rotation  # file coordinates
    upright = FrameRenderer(Camera.framing(head.verts, 64), head.faces, head.verts)(head.verts)
    turned = FrameRenderer(Camera.framing(stored, 64, rotation=rotation), head.faces, stored)(stored)
    assert np.abs(upright.astype(int) - turned).max() <= 2
    with pytest.raises(ScanTalkError, match="rotation"):
        Camera.framing(stored, 64, rotation=np.diag([1.0, 1.0, -1.0]))  # a mirror


def read_frames(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def mouth_pixels(panel: np.ndarray) -> int:
    """How many pixels of a decoded video panel (H, W, 3) are the dark red mouth (allowing for
    H.264's loss of colour)."""
    return int(((panel.max(axis=-1) <= 80) & (panel[..., 0] >= 1.5 * panel[..., 1] + 5)).sum())


def test_video_with_the_closeup_shows_the_open_mouth_large(tmp_path, face):
    head, opened = face
    frames = np.stack([head.verts, opened, opened])
    resolution = 96
    out = render_animation(frames, head.faces, tmp_path / "mouth.mp4", fps=25, resolution=resolution,
                           compare=head.verts, closeup=True, progress=False)
    images = read_frames(out)
    assert len(images) == 3 and images[0].shape == (resolution, 3 * resolution, 3)
    last = images[-1].astype(int)
    animated, closeup = last[:, resolution : 2 * resolution], last[:, 2 * resolution :]
    # The open mouth covers several times more of the close-up than of the whole-face panel.
    assert mouth_pixels(closeup) > 4 * mouth_pixels(animated) > 0
    assert mouth_pixels(closeup) > 1.5 * mouth_pixels(images[0].astype(int)[:, 2 * resolution :])  # it opened
    sharp = render_animation(frames[:1], head.faces, tmp_path / "sharp.mp4", fps=25, resolution=resolution,
                             closeup=True, closeup_scale=1.0, progress=False)
    assert read_frames(sharp)[0].shape == (resolution, 2 * resolution, 3)
    with pytest.raises(ScanTalkError, match="closeup_scale"):
        render_animation(frames, head.faces, tmp_path / "x.mp4", fps=25, closeup=True, closeup_scale=0.0)
    with pytest.raises(ScanTalkError, match="MouthRegion"):
        render_animation(frames, head.faces, tmp_path / "x.mp4", fps=25, closeup="mouth")
    assert not (tmp_path / "x.mp4").exists()


def test_to_video_frames_the_mouth_from_landmarks_in_meta(tmp_path, face):
    head, opened = face
    # The mouth stays open while the brow moves most: only the landmarks point at the mouth.
    raised = opened + (opened[:, 1] > 0.05)[:, None] * [0.0, 0.012, 0.0]
    frames = np.stack([opened, raised]).astype(np.float32)
    record = {"points": dict(zip(LANDMARK_NAMES, head.landmarks.as_array().tolist()))}

    def closeup_panel(meta: dict, name: str) -> np.ndarray:
        animation = Animation(frames, head.verts.astype(np.float32), head.faces, 25.0, np.zeros(640, np.float32),
                              meta=meta)
        path = animation.to_video(tmp_path / name, resolution=64, compare="neutral", mouth_closeup=True,
                                  progress=False)
        image = read_frames(path)[-1]
        assert image.shape == (64, 192, 3)
        return image[:, 128:].astype(int)

    assert mouth_pixels(closeup_panel({"landmarks": record}, "landmarks.mp4")) > 100
    assert mouth_pixels(closeup_panel({}, "motion.mp4")) == 0  # framed on the brow
    with pytest.warns(UserWarning, match="landmarks"):
        closeup_panel({"landmarks": [[0.0, 0.0, 0.0]]}, "broken.mp4")


def test_scantalk_render_closeup_adds_the_mouth_panel(tmp_path, face):
    head, opened = face
    Animation(np.stack([head.verts, opened]).astype(np.float32), head.verts.astype(np.float32), head.faces,
              25.0, np.zeros(640, np.float32)).save(tmp_path / "anim")
    assert main(["render", str(tmp_path / "anim"), "--compare", "neutral", "--closeup", "--resolution", "48"]) == 0
    assert read_frames(tmp_path / "anim" / "animation.mp4")[0].shape == (48, 144, 3)


def test_side_by_side_joins_any_number_of_panels():
    panels = [np.full((8, 10, 3), value, dtype=np.uint8) for value in (0, 100, 255)]
    joined = side_by_side(*panels)
    assert joined.shape == (8, 30, 3)
    assert (joined[:, :9] == 0).all() and (joined[:, 11:19] == 100).all() and (joined[:, 21:] == 255).all()
    with pytest.raises(ScanTalkError):
        side_by_side(panels[0])
