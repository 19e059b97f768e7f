"""Deprecated: moved to `scantalk.training.articulated_data`. This path still works, with a DeprecationWarning, for
one more release."""

from scantalk.deprecation import moved

__getattr__ = moved(__name__, "scantalk.training.articulated_data")
