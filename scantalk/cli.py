"""`scantalk` command line: a thin layer over the Python API.

Each sub-command lives in `scantalk.commands.<name>` (or in a plugin package, see
`scantalk.plugins`) and provides `register(parser)` (add its arguments to an argparse
sub-parser) and `run(args) -> int`. Training sub-commands
(fit/validate/test/predict) are handed to LightningCLI unchanged.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from scantalk.errors import ScanTalkError
from scantalk.plugins import plugin_commands

# name -> (module, one-line help). Modules are imported only when their command runs, so
# `scantalk --help` stays fast and a broken optional dependency only affects its own command.
COMMANDS: dict[str, tuple[str, str]] = {
    "precompute": ("scantalk.commands.precompute", "precompute surface operators into a cache"),
    "synth": ("scantalk.commands.synth", "generate the procedural talking-head dataset"),
    "evaluate": ("scantalk.commands.evaluate", "LVE / MVE / FDD of predictions against a dataset"),
    "animate": ("scantalk.commands.animate", "animate a face (mesh, scan or point cloud) from speech"),
    "render": ("scantalk.commands.render", "render a saved animation to video"),
    "demo": ("scantalk.commands.demo", "animate a sample face with the shipped default model"),
}
LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")


def main(argv: list[str] | None = None) -> int:
    """Run `scantalk ARGV...`; returns the exit status (1 with a one-line message on a user error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in LIGHTNING_COMMANDS:
        from scantalk.training.cli import run_lightning_cli

        run_lightning_cli(argv)
        return 0

    commands = {**plugin_commands(), **COMMANDS}  # a plugin cannot shadow a core command
    parser = argparse.ArgumentParser(prog="scantalk", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in commands.items():
        sub.add_parser(name, help=help_text)
    for name in LIGHTNING_COMMANDS:
        sub.add_parser(name, help=f"LightningCLI {name} (e.g. --config experiments/configs/synthetic.yaml)")
    if not argv or argv[0] not in commands:
        parser.parse_args(argv or ["--help"])
        return 2

    name = argv[0]
    module = importlib.import_module(commands[name][0])
    command_parser = argparse.ArgumentParser(prog=f"scantalk {name}", description=commands[name][1])
    module.register(command_parser)
    args = command_parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except ScanTalkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
