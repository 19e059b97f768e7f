"""Deprecated: moved to `scantalk.inference.stream`. This path still works, with a DeprecationWarning, for
one more release."""

from scantalk.deprecation import moved

__getattr__ = moved(__name__, "scantalk.inference.stream")
