"""The meeting_series walker: Huawei has no event channel, so its walk is trigger calls.

Each call is ``{"trigger": name, "kwargs": {...}}`` over the whole table, the app's DELETEs and
Huawei's answers (status + error body) included; apply them with
:func:`~adapters.testing.strategies.call_trigger`. Apart from the channel walkers because it emits
no wire event.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, Final

from adapters.testing.choices import _Choices
from adapters.testing.walks import EventWalk, _Walker
from fsm.engine import Transition
from fsm.meeting_series import (
    MEETING_SERIES,
    CancelMode,
    ConferenceState,
    MeetingSeriesState,
    MeetingSeriesTrigger,
    Observation,
)

#: Huawei refusals: (status, error_code, error_msg) as docs/protocol.md §7.3 lists them; 401 often has no body.
_HUAWEI_ERRORS: Final = (
    (400, "MMC.111072065", "CONF_NOT_FOUND_OR_AUTH_FAILED"),
    (401, None, None),
    (403, "MMC.111070002", "insufficient permissions"),
    (500, "MMC.111070003", "system processing failure"),
)
_CONFERENCE_STATES: Final[Mapping[Observation, tuple[str, ...]]] = {
    Observation.NOT_HELD: (ConferenceState.SCHEDULE.value, ConferenceState.CREATING.value),
    Observation.HELD: (ConferenceState.CREATED.value,),
    Observation.CLOSED: (ConferenceState.DESTROYED.value,),
    Observation.UNKNOWN: ("Paused", "", "Scheduled!"),
}


class _SeriesWalker(_Walker):
    """Trigger calls over the whole meeting_series table (it has no event channel)."""

    definition = MEETING_SERIES

    def __init__(self, choices: _Choices, serial: int) -> None:
        super().__init__(choices, serial)
        self.conference_id = f"9{serial:08d}"
        self.held = False
        self.pending: list[str] = []
        self.subs = 0

    def eligible(self, state: Enum, first: bool) -> list[Transition[Any, Any]]:
        T = MeetingSeriesTrigger
        rows = []
        for row in self.definition.table:
            if row.source is not state:
                continue
            if row.trigger is T.CANCEL_FAILED and not row.absorb:
                # the machine picks the branch from what it saw: held or not
                wanted = MeetingSeriesState.HELD if self.held else MeetingSeriesState.SCHEDULED
                if row.when is not wanted:
                    continue
            if row.trigger in (T.SUB_CANCEL_SUCCEEDED, T.SUB_CANCEL_FAILED) and not row.absorb and not self.pending:
                continue
            rows.append(row)
        return rows

    def emit(self, row: Transition[Any, Any]) -> dict[str, Any]:
        T = MeetingSeriesTrigger
        kwargs: dict[str, Any] = {}
        trigger = row.trigger
        if trigger is T.CANCEL:
            kwargs["cancel_ongoing"] = row.when is CancelMode.ONGOING
        elif trigger is T.CANCEL_SUB_MEETINGS:
            fresh = [f"sub-{self.serial}-{self.subs + i}" for i in range(self.c.number(1, 3))]
            self.subs += len(fresh)
            self.pending.extend(fresh)
            kwargs["ids"] = fresh
        elif trigger is T.CONFERENCE_STATE_OBSERVED:
            branch = row.when if isinstance(row.when, Observation) else self.c.pick(tuple(Observation))
            kwargs["conference_state"] = self.c.pick(_CONFERENCE_STATES[branch])
            if branch is Observation.HELD and not row.absorb:
                self.held = True
        elif trigger in (T.SUB_CANCEL_SUCCEEDED, T.SUB_CANCEL_FAILED):
            if row.absorb or not self.pending:
                ids = [f"sub-{self.serial}-late"]
            else:
                ids = self.pending[: self.c.number(1, len(self.pending))]
                self.pending = self.pending[len(ids) :]
            kwargs["ids"] = ids
        if trigger in (T.CANCEL_FAILED, T.SUB_CANCEL_FAILED):
            status, code, message = self.c.pick(_HUAWEI_ERRORS)
            kwargs.update(status=status, error_code=code, error_msg=message)
        return {"trigger": trigger.value, "kwargs": kwargs}

    def run(self, length: int) -> EventWalk:
        walk = super().run(length)
        walk.conference_id = self.conference_id
        return walk
