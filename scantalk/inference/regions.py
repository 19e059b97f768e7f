"""The face's regions on any mesh, for end-to-end models that hear them (identity_input "xyz+regions").

The shipped articulated model finds the face (orientation, landmarks, mouth slit) on the mesh, as
it does before animating it; `scantalk.rig.rig.region_weights` turns what it found into weights
per vertex. Training and inference find them the same way, so a model meets at inference the
regions it learned from.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def face_region_weights(verts: np.ndarray, faces: np.ndarray | None, finder: Any) -> np.ndarray:
    """`region_weights` (V, 3) float32 of the neutral face (`verts` (V, 3), `faces` (F, 3) or
    None for a point cloud), in the order of `verts`.

    Args:
        finder: an articulated `Animator` that finds the face
            (`scantalk.inference.animator.shipped_face_finder()`: the shipped model).

    Raises:
        FaceNotFoundError: no face was found on the mesh (as `Animator.fit_face`).
    """
    from scantalk.rig.rig import region_weights

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the rig's note on fused lips: not this model's concern
        fit = finder.fit_face((np.asarray(verts, np.float64), faces))
    return fit.mesh.to_file_order(region_weights(fit.head)).astype(np.float32)
