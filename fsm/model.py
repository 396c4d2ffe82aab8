"""The base of every live model: a state, a history, and one way to move.

A model holds no reference to its Machine: the definition is a class
attribute, shared. Subclasses are slotted attrs classes, so a live invitation
costs a few hundred bytes plus its history, and cattrs can snapshot it as
plain data.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar

from attrs import define, field

from fsm.engine import MachineDefinition, Step, Transition, _record


@define(slots=True, kw_only=True, eq=True)
class FsmModel:
    """Base class: ``state``, ``history`` and :meth:`_move`."""

    DEFINITION: ClassVar[MachineDefinition[Any, Any]]

    history: list[Step[Any, Any]] = field(factory=list)

    @property
    def machine(self) -> str:
        return self.DEFINITION.name

    @property
    def is_terminal(self) -> bool:
        return bool(self.state in self.DEFINITION.terminal)  # type: ignore[attr-defined]

    def _move(
        self, trigger: Enum, now: float, *, branch: Enum | None = None, reason: str | None = None
    ) -> Transition[Any, Any]:
        """Select the row, run it through the engine, record it. Raises before any change."""
        source = self.state  # type: ignore[attr-defined]
        row = self.DEFINITION.advance(self, source, trigger, branch)
        self.history.append(_record(source, trigger, row.dest, reason, now))
        return row

    def _check(self, trigger: Enum, branch: Enum | None = None) -> Transition[Any, Any]:
        """The row that would apply, or raise; changes nothing."""
        return self.DEFINITION.select(self.state, trigger, branch)  # type: ignore[attr-defined]
