"""Scenario generation: shortest paths, the transition cover, ``callfsm scenarios``.

The checks replay every generated path through the engine itself (``select``
+ ``fire`` on a model that has nothing but a state) and compare against an
independent reference written here: path lengths come from a level-by-level
fixed point over the engine's own moves, never from :mod:`fsm.paths`.
"""

from __future__ import annotations

import argparse
import enum
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path as FsPath
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from adapters import cli
from adapters.cli import scenarios as cli_scenarios
from fsm import MACHINES, InvalidTrigger
from fsm.engine import MachineDefinition, Transition
from fsm.errors import DefinitionError
from fsm.paths import (
    Path,
    PathMismatch,
    PathStep,
    describe,
    describe_path,
    replay_path,
    replay_rows,
    shortest_paths,
    transition_cover,
    uncovered_rows,
)

NAMES = sorted(MACHINES)
ROOT = FsPath(__file__).resolve().parents[2]


class Bare:
    __slots__ = ("state",)

    def __init__(self, state: enum.Enum) -> None:
        self.state = state


# -- the independent reference -------------------------------------------------


def reference_depths(definition: MachineDefinition[Any, Any]) -> dict[Any, int]:
    """Fewest steps from the initial state to each state, by brute force.

    Level k+1 is level k plus every state the engine moves a bare model to
    from a state of level k, trying every (state, trigger, branch) the table
    allows, in enum order (not table order). No queue, no parents: only depths.
    """
    depth = {definition.initial: 0}
    level = 0
    while True:
        grown = dict(depth)
        for state, trigger in itertools.product(definition.states, definition.triggers):
            if depth.get(state) != level:
                continue
            for row in definition.rows(state, trigger):
                model = Bare(state)
                definition.fire(model, definition.select(state, trigger, row.when))
                grown.setdefault(model.state, level + 1)
        if grown == depth:
            return depth
        depth, level = grown, level + 1


def walk(definition: MachineDefinition[Any, Any], path: Path[Any, Any]) -> list[Transition[Any, Any]]:
    """Replay ``path`` by hand; the rows the engine selected. Fails on any disagreement."""
    model = Bare(path.start)
    taken = []
    for step in path.steps:
        assert model.state is step.source
        row = definition.select(model.state, step.trigger, step.branch)
        definition.fire(model, row)
        assert model.state is step.dest
        taken.append(row)
    return taken


# -- every registered machine --------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_shortest_path_to_every_state_lands_there(name: str) -> None:
    definition = MACHINES[name]
    paths = shortest_paths(definition)
    assert set(paths) == set(definition.states)
    for state, path in paths.items():
        assert path.start is definition.initial
        assert path.final_state is state
        assert replay_path(definition, path) is state
        assert len(path.triggers) == len(path.steps)
    assert paths[definition.initial].steps == ()


@pytest.mark.parametrize("name", NAMES)
def test_no_shorter_path_exists(name: str) -> None:
    definition = MACHINES[name]
    depths = reference_depths(definition)
    paths = shortest_paths(definition)
    assert {state: len(path) for state, path in paths.items()} == depths
    for path in paths.values():
        rows = walk(definition, path)
        # a shortest path never stays put: absorbed rows and other self-loops are out
        assert all(not row.absorb and row.dest is not row.source for row in rows)


def check_cover(definition: MachineDefinition[Any, Any], cover: list[Path[Any, Any]]) -> set[Transition[Any, Any]]:
    """Every path is a shortest way to its last row's source, then that row; the rows taken.

    Shortest is checked against :func:`reference_depths`, not against
    :func:`shortest_paths`. A path stops at the first terminal state it
    reaches: only its last step (a late event absorbed there) may start in one.
    """
    depths = reference_depths(definition)
    targets = []
    taken: set[Transition[Any, Any]] = set()
    for path in cover:
        assert path.start is definition.initial
        rows = walk(definition, path)
        assert tuple(rows) == replay_rows(definition, path)
        *way, target = rows
        assert len(way) == depths[target.source], (describe_path(path), depths[target.source])
        assert all(row.source not in definition.terminal for row in way)
        targets.append(target)
        taken.update(rows)
    # one path per row it is for, and no path is for a row another path takes
    assert len(set(targets)) == len(targets)
    for path, target in zip(cover, targets, strict=True):
        assert all(target not in walk(definition, other) for other in cover if other is not path)
    assert targets == sorted(targets, key=definition.table.index)
    return taken


