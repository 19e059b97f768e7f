"""A picture of what the rig was placed from: the face at rest, its landmarks, and which vertices
go with the upper lip and which with the jaw, so a user sees at a glance when a point is off.

    landmarks_picture(verts, faces, points, jaw, "landmarks.png")   # the full face | the mouth
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scantalk.atomic import atomic_path
from scantalk.render.camera import Camera
from scantalk.render.closeup import mouth_camera, mouth_from_landmarks
from scantalk.render.raycast import render_frames

# Colours (RGB) of the landmark dots and of the two sides of the mouth.
LANDMARK_COLOUR = (255, 220, 0)
JAW_COLOUR = (230, 70, 50)
UPPER_COLOUR = (60, 130, 235)


def _overlay(image: np.ndarray, camera: Camera, points: np.ndarray, colour: tuple[int, int, int], radius: int) -> None:
    pixels, depth = camera.project(points)
    for (u, v), z in zip(np.round(pixels).astype(int), depth):
        if z <= 0 or not (0 <= u < camera.width and 0 <= v < camera.height):
            continue
        image[max(0, v - radius):v + radius + 1, max(0, u - radius):u + radius + 1] = colour


def landmarks_picture(verts: np.ndarray, faces: np.ndarray | None, points: np.ndarray, jaw: np.ndarray,
                      path: str | Path, rotation: np.ndarray | None = None, resolution: int = 384) -> Path:
    """Write a PNG: the face at rest with its landmarks (yellow), the vertices that follow the
    jaw (red) and the still upper lip (blue) near the mouth; whole face | mouth close-up.

    Args:
        verts: (V, 3) the face at rest (file coordinates); faces: (F, 3) or None.
        points: (10, 3) its landmarks, `FaceLandmarks` order (same coordinates).
        jaw: (V,) how far each vertex moves per unit of jaw opening (any unit; 0 = still).
        path: the .png to write (atomically).
        rotation: (3, 3) rows: the face's right, up and forward in the file (an alignment's
            rotation); None: y up, facing +z.
        resolution: pixels per side of each half.
    """
    verts, points, jaw = np.asarray(verts, np.float64), np.asarray(points, np.float64), np.asarray(jaw, np.float64)
    axes = np.eye(3) if rotation is None else np.asarray(rotation, np.float64)
    region = mouth_from_landmarks(points)
    mouth, width = region.centre, region.width
    local = (verts - mouth) @ axes.T
    near = (np.abs(local[:, 0]) < 0.9 * width) & (np.abs(local[:, 1]) < 0.5 * width) & (local[:, 2] > -0.4 * width)
    moving = near & (jaw > 0.5 * jaw[near].max(initial=0.0))
    still = near & ~moving & (np.abs(local[:, 1]) < 0.3 * width) & (np.abs(local[:, 0]) < 0.6 * width)
    # Only the vertices a viewer sees from the front: the nearest along the view ray wins.
    front = local[:, 2] > np.percentile(local[near, 2], 30) if near.any() else near
    halves = []
    for camera, dot in ((Camera.framing(verts, resolution, rotation=axes), 1),
                        (mouth_camera(region, axes, resolution), 3)):
        image = next(iter(render_frames(verts[None], faces, camera, progress=False, workers=1))).copy()
        _overlay(image, camera, verts[still & front], UPPER_COLOUR, dot - 1)
        _overlay(image, camera, verts[moving & front], JAW_COLOUR, dot - 1)
        _overlay(image, camera, points[:8], LANDMARK_COLOUR, dot + 1)
        halves.append(image)
    from PIL import Image

    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.concatenate(halves, axis=1)).save(tmp, format="PNG")
    return path
