"""Old module paths that keep working for one release after their module moved.

A module left at its old path holds only its docstring and `__getattr__ = moved(__name__, NEW)`:
importing it warns once (DeprecationWarning, pointing at the importing line), and every name,
private ones included, is looked up in the new module, so old imports get the very same objects.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable


def moved(old: str, new: str) -> Callable[[str], Any]:
    """Warn that module `old` moved to `new`, and return the `__getattr__` that serves `old` from it.

    Args:
        old: the old dotted module path (the caller's `__name__`).
        new: the dotted path of the module that now holds the code.

    Returns:
        A module-level `__getattr__` (PEP 562) for `old`.
    """
    # stacklevel 3: past this function and the old module, to the line that imported it
    # (the import machinery's own frames are skipped by `warnings`).
    warnings.warn(f"{old} moved to {new}; import it from there ({old} will be removed in the next release)",
                  DeprecationWarning, stacklevel=3)
    module = importlib.import_module(new)

    def __getattr__(name: str) -> Any:
        # Dunder names stay the old module's own: tools probing it (pdoc, inspect) see a module.
        if not (name.startswith("__") and name.endswith("__")) and hasattr(module, name):
            return getattr(module, name)
        raise AttributeError(f"module {old!r} (moved to {new!r}) has no attribute {name!r}")

    return __getattr__
