"""The sample faces that ship with scantalk: the menpo3d `james` scan and MediaPipe's canonical
face, aligned into FLAME's frame, given a mouth slit and landmarks.

`real_face(name)` gives one as a `Head`, ready to animate (`scantalk demo` animates james). The
training data warps them into new identities (`scantalk.synthesis.heads.real`), never `HELD_OUT_FACE`.
The vendored arrays and their licences are in `scantalk/assets/faces/` (README.md there says
what each is).

Landmark indices used (james: positions in `james.ljson`, whose 68 iBUG points are grouped as
jaw 0-16, right eye 17-22, left eye 23-28, brows 29-33 / 43-47, nose 34-42, mouth 48-67;
MediaPipe: canonical-mesh vertex indices):

==================  =======================  ==========================
landmark            james                    mediapipe
==================  =======================  ==========================
mouth corners       48 (right), 54 (left)    61 (right), 291 (left)
lip midlines        51 upper, 57 lower       0 upper, 17 lower
nose tip            37 (then most forward)   4 (then most forward)
chin                8 (menton) → most forward midline point above it (both)
eyes                contours 17-22 / 23-28   contours 33…246 / 263…466
ear-level sides     0, 16                    234, 454
mouth slit          inner lip 60-64          inner lip rings 78…308
==================  =======================  ==========================
"""

from __future__ import annotations

from importlib import resources

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from scantalk.errors import DatasetError
from scantalk.face.head import FaceLandmarks, Head
from scantalk.geometry.cleaning import clean_arrays
from scantalk.geometry.topology import split_along, surface_path

REAL_FACES: tuple[str, ...] = ("james", "mediapipe")
HELD_OUT_FACE = "james"
"""The real face kept out of the training identities (`scantalk.synthesis.heads.real.real_identities`)
by default, to evaluate on undeformed."""

# Where FLAME puts a face: the mouth centre this far below the origin and the lip midlines this
# far in front of it, so the origin sits near the head's centre.
MOUTH_Y = -0.04
LIPS_Z = 0.09
# Eyeball centres lie about this far (m) behind the mean of the eyelid contour (radius ~12 mm,
# the lid opening sits a few mm behind the corneal apex).
EYEBALL_DEPTH = 0.008
# Jaw condyles: this fraction of the ear-level half width (intercondylar ~10 cm on a ~15 cm
# face), 1 cm in front of the ear-level side points, midway between eye and nose-base height.
HINGE_WIDTH_FRACTION = 0.65
HINGE_FORWARD = 0.01
# The mouth slit cut into a closed-mouth scan is opened this much (m) at its middle.
SLIT_GAP = 0.001
# Scan debris: components with fewer than this fraction of the vertices are dropped.
DEBRIS_FRACTION = 0.01

# Shared named points → (james.ljson index, MediaPipe vertex), used to rotate james into the
# MediaPipe canonical (upright, frontal) orientation.
_ALIGNMENT_POINTS = {
    "right_eye_outer": (17, 33), "right_eye_inner": (20, 133), "left_eye_inner": (23, 362),
    "left_eye_outer": (26, 263), "nose_tip": (37, 4), "subnasale": (40, 2), "nasion": (34, 168),
    "mouth_right": (48, 61), "mouth_left": (54, 291), "upper_lip": (51, 0), "lower_lip": (57, 17),
    "menton": (8, 152), "side_right": (0, 234), "side_left": (16, 454),
}
_MIDLINE = ("nose_tip", "subnasale", "nasion", "upper_lip", "lower_lip", "menton")
_ALIGN_WITH = tuple(name for name in _ALIGNMENT_POINTS if not name.startswith("side"))
_JAMES_EYES = (list(range(17, 23)), list(range(23, 29)))
_JAMES_INNER_LIP = (60, 61, 62, 63, 64)
_MP_EYES = (
    [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246],
    [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466],
)
_MP_INNER_LIP = (
    [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308],   # upper, right corner → left corner
    [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308],   # lower
)


