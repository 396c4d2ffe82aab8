"""A live model drawn on a plan: its current state, the states it went through, its numbered path.

Separate because it reads a model's ``state`` and ``history``, never a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, Protocol

from attrs import frozen

from fsm.engine import Step


class LiveModel(Protocol):
    """What a drawing reads from a live model."""

    @property
    def state(self) -> Any: ...

    @property
    def history(self) -> Sequence[Step[Any, Any]]: ...


@frozen
class _Path:
    current: Enum | None
    #: States the model went through, in order of first visit.
    visited: tuple[Enum, ...]
    #: (from, to, numbered steps) per pair, in order of first step.
    moves: tuple[tuple[Enum, Enum, tuple[str, ...]], ...]


def _path(model: LiveModel | None) -> _Path:
    if model is None:
        return _Path(None, (), ())
    visited: list[Enum] = []
    moves: dict[tuple[Enum, Enum], list[str]] = {}
    for number, step in enumerate(model.history, start=1):
        for state in (step.source, step.dest):
            if state not in visited:
                visited.append(state)
        moves.setdefault((step.source, step.dest), []).append(f"{number}. {step.trigger.value}")
    return _Path(model.state, tuple(visited), tuple((a, b, tuple(steps)) for (a, b), steps in moves.items()))
