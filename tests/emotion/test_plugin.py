"""`emotion` plugs into `scantalk` (layout + CLI command) and `scantalk` never imports `emotion`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from scantalk.data import load_dataset
from scantalk.errors import DatasetError
from scantalk.plugins import plugin_commands, plugin_layouts

SCANTALK = Path(__file__).resolve().parents[2] / "scantalk"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_the_core_imports_the_emotion_package() -> None:
    offenders = {str(path.relative_to(SCANTALK)): sorted(name for name in _imported_modules(path)
                                                          if name == "emotion" or name.startswith("emotion."))
                 for path in SCANTALK.rglob("*.py")}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_emotion_registers_its_layout_and_command() -> None:
    assert plugin_layouts()["emovoca"] == "emotion.emovoca_reader:read_emovoca"
    assert plugin_commands()["emovoca"][0] == "emotion.command"


def test_load_dataset_reads_the_plugin_layout_and_rejects_options_it_does_not_take(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not an EmoVOCA-layout folder"):
        load_dataset(tmp_path, layout="emovoca")
    with pytest.raises(DatasetError, match="does not take.*lip_mask"):
        load_dataset(tmp_path, layout="emovoca", lip_mask="lips.txt")
    with pytest.raises(DatasetError, match="emovoca"):  # the error lists the plugin's layout too
        load_dataset(tmp_path, layout="faceformer")
