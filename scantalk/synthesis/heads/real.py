"""Real faces as training heads: the sample faces (`scantalk.face.samples`: the menpo3d `james`
scan and MediaPipe's canonical face) warped into many new identities.

`real_face(name)` (from `scantalk.face.samples`) gives the face itself; `deformed_identity(head,
seed)` a new plausible person from it; `real_identities(count)` a training set of such people that
never contains `HELD_OUT_FACE` (kept, undeformed, for evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from scantalk.errors import DatasetError
from scantalk.face.head import FaceLandmarks, Head
from scantalk.face.samples import HELD_OUT_FACE, REAL_FACES, real_face

__all__ = [
    "HELD_OUT_FACE", "REAL_FACES", "IdentityWarp", "deformed_identity", "flipped_triangles", "real_face",
    "real_identities",
]


def _gaussian(points: np.ndarray, centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """(N,) anisotropic Gaussian weight exp(-½ Σ((p - centre) / radii)²)."""
    return np.exp(-0.5 * (((points - centre) / radii) ** 2).sum(axis=1))


@dataclass(frozen=True)
class IdentityWarp:
    """A smooth map of points (N, 3) → (N, 3) in metres: local displacements, then a global scale.

    Every term is placed from landmarks (never from vertices), so all meshings of one head get
    the same warp. `local` scales the local terms (`softened` halves it).
    """

    scale: np.ndarray            # (3,) global anisotropic scale about the origin (head centre)
    nose_base_y: float           # face length: y below this is stretched by (1 + face_length)
    face_length: float
    mouth_y: float               # jaw width: x below the mouth is scaled by (1 + jaw_width)
    jaw_width: float
    nose_centre: np.ndarray      # (3,) nose scaled by (1 + nose_size) about this point
    nose_size: float
    mouth_centre: np.ndarray     # (3,) lips thickened about the slit's height by (1 + lip_thickness)
    lip_thickness: float
    lip_protrusion: float        # m, lips pushed forward
    chin_centre: np.ndarray      # (3,)
    chin_shift: np.ndarray       # (3,) m
    field_centres: np.ndarray    # (K, 3) low-frequency random field: Gaussian bumps
    field_amplitudes: np.ndarray  # (K, 3) m
    field_radius: float
    local: float = 1.0

    @classmethod
    def random(cls, landmarks: FaceLandmarks, seed: int, strength: float = 1.0) -> "IdentityWarp":
        """Draw a warp for a head with these landmarks; ranges are the default ±8 % sizes, mm details."""
        rng = np.random.default_rng(seed)
        spread = lambda size, shape=None: strength * size * rng.uniform(-1.0, 1.0, shape)  # noqa: E731
        mouth = landmarks.mouth_centre
        nose_base_y = 0.5 * (landmarks.nose_tip[1] + landmarks.upper_lip[1])
        return cls(
            scale=1.0 + spread(1.0, 3) * np.array([0.08, 0.08, 0.06]),
            nose_base_y=float(nose_base_y), face_length=float(spread(0.10)),
            mouth_y=float(mouth[1]), jaw_width=float(spread(0.12)),
            nose_centre=landmarks.nose_tip - np.array([0.0, 0.01, 0.012]), nose_size=float(spread(0.2)),
            mouth_centre=mouth.copy(), lip_thickness=float(spread(0.3)), lip_protrusion=float(spread(0.002)),
            chin_centre=landmarks.chin - np.array([0.0, 0.0, 0.01]),
            chin_shift=np.array([0.0, spread(0.003), spread(0.004)]),
            field_centres=mouth + rng.normal(0.0, 0.05, (6, 3)),
            field_amplitudes=strength * rng.normal(0.0, 0.0015, (6, 3)), field_radius=0.04,
        )

    def softened(self) -> "IdentityWarp":
        """The same warp with its local terms halved (the global scale kept)."""
        return replace(self, local=0.5 * self.local)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """points (N, 3) metres → warped (N, 3)."""
        points = np.asarray(points, dtype=np.float64)
        x, y = points[:, 0], points[:, 1]
        shift = np.zeros_like(points)
        # Smooth min(y - y0, 0): stretches everything below the nose base, nothing above.
        softness = 0.01
        shift[:, 1] += self.face_length * -softness * np.logaddexp(0.0, -(y - self.nose_base_y) / softness)
        shift[:, 0] += self.jaw_width * x / (1.0 + np.exp(-(self.mouth_y - y) / 0.02))
        nose = _gaussian(points, self.nose_centre, np.full(3, 0.02))
        shift += self.nose_size * (points - self.nose_centre) * nose[:, None]
        lips = _gaussian(points, self.mouth_centre, np.array([0.03, 0.012, 0.02]))
        # Zero vertical shift at the slit's height: the lips thicken away from it, the slit stays.
        shift[:, 1] += self.lip_thickness * (y - self.mouth_centre[1]) * lips
        shift[:, 2] += self.lip_protrusion * lips
        shift += self.chin_shift * _gaussian(points, self.chin_centre, np.full(3, 0.02))[:, None]
        for centre, amplitude in zip(self.field_centres, self.field_amplitudes):
            shift += amplitude * _gaussian(points, centre, np.full(3, self.field_radius))[:, None]
        return (points + self.local * shift) * self.scale

    def describe(self) -> dict:
        """The warp's parameters as plain floats and lists (for `Head.meta` and JSON)."""
        return {key: (value.tolist() if isinstance(value, np.ndarray) else value) for key, value in vars(self).items()}


