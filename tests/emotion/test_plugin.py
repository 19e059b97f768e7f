"""`emotion` plugs into `scantalk` (layout + CLI command); that `scantalk` never imports `emotion`
is checked with the rest of the layering in tests/test_layering.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from scantalk.datasets import load_dataset
from scantalk.errors import DatasetError
from scantalk.plugins import plugin_commands, plugin_layouts


def test_emotion_registers_its_layout_and_command() -> None:
    assert plugin_layouts()["emovoca"] == "emotion.emovoca.reader:read_emovoca"
    assert plugin_commands()["emovoca"][0] == "emotion.emovoca.command"


def test_load_dataset_reads_the_plugin_layout_and_rejects_options_it_does_not_take(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not an EmoVOCA-layout folder"):
        load_dataset(tmp_path, layout="emovoca")
    with pytest.raises(DatasetError, match="does not take.*lip_mask"):
        load_dataset(tmp_path, layout="emovoca", lip_mask="lips.txt")
    with pytest.raises(DatasetError, match="emovoca"):  # the error lists the plugin's layout too
        load_dataset(tmp_path, layout="faceformer")
