"""The emotion labels, re-exported from `scantalk.emotions` (where the core model's head needs them)."""

from scantalk.emotions import EMOTIONS, INTENSITY_LEVELS, emotion_index, intensity_value

__all__ = ["EMOTIONS", "INTENSITY_LEVELS", "emotion_index", "intensity_value"]
