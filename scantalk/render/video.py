"""Frames (and the speech) → an .mp4 file: H.264 video, AAC audio, written atomically with PyAV."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from tqdm.auto import tqdm

from scantalk.frames import FrameStore
from scantalk.audio.io import SAMPLE_RATE
from scantalk.atomic import atomic_path
from scantalk.errors import AudioError, MeshError, OutputError, ScanTalkError
from scantalk.render.camera import MIN_RESOLUTION, Camera, Style
from scantalk.render.closeup import MouthRegion, mouth_camera, mouth_from_motion
from scantalk.render.raycast import FrameRenderer, ordered_map

# Preferred first; the others only if a PyAV build lacks libx264.
_VIDEO_CODECS = ("libx264", "h264", "libopenh264", "mpeg4")
_SEPARATOR_GREY = (170, 170, 170)


VIDEO_SUFFIXES = (".mp4", ".m4v")


def check_video_path(path: str | Path) -> Path:
    """`path` as a Path if an MP4 video can be written there, else OutputError saying what to do.

    The writer always produces MP4 (H.264 + AAC); a name like `x.avi` would get an MP4 in
    disguise, so other suffixes are refused rather than silently mislabelled.
    """
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise OutputError(f"video {path}: only MP4 video is written; name the file with .mp4 (e.g. "
                          f"{path.with_suffix('.mp4').name}), then convert it with ffmpeg if you need "
                          f"{path.suffix or 'another format'}.")
    if path.is_dir():
        raise OutputError(f"video {path} is a folder; pass a file name ending in .mp4.")
    if path.is_symlink() and not path.exists():
        raise OutputError(f"video {path} is a broken symbolic link; pass a plain file name.")
    return path


def video_codec() -> str:
    """The best H.264 (or, failing that, MPEG-4 part 2) encoder this PyAV build offers."""
    for name in _VIDEO_CODECS:
        try:
            av.codec.Codec(name, "w")
        except Exception:  # PyAV raises different types for unknown and decode-only codecs
            continue
        if name != _VIDEO_CODECS[0]:
            warnings.warn(f"PyAV has no libx264 encoder; writing video with {name!r} instead.", stacklevel=2)
        return name
    raise ScanTalkError(f"This PyAV build has none of the video encoders {_VIDEO_CODECS}; "
                        "install the PyAV wheel from PyPI (`pip install av`), which bundles libx264.")


def _check_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 samples in [−1, 1] from (N,) or (N, 1) float or int16 audio."""
    if sample_rate <= 0:
        raise AudioError(f"sample_rate must be positive (Hz), got {sample_rate}.")
    audio = np.asarray(audio)
    if audio.ndim == 2 and 1 in audio.shape:
        audio = audio.reshape(-1)
    if audio.ndim != 1 or audio.size == 0:
        raise AudioError(f"audio must be a non-empty mono (N,) array of samples, got shape {audio.shape}; "
                         "mix stereo down to one channel first.")
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio / float(np.iinfo(audio.dtype).max)
    audio = audio.astype(np.float32)
    if not np.all(np.isfinite(audio)):
        raise AudioError("audio contains NaN or infinite samples.")
    peak = float(np.abs(audio).max())
    # Normalised model input (unit variance) would clip badly; scale it back into range instead.
    return audio / peak if peak > 1.0 else audio


