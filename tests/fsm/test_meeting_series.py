"""The meeting_series machine: a Huawei Cloud Meeting recurring series.

Expected values come from seed 004 (DELETE cycleconferences, ``type=1``,
200/401/403/500) and docs/protocol.md §7 (conferenceState Schedule/Created,
sub-meeting cancel by UUIDs, the error body). The expected table below is
written by hand from those facts and the module's documented design, not
derived from fsm/meeting_series.py's TABLE.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fsm import DeleteSeries, DeleteSubMeetings, InvalidInput, InvalidTrigger
from fsm.actions import Actions
from fsm.meeting_series import HuaweiError, MeetingSeries, MeetingSeriesState, MeetingSeriesTrigger
from fsm.snapshot import dumps, loads

S = MeetingSeriesState
T = MeetingSeriesTrigger

CONF = "984697426"  # seed 004's example conferenceID
SUB = "sub-1"
TERMINAL = {S.CANCELLED, S.ENDED}
# docs/protocol.md §7.3, kept exactly as Huawei wrote them
ERROR_CODE, ERROR_MSG = "MMC.111072065", "CONF_NOT_FOUND_OR_AUTH_FAILED"

Fire = Callable[[MeetingSeries], Actions]


def seen(value: str) -> Fire:
    return lambda m: m.conference_state_observed(now=5.0, conference_state=value)


CASES: dict[str, tuple[T, Fire]] = {
    "cancel": (T.CANCEL, lambda m: m.cancel(now=5.0)),
    "cancel_type1": (T.CANCEL, lambda m: m.cancel(now=5.0, cancel_ongoing=True)),
    "cancel_sub": (T.CANCEL_SUB_MEETINGS, lambda m: m.cancel_sub_meetings(now=5.0, ids=["sub-2"])),
    "seen_schedule": (T.CONFERENCE_STATE_OBSERVED, seen("Schedule")),
    "seen_creating": (T.CONFERENCE_STATE_OBSERVED, seen("Creating")),
    "seen_created": (T.CONFERENCE_STATE_OBSERVED, seen("Created")),
    "seen_destroyed": (T.CONFERENCE_STATE_OBSERVED, seen("Destroyed")),
    "seen_unknown": (T.CONFERENCE_STATE_OBSERVED, seen("Paused")),
    "cancel_ok": (T.CANCEL_SUCCEEDED, lambda m: m.cancel_succeeded(now=5.0)),
    "cancel_401": (T.CANCEL_FAILED, lambda m: m.cancel_failed(now=5.0, status=401, error_code=ERROR_CODE)),
    "sub_ok": (T.SUB_CANCEL_SUCCEEDED, lambda m: m.sub_cancel_succeeded(now=5.0, ids=[SUB])),
    "sub_500": (T.SUB_CANCEL_FAILED, lambda m: m.sub_cancel_failed(now=5.0, ids=[SUB], status=500)),
    "ended": (T.ENDED, lambda m: m.ended(now=5.0)),
}

_REMOTE = ("seen_schedule", "seen_creating", "seen_created", "seen_destroyed", "seen_unknown", "cancel_ok")
_REMOTE += ("cancel_401", "sub_ok", "sub_500", "ended")

#: (state, case) -> where the series lands; a pair not listed must be refused.
EXPECTED: dict[tuple[S, str], S] = {
    (S.SCHEDULED, "cancel"): S.CANCELLING,
    (S.SCHEDULED, "cancel_type1"): S.CANCELLING,
    (S.SCHEDULED, "cancel_sub"): S.SCHEDULED,
    (S.SCHEDULED, "seen_schedule"): S.SCHEDULED,
    (S.SCHEDULED, "seen_creating"): S.SCHEDULED,
    (S.SCHEDULED, "seen_created"): S.HELD,
    (S.SCHEDULED, "seen_destroyed"): S.ENDED,
    (S.SCHEDULED, "seen_unknown"): S.SCHEDULED,
    (S.SCHEDULED, "sub_ok"): S.SCHEDULED,
    (S.SCHEDULED, "sub_500"): S.SCHEDULED,
    (S.SCHEDULED, "ended"): S.ENDED,
    # held: a plain cancel is refused (seed 004), type=1 goes; held is sticky
    (S.HELD, "cancel_type1"): S.CANCELLING,
    (S.HELD, "cancel_sub"): S.HELD,
    (S.HELD, "seen_schedule"): S.HELD,
    (S.HELD, "seen_creating"): S.HELD,
    (S.HELD, "seen_created"): S.HELD,
    (S.HELD, "seen_destroyed"): S.ENDED,
    (S.HELD, "seen_unknown"): S.HELD,
    (S.HELD, "sub_ok"): S.HELD,
    (S.HELD, "sub_500"): S.HELD,
    (S.HELD, "ended"): S.ENDED,
    # cancelling (reached from scheduled): the response decides
    (S.CANCELLING, "cancel_ok"): S.CANCELLED,
    (S.CANCELLING, "cancel_401"): S.SCHEDULED,
    (S.CANCELLING, "seen_schedule"): S.CANCELLING,
    (S.CANCELLING, "seen_creating"): S.CANCELLING,
    (S.CANCELLING, "seen_created"): S.CANCELLING,
    (S.CANCELLING, "seen_destroyed"): S.CANCELLING,
    (S.CANCELLING, "seen_unknown"): S.CANCELLING,
    (S.CANCELLING, "sub_ok"): S.CANCELLING,
    (S.CANCELLING, "sub_500"): S.CANCELLING,
    (S.CANCELLING, "ended"): S.ENDED,
    # ended or cancelled: every remote event is recorded and changes nothing
    **{(end, case): end for end in TERMINAL for case in _REMOTE},
}


def reach(state: S) -> MeetingSeries:
    """A series in ``state`` with sub-meeting ``SUB`` pending, through public triggers only."""
    m = MeetingSeries(conference_id=CONF)
    m.cancel_sub_meetings(now=0.0, ids=[SUB])
    paths: dict[S, list[Callable[[], object]]] = {
        S.SCHEDULED: [],
        S.HELD: [lambda: m.conference_state_observed(now=1.0, conference_state="Created")],
        S.CANCELLING: [lambda: m.cancel(now=1.0)],
        S.CANCELLED: [lambda: m.cancel(now=1.0), lambda: m.cancel_succeeded(now=2.0)],
        S.ENDED: [lambda: m.ended(now=1.0)],
    }
    for step in paths[state]:
        step()
    assert m.state is state
    return m


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("state", list(S), ids=lambda s: s.value)
def test_every_state_and_trigger(state: S, case: str) -> None:
    trigger, fire = CASES[case]
    model = reach(state)
    before = copy.deepcopy(model)
    expected = EXPECTED.get((state, case))
    if expected is None:
        with pytest.raises(InvalidTrigger) as info:
            fire(model)
        assert info.value.machine == "meeting_series"
        assert info.value.state is state
        assert info.value.trigger is trigger
        assert model == before
        return
    fire(model)
    assert model.state is expected
    assert len(model.history) == len(before.history) + 1
    step = model.history[-1]
    assert (step.source, step.trigger, step.dest) == (state, trigger, expected)
    if state in TERMINAL:
        # absorbed: only the history changed
        before.history.append(step)
        assert model == before


def test_every_trigger_has_a_case() -> None:
    assert {trigger for trigger, _ in CASES.values()} == set(T)


# -- documented scenarios --------------------------------------------------------------------


def test_cancel_a_scheduled_series() -> None:
    m = MeetingSeries(conference_id=CONF)
    assert m.state is S.SCHEDULED
    # seed 004: DELETE /v1/mmc/management/cycleconferences?conferenceID=984697426 (no type)
    assert m.cancel(now=1.0) == (DeleteSeries(CONF, cancel_ongoing=False),)
    assert m.state is S.CANCELLING
    m.cancel_succeeded(now=2.0)  # 200, no response parameters
    assert m.state is S.CANCELLED
    assert m.is_terminal


def test_held_series_cannot_be_cancelled_without_type_1() -> None:
    m = MeetingSeries(conference_id=CONF)
    m.conference_state_observed(now=1.0, conference_state="Created")  # "Created once held"
    assert m.state is S.HELD
    assert m.held
    before = copy.deepcopy(m)
    with pytest.raises(InvalidTrigger) as info:
        m.cancel(now=2.0)
    assert info.value.state is S.HELD
    assert info.value.trigger is T.CANCEL
    assert "type=1" in info.value.why
    assert m == before


def test_held_series_is_cancelled_with_type_1() -> None:
    m = reach(S.HELD)
    assert m.cancel(now=2.0, cancel_ongoing=True) == (DeleteSeries(CONF, cancel_ongoing=True),)
    m.cancel_succeeded(now=3.0)
    assert m.state is S.CANCELLED


@pytest.mark.parametrize("status", [401, 403, 500])
@pytest.mark.parametrize("held", [False, True])
def test_refused_cancel_keeps_the_state_and_the_error_and_allows_a_retry(status: int, held: bool) -> None:
    m = MeetingSeries(conference_id=CONF)
    if held:
        m.conference_state_observed(now=0.5, conference_state="Created")
    origin = m.state
    m.cancel(now=1.0, cancel_ongoing=held)
    m.cancel_failed(now=2.0, status=status, error_code=ERROR_CODE, error_msg=ERROR_MSG)
    assert m.state is origin
    assert m.last_error == HuaweiError(status, "MMC.111072065", "CONF_NOT_FOUND_OR_AUTH_FAILED")
    assert m.last_error.token_rejected is (status == 401)
    assert m.history[-1].reason is not None
    assert str(status) in m.history[-1].reason
    # retry, e.g. with a fresh token
    assert m.cancel(now=3.0, cancel_ongoing=held) == (DeleteSeries(CONF, cancel_ongoing=held),)
    m.cancel_succeeded(now=4.0)
    assert m.state is S.CANCELLED
    assert m.last_error is None


def test_series_held_while_the_cancel_was_in_flight_returns_to_held() -> None:
    m = MeetingSeries(conference_id=CONF)
    m.cancel(now=1.0)
    m.conference_state_observed(now=1.5, conference_state="Created")
    assert m.state is S.CANCELLING
    m.cancel_failed(now=2.0, status=403)
    assert m.state is S.HELD
    with pytest.raises(InvalidTrigger):
        m.cancel(now=3.0)


def test_a_403_that_means_held_moves_the_series_to_held_and_the_next_plain_cancel_is_refused_locally() -> None:
    # seed 004: "By default, a meeting that has been held cannot be canceled"; the app learned that
    # this 403 is that refusal (the series was held), so it must not send the same DELETE again
    m = MeetingSeries(conference_id=CONF)
    (sent,) = m.cancel(now=1.0)
    assert sent == DeleteSeries(CONF, cancel_ongoing=False)
    m.cancel_failed(now=2.0, status=403, error_code="MMC.X", error_msg="held", held=True)
    assert m.state is S.HELD
    assert m.held
    assert m.last_error == HuaweiError(403, "MMC.X", "held")
    with pytest.raises(InvalidTrigger, match="type=1"):
        m.cancel(now=3.0)
    assert m.state is S.HELD  # refused locally: nothing to send, nothing moved
    assert m.cancel(now=4.0, cancel_ongoing=True) == (DeleteSeries(CONF, cancel_ongoing=True),)


@pytest.mark.parametrize("status", [401, 500])
def test_only_a_403_can_mean_held(status: int) -> None:
    # 401 is the token and 500 the server (seed 004's table): neither says anything about the series
    m = reach(S.CANCELLING)
    before = copy.deepcopy(m)
    with pytest.raises(InvalidInput, match="403"):
        m.cancel_failed(now=2.0, status=status, held=True)
    assert m == before


@pytest.mark.parametrize("status", [200, 204, 302, 0, 600])
def test_cancel_failed_needs_an_error_status(status: int) -> None:
    m = reach(S.CANCELLING)
    before = copy.deepcopy(m)
    with pytest.raises(InvalidInput):
        m.cancel_failed(now=2.0, status=status)
    assert m == before


def test_sub_meetings_cancelled_by_ids() -> None:
    m = MeetingSeries(conference_id=CONF)
    actions = m.cancel_sub_meetings(now=1.0, ids=["a1", "b2", "a1"])
    # docs/protocol.md §7.1: DELETE cyclesubconf with {"cycleSubConfIDs": [...]}; the series stays scheduled
    assert actions == (DeleteSubMeetings(CONF, ("a1", "b2")),)
    assert m.state is S.SCHEDULED
    assert m.pending_sub_meetings == ("a1", "b2")
    m.sub_cancel_succeeded(now=2.0, ids=["a1", "b2"])
    assert m.cancelled_sub_meetings == ("a1", "b2")
    assert m.pending_sub_meetings == ()
    assert m.state is S.SCHEDULED


def test_sub_meeting_cancel_refused_keeps_the_error() -> None:
    m = reach(S.HELD)
    m.cancel_sub_meetings(now=2.0, ids=["c3"], cancel_ongoing=True)
    m.sub_cancel_failed(now=3.0, ids=["c3"], status=401, error_code=ERROR_CODE, error_msg=ERROR_MSG)
    assert m.state is S.HELD
    assert m.last_error == HuaweiError(401, ERROR_CODE, ERROR_MSG)
    assert "c3" not in m.pending_sub_meetings
    assert "c3" not in m.cancelled_sub_meetings


@pytest.mark.parametrize("ids", [[], [""], "sub-1"])
def test_sub_meeting_ids_must_be_a_non_empty_list(ids: list[str] | str) -> None:
    m = MeetingSeries(conference_id=CONF)
    with pytest.raises(InvalidInput):
        m.cancel_sub_meetings(now=1.0, ids=ids)
    assert m == MeetingSeries(conference_id=CONF)


def test_sub_meeting_response_must_match_a_pending_request() -> None:
    m = reach(S.SCHEDULED)
    before = copy.deepcopy(m)
    with pytest.raises(InvalidInput):
        m.sub_cancel_succeeded(now=2.0, ids=["never-sent"])
    assert m == before


def test_conference_state_is_read_ignoring_case() -> None:
    m = MeetingSeries(conference_id=CONF)
    m.conference_state_observed(now=1.0, conference_state="created")
    assert m.state is S.HELD


def test_conference_id_is_required() -> None:
    with pytest.raises(ValueError, match="conference_id"):
        MeetingSeries(conference_id="")


def test_snapshot_round_trip() -> None:
    m = reach(S.HELD)
    m.cancel(now=2.0, cancel_ongoing=True)
    m.cancel_failed(now=3.0, status=401, error_code=ERROR_CODE, error_msg=ERROR_MSG)
    m.sub_cancel_succeeded(now=4.0, ids=[SUB])
    back = loads(dumps(m))
    assert isinstance(back, MeetingSeries)
    assert back == m
    assert back.cancelled_sub_meetings == (SUB,)


# -- stateful model test ---------------------------------------------------------------------

SUB_IDS = ["s1", "s2", "s3"]
conference_states = st.sampled_from(["Schedule", "Created", "created", "Creating", "Destroyed", "Paused"])
statuses = st.sampled_from([401, 403, 500, 400])
id_lists = st.lists(st.sampled_from(SUB_IDS), max_size=3)


class Reference:
    """The expected behaviour as plain data."""

    def __init__(self) -> None:
        self.state = S.SCHEDULED
        self.held = False
        self.pending: set[str] = set()
        self.cancelled: set[str] = set()
        self.error: tuple[int, str | None] | None = None

    def observe(self, value: str) -> S:
        lowered = value.lower()
        if self.state in TERMINAL:
            return self.state
        if lowered == "created":
            self.held = True
        if self.state is S.CANCELLING:
            return self.state
        if lowered == "destroyed":
            return S.ENDED
        return S.HELD if self.held else S.SCHEDULED


class MeetingSeriesMachine(RuleBasedStateMachine):
    @initialize(start=st.sampled_from([S.SCHEDULED, S.HELD, S.CANCELLING]))
    def start(self, start: S) -> None:
        self.model = MeetingSeries(conference_id=CONF)
        self.ref = Reference()
        if start is not S.SCHEDULED:
            self.model.conference_state_observed(now=0.0, conference_state="Created")
            self.ref.state, self.ref.held = S.HELD, True
        if start is S.CANCELLING:
            self.model.cancel(now=0.0, cancel_ongoing=True)
            self.ref.state = S.CANCELLING
        self.now = 1.0
        self.ended_in: S | None = None

    def refused(self, fire: Callable[[], object], error: type[Exception]) -> None:
        before = copy.deepcopy(self.model)
        with pytest.raises(error):
            fire()
        assert self.model == before

    def move(self, dest: S) -> None:
        if self.ref.state not in TERMINAL:
            self.ref.state = dest

    @rule(cancel_ongoing=st.booleans())
    def cancel(self, cancel_ongoing: bool) -> None:
        self.now += 1.0
        fire = partial(self.model.cancel, now=self.now, cancel_ongoing=cancel_ongoing)
        allowed = self.ref.state is S.SCHEDULED or (self.ref.state is S.HELD and cancel_ongoing)
        if not allowed:
            self.refused(fire, InvalidTrigger)
            return
        actions = fire()
        # the "link" of this API: type=1 is never left out once the series has been held
        assert actions == (DeleteSeries(CONF, cancel_ongoing),)
        self.move(S.CANCELLING)

    @rule(ids=id_lists, cancel_ongoing=st.booleans())
    def cancel_sub_meetings(self, ids: list[str], cancel_ongoing: bool) -> None:
        self.now += 1.0
        fire = partial(self.model.cancel_sub_meetings, now=self.now, ids=ids, cancel_ongoing=cancel_ongoing)
        if self.ref.state not in (S.SCHEDULED, S.HELD):
            self.refused(fire, InvalidTrigger)
            return
        if not ids:
            self.refused(fire, InvalidInput)
            return
        (action,) = fire()
        assert isinstance(action, DeleteSubMeetings)
        assert set(action.sub_meeting_ids) == set(ids)
        assert len(action.sub_meeting_ids) == len(set(ids))
        self.ref.pending |= set(ids)

    @rule(value=conference_states)
    def conference_state_observed(self, value: str) -> None:
        self.now += 1.0
        self.model.conference_state_observed(now=self.now, conference_state=value)
        self.move(self.ref.observe(value))

    @rule()
    def cancel_succeeded(self) -> None:
        self.now += 1.0
        if self.ref.state not in (S.CANCELLING, *TERMINAL):
            self.refused(partial(self.model.cancel_succeeded, now=self.now), InvalidTrigger)
            return
        self.model.cancel_succeeded(now=self.now)
        if self.ref.state is S.CANCELLING:
            self.ref.error = None
        self.move(S.CANCELLED)

    @rule(status=statuses)
    def cancel_failed(self, status: int) -> None:
        self.now += 1.0
        fire = partial(self.model.cancel_failed, now=self.now, status=status, error_code=ERROR_CODE)
        if self.ref.state not in (S.CANCELLING, *TERMINAL):
            self.refused(fire, InvalidTrigger)
            return
        fire()
        if self.ref.state is S.CANCELLING:
            self.ref.error = (status, ERROR_CODE)
        self.move(S.HELD if self.ref.held else S.SCHEDULED)

    @rule(ids=id_lists)
    def sub_cancel_succeeded(self, ids: list[str]) -> None:
        self.now += 1.0
        fire = partial(self.model.sub_cancel_succeeded, now=self.now, ids=ids)
        if self.ref.state not in TERMINAL and (not ids or not set(ids) <= self.ref.pending):
            self.refused(fire, InvalidInput)
            return
        fire()
        if self.ref.state not in TERMINAL:
            self.ref.pending -= set(ids)
            self.ref.cancelled |= set(ids)
            self.ref.error = None

    @rule(ids=id_lists, status=statuses)
    def sub_cancel_failed(self, ids: list[str], status: int) -> None:
        self.now += 1.0
        fire = partial(self.model.sub_cancel_failed, now=self.now, ids=ids, status=status)
        if self.ref.state not in TERMINAL and (not ids or not set(ids) <= self.ref.pending):
            self.refused(fire, InvalidInput)
            return
        fire()
        if self.ref.state not in TERMINAL:
            self.ref.pending -= set(ids)
            self.ref.error = (status, None)

    @rule()
    def ended(self) -> None:
        self.now += 1.0
        self.model.ended(now=self.now)
        self.move(S.ENDED)

    # -- invariants

    @invariant()
    def agrees_with_reference(self) -> None:
        note(f"state {self.model.state.value}, held {self.model.held}, pending {self.model.pending_sub_meetings}")
        assert self.model.state is self.ref.state
        assert self.model.held is self.ref.held
        assert set(self.model.pending_sub_meetings) == self.ref.pending
        assert set(self.model.cancelled_sub_meetings) == self.ref.cancelled
        error = self.model.last_error
        assert (None if error is None else (error.status, error.error_code)) == self.ref.error

    @invariant()
    def held_state_matches_the_flag(self) -> None:
        if self.model.state is S.HELD:
            assert self.model.held
        if self.model.state is S.SCHEDULED:
            assert not self.model.held

    @invariant()
    def at_most_one_terminal_outcome(self) -> None:
        entries = [s for s in self.model.history if s.source not in TERMINAL and s.dest in TERMINAL]
        assert len(entries) <= 1

    @invariant()
    def a_failure_always_has_its_reason(self) -> None:
        for step in self.model.history:
            if step.trigger in (T.CANCEL_FAILED, T.SUB_CANCEL_FAILED):
                assert step.reason

    @invariant()
    def nothing_leaves_a_terminal_state(self) -> None:
        if self.ended_in is not None:
            assert self.model.state is self.ended_in
        elif self.model.state in TERMINAL:
            self.ended_in = self.model.state


TestMeetingSeriesStateful = MeetingSeriesMachine.TestCase
TestMeetingSeriesStateful.settings = settings(
    settings.default, max_examples=max(200, settings.default.max_examples), stateful_step_count=20
)
