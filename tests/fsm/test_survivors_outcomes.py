"""What an ended call or join keeps as its outcome, when the end came in an odd way (fsm/outcome.py).

fsm/outcome.py "Final outcomes": an end seen without status (an ``updated``
to a final state, docs/protocol.md §2.3) has no status and no reason code, and
a later ``completed`` that agrees fills them in; a failure always carries a
reason, "``None`` on success unless given". A reason callfsm writes itself
says who said what in words a log reader can use, and never shows Python's
``None`` for something that was not given. An action names a resource the
machine knows: without an href there is nothing to GET or POST.
"""

from __future__ import annotations

import pytest

from fsm.actions import FetchResource, PostLink
from fsm.errors import InvalidInput, NotDue
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.reasons import Reason
from fsm.renegotiation import Renegotiation
from fsm.wire import Link, Representation

INV = "/ucwa/v1/applications/1/communication/invitations/7"
START = "/ucwa/v1/applications/1/communication/startMessaging"
OMI = "/communication/onlineMeetingInvitations/1"
JOIN = "/communication/joinOnlineMeeting"
MEETING = "sip:organizer@contoso.com;gruu;opaque=app:conf:focus:id:ABC"
#: A refusal whose body named no code: adapters/wire/ucwa_errors.py then takes the HTTP status's name,
#: and a status with no name (a 418) leaves the code unset.
CODELESS = Reason(None, None, "HTTP 418")
AN_HOUR = 3600.0


def _sent_call() -> Invitation:
    call = Invitation(kind=InvitationKind.MESSAGING)
    call.send(now=0.0, href=START, operation_id="op-1", to="sip:b@contoso.com")
    return call


def _created_call() -> Invitation:
    call = _sent_call()
    call.created(now=0.1, href=INV)
    return call


def _sent_join(**more: object) -> OnlineMeetingJoin:
    join = OnlineMeetingJoin()
    join.send(now=0.0, href=JOIN, online_meeting_uri=MEETING, **more)  # type: ignore[arg-type]
    return join


def _started_join(*links: Link, **more: object) -> OnlineMeetingJoin:
    join = _sent_join(**more)
    join.created(now=0.1, href=OMI)
    join.started(now=0.2, href=OMI, representation=Representation(state="Connecting", links=links))
    return join


# -- an end seen in an updated: who said it, and a success has no reason ------------------------------------


@pytest.mark.parametrize("make", [_created_call, _started_join], ids=["invitation", "join"])
def test_an_end_seen_in_an_updated_says_the_updated_said_it(make: object) -> None:
    assert callable(make)
    model = make()
    model.updated(now=0.5, representation=Representation(state="Declined"))
    assert model.outcome is not None
    assert model.outcome.success is False
    assert (model.outcome.status, model.outcome.reason.code) == (None, None)  # no status, no code yet
    message = model.outcome.reason.message
    assert "updated" in message  # who said it: the event the end was seen in
    assert "Declined" in message  # and what it said
    assert "None" not in message


def test_a_success_seen_in_an_updated_carries_no_reason() -> None:
    call = _created_call()
    call.updated(now=0.5, representation=Representation(state="Connected"))
    assert call.state is InvitationState.CONNECTED
    assert call.outcome is not None
    assert (call.outcome.success, call.outcome.reason) == (True, None)


@pytest.mark.parametrize("make", [_created_call, _started_join], ids=["invitation", "join"])
def test_a_completed_success_fills_in_the_status_of_a_success_seen_in_an_updated(make: object) -> None:
    # the SendAnIM sample: updated to Connected, then completed Success: the server's own word is kept
    assert callable(make)
    model = make()
    model.updated(now=0.5, representation=Representation(state="Connected"))
    model.completed(now=0.7, status="Success")
    assert model.outcome is not None
    assert (model.outcome.success, model.outcome.status) == (True, "Success")
    assert model.outcome_is_final(0.7)


def test_a_failure_completed_without_a_reason_says_how_it_ended() -> None:
    call = _created_call()
    call.completed(now=0.5, status="Failure")
    assert call.state is InvitationState.FAILED
    assert call.outcome is not None
    assert call.outcome.reason is not None
    message = call.outcome.reason.message
    assert "Failed" in message
    assert "None" not in message


# -- a refusal whose reason has no code -----------------------------------------------------------------------


