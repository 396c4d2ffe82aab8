"""Survivors of ``make mutate`` in fsm/invitation.py: refusals name the machine, trigger and field; what a call keeps.

From docs/protocol.md: §1.1 (``Importance`` is Normal, Urgent or Emergency),
§1.4 / §1.6 (links gate actions; an incoming AV call offers ``forward`` and
``acceptAndBridgeAudioVideo``, SDK input ``MeetingUri, ToUri``; a messaging
one ``acceptAndBridge``, ``MeetingUri, LocalUserDisplayName``), §1.5 (the
Trusted Application API's ``addParticipant`` requires an ``operationId``;
``acceptWithAnswer`` takes a ``sessionContext`` of at most 50 characters and
a ``processedOfferId`` of at most 100; only ``ms:rtc:saas:accept`` takes a
``mediaHost``). A refusal names what it refused (fsm/errors.py).
"""

from __future__ import annotations

import pytest

from fsm.actions import FetchResource, PostLink
from fsm.errors import InvalidInput, InvalidTrigger, LinkMissing
from fsm.invitation import Invitation, InvitationKind, InvitationState, InvitationTrigger
from fsm.reasons import Reason
from fsm.wire import Link, Representation

S = InvitationState
T = InvitationTrigger
INV = "/ucwa/v1/applications/1/communication/invitations/7"
START = "/ucwa/v1/applications/1/communication/startAudioVideo"


def _incoming(kind: InvitationKind, *links: Link) -> Invitation:
    call = Invitation(kind=kind)
    call.started(now=1.0, href=INV, representation=Representation(state="Connecting", direction="Incoming",
                                                                  links=links))
    assert call.state is S.CONNECTING
    return call


def _input_refusal(call: object) -> InvalidInput:
    assert callable(call)
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("importance", ["High", "", 5])
def test_an_importance_that_is_not_documented_is_refused_naming_the_allowed_ones(importance: object) -> None:
    call = Invitation(kind=InvitationKind.MESSAGING)
    error = _input_refusal(
        lambda: call.send(now=0.0, href=START, to="sip:b@contoso.com", importance=importance)  # type: ignore[arg-type]
    )
    assert (error.machine, error.field) == ("invitation", "importance")
    for allowed in ("Normal", "Urgent", "Emergency"):
        assert allowed in error.why
    assert call == Invitation(kind=InvitationKind.MESSAGING)


def test_a_saas_add_participant_without_an_operation_id_is_refused_naming_the_field() -> None:
    call = Invitation(kind=InvitationKind.PARTICIPANT)
    error = _input_refusal(lambda: call.send(now=0.0, href="/addParticipant", to="sip:b@contoso.com", saas=True))
    assert (error.machine, error.field) == ("invitation", "operationId")
    assert error.why


@pytest.mark.parametrize(("kind", "field"), [(InvitationKind.MESSAGING, "to"),
                                             (InvitationKind.ONLINE_MEETING, "onlineMeetingUri")])
def test_a_creation_without_its_target_names_the_targets_property(kind: InvitationKind, field: str) -> None:
    call = Invitation(kind=kind)
    error = _input_refusal(lambda: call.send(now=0.0, href=START, operation_id="op-1"))
    assert (error.machine, error.field) == ("invitation", field)


def test_a_kind_that_cannot_be_accepted_says_so_naming_the_machine() -> None:
    # §1.2: a phone-audio invitation cannot be accepted through the API (one answers the phone), even when
    # the resource lists an accept link: the refusal is the kind's, not a missing link
    call = _incoming(InvitationKind.PHONE_AUDIO, Link("accept", f"{INV}/accept"))
    with pytest.raises(InvalidTrigger) as caught:
        call.accept(now=2.0)
    assert not isinstance(caught.value, LinkMissing)
    assert (caught.value.machine, caught.value.trigger) == ("invitation", T.ACCEPT)


