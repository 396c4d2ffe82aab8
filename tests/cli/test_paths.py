"""Scenario generation: shortest paths and the transition cover of every registered machine and of
random ones.

The checks replay every generated path through the engine itself (``select``
+ ``fire`` on a model that has nothing but a state) and compare against an
independent reference (paths_reference.py): path lengths come from a level-by-level
fixed point over the engine's own moves, never from :mod:`fsm.paths`. A toy machine and
``callfsm scenarios`` have their own ``test_paths_*.py`` files.
"""

from __future__ import annotations

import enum
import itertools
import json
import os
import subprocess
import sys

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from paths_reference import NAMES, ROOT, Br, check_cover, reference_depths, walk

from adapters.cli import scenarios as cli_scenarios
from fsm import MACHINES
from fsm.engine import MachineDefinition, Transition
from fsm.errors import DefinitionError
from fsm.paths import (
    replay_path,
    shortest_paths,
    transition_cover,
    uncovered_rows,
)

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
