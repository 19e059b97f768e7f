"""ScanTalk: animate any 3D face — mesh, raw scan or point cloud — from speech.

`Animator` is the way in: `animate` a recording, `articulate` speech into an editable track and
`animate_track` it onto any face, or `stream` audio chunks live into frames (`AnimationStream`).
`scantalk.geometry`, `scantalk.nn`, `scantalk.audio`, `scantalk.face`,
`scantalk.rig`, `scantalk.articulation`, `scantalk.datasets` and `scantalk.training` hold the pieces.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Animation", "AnimationStream", "Animator", "StreamFrame", "__version__"]


def __getattr__(name: str):
    # `import scantalk` stays light (no torch/open3d import) until the Animator is asked for.
    if name == "Animator":
        from scantalk.animator import Animator

        return Animator
    if name == "Animation":
        from scantalk.animation import Animation

        return Animation
    if name in ("AnimationStream", "StreamFrame"):
        import scantalk.stream

        return getattr(scantalk.stream, name)
    raise AttributeError(f"module 'scantalk' has no attribute {name!r}")
