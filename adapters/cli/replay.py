"""``callfsm replay [--json] [--jobs N] FILE...``: check a recorded event stream against the machines.

Theory of operation
-------------------
The files are read as a stream, one record at a time, in the order given
(``-`` is standard input), and fed to :mod:`adapters.routing.replay` as they are read
(:func:`adapters.routing.replay.iter_records`): memory holds the live resources, a
compact final record per resource and the violations, never the file. Anything
unreadable (not UTF-8, not JSON, a truncated file, a record above
:data:`adapters.wire.recording.MAX_RECORD`, a file too large for memory) stops the
command with one line naming the file and line, exit status 2, before any
output: the report is printed once the input is known to be whole, text, or
with ``--json`` exactly ``{"resources": [...], "violations": [...], "events":
N}``, written piece by piece. Exit status 0 without violations, 1 with. The
formats and indexes are described in :mod:`adapters.routing.replay`.

Parallel replay. ``--jobs N`` replays the files in up to N processes (this
one and N - 1 workers), each FILE as one application's stream with its own dispatcher (an event
channel belongs to one application, so a recording of one channel is one
file). A file that holds several applications' responses is not split: it is
replayed as one stream in one worker, exactly as without ``--jobs`` (their
hrefs differ, so their resources never meet); to spread it over workers,
write each application's responses to a file of its own. The results are
merged in the order of the files, with ``response`` indexes counted across
all files as without ``--jobs``, so the output is the same as with ``--jobs
1`` whenever no resource's events are spread over two files (with ``--jobs
1`` the files are one stream). Standard input needs ``--jobs 1``.

Cost. For the command only (never for library users), once the modules are
imported: ``gc.freeze()`` moves the start-up objects out of the collector's
sight, and the collector's first threshold is raised (:data:`GC_THRESHOLD`),
since a replay allocates many short-lived containers that reference counting
frees and a few long-lived models; transitions' ``transitions.core`` logger is
disabled while the replay runs (its debug calls then return at the first
test). Both are measured in bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from json.encoder import encode_basestring_ascii
from typing import IO, TYPE_CHECKING, Any, Final, cast

from attrs import evolve

from adapters.cli import CliError
from adapters.routing.replay import Replay, ReplayReport, ResourceReport, iter_records, render_text
from fsm.errors import CallFsmError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

#: The collector's thresholds while a replay runs (gen 0, 1, 2); see bench/README.md for the measurements.
GC_THRESHOLD: Final = (50_000, 20, 100)

EPILOG = (
    "Each FILE holds JSON Lines (one event-channel response per line), a JSON array of responses, "
    'one response, or raw XML <events> responses. A response is an events document, or {"t": seconds, '
    '"response": document or raw body, "content_type": ...}. A trace (docs/trace.md) also holds the app\'s own '
    "calls and requests, which are re-applied in order. At most 8 MiB a record. Indexes in the output "
    'count from 0: "response" across all files, "event" within its response. --jobs N: each FILE is one '
    "application's stream, replayed in its own process. Exit status: 0 no violation, 1 violations, "
    "2 unreadable input."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("files", nargs="+", metavar="FILE", help="recorded responses; - for standard input")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="replay the files in N processes (each file one application)"
    )


@contextmanager
def _open(name: str) -> Iterator[IO[bytes]]:
    if name == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is not None:
            yield buffer
        else:  # a text stream (tests): its text as UTF-8
            yield cast(IO[bytes], _TextAsBytes(sys.stdin))
        return
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CliError(f"{name}: cannot read: {exc.strerror or exc}") from None
    with handle:
        yield handle


class _TextAsBytes:
    """A text stream read as UTF-8 bytes (only ``read`` and ``readline``, what the reader calls)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size).encode("utf-8", "surrogatepass")

    def readline(self, size: int = -1) -> bytes:
        return self.stream.readline(size).encode("utf-8", "surrogatepass")


def _feed_file(run: Replay, name: str) -> None:
    shown = "<stdin>" if name == "-" else name
    try:
        with _open(name) as stream:
            for record in iter_records(stream, shown):
                run.feed_record(record)
    except MemoryError:
        raise CliError(f"{shown}: out of memory while replaying it (too many live resources?)") from None
    except OSError as exc:
        raise CliError(f"{shown}: cannot read: {exc.strerror or exc}") from None


