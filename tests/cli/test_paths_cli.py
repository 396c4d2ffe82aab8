"""``callfsm scenarios``: the JSON round-trips the paths, the text shows every state between
steps and lists the uncovered rows, and bad input is a one-line error with exit status 2.

JSON steps are decoded by looking every value up in the machine's enums and rows, and compared
with :mod:`fsm.paths`, which the other ``test_paths*.py`` files check against an independent
reference.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest
from paths_reference import NAMES, Br, St, Tr, reference_depths, toy, walk

from adapters import cli
from adapters.cli import scenarios as cli_scenarios
from fsm import MACHINES
from fsm.engine import MachineDefinition
from fsm.paths import (
    Path,
    PathStep,
    shortest_paths,
    transition_cover,
)

# -- the command line ------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], machine: str, *, as_json: bool, depth: str | None = None) -> str:
    assert cli_scenarios.run(argparse.Namespace(machine=machine, json=as_json, max_depth=depth)) == 0
    return capsys.readouterr().out


def decode(definition: MachineDefinition[Any, Any], steps: list[dict[str, Any]]) -> tuple[PathStep[Any, Any], ...]:
    """Rebuild steps from JSON by looking every value up in the machine's enums and rows."""
    out = []
    for item in steps:
        assert set(item) == {"trigger", "branch", "from", "to"}
        source = definition.states(item["from"])
        trigger = definition.triggers(item["trigger"])
        branches = [row.when for row in definition.rows(source, trigger)]
        if item["branch"] is None:
            assert branches == [None]
            branch = None
        else:
            (branch,) = [b for b in branches if b is not None and b.value == item["branch"]]
        out.append(PathStep(trigger, branch, source, definition.states(item["to"])))
    return tuple(out)


@pytest.mark.parametrize("name", NAMES)
def test_json_round_trips_the_paths(capsys: pytest.CaptureFixture[str], name: str) -> None:
    definition = MACHINES[name]
    data = json.loads(run_cli(capsys, name, as_json=True))
    assert data["machine"] == name
    assert data["initial"] == definition.initial.value
    assert data["max_depth"] is None
    assert data["unreached"] == []
    assert data["uncovered"] == []
    shortest = {
        definition.states(state): Path(definition.initial, decode(definition, steps))
        for state, steps in data["shortest"].items()
    }
    assert shortest == shortest_paths(definition)
    cover = [Path(definition.initial, decode(definition, steps)) for steps in data["cover"]]
    assert cover == transition_cover(definition)
    taken = {row for path in cover for row in walk(definition, path)}
    assert taken == set(definition.table)


@pytest.mark.parametrize("name", NAMES)
def test_json_with_max_depth_one(capsys: pytest.CaptureFixture[str], name: str) -> None:
    definition = MACHINES[name]
    data = json.loads(run_cli(capsys, name, as_json=True, depth="1"))
    assert data["max_depth"] == 1
    uncovered = [decode(definition, [item])[0] for item in data["uncovered"]]
    expected = [PathStep.of(row) for row in definition.table if row.source is not definition.initial]
    assert uncovered == expected
    assert all(len(steps) == 1 for steps in data["cover"])
    far = {s.value for s, d in reference_depths(definition).items() if d > 1}
    assert set(data["unreached"]) == far
    assert set(data["shortest"]).isdisjoint(far)


def spelled(step: PathStep[Any, Any]) -> str:
    return step.trigger.value if step.branch is None else f"{step.trigger.value}[{step.branch.value}]"


@pytest.mark.parametrize("name", NAMES)
def spelled_path(path: Path[Any, Any]) -> str:
    """How the CLI must show a path: ``state -trigger[branch]-> state ...``, every state included."""
    return " ".join([path.start.value, *(f"-{spelled(step)}-> {step.dest.value}" for step in path.steps)])


def joined(lines: list[str]) -> list[str]:
    """Entries of a section: a line indented by two starts one, deeper lines continue it."""
    entries: list[str] = []
    for line in lines:
        if not line.strip() or not line.startswith("  "):
            continue
        if line.startswith("   ") and entries and not line.strip()[0].isdigit():
            entries[-1] += " " + line.strip()
        else:
            entries.append(line.strip())
    return entries


