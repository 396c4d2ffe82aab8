"""Views: a machine too dense for one picture at page width, drawn in parts as well as whole.

:data:`_SPLITS` is the one editorial input of the diagrams: which states of a
dense machine make up each part, named by the machine's own state enums.
Separate from the plan because it decides which rows are drawn, not how.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from attrs import frozen

from adapters.diagrams.shapes import _states
from adapters.diagrams.style import RANKDIR
from fsm.engine import MachineDefinition, Transition
from fsm.invitation import InvitationState
from fsm.online_meeting import OnlineMeetingState
from fsm.renegotiation import RenegotiationState

#: The name of the view that draws every row: kept for reference, in ``<machine>.<fmt>``.
FULL = "full"


@frozen
class View:
    """A part of a machine drawn on its own: the rows that leave ``focus`` states, those selected.

    A state such a row leads to but whose own rows are drawn elsewhere is a
    stub: drawn dashed, with the name of the view that draws it.
    """

    name: str
    title: str
    focus: frozenset[Enum]
    #: Only rows into these states (``None``: into any state) ...
    into: frozenset[Enum] | None = None
    #: ... and never rows into these.
    not_into: frozenset[Enum] = frozenset()
    #: Graphviz's rankdir: ``LR`` when the rows all lead one way, to ends.
    rankdir: str = RANKDIR

    def rows(self, definition: MachineDefinition[Any, Any]) -> tuple[Transition[Any, Any], ...]:
        return tuple(
            row
            for row in definition.table
            if row.source in self.focus
            and (self.into is None or row.dest in self.into)
            and row.dest not in self.not_into
        )


def _moving(definition: MachineDefinition[Any, Any]) -> frozenset[Enum]:
    return frozenset(s for s in definition.states if s not in definition.terminal)


@frozen
class _CancelRace:
    """A call-like machine: progress, completion, and the cancel race with hang-up."""

    race: frozenset[Enum]
    #: Non-terminal states that end the progress: reached by completion, left only through the race.
    settled: frozenset[Enum]

    def parts(self, definition: MachineDefinition[Any, Any]) -> tuple[View, ...]:
        ends = frozenset(definition.terminal) | self.settled
        # Every state not named goes to progress, so a state added to the table is drawn somewhere.
        before = _moving(definition) - self.race - self.settled
        return (
            View("progress", "progress: every move before the outcome", before, not_into=ends),
            View("completion", "completion: how each state before the outcome ends", before, into=ends, rankdir="LR"),
            View("cancel-race", "the cancel race with hang-up", self.race | self.settled),
        )


@frozen
class _TwoSides:
    """A machine with two ways through: ours (every state not named) and theirs."""

    theirs: frozenset[Enum]

    def parts(self, definition: MachineDefinition[Any, Any]) -> tuple[View, ...]:
        return (
            View("ours", "our offer", _moving(definition) - self.theirs),
            View("theirs", "the remote's offer", self.theirs),
        )


_I = InvitationState
_O = OnlineMeetingState
_R = RenegotiationState
#: Machines too dense for one picture at page width, by their state enum.
_SPLITS: Mapping[type[Enum], _CancelRace | _TwoSides] = {
    _I: _CancelRace(
        race=frozenset({_I.CANCELLING, _I.CANCEL_ANSWERED, _I.CANCEL_CROSSED, _I.HANGING_UP}),
        settled=frozenset({_I.CONNECTED}),
    ),
    _O: _CancelRace(
        race=frozenset({_O.CANCELLING, _O.CANCEL_ANSWERED, _O.CANCEL_CROSSED, _O.HANGING_UP}),
        settled=frozenset({_O.CONNECTED}),
    ),
    _R: _TwoSides(theirs=frozenset({_R.REMOTE_OFFERED, _R.ANSWERING, _R.DISMISSING})),
}


def full_view(definition: MachineDefinition[Any, Any]) -> View:
    return View(FULL, "every transition", frozenset(_states(definition)))


def views(definition: MachineDefinition[Any, Any]) -> tuple[View, ...]:
    """The views drawn of ``definition``: the full one first, then its parts when it is split."""
    split = _SPLITS.get(definition.states)
    return (full_view(definition), *(split.parts(definition) if split is not None else ()))


def view_named(definition: MachineDefinition[Any, Any], name: str) -> View | None:
    return next((view for view in views(definition) if view.name == name), None)


def drawn_in(definition: MachineDefinition[Any, Any], state: Enum) -> str:
    """The first view past the full one whose rows leave ``state``."""
    return next((v.name for v in views(definition)[1:] if state in v.focus), FULL)
