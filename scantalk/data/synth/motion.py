"""Articulation → per-vertex motion, and smooth facial region weights, for synthetic heads.

Both are continuous functions of the rest surface point of a parameter direction (see
`heads`), so every meshing of one identity moves identically at the same surface point.

Articulation channels (`ARTICULATION_CHANNELS`, each about 0..1 per frame):
jaw_open (lower face rotates down about a hinge behind the cheeks, ≈9 mm at the chin),
lip_round (lips forward and narrowed, ≈7 mm), lip_spread (corners outward, ≈5 mm),
lip_closure (lips pressed together, ≈2.5 mm), brow_raise (forehead, ≤ 0.4 mm: the nearly
still upper face that FDD measures).
"""

from __future__ import annotations

import numpy as np

from scantalk.data.synth.heads import FaceLandmarks, HeadIdentity, HeadMesh, face_landmarks, logistic, surface_points

ARTICULATION_CHANNELS: tuple[str, ...] = ("jaw_open", "lip_round", "lip_spread", "lip_closure", "brow_raise")

REGION_NAMES: tuple[str, ...] = ("brows", "eyelids", "cheeks", "mouth_corners", "forehead", "lips", "jaw")

JAW_MAX_ANGLE = 0.085
"""Jaw rotation (radians) at jaw_open = 1: about 9 mm at the chin, as in VOCASET speech."""


def _gauss(points: np.ndarray, centre: np.ndarray, sigma: tuple[float, float, float]) -> np.ndarray:
    return np.exp(-np.sum(((points - centre) / np.asarray(sigma)) ** 2, axis=1))


def _pair(points: np.ndarray, centres: np.ndarray, sigma: tuple[float, float, float]) -> np.ndarray:
    return _gauss(points, centres[0], sigma) + _gauss(points, centres[1], sigma)


def _weights(identity: HeadIdentity, rest: np.ndarray, marks: FaceLandmarks) -> dict[str, np.ndarray]:
    """Region weights (V,) in [0, 1] at rest points `rest` (V, 3); see `region_weights`."""
    x, y, z = rest.T
    q = rest - marks.mouth
    front = logistic((z - 0.03) / 0.008)
    half_mouth = 0.5 * identity.mouth_width
    # The lower-face boundary is sharp across the mouth slit (the lips part) and soft over the
    # cheeks (skin stretches): its width grows away from the mouth.
    near_mouth = np.exp(-((q[:, 0] / (1.2 * half_mouth)) ** 2))
    boundary_width = 0.0035 + 0.012 * (1.0 - near_mouth)
    below_mouth = logistic(-(q[:, 1] + 0.0005) / boundary_width)
    jaw = (
        below_mouth
        * logistic((z - marks.hinge[2] - 0.035) / 0.012)  # fades towards the hinge and the ears
        * logistic((y - marks.chin[1] + 0.035) / 0.01)  # fades down the neck
        * logistic((0.072 - np.sqrt(x**2 + 1e-8)) / 0.008)
    )
    lips = _gauss(rest, marks.mouth, (1.05 * half_mouth, 0.012, 0.02)) * front
    forehead = (
        logistic((y - marks.brows[0, 1] - 0.012) / 0.006)
        * logistic((0.065 - np.sqrt(x**2 + 1e-8)) / 0.01)
        * logistic((z - 0.02) / 0.01)
    )
    return {
        "brows": np.clip(_pair(rest, marks.brows, (0.02, 0.009, 0.02)) * front, 0.0, 1.0),
        "eyelids": np.clip(_pair(rest, marks.eyes + [0.0, 0.004, 0.0], (0.014, 0.007, 0.02)) * front, 0.0, 1.0),
        "cheeks": np.clip(_pair(rest, marks.cheeks, (0.02, 0.02, 0.025)) * front, 0.0, 1.0),
        "mouth_corners": np.clip(_pair(rest, marks.mouth_corners, (0.01, 0.01, 0.015)) * front, 0.0, 1.0),
        "forehead": forehead,
        "lips": lips,
        "jaw": jaw,
    }


def region_weights(identity: HeadIdentity, verts_param: np.ndarray) -> dict[str, np.ndarray]:
    """Smooth per-vertex weights (V,) in [0, 1] for each name of `REGION_NAMES`.

    verts_param (V, 3): unit parameter directions of the vertices (`HeadMesh.param`).
    brows / eyelids / cheeks / mouth_corners: bumps centred on each landmark pair ·
    forehead: above the brows · lips: around the mouth slit · jaw: the part of the face that
    follows the mandible (1 at the chin and lower lip, 0 at and above the upper lip).
    """
    rest = surface_points(identity, verts_param)
    return _weights(identity, rest, face_landmarks(identity))


