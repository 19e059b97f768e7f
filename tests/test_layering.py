"""Dependencies point one way: inference code never imports the training data, training or the CLI,
the core never imports the optional `emotion` package, and scantalk's packages import each other
without a cycle. Old module paths still work, with a warning, and nothing here uses them.

Inside `scantalk.face` and `scantalk.rig` modules import each other without a cycle too, module by
module, and `emotion` uses only public names of the core. Imports are read from the source, those
inside functions too: a local import that hides a cycle is still a cycle. The modules left at old
paths (`SHIMS`) are exempt from the layering rules.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Old module path → where the module lives now (see `scantalk.deprecation`).
SHIMS = {
    "scantalk.data.heads.base": "scantalk.face.head",
    "scantalk.data.heads.rig": "scantalk.rig.rig",
    "scantalk.data.heads.slit": "scantalk.rig.slit",
    "scantalk.data.speech.sphinx": "scantalk.articulation.sphinx",
    "scantalk.landmarks": "scantalk.face.landmarks",
    "scantalk.orientation": "scantalk.face.orientation",
    "scantalk.aperture": "scantalk.rig.aperture",
    # `scantalk.data` did three jobs: readers, made data, data modules.
    "scantalk.data": "scantalk.datasets",
    **{f"scantalk.data.{name}": f"scantalk.datasets.{name}"
       for name in ("load", "masks", "processed", "safe_pickle", "sequence", "vocaset")},
    "scantalk.data.datamodule": "scantalk.training.datamodule",
    "scantalk.data.articulated": "scantalk.training.articulated_data",
    "scantalk.data.talking_set": "scantalk.synthesis.talking_set",
    **{f"scantalk.data.{name}": f"scantalk.synthesis.{name}"
       for name in ("heads", "heads.procedural", "heads.real", "heads.meshing", "speech", "speech.augment",
                    "speech.corpus", "speech.engines", "speech.phones", "speech.real", "speech.text")},
    # `emotion` split into FACS, blending and the EmoVOCA data.
    **{f"emotion.{name}": f"emotion.facs.{name}" for name in ("action_units", "emotions", "recognition", "provider")},
    "emotion.training": "emotion.blending.training",
    "emotion.blender_data": "emotion.blending.data",
    **{f"emotion.{name}": f"emotion.emovoca.{name}" for name in ("layout", "synthesis", "florence", "command",
                                                                  "head_training")},
    "emotion.emovoca_reader": "emotion.emovoca.reader",
    # What animates a face, behind the `Animator`, found its package; the face's frame joined the face.
    **{f"scantalk.{name}": f"scantalk.inference.{name}" for name in ("animator", "animation", "stream")},
    "scantalk.alignment": "scantalk.face.alignment",
}

#: What runs when a face is animated: none of it may import `TRAINING_SIDE`. The commands that
#: animate, render or read a face are held to it too; evaluate and synth read datasets.
INFERENCE = (
    "scantalk.face", "scantalk.rig", "scantalk.articulation", "scantalk.model", "scantalk.life", "scantalk.render",
    "scantalk.export", "scantalk.geometry", "scantalk.nn", "scantalk.audio", "scantalk.inference",
    "scantalk.frames", "scantalk.commands.animate",
    "scantalk.commands.demo", "scantalk.commands.landmarks", "scantalk.commands.render", "scantalk.live",
)
TRAINING_SIDE = ("scantalk.data", "scantalk.datasets", "scantalk.synthesis", "scantalk.training", "scantalk.commands",
                 "emotion")

#: Packages whose modules import each other without a cycle, module by module.
ACYCLIC_MODULES = ("scantalk.face", "scantalk.rig", "scantalk.audio", "scantalk.export", "scantalk.life", "scantalk.metrics",
                   "scantalk.inference")


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def _modules(*packages: str) -> dict[str, Path]:
    """Dotted name → file of every module below the repository folders `packages`."""
    found = {}
    for package in packages:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


PROJECT = _modules("scantalk", "emotion")
SCANTALK = {name: path for name, path in PROJECT.items() if name.startswith("scantalk") and name not in SHIMS}


def _imports(path: Path, modules_only: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every import in the file; `from a import b` names `a`, and `a.b` too when
    that is a module of the project (`from scantalk.synthesis.heads import procedural`). With `modules_only`,
    `a` is left out where every name imported is such a module: `a` is then only the way to them
    (running `a`'s `__init__`, which the module importing them needs anyway when `a` is its package)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{alias.name}" for alias in node.names
                          if f"{node.module}.{alias.name}" in PROJECT]
            if not modules_only or len(submodules) < len(node.names):
                found.append((node.lineno, node.module))
            found += [(node.lineno, module) for module in submodules]
    return found


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO)}:{line}"


def _parents(module: str) -> list[str]:
    """The module and the packages whose `__init__` importing it runs: `a.b.c` → `a`, `a.b`, `a.b.c`."""
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


def _package(module: str) -> str:
    """The node of the package graph: `scantalk.<subpackage>`, or a top-level module itself."""
    return ".".join(module.split(".")[:2])


def _cycles(edges: dict[tuple[str, str], list[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one package (Tarjan)."""
    following = defaultdict(set)
    for source, target in edges:
        following[source].add(target)
    order, low, stack, groups = {}, {}, [], []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for other in following[node]:
            if other not in order:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], order[other])
        if low[node] == order[node]:
            group = set()
            while not group or node not in group:
                group.add(stack.pop())
            if len(group) > 1:
                groups.append(group)

    for node in sorted(following):
        if node not in order:
            visit(node)
    return groups


