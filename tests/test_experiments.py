"""Every evaluation, benchmark and recipe script in experiments/ loads, answers --help and
imports only what exists, so a script that no test runs end to end still cannot rot into an
import or argument error."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SCRIPTS = sorted(path for folder in (EXPERIMENTS / "evaluate", EXPERIMENTS / "recipes", EXPERIMENTS / "bench")
                 for path in folder.glob("*.py") if path.name != "common.py")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(EXPERIMENTS)))
def test_the_script_answers_help(script, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(script.parent))
    # The scripts import their neighbours by file name (`common`, `mouth`, `life`...): those names
    # must come from the script's own folder, not from a module of that name imported before
    # (bench/ and evaluate/ each have a `common`; tests/life is a package).
    for neighbour in script.parent.glob("*.py"):
        monkeypatch.delitem(sys.modules, neighbour.stem, raising=False)
    spec = importlib.util.spec_from_file_location(f"experiment_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def _package_imports(script: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name or None) of every import of this project's packages anywhere in
    `script`, function bodies included (the scripts import inside `main`, after parsing)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(script.read_text(), filename=str(script))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in ("scantalk", "emotion"):
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names
                      if alias.name.split(".")[0] in ("scantalk", "emotion")]
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(EXPERIMENTS)))
def test_every_project_import_in_the_script_resolves(script):
    """What `--help` cannot reach: the imports inside `main`. Each names a module that exists
    and a name it defines (a module moved or a function renamed fails here, not in a user's run)."""
    import importlib

    missing = []
    for line, module_name, name in _package_imports(script):
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            missing.append(f"line {line}: {module_name} ({error})")
            continue
        if name is not None and not hasattr(module, name):
            try:
                importlib.import_module(f"{module_name}.{name}")
            except ImportError:
                missing.append(f"line {line}: {module_name}.{name}")
    assert not missing, f"{script.name}: " + "; ".join(missing)
