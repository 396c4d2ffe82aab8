"""Survivors of ``make mutate`` in fsm/renegotiation.py: what a renegotiation keeps, and what its refusals say.

docs/protocol.md §4: a local offer is a POST of the SDP with a required
``operationId`` of at most 50 characters, answered 201 with the renegotiation;
a remote offer is ``started`` (Incoming) with a ``mediaOffer``, answered by
``answer`` or ``dismiss`` (with an optional ``ReNegotiationDeclineReason``);
at most one renegotiation at a time. The deadline is the app's (a time on its
own clock): past it, our offer is given up and theirs dismissed with
``Unknown``. A refusal names the machine and the field or state (fsm/errors.py).
"""

from __future__ import annotations

import math

import pytest

from fsm.errors import InvalidInput, InvalidTrigger, LinkMissing, NotDue
from fsm.reasons import Reason
from fsm.renegotiation import (
    AudioVideoSession,
    Renegotiation,
    ReNegotiationDeclineReason,
    RenegotiationInFlight,
    RenegotiationState,
)
from fsm.wire import Direction, Link, Representation

S = RenegotiationState
D = ReNegotiationDeclineReason

BASE = "https://fe1.contoso.com:443/ucwa/v1/applications/192/communication/conversations/137/audioVideo/audioVideoSession"
RENEGOTIATIONS = f"{BASE}/renegotiations"
RENEGOTIATION = f"{RENEGOTIATIONS}/audioVideoRenegotiation"
ANSWER = Link("answer", f"{RENEGOTIATION}/answer")
DISMISS = Link("dismiss", f"{RENEGOTIATION}/dismiss")
SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
THEIR_SDP = "data:application/sdp;base64,dj0w"


def _incoming(**more: object) -> Representation:
    return Representation(direction="Incoming", links=[ANSWER, DISMISS], **more)  # type: ignore[arg-type]


def _theirs(deadline: float | None = 30.0) -> Renegotiation:
    model = Renegotiation()
    model.started(now=1.0, href=RENEGOTIATION, representation=_incoming(), media_offer=THEIR_SDP, deadline=deadline)
    return model


def _input_refusal(call: object) -> InvalidInput:
    assert callable(call)
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    ("operation_id", "deadline", "field", "shown"),
    [
        ("", None, "operationId", None),
        ("o" * 51, None, "operationId", "51"),  # §4: at most 50
        ("op-1", math.inf, "deadline", "inf"),
        ("op-1", math.nan, "deadline", "nan"),
    ],
)
def test_a_refused_offer_names_the_machine_the_field_and_the_value(
    operation_id: str, deadline: float | None, field: str, shown: str | None
) -> None:
    model = Renegotiation()
    error = _input_refusal(
        lambda: model.offer(now=0.0, href=RENEGOTIATIONS, operation_id=operation_id, sdp=SDP, deadline=deadline)
    )
    assert (error.machine, error.field) == ("renegotiation", field)
    assert error.why
    if shown is not None:
        assert shown in error.why
    assert model == Renegotiation()


def test_an_incoming_offer_with_a_deadline_that_is_no_time_is_refused() -> None:
    model = Renegotiation()
    error = _input_refusal(
        lambda: model.started(now=1.0, href=RENEGOTIATION, representation=_incoming(), deadline=math.inf)
    )
    assert (error.machine, error.field) == ("renegotiation", "deadline")
    assert model == Renegotiation()


def test_our_offer_keeps_its_sdp_and_deadline_and_the_answer_of_the_201() -> None:
    # §4: the 201's body is the renegotiation; its mediaAnswer is the remote's answer
    model = Renegotiation()
    model.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP, deadline=30.0)
    assert model.media_offer == SDP
    assert model.deadline == 30.0
    model.created(now=0.5, href=RENEGOTIATION, representation=Representation(direction="Outgoing"),
                  media_answer=THEIR_SDP)
    assert model.media_answer == THEIR_SDP
    assert model.href == RENEGOTIATION
    assert model.state is S.COMPLETED


