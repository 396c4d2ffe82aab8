"""Behaviour that ``make mutate`` found unpinned: each test names the survivors it kills (tests/README.md).

Expected values come from the documentation cited in each test.
"""

from __future__ import annotations

from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.reasons import Reason
from fsm.wire import Direction, Link, Representation

OMI = "/communication/onlineMeetingInvitations/1"
MEETING = "sip:organizer@contoso.com;gruu;opaque=app:conf:focus:id:ABC"


def _joining() -> OnlineMeetingJoin:
    join = OnlineMeetingJoin()
    join.send(now=0.0, href="/communication/joinOnlineMeeting", operation_id="op-1", online_meeting_uri=MEETING)
    join.created(now=0.1, href=OMI)
    join.started(now=0.2, href=OMI, representation=Representation(state="Connecting", links=[Link("self", OMI)]))
    assert join.state is OnlineMeetingState.CONNECTING
    return join


def test_a_join_outcome_keeps_the_completed_status_and_reason() -> None:
    # OnlineMeetingJoin.completed mutants 76 and 85 (status dropped from the outcome).
    # docs/protocol.md §2.2: completed carries Success/Failure and, on failure, the reason; the outcome is that word
    rejected = _joining()
    rejected.completed(now=1.0, status="Failure", reason=Reason("Forbidden", "InviteesOnly"))
    assert rejected.state is OnlineMeetingState.FAILED
    assert rejected.outcome is not None
    assert (rejected.outcome.success, rejected.outcome.status) == (False, "Failure")
    assert rejected.outcome.reason == Reason("Forbidden", "InviteesOnly")
    admitted = _joining()
    admitted.completed(now=1.0, status="Success")
    assert admitted.outcome is not None
    assert (admitted.outcome.success, admitted.outcome.status) == (True, "Success")


def test_an_incoming_invitation_learns_its_direction_and_operation_id() -> None:
    # Invitation._learn mutants 14-21: the started event's representation says who called whom, and the
    # operationId correlates events with our POST (docs/protocol.md §2.2); a later event never rewrites them
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.started(
        now=1.0,
        href="/inv/1",
        representation=Representation(state="Connecting", direction="Incoming", operation_id="op-9",
                                      links=[Link("accept", "/inv/1/accept")]),
    )
    assert invitation.direction is Direction.INCOMING
    assert invitation.operation_id == "op-9"
    assert invitation.href == "/inv/1"
    invitation.updated(now=2.0, href="/inv/1", representation=Representation(state="Connecting", operation_id="op-x"))
    assert invitation.operation_id == "op-9"
    assert invitation.direction is Direction.INCOMING


def test_an_outgoing_invitation_keeps_its_own_operation_id_and_href() -> None:
    # Invitation._learn mutants 1 and 14-16: what we sent (operationId) and the 201's Location stay ours
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="/communication/startMessaging", operation_id="op-1", to="sip:b@contoso.com")
    invitation.created(now=0.5, href="/inv/9")
    invitation.started(now=0.6, href="/inv/9", representation=Representation(state="Connecting"))
    assert invitation.operation_id == "op-1"  # a representation without one does not erase it
    invitation.updated(now=1.0, href="/inv/9", representation=Representation(state="Alerting", operation_id="op-2"))
    assert invitation.operation_id == "op-1"
    assert invitation.href == "/inv/9"
    assert invitation.direction is Direction.OUTGOING
    assert invitation.state is InvitationState.ALERTING
