"""The invitation machine's documented rules for how an invitation ends, one test (or table) per rule.

Completion (status, reason, embedded state), an updated to a final state, when an outcome is
final, events without their resource, the order events arrive in, and late events absorbed once
it has ended. The links that gate local actions, the cancel race, the create POST and snapshots
have their own ``test_invitation_*.py`` files.

Expected values come from docs/protocol.md (§1.1-§1.7, §2.4, §9) and the seeds.
"""

from __future__ import annotations

import pytest
from invitation_builders import INCOMING_AV_LINKS, K, S, incoming, outgoing

from fsm import (
    FetchResource,
    InvalidTrigger,
    Invitation,
    InvitationState,
    Link,
    PostLink,
    Reason,
    Representation,
)

# -- completion ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "subcode", "embedded", "expected"),
    [
        ("Success", None, None, None, S.CONNECTED),
        ("success", None, None, None, S.CONNECTED),  # status matching ignores case
        ("SUCCESS", None, None, None, S.CONNECTED),
        ("Failure", "LocalFailure", "Canceled", None, S.CANCELLED),  # one l on the wire subcode
        ("Failure", "RemoteFailure", "Canceled", None, S.CANCELLED),
        ("Failure", "Informational", "Canceled", None, S.CANCELLED),
        ("Failure", "RemoteFailure", "Declined", None, S.DECLINED),
        ("Failure", "LocalFailure", "Declined", None, S.DECLINED),
        ("failure", "RemoteFailure", "Busy", None, S.FAILED),
        ("Failure", "Timeout", None, None, S.FAILED),
        ("Failure", "ServiceFailure", "SomethingNew", None, S.FAILED),
        (None, None, None, "Connected", S.CONNECTED),  # missing status: embedded state
        (None, None, None, "Failed", S.FAILED),
        ("Success", None, None, "Failed", S.FAILED),  # embedded state wins
        ("Failure", "RemoteFailure", "Declined", "Cancelled", S.CANCELLED),
        ("Pending", None, None, "Declined", S.DECLINED),  # unknown status counts as missing
    ],
)
def test_completion_rules(
    status: str | None, code: str | None, subcode: str | None, embedded: str | None, expected: S
) -> None:
    inv = outgoing()
    reason = None if code is None else Reason(code, subcode, "msg")
    rep = None if embedded is None else Representation(state=embedded)
    inv.completed(now=5.0, status=status, reason=reason, representation=rep)
    assert inv.state is expected
    assert inv.outcome is not None
    assert inv.outcome.success is (expected is S.CONNECTED)
    if not inv.outcome.success:
        assert inv.outcome.reason is not None
        if code is not None:
            assert (inv.outcome.reason.code, inv.outcome.reason.subcode, inv.outcome.reason.message) == (
                code,
                subcode,
                "msg",
            )


def test_failure_without_reason_still_records_one() -> None:
    inv = outgoing()
    inv.completed(now=5.0, status="Failure")
    assert inv.state is S.FAILED
    assert inv.outcome is not None
    assert inv.outcome.reason is not None
    assert inv.outcome.reason.code is None
    assert inv.outcome.reason.undocumented


def test_completed_with_neither_status_nor_state_asks_for_a_get() -> None:
    inv = outgoing()
    actions = inv.completed(now=5.0)
    assert actions == (FetchResource("/inv/9", "completed carried neither status nor state"),)
    assert inv.state is S.CONNECTING
    assert inv.outcome is None
    inv.completed(now=6.0, representation=Representation(state="Connected"))
    assert inv.state is S.CONNECTED


# -- updated to a final state: the current UCWA docs list no completed (docs/protocol.md §2.3) ----------


@pytest.mark.parametrize(
    ("final", "expected", "success"),
    [
        ("Connected", S.CONNECTED, True),
        ("Declined", S.DECLINED, False),
        ("Cancelled", S.CANCELLED, False),
        ("Failed", S.FAILED, False),
        ("failed", S.FAILED, False),  # wire enums are matched ignoring case
    ],
)
def test_an_updated_to_a_final_state_ends_the_invitation_without_status(
    final: str, expected: InvitationState, success: bool
) -> None:
    inv = outgoing()
    inv.updated(now=3.0, representation=Representation(state=final, links=[Link("cancel", "/inv/9/cancel")]))
    assert inv.state is expected
    assert inv.outcome is not None
    assert inv.outcome.success is success
    assert inv.outcome.status is None
    if not success:
        assert inv.outcome.reason is not None
        assert inv.outcome.reason.code is None  # the server has not said why yet


