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
    "synth": ("scantalk.commands.synth", "write the procedural talking set (new heads saying sentences through the rig)"),
    "evaluate": ("scantalk.commands.evaluate", "LVE / MVE / FDD of predictions against a dataset"),
    "animate": ("scantalk.commands.animate", "animate a face (mesh, scan or point cloud) from speech"),
    "render": ("scantalk.commands.render", "render a saved animation to video"),
    "demo": ("scantalk.commands.demo", "animate a sample face with the shipped default model"),
    "landmarks": ("scantalk.commands.landmarks", "show and write where the rig is placed on a face"),
    "live": ("scantalk.commands.live", "a face talking live in the browser (file, microphone or client)"),
}
LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
# Options whose value may be a negative axis ("-y"), which argparse would read as an option.
AXIS_OPTIONS = ("--up", "--forward")
AXIS_NAMES = {f"{sign}{axis}" for sign in ("-", "+", "") for axis in "xyzXYZ"}


def attach_axis_values(argv: list[str]) -> list[str]:
    """`--forward -y` → `--forward=-y`, so argparse takes the axis as the option's value."""
    attached: list[str] = []
    position = 0
    while position < len(argv):
        token = argv[position]
        if token in AXIS_OPTIONS and position + 1 < len(argv) and argv[position + 1] in AXIS_NAMES:
            attached.append(f"{token}={argv[position + 1]}")
            position += 2
            continue
        attached.append(token)
        position += 1
    return attached


def parse_command(argv: list[str], commands: dict[str, tuple[str, str]] | None = None) -> tuple[object, argparse.Namespace]:
    """(the command's module, its parsed arguments) for `scantalk ARGV...` (argv[0] a command
    name, not a Lightning one), without running it; argparse exits on a usage error."""
    commands = commands if commands is not None else {**plugin_commands(), **COMMANDS}
    name = argv[0]
    module = importlib.import_module(commands[name][0])
    command_parser = argparse.ArgumentParser(prog=f"scantalk {name}", description=commands[name][1])
    module.register(command_parser)
    arguments = attach_axis_values(argv[1:])
    # Intermixed: a positional may follow options (`animate FACE --track T -o OUT AUDIO`);
    # argparse offers it only for parsers without sub-commands.
    has_subcommands = command_parser._subparsers is not None
    args = (command_parser.parse_args(arguments) if has_subcommands
            else command_parser.parse_intermixed_args(arguments))
    return module, args


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
    module, args = parse_command(argv, commands)
    try:
        return int(module.run(args) or 0)
    except ScanTalkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Outputs are staged and swapped in at the end: an interrupted run changed nothing.
        print(f"interrupted: scantalk {name} stopped; earlier outputs are as they were", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