def test_media_host_on_a_ucwa_accept_is_refused_naming_the_field_and_the_link() -> None:
    call = _incoming(InvitationKind.MESSAGING, Link("accept", f"{INV}/accept"))
    error = _input_refusal(lambda: call.accept(now=2.0, media_host="Remote"))
    assert (error.machine, error.field) == ("invitation", "mediaHost")
    assert "accept" in error.why
    assert call.state is S.CONNECTING


def test_the_older_accept_with_an_answer_fires_at_the_time_given() -> None:
    call = _incoming(InvitationKind.AUDIO_VIDEO, Link("acceptWithAnswer", f"{INV}/acceptWithAnswer"))
    call.accept(now=2.5, answer_sdp="v=0", session_context="ctx-1")
    assert call.history[-1].at == 2.5
    assert call.history[-1].trigger is T.ACCEPT_WITH_ANSWER


@pytest.mark.parametrize(
    ("session_context", "processed_offer_id", "field"),
    [(None, None, "sessionContext"), ("", None, "sessionContext"), ("c" * 51, None, "sessionContext"),
     ("ctx", "p" * 101, "processedOfferId")],
)
def test_a_refused_answer_names_the_machine_and_the_query_parameter(
    session_context: str | None, processed_offer_id: str | None, field: str
) -> None:
    call = _incoming(InvitationKind.AUDIO_VIDEO, Link("acceptWithAnswer", f"{INV}/acceptWithAnswer"))
    error = _input_refusal(lambda: call.accept_with_answer(
        now=2.0, sdp="v=0", session_context=session_context, processed_offer_id=processed_offer_id
    ))
    assert (error.machine, error.field) == ("invitation", field)


@pytest.mark.parametrize(
    ("kind", "fire", "trigger"),
    [
        (InvitationKind.AUDIO_VIDEO, lambda c: c.forward(now=2.0, to="sip:c@contoso.com"), T.FORWARD),
        (InvitationKind.AUDIO_VIDEO, lambda c: c.accept_and_bridge(now=2.0, meeting_uri="sip:m"), T.ACCEPT_AND_BRIDGE),
        (InvitationKind.AUDIO_VIDEO, lambda c: c.accept_with_answer(now=2.0, sdp="v=0", session_context="ctx"),
         T.ACCEPT_WITH_ANSWER),
        (InvitationKind.AUDIO_VIDEO, lambda c: c.send_provisional_answer(now=2.0, sdp="v=0", session_context="ctx"),
         T.SEND_PROVISIONAL_ANSWER),
    ],
)
def test_an_action_whose_link_is_missing_names_its_trigger(kind: InvitationKind, fire: object, trigger: T) -> None:
    call = _incoming(kind, Link("decline", f"{INV}/decline"))
    assert callable(fire)
    with pytest.raises(LinkMissing) as caught:
        fire(call)
    assert (caught.value.machine, caught.value.state, caught.value.trigger) == ("invitation", S.CONNECTING, trigger)


def test_accept_and_bridge_sends_the_meeting_the_display_name_and_the_target() -> None:
    bridge = Link("ms:rtc:saas:acceptAndBridgeAudioVideo", f"{INV}/acceptAndBridgeAudioVideo")
    call = _incoming(InvitationKind.AUDIO_VIDEO, bridge)
    (action,) = call.accept_and_bridge(now=2.0, meeting_uri="sip:m", display_name="Bot", to="sip:c@contoso.com")
    assert isinstance(action, PostLink)
    assert dict(action.properties) == {
        "meetingUri": "sip:m", "localUserDisplayName": "Bot", "toUri": "sip:c@contoso.com",
    }


def test_an_added_participant_is_never_incoming() -> None:
    # §1.2: a participantInvitation is never incoming (it arrives as an onlineMeetingInvitation)
    call = Invitation(kind=InvitationKind.PARTICIPANT)
    with pytest.raises(InvalidTrigger) as caught:
        call.started(now=1.0, href=INV, representation=Representation(state="Connecting", direction="Incoming"))
    assert (caught.value.machine, caught.value.trigger) == ("invitation", T.STARTED)


