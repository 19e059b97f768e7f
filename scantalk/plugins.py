"""Optional packages plug dataset layouts and CLI commands into `scantalk` without `scantalk`
importing them (dependencies point one way: core ← plugins).

A plugin is a light module (no torch import) that defines either or both of

    LAYOUTS  = {"layout name": "package.module:reader"}     # reader(root, split=None, fps=None) -> list[SequenceRef]
    COMMANDS = {"command": ("package.module", "one-line help")}   # module has register(parser), run(args)
    EXPRESSIONS = {"name": "package.module:Provider"}             # see plugin_expressions

and is announced by an entry point of the group ``scantalk.plugins``, e.g. in pyproject.toml:

    [project.entry-points."scantalk.plugins"]
    emotion = "emotion.plugin"

Plugin targets are imported only when used, so `scantalk --help` stays fast and a broken
optional dependency only affects its own layout or command.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import warnings
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, Callable

PLUGIN_GROUP = "scantalk.plugins"
# Plugins shipped in this repository: found even when the installed metadata predates their
# entry point (an editable install made before the entry point was declared).
BUNDLED_PLUGINS = ("emotion.plugin",)


@functools.lru_cache(maxsize=1)
def plugin_modules() -> tuple[ModuleType, ...]:
    """Every plugin module: the ``scantalk.plugins`` entry points, then bundled ones not yet seen."""
    found: dict[str, ModuleType] = {}
    for point in entry_points(group=PLUGIN_GROUP):
        try:
            module = point.load()
        except Exception as error:  # a broken plugin must not take the core down with it
            warnings.warn(f"scantalk plugin {point.name!r} ({point.value}) failed to load: {error}", stacklevel=2)
            continue
        found.setdefault(module.__name__, module)
    for name in BUNDLED_PLUGINS:
        if name not in found and importlib.util.find_spec(name.partition(".")[0]) is not None:
            found[name] = importlib.import_module(name)
    return tuple(found.values())


def plugin_layouts() -> dict[str, str]:
    """Dataset layout name → "module:reader" target, from every plugin."""
    layouts: dict[str, str] = {}
    for module in plugin_modules():
        layouts.update(getattr(module, "LAYOUTS", {}))
    return layouts


def plugin_commands() -> dict[str, tuple[str, str]]:
    """CLI command name → (module, one-line help), from every plugin."""
    commands: dict[str, tuple[str, str]] = {}
    for module in plugin_modules():
        commands.update(getattr(module, "COMMANDS", {}))
    return commands


def plugin_expressions() -> dict[str, str]:
    """Expression provider name → "module:class" target, from every plugin.

    A provider has `labels` (emotion names), `basis(head) -> (V, U, 3)` metres per unit and
    `weights(emotion or {emotion: share}, intensity) -> (U,)`; articulated models use it for
    `emotion=` (see `scantalk.inference.animator`).
    """
    providers: dict[str, str] = {}
    for module in plugin_modules():
        providers.update(getattr(module, "EXPRESSIONS", {}))
    return providers


def resolve(target: str) -> Callable[..., Any]:
    """The object a "package.module:attribute" target names (imported now)."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
