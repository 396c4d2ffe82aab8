"""What both demo modes print and write: the transition tables and the default output files.

Both :mod:`adapters.cli.demo` (offline) and :mod:`adapters.cli.demo_live` need these; they live
below both so that the live demo, which the offline command imports only when it runs, does not
import the command back (the two used to import each other).
"""

from __future__ import annotations

from fsm.model import FsmModel

#: The live demo's default event file (here, not in demo_live, so that ``--offline`` needs no server package).
DEFAULT_EVENTS = "callfsm-demo-events.jsonl"
#: The live demo's default trace file (adapters/routing/trace.py: events, the app's calls and requests).
DEFAULT_TRACE = "callfsm-demo-trace.jsonl"


def format_history(model: FsmModel) -> str:
    rows = [("from", "trigger", "to", "reason")]
    for step in model.history:
        to = step.dest.value if step.dest is not step.source else f"{step.dest.value} (stays)"
        rows.append((step.source.value, step.trigger.value, to, step.reason or ""))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        cells = [row[c].ljust(widths[c]) for c in range(3)]
        lines.append("  " + "  ".join([*cells, row[3]]).rstrip())
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths) + "  ------")
    return "\n".join(lines) + "\n"
