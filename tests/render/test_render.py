"""Headless rendering and video writing: what a user sees in the image and gets in the .mp4."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from scantalk.errors import MeshError, ScanTalkError
from scantalk.render import Camera, FrameRenderer, render_animation, render_frames, side_by_side, write_video
from scantalk.render.cavity import is_outward_oriented
from scantalk.render.raycast import ordered_map, rasterise, raycast

RES = 128


def uv_sphere(radius: float = 0.1, rings: int = 24, segments: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A closed sphere with outward (counter-clockwise) winding: verts (V, 3), faces (F, 3)."""
    theta = np.linspace(0.0, np.pi, rings + 1)[1:-1]
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring_verts = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], axis=-1).reshape(-1, 3)
    verts = np.concatenate([[[0.0, 1.0, 0.0]], ring_verts, [[0.0, -1.0, 0.0]]]) * radius
    bottom = len(verts) - 1
    faces = []
    for s in range(segments):
        n = (s + 1) % segments
        faces.append([0, 1 + n, 1 + s])
        for r in range(rings - 2):
            a, b = 1 + r * segments + s, 1 + r * segments + n
            c, d = a + segments, b + segments
            faces += [[a, b, d], [a, d, c]]
        last = 1 + (rings - 2) * segments
        faces.append([bottom, last + s, last + n])
    return verts, np.asarray(faces, dtype=np.int64)


@pytest.fixture(scope="module")
def sphere() -> tuple[np.ndarray, np.ndarray]:
    return uv_sphere()


def background_mask(image: np.ndarray, renderer: FrameRenderer) -> np.ndarray:
    return np.all(image == renderer._background, axis=-1)


