"""Procedural facial expressions for the procedural heads, and a nearest-pattern emotion classifier.

An expression is a mix of a few action units (`ACTION_UNITS`, loosely FACS-like), each a smooth
per-vertex displacement built from the head's region weights (`scantalk.data.synth.motion.
region_weights`): brows up / inner-up / down, eyelids open / squint, cheeks up, mouth corners
up / down, upper lip up, lips pressed, jaw dropped. Asymmetric units act on one side only
(x > 0 is the head's left). Every label of `scantalk.emotions.EMOTIONS` has its own mix
(`EXPRESSION_RECIPES`), chosen so that the patterns stay apart on the *upper face* (brows,
eyelids, forehead, cheeks): a talking mouth hides the lower face, so the upper face is what an
evaluation can classify (`classify_emotion`).

Displacements are in metres (brows move up to 5 mm at full intensity) and scale linearly with
the intensity in [0, 1] (`scantalk.emotions.intensity_value`: low 1/3, mid 2/3, high 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scantalk.emotions import EMOTIONS, emotion_index, intensity_value
from scantalk.data.synth.heads import HeadIdentity, face_landmarks, surface_points
from scantalk.data.synth.motion import region_weights
from scantalk.errors import ScanTalkError

ACTION_UNITS: tuple[str, ...] = (
    "brow_raise", "brow_inner_raise", "brow_lower", "lid_open", "lid_squint", "cheek_raise",
    "corner_up", "corner_down", "upper_lip_raise", "lip_press", "jaw_drop",
)
"""Symmetric units; a "_left" / "_right" suffix in a recipe restricts a unit to one side."""

# Activation (about 0..1) of each action unit per label. Tuned so that the upper-face patterns of
# any two labels have cosine similarity below ~0.75 (see tests/emotion/test_synthesis.py).
EXPRESSION_RECIPES: dict[str, dict[str, float]] = {
    "afraid": {"brow_raise": 0.8, "brow_inner_raise": 0.6, "lid_open": 1.0, "jaw_drop": 0.5, "corner_down": 0.3},
    "disgust": {"brow_lower": 0.8, "lid_squint": 0.4, "cheek_raise": 0.5, "upper_lip_raise": 1.0, "corner_down": 0.4},
    "angry": {"brow_lower": 1.0, "lid_open": 0.7, "lip_press": 1.0},
    "sad": {"brow_inner_raise": 1.0, "lid_squint": 0.4, "corner_down": 1.0},
    "happy": {"cheek_raise": 1.0, "lid_squint": 0.6, "corner_up": 1.0},
    "drunk": {"lid_squint": 0.8, "brow_raise_right": 0.5, "jaw_drop": 0.4, "corner_down_right": 0.6},
    "ill": {"lid_squint": 1.0, "brow_inner_raise": 0.3, "brow_lower": 0.3, "corner_down": 0.4},
    "moody": {"brow_lower_left": 1.0, "lid_squint_left": 0.5, "corner_down_right": 0.8, "lip_press": 0.5},
    "pleased": {"cheek_raise_left": 0.8, "brow_raise": 0.4, "corner_up": 0.4, "corner_up_left": 0.5},
    "suspicious": {"brow_raise_left": 1.0, "brow_lower_right": 0.8, "lid_squint_right": 0.6, "corner_up_left": 0.4},
    "upset": {"brow_inner_raise": 1.0, "brow_lower": 0.5, "lid_open": 0.6, "lip_press": 0.7, "corner_down": 0.5},
}

UPPER_FACE_REGIONS: tuple[str, ...] = ("brows", "eyelids", "forehead", "cheeks")
"""Regions whose displacement identifies an emotion while the mouth talks."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def expression_basis(identity: HeadIdentity, verts_param: np.ndarray) -> dict[str, np.ndarray]:
    """Per-vertex displacement (V, 3) metres of every symmetric action unit at activation 1.

    identity: the head; verts_param (V, 3): unit parameter directions of its vertices
    (`HeadMesh.param`). Amplitudes: brows 5 mm up (inner raise 4 mm, lowering 4 mm down and
    1.5 mm inwards), eyelids 2.5 mm, cheeks 3 mm, mouth corners 3 mm, upper lip 2.5 mm,
    lip press 1.5 mm, jaw 4 mm.
    """
    param = np.asarray(verts_param, dtype=np.float64)
    rest = surface_points(identity, param)
    marks = face_landmarks(identity)
    regions = region_weights(identity, param)
    x = rest[:, 0]
    q = rest - marks.mouth
    zeros = np.zeros(len(rest))
    brows, lids, forehead, cheeks = regions["brows"], regions["eyelids"], regions["forehead"], regions["cheeks"]
    corners, lips, jaw = regions["mouth_corners"], regions["lips"], regions["jaw"]
    medial = np.exp(-((x / 0.022) ** 2))  # the inner ends of the brows
    towards_midline = -np.tanh(x / 0.01)
    upper_lip = lips * _sigmoid((q[:, 1] - 0.001) / 0.002)

    def along(weight: np.ndarray, vector: tuple[float, float, float]) -> np.ndarray:
        return weight[:, None] * np.asarray(vector)[None]

    return {
        "brow_raise": along(brows, (0.0, 0.005, 0.0005)) + along(forehead, (0.0, 0.0015, 0.0)),
        # Sad brows are oblique: the inner ends go up while the outer ends drop a little.
        "brow_inner_raise": along(brows * (medial - 0.25 * (1.0 - medial)), (0.0, 0.004, 0.0005))
        + along(forehead * medial, (0.0, 0.0015, 0.0)),
        "brow_lower": along(brows, (0.0, -0.004, -0.0005)) + np.stack([0.0025 * brows * towards_midline, zeros, zeros], 1),
        "lid_open": along(lids, (0.0, 0.0035, 0.0003)),
        "lid_squint": along(lids, (0.0, -0.0035, 0.0)) + along(cheeks, (0.0, 0.001, 0.0)),
        "cheek_raise": along(cheeks, (0.0, 0.004, 0.0015)),
        "corner_up": along(corners, (0.0, 0.003, 0.0)) + np.stack([-0.002 * corners * towards_midline, zeros, zeros], 1),
        "corner_down": along(corners, (0.0, -0.003, -0.0005)),
        "upper_lip_raise": along(upper_lip, (0.0, 0.0025, 0.0005)),
        "lip_press": np.stack([zeros, -0.0015 * lips * np.tanh(q[:, 1] / 0.004), -0.001 * lips], axis=1),
        "jaw_drop": along(jaw, (0.0, -0.004, -0.001)),
    }


