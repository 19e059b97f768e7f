"""EmoVOCA on any topology: expression blending, emotional data synthesis, emotion conditioning."""

from emotion.labels import EMOTIONS, INTENSITY_LEVELS

__all__ = ["EMOTIONS", "INTENSITY_LEVELS"]