def _even(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even width and height: repeat the last row/column where one is odd."""
    pad_rows, pad_cols = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_rows or pad_cols:
        frame = np.pad(frame, ((0, pad_rows), (0, pad_cols), (0, 0)), mode="edge")
    return frame


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float, audio: np.ndarray | None = None,
                sample_rate: int = SAMPLE_RATE, crf: int = 20, preset: str = "veryfast") -> Path:
    """Encode `frames` (each (H, W, 3) uint8 RGB, all one size) at `fps` into an .mp4 at `path`.

    audio (N,) mono samples at `sample_rate` Hz (float in [−1, 1] or int16) becomes an AAC track;
    it is kept whole, so it may end slightly before or after the video. Frames are consumed one
    at a time, so a generator streams a long sequence in constant memory. The file appears at
    `path` only when complete: if anything fails (including an exception raised by the frame
    iterator), no file and no temporary file is left behind. crf/preset tune libx264 only.
    Returns `path`.
    """
    if not fps > 0:
        raise ScanTalkError(f"fps must be positive, got {fps}.")
    path = check_video_path(path)
    samples = None if audio is None else _check_audio(audio, sample_rate)
    rate = Fraction(fps).limit_denominator(1001)
    codec = video_codec()
    path = Path(path)
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        options = {"crf": str(crf), "preset": preset} if codec == "libx264" else {}
        video = container.add_stream(codec, rate=rate, options=options)
        video.pix_fmt = "yuv420p"
        sound = None
        if samples is not None:
            sound = container.add_stream("aac", rate=int(sample_rate), layout="mono")
            sound.bit_rate = 64000
        muxed_samples, count, size = 0, 0, None
        for count, frame in enumerate(frames, start=1):
            frame = np.asarray(frame)
            if size is None:
                if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                    raise ScanTalkError(f"video frames must be (H, W, 3) uint8 RGB images, got {frame.dtype} "
                                        f"{frame.shape}.")
                size = frame.shape
                video.height, video.width = _even(frame).shape[:2]
            elif frame.shape != size or frame.dtype != np.uint8:
                raise ScanTalkError(f"frame {count - 1} is {frame.dtype} {frame.shape}; every frame must match "
                                    f"the first, uint8 {size}.")
            picture = av.VideoFrame.from_ndarray(_even(frame), format="rgb24")
            picture.pts = count - 1
            container.mux(video.encode(picture))
            if sound is not None:
                # Interleave: send the audio that plays up to the end of this frame.
                until = min(len(samples), int(round(count / float(rate) * sample_rate)))
                muxed_samples = _mux_audio(container, sound, samples, muxed_samples, until, sample_rate)
        if count == 0:
            raise ScanTalkError(f"No frames were given for {path}; nothing to encode.")
        container.mux(video.encode(None))
        if sound is not None:
            _mux_audio(container, sound, samples, muxed_samples, len(samples), sample_rate)
            container.mux(sound.encode(None))
    return path


def _mux_audio(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
               samples: np.ndarray, start: int, stop: int, sample_rate: int) -> int:
    """Encode and mux samples[start:stop]; returns the new count of samples sent."""
    if stop <= start:
        return start
    chunk = av.AudioFrame.from_ndarray(samples[None, start:stop], format="flt", layout="mono")
    chunk.sample_rate = int(sample_rate)
    chunk.pts = start
    container.mux(stream.encode(chunk))
    return stop


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    """A square (h, h, 3) uint8 image → (size, size, 3), bilinear; unchanged when h == size."""
    if image.shape[0] == size:
        return image
    pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    resized = torch.nn.functional.interpolate(pixels, size=(size, size), mode="bilinear", align_corners=False)
    return resized[0].permute(1, 2, 0).round_().clamp_(0, 255).to(torch.uint8).numpy()


def side_by_side(*images: np.ndarray, separator: int = 2) -> np.ndarray:
    """Images (..., H, W, 3) uint8 of one shape → (..., H, n·W, 3), left to right.

    A thin grey line `separator` pixels wide is painted over each inner edge (half on each
    image), so the width stays exactly n times the input's and even sizes stay even for H.264.
    Use it for 'neutral | animated', 'ground truth | prediction' or 'neutral | animated | mouth'.
    """
    images = tuple(np.asarray(image) for image in images)
    first = images[0] if images else np.zeros(0)
    if len(images) < 2 or first.ndim < 3 or first.shape[-1] != 3 or any(i.shape != first.shape for i in images):
        raise ScanTalkError("side_by_side needs two or more (..., H, W, 3) images of one shape, got "
                            f"{[image.shape for image in images]}.")
    joined = np.concatenate(images, axis=-2)
    width = first.shape[-2]
    half = min(separator // 2, width)
    for edge in range(width, width * len(images), width):
        joined[..., edge - half : edge + separator - half, :] = _SEPARATOR_GREY
    return joined


def render_animation(frames: np.ndarray, faces: np.ndarray | None, path: str | Path, fps: float,
                     audio: np.ndarray | None = None, sample_rate: int = SAMPLE_RATE, resolution: int = 512,
                     compare: np.ndarray | None = None, style: Style | None = None, backend: str = "raster",
                     progress: bool = True, workers: int = 2, closeup: bool | MouthRegion = False,
                     rotation: np.ndarray | None = None, closeup_scale: float = 0.5) -> Path:
    """Render an animation to an .mp4 with its speech, streaming frame by frame.

    Args:
        frames: (T, V, 3) the animation, in any length unit (an array or a `FrameStore`).
        faces: (F, 3) the mesh's triangles, or None for a point cloud.
        path: the .mp4 to write (atomically: it appears only when complete).
        fps: frames per second of the animation.
        audio: (N,) mono speech at `sample_rate` Hz, or None for a silent video.
        sample_rate: audio samples per second (Hz).
        resolution: pixels per side of each square panel.
        compare: (T, V, 3) frames (e.g. ground truth) or one (V, 3) face (e.g. the neutral
            template) on the same faces, drawn on the left of the animation.
        style: the look (colours, light).
        backend: "raster" or "raycast" (see `FrameRenderer`).
        progress: show a progress bar.
        workers: frames rendered at once on threads while the encoder runs.
        closeup: add a panel on the right framed on the mouth: True finds it from the motion
            (`mouth_from_motion`), or give a `MouthRegion` (e.g. from the face's landmarks).
        rotation: (3, 3) the face's right, up and forward directions in the frames' coordinates
            as rows (an `Alignment.rotation`); None: y up, the face looks towards +z.
        closeup_scale: the close-up is rendered at this fraction of `resolution` and scaled up
            (bilinear), in (0, 1]. Every close-up pixel is face, so at full size it costs several
            whole-face panels; at 0.5 it costs a quarter of that and a scan's mouth looks the same
            (its triangles still span several pixels).

    Returns:
        `path`. The video is (1 + [compare] + [closeup])·resolution wide and resolution high;
        one fixed camera per panel frames the first frame (of both, when comparing).
    """
    path = check_video_path(path)
    if not isinstance(closeup, (bool, MouthRegion)):
        raise ScanTalkError(f"closeup must be True, False or a MouthRegion, got {closeup!r}.")
    if not 0.0 < closeup_scale <= 1.0:
        raise ScanTalkError(f"closeup_scale must lie in (0, 1], the fraction of the resolution the close-up is "
                            f"rendered at; got {closeup_scale}.")
    # Each frame is converted when rendered (no (T, V, 3) float64 copy); frames on disk
    # (`FrameStore`) are read one at a time, so memory stays bounded for any length.
    frames = frames if isinstance(frames, FrameStore) else np.asarray(frames)
    if frames.ndim != 3 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise MeshError(f"frames must be a non-empty (T, V, 3) array, got shape {frames.shape}.")
    first = frames[0]
    static = False
    if compare is not None:
        compare = np.asarray(compare)
        if compare.ndim == 2:
            compare = compare[None]
        # A neutral face (one frame, or a broadcast of it) is rendered once, not T times.
        static = len(compare) == 1 or bool(np.all(compare[1:] == compare[:1]))
        if compare.shape[1:] != frames.shape[1:] or not (static or len(compare) == len(frames)):
            raise MeshError(f"compare must be (V, 3) or (T, V, 3) like frames {frames.shape}, got {compare.shape}; "
                            "trim both sequences to one length first.")
        first = np.concatenate([compare[0], frames[0]])
    camera = Camera.framing(first, resolution, rotation=rotation)
    renderer = FrameRenderer(camera, faces, frames[0], style=style, backend=backend)
    still = renderer(compare[0]) if static else None
    mouth = None
    if closeup is not False:
        region = mouth_from_motion(frames, faces, rotation) if closeup is True else closeup
        size = max(MIN_RESOLUTION, min(resolution, round(resolution * closeup_scale)))
        mouth = FrameRenderer(mouth_camera(region, rotation, size), faces, frames[0], style=style, backend=backend)

    def image(index: int) -> np.ndarray:
        animated = renderer(frames[index])
        panels = [animated] if compare is None else [still if static else renderer(compare[index]), animated]
        if mouth is not None:
            panels.append(_resize(mouth(frames[index]), resolution))
        return panels[0] if len(panels) == 1 else side_by_side(*panels)

    images = ordered_map(image, range(len(frames)), workers)
    bar = tqdm(images, total=len(frames), desc=f"render {Path(path).name}", unit="frame", disable=not progress)
    return write_video(path, bar, fps, audio=audio, sample_rate=sample_rate)
