"""How a face is seen: a fixed pinhole camera that frames it (shared by every frame of a
sequence), and the lighting and shading that turn surface normals into colours."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scantalk.errors import MeshError, ScanTalkError


def check_points(verts: np.ndarray, what: str) -> np.ndarray:
    """Return `verts` as float64 (V, 3), or raise a MeshError naming `what`."""
    verts = np.asarray(verts, dtype=np.float64)
    if verts.ndim != 2 or verts.shape[1] != 3 or verts.shape[0] == 0:
        raise MeshError(f"{what} must be a non-empty (V, 3) array of vertex positions, got shape {verts.shape}.")
    if not np.all(np.isfinite(verts)):
        raise MeshError(f"{what} contains NaN or infinite coordinates; clean the mesh or the predicted frames first.")
    return verts


# Square frame sizes a video can use: below 8 pixels nothing is visible; above 8192 one RGB frame
# alone is 200 MB and H.264 levels stop.
MIN_RESOLUTION, MAX_RESOLUTION = 8, 8192


def check_resolution(resolution: int) -> int:
    """`resolution` (pixels per side) as an int if MIN_RESOLUTION ≤ it ≤ MAX_RESOLUTION, else ScanTalkError."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise ScanTalkError(f"resolution must be a whole number of pixels, got {resolution!r}.")
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ScanTalkError(f"resolution {resolution} is outside {MIN_RESOLUTION}-{MAX_RESOLUTION} pixels; "
                            "use e.g. 512.")
    return int(resolution)


def check_rotation(rotation: np.ndarray | None) -> np.ndarray:
    """`rotation` as a float64 (3, 3) proper rotation (identity for None), else ScanTalkError."""
    if rotation is None:
        return np.eye(3)
    matrix = np.asarray(rotation, dtype=np.float64)
    if (matrix.shape != (3, 3) or not np.all(np.isfinite(matrix))
            or not np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-4) or np.linalg.det(matrix) < 0):
        raise ScanTalkError(f"a view rotation must be a (3, 3) rotation matrix (orthonormal rows: right, up, "
                            f"forward; no mirroring), got {np.asarray(rotation).tolist()}.")
    return matrix


@dataclass(frozen=True)
class Camera:
    """A perspective pinhole camera.

    eye (3,) metres: the centre of projection, in world (FLAME) coordinates ·
    rotation (3, 3): rows are the camera's right, up and backward axes in world coordinates, so
    `rotation @ (p - eye)` gives camera coordinates in which the camera looks along −z ·
    focal: focal length in pixels · width, height: image size in pixels ·
    near: points closer than this (metres, along the view axis) are not drawn.
    """

    eye: np.ndarray
    rotation: np.ndarray
    focal: float
    width: int
    height: int
    near: float = 1e-3

    @classmethod
    def framing(
        cls,
        verts: np.ndarray,
        resolution: int = 512,
        fov_degrees: float = 20.0,
        margin: float = 0.12,
        rotation: np.ndarray | None = None,
    ) -> "Camera":
        """A camera in front of the face, framing all of `verts`.

        Args:
            verts: (V, 3) the first (neutral) frame, in any length unit; its bounding box in the
                view's axes, enlarged by `margin` (a fraction of its half size) on every side,
                fits the square `resolution`² image.
            resolution: pixels per side.
            fov_degrees: the vertical field of view; small angles flatten perspective like a
                portrait lens.
            margin: the empty border, as a fraction of the box's half size.
            rotation: (3, 3) rows: the face's right, up and forward directions in the frames'
                coordinates (an `Alignment.rotation`); None: x right, y up, the face looks
                towards +z.

        Returns:
            The camera; use the same one for the whole sequence, so motion is not reframed.
        """
        verts = check_points(verts, "The frame to frame with the camera")
        rotation = check_rotation(rotation)
        local = verts @ rotation.T
        low, high = local.min(axis=0), local.max(axis=0)
        centre = (low + high) / 2.0
        half = (high - low) / 2.0
        # A single point or a flat line still needs a finite, non-zero view.
        half_size = max(half[0], half[1], 1e-3 * max(float(np.abs(centre).max()), 1.0)) * (1.0 + margin)
        # Frame the bounding box's front plane: the nearest plane projects largest.
        front = np.array([centre[0], centre[1], high[2]]) @ rotation
        return cls.looking_at(front, half_size, rotation, resolution, fov_degrees)

    @classmethod
    def looking_at(cls, target: np.ndarray, half_size: float, rotation: np.ndarray | None = None,
                   resolution: int = 512, fov_degrees: float = 20.0) -> "Camera":
        """A camera straight in front of `target`, whose square image spans ±`half_size` there.

        Args:
            target: (3,) the point at the image centre, in the frames' coordinates.
            half_size: half the side of the square seen in the plane through `target` facing
                the camera, in the frames' length unit (> 0).
            rotation: (3, 3) the face's right, up and forward directions as rows (see `framing`).
            resolution: pixels per side.
            fov_degrees: the vertical field of view, 1-120°.

        Returns:
            The camera, `half_size / tan(fov / 2)` in front of `target` along the forward axis.
        """
        resolution = check_resolution(resolution)
        if not 1.0 <= fov_degrees <= 120.0:
            raise ScanTalkError(f"fov_degrees must lie in [1, 120], got {fov_degrees}.")
        if not (np.isfinite(half_size) and half_size > 0):
            raise ScanTalkError(f"half_size must be a positive length, got {half_size}.")
        rotation = check_rotation(rotation)
        tan_half = math.tan(math.radians(fov_degrees) / 2.0)
        eye = np.asarray(target, dtype=np.float64) + rotation[2] * (half_size / tan_half)
        focal = (resolution / 2.0) / tan_half
        near = max(1e-6, 1e-3 * half_size)
        return cls(eye=eye, rotation=rotation, focal=float(focal), width=int(resolution),
                   height=int(resolution), near=near)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) metres → camera coordinates (..., 3); visible points have z < 0."""
        return (np.asarray(points, dtype=np.float64) - self.eye) @ self.rotation.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) metres → pixel coordinates (N, 2) (x right, y down) and depth (N,) metres.

        Pixel (i, j) covers [j, j+1) × [i, i+1); its centre is at (j + 0.5, i + 0.5). Depth is the
        distance along the viewing axis; points behind the camera get depth ≤ 0.
        """
        cam = self.to_camera(points)
        depth = -cam[..., 2]
        safe = np.where(np.abs(depth) < 1e-12, 1e-12, depth)
        pixels = np.empty(cam.shape[:-1] + (2,), dtype=np.float64)
        pixels[..., 0] = self.width / 2.0 + self.focal * cam[..., 0] / safe
        pixels[..., 1] = self.height / 2.0 - self.focal * cam[..., 1] / safe
        return pixels, depth

    def ray_directions(self) -> np.ndarray:
        """Unit world-space directions (H, W, 3) of the rays through every pixel centre."""
        rows, cols = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        local = np.stack(
            [
                (cols + 0.5 - self.width / 2.0) / self.focal,
                -(rows + 0.5 - self.height / 2.0) / self.focal,
                -np.ones_like(cols),
            ],
            axis=-1,
        )
        local /= np.linalg.norm(local, axis=-1, keepdims=True)
        return local @ self.rotation


