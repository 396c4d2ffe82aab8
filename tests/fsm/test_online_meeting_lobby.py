"""The online meeting join's documented scenarios: waiting in the lobby, admitted, rejected, the
meeting ended, the lobby deadline, and the cancel race.

Expected values come from seed 003 and docs/protocol.md §3.
"""

from __future__ import annotations

import copy

import pytest
from online_meeting_reference import CANCEL, JOIN_HREF, MEETING, OMI, S, joined_lobby, representation

from fsm.actions import PostLink
from fsm.errors import InvalidInput, InvalidTrigger, LinkMissing, NotDue
from fsm.online_meeting import (
    OnlineMeetingJoin,
)
from fsm.reasons import Reason, ReasonResource
from fsm.wire import Link, Representation

# -- documented scenarios ---------------------------------------------------------------


def test_join_wait_in_lobby_then_admitted() -> None:
    join = joined_lobby()
    # the OMI itself still says Connecting while we wait (seed 003)
    join.updated(now=5.0, href=OMI, representation=representation(True))
    assert join.state is S.IN_LOBBY
    join.roster_added(now=9.0, href="/conversations/7/participants/me")
    assert join.state is S.ADMITTED
    assert join.participant_href == "/conversations/7/participants/me"
    join.conversation_updated(now=9.1, state="Conferenced")
    assert join.state is S.ADMITTED
    assert join.completed(now=9.2, status="Success", representation=representation(True, state="Connected")) == ()
    assert join.state is S.CONNECTED
    assert join.outcome is not None
    assert join.outcome.success
    assert join.conversation_state == "Conferenced"


def test_completed_before_roster_add_also_connects() -> None:
    join = joined_lobby()
    join.completed(now=9.0, status="Success")
    join.roster_added(now=9.1)
    assert join.state is S.CONNECTED
    assert join.history[-1].source is S.CONNECTED  # recorded, absorbed


def test_participant_in_lobby_flag_is_a_lobby_signal_and_false_does_not_admit() -> None:
    join = OnlineMeetingJoin()
    join.send(now=0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING)
    join.started(now=1, href=OMI, representation=representation(True))
    join.participant_updated(now=2, in_lobby=True)
    assert join.state is S.IN_LOBBY
    join.participant_updated(now=3, in_lobby=False)
    assert join.state is S.IN_LOBBY  # only the roster add admits
    join.roster_added(now=4)
    join.participant_updated(now=5, in_lobby=True)
    assert join.state is S.ADMITTED  # never demoted


def test_rejected_from_the_lobby_fails_with_the_reason_given() -> None:
    join = joined_lobby()
    reason = Reason("Forbidden", "Denied", "lobby participant was denied")
    join.completed(now=20.0, status="Failure", reason=reason)
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert not join.outcome.success
    assert join.outcome.reason == reason
    assert join.is_terminal


