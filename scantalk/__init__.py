"""ScanTalk: animate any 3D face — mesh, raw scan or point cloud — from speech.

`Animator` is the way in: `animate` a recording, `articulate` speech into an editable track and
`animate_track` it onto any face, or `stream` audio chunks live into frames (`AnimationStream`).
They live in `scantalk.inference`; `scantalk.geometry`, `scantalk.nn`, `scantalk.audio`,
`scantalk.face`, `scantalk.rig`, `scantalk.articulation`, `scantalk.model`, `scantalk.life`,
`scantalk.datasets`, `scantalk.synthesis` and `scantalk.training` hold the pieces.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Animation", "AnimationStream", "Animator", "StreamFrame", "__version__"]


def __getattr__(name: str):
    # `import scantalk` stays light (no torch/open3d import) until the Animator is asked for.
    if name in __all__ and name != "__version__":
        import scantalk.inference

        return getattr(scantalk.inference, name)
    raise AttributeError(f"module 'scantalk' has no attribute {name!r}")