@pytest.mark.parametrize("name", NAMES)
def test_cover_is_shortest_ways_to_every_row(name: str) -> None:
    definition = MACHINES[name]
    cover = transition_cover(definition)
    assert check_cover(definition, cover) == set(definition.table)
    assert uncovered_rows(definition) == ()


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_in_process(name: str) -> None:
    definition = MACHINES[name]
    assert shortest_paths(definition) == shortest_paths(definition)
    assert list(shortest_paths(definition)) == list(shortest_paths(definition))
    assert transition_cover(definition) == transition_cover(definition)
    assert transition_cover(definition, 3) == transition_cover(definition, 3)


def test_deterministic_across_hash_seeds() -> None:
    # Enum members hash by name, and str hashing changes per process: a result
    # that leaned on set order would differ between these two runs.
    script = (
        "import json; from adapters.cli.scenarios import to_json; from fsm import MACHINES; "
        "print(json.dumps([to_json(d) for d in MACHINES.values()]))"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1]
    assert outputs[0] == json.loads(json.dumps([cli_scenarios.to_json(d) for d in MACHINES.values()]))


@pytest.mark.parametrize("name", NAMES)
def test_max_depth_one_reports_uncovered_rows(name: str) -> None:
    definition = MACHINES[name]
    # With one step, only rows leaving the initial state can be taken, each by
    # its own one-step path; every other row must be reported.
    first = [row for row in definition.table if row.source is definition.initial]
    others = [row for row in definition.table if row.source is not definition.initial]
    assert others, "every machine has rows beyond its initial state"
    assert list(uncovered_rows(definition, 1)) == others
    cover = transition_cover(definition, 1)
    assert all(len(path) == 1 for path in cover)
    assert sorted((walk(definition, p)[0] for p in cover), key=definition.table.index) == first
    assert set(shortest_paths(definition, 1)) == {definition.initial} | {row.dest for row in first}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("depth", [0, 2, 3])
def test_max_depth_bounds_every_path(name: str, depth: int) -> None:
    definition = MACHINES[name]
    depths = reference_depths(definition)
    assert set(shortest_paths(definition, depth)) == {s for s, d in depths.items() if d <= depth}
    uncovered = uncovered_rows(definition, depth)
    # a row is out of reach when its source is `depth` steps away or more
    assert set(uncovered) == {row for row in definition.table if depths[row.source] >= depth}
    taken = set()
    for path in transition_cover(definition, depth):
        assert len(path) <= depth
        taken.update(walk(definition, path))
    assert taken | set(uncovered) == set(definition.table)
    assert not taken & set(uncovered)


def test_negative_max_depth_is_refused() -> None:
    definition = MACHINES[NAMES[0]]
    with pytest.raises(ValueError, match="max_depth"):
        shortest_paths(definition, -1)
    with pytest.raises(ValueError, match="max_depth"):
        transition_cover(definition, -1)


# -- a toy machine whose answers are known by reasoning ------------------------


class St(enum.Enum):
    A = "a"
    B = "b"
    C = "c"
    D = "d"


class Tr(enum.Enum):
    GO = "go"
    STOP = "stop"


class Br(enum.Enum):
    ONE = "one"
    TWO = "two"


TOY_TABLE = (
    Transition(St.A, Tr.GO, St.B),
    Transition(St.B, Tr.GO, St.A),
    Transition(St.A, Tr.STOP, St.C, when=Br.ONE),
    Transition(St.A, Tr.STOP, St.D, when=Br.TWO),
    Transition(St.B, Tr.STOP, St.C),
    Transition(St.C, Tr.GO, St.C, absorb=True),
    Transition(St.D, Tr.GO, St.D, absorb=True),
)


def toy(table: tuple[Transition[St, Tr], ...] = TOY_TABLE) -> MachineDefinition[St, Tr]:
    return MachineDefinition(
        name="toy",
        summary="toy",
        states=St,
        triggers=Tr,
        initial=St.A,
        terminal=frozenset({St.C, St.D}),
        local_triggers=frozenset(),
        table=table,
    )