def test_meeting_ended_while_in_the_lobby() -> None:
    join = joined_lobby()
    join.completed(now=30.0, status="Failure", reason=Reason("Informational", "Ended"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason == Reason("Informational", "Ended")
    # Informational/Ended is documented for the onlineMeetingInvitation only (docs/protocol.md §5.1)
    assert join.outcome.reason.documented_for(ReasonResource.ONLINE_MEETING)
    assert not join.outcome.reason.documented_for(ReasonResource.MESSAGING)


def test_a_joiner_is_never_declined() -> None:
    join = joined_lobby()
    join.completed(now=3.0, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason == Reason("RemoteFailure", "Declined")


def test_lobby_timeout_leaves_the_lobby_and_fails_with_local_timeout() -> None:
    join = joined_lobby(deadline=60.0)
    before = copy.deepcopy(join)
    with pytest.raises(NotDue):
        join.lobby_timeout(now=59.9)
    assert join == before
    assert not join.lobby_timeout_due(59.9)
    assert join.lobby_timeout_due(60.0)
    assert join.lobby_timeout(now=60.0) == (PostLink(CANCEL.rel, CANCEL.href),)
    assert join.state is S.CANCELLING
    assert join.request_succeeded(now=60.2) == ()  # the 204 is kept; completed decides
    assert join.state is S.CANCEL_ANSWERED
    join.completed(now=61.0, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason is not None
    assert (join.outcome.reason.code, join.outcome.reason.subcode) == ("LocalFailure", "Timeout")
    assert "LocalFailure/Canceled" in (join.outcome.reason.message or "")


def test_lobby_timeout_without_cancel_link_gives_up_locally() -> None:
    join = joined_lobby(cancel_link=False, deadline=10.0)
    assert join.lobby_timeout(now=10.0) == ()
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason is not None
    assert (join.outcome.reason.code, join.outcome.reason.subcode) == ("LocalFailure", "Timeout")
    join.completed(now=11.0, status="Success")  # too late: recorded, changes nothing
    assert join.state is S.FAILED
    assert not join.outcome.success


def test_lobby_timeout_needs_a_deadline_and_a_waiting_state() -> None:
    join = joined_lobby()
    with pytest.raises(NotDue, match="no lobby deadline"):
        join.lobby_timeout(now=1e9)
    join.set_lobby_deadline(5.0)
    join.roster_added(now=6.0)
    with pytest.raises(InvalidTrigger) as info:
        join.lobby_timeout(now=6.0)
    assert type(info.value) is InvalidTrigger
    with pytest.raises(InvalidInput):
        join.set_lobby_deadline(float("nan"))


def test_refused_cancel_after_timeout_returns_to_the_lobby_and_may_time_out_again() -> None:
    join = joined_lobby(deadline=10.0)
    join.lobby_timeout(now=10.0)
    join.request_failed(now=10.1, reason=Reason("ServiceFailure", "CallbackChannelError"))
    assert join.state is S.IN_LOBBY
    assert not join.timed_out
    assert join.outcome is None
    assert join.lobby_timeout(now=11.0) == (PostLink(CANCEL.rel, CANCEL.href),)


TERMINATE = Link("ms:rtc:saas:cancel", "/conversations/7/audioVideo/terminate")


def test_cancel_race_admitted_before_the_cancel_took_effect() -> None:
    # the Success overtakes the cancel's 204: the hang-up waits for it (both POST the cancel link)
    join = joined_lobby()
    assert join.cancel(now=5.0) == (PostLink(CANCEL.rel, CANCEL.href),)
    actions = join.completed(
        now=5.1, status="Success", representation=Representation(state="Connected", links=[TERMINATE])
    )
    assert actions == ()
    assert join.state is S.CANCEL_CROSSED
    assert join.outcome is not None
    assert join.outcome.success
    assert join.request_succeeded(now=5.2) == (PostLink(TERMINATE.rel, TERMINATE.href),)  # the cancel's 204
    assert join.state is S.HANGING_UP
    join.request_succeeded(now=5.3)  # the hang-up's
    assert join.state is S.HUNG_UP
    assert join.is_terminal
    assert join.outcome.success  # it did connect, then we left


def test_cancel_race_hang_up_refused_after_the_late_204_stays_connected() -> None:
    join = joined_lobby()
    join.cancel(now=5.0)
    join.completed(now=5.1, status="Success", representation=Representation(state="Connected", links=[TERMINATE]))
    join.request_succeeded(now=5.2)
    join.request_failed(now=5.3, reason=Reason("ServiceFailure", "None"))
    assert join.state is S.CONNECTED  # not hung_up: we are still in the meeting
    assert join.outcome is not None
    assert join.outcome.success


def test_cancel_race_the_cancel_refused_once_admitted_still_hangs_up() -> None:
    join = joined_lobby()
    join.cancel(now=5.0)
    join.roster_added(now=5.05)  # taken in: while the cancel is in flight the stage still climbs
    assert join.stage is S.ADMITTED
    join.completed(now=5.1, status="Success", representation=Representation(state="Connected", links=[TERMINATE]))
    join.roster_added(now=5.15)  # once crossed, events are absorbed
    assert join.history[-1].source is join.history[-1].dest is S.CANCEL_CROSSED
    actions = join.request_failed(now=5.2, reason=Reason("Conflict", "None"))
    assert actions == (PostLink(TERMINATE.rel, TERMINATE.href),)
    assert join.state is S.HANGING_UP
    join.request_succeeded(now=5.3)
    assert join.state is S.HUNG_UP


def test_cancel_204_first_then_admitted_hangs_up_at_once() -> None:
    join = joined_lobby()
    join.cancel(now=5.0)
    join.request_succeeded(now=5.05)
    assert join.state is S.CANCEL_ANSWERED
    join.roster_added(now=5.06)
    assert (join.state, join.stage) == (S.CANCEL_ANSWERED, S.ADMITTED)
    actions = join.completed(
        now=5.1, status="Success", representation=Representation(state="Connected", links=[TERMINATE])
    )
    assert actions == (PostLink(TERMINATE.rel, TERMINATE.href),)
    assert join.state is S.HANGING_UP
    with pytest.raises(InvalidTrigger):
        join.cancel(now=5.2)  # the hang-up is on its way


def test_cancel_race_without_a_link_in_completed_posts_the_cancel_link_used() -> None:
    crossed = joined_lobby()
    crossed.cancel(now=5.0)
    assert crossed.completed(now=5.1, status="Success", representation=representation(False, state="Connected")) == ()
    assert crossed.request_succeeded(now=5.2) == (PostLink(CANCEL.rel, CANCEL.href),)
    assert crossed.state is S.HANGING_UP
    answered = joined_lobby()
    answered.cancel(now=5.0)
    answered.request_succeeded(now=5.05)
    assert answered.completed(now=5.1, status="Success", representation=representation(False, state="Connected")) == (
        PostLink(CANCEL.rel, CANCEL.href),
    )
    assert answered.state is S.HANGING_UP


def test_cancel_204_then_canceled_or_timed_out() -> None:
    left = joined_lobby()
    left.cancel(now=5.0)
    left.request_succeeded(now=5.05)
    left.completed(now=5.5, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert left.state is S.CANCELLED
    timed_out = joined_lobby(deadline=5.0)
    timed_out.lobby_timeout(now=5.0)
    timed_out.request_succeeded(now=5.05)
    with pytest.raises(InvalidTrigger):
        timed_out.request_succeeded(now=5.06)  # nothing of ours is in flight any more
    timed_out.completed(now=5.5, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    assert timed_out.state is S.FAILED
    assert timed_out.outcome is not None
    assert timed_out.outcome.reason is not None
    assert (timed_out.outcome.reason.code, timed_out.outcome.reason.subcode) == ("LocalFailure", "Timeout")


def test_cancel_in_the_lobby_then_cancelled() -> None:
    join = joined_lobby()
    join.cancel(now=5.0)
    join.completed(now=5.5, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert join.state is S.CANCELLED
    assert join.outcome is not None
    assert join.outcome.reason == Reason("LocalFailure", "Canceled")


def test_cancel_needs_the_link() -> None:
    join = joined_lobby(cancel_link=False)
    before = copy.deepcopy(join)
    with pytest.raises(LinkMissing):
        join.cancel(now=2.0)
    assert join == before


def test_started_before_the_201_and_completed_without_started() -> None:
    first = OnlineMeetingJoin()
    first.send(now=0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING)
    first.started(now=0.1, href=OMI, representation=representation(True))
    first.created(now=0.2, href=OMI)
    assert first.state is S.CONNECTING
    assert first.href == OMI

    second = OnlineMeetingJoin()
    second.send(now=0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING)
    second.created(now=0.1, href=OMI)
    second.completed(now=0.2, status="Success")
    assert second.state is S.CONNECTED


def test_in_lobby_before_the_201() -> None:
    join = OnlineMeetingJoin()
    join.send(now=0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING)
    join.conversation_updated(now=0.1, state="InLobby")
    assert join.state is S.IN_LOBBY
    join.created(now=0.2, href=OMI)
    assert join.state is S.IN_LOBBY
    assert join.href == OMI
