"""Model-based scenarios: shortest paths to every state, and a transition cover.

Theory of operation
-------------------
A machine's table is a directed multigraph: states are nodes, rows are edges.
A guarded row is its own edge (``(state, trigger)`` with branch ``Declined``
is not the same test as the same pair with branch ``Failed``), so a
:class:`PathStep` names the trigger AND the guard branch to feed it.

:func:`shortest_paths` is a breadth-first search from the initial state with
every edge weighing one. It is deterministic: states leave the queue in the
order they were found, and each state's rows are tried in table order, so the
first path found to a state is the one reported. Absorbed rows are self-loops
(the import-time check guarantees it) and can never shorten a path; they are
skipped.

:func:`transition_cover` is a set of short paths, one per row it targets:
the shortest path :func:`shortest_paths` gives to the row's source, then the
row. A reader (or a test) can take each path on its own: it shows one way the
row is reached, by the fewest steps, and nothing else. Rows a path crosses on
its way are covered too, so they get no path of their own; rows are targeted
deepest source first, so that every row of the breadth-first tree a deeper path
already crosses is left out. That is the fewest paths of this shape: every row
off the tree needs its own path, and a tree row needs one only when no row
leaves from below it. The paths are listed in table order of their rows.
A shortest path never goes through a terminal state (nothing leaves one but
absorbed self-loops, which are skipped), so a path stops at the first terminal
state it reaches: its last step is its row, which may be a late event absorbed
there.

``max_depth`` bounds the length of every path (the number of steps). A state
farther than that is absent from :func:`shortest_paths`, and a row whose source
is at distance ``max_depth`` or more cannot be taken by any path of that length:
:func:`uncovered_rows` lists those, and the cover is built from the others.

:func:`replay_path` is the check: it drives a bare model (nothing but a
``state``) through the definition's own ``select`` and ``fire``, so a path
that replays is a path the real engine accepts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any, Generic, TypeVar

from attrs import frozen

from fsm.engine import MachineDefinition, Transition
from fsm.errors import CallFsmError

S = TypeVar("S", bound=Enum)
T = TypeVar("T", bound=Enum)


@frozen
class PathStep(Generic[S, T]):
    """One edge of a path: feed ``trigger`` (classified as ``branch``) in ``source``."""

    trigger: T
    #: The row's ``when`` value: the payload case to feed; ``None`` when unguarded.
    branch: Enum | None
    source: S
    dest: S

    @classmethod
    def of(cls, row: Transition[S, T]) -> PathStep[S, T]:
        return cls(row.trigger, row.when, row.source, row.dest)


@frozen
class Path(Generic[S, T]):
    """A walk through a machine from ``start``; empty for the start state itself."""

    start: S
    steps: tuple[PathStep[S, T], ...] = ()

    @property
    def triggers(self) -> tuple[T, ...]:
        return tuple(step.trigger for step in self.steps)

    @property
    def final_state(self) -> S:
        return self.steps[-1].dest if self.steps else self.start

    def __len__(self) -> int:
        return len(self.steps)


class PathMismatch(CallFsmError):
    """A replayed step did not start or end where the path says it does."""


def _check_depth(max_depth: int | None) -> None:
    if max_depth is not None and max_depth < 0:
        raise ValueError(f"max_depth must be 0 or more, not {max_depth}")


def _outgoing(definition: MachineDefinition[S, T]) -> dict[S, list[Transition[S, T]]]:
    """Each state's rows in table order, absorbed self-loops left out."""
    out: dict[S, list[Transition[S, T]]] = {state: [] for state in definition.states}
    for row in definition.table:
        if not row.absorb:
            out[row.source].append(row)
    return out


def _bfs(outgoing: dict[S, list[Transition[S, T]]], start: S, limit: int | None) -> dict[S, tuple[PathStep[S, T], ...]]:
    """The first-found shortest step sequence from ``start`` to each state within ``limit`` steps."""
    found: dict[S, tuple[PathStep[S, T], ...]] = {start: ()}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        prefix = found[state]
        if limit is not None and len(prefix) >= limit:
            continue
        for row in outgoing[state]:
            if row.dest not in found:
                found[row.dest] = (*prefix, PathStep.of(row))
                queue.append(row.dest)
    return found


def shortest_paths(definition: MachineDefinition[S, T], max_depth: int | None = None) -> dict[S, Path[S, T]]:
    """A shortest path from the initial state to every state within ``max_depth`` steps.

    The dict is in discovery order (by distance, then table order); states
    farther than ``max_depth`` are absent.
    """
    _check_depth(max_depth)
    found = _bfs(_outgoing(definition), definition.initial, max_depth)
    return {state: Path(definition.initial, steps) for state, steps in found.items()}


