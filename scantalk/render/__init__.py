"""Headless rendering of face animations (meshes and point clouds) to images and .mp4 videos.

`render_animation(frames, faces, "out.mp4", fps, audio)` does it all in one streamed pass;
`Camera`, `render_frames`, `write_video` and `side_by_side` are the pieces it is made of, and
`mouth_from_landmarks` / `mouth_from_motion` with `mouth_camera` frame the mouth close-up.
Everything runs on the CPU with no display: no OpenGL, EGL or GPU is needed.
"""

from scantalk.render.camera import Camera, Style
from scantalk.render.closeup import MouthRegion, mouth_camera, mouth_from_landmarks, mouth_from_motion
from scantalk.render.raycast import FrameRenderer, render_frames
from scantalk.render.video import render_animation, side_by_side, write_video

__all__ = ["Camera", "FrameRenderer", "MouthRegion", "Style", "mouth_camera", "mouth_from_landmarks",
           "mouth_from_motion", "render_animation", "render_frames", "side_by_side", "write_video"]
