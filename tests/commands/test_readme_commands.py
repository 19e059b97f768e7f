"""Every command line README.md shows parses as written (optional parts included), so a reader
who copies one never meets "unrecognized arguments" or an axis read as an option."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from scantalk.cli import LIGHTNING_COMMANDS, parse_command

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = (ROOT / "README.md", ROOT / "experiments" / "EXPORTS.md")


def command_lines(path: Path) -> list[str]:
    """The `scantalk ...` lines of the document's code blocks, continuation lines joined, comments cut."""
    lines, inside = [], False
    for raw in path.read_text().splitlines():
        if raw.startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        text = raw.split("  #")[0].rstrip()
        if text.startswith("scantalk "):
            lines.append(text)
        elif lines and text.startswith(" ") and text.strip().startswith("[") and lines[-1].startswith("scantalk "):
            lines[-1] += " " + text.strip()
    return lines


def concrete(line: str) -> list[str]:
    """The argv a reader types: optional groups taken, the first of `a|b`, placeholders filled."""
    while "[" in line:
        line = re.sub(r"\[([^\[\]]*)\]", r"\1", line)
    words = []
    for word in shlex.split(line)[1:]:
        word = word.split("|")[0] if "|" in word else word
        if word.endswith("..."):
            word = word[:-3]
        if re.fullmatch(r"[A-Z][A-Z0-9_]*(\.[a-z]+)?(/[A-Za-z_.]+)?", word):
            word = f"placeholder_{word.lower()}"
        words.append(word)
    return words


CASES = [(path.name, line) for path in DOCUMENTS if path.exists() for line in command_lines(path)]


def test_the_readme_shows_the_commands_it_should():
    shown = {concrete(line)[0] for _, line in CASES}
    assert {"animate", "render", "precompute", "demo", "landmarks", "fit", "emovoca"} <= shown


@pytest.mark.parametrize("document,line", CASES, ids=[line[:60] for _, line in CASES])
def test_every_documented_command_line_parses(document, line):
    argv = concrete(line)
    if argv[0] in LIGHTNING_COMMANDS:
        configs = [argv[i + 1] for i, word in enumerate(argv) if word == "--config" and not argv[i + 1].startswith("placeholder")]
        assert all((ROOT / config).is_file() for config in configs), (document, line)
        return
    try:
        parse_command(argv)
    except SystemExit as error:  # argparse's usage error
        pytest.fail(f"{document}: `{line}` does not parse as written (argv {argv}): exit {error.code}")