def test_a_201_without_an_answer_leaves_the_answer_unknown() -> None:
    model = Renegotiation()
    model.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    model.created(now=0.5, href=RENEGOTIATION, representation=Representation(direction="Outgoing"))
    assert model.media_answer is None
    assert model.state is not S.COMPLETED


def test_a_started_event_for_our_offer_changes_neither_our_sdp_nor_our_operation_id_nor_the_201_location() -> None:
    model = Renegotiation()
    model.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    model.created(now=0.5, href=RENEGOTIATION, representation=Representation(direction="Outgoing"))
    model.started(
        now=0.6, href=f"{RENEGOTIATIONS}/other",
        representation=Representation(direction="Outgoing", operation_id="op-x"), media_offer=THEIR_SDP,
    )
    assert model.media_offer == SDP
    assert model.operation_id == "op-1"
    assert model.href == RENEGOTIATION
    assert model.direction is Direction.OUTGOING


def test_an_incoming_offer_is_learnt_from_its_started_event() -> None:
    # §4 [I]: an Incoming renegotiation is started with a mediaOffer; the event names it and carries its operationId
    model = Renegotiation()
    model.started(now=1.0, href=RENEGOTIATION, representation=_incoming(operation_id="their-op"),
                  media_offer=THEIR_SDP, deadline=30.0)
    assert model.state is S.REMOTE_OFFERED
    assert model.direction is Direction.INCOMING
    assert model.href == RENEGOTIATION
    assert model.operation_id == "their-op"
    assert model.media_offer == THEIR_SDP
    assert model.deadline == 30.0


def test_expire_before_the_deadline_says_when_it_is_due() -> None:
    model = _theirs(deadline=30.0)
    with pytest.raises(NotDue) as caught:
        model.expire(now=4.0)
    error = caught.value
    assert (error.machine, error.state) == ("renegotiation", S.REMOTE_OFFERED)
    assert "30" in error.why  # the deadline
    assert "4" in error.why  # and the time it was asked at
    assert model.state is S.REMOTE_OFFERED


def test_expire_without_a_deadline_says_so() -> None:
    model = _theirs(deadline=None)
    with pytest.raises(NotDue) as caught:
        model.expire(now=4.0)
    assert caught.value.machine == "renegotiation"
    assert caught.value.why
    assert caught.value.why != InvalidTrigger("m", S.IDLE, caught.value.trigger).why


def test_their_offer_expired_is_dismissed_with_unknown_and_ends_as_a_timeout() -> None:
    model = _theirs(deadline=30.0)
    (action,) = model.expire(now=31.0)
    assert action.body() == {"reason": "Unknown"}  # type: ignore[attr-defined]
    assert model.decline_reason is D.UNKNOWN
    model.request_succeeded(now=32.0)
    assert model.state is S.DISMISSED
    assert model.outcome is not None
    assert model.outcome.reason is not None
    # the deadline dismissed it, not the app: the outcome says Timeout, not Declined
    assert model.outcome.reason.subcode_is("Timeout")


def test_their_offer_dismissed_by_the_app_ends_as_declined_naming_the_reason() -> None:
    model = _theirs()
    model.dismiss(now=2.0, reason=D.INSUFFICIENT_BANDWIDTH)
    model.request_succeeded(now=3.0)
    assert model.outcome is not None
    reason = model.outcome.reason
    assert reason is not None
    assert reason.code == "LocalFailure"  # the app refused it here: no server failure
    assert reason.subcode_is("Declined")
    assert reason.message is not None
    assert "InsufficientBandwidth" in reason.message


