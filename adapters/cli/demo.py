"""``callfsm demo``: the machines through their documented scenarios, as tables.

Theory of operation
-------------------
By default the demo is live (:mod:`adapters.cli.demo_live`): it starts the
simulator on 127.0.0.1, drives the adapters' clients through the issue's
scenarios over HTTP, prints a progress line and the transition tables per
scenario, writes the event stream the server sent (``--events``, default
``callfsm-demo-events.jsonl``) and the client's trace (``--trace``, default
``callfsm-demo-trace.jsonl``, docs/trace.md), and replays the trace with the
checker. Exit status 1 when a scenario does not end where the docs say, the
replay finds a violation, or a resource replays to another end state than
it reached live.

``--offline`` runs no server: each scenario is a short script of typed
trigger calls on a fresh model, taken from the seeds and docs/protocol.md (the event
samples of section 2.4, and one scenario per terminal outcome). It prints, per
machine, each scenario's transitions as a table (from, trigger, to, reason)
and ends with a line per machine saying which of its states the scenarios
reached.

``MACHINE`` arguments narrow either mode to the scenarios that show those
machines.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from adapters.cli import CliError, demo_scenarios
from adapters.cli.demo_output import DEFAULT_EVENTS, DEFAULT_TRACE, format_history
from fsm.registry import MACHINES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("machines", nargs="*", metavar="MACHINE", help="only these machines (default: all)")
    parser.add_argument(
        "--offline", action="store_true", help="no server: drive the machines in-process through every scenario"
    )
    parser.add_argument(
        "--events",
        metavar="PATH",
        help=f"where the live demo writes the recorded event stream (default: {DEFAULT_EVENTS})",
    )
    parser.add_argument(
        "--trace",
        metavar="PATH",
        help=f"where the live demo writes the client's trace, which it replays (default: {DEFAULT_TRACE})",
    )


def run(args: argparse.Namespace) -> int:
    wanted = list(args.machines) or list(MACHINES)
    unknown = [m for m in wanted if m not in MACHINES]
    if unknown:
        raise CliError(f"unknown machine {unknown[0]!r}; known: {', '.join(MACHINES)}")
    if args.offline:
        if args.events is not None or getattr(args, "trace", None) is not None:
            raise CliError("--events and --trace are for the live demo: --offline records nothing")
        play(wanted, sys.stdout)
        return 0
    trace = _events_path(getattr(args, "trace", None) or DEFAULT_TRACE, "--trace")
    return _live(None if not args.machines else wanted, _events_path(args.events or DEFAULT_EVENTS), trace)


def _events_path(value: str, option: str = "--events") -> Path:
    path = Path(value)
    if not value or path.is_dir():
        raise CliError(f"{option} {value!r}: not a file name")
    if not path.parent.is_dir():
        raise CliError(f"{option} {value!r}: no directory {str(path.parent)!r}")
    return path


def _live(machines: list[str] | None, events: Path, trace: Path) -> int:
    # the simulator (starlette, uvicorn) is imported only for the live demo: --offline runs without it
    from adapters.cli import demo_live  # noqa: PLC0415

    scenarios = demo_live.scenarios_for(machines)
    if not scenarios:
        raise CliError(f"no live scenario shows {', '.join(machines or [])}; try --offline")
    try:
        result = demo_live.play_live(sys.stdout, events, scenarios, trace_path=trace)
    except demo_live.EventsFileError as exc:
        raise CliError(f"--events/--trace {exc}") from None
    failed = [r for r in result.results if not r.ok]
    if failed or result.report.violations or result.mismatches:
        print(
            f"callfsm demo: {len(failed)} scenario(s) did not end as documented, "
            f"{len(result.report.violations)} violation(s) in the replay, "
            f"{len(result.mismatches)} resource(s) replayed to another end state",
            file=sys.stderr,
        )
        return 1
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
