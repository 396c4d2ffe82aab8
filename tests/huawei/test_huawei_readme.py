"""The README's Huawei example, run as printed against ``callfsm simulate`` started as the README says.

The README says: start ``callfsm simulate --scenario adapters/simulator/example-scenario.yaml``;
the simulator prints its Huawei App ID and key at start-up; the example uses
them, and its ``HUAWEI_API`` (here: the port the simulator chose). What the
example must print is reasoned from the documentation, not read from the code:

- series ``984697426`` is booked and has not been held: confDetail says
  ``Schedule`` (docs/protocol.md §7.2), the machine stays ``scheduled``;
- series ``984697427`` has been held: a cancel without ``type=1`` is refused by
  the server (seed 004: 403 is the only listed refusal that fits), the details
  then say ``Created``, so the series is ``held``; the second plain cancel is
  refused locally (``InvalidTrigger``); with ``type=1`` it is ``cancelled``.
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
SECTION = "## Huawei recurring meeting series"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else len(text)]


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", _section(), flags=re.S)
    assert len(blocks) == 1, "the Huawei section has one python example"
    return str(blocks[0])


def _simulate_command() -> list[str]:
    """The ``callfsm simulate`` line the section shows, with its options."""
    (line,) = re.findall(r"^\S*callfsm simulate (.+)$", _section(), flags=re.M)
    return line.split()


def _lines(stream: IO[str]) -> queue.Queue[str]:
    """The stream's lines, read by a thread: select() on a buffered text stream misses lines already buffered."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


@pytest.fixture
def simulate() -> Iterator[tuple[str, list[str]]]:
    """``callfsm simulate`` with the README's options, on a free port; its URL and start-up lines."""
    options = _simulate_command()
    port = options.index("--port")
    options[port + 1] = "0"  # any free port: the test must not depend on 8080 being free
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
        lines = [printed.get(timeout=20)]
        while not any("Huawei App ID" in line for line in lines):
            lines.append(printed.get(timeout=20))
        match = re.search(r"http://127\.0\.0\.1:(\d+)", lines[0])
        assert match, lines
        yield f"http://127.0.0.1:{match.group(1)}", lines
    finally:
        process.terminate()
        process.communicate(timeout=15)


def test_the_simulator_prints_the_app_id_and_key_the_readme_uses(simulate: tuple[str, list[str]]) -> None:
    _, lines = simulate
    (printed,) = [line for line in lines if "Huawei App ID" in line]
    match = re.search(r"Huawei App ID (\S+), app key (\S+)", printed)
    assert match, printed
    app_id, app_key = match.groups()
    example = _example()
    assert f'AppIdCredentials("{app_id}", "{app_key}")' in example
    assert f"`{app_id}` / `{app_key}`" in _section()


def test_the_readme_example_runs_against_callfsm_simulate(
    simulate: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base_url, _ = simulate
    monkeypatch.setenv("HUAWEI_API", base_url)
    exec(compile(_example(), "README.md Huawei example", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Schedule scheduled"
    assert out[1] == "403 held"
    assert out[2].startswith("refused locally:")
    assert "type=1" in out[2]
    assert out[3] == "cancelled"
    assert len(out) == 4
