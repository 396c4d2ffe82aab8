"""``callfsm scenarios MACHINE [--json] [--max-depth N]``: test scenarios from a machine.

Theory of operation
-------------------
Everything is computed by :mod:`fsm.paths` from the machine's definition in
:data:`fsm.MACHINES`; this module only formats it. Two sections: a shortest
path from the initial state to every state, and a transition cover (short
paths that together take every row of the table, guarded branches and absorbed
late events included: each is the shortest way to one row's source, then that
row, so it ends at the row, never later). With ``--max-depth N`` every path
has at most N steps; the states and rows this puts out of reach are listed,
never dropped silently.

In text, a path reads ``state -trigger[branch]-> state -trigger-> state``:
every state it goes through, and for each step the trigger to feed and, when
the row is guarded, the branch: the payload case the trigger must be given (a
``completed`` that classifies as ``Declined``, say). In JSON each step is ``{"trigger", "branch", "from",
"to"}`` with the enums' wire values as strings and ``branch`` null when the
row is unguarded. Besides the keys ``machine``, ``initial``, ``shortest``,
``cover`` and ``uncovered`` (rows, in the step shape), the JSON carries
``max_depth`` (null when unbounded) and ``unreached`` (states farther than
``max_depth``), so that nothing the limit hides goes unreported.
"""

from __future__ import annotations

import argparse
import json
import sys
from enum import Enum
from typing import Any

from adapters.cli import CliError
from fsm.engine import MachineDefinition, Transition
from fsm.paths import Path, PathStep, describe_step, path_words, shortest_paths, transition_cover, uncovered_rows
from fsm.registry import MACHINES

#: Text output wraps a long trigger sequence at this width.
WIDTH = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("machine", metavar="MACHINE", help=f"one of: {', '.join(MACHINES)}")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    # a string, checked in run(): a bad value is then one line and exit 2, like every other bad input
    parser.add_argument("--max-depth", metavar="N", default=None, help="at most N steps per sequence")


def run(args: argparse.Namespace) -> int:
    definition = machine_named(args.machine)
    max_depth = parse_max_depth(args.max_depth)
    if args.json:
        sys.stdout.write(json.dumps(to_json(definition, max_depth), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(definition, max_depth))
    return 0


def machine_named(name: str) -> MachineDefinition[Any, Any]:
    try:
        return MACHINES[name]
    except KeyError:
        raise CliError(f"unknown machine {name!r}; known: {', '.join(MACHINES)}") from None


def parse_max_depth(text: str | int | None) -> int | None:
    """``None`` for no limit; otherwise a whole number of steps, 1 or more."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise CliError(f"--max-depth must be a whole number of steps, not {text!r}") from None
    if value < 1:
        raise CliError(f"--max-depth must be 1 or more, not {value}")
    return value


# -- JSON ----------------------------------------------------------------------


def step_json(step: PathStep[Any, Any]) -> dict[str, str | None]:
    return {
        "trigger": str(step.trigger.value),
        "branch": None if step.branch is None else str(step.branch.value),
        "from": str(step.source.value),
        "to": str(step.dest.value),
    }


def row_json(row: Transition[Any, Any]) -> dict[str, str | None]:
    return step_json(PathStep.of(row))


def to_json(definition: MachineDefinition[Any, Any], max_depth: int | None = None) -> dict[str, Any]:
    shortest = shortest_paths(definition, max_depth)
    return {
        "machine": definition.name,
        "initial": str(definition.initial.value),
        "max_depth": max_depth,
        "shortest": {str(state.value): [step_json(s) for s in path.steps] for state, path in shortest.items()},
        "unreached": [str(state.value) for state in definition.states if state not in shortest],
        "cover": [[step_json(s) for s in path.steps] for path in transition_cover(definition, max_depth)],
        "uncovered": [row_json(row) for row in uncovered_rows(definition, max_depth)],
    }


# -- text ----------------------------------------------------------------------


def wrap_path(path: Path[Any, Any], lead: str) -> list[str]:
    """``lead`` then the path, continued on indented lines (a whole step each) past :data:`WIDTH`."""
    words = path_words(path)
    lines: list[str] = []
    line = lead + words[0]
    for word in words[1:]:
        if len(line) + 1 + len(word) > WIDTH:
            lines.append(line)
            line = " " * (len(lead) + 2) + word
        else:
            line = f"{line} {word}"
    lines.append(line)
    return lines


def render_text(definition: MachineDefinition[Any, Any], max_depth: int | None = None) -> str:
    shortest = shortest_paths(definition, max_depth)
    cover = transition_cover(definition, max_depth)
    uncovered = uncovered_rows(definition, max_depth)
    states: list[Enum] = [state for state in definition.states]
    limit = "" if max_depth is None else f", at most {max_depth} steps each"
    out = [
        f"{definition.name}: {definition.summary}",
        f"initial state: {definition.initial.value}; {len(states)} states, {len(definition.table)} rows{limit}",
        "",
        f"shortest paths ({len(shortest)} of {len(states)} states)",
    ]
    width = max(len(str(state.value)) for state in shortest)
    for state, path in shortest.items():
        out.extend(wrap_path(path, f"  {(str(state.value) + ':').ljust(width + 1)} "))
    unreached = [str(state.value) for state in states if state not in shortest]
    if unreached:
        out.append(f"  not reached within {max_depth} steps: {', '.join(unreached)}")
    taken = len(definition.table) - len(uncovered)
    out += [
        "",
        f"transition cover ({len(cover)} paths, {taken} of {len(definition.table)} rows)",
        "  each: the shortest way to a row's source, then that row (the last step)",
    ]
    number_width = len(str(len(cover)))
    for number, path in enumerate(cover, 1):
        out.extend(wrap_path(path, f"  {str(number).rjust(number_width)}. "))
    if uncovered:
        out += ["", f"uncovered within {max_depth} steps ({len(uncovered)} rows)"]
        for row in uncovered:
            out.append(f"  {row.source.value} --{describe_step(PathStep.of(row))}--> {row.dest.value}")
    return "\n".join(out) + "\n"
