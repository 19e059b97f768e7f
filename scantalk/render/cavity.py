"""The mouth interior: what a viewer sees between parted lips.

Scans and face masks model no mouth cavity. A ray through the open slit meets the inside of the
head (a triangle seen from its inner side, which would be lit like skin) or, on a mask with no
back, nothing at all (the background would show through the mouth). A real mouth seen from the
front is dark, so both are painted with `Style.cavity_color`:
- a visible triangle seen from the inner side of the surface (`outside_sign` tells inner from
  outer on a consistently wound mesh);
- an empty pixel enclosed by the face's silhouette (`enclosed_holes`): no ray escapes the face
  there, so the viewer is looking into it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from scantalk.render.camera import Camera, Style, shade

# |signed volume| below this fraction of the bounding box's volume: an open or flat surface whose
# inside cannot be told by volume (a face mask); above: a closed (or nearly closed) head.
_VOLUME_FRACTION = 0.01
# |mean normal · view| below this: a surface facing the viewer no more one way than the other.
_FACING_FRACTION = 0.1
# 8-connected background, so a hole touching the outside at one pixel corner is not enclosed.
_EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)


def _winding(verts: np.ndarray, faces: np.ndarray) -> tuple[bool, float]:
    """(consistent winding, signed volume about the centroid / bounding-box volume).

    Consistent: no directed edge is used twice (then each shared edge runs opposite ways in its
    two triangles). The volume is positive when the right-hand normals point away from the centroid.
    """
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = edges[:, 0] * len(verts) + edges[:, 1]
    consistent = len(np.unique(keys)) == len(keys)
    corners = verts[faces] - verts.mean(axis=0)
    volume = np.einsum("fi,fi->", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])) / 6.0
    box = np.prod(np.maximum(verts.max(axis=0) - verts.min(axis=0), 1e-12))
    return consistent, float(volume / box)


def is_outward_oriented(verts: np.ndarray, faces: np.ndarray) -> bool:
    """Whether back faces may be culled: consistent winding, and normals pointing outwards.

    Args:
        verts: (V, 3) vertex positions.
        faces: (F, 3) vertex indices.

    Returns:
        True when the winding is consistent and the signed volume enclosed relative to the
        centroid is clearly positive (≥ 1 % of the bounding box). Flat, inward, open-and-flat or
        non-manifold meshes answer False and are drawn from both sides.
    """
    consistent, volume = _winding(verts, faces)
    return consistent and volume > _VOLUME_FRACTION


def outside_sign(verts: np.ndarray, faces: np.ndarray, towards_viewer: np.ndarray) -> int:
    """Which side of the surface is its outside, relative to the right-hand triangle normals.

    Args:
        verts: (V, 3) the reference frame.
        faces: (F, 3) vertex indices.
        towards_viewer: (3,) the direction from the face to the camera.

    Returns:
        +1: normals point out of the head; −1: into it; 0: unknown (inconsistent winding, or an
        open surface that faces the viewer neither way), and then no triangle counts as inner.
        A closed head decides by its signed volume; an open mask by the side it shows the viewer.
    """
    consistent, volume = _winding(verts, faces)
    if not consistent:
        return 0
    if abs(volume) > _VOLUME_FRACTION:
        return 1 if volume > 0 else -1
    corners = verts[faces]
    area_vectors = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    facing = float(area_vectors.sum(axis=0) @ towards_viewer) / max(float(np.linalg.norm(area_vectors, axis=1).sum()),
                                                                     1e-30)
    return 0 if abs(facing) < _FACING_FRACTION else (1 if facing > 0 else -1)


def inner_side(verts: np.ndarray, faces: np.ndarray, triangle: np.ndarray, to_eye: np.ndarray,
               sign: int) -> np.ndarray:
    """Which pixels see their triangle from the inside of the surface.

    Args:
        verts: (V, 3) this frame.
        faces: (F, 3) vertex indices.
        triangle: (N,) the visible triangle at each covered pixel.
        to_eye: (N, 3) unit directions from the surface towards the camera at those pixels.
        sign: `outside_sign` of the mesh.

    Returns:
        (N,) bool, True where the viewer looks at the inner side (always False for sign 0).
    """
    if sign == 0 or len(triangle) == 0:
        return np.zeros(len(triangle), dtype=bool)
    corners = verts[faces].astype(np.float32)
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])[triangle]
    facing = normals[:, 0] * to_eye[:, 0] + normals[:, 1] * to_eye[:, 1] + normals[:, 2] * to_eye[:, 2]
    return sign * facing < 0.0


def enclosed_holes(covered: np.ndarray) -> np.ndarray:
    """Empty pixels enclosed by covered ones: holes in the silhouette, such as an open mouth.

    Args:
        covered: (H, W) bool, True where a surface was drawn.

    Returns:
        (H, W) bool, True at empty pixels that cannot reach the image border (or the empty space
        around the silhouette) through empty pixels, 8-connected.
    """
    rows, cols = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    holes = np.zeros_like(covered, dtype=bool)
    if len(rows) < 3 or len(cols) < 3:
        return holes
    # Only the silhouette's bounding box can hold a hole; what touches its edge is outside.
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    labels, count = ndimage.label(~covered[window], structure=_EIGHT_NEIGHBOURS)
    if count == 0:
        return holes
    outside = np.zeros(count + 1, dtype=bool)
    outside[0] = True  # label 0: covered pixels
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        outside[edge] = True
    holes[window] = ~outside[labels]
    return holes


def paint_cavity(image: np.ndarray, flat: np.ndarray, inner: np.ndarray, normals: np.ndarray,
                 to_eye: np.ndarray, camera: Camera, style: Style, fill_holes: bool = True) -> None:
    """Paint the mouth interior into a rendered frame, in place.

    Args:
        image: (H·W, 3) uint8, the frame with the surface already shaded.
        flat: (N,) flat indices of the covered pixels.
        inner: (N,) bool, pixels that see the inner side of the surface (`inner_side`).
        normals: (N, 3) unit shading normals at the covered pixels.
        to_eye: (N, 3) unit directions towards the camera at the covered pixels.
        camera: the camera the frame was rendered with.
        style: the look; `cavity_color` is used, shaded without highlights.
        fill_holes: also paint `enclosed_holes` of the silhouette, at the cavity's ambient level.
    """
    if inner.any():
        cavity = replace(style, base_color=style.cavity_color, specular=0.0)
        colours = shade(normals[inner], to_eye[inner], camera, cavity)
        image[flat[inner]] = (colours * 255.0 + 0.5).astype(np.uint8)
    if fill_holes:
        covered = np.zeros(camera.height * camera.width, dtype=bool)
        covered[flat] = True
        holes = np.flatnonzero(enclosed_holes(covered.reshape(camera.height, camera.width)))
        if len(holes):
            dark = np.asarray(style.cavity_color) * style.ambient * 255.0 + 0.5
            image[holes] = dark.astype(np.uint8)