def uncovered_rows(definition: MachineDefinition[S, T], max_depth: int | None = None) -> tuple[Transition[S, T], ...]:
    """Rows no path of at most ``max_depth`` steps from the initial state can take, in table order."""
    _check_depth(max_depth)
    found = _bfs(_outgoing(definition), definition.initial, max_depth)
    return tuple(row for row in definition.table if not _coverable(row, found, max_depth))


def _coverable(row: Transition[Any, Any], found: dict[Any, tuple[Any, ...]], max_depth: int | None) -> bool:
    prefix = found.get(row.source)
    return prefix is not None and (max_depth is None or len(prefix) + 1 <= max_depth)


def transition_cover(definition: MachineDefinition[S, T], max_depth: int | None = None) -> list[Path[S, T]]:
    """Paths from the initial state that together take every coverable row at least once.

    Each path is the shortest path to one row's source, then that row (its
    last step); see the module docstring for which rows get a path. Every path
    has at most ``max_depth`` steps; the rows this leaves out are exactly
    :func:`uncovered_rows`.
    """
    _check_depth(max_depth)
    found = _bfs(_outgoing(definition), definition.initial, max_depth)
    index = {row: i for i, row in enumerate(definition.table)}
    coverable = [row for row in definition.table if _coverable(row, found, max_depth)]
    covered: set[Transition[S, T]] = set()
    targets: list[Transition[S, T]] = []
    # Deepest first: a tree row is then already crossed by every path that needs it.
    for row in sorted(coverable, key=lambda r: (-len(found[r.source]), index[r])):
        if row in covered:
            continue
        targets.append(row)
        covered.add(row)
        covered.update(_rows_of(definition, found[row.source]))
    targets.sort(key=index.__getitem__)
    return [Path(definition.initial, (*found[row.source], PathStep.of(row))) for row in targets]


def _rows_of(definition: MachineDefinition[S, T], steps: Iterable[PathStep[S, T]]) -> list[Transition[S, T]]:
    return [definition.select(step.source, step.trigger, step.branch) for step in steps]


class _Bare:
    """Nothing but a state: what the shared engine needs to run a row."""

    __slots__ = ("state",)

    def __init__(self, state: Enum) -> None:
        self.state = state


def replay_rows(definition: MachineDefinition[S, T], path: Path[S, T]) -> tuple[Transition[S, T], ...]:
    """Drive a bare model along ``path``; the rows the engine took, in order.

    Raises :class:`~fsm.errors.InvalidTrigger` if a step is refused, and
    :class:`PathMismatch` if a step starts or lands elsewhere than the path says.
    """
    return _replay(definition, path)[1]


def replay_path(definition: MachineDefinition[S, T], path: Path[S, T]) -> S:
    """Drive a bare model along ``path`` through ``select`` and ``fire``; its final state."""
    return _replay(definition, path)[0]


def _replay(definition: MachineDefinition[S, T], path: Path[S, T]) -> tuple[S, tuple[Transition[S, T], ...]]:
    model = _Bare(path.start)
    taken: list[Transition[S, T]] = []
    for number, step in enumerate(path.steps, 1):
        if model.state is not step.source:
            raise PathMismatch(
                f"{definition.name}: step {number} ({step.trigger.value}) should start in "
                f"'{step.source.value}', the model is in '{model.state.value}'"
            )
        row = definition.select(step.source, step.trigger, step.branch)
        definition.fire(model, row)
        if model.state is not step.dest:
            raise PathMismatch(
                f"{definition.name}: step {number} ({step.trigger.value}) should land in "
                f"'{step.dest.value}', the model is in '{model.state.value}'"
            )
        taken.append(row)
    state: S = model.state  # type: ignore[assignment]
    return state, tuple(taken)


def describe_step(step: PathStep[Any, Any]) -> str:
    """``trigger`` or ``trigger[branch]``: how a step reads in text."""
    if step.branch is None:
        return str(step.trigger.value)
    return f"{step.trigger.value}[{step.branch.value}]"


def describe(steps: Sequence[PathStep[Any, Any]]) -> str:
    """A path's steps as ``trigger[branch] -> trigger -> ...``."""
    return " -> ".join(describe_step(step) for step in steps)


def path_words(path: Path[Any, Any]) -> list[str]:
    """``start``, then ``-trigger[branch]-> state`` per step: a path with every state it goes through."""
    return [str(path.start.value), *(f"-{describe_step(step)}-> {step.dest.value}" for step in path.steps)]


def describe_path(path: Path[Any, Any]) -> str:
    """``state -trigger[branch]-> state -trigger-> state ...``"""
    return " ".join(path_words(path))
