"""The renegotiation machine and the one-at-a-time rule of AudioVideoSession.

Expected values come from docs/protocol.md §4 (renegotiation facts, the
ReNegotiationDeclineReason table), 5.2 (409 Conflict) and seed 001 (the
``dismiss`` request and its 204). The expected table, in renegotiation_reference.py, is written
by hand from those facts and the module's documented design (its theory of
operation), not derived from fsm/renegotiation.py's TABLE, so the two can
disagree. Deadlines and snapshots, and the stateful runs, have their own
``test_renegotiation_*.py`` files.
"""

from __future__ import annotations

import copy

import pytest
from renegotiation_reference import (
    CASES,
    COLLISION,
    EXPECTED,
    OTHER_ERRORS,
    RENEGOTIATION,
    RENEGOTIATIONS,
    SDP,
    SUCCESSES,
    TERMINAL,
    D,
    S,
    T,
    incoming_rep,
    outgoing_rep,
    reach,
)

from fsm import (
    CallFsmError,
    InvalidInput,
    InvalidTrigger,
    Link,
    LinkMissing,
    PostLink,
    PostRenegotiation,
    Reason,
    Representation,
)
from fsm.renegotiation import (
    AudioVideoSession,
    Renegotiation,
    RenegotiationInFlight,
)

# -- every (state, case) pair ----------------------------------------------------------------


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
        assert info.value.machine == "renegotiation"
        assert info.value.state is state
        assert info.value.trigger is trigger
        assert model == before  # state, history, outcome, links: all untouched
        return
    fire(model)
    assert model.state is expected
    assert len(model.history) == len(before.history) + 1
    step = model.history[-1]
    assert (step.source, step.trigger, step.dest) == (state, trigger, expected)
    if state in TERMINAL:
        assert model.outcome == before.outcome
        assert model.representation == before.representation
    elif expected in TERMINAL:
        assert model.outcome is not None
        assert model.outcome.success is (expected in SUCCESSES)
        assert model.outcome.success or model.outcome.reason is not None
    else:
        assert model.outcome is None


def test_every_trigger_has_a_case() -> None:
    assert {trigger for trigger, _ in CASES.values()} == set(T)


# -- documented scenarios --------------------------------------------------------------------


def test_incoming_offer_dismissed_with_insufficient_bandwidth() -> None:
    """Seed 001: POST dismiss with {"reason": "InsufficientBandwidth"} -> 204 No Content."""
    m = Renegotiation()
    m.started(now=1.0, href=RENEGOTIATION, representation=incoming_rep("answer", "dismiss"), media_offer="data:,sdp")
    assert m.state is S.REMOTE_OFFERED
    (action,) = m.dismiss(now=2.0, reason=D.INSUFFICIENT_BANDWIDTH)
    assert isinstance(action, PostLink)
    assert action.href == f"{RENEGOTIATION}/dismiss"
    assert action.body() == {"reason": "InsufficientBandwidth"}
    assert action.sdp is None
    assert m.state is S.DISMISSING
    m.request_succeeded(now=3.0)
    assert m.state is S.DISMISSED
    assert m.decline_reason is D.INSUFFICIENT_BANDWIDTH
    assert m.outcome is not None
    assert not m.outcome.success
    assert m.outcome.reason is not None
    assert m.outcome.reason.subcode_is("Declined")


def test_dismiss_reason_is_optional_and_the_enum_has_the_eight_documented_values() -> None:
    # seed 001: reason "Required? No"; docs/protocol.md §4 lists eight values
    assert [r.value for r in D] == [
        "Unknown",
        "MediaAllocationFailure",
        "EncryptionMismatch",
        "IPv6NotSupported",
        "UnsupportedMedia",
        "InvalidMediaOffer",
        "InsufficientBandwidth",
        "Conflict",
    ]
    m = reach(S.REMOTE_OFFERED)
    (action,) = m.dismiss(now=2.0)
    assert isinstance(action, PostLink)
    assert action.body() == {}
    assert action.properties == ()


