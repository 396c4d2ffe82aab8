"""Item 7 (issue 14): ``callfsm replay`` as users run it, on files, in its own process.

Theory of operation
-------------------
The recordings are JSON Lines files of the suite's workload (incoming
audio/video calls, started / updated / completed Success, 12 events a
response, four calls overlapping), written to a temporary directory before
anything is timed. Each trial runs the real command (``adapters.cli.main``,
as ``python -m adapters.cli replay --json FILE...`` does) in a child process
with its output sent to ``/dev/null``, timed from the parent (wall clock,
start-up included); the child reports its own peak resident set size
(``VmHWM``, see :data:`_MAIN`).

Rows (each a set of interleaved rounds, ratios per round as elsewhere):

* ``replay.cli``: the command on ``cli_calls`` calls vs the floor over the
  same file in this process: read its lines, ``json.loads`` each and drive
  the dict table (:class:`bench.peers.IngestFloor`). Target <= 6x.
* ``replay.linear``: the command on 40k calls vs 10k calls (time). A linear
  replay gives 4x; target <= 4.2x.
* ``replay.memory``: (peak RSS at 40k - peak RSS at 10k) / 30k calls, from the
  same runs: what each further call costs, interpreter and libraries
  cancelled out. Target <= 2,048 B.
* ``replay.jobs``: ``--jobs 2`` vs ``--jobs 1`` on two files of equal size
  (different calls, so one stream of both is the same work). Reported as the
  time ratio (target <= 0.59, a speed-up of at least 1.7x).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.peers import IngestFloor
from bench.workload import chunks, interleaved_events, json_response

ROOT = Path(__file__).resolve().parent.parent


def write_recording(path: Path, calls: int, start: int = 0) -> int:
    """A JSON Lines recording of ``calls`` calls (from call number ``start``); returns its event count."""
    events = interleaved_events(calls, start=start)
    with path.open("wb") as out:
        for ack, chunk in enumerate(chunks(events, 12), 1):
            out.write(json_response(list(chunk), ack=ack) + b"\n")
    return len(events)


#: ``python -m adapters.cli`` that reports its own peak RSS on its last stderr line. Linux carries a
#: parent's RSS high-water mark over fork and exec into the child's ``ru_maxrss``, so a child of this
#: (large) process would report ours; ``VmHWM`` is the peak of the child's own address space.
_MAIN = (
    "import sys\n"
    "from adapters.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "status = open('/proc/self/status').read()\n"
    "print('VmHWM', status.split('VmHWM:')[1].split()[0] if 'VmHWM:' in status else 0, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


#: The children's environment: Python's default bytecode cache. With ``PYTHONDONTWRITEBYTECODE`` set
#: (as in this project's CI) an editable checkout is never cached, and every run would compile
#: each of callfsm's modules again (50 ms of a replay's start-up), which an installed callfsm,
#: whose modules pip compiles at install time, does not do.
_CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def run_cli(*args: str) -> tuple[float, int]:
    """Seconds and peak RSS (bytes) of one ``callfsm replay`` run in a child process; checks its exit status."""
    command = [sys.executable, "-c", _MAIN, "replay", *args]
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=_CHILD_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    err = child.stderr.read().decode() if child.stderr is not None else ""
    if child.returncode != 0:
        raise RuntimeError(f"callfsm replay {' '.join(args)} exited {child.returncode}: {err.strip()[:200]}")
    peak_kb = int(err.rsplit("VmHWM", 1)[1].split()[0]) if "VmHWM" in err else 0
    return seconds, (peak_kb or usage.ru_maxrss) * 1024  # kilobytes (ru_maxrss: without /proc)


def floor_seconds(path: Path) -> float:
    """The floor over a recording file: its lines read, json.loads and the dict table."""
    start = time.perf_counter()
    floor = IngestFloor()
    with path.open("rb") as handle:
        for i, line in enumerate(handle):
            floor.feed(line, 1000.0 + i)
    return time.perf_counter() - start


class Recordings:
    """The files of the phase, in a temporary directory removed by :meth:`close`."""

    def __init__(self, cli_calls: int, small: int, large: int, jobs_calls: int) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="callfsm-bench-")
        base = Path(self.dir.name)
        self.cli = base / "cli.jsonl"
        self.small = base / "small.jsonl"
        self.large = base / "large.jsonl"
        self.jobs = (base / "app1.jsonl", base / "app2.jsonl")
        self.cli_events = write_recording(self.cli, cli_calls)
        write_recording(self.small, small)
        write_recording(self.large, large)
        # the second application's calls are other calls: one stream of both files is twice the work
        write_recording(self.jobs[0], jobs_calls)
        write_recording(self.jobs[1], jobs_calls, start=jobs_calls)

    def close(self) -> None:
        self.dir.cleanup()


def trials(files: Recordings) -> dict[str, Callable[[], float]]:
    """The interleaved trials; each returns seconds (memory is kept aside, see :data:`PEAKS`)."""

    def cli() -> float:
        return run_cli("--json", str(files.cli))[0]

    def floor() -> float:
        return floor_seconds(files.cli)

    def small() -> float:
        seconds, rss = run_cli("--json", str(files.small))
        PEAKS.setdefault("small", []).append(rss)
        return seconds

    def large() -> float:
        seconds, rss = run_cli("--json", str(files.large))
        PEAKS.setdefault("large", []).append(rss)
        return seconds

    def jobs1() -> float:
        return run_cli("--json", "--jobs", "1", *map(str, files.jobs))[0]

    def jobs2() -> float:
        return run_cli("--json", "--jobs", "2", *map(str, files.jobs))[0]

    def spin1() -> float:
        return _spin(1)

    def spin2() -> float:
        return _spin(2)

    return {
        "cli": cli,
        "floor": floor,
        "small": small,
        "large": large,
        "jobs1": jobs1,
        "jobs2": jobs2,
        "spin1": spin1,
        "spin2": spin2,
    }


#: A fixed pure-Python loop (about 0.5 s on a quiet core): the control for --jobs.
_SPIN = "x = 0\nfor i in range(5_000_000):\n    x += i\n"


def _spin(parallel: int) -> float:
    """Seconds for two runs of :data:`_SPIN` in child processes, one after the other or both at once.

    The ratio of the two is what this machine gives two independent processes in the same rounds
    as ``--jobs``: 2x on two idle cores, less when other jobs hold them.
    """
    start = time.perf_counter()
    if parallel == 2:
        children = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(2)]
        for child in children:
            child.wait()
    else:
        for _ in range(2):
            subprocess.run([sys.executable, "-c", _SPIN], check=True)
    return time.perf_counter() - start


#: Peak RSS of each run, by trial name (filled by the trials).
PEAKS: dict[str, list[int]] = {}
