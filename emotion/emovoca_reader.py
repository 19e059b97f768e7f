"""Deprecated: moved to `emotion.emovoca.reader`. This path still works, with a DeprecationWarning, for
one more release."""

from scantalk.deprecation import moved

__getattr__ = moved(__name__, "emotion.emovoca.reader")