@pytest.mark.parametrize("name", NAMES)
def test_text_output(capsys: pytest.CaptureFixture[str], name: str) -> None:
    definition = MACHINES[name]
    text = run_cli(capsys, name, as_json=False)
    lines = text.splitlines()
    assert lines[0].startswith(f"{name}: ")
    assert all(len(line) <= cli_scenarios.WIDTH for line in lines[1:])
    start = lines.index(f"shortest paths ({len(definition.states)} of {len(definition.states)} states)")
    cover_at = next(i for i, line in enumerate(lines) if line.startswith("transition cover ("))
    shown = dict(entry.split(": ", 1) for entry in joined(lines[start + 1 : cover_at]))
    assert {state: text.strip() for state, text in shown.items()} == {
        state.value: spelled_path(path) for state, path in shortest_paths(definition).items()
    }
    cover = transition_cover(definition)
    assert (
        lines[cover_at]
        == f"transition cover ({len(cover)} paths, {len(definition.table)} of {len(definition.table)} rows)"
    )
    numbered = [entry for entry in joined(lines[cover_at + 1 :]) if entry[0].isdigit()]
    assert numbered == [f"{n}. {spelled_path(path)}" for n, path in enumerate(cover, 1)]
    assert "uncovered" not in text
    assert text == run_cli(capsys, name, as_json=False)


def test_text_shows_every_state_between_steps(capsys: pytest.CaptureFixture[str]) -> None:
    # By hand on the toy machine: the path to C through B reads with B in it.
    definition = toy()
    path = Path(St.A, (PathStep(Tr.GO, None, St.A, St.B), PathStep(Tr.STOP, None, St.B, St.C)))
    assert cli_scenarios.wrap_path(path, "") == ["a -go-> b -stop-> c"]
    guarded = Path(St.A, (PathStep(Tr.STOP, Br.TWO, St.A, St.D),))
    assert cli_scenarios.wrap_path(guarded, "  1. ") == ["  1. a -stop[two]-> d"]
    long = Path(St.A, tuple(PathStep(Tr.GO, None, *pair) for pair in [(St.A, St.B), (St.B, St.A)] * 12))
    wrapped = cli_scenarios.wrap_path(long, "  1. ")
    assert len(wrapped) > 1
    assert all(len(line) <= cli_scenarios.WIDTH for line in wrapped)
    assert all(line.startswith("       -go-> ") for line in wrapped[1:])
    assert " ".join(line.strip() for line in wrapped) == "1. a" + " -go-> b -go-> a" * 12
    assert definition.initial is St.A


def test_text_lists_uncovered_rows(capsys: pytest.CaptureFixture[str]) -> None:
    definition = MACHINES["invitation"]
    text = run_cli(capsys, "invitation", as_json=False, depth="1")
    others = [row for row in definition.table if row.source is not definition.initial]
    assert f"uncovered within 1 steps ({len(others)} rows)" in text
    for row in others:
        assert f"  {row.source.value} --{spelled(PathStep.of(row))}--> {row.dest.value}\n" in text


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> None:
    """``callfsm scenarios`` through the real entry point, wired or not yet."""
    monkeypatch.setitem(cli.SUBCOMMANDS, "scenarios", ("adapters.cli.scenarios", "test scenarios from a machine"))


@pytest.mark.usefixtures("wired")
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["scenarios", "nosuch"], "unknown machine 'nosuch'"),
        (["scenarios", "invitation", "--max-depth", "0"], "1 or more"),
        (["scenarios", "invitation", "--max-depth=-3"], "1 or more"),
        (["scenarios", "invitation", "--max-depth", "two"], "whole number"),
        (["scenarios", "invitation", "--max-depth", "1.5", "--json"], "whole number"),
    ],
)
def test_cli_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("callfsm scenarios: ")
    assert words in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.usefixtures("wired")
def test_cli_main_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["scenarios", "lobby_participant", "--json", "--max-depth", "4"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["machine"] == "lobby_participant"
    assert all(len(steps) <= 4 for steps in data["cover"])


def test_run_raises_cli_error_directly() -> None:
    with pytest.raises(cli.CliError, match="unknown machine"):
        cli_scenarios.run(argparse.Namespace(machine="nosuch", json=False, max_depth=None))