def _jacobian_spectrum(warp, points: np.ndarray, step: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference Jacobian of `warp` at points (N, 3): (singular values (N, 3), determinants (N,))."""
    columns = [(warp(points + step * axis) - warp(points - step * axis)) / (2.0 * step) for axis in np.eye(3)]
    jacobian = np.stack(columns, axis=2)
    return np.linalg.svd(jacobian, compute_uv=False), np.linalg.det(jacobian)


def flipped_triangles(before: np.ndarray, after: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Triangles turned inside out by a deformation.

    Args:
        before: (V, 3) vertex positions before, metres.
        after: (V, 3) the same vertices after.
        faces: (F, 3) triangle indices.

    Returns:
        (F,) bool, True where the triangle's normal turned by 90° or more (or it collapsed).
    """
    def normals(verts: np.ndarray) -> np.ndarray:
        corners = verts[faces]
        return np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    return (normals(before) * normals(after)).sum(axis=1) <= 0.0


def _warp_is_regular(warp, verts: np.ndarray, faces: np.ndarray | None, warped: np.ndarray) -> bool:
    """True if the warp's Jacobian at every vertex has singular values in [0.5, 2] and positive
    determinant (locally one-to-one, orientation kept) and no triangle flipped."""
    singular, determinant = _jacobian_spectrum(warp, verts)
    if singular.min() < 0.5 or singular.max() > 2.0 or determinant.min() <= 0.0:
        return False
    return faces is None or not flipped_triangles(verts, warped, faces).any()


def deformed_identity(head: Head, seed: int, strength: float = 1.0) -> Head:
    """A new plausible identity: `head` under a smooth, landmark-aware random warp.

    The warp (`IdentityWarp`) combines a global anisotropic scale, face length, jaw width, nose
    size, lip thickness (about the mouth slit, so the slit stays open), chin position and a
    low-frequency random displacement field; landmarks move with the same warp. It is checked
    to be regular (every vertex's Jacobian well conditioned, no triangle flipped); if a draw is
    not, its local terms are halved until it is. Deterministic for a seed.

    Args:
        head: a neutral head in FLAME's frame (metres), e.g. from `real_face`.
        seed: the identity's random seed.
        strength: scales every deviation from identity (0 = unchanged, 1 = the default range:
            sizes ±8 %, regional changes of a few millimetres).

    Returns:
        A new `Head` (same faces, parts and vertex order), named "<head.name>/id<seed>".

    Raises:
        DatasetError: `strength` is negative or not finite.
    """
    if not np.isfinite(strength) or strength < 0:
        raise DatasetError(f"identity warp strength must be a finite number ≥ 0, got {strength}; use e.g. 1.0.")
    warp = IdentityWarp.random(head.landmarks, seed, strength)
    for _ in range(6):
        verts = warp(head.verts)
        if _warp_is_regular(warp, head.verts, head.faces, verts):
            break
        warp = warp.softened()
    else:
        raise RuntimeError(f"identity warp {seed} of {head.name} is not regular even when softened")
    meta = dict(head.meta, identity_seed=int(seed), identity_strength=float(strength), warp=warp.describe())
    return Head(verts=verts, faces=None if head.faces is None else head.faces.copy(),
                landmarks=head.landmarks.transformed(warp), name=f"{head.name}/id{seed}",
                parts=None if head.parts is None else head.parts.copy(), meta=meta)


def real_identities(count: int, seed: int = 0, held_out: str | None = HELD_OUT_FACE,
                    strengths: tuple[float, float] = (1.0, 1.0)) -> list[Head]:
    """`count` deformed identities alternating over the real faces other than `held_out`.

    Args:
        count: number of heads (≥ 0).
        seed: seeds every identity (identity i gets its own seed derived from (seed, i)).
        held_out: the real face never used (default "james", evaluated undeformed), or None to use both.
        strengths: range the warp strength of each identity is drawn from (see `deformed_identity`;
            e.g. (0.3, 2.5) for caricatures as well as plausible people).

    Returns:
        Heads named "real/<face>/id<seed>", sources in turn.

    Raises:
        DatasetError: `count` is negative or `held_out` is not a real face name.
    """
    if count < 0:
        raise DatasetError(f"count of real identities must be ≥ 0, got {count}.")
    if held_out is not None and held_out not in REAL_FACES:
        raise DatasetError(f"held_out must be one of {', '.join(REAL_FACES)} or None, got {held_out!r}.")
    sources = [real_face(name) for name in REAL_FACES if name != held_out]
    heads = []
    for i in range(count):
        identity_seed = int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        strength = float(np.random.default_rng(identity_seed).uniform(*strengths))
        heads.append(deformed_identity(sources[i % len(sources)], identity_seed, strength))
    return heads