def test_a_later_completed_fills_in_what_an_updated_end_did_not_say() -> None:
    inv = outgoing()
    inv.updated(now=3.0, representation=Representation(state="Declined"))
    inv.completed(now=4.0, status="Failure", reason=Reason("RemoteFailure", "Declined", "busy here"))
    assert inv.state is S.DECLINED
    assert inv.outcome is not None
    assert inv.outcome.status == "Failure"
    assert inv.outcome.reason == Reason("RemoteFailure", "Declined", "busy here")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("Success", None),  # success against a failure
        ("Failure", Reason("RemoteFailure", "Busy")),  # Failed, not Declined: another end
    ],
)
def test_a_later_completed_that_disagrees_changes_nothing(status: str, reason: Reason | None) -> None:
    inv = outgoing()
    inv.updated(now=3.0, representation=Representation(state="Declined"))
    first = inv.outcome
    inv.completed(now=4.0, status=status, reason=reason)
    assert inv.state is S.DECLINED
    assert inv.outcome == first


def test_an_updated_connected_crossing_our_cancel_is_the_cancel_race() -> None:
    inv = outgoing()
    inv.cancel(now=1.0)
    assert inv.updated(now=2.0, representation=Representation(state="Connected")) == ()
    assert inv.state is S.CANCEL_CROSSED
    # the cancel's response comes: now hang up, with the link the cancel used
    assert inv.request_succeeded(now=3.0) == (PostLink("cancel", "/inv/9/cancel"),)


def test_a_request_in_flight_waits_through_an_updated_that_is_not_final() -> None:
    inv = incoming()
    inv.accept(now=2.0)
    inv.updated(now=3.0, representation=Representation(state="Alerting", links=INCOMING_AV_LINKS))
    assert inv.state is S.ACCEPTING


# -- final outcomes (issue 12): provisional while a completed may still say more -----------------------

#: The grace chosen and documented in fsm/outcome.py (FINAL_GRACE): 10 s of the caller's clock.
GRACE = 10.0


def test_a_completed_with_a_status_is_final_at_once() -> None:
    inv = outgoing()
    inv.completed(now=5.0, status="Failure", reason=Reason("RemoteFailure", "Busy"))
    assert inv.outcome_is_final(5.0)


def test_a_refusal_is_final_at_once() -> None:
    inv = Invitation(kind=K.MESSAGING)
    inv.send(now=0.0, href="/s", to="sip:x")
    inv.request_failed(now=0.5, reason=Reason("BadRequest", "ParameterValidationFailure"))
    assert inv.outcome_is_final(0.5)


@pytest.mark.parametrize("how", ["updated", "GET"])
def test_an_end_without_status_is_final_only_after_the_grace(how: str) -> None:
    inv = outgoing()
    if how == "updated":
        inv.updated(now=5.0, representation=Representation(state="Declined"))
    else:  # what the adapters feed after a GET: the resource, no status
        inv.completed(now=5.0, representation=Representation(state="Declined"), href="/inv/9")
    assert inv.outcome is not None
    assert not inv.outcome_is_final(5.0)
    assert not inv.outcome_is_final(5.0 + GRACE - 0.001)
    assert inv.outcome_is_final(5.0 + GRACE)