def _asset(filename: str) -> dict[str, np.ndarray]:
    with resources.files("scantalk").joinpath("assets", "faces", filename).open("rb") as handle:
        with np.load(handle, allow_pickle=False) as data:
            return {key: np.asarray(data[key]) for key in data.files}


def _raw_face(name: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Vendored geometry in metres in its own frame: verts (V, 3), faces (F, 3), named points, eye contours."""
    if name == "james":
        data = _asset("james.npz")
        verts, marks = data["verts_mm"].astype(np.float64) / 1000.0, data["landmarks_mm"].astype(np.float64) / 1000.0
        named = {key: marks[pair[0]] for key, pair in _ALIGNMENT_POINTS.items()}
        named["inner_lip"] = marks[list(_JAMES_INNER_LIP)]
        eyes = tuple(marks[contour] for contour in _JAMES_EYES)
    else:
        data = _asset("mediapipe_canonical.npz")
        verts = data["verts_cm"].astype(np.float64) / 100.0
        named = {key: verts[pair[1]] for key, pair in _ALIGNMENT_POINTS.items()}
        eyes = tuple(verts[contour] for contour in _MP_EYES)
    return verts, data["faces"].astype(np.int64), named, eyes


def _canonical_rotation(named: dict[str, np.ndarray]) -> np.ndarray:
    """(3, 3) proper rotation taking this face's named points onto MediaPipe's canonical ones (Kabsch)."""
    reference = _asset("mediapipe_canonical.npz")["verts_cm"].astype(np.float64)
    target = reference[[_ALIGNMENT_POINTS[key][1] for key in _ALIGN_WITH]]
    source = np.stack([named[key] for key in _ALIGN_WITH])
    covariance = (source - source.mean(0)).T @ (target - target.mean(0))
    left, _, right = np.linalg.svd(covariance)
    # A reflection would mirror the face (swap its left and right): force a proper rotation.
    sign = np.sign(np.linalg.det(left @ right))
    return (left @ np.diag([1.0, 1.0, sign]) @ right).T


def _drop_debris(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep connected components with at least `DEBRIS_FRACTION` of the vertices; re-index."""
    n = verts.shape[0]
    rows = np.repeat(np.arange(len(faces)), 3)
    incidence = coo_matrix((np.ones(faces.size), (rows, faces.ravel())), shape=(len(faces), n))
    _, label = connected_components((incidence.T @ incidence).tocsr(), directed=False)
    sizes = np.bincount(label)
    keep_face = sizes[label[faces[:, 0]]] >= DEBRIS_FRACTION * n
    faces = faces[keep_face]
    used = np.unique(faces)
    remap = np.full(n, -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return verts[used], remap[faces]


def _landmarks(verts: np.ndarray, named: dict[str, np.ndarray], eyes: tuple[np.ndarray, np.ndarray]) -> FaceLandmarks:
    """FaceLandmarks in the FLAME frame from the aligned named points (surface points snapped to vertices)."""
    def snap(point: np.ndarray) -> np.ndarray:
        return verts[int(np.argmin(np.linalg.norm(verts - point, axis=1)))].copy()

    def most_forward(mask: np.ndarray) -> np.ndarray:
        candidates = verts[mask]
        return candidates[int(np.argmax(candidates[:, 2]))].copy()

    nose_tip = most_forward(np.linalg.norm(verts - named["nose_tip"], axis=1) < 0.015)
    lower_lip = snap(named["lower_lip"])
    # The chin's most forward point (pogonion) on the midline between the lower lip and menton.
    chin = most_forward((np.abs(verts[:, 0]) < 0.006) & (verts[:, 1] < lower_lip[1] - 0.012)
                        & (verts[:, 1] > named["menton"][1] - 0.005) & (verts[:, 2] > named["menton"][2] - 0.01))
    eye_right, eye_left = (contour.mean(axis=0) - np.array([0.0, 0.0, EYEBALL_DEPTH]) for contour in eyes)
    hinge_y = 0.5 * (0.5 * (eye_left[1] + eye_right[1]) + named["subnasale"][1])
    # Mirror-symmetric hinges (one rotation axis along x), from both sides' mean width and depth.
    half_width = 0.5 * (named["side_left"][0] - named["side_right"][0])
    hinge_z = 0.5 * (named["side_left"][2] + named["side_right"][2]) + HINGE_FORWARD
    hinges = [np.array([sign * HINGE_WIDTH_FRACTION * half_width, hinge_y, hinge_z]) for sign in (1.0, -1.0)]
    return FaceLandmarks(
        mouth_left=snap(named["mouth_left"]), mouth_right=snap(named["mouth_right"]),
        upper_lip=snap(named["upper_lip"]), lower_lip=lower_lip, chin=chin, nose_tip=nose_tip,
        eye_left=eye_left, eye_right=eye_right, jaw_hinge_left=hinges[0], jaw_hinge_right=hinges[1],
    )


def real_face(name: str) -> Head:
    """One of `REAL_FACES` as a `Head` in FLAME's frame (metres, y up, face towards +z).

    The face is rotated onto MediaPipe's upright canonical orientation (by its landmarks), kept
    at its real size, centred on its midline, with the mouth centre at y = `MOUTH_Y` and the lip
    midlines at z = `LIPS_Z`; scan debris is dropped and the mouth is open as a slit (james: cut
    along its inner lip line; MediaPipe: its mouth-filling triangles removed). `meta` holds the
    source, the licence and `mouth_slit` (2, K) vertex indices (upper row, lower row, corners shared).

    Args:
        name: "james" (menpo3d scan, 6.3k vertices, whole head open at the neck) or "mediapipe"
            (canonical face mask, 468 vertices).

    Returns:
        The neutral `Head`; verts (V, 3) float64 metres, faces (F, 3) int64, parts all skin.

    Raises:
        DatasetError: `name` is not one of `REAL_FACES`.
    """
    if name not in REAL_FACES:
        raise DatasetError(f"unknown real face {name!r}; choose one of {', '.join(REAL_FACES)}.")
    verts, faces, named, eyes = _raw_face(name)
    rotation = _canonical_rotation(named)
    centre = np.stack([named[key] for key in _ALIGN_WITH]).mean(axis=0)

    def to_flame(points: np.ndarray) -> np.ndarray:
        return (np.asarray(points) - centre) @ rotation.T

    verts = to_flame(verts)
    named = {key: to_flame(point) for key, point in named.items()}
    eyes = tuple(to_flame(contour) for contour in eyes)
    mouth = 0.25 * (named["mouth_left"] + named["mouth_right"] + named["upper_lip"] + named["lower_lip"])
    offset = np.array([
        -np.mean([named[key][0] for key in _MIDLINE]),
        MOUTH_Y - mouth[1],
        LIPS_Z - 0.5 * (named["upper_lip"][2] + named["lower_lip"][2]),
    ])
    verts = verts + offset
    named = {key: point + offset for key, point in named.items()}
    eyes = tuple(contour + offset for contour in eyes)

    cleaned = clean_arrays(verts, faces, f"vendored real face {name}")
    verts, faces = _drop_debris(cleaned.verts, cleaned.faces)
    if name == "james":
        path = surface_path(verts, faces, named["inner_lip"])
        verts, faces, upper, lower = split_along(verts, faces, path, np.array([0.0, 1.0, 0.0]), SLIT_GAP)
    else:
        # Clean keeps MediaPipe's vertex order (no duplicates, nothing dropped), so its indices hold.
        ring = set(_MP_INNER_LIP[0]) | set(_MP_INNER_LIP[1])
        faces = faces[~np.isin(faces, list(ring)).all(axis=1)]
        upper, lower = (np.asarray(row, dtype=np.int64) for row in _MP_INNER_LIP)
    licence = "BSD-3-Clause (menpo3d 0.8.6)" if name == "james" else "Apache-2.0 (@mediapipe/face_mesh)"
    return Head(
        verts=verts, faces=faces, landmarks=_landmarks(verts, named, eyes), name=f"real/{name}",
        parts=np.zeros(verts.shape[0], dtype=np.int8),
        meta={"source": name, "licence": licence, "mouth_slit": np.stack([upper, lower]),
              "held_out": name == HELD_OUT_FACE},
    )