def test_toy_shortest_paths_follow_table_order() -> None:
    definition = toy()
    paths = shortest_paths(definition)
    assert paths[St.A].steps == ()
    assert paths[St.B].steps == (PathStep(Tr.GO, None, St.A, St.B),)
    # C is one step away by A's STOP/ONE, two steps by B's STOP: the one step wins
    assert paths[St.C].steps == (PathStep(Tr.STOP, Br.ONE, St.A, St.C),)
    assert paths[St.D].steps == (PathStep(Tr.STOP, Br.TWO, St.A, St.D),)
    assert paths[St.C].triggers == (Tr.STOP,)
    assert describe(paths[St.B].steps + paths[St.C].steps) == "go -> stop[one]"


def test_toy_ties_go_to_the_first_row_in_table_order() -> None:
    class Two(enum.Enum):
        A = "a"
        B = "b"

    def make(first: Tr) -> MachineDefinition[Two, Tr]:
        second = Tr.STOP if first is Tr.GO else Tr.GO
        return MachineDefinition(
            name="tie",
            summary="tie",
            states=Two,
            triggers=Tr,
            initial=Two.A,
            terminal=frozenset({Two.B}),
            local_triggers=frozenset(),
            table=(Transition(Two.A, first, Two.B), Transition(Two.A, second, Two.B)),
        )

    assert shortest_paths(make(Tr.GO))[Two.B].triggers == (Tr.GO,)
    assert shortest_paths(make(Tr.STOP))[Two.B].triggers == (Tr.STOP,)


def test_toy_cover_is_one_short_path_per_row_off_the_shortest_paths() -> None:
    definition = toy()
    go, stop = Tr.GO, Tr.STOP
    a_b = PathStep(go, None, St.A, St.B)
    a_c = PathStep(stop, Br.ONE, St.A, St.C)
    a_d = PathStep(stop, Br.TWO, St.A, St.D)
    # Worked by hand. Shortest ways: B by A-GO, C by A-STOP/ONE, D by A-STOP/TWO
    # (one step each). The four rows leaving B, C and D are on no shortest way,
    # so each gets its own path: the way to its source, then the row. Those
    # paths cross the three rows leaving A, which need no path of their own.
    # Listed in table order of the row each path is for.
    assert transition_cover(definition) == [
        Path(St.A, (a_b, PathStep(go, None, St.B, St.A))),
        Path(St.A, (a_b, PathStep(stop, None, St.B, St.C))),
        Path(St.A, (a_c, PathStep(go, None, St.C, St.C))),
        Path(St.A, (a_d, PathStep(go, None, St.D, St.D))),
    ]


def test_toy_cover_gives_a_dead_end_row_a_path_of_its_own() -> None:
    # Without the absorbed rows nothing leaves C or D: A-STOP/ONE and A-STOP/TWO
    # are crossed by no longer path, so each is a one-step path of its own.
    definition = toy(TOY_TABLE[:5])
    stop_one = PathStep(Tr.STOP, Br.ONE, St.A, St.C)
    stop_two = PathStep(Tr.STOP, Br.TWO, St.A, St.D)
    a_b = PathStep(Tr.GO, None, St.A, St.B)
    assert transition_cover(definition) == [
        Path(St.A, (a_b, PathStep(Tr.GO, None, St.B, St.A))),
        Path(St.A, (stop_one,)),
        Path(St.A, (stop_two,)),
        Path(St.A, (a_b, PathStep(Tr.STOP, None, St.B, St.C))),
    ]


def test_toy_cover_of_a_chain_is_its_shortest_paths() -> None:
    # a -go-> b -go-> c -stop-> d, with a shortcut a -stop-> c: the shortest
    # way to c is the shortcut (one step), so b's go to c is off it and gets a
    # path; c's stop rides on the shortcut; a-go-b is crossed by b's path.
    table = (
        Transition(St.A, Tr.GO, St.B),
        Transition(St.B, Tr.GO, St.C),
        Transition(St.C, Tr.STOP, St.D),
        Transition(St.A, Tr.STOP, St.C),
    )
    definition = MachineDefinition(
        name="chain",
        summary="chain",
        states=St,
        triggers=Tr,
        initial=St.A,
        terminal=frozenset({St.D}),
        local_triggers=frozenset(),
        table=table,
    )
    cover = transition_cover(definition)
    assert [describe_path(path) for path in cover] == ["a -go-> b -go-> c", "a -stop-> c -stop-> d"]


