"""What the app is shown: one :class:`StateChange` per machine step, and how much of each model's
history it has seen.

Separate because it is bookkeeping with no I/O and no knowledge of HTTP: both clients hand it the
models a request or an event touched and get back the changes to publish.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from enum import Enum
from typing import Any

from attrs import frozen

from fsm.engine import Step
from fsm.invitation import Invitation
from fsm.model import FsmModel


@frozen(eq=False)
class StateChange:
    """One step of one machine, as the app sees it."""

    model: FsmModel
    step: Step[Any, Any]
    #: The model's outcome is final from this change on (:meth:`~fsm.invitation.Invitation.outcome_is_final`):
    #: true on one change per model. When only time made it final (the grace after an end seen without
    #: status), that change repeats the model's last step.
    final: bool = False

    @property
    def source(self) -> Enum:
        return self.step.source  # type: ignore[no-any-return]

    @property
    def dest(self) -> Enum:
        return self.step.dest  # type: ignore[no-any-return]

    @property
    def trigger(self) -> Enum:
        return self.step.trigger  # type: ignore[no-any-return]

    @property
    def moved(self) -> bool:
        return self.step.source is not self.step.dest

    def __str__(self) -> str:
        href = getattr(self.model, "href", None)
        where = f" {href}" if href else ""
        why = f" ({self.step.reason})" if self.step.reason else ""
        return f"{self.model.machine}{where}: {self.source.value} -[{self.trigger.value}]-> {self.dest.value}{why}"


class _Steps:
    """How much of each model's history the app has been shown (weak: a dropped model is forgotten)."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[weakref.ref[FsmModel], int]] = {}

    def _forget(self, ident: int) -> Callable[[weakref.ref[FsmModel]], None]:
        def forget(_: weakref.ref[FsmModel]) -> None:
            self._seen.pop(ident, None)

        return forget

    def new(self, model: FsmModel) -> list[StateChange]:
        ident = id(model)
        entry = self._seen.get(ident)
        start = entry[1] if entry is not None and entry[0]() is model else 0
        steps = model.history[start:]
        if steps or entry is None:
            self._seen[ident] = (weakref.ref(model, self._forget(ident)), len(model.history))
        return [StateChange(model, step) for step in steps]

    def shown(self, model: FsmModel) -> None:
        """Count ``model``'s history as already shown (a restored model's past is not news)."""
        self._seen[id(model)] = (weakref.ref(model, self._forget(id(model))), len(model.history))


def _outcome_settled(invitation: Invitation, now: float) -> bool:
    """What ``wait_for_outcome`` waits for: a final outcome (or, should it ever be, an end with none)."""
    return invitation.outcome_is_final(now) or (invitation.outcome is None and invitation.is_terminal)