def test_sphere_fills_the_middle_and_leaves_the_corners_empty(sphere):
    verts, faces = sphere
    renderer = FrameRenderer(Camera.framing(verts, RES), faces, verts)
    image = renderer(verts)
    assert image.shape == (RES, RES, 3) and image.dtype == np.uint8
    empty = background_mask(image, renderer)
    assert not empty[RES // 2 - 8 : RES // 2 + 8, RES // 2 - 8 : RES // 2 + 8].any()
    for corner in (empty[:4, :4], empty[:4, -4:], empty[-4:, :4], empty[-4:, -4:]):
        assert corner.all()
    # The framing margin keeps the whole sphere inside the picture.
    assert empty[0].all() and empty[-1].all() and empty[:, 0].all() and empty[:, -1].all()
    assert 0.4 < (~empty).mean() < 0.8


def test_light_from_the_upper_left_shades_the_sphere(sphere):
    verts, faces = sphere
    image = FrameRenderer(Camera.framing(verts, RES), faces, verts)(verts).astype(float).mean(axis=-1)
    q = RES // 4
    lit = image[q : q + 12, q : q + 12].mean()
    unlit = image[-q - 12 : -q, -q - 12 : -q].mean()
    assert lit > unlit + 40


def test_raster_and_raycast_backends_agree(sphere):
    verts, faces = sphere
    camera = Camera.framing(verts, RES)
    raster = FrameRenderer(camera, faces, verts, backend="raster", cull_backfaces=False)(verts).astype(int)
    raycaster = FrameRenderer(camera, faces, verts, backend="raycast")
    differing = np.abs(raster - raycaster(verts).astype(int)).max(axis=-1) > 6
    assert differing.mean() < 0.01
    # On a coarse mesh, the perspective-correct barycentric weights match open3d's exact hits.
    coarse, coarse_faces = uv_sphere(rings=6, segments=8)
    camera = Camera.framing(coarse, 64)
    pixels, triangles, weights = rasterise(coarse, coarse_faces, camera)
    hit_pixels, hit_triangles, hit_weights = raycast(coarse, coarse_faces,
                                                     FrameRenderer(camera, coarse_faces, coarse)._rays)
    common, ours, theirs = np.intersect1d(pixels, hit_pixels, return_indices=True)
    assert len(common) > 0.97 * max(len(pixels), len(hit_pixels))
    same = triangles[ours] == hit_triangles[theirs]
    assert same.mean() > 0.97
    assert np.abs(weights[ours][same] - hit_weights[theirs][same]).max() < 1e-3


def test_backface_culling_is_used_only_where_it_changes_nothing(sphere):
    verts, faces = sphere
    assert is_outward_oriented(verts, faces)
    assert not is_outward_oriented(verts, faces[:, ::-1])  # inward normals: culling would hide the front
    camera = Camera.framing(verts, RES)
    culled = FrameRenderer(camera, faces, verts, cull_backfaces=True)(verts)
    full = FrameRenderer(camera, faces, verts, cull_backfaces=False)(verts)
    assert np.array_equal(culled, full)
    flipped = FrameRenderer(camera, faces[:, ::-1], verts)  # auto: draws both sides
    assert np.abs(flipped(verts).astype(int) - full).max() <= 2  # float32 rounding of permuted corners


def test_flat_shading_differs_from_smooth_but_covers_the_same_pixels(sphere):
    verts, faces = sphere
    camera = Camera.framing(verts, RES)
    smooth = FrameRenderer(camera, faces, verts, smooth=True)
    flat = FrameRenderer(camera, faces, verts, smooth=False)
    a, b = smooth(verts), flat(verts)
    assert np.array_equal(background_mask(a, smooth), background_mask(b, flat))
    assert not np.array_equal(a, b)


def test_point_cloud_renders_as_shaded_splats(sphere):
    verts, _ = sphere
    renderer = FrameRenderer(Camera.framing(verts, RES), None, verts)
    image = renderer(verts)
    covered = ~background_mask(image, renderer)
    assert covered[RES // 2 - 10 : RES // 2 + 10, RES // 2 - 10 : RES // 2 + 10].mean() > 0.9
    assert covered[:4, :4].sum() == 0
    grey = image.astype(float).mean(axis=-1)[covered]
    assert grey.std() > 10  # normals shade it: not a flat silhouette


def test_camera_looks_along_minus_z_and_frames_the_first_frame(sphere):
    verts, _ = sphere
    camera = Camera.framing(verts + [0.0, 0.0, 0.5], resolution=64)
    assert camera.eye[2] > 0.6
    pixels, depth = camera.project(np.array([[0.0, 0.0, 0.5], [0.0, 0.1, 0.5], [0.1, 0.0, 0.5]]))
    assert np.allclose(pixels[0], [32, 32]) and np.all(depth > 0)
    assert pixels[1, 1] < 32  # y up in the world is up in the picture
    assert pixels[2, 0] > 32  # x is to the right


def test_render_frames_streams_one_image_per_frame(sphere):
    verts, faces = sphere
    frames = np.stack([verts, verts * [1.0, 1.3, 1.0]])
    images = render_frames(frames, faces, resolution=64, progress=False)
    assert not isinstance(images, np.ndarray)
    stacked = np.stack(list(images))
    assert stacked.shape == (2, 64, 64, 3)
    assert not np.array_equal(stacked[0], stacked[1])  # same camera: the stretch shows


def test_bad_faces_and_frames_are_reported_as_mesh_errors(sphere):
    verts, faces = sphere
    with pytest.raises(MeshError, match="outside"):
        render_frames(verts[None], faces + 1000, resolution=32)
    with pytest.raises(MeshError, match=r"\(T, V, 3\)"):
        render_frames(verts, faces, resolution=32)
    renderer = FrameRenderer(Camera.framing(verts, 32), faces, verts)
    with pytest.raises(MeshError, match="first frame"):
        renderer(verts[:-1])


def read_video(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        info = {
            "codec": video.codec_context.name,
            "size": (video.codec_context.width, video.codec_context.height),
            "video_seconds": float(video.duration * video.time_base),
            "audio_seconds": None if audio is None else float(audio.duration * audio.time_base),
            "audio_rate": None if audio is None else audio.rate,
        }
        info["frames"] = sum(1 for _ in container.decode(video=0))
    return info


def colour_frames(count: int, size: int = 64) -> list[np.ndarray]:
    return [np.full((size, size, 3), 10 * i, dtype=np.uint8) for i in range(count)]


def test_video_has_every_frame_and_the_audio_track(tmp_path):
    fps, seconds, rate = 25, 0.48, 16000
    audio = 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * rate)) / rate)
    out = write_video(tmp_path / "talk.mp4", iter(colour_frames(12)), fps, audio=audio, sample_rate=rate)
    info = read_video(out)
    assert info["codec"] == "h264" and info["size"] == (64, 64)
    assert info["frames"] == 12
    assert info["video_seconds"] == pytest.approx(12 / fps, abs=1e-3)
    assert info["audio_rate"] == rate
    assert info["audio_seconds"] == pytest.approx(seconds, abs=0.03)


