"""Survivors of ``make mutate`` in the meeting series and the online-meeting join (tests/README.md).

Each refusal must say which machine and which input it refused (fsm/errors.py:
"a log line alone is enough"), and what a join learns from its events must
stick. Wording is not pinned: a test reads the fields an app logs, and at most
checks that ``why`` names the offending value.
"""

from __future__ import annotations

import copy
import math

import pytest

from fsm.actions import FetchResource, PostLink
from fsm.errors import InvalidInput, NotDue
from fsm.meeting_series import MeetingSeries, MeetingSeriesState
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.reasons import Reason
from fsm.snapshot import dumps, loads
from fsm.wire import Link, Representation

CONF = "914083136"
OMI = "/communication/onlineMeetingInvitations/1"
JOIN = "/communication/joinOnlineMeeting"
MEETING = "sip:organizer@contoso.com;gruu;opaque=app:conf:focus:id:ABC"

# -- meeting series (docs/protocol.md §7.1: DELETE cyclesubconf carries a list of sub-meeting IDs) ----------


def _refusal(call: object) -> InvalidInput:
    assert callable(call)
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("ids", [[], [""], ["ok", ""], "sub-1"])
def test_a_refused_sub_meeting_cancel_names_the_series_and_the_field(ids: list[str] | str) -> None:
    series = MeetingSeries(conference_id=CONF)
    error = _refusal(lambda: series.cancel_sub_meetings(now=1.0, ids=ids))
    assert (error.machine, error.field) == ("meeting_series", "cycleSubConfIDs")
    assert isinstance(error.why, str)
    assert error.why
    assert series == MeetingSeries(conference_id=CONF)


def test_a_response_for_an_id_never_sent_names_that_id() -> None:
    series = MeetingSeries(conference_id=CONF)
    series.cancel_sub_meetings(now=1.0, ids=["a1"])
    before = copy.deepcopy(series)
    for answer in (
        lambda: series.sub_cancel_succeeded(now=2.0, ids=["never-sent"]),
        lambda: series.sub_cancel_failed(now=2.0, ids=["never-sent"], status=404),
    ):
        error = _refusal(answer)
        assert (error.machine, error.field) == ("meeting_series", "cycleSubConfIDs")
        assert "never-sent" in error.why  # which input: the app must find the stray ID in its log
    assert series == before


def test_a_response_for_no_id_at_all_is_refused_with_the_field() -> None:
    series = MeetingSeries(conference_id=CONF)
    series.cancel_sub_meetings(now=1.0, ids=["a1"])
    error = _refusal(lambda: series.sub_cancel_succeeded(now=2.0, ids=[]))
    assert (error.machine, error.field) == ("meeting_series", "cycleSubConfIDs")
    assert error.why
    assert series.pending_sub_meetings == ("a1",)


# RFC 9110 §15: 4xx and 5xx are the error classes, so 400 and 599 are errors, 399 and 600 are not
@pytest.mark.parametrize("status", [400, 599])
def test_every_error_status_is_accepted_at_the_edges(status: int) -> None:
    series = MeetingSeries(conference_id=CONF)
    series.cancel(now=1.0)
    series.cancel_failed(now=2.0, status=status)
    assert series.state is MeetingSeriesState.SCHEDULED
    assert series.last_error is not None
    assert series.last_error.status == status
    subs = MeetingSeries(conference_id=CONF)
    subs.cancel_sub_meetings(now=1.0, ids=["a1"])
    subs.sub_cancel_failed(now=2.0, ids=["a1"], status=status)
    assert subs.last_error is not None
    assert subs.last_error.status == status


@pytest.mark.parametrize("status", [200, 399, 600])
def test_a_status_that_is_no_error_is_refused_naming_the_series_and_the_status(status: int) -> None:
    series = MeetingSeries(conference_id=CONF)
    series.cancel(now=1.0)
    error = _refusal(lambda: series.cancel_failed(now=2.0, status=status))
    assert (error.machine, error.field) == ("meeting_series", "status")
    assert str(status) in error.why
    subs = MeetingSeries(conference_id=CONF)
    subs.cancel_sub_meetings(now=1.0, ids=["a1"])
    error = _refusal(lambda: subs.sub_cancel_failed(now=2.0, ids=["a1"], status=status))
    assert (error.machine, error.field) == ("meeting_series", "status")