@pytest.mark.parametrize("make", [_sent_call, _sent_join], ids=["invitation", "join"])
def test_a_refusal_without_a_code_still_ends_the_request_with_that_reason(make: object) -> None:
    assert callable(make)
    model = make()
    model.request_failed(now=5.0, reason=CODELESS)
    assert model.state in (InvitationState.FAILED, OnlineMeetingState.FAILED)
    assert model.outcome is not None
    assert (model.outcome.success, model.outcome.reason) == (False, CODELESS)
    assert model.outcome_is_final(5.0 + AN_HOUR)


def test_a_refusal_without_a_code_is_final_at_once() -> None:
    # a refused create leaves no resource, so no completed can come to fill the outcome in
    # (fsm/outcome.py: "final ... when nothing can add to it (a synchronous refusal")
    call = _sent_call()
    call.request_failed(now=5.0, reason=CODELESS)
    assert call.outcome_is_final(5.0)
    join = _sent_join()
    join.request_failed(now=5.0, reason=CODELESS)
    assert join.outcome_is_final(5.0)
    # final means no later event rewrites it, even one a provisional outcome would take
    later = Reason("RemoteFailure", "Declined")
    call.completed(now=6.0, href=INV, status="Failure", reason=later, representation=Representation(state="Failed"))
    assert call.outcome is not None
    assert call.outcome.reason == CODELESS


# -- nothing to fetch or hang up without a resource ------------------------------------------------------------


def test_a_completed_saying_nothing_before_the_201_asks_for_no_fetch_of_nothing() -> None:
    # neither status nor state: the machine would GET the resource (docs/protocol.md §9.2), but no href is
    # known yet (no 201, none in the event)
    call = _sent_call()
    actions = call.completed(now=0.5)
    assert actions == ()
    join = _sent_join()
    actions = join.completed(now=0.5)
    assert actions == ()


def test_a_completed_saying_nothing_fetches_the_resource_it_knows() -> None:
    call = _created_call()
    (action,) = call.completed(now=0.5)
    assert isinstance(action, FetchResource)
    assert action.href == INV


def test_a_cancel_crossed_when_no_cancel_link_is_left_hangs_up_with_the_link_the_cancel_used() -> None:
    # our cancel is in flight; an updated drops the links, then the next says Connected (the cancel race of
    # fsm/invitation.py's module docstring) with none either. The call is connected and must be hung up:
    # the only link that ever could is the one our cancel POSTed. Without it the model would sit in
    # hanging_up with nothing sent and nothing in flight, for good.
    call = _created_call()
    call.updated(now=0.2, representation=Representation(state="Connecting", links=(Link("cancel", f"{INV}/c"),)))
    call.cancel(now=0.3)
    call.updated(now=0.35, representation=Representation(state="Connecting"))
    call.updated(now=0.4, representation=Representation(state="Connected"))
    assert call.state is InvitationState.CANCEL_CROSSED
    assert call.request_succeeded(now=0.5) == (PostLink("cancel", f"{INV}/c"),)
    assert call.state is InvitationState.HANGING_UP
    # a server that no longer takes that link refuses it: the call is back to Connected, not stuck
    call.request_failed(now=0.6, reason=Reason("ResourceNotFound", None))
    assert call.state is InvitationState.CONNECTED

    join = _started_join(Link("cancel", f"{OMI}/cancel"))
    join.cancel(now=0.3)
    join.updated(now=0.35, representation=Representation(state="Connecting"))
    join.updated(now=0.4, representation=Representation(state="Connected"))
    assert join.state is OnlineMeetingState.CANCEL_CROSSED
    assert join.request_succeeded(now=0.5) == (PostLink("cancel", f"{OMI}/cancel"),)


def test_an_end_with_no_cancel_link_after_the_cancel_was_answered_hangs_up_with_the_cancels_link() -> None:
    # the same race the other way round: the cancel's 204 came first (cancel_answered), then the links
    # went, then Success: the hang-up goes out at once, through the link the cancel used
    call = _created_call()
    call.updated(now=0.2, representation=Representation(state="Connecting", links=(Link("cancel", f"{INV}/c"),)))
    call.cancel(now=0.3)
    call.request_succeeded(now=0.32)
    call.updated(now=0.35, representation=Representation(state="Connecting"))
    assert call.updated(now=0.4, representation=Representation(state="Connected")) == (
        PostLink("cancel", f"{INV}/c"),
    )
    assert call.state is InvitationState.HANGING_UP


