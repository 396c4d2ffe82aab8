"""The online meeting join and the rest of the wire: an OMI updated to a final state (the current
UCWA docs list no completed for it), events without their resource, the join POST and its
properties, late events, and snapshots.

Expected values come from seed 003 and docs/protocol.md §2.3 and §3.
"""

from __future__ import annotations

from typing import Any

import pytest
from online_meeting_reference import JOIN_HREF, MEETING, OMI, SETUPS, Ev, S, call, drive, joined_lobby, representation

from fsm.actions import FetchResource, StartOperation
from fsm.errors import InvalidInput
from fsm.online_meeting import (
    OnlineMeetingJoin,
    OnlineMeetingState,
)
from fsm.reasons import Reason
from fsm.snapshot import dumps, loads, restore, snapshot

# -- an OMI updated to a final state: the current UCWA docs list no completed (docs/protocol.md §2.3) -------


@pytest.mark.parametrize(
    ("final", "expected", "success"),
    [
        ("Connected", S.CONNECTED, True),
        ("Cancelled", S.CANCELLED, False),
        ("Failed", S.FAILED, False),
        ("Declined", S.FAILED, False),  # a joiner is never declined
    ],
)
def test_an_omi_updated_to_a_final_state_ends_the_join(final: str, expected: OnlineMeetingState, success: bool) -> None:
    join = joined_lobby()
    assert join.updated(now=5.0, href=OMI, representation=representation(True, state=final)) == ()
    assert join.state is expected
    assert join.outcome is not None
    assert join.outcome.success is success
    assert join.outcome.status is None
    if not success:
        assert join.outcome.reason is not None
        assert join.outcome.reason.code is None


def test_a_later_completed_fills_in_the_join_outcome_when_it_agrees() -> None:
    join = joined_lobby()
    join.updated(now=5.0, href=OMI, representation=representation(False, state="Failed"))
    join.completed(now=6.0, status="Success")  # disagrees: ignored
    assert join.outcome is not None
    assert join.outcome.status is None
    join.completed(now=7.0, status="Failure", reason=Reason("Informational", "Ended"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.status == "Failure"
    assert join.outcome.reason == Reason("Informational", "Ended")


def test_a_join_ended_by_updated_is_final_after_the_grace_or_its_completed() -> None:
    # the grace chosen in fsm/outcome.py: 10 s of the caller's clock
    join = joined_lobby()
    join.updated(now=5.0, href=OMI, representation=representation(False, state="Cancelled"))
    assert not join.outcome_is_final(14.9)
    assert join.outcome_is_final(15.0)
    other = joined_lobby()
    other.updated(now=5.0, href=OMI, representation=representation(False, state="Cancelled"))
    other.completed(now=6.0, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert other.outcome_is_final(6.0)


def test_an_omi_updated_to_a_final_state_after_the_lobby_deadline_is_the_timeout() -> None:
    join = joined_lobby(deadline=10.0)
    join.lobby_timeout(now=10.0)
    join.updated(now=11.0, href=OMI, representation=representation(True, state="Cancelled"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason is not None
    assert (join.outcome.reason.code, join.outcome.reason.subcode) == ("LocalFailure", "Timeout")


def test_an_omi_event_without_its_resource_asks_to_read_it() -> None:
    join = joined_lobby()
    reason = "updated carried no resource: its links may have changed"
    assert join.updated(now=5.0, href=OMI) == (FetchResource(OMI, reason),)
    assert join.state is S.IN_LOBBY


def test_join_operation_id_is_optional_and_importance_is_typed() -> None:
    join = OnlineMeetingJoin()
    (action,) = join.send(now=0, href=JOIN_HREF, online_meeting_uri=MEETING, importance="urgent")
    assert isinstance(action, StartOperation)
    assert action.body() == {"onlineMeetingUri": MEETING, "importance": "Urgent"}
    other = OnlineMeetingJoin()
    with pytest.raises(InvalidInput, match="importance"):
        other.send(now=0, href=JOIN_HREF, online_meeting_uri=MEETING, importance="High")
    assert other.state is S.IDLE


def test_undetermined_completion_asks_for_a_get() -> None:
    join = joined_lobby()
    assert join.completed(now=3.0) == (FetchResource(OMI, "completed carried neither status nor state"),)
    assert join.state is S.IN_LOBBY
    assert join.outcome is None


def test_join_post_refused() -> None:
    join = OnlineMeetingJoin()
    join.send(now=0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING)
    join.request_failed(now=0.1, reason=Reason("Forbidden", "InviteesOnly"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason == Reason("Forbidden", "InviteesOnly")


def test_late_events_after_the_end_are_recorded_and_change_nothing() -> None:
    join = joined_lobby()
    join.completed(now=3.0, status="Failure", reason=Reason("Informational", "Ended"))
    outcome = join.outcome
    for ev in (Ev("started", link=True), Ev("request_succeeded"), Ev("roster_added"), Ev("completed")):
        call(join, ev, 4.0)
    assert join.state is S.FAILED
    assert join.outcome == outcome
    assert [step.source for step in join.history[-4:]] == [S.FAILED] * 4


@pytest.mark.parametrize(
    ("prop", "value", "ok"),
    [
        ("subject", "s" * 250, True),
        ("subject", "s" * 251, False),
        ("anonymous_display_name", "n" * 250, True),
        ("anonymous_display_name", "n" * 251, False),
        ("operation_id", "o" * 50, True),
        ("operation_id", "o" * 51, False),
        ("operation_id", "", False),
        ("online_meeting_uri", "", False),
    ],
)
def test_send_checks_property_lengths_before_anything(prop: str, value: str, ok: bool) -> None:
    """Maximum lengths from seed 003 / docs/protocol.md §1.3: subject and anonymousDisplayName 250, operationId 50."""
    join = OnlineMeetingJoin()
    kwargs: dict[str, Any] = {"href": JOIN_HREF, "operation_id": "op-1", "online_meeting_uri": MEETING, prop: value}
    if ok:
        (action,) = join.send(now=0, **kwargs)
        assert isinstance(action, StartOperation)
        assert join.state is S.SENDING
    else:
        with pytest.raises(InvalidInput):
            join.send(now=0, **kwargs)
        assert join == OnlineMeetingJoin()


def test_send_body_names() -> None:
    join = OnlineMeetingJoin()
    (action,) = join.send(
        now=0,
        href=JOIN_HREF,
        operation_id="op-1",
        online_meeting_uri=MEETING,
        subject="Standup",
        anonymous_display_name="Guest",
    )
    assert isinstance(action, StartOperation)
    assert action.body() == {
        "operationId": "op-1",
        "onlineMeetingUri": MEETING,
        "subject": "Standup",
        "anonymousDisplayName": "Guest",
    }


# -- snapshots ------------------------------------------------------------------------


@pytest.mark.parametrize("setup", list(SETUPS))
def test_snapshot_round_trip(setup: str) -> None:
    model, _ = drive(SETUPS[setup])
    assert loads(dumps(model)) == model
    assert restore(snapshot(model)) == model


def test_snapshot_keeps_deadline_timeout_and_history() -> None:
    join = joined_lobby(deadline=42.0)
    join.lobby_timeout(now=43.0)
    data = snapshot(join)
    assert data["machine"] == "online_meeting"
    back = loads(dumps(join))
    assert isinstance(back, OnlineMeetingJoin)
    assert back.lobby_deadline == 42.0
    assert back.timed_out
    assert back.history == join.history
