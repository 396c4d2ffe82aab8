"""The renegotiation machine's deadlines: our offer expires, an unanswered incoming offer is
dismissed, and a restored snapshot keeps its deadlines.

Expected values come from docs/protocol.md §4 and the module's documented design.
"""

from __future__ import annotations

import copy

import pytest
from renegotiation_reference import (
    LATE,
    OTHER_ERRORS,
    RENEGOTIATION,
    RENEGOTIATIONS,
    SDP,
    S,
    T,
    incoming_rep,
    outgoing_rep,
    reach,
)

from fsm import (
    InvalidInput,
    NotDue,
    PostLink,
)
from fsm.renegotiation import (
    Renegotiation,
)
from fsm.snapshot import dumps, loads

# -- deadlines -------------------------------------------------------------------------------


def test_our_offer_expires_at_its_deadline_not_before() -> None:
    m = Renegotiation()
    m.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP, deadline=10.0)
    m.created(now=1.0, representation=outgoing_rep())
    assert m.next_deadline == 10.0
    assert not m.due(9.999)
    before = copy.deepcopy(m)
    with pytest.raises(NotDue) as info:
        m.expire(now=9.999)
    assert info.value.state is S.OFFERED
    assert info.value.trigger is T.EXPIRE
    assert m == before
    assert m.due(10.0)
    assert m.expire(now=10.0) == ()
    assert m.state is S.EXPIRED
    assert m.outcome is not None
    assert m.outcome.reason is not None
    assert m.outcome.reason.subcode_is("Timeout")
    assert m.next_deadline is None
    assert not m.due(LATE)


def test_expire_without_a_deadline_is_never_due() -> None:
    m = Renegotiation()
    m.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    assert m.next_deadline is None
    with pytest.raises(NotDue):
        m.expire(now=LATE)
    assert m.state is S.OFFERING


def test_unanswered_incoming_offer_is_dismissed_with_unknown() -> None:
    m = Renegotiation()
    m.started(now=0.0, representation=incoming_rep("answer", "dismiss"), deadline=5.0)
    with pytest.raises(NotDue):
        m.expire(now=4.0)
    (action,) = m.expire(now=5.0)
    assert action == PostLink("dismiss", f"{RENEGOTIATION}/dismiss", (("reason", "Unknown"),))
    assert m.state is S.DISMISSING
    assert m.next_deadline is None  # a request is in flight: its response decides
    m.request_succeeded(now=6.0)
    assert m.state is S.DISMISSED
    assert m.outcome is not None
    assert m.outcome.reason is not None
    assert m.outcome.reason.subcode_is("Timeout")


def test_unanswered_incoming_offer_without_dismiss_link_just_expires() -> None:
    m = Renegotiation()
    m.started(now=0.0, representation=incoming_rep("answer"), deadline=5.0)
    assert m.expire(now=5.0) == ()
    assert m.state is S.EXPIRED


def test_refused_expiry_dismissal_can_expire_again() -> None:
    m = Renegotiation()
    m.started(now=0.0, representation=incoming_rep("answer", "dismiss"), deadline=5.0)
    m.expire(now=5.0)
    m.request_failed(now=6.0, reason=OTHER_ERRORS[2])
    assert m.state is S.REMOTE_OFFERED
    assert m.due(6.0)
    m.expire(now=7.0)
    assert m.state is S.DISMISSING


def test_non_finite_deadline_is_refused() -> None:
    m = Renegotiation()
    with pytest.raises(InvalidInput):
        m.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP, deadline=float("nan"))
    assert m == Renegotiation()


def test_late_answer_after_expiry_is_recorded_not_applied() -> None:
    m = reach(S.EXPIRED)
    outcome = m.outcome
    m.remote_answered(now=LATE, media_answer="data:,late")
    assert m.state is S.EXPIRED
    assert m.outcome == outcome
    assert m.media_answer is None
    assert m.history[-1].trigger is T.REMOTE_ANSWERED


# -- snapshots -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [S.OFFERING, S.OFFERED, S.REMOTE_OFFERED, S.DISMISSING, S.EXPIRED, S.COLLIDED])
def test_snapshot_round_trip_keeps_deadlines(state: S) -> None:
    m = reach(state)
    back = loads(dumps(m))
    assert isinstance(back, Renegotiation)
    assert back == m
    assert back.deadline == m.deadline
    assert back.deadline is not None
    assert back.next_deadline == m.next_deadline
    assert back.due(LATE) == m.due(LATE)
    assert back.history == m.history


def test_restored_model_expires_like_the_original() -> None:
    m = Renegotiation()
    m.started(now=0.0, representation=incoming_rep("answer", "dismiss"), deadline=12.5)
    back = loads(dumps(m))
    assert isinstance(back, Renegotiation)
    with pytest.raises(NotDue):
        back.expire(now=12.0)
    assert back.expire(now=12.5) == m.expire(now=12.5)
    assert back == m
