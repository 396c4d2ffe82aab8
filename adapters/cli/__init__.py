"""The ``callfsm`` command line.

Each subcommand lives in its own module with ``add_arguments(parser)`` and
``run(args) -> int``. Bad input never shows a traceback: a subcommand raises
:class:`CliError` (or a :class:`fsm.errors.CallFsmError`) and this module
prints one line on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from fsm.errors import CallFsmError

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "adapters.cli.demo",
        "run the scenarios against the loopback simulator and replay the stream (--offline: in-process)",
    ),
    "diagrams": ("adapters.cli.diagrams", "write Graphviz and Mermaid diagrams of the machines"),
    "scenarios": (
        "adapters.cli.scenarios",
        "shortest paths to every state and a transition cover, as trigger sequences",
    ),
    "replay": ("adapters.cli.replay", "check a recorded event stream against the machines"),
    "simulate": ("adapters.cli.simulate", "serve the UCWA / Huawei simulator on loopback"),
}


class CliError(Exception):
    """Bad input to a subcommand: printed as one line, exit status 2."""


def _load(name: str) -> ModuleType:
    return importlib.import_module(SUBCOMMANDS[name][0])


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand's module is imported."""
    parser = argparse.ArgumentParser(prog="callfsm", description="Call-control invitation state machines.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            _load(name).add_arguments(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # import only the chosen subcommand: a slow or optional import elsewhere costs nothing
    chosen = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    args = build_parser(chosen).parse_args(argv)
    try:
        result: int = _load(args.command).run(args)
    except (CliError, CallFsmError) as exc:
        print(f"callfsm {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (``callfsm demo | head``): not an error of ours
        sys.stderr.close()
        return 0
    return result
