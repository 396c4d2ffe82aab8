"""The meeting_series machine: a Huawei Cloud Meeting recurring series, until it ends or is cancelled.

Theory of operation
-------------------
A recurring series is booked (``scheduled``) and its sub-meetings are held one
by one. Huawei has no event channel for this [U] (docs/protocol.md §7.2), so what the
machine knows of the series comes from the app: the ``conferenceState`` it
read (``conference_state_observed``), the responses to its DELETE requests,
and ``ended`` when the series has run its course (the app knows the end date).

Held. The API reports ``conferenceState`` ``Created`` once the meeting has been
held and ``Schedule`` otherwise [C]; ``Creating`` counts as not held and
``Destroyed`` ("closed", documented but not returned today) as ended. Held is
sticky [U]: a later ``Schedule`` (the next sub-meeting booked) does not undo
it, because the cancel rule below is about having been held. An unknown value
is recorded in the history and changes nothing.

Cancel. DELETE ``cycleconferences?conferenceID=...`` (:class:`~fsm.actions.DeleteSeries`).
A series that has been held cannot be cancelled unless ``type=1`` is sent
(seed 004): without ``cancel_ongoing`` the machine refuses locally, nothing
is sent. The 200 ends the series in ``cancelled`` (with ``type=1`` the
ongoing meeting ends with it). A 401 (token), 403 or 500 (any error status,
in fact: API pages also list 400 for ``MMC.`` error bodies, docs/protocol.md §7.3)
returns to the state the series was in, ``scheduled`` or ``held`` (a guard
branch, so a ``Created`` seen while the DELETE was in flight counts), and
keeps the error in ``last_error``; the app may retry, for example after
refreshing its token on a 401. A 403 may mean "held" or "not allowed": the
page does not say which, so the app finds out (:mod:`adapters.huawei` asks
the details API) and says ``held=True`` when it was held; the series then
goes to ``held``, so the next plain cancel is refused locally instead of
being sent again.

Sub-meetings. DELETE ``cyclesubconf`` with the sub-meeting UUIDs
(:class:`~fsm.actions.DeleteSubMeetings`) leaves the series where it is: the
IDs are pending until the response moves them to ``cancelled_sub_meetings``
(200) or drops them (error, kept in ``last_error``). Both responses are
accepted while a series cancel is in flight (the sub-meeting request may have
been sent first).

``last_error`` is the error of the latest refused request; a later success
clears it. Error codes and messages are kept exactly as Huawei sent them
(``MMC.111072065`` / ``CONF_NOT_FOUND_OR_AUTH_FAILED``).

Once ended or cancelled, later responses and observations are recorded in
the history (absorbed) and change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from attrs import define, field, frozen, validators

from fsm.actions import NO_ACTIONS, Actions, DeleteSeries, DeleteSubMeetings
from fsm.engine import MachineDefinition, Transition, build_table
from fsm.errors import InvalidInput, InvalidTrigger
from fsm.model import FsmModel
from fsm.wire import WireEnum


class MeetingSeriesState(Enum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    ENDED = "ended"


class MeetingSeriesTrigger(Enum):
    # local: the app decides; each returns the actions to perform
    CANCEL = "cancel"
    CANCEL_SUB_MEETINGS = "cancel_sub_meetings"
    # remote: what the API said
    CONFERENCE_STATE_OBSERVED = "conference_state_observed"
    CANCEL_SUCCEEDED = "cancel_succeeded"
    CANCEL_FAILED = "cancel_failed"
    SUB_CANCEL_SUCCEEDED = "sub_cancel_succeeded"
    SUB_CANCEL_FAILED = "sub_cancel_failed"
    ENDED = "ended"


class ConferenceState(WireEnum):
    """Huawei ``conferenceState`` (docs/protocol.md §7.2); only Schedule and Created are returned today."""

    SCHEDULE = "Schedule"
    CREATING = "Creating"
    CREATED = "Created"
    DESTROYED = "Destroyed"


class Observation(Enum):
    """Guard of ``conference_state_observed``: what a conferenceState means for the series."""

    NOT_HELD = "not held yet"
    HELD = "held"
    CLOSED = "closed"
    UNKNOWN = "unknown value"


class CancelMode(Enum):
    """Guard of ``cancel``: whether ``type=1`` is sent."""

    PLAIN = "no type"
    ONGOING = "type=1"


_OBSERVATIONS = {
    ConferenceState.SCHEDULE: Observation.NOT_HELD,
    ConferenceState.CREATING: Observation.NOT_HELD,
    ConferenceState.CREATED: Observation.HELD,
    ConferenceState.DESTROYED: Observation.CLOSED,
}

#: Why a plain cancel of a held series is refused (seed 004).
HELD_RULE = "a series that has been held can only be cancelled with type=1 (cancel_ongoing=True)"
#: The status of the server's refusal of a plain cancel once held: of the statuses the cancel page
#: lists (401 authentication, 403 insufficient permissions, 500 server), only 403 fits [I].
HELD_REFUSAL_STATUS = 403


@frozen
class HuaweiError:
    """A refused Huawei request: the HTTP status and the error body, as given."""

    status: int
    #: ``error_code`` of the body (``MMC.111072065``), or ``None`` without a body.
    error_code: str | None = None
    error_msg: str | None = None

    @property
    def token_rejected(self) -> bool:
        """401: authentication missing or failed; refresh the token before a retry."""
        return self.status == 401

    def __str__(self) -> str:
        parts = [str(self.status), *(p for p in (self.error_code, self.error_msg) if p is not None)]
        return " ".join(parts)


S = MeetingSeriesState
T = MeetingSeriesTrigger

TERMINAL = frozenset({S.CANCELLED, S.ENDED})
#: Remote triggers that an ended series records and ignores.
_LATE_EVENTS = (
    T.CONFERENCE_STATE_OBSERVED,
    T.CANCEL_SUCCEEDED,
    T.CANCEL_FAILED,
    T.SUB_CANCEL_SUCCEEDED,
    T.SUB_CANCEL_FAILED,
    T.ENDED,
)


def _standing_rows(source: S, *, held: bool) -> list[Transition[S, T]]:
    """A series that is not being cancelled: scheduled, or held."""
    return [
        Transition(source, T.CANCEL_SUB_MEETINGS, source, note="DELETE cyclesubconf"),
        Transition(source, T.CONFERENCE_STATE_OBSERVED, source, when=Observation.NOT_HELD, note="Schedule"),
        Transition(source, T.CONFERENCE_STATE_OBSERVED, S.HELD, when=Observation.HELD, note="Created"),
        Transition(source, T.CONFERENCE_STATE_OBSERVED, S.ENDED, when=Observation.CLOSED, note="Destroyed"),
        Transition(source, T.CONFERENCE_STATE_OBSERVED, source, when=Observation.UNKNOWN, note="unknown: ignored"),
        Transition(source, T.SUB_CANCEL_SUCCEEDED, source, note="200"),
        Transition(source, T.SUB_CANCEL_FAILED, source, note="401/403/500"),
        Transition(source, T.ENDED, S.ENDED, note="ran its course"),
        *(
            [Transition(source, T.CANCEL, S.CANCELLING, when=CancelMode.ONGOING, note="type=1 required once held")]
            if held
            else [
                Transition(source, T.CANCEL, S.CANCELLING, when=CancelMode.PLAIN, note="DELETE cycleconferences"),
                Transition(source, T.CANCEL, S.CANCELLING, when=CancelMode.ONGOING, note="type=1"),
            ]
        ),
    ]


TABLE: tuple[Transition[S, T], ...] = build_table(
    _standing_rows(S.SCHEDULED, held=False),
    _standing_rows(S.HELD, held=True),
    # -- the series DELETE is in flight
    [
        Transition(S.CANCELLING, T.CANCEL_SUCCEEDED, S.CANCELLED, note="200"),
        Transition(S.CANCELLING, T.CANCEL_FAILED, S.SCHEDULED, when=S.SCHEDULED, note="refused: back, not held"),
        Transition(S.CANCELLING, T.CANCEL_FAILED, S.HELD, when=S.HELD, note="refused: back, held"),
        *[Transition(S.CANCELLING, T.CONFERENCE_STATE_OBSERVED, S.CANCELLING, when=o) for o in Observation],
        Transition(S.CANCELLING, T.SUB_CANCEL_SUCCEEDED, S.CANCELLING, note="earlier sub-meeting request"),
        Transition(S.CANCELLING, T.SUB_CANCEL_FAILED, S.CANCELLING, note="earlier sub-meeting request"),
        Transition(S.CANCELLING, T.ENDED, S.ENDED, note="ran its course first"),
    ],
    # -- ended: late responses and observations are recorded and change nothing
    *([Transition(end, t, end, absorb=True) for t in _LATE_EVENTS] for end in (S.CANCELLED, S.ENDED)),
)

MEETING_SERIES: MachineDefinition[S, T] = MachineDefinition(
    name="meeting_series",
    summary="A Huawei Cloud Meeting recurring series, from booking through its held sub-meetings "
    "to its end or cancellation (type=1 once held).",
    states=S,
    triggers=T,
    initial=S.SCHEDULED,
    terminal=TERMINAL,
    local_triggers=frozenset({T.CANCEL, T.CANCEL_SUB_MEETINGS}),
    table=TABLE,
    wire_names={S.SCHEDULED: ConferenceState.SCHEDULE.value, S.HELD: ConferenceState.CREATED.value},
)


@define(slots=True, kw_only=True, eq=True)
class MeetingSeries(FsmModel):
    """One recurring series. Every trigger takes ``now``, the caller's clock."""

    DEFINITION = MEETING_SERIES

    conference_id: str = field(validator=validators.min_len(1))
    state: MeetingSeriesState = MeetingSeriesState.SCHEDULED
    #: A sub-meeting has been held (conferenceState ``Created``); sticky.
    held: bool = False
    last_error: HuaweiError | None = None
    #: Sub-meeting UUIDs whose DELETE was sent, no response yet.
    pending_sub_meetings: tuple[str, ...] = ()
    #: Sub-meeting UUIDs Huawei confirmed as cancelled, in order.
    cancelled_sub_meetings: tuple[str, ...] = ()

    # -- local triggers ------------------------------------------------------------

    def cancel(self, *, now: float, cancel_ongoing: bool = False) -> Actions:
        """Cancel the whole series; ``cancel_ongoing`` sends ``type=1`` (needed once held)."""
        branch = CancelMode.ONGOING if cancel_ongoing else CancelMode.PLAIN
        rows = self.DEFINITION.rows(self.state, T.CANCEL)
        if rows and all(r.when is not branch for r in rows):
            raise InvalidTrigger(self.machine, self.state, T.CANCEL, HELD_RULE)
        self._move(T.CANCEL, now, branch=branch, reason=branch.value)
        return (DeleteSeries(self.conference_id, cancel_ongoing),)

    def cancel_sub_meetings(self, *, now: float, ids: Sequence[str], cancel_ongoing: bool = False) -> Actions:
        """Cancel some sub-meetings by UUID; the series stays where it is."""
        self._check(T.CANCEL_SUB_MEETINGS)
        if isinstance(ids, str):
            raise InvalidInput(self.machine, "cycleSubConfIDs", "a list of sub-meeting IDs, not one string")
        wanted = tuple(dict.fromkeys(ids))
        if not wanted:
            raise InvalidInput(self.machine, "cycleSubConfIDs", "at least one sub-meeting ID is required")
        if any(not i for i in wanted):
            raise InvalidInput(self.machine, "cycleSubConfIDs", "a sub-meeting ID is empty")
        self._move(T.CANCEL_SUB_MEETINGS, now, reason=", ".join(wanted))
        self.pending_sub_meetings = _union(self.pending_sub_meetings, wanted)
        return (DeleteSubMeetings(self.conference_id, wanted, cancel_ongoing),)

    # -- what the API said -----------------------------------------------------------

    def conference_state_observed(self, *, now: float, conference_state: str) -> Actions:
        """The app read the series' ``conferenceState`` (case ignored)."""
        parsed = ConferenceState.parse(conference_state)
        branch = Observation.UNKNOWN if parsed is None else _OBSERVATIONS[parsed]
        row = self._move(T.CONFERENCE_STATE_OBSERVED, now, branch=branch, reason=conference_state)
        if not row.absorb and branch is Observation.HELD:
            self.held = True
        return NO_ACTIONS

    def cancel_succeeded(self, *, now: float) -> Actions:
        """200 to the series DELETE."""
        row = self._move(T.CANCEL_SUCCEEDED, now)
        if not row.absorb:
            self.last_error = None
        return NO_ACTIONS

    def cancel_failed(
        self,
        *,
        now: float,
        status: int,
        error_code: str | None = None,
        error_msg: str | None = None,
        held: bool = False,
    ) -> Actions:
        """The series DELETE was refused (401, 403, 500...): back where it was, retry possible.

        ``held``: the app knows this 403 means the series has been held (for
        example, the details query answered ``Created``); the series then goes
        to ``held``, and the next cancel without ``type=1`` is refused locally.
        """
        error = _error(self.machine, status, error_code, error_msg)
        if held and status != HELD_REFUSAL_STATUS:
            raise InvalidInput(
                self.machine, "held", f"only a {HELD_REFUSAL_STATUS} can mean the series was held, not a {status}"
            )
        branch = S.HELD if self.held or held else S.SCHEDULED
        row = self._move(T.CANCEL_FAILED, now, branch=branch, reason=str(error))
        if not row.absorb:
            self.last_error = error
            self.held = self.held or held
        return NO_ACTIONS

    def sub_cancel_succeeded(self, *, now: float, ids: Sequence[str]) -> Actions:
        """200 to a sub-meeting DELETE: ``ids`` are the UUIDs that request carried."""
        done = self._pending(T.SUB_CANCEL_SUCCEEDED, ids)
        row = self._move(T.SUB_CANCEL_SUCCEEDED, now, reason=", ".join(done))
        if not row.absorb:
            self.pending_sub_meetings = tuple(i for i in self.pending_sub_meetings if i not in done)
            self.cancelled_sub_meetings = _union(self.cancelled_sub_meetings, done)
            self.last_error = None
        return NO_ACTIONS

    def sub_cancel_failed(
        self,
        *,
        now: float,
        ids: Sequence[str],
        status: int,
        error_code: str | None = None,
        error_msg: str | None = None,
    ) -> Actions:
        """A sub-meeting DELETE was refused: its IDs are no longer pending, the error is kept."""
        error = _error(self.machine, status, error_code, error_msg)
        refused = self._pending(T.SUB_CANCEL_FAILED, ids)
        row = self._move(T.SUB_CANCEL_FAILED, now, reason=str(error))
        if not row.absorb:
            self.pending_sub_meetings = tuple(i for i in self.pending_sub_meetings if i not in refused)
            self.last_error = error
        return NO_ACTIONS

    def ended(self, *, now: float) -> Actions:
        """The series ran its course (its last sub-meeting is over)."""
        self._move(T.ENDED, now)
        return NO_ACTIONS

    # -- helpers -----------------------------------------------------------------

    def _pending(self, trigger: MeetingSeriesTrigger, ids: Sequence[str]) -> tuple[str, ...]:
        """``ids`` checked against the pending ones (late responses to an ended series are not checked)."""
        wanted = tuple(dict.fromkeys(ids))
        if self.is_terminal:
            return wanted
        self._check(trigger)
        if not wanted:
            raise InvalidInput(self.machine, "cycleSubConfIDs", "at least one sub-meeting ID is required")
        unknown = [i for i in wanted if i not in self.pending_sub_meetings]
        if unknown:
            raise InvalidInput(self.machine, "cycleSubConfIDs", f"no request is pending for {unknown}")
        return wanted


def _union(first: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    return first + tuple(i for i in more if i not in first)


def _error(machine: str, status: int, error_code: str | None, error_msg: str | None) -> HuaweiError:
    if not 400 <= status <= 599:
        raise InvalidInput(machine, "status", f"{status} is not an error status")
    return HuaweiError(status, error_code, error_msg)
