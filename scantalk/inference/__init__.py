"""Animating a face with a trained model: the `Animator` facade and what it gives back.

- `Animator` (`scantalk.inference.animator`): load a model (`from_checkpoint`), then `animate`
  a recording, `articulate` speech into an editable track and `animate_track` it onto any face,
  with either model kind (the shipped articulated model, or ScanTalk's end-to-end one).
- `Animation` (`scantalk.inference.animation`): the frames in the user's file order and units,
  with their audio, track and exports (`save`, `to_video`, `export`).
- `AnimationStream`, `StreamFrame` (`scantalk.inference.stream`): live speech in, frames out as
  soon as they are final (`Animator.stream`).

Where a face's frame is found and undone lives with the face (`scantalk.face.alignment`); how
frames too large for memory are stored, with the lower layers (`scantalk.frames`).
Names are imported on first use, so importing this package does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Animator": "scantalk.inference.animator",
    "Animation": "scantalk.inference.animation",
    "AnimationStream": "scantalk.inference.stream",
    "StreamFrame": "scantalk.inference.stream",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'scantalk.inference' has no attribute {name!r}")