def test_saas_prefixed_links_are_sent_back_as_written() -> None:
    m = Renegotiation()
    rep = Representation(direction="Incoming", links=[Link("ms:rtc:saas:dismiss", "/r/dismiss")])
    m.started(now=1.0, representation=rep)
    expected = PostLink("ms:rtc:saas:dismiss", "/r/dismiss", (("reason", "Unknown"),))
    assert m.dismiss(now=2.0, reason=D.UNKNOWN) == (expected,)


def test_incoming_offer_answered_without_a_body() -> None:
    m = reach(S.REMOTE_OFFERED)
    # docs/protocol.md §4: answer takes no request body
    assert m.answer(now=2.0) == (PostLink("answer", f"{RENEGOTIATION}/answer"),)
    m.request_succeeded(now=3.0)
    assert m.state is S.ANSWERED
    assert m.outcome is not None
    assert m.outcome.success


@pytest.mark.parametrize(("trigger", "rels"), [("answer", ("dismiss",)), ("dismiss", ("answer",)), ("answer", ())])
def test_answer_and_dismiss_need_their_link(trigger: str, rels: tuple[str, ...]) -> None:
    m = Renegotiation()
    m.started(now=1.0, representation=incoming_rep(*rels))
    before = copy.deepcopy(m)
    with pytest.raises(LinkMissing) as info:
        getattr(m, trigger)(now=2.0)
    assert info.value.rels == (trigger,)
    assert m == before


def test_refused_answer_allows_a_retry() -> None:
    m = reach(S.ANSWERING)
    m.request_failed(now=2.0, reason=OTHER_ERRORS[2])
    assert m.state is S.REMOTE_OFFERED
    assert m.last_error == OTHER_ERRORS[2]
    assert m.outcome is None
    m.answer(now=3.0)
    m.request_succeeded(now=4.0)
    assert m.state is S.ANSWERED
    assert m.last_error is None


def test_our_offer_is_completed_by_the_remote_answer() -> None:
    m = Renegotiation()
    actions = m.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    # docs/protocol.md §4: POST renegotiations?operationId=..., Content-Type application/sdp, body = SDP
    assert actions == (PostRenegotiation(RENEGOTIATIONS, "op-1", SDP),)
    assert m.state is S.OFFERING
    m.created(now=1.0, href=RENEGOTIATION, representation=outgoing_rep())
    assert m.state is S.OFFERED
    m.remote_answered(now=2.0, media_answer="data:application/sdp;base64,dj0w")
    assert m.state is S.COMPLETED
    assert m.media_answer == "data:application/sdp;base64,dj0w"
    assert m.outcome is not None
    assert m.outcome.success
    assert m.href == RENEGOTIATION


def test_started_before_the_201_reaches_the_same_state() -> None:
    a, b = reach(S.OFFERING), reach(S.OFFERING)
    a.created(now=1.0, representation=outgoing_rep())
    a.started(now=1.1, representation=outgoing_rep())
    b.started(now=1.0, representation=outgoing_rep())
    b.created(now=1.1, representation=outgoing_rep())
    assert a.state is b.state is S.OFFERED


def test_started_without_direction_is_read_from_context() -> None:
    # [U] choice documented on Renegotiation.started: ours when we offered, else Incoming if it has `answer`
    ours = reach(S.OFFERING)
    ours.started(now=1.0, representation=Representation(links=[Link("answer", "/x")]))
    assert ours.state is S.OFFERED
    theirs = Renegotiation()
    theirs.started(now=1.0, representation=incoming_rep("answer", "dismiss", direction=None))
    assert theirs.state is S.REMOTE_OFFERED
    nobody = Renegotiation()
    with pytest.raises(InvalidTrigger):
        nobody.started(now=1.0, representation=Representation())
    assert nobody.state is S.IDLE
    assert nobody.history == []


@pytest.mark.parametrize(
    ("operation_id", "ok"), [("", False), ("x" * 51, False), ("x" * 50, True), ("5028e824-a1", True)]
)
def test_operation_id_is_required_and_at_most_50(operation_id: str, ok: bool) -> None:
    m = Renegotiation()
    if ok:
        m.offer(now=0.0, href=RENEGOTIATIONS, operation_id=operation_id, sdp=SDP)
        assert m.operation_id == operation_id
        return
    with pytest.raises(InvalidInput) as info:
        m.offer(now=0.0, href=RENEGOTIATIONS, operation_id=operation_id, sdp=SDP)
    assert info.value.field == "operationId"
    assert m == Renegotiation()