def test_an_expiry_is_still_a_timeout_when_the_offer_is_announced_again_while_dismissing() -> None:
    # the step that entered dismissing (the deadline's) decides; a repeated started (events may repeat,
    # docs/protocol.md §2.2) changes nothing while we wait for the 204
    model = _theirs(deadline=30.0)
    model.expire(now=31.0)
    model.started(now=31.5, href=RENEGOTIATION, representation=_incoming())
    assert model.state is S.DISMISSING
    model.request_succeeded(now=32.0)
    assert model.outcome is not None
    assert model.outcome.reason is not None
    assert model.outcome.reason.subcode_is("Timeout")


def test_a_remote_rejection_keeps_the_reason_it_came_with() -> None:
    model = Renegotiation()
    model.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    model.created(now=0.5, href=RENEGOTIATION, representation=Representation(direction="Outgoing"))
    given = Reason("RemoteFailure", "Declined", "the peer said no")
    model.remote_rejected(now=1.0, reason=given)
    assert model.outcome is not None
    assert model.outcome.reason == given


def test_a_remote_rejection_without_reason_records_a_reason_that_says_what_happened() -> None:
    model = Renegotiation()
    model.offer(now=0.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    model.created(now=0.5, href=RENEGOTIATION, representation=Representation(direction="Outgoing"))
    model.remote_rejected(now=1.0)
    assert model.outcome is not None
    assert model.outcome.reason is not None
    assert model.outcome.reason.message


def test_a_session_hands_the_time_href_and_deadline_to_the_renegotiation_it_starts() -> None:
    session = AudioVideoSession()
    ours, _ = session.offer(now=5.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP, deadline=35.0)
    assert ours.deadline == 35.0
    assert ours.history[-1].at == 5.0
    with pytest.raises(RenegotiationInFlight) as caught:
        session.offer(now=6.0, href=RENEGOTIATIONS, operation_id="op-2", sdp=SDP)
    error = caught.value
    assert error.in_flight is ours
    assert (error.machine, error.state) == ("renegotiation", S.OFFERING)
    # the refusal explains the one-at-a-time rule (§4), not a missing table row
    assert error.why != InvalidTrigger("renegotiation", S.OFFERING, error.trigger).why

    other = AudioVideoSession()
    theirs, actions = other.incoming(now=7.0, representation=_incoming(), href=RENEGOTIATION,
                                     media_offer=THEIR_SDP, deadline=40.0)
    assert actions == ()
    assert theirs.href == RENEGOTIATION
    assert theirs.deadline == 40.0
    assert theirs.media_offer == THEIR_SDP
    assert theirs.history[-1].at == 7.0


def test_glare_dismisses_theirs_with_conflict_at_the_time_it_arrived() -> None:
    session = AudioVideoSession()
    ours, _ = session.offer(now=5.0, href=RENEGOTIATIONS, operation_id="op-1", sdp=SDP)
    theirs, actions = session.incoming(now=8.0, representation=_incoming(), href=RENEGOTIATION)
    (action,) = actions
    assert action.body() == {"reason": "Conflict"}  # type: ignore[attr-defined]
    assert theirs.state is S.DISMISSING
    assert [step.at for step in theirs.history] == [8.0, 8.0]
    assert session.current is ours


@pytest.mark.parametrize(("rel", "trigger"), [("answer", "answer"), ("dismiss", "dismiss")])
def test_answer_or_dismiss_without_its_link_names_the_machine_and_the_trigger(rel: str, trigger: str) -> None:
    # §4: the app POSTs answer or dismiss through the links of the renegotiation; without one, nothing is sent
    model = Renegotiation()
    other = DISMISS if rel == "answer" else ANSWER
    model.started(now=1.0, href=RENEGOTIATION, representation=Representation(direction="Incoming", links=[other]))
    with pytest.raises(LinkMissing) as caught:
        getattr(model, trigger)(now=2.0)
    assert (caught.value.machine, caught.value.state) == ("renegotiation", S.REMOTE_OFFERED)
    assert caught.value.trigger.value == trigger
    assert caught.value.rels == (rel,)