def test_the_completed_that_fills_it_in_makes_it_final() -> None:
    inv = outgoing()
    inv.updated(now=5.0, representation=Representation(state="Declined"))
    inv.completed(now=6.0, status="Success")  # disagrees: changes nothing, final still waits
    assert not inv.outcome_is_final(6.0)
    inv.completed(now=7.0, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    assert inv.outcome_is_final(7.0)
    assert inv.outcome is not None
    assert inv.outcome.status == "Failure"


def test_no_outcome_is_never_final() -> None:
    assert not outgoing().outcome_is_final(1e9)


# -- an event with no resource asks for a GET: stale links must not gate actions --------------------


@pytest.mark.parametrize("trigger", ["started", "updated"])
def test_an_event_without_its_resource_asks_to_read_it(trigger: str) -> None:
    inv = outgoing()
    links_before = inv.representation
    actions = getattr(inv, trigger)(now=2.0, href="/inv/9")
    assert actions == (FetchResource("/inv/9", f"{trigger} carried no resource: its links may have changed"),)
    assert inv.representation == links_before  # kept until the GET's answer replaces them


def test_an_ended_invitation_reads_nothing_again() -> None:
    inv = outgoing()
    inv.completed(now=2.0, status="Failure", reason=Reason("RemoteFailure", "Busy"))
    assert inv.updated(now=3.0, href="/inv/9") == ()


# -- aggregation and ordering -----------------------------------------------------------


def test_completed_with_no_started() -> None:
    inv = Invitation(kind=K.MESSAGING)
    inv.completed(now=1.0, href="/m/1", status="Failure", reason=Reason("Informational", "Missed"))
    assert inv.state is S.FAILED
    assert inv.href == "/m/1"


def test_started_before_the_201_and_after_give_the_same_state() -> None:
    early = Invitation(kind=K.AUDIO_VIDEO)
    early.send(now=0, href="/start", operation_id="op", to="sip:x")
    early.started(now=1, href="/inv/1", representation=Representation(state="Connecting", operation_id="op"))
    early.created(now=2, href="/inv/1")
    late = Invitation(kind=K.AUDIO_VIDEO)
    late.send(now=0, href="/start", operation_id="op", to="sip:x")
    late.created(now=1, href="/inv/1")
    late.started(now=2, href="/inv/1", representation=Representation(state="Connecting", operation_id="op"))
    assert early.state is late.state is S.CONNECTING
    assert early.href == late.href == "/inv/1"


def test_progress_states_follow_the_embedded_state() -> None:
    inv = outgoing()
    inv.updated(now=1, representation=Representation(state="Alerting", links=[Link("cancel", "/c")]))
    assert inv.state is S.ALERTING
    inv.updated(now=2)  # no embedded resource: stays
    assert inv.state is S.ALERTING
    inv.updated(now=3, representation=Representation(state="TeamRing", links=[Link("cancel", "/c")]))
    inv.updated(now=4, representation=Representation(state="Forwarded", links=[Link("cancel", "/c")]))
    assert inv.state is S.FORWARDED


def test_create_refused_synchronously_fails_with_the_reason() -> None:
    inv = Invitation(kind=K.AUDIO_VIDEO)
    inv.send(now=0, href="/start", operation_id="op", to="sip:x")
    inv.request_failed(now=1, reason=Reason("BadRequest", "ParameterValidationFailure"))
    assert inv.state is S.FAILED
    assert inv.outcome is not None
    assert inv.outcome.reason == Reason("BadRequest", "ParameterValidationFailure")


def test_refused_request_returns_to_the_wire_state() -> None:
    inv = outgoing()
    inv.updated(now=1, representation=Representation(state="Alerting", links=[Link("cancel", "/c")]))
    inv.cancel(now=2)
    inv.request_failed(now=3, reason=Reason("Conflict", "None"))
    assert inv.state is S.ALERTING
    assert inv.cancel(now=4) == (PostLink("cancel", "/c"),)  # a retry is possible


# -- absorption ----------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["declined", "connected"])
def test_completed_invitation_absorbs_late_events(end: str) -> None:
    inv = outgoing()
    if end == "declined":
        inv.completed(now=2, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    else:
        inv.completed(now=2, status="Success")
    state, outcome, rep = inv.state, inv.outcome, inv.representation
    steps = len(inv.history)
    inv.updated(now=3, representation=Representation(state="Alerting", links=[Link("accept", "/a")]))
    inv.completed(now=4, status="Failure", reason=Reason("ServiceFailure", "None"))
    inv.started(now=5)
    inv.request_succeeded(now=6)
    assert (inv.state, inv.outcome, inv.representation) == (state, outcome, rep)
    assert len(inv.history) == steps + 4
    assert all(step.source is step.dest is state for step in inv.history[steps:])


def test_terminal_states_refuse_local_actions() -> None:
    inv = outgoing()
    inv.completed(now=2, status="Failure", reason=Reason("RemoteFailure", "Busy"))
    with pytest.raises(InvalidTrigger):
        inv.cancel(now=3)
