"""How the pictures look: the output formats, the fixed texts, label widths, the font and the colours.

Constants only, shared by the plan, DOT and Mermaid; separate so that a change
of look touches one small module and no drawing logic.
"""

from __future__ import annotations

#: Every format, in the order files are written; ``dot`` and ``mmd`` need no renderer.
FORMATS: tuple[str, ...] = ("dot", "mmd", "svg", "png")
#: Formats drawn by a Graphviz layout engine.
PICTURE_FORMATS: tuple[str, ...] = ("svg", "png")

LOCAL_MARK = "▶"
WITHIN_TITLE = "within this box:"
ABSORB_NOTE = "ended states absorb late events (recorded, not drawn)"
FAILED_TITLE = "unsuccessful ends"

RANKDIR = "TB"
#: An arrow's label is cut into lines of about this many characters, so it does not widen the picture.
LABEL_WIDTH = 24
TITLE_WIDTH = 90
STAY_WIDTH = 32
_FONT = "Helvetica"
_LOCAL_COLOR = "#1c4f9c"
_REMOTE_COLOR = "#5c5f66"
_PATH_COLOR = "#d9480f"
_CURRENT_FILL = "#ffe066"
_VISITED_FILL = "#ffe8cc"
_FAILED_FILL = "#ffe3e3"
_FAILED_BOX = "#fff5f5"
_FAILED_LINE = "#c92a2a"
_ALIKE_BOX = "#f1f5fb"
_SUPER_BOX = "#fbfbf8"
_TERMINAL_FILL = "#e9ecef"
