"""Procedural talking heads: parametric faces, speech-like audio, and the motion it drives.

The dataset our models train on when no real data is at hand (`generate_dataset`, or
`scantalk synth OUT_DIR`), and the pieces it is made of, for demos and other generators:

    identity = sample_identity(seed)                      # HeadIdentity
    head = build_head(identity, "irregular")              # HeadMesh: verts, faces, param
    audio, articulation = synth_speech(seed, seconds=4)   # (N,) 16 kHz, (T, 5) at 30 fps
    frames = articulate(head, articulation)               # (T, V, 3) metres
    weights = region_weights(identity, head.param)        # {"brows": (V,), ...}
"""

from scantalk.data.synth.build import generate_dataset, write_ply
from scantalk.data.synth.heads import (
    MESHINGS,
    HeadIdentity,
    HeadMesh,
    build_head,
    face_landmarks,
    make_sample_face,
    mesh_head,
    sample_identity,
    surface_points,
)
from scantalk.data.synth.motion import (
    ARTICULATION_CHANNELS,
    REGION_NAMES,
    articulate,
    displacements,
    lip_vertices,
    motion_basis,
    region_weights,
    upper_face_vertices,
)
from scantalk.data.synth.speech import (
    SAMPLE_RATE,
    Utterance,
    make_sample_speech,
    sample_voice,
    synth_speech,
    synth_utterance,
)

__all__ = [
    "ARTICULATION_CHANNELS", "MESHINGS", "REGION_NAMES", "SAMPLE_RATE", "HeadIdentity", "HeadMesh", "Utterance",
    "articulate", "build_head", "displacements", "face_landmarks", "generate_dataset", "lip_vertices",
    "make_sample_face", "make_sample_speech", "mesh_head", "motion_basis", "region_weights", "sample_identity",
    "sample_voice", "surface_points", "synth_speech", "synth_utterance", "upper_face_vertices", "write_ply",
]