def _side_weights(identity: HeadIdentity, verts_param: np.ndarray) -> dict[str, np.ndarray]:
    """Smooth (V,) weights of the left (x > 0) and right (x < 0) halves of the face."""
    x = surface_points(identity, np.asarray(verts_param, dtype=np.float64))[:, 0]
    left = _sigmoid(x / 0.004)
    return {"left": left, "right": 1.0 - left}


def check_label(label: str) -> str:
    """The canonical (lower-case) name of `label`; unknown labels raise, listing the known ones."""
    return EMOTIONS[emotion_index(label)]


def expression_from_recipe(
    basis: Mapping[str, np.ndarray], sides: Mapping[str, np.ndarray], recipe: Mapping[str, float],
) -> np.ndarray:
    """(V, 3) metres: Σ activation · unit over a recipe such as `EXPRESSION_RECIPES["sad"]`."""
    total = np.zeros_like(next(iter(basis.values())))
    for unit, activation in recipe.items():
        name, _, side = unit.rpartition("_") if unit.endswith(("_left", "_right")) else (unit, "", "")
        if name not in basis:
            raise ScanTalkError(f"unknown action unit {unit!r}; known units: {', '.join(ACTION_UNITS)}")
        weight = sides[side][:, None] if side else 1.0
        total = total + float(activation) * weight * basis[name]
    return total


