"""Figures a prediction is judged by, in two kinds.

- `scantalk.metrics.literature`: LVE, MVE and FDD against ground-truth motion, computed exactly
  as the speech-driven 3D face literature reports them (`evaluate_sequences` over a test set).
- `scantalk.metrics.speech_motion`: without ground truth (real speech on heads nobody captured),
  what a viewer checks: lips that part on vowels, rest in pauses, close on p/b/m, move more than
  the forehead, follow the speech's loudness, alike across meshings, vertex orders and units.

Every name of both is importable from here (`from scantalk.metrics import lip_vertex_error`).
"""

from scantalk.metrics.arrays import ArrayLike
from scantalk.metrics.literature import (EvaluationReport, SequenceMetrics, evaluate_sequences,
                                         lip_max_errors, lip_vertex_error, mean_vertex_error,
                                         upper_face_dynamics_deviation, upper_face_motion_std)
from scantalk.metrics.speech_motion import (BILABIALS, SILENCE_PHONE, VOWELS, bilabial_closures,
                                            closure_summary, corresponding_vertices, lip_opening, lip_region,
                                            max_deviation_ratio, motion_std, mouth_side, nearest_vertex,
                                            pause_openings, pearson, relative_displacement_error,
                                            speech_envelope, upper_face_region, vowel_peak_openings)

__all__ = [
    "ArrayLike",
    "BILABIALS",
    "EvaluationReport",
    "SILENCE_PHONE",
    "SequenceMetrics",
    "VOWELS",
    "bilabial_closures",
    "closure_summary",
    "corresponding_vertices",
    "evaluate_sequences",
    "lip_max_errors",
    "lip_opening",
    "lip_region",
    "lip_vertex_error",
    "max_deviation_ratio",
    "mean_vertex_error",
    "motion_std",
    "mouth_side",
    "nearest_vertex",
    "pause_openings",
    "pearson",
    "relative_displacement_error",
    "speech_envelope",
    "upper_face_dynamics_deviation",
    "upper_face_motion_std",
    "upper_face_region",
    "vowel_peak_openings",
]
