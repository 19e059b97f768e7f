"""How `emotion` plugs into `scantalk` (entry point group ``scantalk.plugins``; see `scantalk.plugins`).

Light on purpose: names only, nothing heavy is imported until a layout or command is used.
"""

LAYOUTS = {"emovoca": "emotion.emovoca.reader:read_emovoca"}
COMMANDS = {"emovoca": ("emotion.emovoca.command", "build an EmoVOCA-style emotional dataset")}
EXPRESSIONS = {"facs": "emotion.facs.provider:FacsExpressions"}