def test_video_without_audio_and_with_odd_size(tmp_path):
    frames = [np.zeros((63, 65, 3), dtype=np.uint8) for _ in range(3)]
    info = read_video(write_video(tmp_path / "silent.mp4", frames, fps=30))
    assert info["audio_seconds"] is None and info["frames"] == 3
    assert info["size"] == (66, 64)  # padded to even for yuv420p


def test_interrupted_writing_leaves_no_file(tmp_path):
    target = tmp_path / "broken.mp4"

    def failing():
        yield from colour_frames(3)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_video(target, failing(), fps=25, audio=np.zeros(16000), sample_rate=16000)
    assert list(tmp_path.iterdir()) == []


def test_an_old_file_survives_a_failed_rewrite(tmp_path):
    target = write_video(tmp_path / "keep.mp4", colour_frames(2), fps=25)
    before = target.read_bytes()
    with pytest.raises(ScanTalkError, match="every frame must match"):
        write_video(target, [np.zeros((64, 64, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)], fps=25)
    assert target.read_bytes() == before and list(tmp_path.iterdir()) == [target]


def test_side_by_side_doubles_the_width_with_a_separator():
    left = np.zeros((2, 16, 20, 3), dtype=np.uint8)
    right = np.full((2, 16, 20, 3), 255, dtype=np.uint8)
    joined = side_by_side(left, right)
    assert joined.shape == (2, 16, 40, 3)
    assert (joined[:, :, :19] == 0).all() and (joined[:, :, 21:] == 255).all()
    assert len(np.unique(joined[:, :, 19:21])) == 1 and 0 < joined[0, 0, 19, 0] < 255
    with pytest.raises(ScanTalkError):
        side_by_side(left, right[:, :8])


def test_render_animation_neutral_beside_animation(tmp_path, sphere):
    verts, faces = sphere
    frames = np.stack([verts * [1.0, 1.0 + 0.05 * t, 1.0] for t in range(5)])
    audio = np.zeros(int(16000 * 5 / 25))
    out = render_animation(frames, faces, tmp_path / "anim.mp4", fps=25, audio=audio, resolution=48,
                           compare=verts, progress=False)
    info = read_video(out)
    assert info["frames"] == 5 and info["size"] == (96, 48)
    assert info["audio_seconds"] == pytest.approx(0.2, abs=0.03)


def test_render_animation_ground_truth_beside_prediction(tmp_path, sphere):
    verts, faces = sphere
    prediction = np.stack([verts * [1.0, 1.0 + 0.1 * t, 1.0] for t in range(3)]).astype(np.float32)
    truth = prediction[:, :, [0, 1, 2]] * [1.2, 1.0, 1.0]
    out = render_animation(prediction, faces, tmp_path / "cmp.mp4", fps=30, resolution=32, compare=truth,
                           progress=False)
    with av.open(str(out)) as container:
        images = [frame.to_ndarray(format="rgb24").astype(int) for frame in container.decode(video=0)]
    assert len(images) == 3 and images[0].shape == (32, 64, 3)
    # Both halves animate: the left (ground truth) changes as much as the right (prediction).
    assert np.abs(images[2][:, :30] - images[0][:, :30]).mean() > 2
    assert np.abs(images[2][:, 34:] - images[0][:, 34:]).mean() > 2
    with pytest.raises(MeshError, match="trim both"):
        render_animation(prediction, faces, tmp_path / "bad.mp4", fps=30, resolution=32, compare=truth[:2],
                         progress=False)
    assert not (tmp_path / "bad.mp4").exists()


def test_threaded_rendering_keeps_frame_order_and_matches_serial(sphere):
    verts, faces = sphere
    frames = np.stack([verts * [1.0, 1.0 + 0.1 * t, 1.0] for t in range(5)])
    serial = list(render_frames(frames, faces, resolution=32, progress=False, workers=1))
    threaded = list(render_frames(frames, faces, resolution=32, progress=False, workers=3))
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded, strict=True))
    assert list(ordered_map(lambda x: x * x, range(20), workers=3)) == [x * x for x in range(20)]


def test_a_diverged_frame_stops_the_video_and_leaves_no_file(tmp_path, sphere):
    verts, faces = sphere
    frames = np.stack([verts] * 6)
    frames[4, 10] = np.nan
    with pytest.raises(MeshError, match="NaN"):
        render_animation(frames, faces, tmp_path / "nan.mp4", fps=25, resolution=32, progress=False)
    assert list(tmp_path.iterdir()) == []
