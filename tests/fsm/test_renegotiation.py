"""The renegotiation machine and the one-at-a-time rule of AudioVideoSession.

Expected values come from docs/protocol.md §4 (renegotiation facts, the
ReNegotiationDeclineReason table), 5.2 (409 Conflict) and seed 001 (the
``dismiss`` request and its 204). The expected table below is written by hand
from those facts and the module's documented design (its theory of
operation), not derived from fsm/renegotiation.py's TABLE, so the two can
disagree.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fsm import (
    CallFsmError,
    Direction,
    InvalidInput,
    InvalidTrigger,
    Link,
    LinkMissing,
    NotDue,
    PostLink,
    PostRenegotiation,
    Reason,
    ReNegotiationDeclineReason,
    Representation,
)
from fsm.actions import Actions
from fsm.renegotiation import (
    AudioVideoSession,
    Renegotiation,
    RenegotiationInFlight,
    RenegotiationState,
    RenegotiationTrigger,
)
from fsm.snapshot import dumps, loads

S = RenegotiationState
T = RenegotiationTrigger
D = ReNegotiationDeclineReason

# The href of seed 001's sample request, and its siblings.
BASE = "https://fe1.contoso.com:443/ucwa/v1/applications/192/communication/conversations/137/audioVideo/audioVideoSession"
RENEGOTIATIONS = f"{BASE}/renegotiations"
RENEGOTIATION = f"{RENEGOTIATIONS}/audioVideoRenegotiation"
ANSWER = Link("answer", f"{RENEGOTIATION}/answer")
DISMISS = Link("dismiss", f"{RENEGOTIATION}/dismiss")
LINKS_BY_REL = {"answer": ANSWER, "dismiss": DISMISS}
SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"

# 409 AlreadyExists: another renegotiation is in progress (docs/protocol.md §4, 5.2).
COLLISION = Reason("Conflict", "AlreadyExists", "The already exists error.")
# Other documented refusals of POST link resources (seed 001, docs/protocol.md §5.2).
OTHER_ERRORS = (
    Reason("Conflict", "TooManyGroups"),
    Reason("Conflict", "None"),
    Reason("ServiceFailure", "CallbackChannelError"),
    Reason("Gone", "CannotRedirect"),
)

TERMINAL = {S.ANSWERED, S.DISMISSED, S.COMPLETED, S.REJECTED, S.COLLIDED, S.FAILED, S.EXPIRED}
SUCCESSES = {S.ANSWERED, S.COMPLETED}
OFFER_DEADLINE = 30.0
LATE = 1000.0  # well after every deadline used below


def incoming_rep(*rels: str, direction: str | None = "Incoming") -> Representation:
    return Representation(direction=direction, links=[LINKS_BY_REL[r] for r in rels])


def outgoing_rep() -> Representation:
    return Representation(direction="Outgoing", operation_id="op-1", links=[Link("audioVideoSession", BASE)])


# -- every (state, case) pair ----------------------------------------------------------------
#
# A case is one trigger with one payload; triggers with guard branches have one case per branch.

Fire = Callable[[Renegotiation], Actions]

CASES: dict[str, tuple[T, Fire]] = {
    "offer": (
        T.OFFER,
        lambda m: m.offer(now=2.0, href=RENEGOTIATIONS, operation_id="op-2", sdp=SDP, deadline=OFFER_DEADLINE),
    ),
    "answer": (T.ANSWER, lambda m: m.answer(now=2.0)),
    "dismiss": (T.DISMISS, lambda m: m.dismiss(now=2.0, reason=D.INSUFFICIENT_BANDWIDTH)),
    "expire": (T.EXPIRE, lambda m: m.expire(now=LATE)),
    "created": (T.CREATED, lambda m: m.created(now=2.0, representation=outgoing_rep(), href=RENEGOTIATION)),
    "created_answered": (
        T.CREATED,
        lambda m: m.created(now=2.0, representation=outgoing_rep(), media_answer="data:application/sdp,v=0"),
    ),
    "started_in": (T.STARTED, lambda m: m.started(now=2.0, representation=incoming_rep("answer", "dismiss"))),
    "started_out": (T.STARTED, lambda m: m.started(now=2.0, representation=outgoing_rep())),
    "remote_answered": (T.REMOTE_ANSWERED, lambda m: m.remote_answered(now=2.0, media_answer="data:,v=0")),
    "remote_rejected": (T.REMOTE_REJECTED, lambda m: m.remote_rejected(now=2.0, reason=Reason("RemoteFailure"))),
    "request_succeeded": (T.REQUEST_SUCCEEDED, lambda m: m.request_succeeded(now=2.0)),
    "failed_collision": (T.REQUEST_FAILED, lambda m: m.request_failed(now=2.0, reason=COLLISION)),
    "failed_other": (T.REQUEST_FAILED, lambda m: m.request_failed(now=2.0, reason=OTHER_ERRORS[2])),
}

_REMOTE_CASES = (
    "created",
    "created_answered",
    "started_in",
    "started_out",
    "remote_answered",
    "remote_rejected",
    "request_succeeded",
    "failed_collision",
    "failed_other",
)

#: (state, case) -> where the model lands; a pair not listed must be refused.
EXPECTED: dict[tuple[S, str], S] = {
    (S.IDLE, "offer"): S.OFFERING,
    (S.IDLE, "started_in"): S.REMOTE_OFFERED,
    # our POST is out: the 201 (or started, which may beat it) moves on; answers may beat both
    (S.OFFERING, "created"): S.OFFERED,
    (S.OFFERING, "created_answered"): S.COMPLETED,
    (S.OFFERING, "started_out"): S.OFFERED,
    (S.OFFERING, "remote_answered"): S.COMPLETED,
    (S.OFFERING, "remote_rejected"): S.REJECTED,
    (S.OFFERING, "failed_collision"): S.COLLIDED,
    (S.OFFERING, "failed_other"): S.FAILED,
    (S.OFFERING, "expire"): S.EXPIRED,
    (S.OFFERED, "created"): S.OFFERED,
    (S.OFFERED, "created_answered"): S.COMPLETED,
    (S.OFFERED, "started_out"): S.OFFERED,
    (S.OFFERED, "remote_answered"): S.COMPLETED,
    (S.OFFERED, "remote_rejected"): S.REJECTED,
    (S.OFFERED, "expire"): S.EXPIRED,
    # the remote's offer: answer, dismiss, or dismissal when the deadline passes
    (S.REMOTE_OFFERED, "answer"): S.ANSWERING,
    (S.REMOTE_OFFERED, "dismiss"): S.DISMISSING,
    (S.REMOTE_OFFERED, "expire"): S.DISMISSING,
    (S.REMOTE_OFFERED, "started_in"): S.REMOTE_OFFERED,
    (S.ANSWERING, "request_succeeded"): S.ANSWERED,
    (S.ANSWERING, "failed_collision"): S.REMOTE_OFFERED,
    (S.ANSWERING, "failed_other"): S.REMOTE_OFFERED,
    (S.ANSWERING, "started_in"): S.ANSWERING,
    (S.DISMISSING, "request_succeeded"): S.DISMISSED,
    (S.DISMISSING, "failed_collision"): S.REMOTE_OFFERED,
    (S.DISMISSING, "failed_other"): S.REMOTE_OFFERED,
    (S.DISMISSING, "started_in"): S.DISMISSING,
    # ended: every remote event is recorded and changes nothing
    **{(end, case): end for end in TERMINAL for case in _REMOTE_CASES},
}


def reach(state: S) -> Renegotiation:
    """A model in ``state``, driven there through its public triggers only."""
    m = Renegotiation()

    def ours() -> None:
        m.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP, deadline=OFFER_DEADLINE)

    def theirs() -> None:
        m.started(now=0.0, href=RENEGOTIATION, representation=incoming_rep("answer", "dismiss"), deadline=20.0)

    rep = outgoing_rep()
    paths: dict[S, list[Callable[[], object]]] = {
        S.IDLE: [],
        S.OFFERING: [ours],
        S.OFFERED: [ours, lambda: m.created(now=1.0, representation=outgoing_rep())],
        S.REMOTE_OFFERED: [theirs],
        S.ANSWERING: [theirs, lambda: m.answer(now=1.0)],
        S.DISMISSING: [theirs, lambda: m.dismiss(now=1.0)],
        S.ANSWERED: [theirs, lambda: m.answer(now=1.0), lambda: m.request_succeeded(now=1.5)],
        S.DISMISSED: [theirs, lambda: m.dismiss(now=1.0), lambda: m.request_succeeded(now=1.5)],
        S.COMPLETED: [ours, lambda: m.created(now=1.0, representation=rep), lambda: m.remote_answered(now=1.5)],
        S.REJECTED: [ours, lambda: m.created(now=1.0, representation=rep), lambda: m.remote_rejected(now=1.5)],
        S.COLLIDED: [ours, lambda: m.request_failed(now=1.0, reason=COLLISION)],
        S.FAILED: [ours, lambda: m.request_failed(now=1.0, reason=OTHER_ERRORS[0])],
        S.EXPIRED: [ours, lambda: m.expire(now=OFFER_DEADLINE)],
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


# -- stateful model test ---------------------------------------------------------------------

directions = st.sampled_from(["Incoming", "Outgoing", "incoming", None])
link_sets = st.frozensets(st.sampled_from(sorted(LINKS_BY_REL)))
reasons = st.sampled_from([COLLISION, Reason("CONFLICT", "alreadyExists"), *OTHER_ERRORS])
decline_reasons = st.one_of(st.none(), st.sampled_from(list(D)))
delays = st.floats(min_value=0.0, max_value=20.0, allow_nan=False)


class Reference:
    """The expected behaviour as plain data: EXPECTED above plus links, deadlines and directions."""

    def __init__(self) -> None:
        self.state = S.IDLE
        self.links: frozenset[str] = frozenset()
        self.deadline: float | None = None
        self.direction: str | None = None
        self.dismissed_by_expiry = False
        self.last_error: Reason | None = None

    def case_of_started(self, direction: str | None, links: frozenset[str]) -> str:
        if direction is None:
            direction = self.direction or ("Incoming" if "answer" in links else "Outgoing")
        return "started_in" if direction.lower() == "incoming" else "started_out"

    def can_expire(self) -> bool:
        return (self.state, "expire") in EXPECTED

    def expire_dest(self) -> S:
        if self.state is S.REMOTE_OFFERED and "dismiss" not in self.links:
            return S.EXPIRED
        return EXPECTED[(self.state, "expire")]


class RenegotiationMachine(RuleBasedStateMachine):
    @initialize(start=st.sampled_from(list(S)))
    def start(self, start: S) -> None:
        # Runs begin in any state (through reach()), so that short runs cover every state's triggers.
        self.model = reach(start)
        self.ref = Reference()
        self.ref.state = start
        ours = start in (S.OFFERING, S.OFFERED, S.COMPLETED, S.REJECTED, S.COLLIDED, S.FAILED, S.EXPIRED)
        if start is not S.IDLE:
            self.ref.direction = "Outgoing" if ours else "Incoming"
            self.ref.deadline = OFFER_DEADLINE if ours else 20.0
            self.ref.links = frozenset() if ours else frozenset({"answer", "dismiss"})
        self.ref.last_error = {S.COLLIDED: COLLISION, S.FAILED: OTHER_ERRORS[0]}.get(start)
        self.now = 2.0
        self.ended_in: S | None = None

    # -- helpers

    def tick(self, delay: float) -> float:
        self.now += delay
        return self.now

    def refused(self, fire: Callable[[], object], error: type[Exception]) -> None:
        before = copy.deepcopy(self.model)
        with pytest.raises(error):
            fire()
        assert self.model == before

    def landed(self, source: S, expected: S) -> None:
        assert self.model.state is expected, (source, expected, self.model.state)
        if source not in TERMINAL:
            self.ref.state = expected

    # -- local triggers

    @rule(operation_id=st.sampled_from(["op-1", "", "x" * 51]), delay=delays, wait=st.none() | delays)
    def offer(self, operation_id: str, delay: float, wait: float | None) -> None:
        now = self.tick(delay)
        deadline = None if wait is None else now + wait

        def fire() -> Actions:
            return self.model.offer(now=now, href=RENEGOTIATIONS, operation_id=operation_id, sdp=SDP, deadline=deadline)

        if (self.ref.state, "offer") not in EXPECTED:
            self.refused(fire, InvalidTrigger)
        elif not 1 <= len(operation_id) <= 50:
            self.refused(fire, InvalidInput)
        else:
            assert fire() == (PostRenegotiation(RENEGOTIATIONS, operation_id, SDP),)
            self.landed(S.IDLE, S.OFFERING)
            self.ref.deadline, self.ref.direction = deadline, "Outgoing"

    @rule(delay=delays)
    def answer(self, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if (source, "answer") not in EXPECTED:
            self.refused(lambda: self.model.answer(now=now), InvalidTrigger)
        elif "answer" not in self.ref.links:
            self.refused(lambda: self.model.answer(now=now), LinkMissing)
        else:
            assert self.model.answer(now=now) == (PostLink(ANSWER.rel, ANSWER.href),)
            self.landed(source, EXPECTED[(source, "answer")])

    @rule(reason=decline_reasons, delay=delays)
    def dismiss(self, reason: D | None, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if (source, "dismiss") not in EXPECTED:
            self.refused(lambda: self.model.dismiss(now=now, reason=reason), InvalidTrigger)
        elif "dismiss" not in self.ref.links:
            self.refused(lambda: self.model.dismiss(now=now, reason=reason), LinkMissing)
        else:
            body = () if reason is None else (("reason", reason.value),)
            assert self.model.dismiss(now=now, reason=reason) == (PostLink(DISMISS.rel, DISMISS.href, body),)
            self.landed(source, EXPECTED[(source, "dismiss")])
            self.ref.dismissed_by_expiry = False

    @rule(delay=delays)
    def expire(self, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if not self.ref.can_expire():
            self.refused(lambda: self.model.expire(now=now), InvalidTrigger)
            return
        if self.ref.deadline is None or now < self.ref.deadline:
            assert not self.model.due(now)
            self.refused(lambda: self.model.expire(now=now), NotDue)
            return
        assert self.model.due(now)
        actions = self.model.expire(now=now)
        dest = self.ref.expire_dest()
        if dest is S.DISMISSING:
            assert actions == (PostLink(DISMISS.rel, DISMISS.href, (("reason", "Unknown"),)),)
            self.ref.dismissed_by_expiry = True
        else:
            assert actions == ()
        self.landed(source, dest)

    # -- remote triggers

    @rule(answered=st.booleans(), links=link_sets, delay=delays)
    def created(self, answered: bool, links: frozenset[str], delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        rep = Representation(direction="Outgoing", links=[LINKS_BY_REL[r] for r in sorted(links)])
        case = "created_answered" if answered else "created"

        def fire() -> Actions:
            return self.model.created(now=now, representation=rep, media_answer="data:,a" if answered else None)

        if (source, case) not in EXPECTED:
            self.refused(fire, InvalidTrigger)
            return
        assert fire() == ()
        self.landed(source, EXPECTED[(source, case)])
        if source not in TERMINAL:
            self.ref.links = links

    @rule(direction=directions, links=link_sets, delay=delays, wait=st.none() | delays)
    def started(self, direction: str | None, links: frozenset[str], delay: float, wait: float | None) -> None:
        now = self.tick(delay)
        source = self.ref.state
        deadline = None if wait is None else now + wait
        rep = Representation(direction=direction, links=[LINKS_BY_REL[r] for r in sorted(links)])
        case = self.ref.case_of_started(direction, links)

        def fire() -> Actions:
            return self.model.started(now=now, representation=rep, deadline=deadline)

        if (source, case) not in EXPECTED:
            self.refused(fire, InvalidTrigger)
            return
        assert fire() == ()
        self.landed(source, EXPECTED[(source, case)])
        if source not in TERMINAL:
            self.ref.links = links
        if source is S.IDLE:
            self.ref.deadline, self.ref.direction = deadline, "Incoming"

    @rule(delay=delays)
    def remote_answered(self, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if (source, "remote_answered") not in EXPECTED:
            self.refused(lambda: self.model.remote_answered(now=now), InvalidTrigger)
            return
        self.model.remote_answered(now=now)
        self.landed(source, EXPECTED[(source, "remote_answered")])

    @rule(reason=st.none() | reasons, delay=delays)
    def remote_rejected(self, reason: Reason | None, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if (source, "remote_rejected") not in EXPECTED:
            self.refused(lambda: self.model.remote_rejected(now=now, reason=reason), InvalidTrigger)
            return
        self.model.remote_rejected(now=now, reason=reason)
        self.landed(source, EXPECTED[(source, "remote_rejected")])
        if source not in TERMINAL and reason is not None:
            assert self.model.outcome is not None
            assert self.model.outcome.reason == reason

    @rule(delay=delays)
    def request_succeeded(self, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if (source, "request_succeeded") not in EXPECTED:
            self.refused(lambda: self.model.request_succeeded(now=now), InvalidTrigger)
            return
        self.model.request_succeeded(now=now)
        self.landed(source, EXPECTED[(source, "request_succeeded")])
        if source not in TERMINAL:
            self.ref.last_error = None
        if source is S.DISMISSING:
            outcome = self.model.outcome
            assert outcome is not None
            assert outcome.reason is not None
            expected_subcode = "Timeout" if self.ref.dismissed_by_expiry else "Declined"
            assert outcome.reason.subcode_is(expected_subcode)

    @rule(reason=reasons, delay=delays)
    def request_failed(self, reason: Reason, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        collision = reason.code is not None and reason.code.lower() == "conflict" and reason.subcode is not None
        collision = collision and (reason.subcode or "").lower() == "alreadyexists"
        case = "failed_collision" if collision else "failed_other"
        if (source, case) not in EXPECTED:
            self.refused(lambda: self.model.request_failed(now=now, reason=reason), InvalidTrigger)
            return
        self.model.request_failed(now=now, reason=reason)
        self.landed(source, EXPECTED[(source, case)])
        if source not in TERMINAL:
            self.ref.last_error = reason
            if self.model.state in TERMINAL:
                assert self.model.outcome is not None
                assert self.model.outcome.reason == reason

    # -- invariants

    @invariant()
    def agrees_with_reference(self) -> None:
        note(f"state {self.model.state.value}, ref {self.ref.state.value}, links {sorted(self.ref.links)}")
        assert self.model.state is self.ref.state
        expected_links = {LINKS_BY_REL[r] for r in self.ref.links}
        assert {link for link in self.model.representation.links if link.rel in LINKS_BY_REL} == expected_links

    @invariant()
    def last_error_is_the_latest_refusal(self) -> None:
        assert self.model.last_error == self.ref.last_error

    @invariant()
    def at_most_one_terminal_outcome(self) -> None:
        entries = [s for s in self.model.history if s.source not in TERMINAL and s.dest in TERMINAL]
        assert len(entries) <= 1
        assert (self.model.outcome is not None) is (self.model.state in TERMINAL)

    @invariant()
    def a_failure_always_has_its_reason(self) -> None:
        outcome = self.model.outcome
        if outcome is not None:
            assert outcome.success is (self.model.state in SUCCESSES)
            if not outcome.success:
                assert outcome.reason is not None
        for step in self.model.history:
            if step.trigger in (T.REQUEST_FAILED, T.REMOTE_REJECTED):
                assert step.reason

    @invariant()
    def nothing_leaves_a_terminal_state(self) -> None:
        if self.ended_in is not None:
            assert self.model.state is self.ended_in
        elif self.model.state in TERMINAL:
            self.ended_in = self.model.state

    @invariant()
    def deadline_only_where_it_can_fire(self) -> None:
        expected = self.ref.deadline if self.ref.can_expire() else None
        assert self.model.next_deadline == expected


TestRenegotiationStateful = RenegotiationMachine.TestCase
# A run ends in a terminal state within a dozen steps, after which it only replays late events:
# many short runs explore more paths than the profile's few long ones.
TestRenegotiationStateful.settings = settings(
    settings.default, max_examples=max(300, settings.default.max_examples), stateful_step_count=20
)


# -- the session's one-at-a-time rule, stateful ------------------------------------------------


class SessionMachine(RuleBasedStateMachine):
    """Whatever the order of offers, incoming offers and endings: never two in flight."""

    @initialize()
    def start(self) -> None:
        self.session = AudioVideoSession()
        self.owned: list[Renegotiation] = []  # the session's own, one after the other
        self.victims: list[Renegotiation] = []  # incoming offers dismissed for glare
        self.now = 0.0

    @rule()
    def offer(self) -> None:
        self.now += 1.0
        busy = self.session.in_flight
        if busy is not None:
            with pytest.raises(RenegotiationInFlight):
                self.session.offer(now=self.now, href=RENEGOTIATIONS, operation_id="op", sdp=SDP)
            assert self.session.in_flight is busy
            return
        model, _ = self.session.offer(now=self.now, href=RENEGOTIATIONS, operation_id="op", sdp=SDP)
        self.owned.append(model)

    @rule()
    def incoming(self) -> None:
        self.now += 1.0
        busy = self.session.in_flight
        rep = incoming_rep("answer", "dismiss")
        if busy is not None and busy.direction is not Direction.OUTGOING:
            with pytest.raises(RenegotiationInFlight):
                self.session.incoming(now=self.now, representation=rep)
            return
        model, actions = self.session.incoming(now=self.now, representation=rep)
        if busy is not None:
            assert actions == (PostLink(DISMISS.rel, DISMISS.href, (("reason", "Conflict"),)),)
            assert self.session.current is busy
            self.victims.append(model)
        else:
            assert actions == ()
            assert self.session.current is model
            self.owned.append(model)

    @rule(pick=st.integers(min_value=0, max_value=10))
    def advance_one(self, pick: int) -> None:
        live = [m for m in self.owned + self.victims if not m.is_terminal]
        if not live:
            return
        m = live[pick % len(live)]
        self.now += 1.0
        if m.state is S.OFFERING:
            m.created(now=self.now, representation=outgoing_rep())
        elif m.state is S.OFFERED:
            m.remote_answered(now=self.now)
        elif m.state is S.REMOTE_OFFERED:
            m.answer(now=self.now)
        else:
            m.request_succeeded(now=self.now)

    @invariant()
    def at_most_one_in_flight(self) -> None:
        live = [m for m in self.owned if not m.is_terminal]
        assert len(live) <= 1
        assert self.session.in_flight is (live[0] if live else None)
        assert all(m.state in (S.DISMISSING, S.DISMISSED) for m in self.victims)


TestSessionStateful = SessionMachine.TestCase