def test_held_claimed_for_a_status_other_than_403_names_the_field() -> None:
    # seed 004: only a 403 to the series DELETE can mean "held"
    series = MeetingSeries(conference_id=CONF)
    series.cancel(now=1.0)
    error = _refusal(lambda: series.cancel_failed(now=2.0, status=500, held=True))
    assert (error.machine, error.field) == ("meeting_series", "held")
    assert "500" in error.why


# -- online-meeting join (docs/protocol.md §1.5) -----------------------------------------------------------


def _sent(**more: object) -> OnlineMeetingJoin:
    join = OnlineMeetingJoin()
    join.send(now=0.0, href=JOIN, online_meeting_uri=MEETING, **more)  # type: ignore[arg-type]
    return join


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"operation_id": "", "online_meeting_uri": MEETING}, "operationId"),
        ({"online_meeting_uri": ""}, "onlineMeetingUri"),
        ({"online_meeting_uri": MEETING, "importance": "High"}, "importance"),  # §1.1: Normal, Urgent, Emergency
        ({"online_meeting_uri": MEETING, "subject": "s" * 251}, "subject"),  # §1.3: at most 250 characters
        ({"online_meeting_uri": MEETING, "lobby_deadline": math.inf}, "lobby_deadline"),
        ({"online_meeting_uri": MEETING, "lobby_deadline": math.nan}, "lobby_deadline"),
    ],
)
def test_a_refused_join_names_the_machine_and_the_field(arguments: dict[str, object], field: str) -> None:
    join = OnlineMeetingJoin()
    error = _refusal(lambda: join.send(now=0.0, href=JOIN, **arguments))  # type: ignore[arg-type]
    assert (error.machine, error.field) == ("online_meeting", field)
    assert error.why
    assert join == OnlineMeetingJoin()  # refused before anything was decided


def test_a_join_remembers_the_meeting_it_joins_and_its_lobby_deadline() -> None:
    join = _sent(lobby_deadline=30.0)
    assert join.online_meeting_uri == MEETING
    assert join.lobby_deadline == 30.0
    join.set_lobby_deadline(45.0)
    assert join.lobby_deadline == 45.0
    error = _refusal(lambda: join.set_lobby_deadline(math.inf))
    assert (error.machine, error.field) == ("online_meeting", "lobby_deadline")
    assert join.lobby_deadline == 45.0


def test_a_lobby_timeout_before_the_deadline_says_how_far_away_it_is() -> None:
    join = _sent(lobby_deadline=10.0)
    join.created(now=0.1, href=OMI)
    join.started(now=0.2, href=OMI, representation=Representation(state="Connecting", links=[Link("self", OMI)]))
    join.participant_updated(now=0.3, in_lobby=True)
    before = copy.deepcopy(join)
    with pytest.raises(NotDue) as caught:
        join.lobby_timeout(now=4.0)
    assert caught.value.machine == "online_meeting"
    assert "6" in caught.value.why  # 10 - 4: the log tells when it will be due
    assert join == before


def test_a_join_without_an_operation_id_learns_it_from_the_first_event_only() -> None:
    # §1.5: operationId is optional on the POST; the events carry the one the server uses to correlate them
    join = _sent()
    assert join.operation_id is None
    join.started(now=0.2, href=OMI, representation=Representation(state="Connecting", operation_id="op-7"))
    assert join.operation_id == "op-7"
    assert join.href == OMI
    join.updated(now=0.3, href=OMI, representation=Representation(state="Connecting", operation_id="op-8"))
    assert join.operation_id == "op-7"


