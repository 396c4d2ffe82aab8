"""A machine's history is its audit trail: each step is stamped with the caller's time and says why.

fsm/engine.py ``Step``: ``at`` is "the time the caller passed in with the
trigger (its own clock)" and ``reason`` is "why, in words: a reason code/subcode,
a decline reason, a guard branch". ``callfsm replay`` and the live diagrams show
both, and an app logs them. So a step taken at ``now`` says ``now``, and a step
that a wire value or an app's choice caused names that value: the refusal's
code and subcode, the state an event carried, the sub-meeting IDs a DELETE
named, the target a call was forwarded to. The wording around the value is not
pinned; the value is taken from the input each test gives, never from the code.
Where the cause is no value at all (a roster ``added``, a deadline that passed),
the step still says something: a step with no reason reads as "no reason".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fsm.invitation import Invitation, InvitationKind, InvitationState, InvitationTrigger
from fsm.lobby_participant import LobbyParticipant, LobbyParticipantState, LobbyParticipantTrigger
from fsm.meeting_series import MeetingSeries, MeetingSeriesState, MeetingSeriesTrigger
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState, OnlineMeetingTrigger
from fsm.reasons import Reason
from fsm.renegotiation import (
    Renegotiation,
    ReNegotiationDeclineReason,
    RenegotiationState,
    RenegotiationTrigger,
)
from fsm.wire import Link, Representation

INV = "/ucwa/v1/applications/1/communication/invitations/7"
START = "/ucwa/v1/applications/1/communication/startMessaging"
REFUSAL = Reason("Forbidden", "InviteesOnly", "only invitees may join")


def _last(model: Any) -> Any:
    return model.history[-1]


def _says(step: Any, *values: str) -> None:
    assert step.reason is not None, f"{step.trigger} recorded no reason"
    for value in values:
        assert value in step.reason, f"{step.trigger}'s step does not name {value!r}: {step.reason!r}"


# -- invitation (docs/protocol.md §1.4: an incoming call's links gate what the app may do) ---------------------


def _ringing(kind: InvitationKind, *rels: str) -> Invitation:
    call = Invitation(kind=kind)
    links = tuple(Link(rel, f"{INV}/{rel}") for rel in rels)
    call.started(now=1.0, href=INV, representation=Representation(state="Connecting", direction="Incoming",
                                                                  links=links))
    return call


def _outgoing() -> Invitation:
    call = Invitation(kind=InvitationKind.MESSAGING)
    call.send(now=0.0, href=START, operation_id="op-1", to="sip:b@contoso.com")
    call.created(now=0.1, href=INV)
    return call


@pytest.mark.parametrize(
    ("kind", "rel", "fire", "trigger"),
    [
        (InvitationKind.MESSAGING, "accept", lambda c: c.accept(now=2.5), InvitationTrigger.ACCEPT),
        (InvitationKind.AUDIO_VIDEO, "acceptWithPhoneAudio", lambda c: c.accept_with_phone_audio(now=2.5),
         InvitationTrigger.ACCEPT_WITH_PHONE_AUDIO),
        (InvitationKind.AUDIO_VIDEO, "sendProvisionalAnswer",
         lambda c: c.send_provisional_answer(now=2.5, sdp="v=0", session_context="ctx-1"),
         InvitationTrigger.SEND_PROVISIONAL_ANSWER),
        (InvitationKind.AUDIO_VIDEO, "acceptAndBridgeAudioVideo",
         lambda c: c.accept_and_bridge(now=2.5, meeting_uri="sip:m@contoso.com"),
         InvitationTrigger.ACCEPT_AND_BRIDGE),
        (InvitationKind.MESSAGING, "decline", lambda c: c.decline(now=2.5), InvitationTrigger.DECLINE),
        (InvitationKind.AUDIO_VIDEO, "forward", lambda c: c.forward(now=2.5), InvitationTrigger.FORWARD),
    ],
)
def test_what_the_app_did_with_an_incoming_call_is_stamped_with_the_apps_time(
    kind: InvitationKind, rel: str, fire: Callable[[Invitation], object], trigger: InvitationTrigger
) -> None:
    call = _ringing(kind, rel)
    fire(call)
    assert (_last(call).trigger, _last(call).at) == (trigger, 2.5)


def test_a_forward_names_its_target() -> None:
    call = _ringing(InvitationKind.AUDIO_VIDEO, "forward")
    call.forward(now=2.0, to="sip:carol@contoso.com")
    _says(_last(call), "sip:carol@contoso.com")


def test_a_forward_without_a_target_says_so_without_inventing_one() -> None:
    # ms:rtc:saas:forward marks the target optional: the step says "forward", and shows no Python None
    call = _ringing(InvitationKind.AUDIO_VIDEO, "forward")
    call.forward(now=2.0)
    _says(_last(call))
    assert "None" not in _last(call).reason


def test_the_response_to_a_request_is_stamped_with_its_time() -> None:
    call = _ringing(InvitationKind.MESSAGING, "accept")
    call.accept(now=2.0)
    call.request_succeeded(now=2.25)
    assert (_last(call).trigger, _last(call).at) == (InvitationTrigger.REQUEST_SUCCEEDED, 2.25)


def test_a_refused_request_names_the_refusal_at_its_time() -> None:
    call = Invitation(kind=InvitationKind.MESSAGING)
    call.send(now=0.0, href=START, operation_id="op-1", to="sip:b@contoso.com")
    call.request_failed(now=0.75, reason=REFUSAL)
    assert call.state is InvitationState.FAILED
    assert _last(call).at == 0.75
    _says(_last(call), "Forbidden", "InviteesOnly")


def test_a_completed_without_a_reason_names_its_status() -> None:
    call = _outgoing()
    call.completed(now=0.5, status="Failure")
    _says(_last(call), "Failure")
    assert "None" not in _last(call).reason


def test_a_completed_with_only_an_embedded_state_names_that_state() -> None:
    call = _outgoing()
    call.completed(now=0.5, representation=Representation(state="Declined"))
    assert call.state is InvitationState.DECLINED
    _says(_last(call), "Declined")


def test_a_completed_with_a_reason_names_the_reason() -> None:
    call = _outgoing()
    call.completed(now=0.5, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    _says(_last(call), "RemoteFailure", "Declined")


def test_an_updated_that_ends_the_call_names_the_final_state_it_carried() -> None:
    # docs/protocol.md §2.3: most invitations get only started and updated; the final state ends them
    call = _outgoing()
    call.updated(now=0.5, representation=Representation(state="Cancelled"))
    assert call.state is InvitationState.CANCELLED
    _says(_last(call), "Cancelled")


# -- online-meeting join (docs/protocol.md §1.5, §3) --------------------------------------------------------

OMI = "/communication/onlineMeetingInvitations/1"
MEETING = "sip:organizer@contoso.com;gruu;opaque=app:conf:focus:id:ABC"
OMI_CANCEL = Link("cancel", f"{OMI}/cancel")


def _joining(*links: Link, lobby_deadline: float | None = None) -> OnlineMeetingJoin:
    join = OnlineMeetingJoin()
    join.send(now=0.0, href="/communication/joinOnlineMeeting", online_meeting_uri=MEETING,
              lobby_deadline=lobby_deadline)
    join.created(now=0.1, href=OMI)
    join.started(now=0.2, href=OMI, representation=Representation(state="Connecting", links=links))
    return join


def test_a_refused_join_names_the_refusal() -> None:
    join = OnlineMeetingJoin()
    join.send(now=0.0, href="/communication/joinOnlineMeeting", online_meeting_uri=MEETING)
    join.request_failed(now=0.5, reason=REFUSAL)
    assert join.state is OnlineMeetingState.FAILED
    _says(_last(join), "Forbidden", "InviteesOnly")


def test_an_omi_event_names_the_state_it_carried() -> None:
    join = _joining()
    assert _last(join).trigger is OnlineMeetingTrigger.STARTED
    _says(_last(join), "Connecting")


@pytest.mark.parametrize(("in_lobby", "shown"), [(True, "true"), (False, "false")])
def test_a_participant_update_names_the_in_lobby_value_it_carried(in_lobby: bool, shown: str) -> None:
    # the wire's inLobby is a JSON boolean: the step shows it as JSON spells it
    join = _joining()
    join.participant_updated(now=0.3, in_lobby=in_lobby)
    _says(_last(join), "inLobby", shown)
    assert ("false" if in_lobby else "true") not in _last(join).reason


def test_a_participant_update_without_in_lobby_shows_no_value_for_it() -> None:
    join = _joining()
    join.participant_updated(now=0.3, in_lobby=None)
    _says(_last(join), "inLobby")
    for value in ("true", "false", "none"):
        assert value not in _last(join).reason.lower()


def test_a_conversation_update_names_the_conversation_state() -> None:
    join = _joining()
    join.conversation_updated(now=0.3, state="InLobby")
    assert join.state is OnlineMeetingState.IN_LOBBY
    _says(_last(join), "InLobby")


def test_being_added_to_the_roster_is_said() -> None:
    join = _joining()
    join.roster_added(now=0.4)
    _says(_last(join))


def test_a_completed_join_names_its_reason_or_else_its_status() -> None:
    refused = _joining()
    refused.completed(now=0.5, status="Failure", reason=REFUSAL)
    _says(_last(refused), "Forbidden", "InviteesOnly")

    connected = _joining()
    connected.completed(now=0.5, status="Success")
    _says(_last(connected), "Success")
    assert "None" not in _last(connected).reason


def test_a_lobby_deadline_given_up_without_a_cancel_link_names_the_timeout() -> None:
    join = _joining(lobby_deadline=5.0)
    join.participant_updated(now=0.3, in_lobby=True)
    join.lobby_timeout(now=5.0)
    assert join.outcome is not None
    assert join.outcome.reason is not None
    # the step that gave up names the reason the join ended with, as a refused request's step does
    _says(_last(join), str(join.outcome.reason.code), str(join.outcome.reason.subcode))
    assert join.outcome.reason.message  # and the outcome says why in words


def test_a_lobby_deadline_left_through_the_cancel_link_is_said() -> None:
    join = _joining(OMI_CANCEL, lobby_deadline=5.0)
    join.participant_updated(now=0.3, in_lobby=True)
    join.lobby_timeout(now=5.0)
    assert join.state is OnlineMeetingState.CANCELLING
    _says(_last(join))


# -- lobby participant (a leader's view; docs/protocol.md §3) ------------------------------------------------

LOBBY = "/communication/conversations/1/lobby/participants/sip:c@contoso.com"


def _waiting(*rels: str) -> LobbyParticipant:
    who = LobbyParticipant()
    who.added(now=1.0, href=LOBBY, representation=Representation(links=tuple(Link(r, f"{LOBBY}/{r}") for r in rels)))
    return who


def test_each_lobby_and_roster_event_is_said() -> None:
    who = _waiting()
    _says(_last(who))
    left = _waiting()
    left.deleted(now=2.0)
    assert left.state is LobbyParticipantState.LEFT_LOBBY
    _says(_last(left))
    admitted = _waiting()
    admitted.roster_added(now=2.0)
    assert admitted.state is LobbyParticipantState.ADMITTED
    _says(_last(admitted))


def test_a_refused_admit_names_the_refusal() -> None:
    who = _waiting("admit")
    who.admit(now=2.0)
    who.request_failed(now=2.5, reason=Reason("Conflict", "AlreadyExists"))
    assert (_last(who).trigger, who.state) == (LobbyParticipantTrigger.REQUEST_FAILED, LobbyParticipantState.WAITING)
    _says(_last(who), "Conflict", "AlreadyExists")


def test_a_roster_event_after_the_end_is_recorded_but_changes_nothing() -> None:
    # the table's rule for an ended participant: late events are recorded and change nothing
    who = _waiting("reject")
    who.reject(now=2.0)
    who.deleted(now=2.5)
    assert who.state is LobbyParticipantState.REJECTED
    who.roster_added(now=3.0, href="/communication/conversations/1/participants/sip:c@contoso.com")
    assert who.state is LobbyParticipantState.REJECTED
    assert who.roster_href is None


# -- meeting series (Huawei; docs/protocol.md §7) -------------------------------------------------------------

CONF = "914083136"


def test_a_series_cancel_says_which_kind_of_cancel_it_sent() -> None:
    # a plain DELETE and one with type=1 (docs/protocol.md §7.1) are told apart in the trail
    plain = MeetingSeries(conference_id=CONF)
    plain.cancel(now=1.0)
    forced = MeetingSeries(conference_id=CONF)
    forced.cancel(now=1.0, cancel_ongoing=True)
    _says(_last(plain))
    _says(_last(forced))
    assert _last(plain).reason != _last(forced).reason


def test_a_sub_meeting_cancel_names_every_id_it_sent_and_its_answers_name_theirs() -> None:
    series = MeetingSeries(conference_id=CONF)
    series.cancel_sub_meetings(now=1.0, ids=["sub-a", "sub-b", "sub-c"])
    _says(_last(series), "sub-a", "sub-b", "sub-c")
    series.sub_cancel_succeeded(now=2.0, ids=["sub-b"])
    _says(_last(series), "sub-b")
    series.sub_cancel_failed(now=3.5, ids=["sub-c"], status=403, error_code="MMC.111072065")
    assert _last(series).at == 3.5
    _says(_last(series), "403", "MMC.111072065")


def test_an_observed_conference_state_is_named() -> None:
    series = MeetingSeries(conference_id=CONF)
    series.conference_state_observed(now=1.0, conference_state="Created")
    _says(_last(series), "Created")


def test_the_end_of_a_series_is_stamped_with_its_time() -> None:
    cancelled = MeetingSeries(conference_id=CONF)
    cancelled.cancel(now=1.0)
    cancelled.cancel_succeeded(now=1.5)
    assert (_last(cancelled).trigger, _last(cancelled).at) == (MeetingSeriesTrigger.CANCEL_SUCCEEDED, 1.5)
    assert cancelled.state is MeetingSeriesState.CANCELLED
    over = MeetingSeries(conference_id=CONF)
    over.ended(now=7.0)
    assert (_last(over).trigger, _last(over).at) == (MeetingSeriesTrigger.ENDED, 7.0)


# -- renegotiation (docs/protocol.md §4) -----------------------------------------------------------------------

RENEG = "/communication/conversations/1/audioVideo/audioVideoSession/renegotiations/1"


def _theirs(*rels: str, deadline: float | None = None) -> Renegotiation:
    offer = Renegotiation()
    links = tuple(Link(rel, f"{RENEG}/{rel}") for rel in rels)
    offer.started(now=1.0, href=RENEG, representation=Representation(direction="Incoming", links=links),
                  deadline=deadline)
    return offer


def _ours() -> Renegotiation:
    offer = Renegotiation()
    offer.offer(now=0.0, href=f"{RENEG}s", operation_id="op-r", sdp="v=0")
    return offer


def test_an_incoming_offer_names_its_direction() -> None:
    offer = _theirs("answer")
    _says(_last(offer), "Incoming")


def test_answering_and_its_204_are_stamped_with_their_times() -> None:
    offer = _theirs("answer")
    offer.answer(now=2.5)
    assert (_last(offer).trigger, _last(offer).at) == (RenegotiationTrigger.ANSWER, 2.5)
    offer.request_succeeded(now=2.75)
    assert (_last(offer).trigger, _last(offer).at) == (RenegotiationTrigger.REQUEST_SUCCEEDED, 2.75)
    assert offer.state is RenegotiationState.ANSWERED


def test_a_dismiss_names_the_reason_the_app_gave() -> None:
    offer = _theirs("dismiss")
    offer.dismiss(now=2.0, reason=ReNegotiationDeclineReason.CONFLICT)
    _says(_last(offer), ReNegotiationDeclineReason.CONFLICT.value)


def test_an_expired_offer_says_so() -> None:
    offer = _theirs("dismiss", deadline=5.0)
    offer.expire(now=5.0)
    assert _last(offer).trigger is RenegotiationTrigger.EXPIRE
    _says(_last(offer))


def test_a_refused_offer_names_the_refusal() -> None:
    offer = _ours()
    offer.request_failed(now=0.5, reason=Reason("ServiceFailure", "CallbackChannelError"))
    _says(_last(offer), "ServiceFailure", "CallbackChannelError")


def test_the_remotes_answer_and_refusal_are_stamped_and_the_refusal_named() -> None:
    answered = _ours()
    answered.created(now=0.2, representation=Representation(direction="Outgoing"), href=RENEG)
    answered.remote_answered(now=3.0, media_answer="v=0")
    assert (_last(answered).trigger, _last(answered).at) == (RenegotiationTrigger.REMOTE_ANSWERED, 3.0)
    rejected = _ours()
    rejected.created(now=0.2, representation=Representation(direction="Outgoing"), href=RENEG)
    rejected.remote_rejected(now=3.0, reason=Reason("RemoteFailure", "Rejected"))
    assert (_last(rejected).trigger, _last(rejected).at) == (RenegotiationTrigger.REMOTE_REJECTED, 3.0)
    _says(_last(rejected), "RemoteFailure", "Rejected")
