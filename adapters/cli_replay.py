"""``callfsm replay [--json] FILE...``: check a recorded event stream against the machines.

Theory of operation
-------------------
The files are read completely first (``-`` is standard input), as one stream
in the order given; anything unreadable stops here with one line naming the
file and line, exit status 2, before any output. Then :mod:`adapters.replay`
feeds every response through the dispatcher and this module prints its
report: text, or with ``--json`` exactly ``{"resources": [...],
"violations": [...], "events": N}``. Exit status 0 without violations, 1
with. The formats and indexes are described in :mod:`adapters.replay`.
"""

from __future__ import annotations

import argparse
import json
import sys

from adapters.cli import CliError
from adapters.replay import Record, read_records, render_text, replay

EPILOG = (
    "Each FILE holds JSON Lines (one event-channel response per line), a JSON array of responses, "
    'or one response. A response is an events document, or {"t": seconds, "response": document or raw body, '
    '"content_type": ...}. Indexes in the output count from 0: "response" across all files, "event" within '
    "its response. Exit status: 0 no violation, 1 violations, 2 unreadable input."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("files", nargs="+", metavar="FILE", help="recorded responses; - for standard input")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def read_file(name: str) -> bytes | str:
    if name == "-":
        stream = sys.stdin
        buffer = getattr(stream, "buffer", None)
        data: bytes | str = buffer.read() if buffer is not None else stream.read()
        return data
    try:
        with open(name, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise CliError(f"{name}: cannot read: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    records: list[Record] = []
    for name in args.files:
        records.extend(read_records(read_file(name), "<stdin>" if name == "-" else name))
    report = replay(records)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(report))
    return 1 if report.violations else 0