def expression_displacement(
    identity: HeadIdentity, verts_param: np.ndarray, label: str, intensity: float | str = 1.0,
) -> np.ndarray:
    """Displacement (V, 3) float32 metres of expression `label` at `intensity` on one head.

    identity / verts_param (V, 3): the head and its vertices' parameter directions (the
    procedural dataset records both per subject). intensity: low / mid / high or a number in
    [0, 1]; the displacement scales linearly with it. Unknown labels raise `ScanTalkError`.
    """
    recipe = EXPRESSION_RECIPES[check_label(label)]
    basis = expression_basis(identity, verts_param)
    displacement = expression_from_recipe(basis, _side_weights(identity, verts_param), recipe)
    return (intensity_value(intensity) * displacement).astype(np.float32)


def all_expressions(
    identity: HeadIdentity, verts_param: np.ndarray, labels: Sequence[str] = EMOTIONS,
) -> dict[str, np.ndarray]:
    """{label: displacement (V, 3) float32 metres at full intensity} for every label, sharing one basis."""
    basis = expression_basis(identity, verts_param)
    sides = _side_weights(identity, verts_param)
    return {check_label(label): expression_from_recipe(basis, sides, EXPRESSION_RECIPES[check_label(label)])
            .astype(np.float32) for label in labels}


def upper_face_vertices(identity: HeadIdentity, verts_param: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Indices (U,) int64 of the expression upper face: brows, eyelids, forehead or cheeks above
    `threshold`, minus the mouth (lips, jaw, mouth corners above `threshold`), which talking moves."""
    regions = region_weights(identity, np.asarray(verts_param, dtype=np.float64))
    upper = np.max([regions[name] for name in UPPER_FACE_REGIONS], axis=0)
    mouth = np.max([regions[name] for name in ("lips", "jaw", "mouth_corners")], axis=0)
    return np.flatnonzero((upper > threshold) & (mouth < threshold)).astype(np.int64)


def emotion_signatures(
    identity: HeadIdentity, verts_param: np.ndarray, labels: Sequence[str] = EMOTIONS,
    upper_vertices: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """{label: upper-face pattern (U, 3) metres at full intensity}, the candidates `classify_emotion` uses.

    upper_vertices: indices to keep (default `upper_face_vertices` of this head).
    """
    upper = upper_face_vertices(identity, verts_param) if upper_vertices is None else np.asarray(upper_vertices)
    return {label: pattern[upper] for label, pattern in all_expressions(identity, verts_param, labels).items()}


def classify_emotion(pattern: np.ndarray, candidates: Mapping[str, np.ndarray]) -> str:
    """The candidate label whose upper-face pattern points the most the same way as `pattern`.

    pattern: upper-face displacement (U, 3) metres, or a sequence (T, U, 3) (averaged over time,
    which cancels most talking motion); candidates: {label: (U, 3)} on the same vertices (e.g.
    `emotion_signatures`). Cosine similarity makes the answer independent of the intensity.
    """
    observed = np.asarray(pattern, dtype=np.float64)
    if observed.ndim == 3:
        observed = observed.mean(axis=0)
    if not candidates:
        raise ScanTalkError("classify_emotion needs at least one candidate pattern")
    scores = {}
    for label, reference in candidates.items():
        reference = np.asarray(reference, dtype=np.float64)
        if reference.shape != observed.shape:
            raise ScanTalkError(
                f"pattern of shape {observed.shape} and candidate {label!r} of shape {reference.shape} are not on "
                "the same upper-face vertices; restrict both to the same vertex indices"
            )
        denominator = np.linalg.norm(observed) * np.linalg.norm(reference)
        scores[label] = float(np.sum(observed * reference) / denominator) if denominator > 0 else -np.inf
    return max(scores, key=scores.__getitem__)
