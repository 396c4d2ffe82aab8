"""``callfsm demo``: every machine through its documented scenarios, as tables.

Each scenario is a short script of typed trigger calls on a fresh model, taken
from the seeds and domain.md (the event samples of section 2.4, and one
scenario per terminal outcome). The demo prints, per machine, each scenario's
transitions as a table (from, trigger, to, reason) and ends with a line per
machine saying which of its states the scenarios reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import TextIO

from adapters import demo_scenarios
from adapters.cli import CliError
from fsm.model import FsmModel
from fsm.registry import MACHINES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("machines", nargs="*", metavar="MACHINE", help="only these machines (default: all)")


def run(args: argparse.Namespace) -> int:
    wanted = list(args.machines) or list(MACHINES)
    unknown = [m for m in wanted if m not in MACHINES]
    if unknown:
        raise CliError(f"unknown machine {unknown[0]!r}; known: {', '.join(MACHINES)}")
    play(wanted, sys.stdout)
    return 0


def play(machines: Iterable[str], out: TextIO) -> dict[str, set[str]]:
    """Run the scenarios of ``machines``; returns the states each machine reached."""
    reached: dict[str, set[str]] = {}
    scenarios = demo_scenarios.all_scenarios()
    for name in machines:
        definition = MACHINES[name]
        out.write(f"\n{'=' * 78}\n{name}: {definition.summary}\n{'=' * 78}\n")
        seen: set[str] = reached.setdefault(name, set())
        for scenario in (s for s in scenarios if s.machine == name):
            model = scenario.make()
            seen.add(model.state.value)  # type: ignore[attr-defined]
            notes = scenario.steps(model) or []
            out.write(f"\n-- {scenario.title}\n")
            out.write(format_history(model))
            out.writelines(f"  {line}\n" for line in notes)
            seen.update(step.dest.value for step in model.history)
        missing = [s.value for s in definition.states if s.value not in seen]
        out.write(f"\nstates reached: {len(seen)} of {len(seen) + len(missing)}")
        out.write(f" (not shown: {', '.join(missing)})\n" if missing else "\n")
    return reached


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
