"""``callfsm diagrams``: write Graphviz and Mermaid diagrams of the machines.

Theory of operation
-------------------
Reads :data:`fsm.MACHINES` through :mod:`adapters.diagrams` and writes one file
per machine, view and format into ``--out``: ``<machine>.<fmt>`` draws every
transition, ``<machine>-<view>.<fmt>`` one part of a machine too dense for one
picture (``--view`` picks views by name, default all). DOT and Mermaid need nothing but
Python; SVG and PNG need a Graphviz layout engine (``dot`` on PATH, or the
``diagrams`` extra's ``graphviz-pure``). Without one, the other files are
still written and the pictures are skipped with one line on stderr: exit 0
when the pictures were only the default, 1 when ``--format`` asked for them.
"""

from __future__ import annotations

import argparse
import sys

from adapters import diagrams
from adapters.cli import CliError
from fsm.registry import MACHINES

DEFAULT_FORMATS = ("dot", "mmd", "svg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="diagrams", metavar="DIR", help="where to write (default: diagrams)")
    parser.add_argument(
        "--format",
        default=None,
        metavar="LIST",
        help=f"comma-separated, from {','.join(diagrams.FORMATS)} (default: {','.join(DEFAULT_FORMATS)})",
    )
    parser.add_argument(
        "--readme", action="store_true", help="also write README.md: each machine's Mermaid diagram inline"
    )
    parser.add_argument(
        "--view",
        default=None,
        metavar="LIST",
        help=f"comma-separated views to draw: {diagrams.FULL} (every transition) or a part such as progress,"
        " completion, cancel-race (default: every view of each machine)",
    )
    parser.add_argument("machines", nargs="*", metavar="MACHINE", help=f"default: all ({', '.join(MACHINES)})")


def run(args: argparse.Namespace) -> int:
    asked = args.format is not None
    formats = [f.strip() for f in (args.format or ",".join(DEFAULT_FORMATS)).split(",") if f.strip()]
    if not formats:
        raise CliError("--format: no format given")
    names = list(dict.fromkeys(args.machines)) or list(MACHINES)
    view_names = None
    if args.view is not None:
        view_names = [v.strip() for v in args.view.split(",") if v.strip()]
        if not view_names:
            raise CliError("--view: no view given")
    try:
        diagrams.check_request(formats, names, view_names)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        written = diagrams.write_all(args.out, formats, names, readme=args.readme, view_names=view_names)
    except diagrams.RendererUnavailable as exc:
        print(f"callfsm diagrams: skipped svg/png: {exc}", file=sys.stderr)
        return 1 if asked else 0
    except OSError as exc:
        raise CliError(f"cannot write to {args.out}: {exc.strerror or exc}") from None
    for path in written:
        print(path)
    return 0
