"""EmoVOCA's expression blending on any topology: the `EmoBlender` (`model`: a talking and an
expression encoder on DiffusionNet, one shared decoder), its Lightning training (`training`) and
its training data on the anatomical heads (`data`)."""

from emotion.blending.model import (
    OBJECTIVES,
    EmoBlender,
    blend,
    default_mu,
    positional_encoding,
    relative_squared_error,
)

__all__ = ["OBJECTIVES", "EmoBlender", "blend", "default_mu", "positional_encoding", "relative_squared_error"]