def test_a_call_refused_at_once_fails() -> None:
    call = Invitation(kind=InvitationKind.MESSAGING)
    call.send(now=0.0, href=START, operation_id="op-1", to="sip:b@contoso.com")
    call.request_failed(now=0.1, reason=Reason("Forbidden", "None"))
    assert call.state is S.FAILED
    assert call.outcome is not None
    assert call.outcome.success is False
    assert call.outcome.reason == Reason("Forbidden", "None")


def test_an_incoming_call_learns_its_href_from_an_updated_event() -> None:
    call = Invitation(kind=InvitationKind.MESSAGING)
    call.started(now=1.0, representation=Representation(state="Connecting", direction="Incoming"))
    assert call.href is None
    call.updated(now=2.0, href=INV, representation=Representation(state="Connecting", direction="Incoming"))
    assert call.href == INV


def test_the_201_location_is_not_rewritten_by_a_second_one() -> None:
    call = Invitation(kind=InvitationKind.MESSAGING)
    call.send(now=0.0, href=START, operation_id="op-1", to="sip:b@contoso.com")
    call.started(now=0.1, href=INV, representation=Representation(state="Connecting"))
    call.created(now=0.2, href=f"{INV}-other")
    assert call.href == INV


def test_an_updated_without_the_resource_makes_the_call_read_it() -> None:
    call = Invitation(kind=InvitationKind.MESSAGING)
    call.send(now=0.0, href=START, operation_id="op-1", to="sip:b@contoso.com")
    call.created(now=0.2, href=INV)
    (action,) = call.updated(now=0.3)
    assert isinstance(action, FetchResource)
    assert action.href == INV


def test_an_event_naming_another_href_does_not_rename_the_call() -> None:
    # the 201's Location names the invitation; a later event cannot make it another resource
    call = Invitation(kind=InvitationKind.MESSAGING)
    call.send(now=0.0, href=START, operation_id="op-1", to="sip:b@contoso.com")
    call.created(now=0.2, href=INV)
    call.updated(now=0.3, href=f"{INV}-other", representation=Representation(state="Connecting"))
    assert call.href == INV


@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        # docs/protocol.md §1.2: the invitation resources, UCWA rels bare, Trusted Application API ones prefixed
        ("audioVideoInvitation", InvitationKind.AUDIO_VIDEO),
        ("ms:rtc:saas:audioVideoInvitation", InvitationKind.AUDIO_VIDEO),
        ("messagingInvitation", InvitationKind.MESSAGING),
        ("ms:rtc:saas:messagingInvitation", InvitationKind.MESSAGING),
        ("onlineMeetingInvitation", InvitationKind.ONLINE_MEETING),
        ("ms:rtc:saas:participantInvitation", InvitationKind.PARTICIPANT),
        ("phoneAudioInvitation", InvitationKind.PHONE_AUDIO),
        # not invitations: a renegotiation (§4), a conversation, a participant
        ("audioVideoRenegotiation", None),
        ("conversation", None),
        ("ms:rtc:saas:participant", None),
    ],
)
def test_an_invitation_kind_is_read_off_its_rel(rel: str, kind: InvitationKind | None) -> None:
    assert InvitationKind.from_rel(rel) is kind


def test_an_updated_with_an_undocumented_state_keeps_the_call_where_it_is() -> None:
    # docs/protocol.md §1.1: InvitationState has eight values; a server that sends another
    # (here "Ringing") must not break the call: the wire value is kept, the progress stays.
    call = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    call.send(now=0.0, href="/app/communication/startAudioVideo", operation_id="op-1", to="sip:bob@contoso.com")
    call.created(now=0.1, href="/app/communication/invitations/1")
    cancel = [Link("cancel", "/app/communication/invitations/1/cancel")]
    call.updated(now=0.2, representation=Representation(state="Alerting", links=cancel))
    call.updated(now=0.3, representation=Representation(state="Ringing", links=cancel))
    assert call.state is InvitationState.ALERTING
    assert call.outcome is None