def _cycle_report(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """Each cycle of `edges` and the imports (where) that make it, one line each; [] when there is none."""
    lines = []
    for group in _cycles(edges):
        lines.append(" ⇄ ".join(sorted(group)) + ", through:")
        lines += [f"  {source} -> {target}: " + "; ".join(where)
                  for (source, target), where in sorted(edges.items()) if {source, target} <= group]
    return lines


def test_inference_code_imports_no_training_data_training_code_cli_or_emotion() -> None:
    """Nor does anything it imports, however many imports away."""
    chains = {name: name for name in SCANTALK if _within(name, INFERENCE)}
    todo = list(chains)
    offences = []
    while todo:
        name = todo.pop()
        for line, imported in _imports(PROJECT[name]):
            for module in _parents(imported):
                if module not in PROJECT or module in chains or module in SHIMS:
                    continue
                chains[module] = f"{chains[name]} -> {module}"
                if _within(module, TRAINING_SIDE):  # one offence per way in is enough
                    offences.append(f"{chains[module]} ({_where(PROJECT[name], line)} imports {imported})")
                else:
                    todo.append(module)
    assert offences == [], "inference code reaches training-side code:\n" + "\n".join(sorted(offences))


def test_no_module_of_the_core_imports_the_emotion_package() -> None:
    offences = [f"{_where(path, line)} imports {imported}"
                for path in SCANTALK.values() for line, imported in _imports(path) if _within(imported, ("emotion",))]
    assert offences == [], "scantalk must not depend on its optional emotion package:\n" + "\n".join(offences)


@pytest.mark.slow
def test_only_the_live_command_imports_the_optional_live_viewer() -> None:
    """`scantalk.live` needs the `websockets` extra; the core imports without it."""
    offences = [f"{_where(path, line)} imports {imported}" for name, path in SCANTALK.items()
                if not _within(name, ("scantalk.live", "scantalk.commands.live"))
                for line, imported in _imports(path) if _within(imported, ("scantalk.live",))]
    assert offences == [], "the core must not depend on its optional live viewer:\n" + "\n".join(offences)


def test_scantalks_packages_import_each_other_without_a_cycle() -> None:
    edges = defaultdict(list)
    for name, path in SCANTALK.items():
        for line, imported in _imports(path):
            if _within(imported, ("scantalk",)) and _package(imported) != _package(name):
                edges[_package(name), _package(imported)].append(f"{_where(path, line)} imports {imported}")
    cycles = _cycle_report(edges)
    assert cycles == [], "packages that import each other:\n" + "\n".join(cycles)


def test_the_face_and_rig_modules_import_each_other_without_a_cycle() -> None:
    """Module by module (a package's `__init__` is a module too): `rig.rig` ⇄ `rig.slit` once hid
    behind imports inside functions."""
    inside = {name: path for name, path in SCANTALK.items() if _within(name, ACYCLIC_MODULES)}
    edges = defaultdict(list)
    for name, path in inside.items():
        for line, imported in _imports(path, modules_only=True):
            if imported in inside and imported != name:
                edges[name, imported].append(_where(path, line))
    cycles = _cycle_report(edges)
    assert cycles == [], "modules that import each other:\n" + "\n".join(cycles)


def test_the_emotion_package_imports_no_private_name_of_scantalk() -> None:
    """What `emotion` needs from the core is public API (`face_regions`, not `_regions`), so the
    core may change its private parts freely."""
    offences = []
    for path in _modules("emotion").values():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and _within(node.module, ("scantalk",)):
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if _within(alias.name, ("scantalk",))]
            else:
                continue
            offences += [f"{_where(path, node.lineno)} imports {name}" for name in names
                         if any(part.startswith("_") and not part.endswith("__") for part in name.split("."))]
    assert offences == [], "emotion imports private names of scantalk:\n" + "\n".join(offences)


@pytest.mark.slow
def test_nothing_in_the_project_imports_an_old_module_path() -> None:
    modules = _modules("scantalk", "emotion", "experiments", "tests")
    offences = [f"{_where(path, line)} imports {imported} (now {SHIMS[imported]})"
                for name, path in modules.items() if name not in SHIMS and path != Path(__file__).resolve()
                for line, imported in _imports(path) if imported in SHIMS]
    assert offences == [], "\n".join(offences)


@pytest.mark.parametrize("old", sorted(SHIMS))
def test_an_old_module_path_warns_and_gives_the_new_modules_objects(old: str) -> None:
    new = importlib.import_module(SHIMS[old])
    sys.modules.pop(old, None)  # imported afresh, so its warning is raised here
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {SHIMS[old]}"):
        moved = importlib.import_module(old)
    names = [name for name in vars(new) if not name.startswith("__")]
    assert names and all(getattr(moved, name) is getattr(new, name) for name in names)
    with pytest.raises(AttributeError, match=f"moved to '{SHIMS[old]}'"):
        moved.no_such_name  # noqa: B018


def test_every_error_a_user_can_cause_is_defined_in_scantalk_errors() -> None:
    """One place to find them: a `ScanTalkError` subclass defined anywhere else in the core is
    one a caller would have to hunt for (the `emotion` plugin keeps its own)."""
    offences = []
    for name, path in _modules("scantalk").items():
        if name == "scantalk.errors":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and any(
                    getattr(base, "id", getattr(base, "attr", "")).endswith("Error") for base in node.bases):
                offences.append(f"{_where(path, node.lineno)} defines {node.name}")
    assert offences == [], "define these in scantalk/errors.py:\n" + "\n".join(offences)
