"""Read dataset pickles (VOCASET's `.pkl` files, FLAME masks) without running their code.

A pickle can name any importable callable and have it called while loading (`os.system`
included). `safe_load_pickle` admits only what numpy arrays and plain containers need; any
other global stops the load *before* it is imported or called.
"""

from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from scantalk.errors import DatasetError


def _numpy_globals() -> dict[str, Any]:
    """The callables numpy's own pickles name, taken from the installed numpy.

    Reading them off `__reduce__` finds them whether numpy calls its core `numpy.core` (1.x) or
    `numpy._core` (2.x), without importing the deprecated alias.
    """
    reconstruct = np.zeros(1).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    scalar = np.float64(1.0).__reduce__()[0]
    admitted: dict[str, Any] = {}
    for core in ("numpy.core", "numpy._core"):
        admitted[f"{core}.multiarray._reconstruct"] = reconstruct
        admitted[f"{core}.multiarray.scalar"] = scalar
        admitted[f"{core}.numeric._frombuffer"] = frombuffer
    admitted["numpy.ndarray"] = np.ndarray
    admitted["numpy.dtype"] = np.dtype
    for name in ("dtype", "ndarray"):
        for core in ("numpy.core", "numpy._core"):
            admitted[f"{core}.multiarray.{name}"] = getattr(np, name)
    return admitted


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """What Python 3 pickles of `bytes` at protocol < 3 call (`_codecs.encode(text, "latin1")`)."""
    if encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"bytes encoded as '{encoding}'; only latin1 is accepted")
    return text.encode("latin1")


_BUILTINS: dict[str, Any] = {
    f"builtins.{obj.__name__}": obj
    for obj in (dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float, complex, bool)
}
_BUILTINS["builtins.NoneType"] = type(None)
_BUILTINS["collections.OrderedDict"] = collections.OrderedDict
_BUILTINS["collections.defaultdict"] = collections.defaultdict
_BUILTINS["_codecs.encode"] = _latin1_encode
# Python 2 pickles name these modules differently (what the default `fix_imports` would map).
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}

ADMITTED_GLOBALS: dict[str, Any] = {**_numpy_globals(), **_BUILTINS}
"""Every "module.name" a dataset pickle may refer to, and the object it resolves to."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, handle: io.BufferedReader, source: Path, encoding: str) -> None:
        super().__init__(handle, encoding=encoding)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{_PY2_MODULES.get(module, module)}.{name}"
        if qualified not in ADMITTED_GLOBALS:
            raise DatasetError(
                f"{self.source}: refusing to unpickle '{module}.{name}'; dataset pickles may only "
                "hold numpy arrays and plain containers (dict, list, tuple, str, numbers). "
                "If you trust this file, convert it to .npy/.npz and load that instead."
            )
        return ADMITTED_GLOBALS[qualified]


def safe_load_pickle(path: str | Path) -> Any:
    """Load a pickle that holds only numpy arrays and builtin containers.

    Python-2-era pickles (VOCASET, FLAME masks) store array bytes as py2 `str`; when the default
    ASCII decoding fails the file is read again with `encoding="latin1"`, as numpy recommends.

    Raises `DatasetError` naming the file for a missing or corrupted file, and for any global
    outside `ADMITTED_GLOBALS` (nothing outside that list is imported or called).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: pickle file not found")
    last_error: Exception | None = None
    for encoding in ("ASCII", "latin1"):
        try:
            with open(path, "rb") as handle:
                return _RestrictedUnpickler(handle, path, encoding).load()
        except DatasetError:
            raise
        except UnicodeDecodeError as error:
            last_error = error
            continue
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
                KeyError, OverflowError) as error:
            raise DatasetError(f"{path}: corrupted or truncated pickle ({type(error).__name__}: {error}); "
                               "download the file again") from error
    raise DatasetError(f"{path}: cannot decode the pickle's text even as latin1 ({last_error})")
