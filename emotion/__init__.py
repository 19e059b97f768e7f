"""EmoVOCA on any topology: expression blending, emotional data synthesis, emotion conditioning."""

from scantalk.emotions import EMOTIONS, INTENSITY_LEVELS

__all__ = ["EMOTIONS", "INTENSITY_LEVELS"]