@dataclass(frozen=True)
class Style:
    """Look of a rendering. Colours are linear RGB in [0, 1].

    light: direction *towards* the light in camera coordinates (x right, y up, z towards the
    viewer); upper-left-front by default, so a face reads with soft modelling ·
    cavity_color: the inside of the surface and holes enclosed by the face (the mouth between
    parted lips; see cavity.py), a dark red that reads as a mouth, not as a gap.
    """

    base_color: tuple[float, float, float] = (0.78, 0.71, 0.66)
    background: tuple[float, float, float] = (0.94, 0.94, 0.95)
    cavity_color: tuple[float, float, float] = (0.24, 0.06, 0.06)
    ambient: float = 0.22
    diffuse: float = 0.78
    specular: float = 0.12
    shininess: float = 24.0
    light: tuple[float, float, float] = (-0.35, 0.45, 1.0)


def shade(normals: np.ndarray, to_eye: np.ndarray, camera: Camera, style: Style) -> np.ndarray:
    """Lambert + ambient + Blinn-Phong specular.

    normals (N, 3) and to_eye (N, 3): unit world vectors at the visible points (the surface
    normal, and the direction from the point towards the camera) → colours (N, 3) in [0, 1].
    Normals facing away from the viewer are flipped, so scans with inconsistent winding and
    point clouds shade correctly from both sides.
    """
    light = np.asarray(style.light) @ camera.rotation
    light = (light / np.sqrt(light @ light)).astype(normals.dtype)
    facing = _dot(normals, to_eye)
    # Per-pixel scalars only (no (N, 3) temporaries): flipping n flips both dot products.
    normal_light = np.where(facing < 0.0, -1.0, 1.0).astype(normals.dtype) * (normals @ light)
    lambert = np.clip(normal_light, 0.0, None)
    # Half vector h = (e + l) / |e + l| for unit e and l: n·h = (n·e + n·l) / sqrt(2 + 2 e·l).
    half_length = np.sqrt(np.maximum(2.0 + 2.0 * (to_eye @ light), 1e-12))
    highlight = _power(np.clip((np.abs(facing) + normal_light) / half_length, 0.0, 1.0), style.shininess)
    base = np.asarray(style.base_color, dtype=normals.dtype)
    colours = base * (style.ambient + style.diffuse * lambert)[:, None] + (style.specular * highlight)[:, None]
    return np.clip(colours, 0.0, 1.0)


def _power(values: np.ndarray, exponent: float) -> np.ndarray:
    """`values ** exponent`; a whole exponent by repeated squaring, several times faster than pow."""
    if not (float(exponent).is_integer() and 0 <= exponent <= 1024):
        return values**exponent
    remaining, result, square = int(exponent), np.ones_like(values), values
    while remaining:
        if remaining & 1:
            result = result * square
        remaining >>= 1
        if remaining:
            square = square * square
    return result


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product (N, 3), (N, 3) → (N,); column arithmetic beats numpy's short-axis sum."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows of (N, 3) scaled to unit length; zero rows stay zero."""
    return vectors / np.maximum(np.sqrt(_dot(vectors, vectors)), 1e-20)[:, None]