def test_409_already_exists_is_a_collision() -> None:
    m = reach(S.OFFERING)
    m.request_failed(now=1.0, reason=COLLISION)
    assert m.state is S.COLLIDED
    assert m.outcome is not None
    assert not m.outcome.success
    assert m.outcome.reason == COLLISION
    # codes are compared ignoring case (docs/protocol.md §5.2)
    m2 = reach(S.OFFERING)
    m2.request_failed(now=1.0, reason=Reason("conflict", "alreadyexists"))
    assert m2.state is S.COLLIDED


@pytest.mark.parametrize("reason", OTHER_ERRORS, ids=str)
def test_other_refusals_of_the_offer_are_failures(reason: Reason) -> None:
    m = reach(S.OFFERING)
    m.request_failed(now=1.0, reason=reason)
    assert m.state is S.FAILED
    assert m.outcome is not None
    assert m.outcome.reason == reason


def test_remote_rejection_without_reason_still_records_one() -> None:
    m = reach(S.OFFERED)
    m.remote_rejected(now=2.0)
    assert m.state is S.REJECTED
    assert m.outcome is not None
    assert m.outcome.reason is not None


# -- AudioVideoSession: at most one in flight, and glare ---------------------------------------


def test_second_local_offer_is_refused_while_one_is_in_flight() -> None:
    session = AudioVideoSession()
    first, actions = session.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    assert actions == (PostRenegotiation(RENEGOTIATIONS, "op-1", SDP),)
    first.created(now=1.0, representation=outgoing_rep())
    with pytest.raises(RenegotiationInFlight) as info:
        session.offer(now=2.0, href=RENEGOTIATIONS, operation_id="op-2", sdp=SDP)
    assert isinstance(info.value, CallFsmError)
    assert info.value.machine == "renegotiation"
    assert info.value.state is S.OFFERED
    assert info.value.trigger is T.OFFER
    assert info.value.in_flight is first
    assert session.current is first
    assert first.state is S.OFFERED
    # once the first has ended, a new offer may go
    first.remote_answered(now=3.0)
    second, _ = session.offer(now=4.0, href=RENEGOTIATIONS, operation_id="op-2", sdp=SDP)
    assert session.current is second
    assert second.state is S.OFFERING


def test_glare_the_incoming_offer_is_dismissed_with_conflict() -> None:
    session = AudioVideoSession()
    ours, _ = session.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    theirs, actions = session.incoming(now=1.0, representation=incoming_rep("answer", "dismiss"))
    # ReNegotiationDeclineReason Conflict: "client not ready to process it" (docs/protocol.md §4)
    assert actions == (PostLink("dismiss", f"{RENEGOTIATION}/dismiss", (("reason", "Conflict"),)),)
    assert theirs is not ours
    assert theirs.state is S.DISMISSING
    assert session.current is ours
    assert ours.state is S.OFFERING
    theirs.request_succeeded(now=2.0)
    assert theirs.state is S.DISMISSED
    assert theirs.decline_reason is D.CONFLICT


def test_incoming_offer_while_another_incoming_is_in_flight_is_refused() -> None:
    session = AudioVideoSession()
    first, actions = session.incoming(now=0.0, representation=incoming_rep("answer", "dismiss"))
    assert actions == ()
    assert session.current is first
    with pytest.raises(RenegotiationInFlight) as info:
        session.incoming(now=1.0, representation=incoming_rep("answer", "dismiss"))
    assert info.value.state is S.REMOTE_OFFERED
    assert info.value.trigger is T.STARTED
    assert session.current is first


def test_local_offer_refused_while_an_incoming_one_waits() -> None:
    session = AudioVideoSession()
    first, _ = session.incoming(now=0.0, representation=incoming_rep("answer", "dismiss"))
    with pytest.raises(RenegotiationInFlight):
        session.offer(now=1.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    first.answer(now=2.0)
    first.request_succeeded(now=3.0)
    ours, _ = session.offer(now=4.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    assert session.current is ours
