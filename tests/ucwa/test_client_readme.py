"""The README's client examples, run as printed against ``callfsm simulate`` started as the README says.

The README says: start ``callfsm simulate --port 8080 --scenario
adapters/simulator/example-scenario.yaml``; it serves discovery at
``http://127.0.0.1:8080/`` and takes any bearer token; the examples run with
``UCWA_DISCOVERY`` and ``UCWA_TOKEN`` unset. Here only the port differs (any
free one, so the test does not depend on 8080): ``UCWA_DISCOVERY`` is set to
the discovery URL the simulator prints, and ``UCWA_TOKEN`` is left unset.

What the examples must print is reasoned from the scenario file and the
documentation, not read from the code: the scenario answers the first outgoing
call (``answer_after``) and declines the next with ``RemoteFailure``/``Declined``
(its second step); an answered call is ``Connected`` with status ``Success``
(docs/protocol.md §1.7), a declined one ``Declined`` with the reason given.
Each example deletes its application on leaving (application_ref.md: 204).
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## Driving calls over HTTP: the adapters"
MARKER = "# needs: ucwa simulator"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else len(text)]


def _examples() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", _section(), flags=re.S)
    return [str(b) for b in blocks if MARKER in b]


def _simulate_command() -> list[str]:
    (line,) = re.findall(r"^\S*callfsm simulate (.+)$", _section(), flags=re.M)
    return line.split()


def _lines(stream: IO[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


@pytest.fixture(scope="module")
def simulate() -> Iterator[tuple[str, queue.Queue[str]]]:
    """``callfsm simulate`` with the README's options, on a free port; the discovery URL it prints."""
    options = _simulate_command()
    options[options.index("--port") + 1] = "0"
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "simulate", *options],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
    )
    assert process.stderr is not None
    try:
        printed = _lines(process.stderr)
        first = printed.get(timeout=20)
        match = re.search(r"discovery: GET (http://127\.0\.0\.1:\d+/)", first)
        assert match, first
        yield match.group(1), printed
    finally:
        process.terminate()
        process.communicate(timeout=15)


def test_the_readme_shows_two_client_examples_and_how_to_start_the_simulator() -> None:
    assert len(_examples()) == 2
    assert "--scenario" in _simulate_command()
    assert "http://127.0.0.1:8080/" in _section()  # the URL the README tells the reader to use


def test_the_examples_run_as_printed_against_callfsm_simulate(
    simulate: tuple[str, queue.Queue[str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    discovery, log = simulate
    monkeypatch.setenv("UCWA_DISCOVERY", discovery)
    monkeypatch.delenv("UCWA_TOKEN", raising=False)  # as printed: the simulator takes any token
    sync, asynchronous = _examples()

    exec(compile(sync, "README.md sync client example", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("Connected")
    assert "Success" in out[-1]

    exec(compile(asynchronous, "README.md asyncio client example", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("Declined")
    assert "RemoteFailure" in out[-1]
    assert "Declined" in out[-1].split(" ", 1)[1]

    served: list[str] = []
    while not log.empty():
        served.append(log.get_nowait())
    assert not any("Traceback" in line or "failed" in line for line in served)
    # each example made its own application and deleted it on leaving
    assert sum(" GET / -> 200" in line for line in served) == 2
    assert sum(re.search(r"DELETE /ucwa/v1/applications/\w+ -> 204", line) is not None for line in served) == 2