def test_a_join_keeps_its_own_operation_id_and_the_201_location() -> None:
    # the operationId is ours and the 201's Location names the OMI: no later event rewrites either
    join = _sent(operation_id="op-1")
    join.created(now=0.1, href=OMI)
    join.started(
        now=0.2, href="/communication/onlineMeetingInvitations/other",
        representation=Representation(state="Connecting", operation_id="op-x"),
    )
    assert join.operation_id == "op-1"
    assert join.href == OMI
    join.updated(now=0.3, representation=Representation(state="Connecting"))
    assert join.operation_id == "op-1"
    assert join.href == OMI
    assert join.state is OnlineMeetingState.CONNECTING


# -- the join's lobby deadline and the cancel race (docs/protocol.md §1.5, §2.2) ----------------------------


def _in_lobby_with_cancel() -> OnlineMeetingJoin:
    join = _sent(lobby_deadline=10.0)
    join.created(now=0.1, href=OMI)
    join.started(now=0.2, href=OMI, representation=Representation(state="Connecting", links=[CANCEL]))
    join.participant_updated(now=0.3, in_lobby=True)
    assert join.state is OnlineMeetingState.IN_LOBBY
    (action,) = join.lobby_timeout(now=10.0)  # the deadline passed: leave through the OMI's cancel link
    assert action == PostLink(CANCEL.rel, CANCEL.href)
    return join


CANCEL = Link("cancel", f"{OMI}/cancel")


def test_a_join_that_left_the_lobby_at_its_deadline_ends_as_a_timeout_whatever_the_omi_says() -> None:
    join = _in_lobby_with_cancel()
    join.updated(now=11.0, href=OMI, representation=Representation(state="Failed"))
    assert join.state is OnlineMeetingState.FAILED
    assert join.outcome is not None
    assert join.outcome.success is False
    assert join.outcome.reason is not None
    assert (join.outcome.reason.code, join.outcome.reason.subcode) == ("LocalFailure", "Timeout")
    assert join.outcome.reason.message
    assert "Failed" in join.outcome.reason.message  # what the OMI said is kept for the log


def test_a_timed_out_join_keeps_the_completed_status_and_what_the_server_said() -> None:
    join = _in_lobby_with_cancel()
    join.completed(now=11.0, status="Failure", reason=Reason("Forbidden", "InviteesOnly"))
    assert join.outcome is not None
    assert join.outcome.success is False
    assert join.outcome.status == "Failure"  # §2.2: completed carries Failure
    assert join.outcome.reason is not None
    assert join.outcome.reason.subcode == "Timeout"
    assert join.outcome.reason.message
    assert "InviteesOnly" in join.outcome.reason.message


def test_a_refused_lobby_cancel_leaves_a_join_that_can_time_out_again_and_survives_a_snapshot() -> None:
    join = _in_lobby_with_cancel()
    join.request_failed(now=10.5, reason=Reason("ServiceFailure", "CallbackChannelError"))
    assert join.state is OnlineMeetingState.IN_LOBBY
    assert join.timed_out is False
    assert join.lobby_timeout_due(11.0)
    assert loads(dumps(join)) == join


def test_a_cancel_crossed_by_the_join_hangs_up_with_the_cancel_link_it_used_once_the_cancel_is_answered() -> None:
    # we cancelled while the server connected us: the updated says Connected and carries no links; our cancel
    # is still in flight, so the hang-up waits for its response, then uses the link we cancelled with
    join = _sent()
    join.created(now=0.1, href=OMI)
    join.started(now=0.2, href=OMI, representation=Representation(state="Connecting", links=[CANCEL]))
    join.cancel(now=0.3)
    assert join.updated(now=0.4, href=OMI, representation=Representation(state="Connected")) == ()
    assert join.hang_up_link == CANCEL
    assert join.request_succeeded(now=0.5) == (PostLink(CANCEL.rel, CANCEL.href),)
    assert join.hang_up_link is None


def test_an_event_without_the_resource_makes_the_join_read_its_omi() -> None:
    # the OMI's links gate cancel; an updated that does not carry it may have changed them: GET the OMI
    join = _sent()
    join.created(now=0.1, href=OMI)
    join.started(now=0.2, href=OMI, representation=Representation(state="Connecting", links=[CANCEL]))
    (action,) = join.updated(now=0.3)
    assert isinstance(action, FetchResource)
    assert action.href == OMI