def replay_files(names: list[str]) -> ReplayReport:
    """The files as one stream through one dispatcher (what ``--jobs 1`` does)."""
    run = Replay()
    for name in names:
        _feed_file(run, name)
    return run.report()


#: What replaying one file gives back to the parent: the report, and with ``--json`` its resources
#: already rendered (``report.resources`` is then empty): a str crosses the process boundary as one
#: copy, where 10k pickled ResourceReports took 40 ms to load in the parent, and the rendering is
#: done by each worker in parallel instead of by the parent afterwards.
_Part = tuple[ReplayReport, str | None]


def _replay_part(name: str, render: bool) -> _Part:
    """One file through its own dispatcher, its resources rendered when ``render``."""
    with _replay_settings():
        report = replay_files([name])
    if not render:
        return report, None
    text = ",\n".join("    " + _resource_text(r) for r in report.resources)
    return evolve(report, resources=()), text


def _replay_one(name: str, render: bool) -> _Part:
    """A worker process's job (the tests replace it to kill a worker)."""
    return _replay_part(name, render)


def merge(reports: list[ReplayReport]) -> ReplayReport:
    """Reports of consecutive files as one: in file order, response indexes counted across the files."""
    resources: list[Any] = []
    violations: list[Any] = []
    not_applied: list[Any] = []
    offset = 0
    for report in reports:
        resources.extend(report.resources)
        violations.extend(v if not offset else evolve(v, response=v.response + offset) for v in report.violations)
        not_applied.extend(n if not offset else evolve(n, response=n.response + offset) for n in report.not_applied)
        offset += report.responses
    return ReplayReport(
        tuple(resources),
        tuple(violations),
        sum(r.events for r in reports),
        offset,
        tuple(not_applied),
        sum(r.duplicates for r in reports),
    )


#: What a worker sends back for each of its files, in order: the part, or the error that stopped it.
_Sent = list[tuple[int, _Part | str]]


def _work(conn: Connection, share: list[tuple[int, str]], render: bool) -> None:
    """A worker process: its share of the files, then one message with every part (or the first error)."""
    sent: _Sent = []
    try:
        for index, name in share:
            sent.append((index, _replay_one(name, render)))
    except (CliError, CallFsmError) as exc:  # what the command shows as one line
        sent.append((index, str(exc)))
    except MemoryError:
        sent.append((index, f"{name}: out of memory while replaying it (too many live resources?)"))
    conn.send(sent)
    conn.close()


def replay_parallel(names: list[str], jobs: int, *, render: bool = False) -> tuple[ReplayReport, str | None]:
    """The files in ``jobs`` processes: this one and ``jobs - 1`` workers; merged in file order.

    File ``i`` goes to process ``i % jobs`` (0 is this one, which replays its share rather than
    wait): with two files and ``--jobs 2``, one worker. The workers are forked with
    :mod:`multiprocessing` and send their parts back through a pipe once done; a process pool's
    manager and feeder threads had to win the GIL from this process's own replay to hand a
    worker its file, which delayed the worker by up to a quarter of a second. With ``render``
    the merged report has no resources and the second value is their rendered text.
    """
    if "-" in names:
        raise CliError("--jobs replays files in other processes: standard input (-) needs --jobs 1")
    for name in names:
        # the first unreadable file stops the command before any worker starts
        try:
            open(name, "rb").close()
        except OSError as exc:
            raise CliError(f"{name}: cannot read: {exc.strerror or exc}") from None
    import multiprocessing  # noqa: PLC0415 - start-up a plain replay need not pay

    jobs = min(jobs, len(names))
    shares = [[(i, name) for i, name in enumerate(names) if i % jobs == w] for w in range(jobs)]
    workers = []
    try:
        for share in shares[1:]:
            receive, send = multiprocessing.Pipe(duplex=False)
            process = multiprocessing.Process(target=_work, args=(send, share, render), daemon=True)
            process.start()
            send.close()
            workers.append((process, receive))
    except OSError as exc:
        raise CliError(f"cannot start the replay worker processes: {exc.strerror or exc}") from None
    results: dict[int, _Part | str] = {}
    try:
        for index, name in shares[0]:
            try:
                results[index] = _replay_part(name, render)
            except (CliError, CallFsmError) as exc:
                results[index] = str(exc)
                break
        for _process, receive in workers:
            try:
                results.update(receive.recv())
            except EOFError:
                raise CliError("a replay worker process died (killed, or out of memory?)") from None
    finally:
        for process, receive in workers:
            receive.close()
            if process.is_alive():
                process.terminate()
            process.join()
    parts: list[_Part] = []
    # in file order: the first file's error is the one reported, whichever process met it first
    for index in range(len(names)):
        result = results.get(index)
        if isinstance(result, str):
            raise CliError(result)
        if result is not None:
            parts.append(result)
    texts = [text for _report, text in parts if text]
    return merge([report for report, _text in parts]), (",\n".join(texts) if render else None)


