"""Deprecated: moved to `scantalk.synthesis.speech.engines`. This path still works, with a DeprecationWarning, for
one more release."""

from scantalk.deprecation import moved

__getattr__ = moved(__name__, "scantalk.synthesis.speech.engines")
