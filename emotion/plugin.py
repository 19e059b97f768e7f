"""How `emotion` plugs into `scantalk` (entry point group ``scantalk.plugins``; see `scantalk.plugins`).

Light on purpose: names only, nothing heavy is imported until a layout or command is used.
"""

LAYOUTS = {"emovoca": "emotion.emovoca_reader:read_emovoca"}
COMMANDS = {"emovoca": ("emotion.command", "build an EmoVOCA-style emotional dataset")}
EXPRESSIONS = {"facs": "emotion.provider:FacsExpressions"}
