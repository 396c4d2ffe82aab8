"""What the app is shown: one :class:`StateChange` per machine step, and how much of each model's
history it has seen.

Separate because it is bookkeeping with no I/O and no knowledge of HTTP: both clients hand it the
models a request or an event touched and get back the changes to publish.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
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


class ChangeFeed:
    """Which steps of each model the app has been shown, and whose final outcome (weak: a dropped model
    is forgotten).

    A model's outcome is shown final once (on the :class:`StateChange` that made it final); one still
    provisional (an end seen without status) waits in :attr:`provisional` until its grace passes, which
    no event announces: the client asks :meth:`due` when time has moved.
    """

    def __init__(self) -> None:
        #: id -> (the model, how many of its steps were shown)
        self._seen: dict[int, tuple[weakref.ref[FsmModel], int]] = {}
        #: id -> the model whose final outcome was shown
        self._finals: dict[int, weakref.ref[FsmModel]] = {}
        #: id -> a model whose outcome is still provisional (shown final once its grace passes)
        self.provisional: dict[int, FsmModel] = {}

    def changes(self, models: Iterable[FsmModel], now: float) -> list[StateChange]:
        """The steps of ``models`` not shown yet (each model once), the last marked final when it is."""
        out: list[StateChange] = []
        seen: set[int] = set()
        for model in models:
            if id(model) not in seen:
                seen.add(id(model))
                out.extend(self._final(model, self._new(model), now))
        return out

    def restored(self, model: FsmModel, now: float) -> None:
        """Count ``model``'s history, and a final outcome it has, as shown (a restored model's past is not news)."""
        self._seen[id(model)] = (weakref.ref(model, _forget(self._seen, id(model))), len(model.history))
        self._final(model, [], now)

    def due(self, now: float) -> list[FsmModel]:
        """The models whose provisional outcome may have turned final with time alone."""
        return [m for m in self.provisional.values() if m.outcome_is_final(now)]  # type: ignore[attr-defined]

    def _new(self, model: FsmModel) -> list[StateChange]:
        ident = id(model)
        entry = self._seen.get(ident)
        start = entry[1] if entry is not None and entry[0]() is model else 0
        steps = model.history[start:]
        if steps or entry is None:
            self._seen[ident] = (weakref.ref(model, _forget(self._seen, ident)), len(model.history))
        return [StateChange(model, step) for step in steps]

    def _final(self, model: FsmModel, changes: list[StateChange], now: float) -> list[StateChange]:
        """``changes`` of ``model``, the last marked ``final`` if its outcome has just become final (once per model)."""
        ident = id(model)
        outcome_is_final = getattr(model, "outcome_is_final", None)
        if outcome_is_final is None or getattr(model, "outcome", None) is None or not model.history:
            return changes
        known = self._finals.get(ident)
        if known is not None and known() is model:
            return changes
        if not outcome_is_final(now):
            self.provisional[ident] = model
            return changes
        self.provisional.pop(ident, None)
        self._finals[ident] = weakref.ref(model, _forget(self._finals, ident))
        last = changes[-1].step if changes else model.history[-1]
        return [*changes[:-1], StateChange(model, last, final=True)]


def _forget(table: dict[int, Any], ident: int) -> Callable[[weakref.ref[FsmModel]], None]:
    """A weak reference's callback that drops ``ident`` from ``table`` once its model is garbage."""

    def forget(_: weakref.ref[FsmModel]) -> None:
        table.pop(ident, None)

    return forget


def outcome_settled(invitation: Invitation, now: float) -> bool:
    """What ``wait_for_outcome`` waits for: a final outcome (or, should it ever be, an end with none)."""
    return invitation.outcome_is_final(now) or (invitation.outcome is None and invitation.is_terminal)