def lip_vertices(identity: HeadIdentity, verts_param: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Indices (L,) int64 of the lip region (weight > threshold), the vertices LVE measures."""
    return np.flatnonzero(region_weights(identity, verts_param)["lips"] > threshold).astype(np.int64)


def upper_face_vertices(identity: HeadIdentity, verts_param: np.ndarray) -> np.ndarray:
    """Indices (U,) int64 of the upper face (forehead, brows, eyes), the vertices FDD measures."""
    rest = surface_points(identity, verts_param)
    marks = face_landmarks(identity)
    x, y, z = rest.T
    upper = (y > marks.eyes[0, 1] - 0.012) & (np.abs(x) < 0.065) & (z > 0.02)
    return np.flatnonzero(upper).astype(np.int64)


def motion_basis(identity: HeadIdentity, verts_param: np.ndarray) -> dict[str, np.ndarray]:
    """Per-vertex pieces (V, 3) metres that `displacements` combines frame by frame.

    Linear channels give their displacement at value 1; "jaw_arm" is the weighted lever arm
    (rest − hinge) · jaw weight, rotated about the x axis by the jaw angle.
    """
    rest = surface_points(identity, verts_param)
    marks = face_landmarks(identity)
    regions = _weights(identity, rest, marks)
    q = rest - marks.mouth
    lips, jaw = regions["lips"], regions["jaw"]
    zeros = np.zeros(len(rest))
    upper_lip = lips * (1.0 - logistic(-(q[:, 1] + 0.0005) / 0.0035))
    wide_lips = np.exp(-((q[:, 0] / (0.7 * identity.mouth_width)) ** 2) - (q[:, 1] / 0.014) ** 2) * logistic(
        (rest[:, 2] - 0.03) / 0.008
    )
    return {
        "jaw_arm": jaw[:, None] * (rest - marks.hinge),
        # The upper lip lifts a little as the mouth opens.
        "jaw_upper_lip": upper_lip[:, None] * np.array([0.0, 0.0015, 0.0005]),
        "lip_round": lips[:, None] * np.stack([-0.35 * q[:, 0], -0.15 * q[:, 1], zeros + 0.007], axis=1),
        "lip_spread": wide_lips[:, None] * np.stack([0.22 * q[:, 0], zeros + 0.001, zeros - 0.002], axis=1),
        "lip_closure": lips[:, None] * np.stack([zeros, -0.0025 * np.tanh(q[:, 1] / 0.005), zeros - 0.001], axis=1),
        "brow_raise": regions["brows"][:, None] * np.array([0.0, 0.0004, 0.0])
        + regions["forehead"][:, None] * np.array([0.0, 0.0002, 0.0]),
    }


def displacements(basis: dict[str, np.ndarray], articulation: np.ndarray) -> np.ndarray:
    """(T, V, 3) float64 metres from a `motion_basis` and articulation (T, A) with A = 5 channels."""
    track = np.asarray(articulation, dtype=np.float64)
    if track.ndim != 2 or track.shape[1] != len(ARTICULATION_CHANNELS):
        raise ValueError(f"articulation must be (T, {len(ARTICULATION_CHANNELS)}), got {track.shape}")
    jaw_open, lip_round, lip_spread, lip_closure, brow_raise = track.T
    angle = JAW_MAX_ANGLE * jaw_open
    arm = basis["jaw_arm"]
    # Rotation about +x through the hinge, R(θ)·arm − arm = (cos θ − 1)·arm + sin θ·(x̂ × arm):
    # the chin goes down and slightly back. Every term is a per-frame scalar times a per-vertex
    # field, so the whole sequence is one (T, 7) @ (7, V·3) product.
    turned = np.stack([np.zeros(len(arm)), -arm[:, 2], arm[:, 1]], axis=1)
    arm_yz = arm * np.array([0.0, 1.0, 1.0])
    fields = np.stack([arm_yz, turned, basis["jaw_upper_lip"], basis["lip_round"], basis["lip_spread"],
                       basis["lip_closure"], basis["brow_raise"]])
    weights = np.stack([np.cos(angle) - 1.0, np.sin(angle), jaw_open, lip_round, lip_spread, lip_closure, brow_raise], axis=1)
    return (weights @ fields.reshape(len(fields), -1)).reshape(len(track), len(arm), 3)


def articulate(head: HeadMesh, articulation: np.ndarray) -> np.ndarray:
    """Animated vertices (T, V, 3) float32 metres of `head` driven by articulation (T, 5)."""
    basis = motion_basis(head.identity, head.param)
    return (head.verts[None] + displacements(basis, articulation)).astype(np.float32)