@contextmanager
def _replay_settings() -> Iterator[None]:
    """The command's GC policy and transitions' logger switched off, restored afterwards."""
    logger = logging.getLogger("transitions.core")
    was_disabled = logger.disabled
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was_disabled
        gc.set_threshold(*threshold)
        gc.unfreeze()


def write_json(report: ReplayReport, out: IO[str], rendered: str | None = None) -> None:
    """``json.dumps(report.to_json(), indent=2)`` and a newline, written an entry at a time.

    ``rendered``: the resources already rendered by the workers (``report.resources`` is then empty).
    """
    out.write('{\n  "resources": ')
    if rendered is None:
        _write_list(report.resources, out)
    else:
        out.write(f"[\n{rendered}\n  ]" if rendered else "[]")
    out.write(',\n  "violations": ')
    _write_list(report.violations, out)
    out.write(f',\n  "events": {json.dumps(report.events)}\n}}\n')


def _write_list(items: Any, out: IO[str]) -> None:
    if not items:
        out.write("[]")
        return
    out.write("[\n")
    last = len(items) - 1
    for i, item in enumerate(items):
        text = _resource_text(item) if type(item) is ResourceReport else _indented(item.to_json(), 2)
        out.write("    " + text + (",\n" if i < last else "\n"))
    out.write("  ]")


_text: Final = encode_basestring_ascii
_OUTCOME: Final = '{{\n        "status": {},\n        "code": {},\n        "subcode": {}\n      }}'
_RESOURCE: Final = (
    '{{\n      "href": {},\n      "rel": {},\n      "machine": {},\n      "state": {},\n      "outcome": {}\n    }}'
)


def _resource_text(r: ResourceReport) -> str:
    """:func:`_indented` of ``r.to_json()``, spelt out: one resource per ended call, the bulk of the output."""
    o = r.outcome
    outcome = "null" if o is None else _OUTCOME.format(*(_scalar(v) for v in (o.status, o.code, o.subcode)))
    return _RESOURCE.format(_text(r.href), _text(r.rel), _text(r.machine), _text(r.state), outcome)


def _scalar(value: str | None) -> str:
    return "null" if value is None else _text(value)


def _indented(value: object, level: int) -> str:
    """``json.dumps(value, indent=2)`` at nesting ``level``, for objects of scalars and such objects.

    json's indenting encoder is pure Python; the scalars go through its C encoder here instead.
    """
    if type(value) is dict and value:
        pad = "  " * (level + 1)
        inner = ",\n".join(f"{pad}{json.dumps(key)}: {_indented(item, level + 1)}" for key, item in value.items())
        return "{\n" + inner + "\n" + "  " * level + "}"
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2).replace("\n", "\n" + "  " * level)
    return json.dumps(value)


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise CliError(f"--jobs must be at least 1, got {args.jobs}")
    try:
        rendered = None
        if args.jobs > 1 and len(args.files) > 1:
            report, rendered = replay_parallel(args.files, args.jobs, render=args.json)
        else:
            with _replay_settings():
                report = replay_files(args.files)
    except MemoryError:
        raise CliError("out of memory while replaying (too many live resources?)") from None
    if args.json:
        write_json(report, sys.stdout, rendered)
    else:
        sys.stdout.write(render_text(report))
    return 1 if report.violations else 0
