"""The independent reference the scenario-generation tests check :mod:`fsm.paths` against.

Every generated path is replayed through the engine itself (``select`` + ``fire`` on a model that
has nothing but a state, :class:`Bare`), and path lengths come from a level-by-level fixed point
over the engine's own moves (:func:`reference_depths`), never from :mod:`fsm.paths`. The toy machine
(:func:`toy`, four states and a guarded row) is one whose answers are known by reasoning. Shared by the
``test_paths*.py`` files (pytest puts this folder on ``sys.path``, as it does for every test folder
without ``__init__.py``).
"""

from __future__ import annotations

import enum
import itertools
from pathlib import Path as FsPath
from typing import Any

from fsm import MACHINES
from fsm.engine import MachineDefinition, Transition
from fsm.paths import (
    Path,
    describe_path,
    replay_rows,
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