def test_the_hang_up_prefers_the_newest_cancel_link_the_server_gave_to_the_one_the_cancel_used() -> None:
    # after our cancel an updated carries another cancel link, then Success comes with none: the server's
    # newest word on where to hang up wins over the link we cancelled with
    call = _created_call()
    call.updated(now=0.2, representation=Representation(state="Connecting", links=(Link("cancel", f"{INV}/c"),)))
    call.cancel(now=0.3)
    call.updated(now=0.35, representation=Representation(state="Connecting", links=(Link("cancel", f"{INV}/c2"),)))
    call.updated(now=0.4, representation=Representation(state="Connected"))
    assert call.request_succeeded(now=0.5) == (PostLink("cancel", f"{INV}/c2"),)

    join = _started_join(Link("cancel", f"{OMI}/cancel"))
    join.cancel(now=0.3)
    join.updated(now=0.35, representation=Representation(state="Connecting", links=(Link("cancel", f"{OMI}/c2"),)))
    join.updated(now=0.4, representation=Representation(state="Connected"))
    assert join.request_succeeded(now=0.5) == (PostLink("cancel", f"{OMI}/c2"),)


def test_a_join_that_left_the_lobby_on_its_deadline_hangs_up_with_that_link_if_admitted_meanwhile() -> None:
    # the lobby deadline's leave is a cancel too: admitted as it left, with no link left anywhere, the
    # hang-up goes through the link the leave used
    join = _started_join(Link("cancel", f"{OMI}/leave"), lobby_deadline=5.0)
    join.participant_updated(now=0.3, in_lobby=True)
    assert join.lobby_timeout(now=5.0) == (PostLink("cancel", f"{OMI}/leave"),)
    join.updated(now=5.1, representation=Representation(state="Connecting"))
    join.updated(now=5.2, representation=Representation(state="Connected"))
    assert join.request_succeeded(now=5.3) == (PostLink("cancel", f"{OMI}/leave"),)


# -- the lobby timeout: what the server said is kept in words ------------------------------------------------


def test_a_timed_out_join_whose_completed_had_no_reason_says_so_without_none() -> None:
    join = _started_join(Link("cancel", f"{OMI}/cancel"), lobby_deadline=5.0)
    join.participant_updated(now=0.3, in_lobby=True)
    join.lobby_timeout(now=5.0)
    join.completed(now=5.5, status="Failure")
    assert join.outcome is not None
    assert join.outcome.reason is not None
    assert join.outcome.reason.subcode == "Timeout"
    assert "None" not in join.outcome.reason.message


def test_a_started_never_ends_a_join_so_it_sets_no_outcome() -> None:
    # only updated's embedded state ends a join (fsm/online_meeting.py); a join has an outcome once it ended
    join = _sent_join()
    join.created(now=0.1, href=OMI)
    join.started(now=0.2, href=OMI, representation=Representation(state="Failed"))
    assert (join.outcome is None) is (not join.is_terminal)


# -- renegotiation: words, never None --------------------------------------------------------------------------


def test_an_expire_without_a_deadline_says_so_without_none() -> None:
    offer = Renegotiation()
    offer.offer(now=0.0, href="/renegotiations", operation_id="op-r", sdp="v=0")
    with pytest.raises(NotDue) as caught:
        offer.expire(now=1.0)
    assert "None" not in caught.value.why


def test_a_remote_rejection_without_reason_records_one_without_none() -> None:
    offer = Renegotiation()
    offer.offer(now=0.0, href="/renegotiations", operation_id="op-r", sdp="v=0")
    offer.created(now=0.2, representation=Representation(direction="Outgoing"), href="/renegotiations/1")
    offer.remote_rejected(now=1.0)
    assert offer.outcome is not None
    assert offer.outcome.reason is not None
    assert offer.outcome.reason.message
    assert "None" not in offer.outcome.reason.message


# -- a refused SDP answer names the request --------------------------------------------------------------------


@pytest.mark.parametrize("rel", ["acceptWithAnswer", "sendProvisionalAnswer"])
def test_an_sdp_answer_without_a_session_context_names_the_request(rel: str) -> None:
    call = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    call.started(now=1.0, href=INV, representation=Representation(
        state="Connecting", direction="Incoming", links=(Link(rel, f"{INV}/{rel}"),)))
    fire = call.accept_with_answer if rel == "acceptWithAnswer" else call.send_provisional_answer
    with pytest.raises(InvalidInput) as caught:
        fire(now=2.0, sdp="v=0", session_context=None)
    assert caught.value.field == "sessionContext"
    assert rel in caught.value.why