def test_toy_depth_limits() -> None:
    definition = toy()
    # B, C and D are one step away: their rows need two steps
    assert uncovered_rows(definition, 1) == TOY_TABLE[1:2] + TOY_TABLE[4:]
    assert len(transition_cover(definition, 1)) == 3
    assert uncovered_rows(definition, 2) == ()
    assert uncovered_rows(definition, 0) == TOY_TABLE
    assert transition_cover(definition, 0) == []
    assert set(shortest_paths(definition, 0)) == {St.A}


def test_replay_refuses_a_wrong_path() -> None:
    definition = toy()
    wrong_dest = Path(St.A, (PathStep(Tr.GO, None, St.A, St.C),))
    with pytest.raises(PathMismatch, match="land in 'c'"):
        replay_path(definition, wrong_dest)
    wrong_source = Path(St.A, (PathStep(Tr.GO, None, St.B, St.A),))
    with pytest.raises(PathMismatch, match="start in 'b'"):
        replay_path(definition, wrong_source)
    illegal = Path(St.C, (PathStep(Tr.STOP, None, St.C, St.C),))
    with pytest.raises(InvalidTrigger):
        replay_path(definition, illegal)
    assert replay_path(definition, Path(St.D)) is St.D


# -- random machines -------------------------------------------------------------


class R(enum.Enum):
    S0 = "s0"
    S1 = "s1"
    S2 = "s2"
    S3 = "s3"
    END = "end"


class RT(enum.Enum):
    X = "x"
    Y = "y"
    Z = "z"


MOVING = [R.S0, R.S1, R.S2, R.S3]


@st.composite
def random_machines(draw: st.DrawFn) -> MachineDefinition[R, RT]:
    # A chain through every state in a drawn order keeps them all reachable
    # (the definition refuses otherwise); the other pairs are drawn freely.
    order = [R.S0, *draw(st.permutations([R.S1, R.S2, R.S3])), R.END]
    chain = {(a, draw(st.sampled_from(list(RT)))): b for a, b in itertools.pairwise(order)}
    rows: list[Transition[R, RT]] = [Transition(a, t, b) for (a, t), b in chain.items()]
    for state, trigger in itertools.product(MOVING, RT):
        if (state, trigger) in chain:
            continue
        kind = draw(st.sampled_from(["none", "plain", "absorb", "guarded"]))
        if kind == "plain":
            rows.append(Transition(state, trigger, draw(st.sampled_from(list(R)))))
        elif kind == "absorb":
            rows.append(Transition(state, trigger, state, absorb=True))
        elif kind == "guarded":
            for branch in draw(st.sampled_from([[Br.ONE], [Br.ONE, Br.TWO]])):
                rows.append(Transition(state, trigger, draw(st.sampled_from(list(R))), when=branch))
    if draw(st.booleans()):
        rows.append(Transition(R.END, RT.X, R.END, absorb=True))
    table = tuple(draw(st.permutations(rows)))
    try:
        return MachineDefinition(
            name="random",
            summary="random",
            states=R,
            triggers=RT,
            initial=R.S0,
            terminal=frozenset({R.END}),
            local_triggers=frozenset(),
            table=table,
        )
    except DefinitionError:
        assume(False)
        raise


@given(random_machines(), st.one_of(st.none(), st.integers(0, 5)))
def test_random_machines(definition: MachineDefinition[R, RT], depth: int | None) -> None:
    depths = reference_depths(definition)
    limit = depth if depth is not None else len(R)
    paths = shortest_paths(definition, depth)
    assert {s: len(p) for s, p in paths.items()} == {s: d for s, d in depths.items() if d <= limit}
    for state, path in paths.items():
        assert replay_path(definition, path) is state
    uncovered = set(uncovered_rows(definition, depth))
    assert uncovered == {row for row in definition.table if depths[row.source] >= limit}
    cover = transition_cover(definition, depth)
    assert all(depth is None or len(path) <= depth for path in cover)
    assert check_cover(definition, cover) == set(definition.table) - uncovered
    assert transition_cover(definition, depth) == cover


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
