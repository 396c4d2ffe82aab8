"""The dispatcher: documented samples drive the machines; strays and refusals are recorded.

Every response goes through :func:`adapters.wire.events.parse_events` first, as on the wire
(``dispatcher_events``). The duplicate window and the dispatcher's memory are in
``test_dispatcher_memory.py``, the online meeting, lobby and renegotiation in
``test_dispatcher_meetings.py``, events held for a 201 in ``test_dispatcher_held.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from dispatcher_events import (
    INV,
    JSON,
    RENEG,
    event,
    incoming,
    links,
    response,
    sample,
    snapshot,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.routing.dispatcher import Dispatcher, DispatchResult
from adapters.wire.events import EventParseError, parse_events
from fsm.actions import FetchResource, PostLink
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.lobby_participant import LobbyParticipant, LobbyParticipantState
from fsm.renegotiation import Renegotiation, RenegotiationState

# -- documented samples drive the machines ---------------------------------------------------------


def test_send_an_im_completed_with_embedded_connected_gives_connected() -> None:
    # S1 SendAnIM.md (docs/protocol.md §2.4): the completed carries the invitation, state Connected
    dispatcher = Dispatcher()
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="startMessaging", operation_id="5028e824-...", to="sip:b@x", subject="Task Sample")
    dispatcher.track(invitation)
    result = dispatcher.feed(sample("sendanim_completed.xml"), now=1.0)
    assert invitation.state is InvitationState.CONNECTED
    assert invitation.outcome is not None
    assert invitation.outcome.success
    (change,) = result.changes
    assert change.model is invitation
    assert (change.source, change.dest) == (InvitationState.SENDING, InvitationState.CONNECTED)
    assert change.moved
    assert invitation.href == ".../communication/messagingInvitations/60c"
    assert dispatcher.model_for(".../communication/messagingInvitations/60c") is invitation
    assert result.violations == ()
    assert result.unknown == ()


def test_seed_002_started_updated_completed() -> None:
    dispatcher = Dispatcher()
    started = dispatcher.feed(sample("seed002_started.json"), now=1.0)
    (invitation,) = started.created
    assert isinstance(invitation, Invitation)
    assert invitation.kind is InvitationKind.AUDIO_VIDEO  # from the rel ms:rtc:saas:audioVideoInvitation
    assert invitation.state is InvitationState.CONNECTING
    assert invitation.href == "communication/invitations/137"
    # no embedded resource: no links to act on until the app reads it (one GET, asked for by the machine)
    (fetch,) = started.actions
    assert isinstance(fetch, FetchResource)
    assert fetch.href == "communication/invitations/137"

    updated = dispatcher.feed(sample("seed002_updated.json"), now=2.0)
    assert updated.created == ()
    assert [c.dest for c in updated.changes] == [InvitationState.CONNECTING]
    # an updated is about links too, and this one carries no resource: read it again (docs/protocol.md §2.4)
    assert [(type(a), a.href) for a in updated.actions] == [(FetchResource, "communication/invitations/137")]

    # the completed sample has neither status nor embedded state: docs/protocol.md §9.2, GET the resource
    completed = dispatcher.feed(sample("seed002_completed.json"), now=3.0)
    assert invitation.state is InvitationState.CONNECTING
    assert invitation.outcome is None
    assert completed.actions == (
        FetchResource("communication/invitations/137", "completed carried neither status nor state"),
    )


def test_seed_003_started_creates_an_incoming_online_meeting_invitation() -> None:
    result = Dispatcher().feed(sample("seed003_started.xml"), now=0.0)
    (created,) = result.created
    assert isinstance(created, Invitation)
    assert created.kind is InvitationKind.ONLINE_MEETING
    assert created.state is InvitationState.CONNECTING


def test_ucwa_started_sample_creates_an_audio_video_invitation() -> None:
    result = Dispatcher().feed(sample("ucwa_av_started.json"), now=0.0)
    (created,) = result.created
    assert isinstance(created, Invitation)
    assert created.kind is InvitationKind.AUDIO_VIDEO
    assert created.href == ".../communication/invitations/507"


def test_lobby_sample_creates_a_lobby_participant() -> None:
    dispatcher = Dispatcher()
    result = dispatcher.feed(sample("lobby_added.json"), now=0.0)
    (participant,) = result.created
    assert isinstance(participant, LobbyParticipant)
    assert participant.state is LobbyParticipantState.WAITING
    assert participant.href == ".../conversations/137/participants/196"


# -- routing ----------------------------------------------------------------------------------------


def test_incoming_invitation_lifecycle_and_its_links() -> None:
    dispatcher = Dispatcher()
    first = dispatcher.feed(response(event("audioVideoInvitation", INV, "started", embedded=incoming())), now=1.0)
    (invitation,) = first.created
    assert isinstance(invitation, Invitation)
    assert first.actions == ()  # the embedded resource carried the links
    (action,) = invitation.accept(now=2.0)
    assert action == PostLink("accept", f"{INV}/accept")
    dispatcher.feed(
        response(event("audioVideoInvitation", INV, "completed", status="Success", embedded=incoming("Connected"))),
        now=3.0,
    )
    assert invitation.state is InvitationState.CONNECTED


def test_started_before_the_201_is_routed_by_operation_id_and_both_orders_agree() -> None:
    outgoing = {"state": "Connecting", "direction": "Outgoing", "operationId": "op-7", **links(cancel=f"{INV}/cancel")}
    for order in ("event first", "201 first"):
        dispatcher = Dispatcher()
        invitation = Invitation(kind=InvitationKind.AUDIO_VIDEO)
        invitation.send(now=0.0, href="startAudioVideo", operation_id="op-7", to="sip:b@x")
        dispatcher.track(invitation)
        if order == "201 first":
            invitation.created(now=1.0, href=INV)
        result = dispatcher.feed(response(event("audioVideoInvitation", INV, "started", embedded=outgoing)), now=2.0)
        if order == "event first":
            invitation.created(now=3.0, href=INV)
        assert invitation.state is InvitationState.CONNECTING, order
        assert result.created == (), order
        assert dispatcher.model_for(INV) is invitation, order


def test_tracked_model_found_by_its_location_header_written_absolute() -> None:
    dispatcher = Dispatcher()
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="startMessaging", operation_id="op", to="sip:b@x")
    dispatcher.track(invitation)
    invitation.created(now=1.0, href=f"https://fe1.contoso.com{INV}")
    # the event names it server-relative and has no operationId: matched by the normalised href
    dispatcher.feed(response(event("messagingInvitation", INV, "completed", status="Success")), now=2.0)
    assert invitation.state is InvitationState.CONNECTED


def test_skipped_states_completed_with_no_started() -> None:
    dispatcher = Dispatcher()
    invitation = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    invitation.send(now=0.0, href="startAudioVideo", operation_id="op-3", to="sip:b@x")
    dispatcher.track(invitation)
    failure = event(
        "audioVideoInvitation",
        INV,
        "completed",
        status="Failure",
        reason={"code": "RemoteFailure", "subcode": "Declined", "message": "Outgoing invitation declined."},
        embedded={"operationId": "op-3", "direction": "Outgoing"},
    )
    result = dispatcher.feed(response(failure), now=1.0)
    assert invitation.state is InvitationState.DECLINED
    assert [(c.source, c.dest) for c in result.changes] == [(InvitationState.SENDING, InvitationState.DECLINED)]


@pytest.mark.parametrize("status", ["Success", "success"])
def test_success_in_either_case_connects(status: str) -> None:
    dispatcher = Dispatcher()
    dispatcher.feed(response(event("messagingInvitation", INV, "started", embedded=incoming())), now=0.0)
    dispatcher.feed(response(event("messagingInvitation", INV, "completed", status=status)), now=1.0)
    model = dispatcher.model_for(INV)
    assert isinstance(model, Invitation)
    assert model.state is InvitationState.CONNECTED


def test_missing_status_and_state_asks_for_a_get_and_changes_nothing() -> None:
    dispatcher = Dispatcher()
    dispatcher.feed(response(event("messagingInvitation", INV, "started", embedded=incoming())), now=0.0)
    model = dispatcher.model_for(INV)
    assert model is not None
    result = dispatcher.feed(response(event("messagingInvitation", INV, "completed")), now=1.0)
    assert model.state is InvitationState.CONNECTING  # type: ignore[attr-defined]
    assert result.actions == (FetchResource(INV, "completed carried neither status nor state"),)


def test_unknown_reason_code_is_kept_in_the_outcome() -> None:
    dispatcher = Dispatcher()
    dispatcher.feed(response(event("messagingInvitation", INV, "started", embedded=incoming())), now=0.0)
    result = dispatcher.feed(
        response(event("messagingInvitation", INV, "completed", status="Failure", reason={"code": "Exploded"})),
        now=1.0,
    )
    model = dispatcher.model_for(INV)
    assert isinstance(model, Invitation)
    assert model.state is InvitationState.FAILED
    assert model.outcome is not None
    assert model.outcome.reason is not None
    assert model.outcome.reason.code == "Exploded"
    assert model.outcome.reason.undocumented
    assert result.violations == ()


# -- what is not applied --------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["updated", "completed", "deleted"])
def test_events_for_unknown_hrefs_that_create_nothing_are_unknown(type_: str) -> None:
    dispatcher = Dispatcher()
    result = dispatcher.feed(response(event("audioVideoInvitation", INV, type_, status="Success")), now=0.0)
    assert result.changes == ()
    assert result.created == ()
    (unrouted,) = result.unknown
    assert (unrouted.href, unrouted.event_type, unrouted.index) == (INV, type_, 0)
    assert "no live machine" in unrouted.why
    assert dispatcher.models == ()


def test_unknown_event_type_is_never_applied() -> None:
    dispatcher = Dispatcher()
    dispatcher.feed(response(event("messagingInvitation", INV, "started", embedded=incoming())), now=0.0)
    model = dispatcher.model_for(INV)
    assert model is not None
    before = snapshot(model)
    result = dispatcher.feed(response(event("messagingInvitation", INV, "exploded", status="Success")), now=1.0)
    assert snapshot(model) == before
    (unrouted,) = result.unknown
    assert "unknown event type 'exploded'" in unrouted.why


def test_outgoing_started_that_nobody_tracks_is_not_adopted() -> None:
    outgoing = {"state": "Connecting", "direction": "Outgoing", "operationId": "someone-else"}
    result = Dispatcher().feed(response(event("audioVideoInvitation", INV, "started", embedded=outgoing)), now=0.0)
    assert result.created == ()
    assert "no tracked model owns" in result.unknown[0].why


def test_refused_creation_is_a_violation_and_creates_nothing() -> None:
    # docs/protocol.md §1.2: a participantInvitation is never incoming
    dispatcher = Dispatcher()
    result = dispatcher.feed(
        response(event("participantInvitation", INV, "started", embedded={"direction": "Incoming"})), now=0.0
    )
    (violation,) = result.violations
    assert violation.machine == "invitation"
    assert violation.state == "idle"
    assert violation.event_type == "started"
    assert "never incoming" in violation.message
    assert violation.response is not None
    assert result.created == ()
    assert dispatcher.models == ()


def test_refused_event_on_a_live_model_is_a_violation_and_changes_nothing() -> None:
    # our renegotiation offer is in flight; a started saying Incoming for its href has no transition
    dispatcher = Dispatcher()
    renegotiation = Renegotiation()
    renegotiation.offer(now=0.0, href="/app/renegotiations", operation_id="op-r", sdp="v=0")
    renegotiation.created(now=1.0, representation=renegotiation.representation, href="/app/reneg/1")
    dispatcher.track(renegotiation)
    before = snapshot(renegotiation)
    result = dispatcher.feed(
        response(event("audioVideoRenegotiation", "/app/reneg/1", "started", embedded={"direction": "Incoming"})),
        now=2.0,
    )
    assert snapshot(renegotiation) == before
    (violation,) = result.violations
    assert violation.machine == "renegotiation"
    assert violation.state == RenegotiationState.OFFERED.value
    assert "trigger 'started' is not allowed in state 'offered'" in violation.message
    assert result.changes == ()


def test_bad_bodies_change_no_machine() -> None:
    dispatcher = Dispatcher()
    dispatcher.feed(response(event("messagingInvitation", INV, "started", embedded=incoming())), now=0.0)
    model = dispatcher.model_for(INV)
    assert model is not None
    before = snapshot(model)
    bad = [
        b'{"_links":{"next":{"href":"n"}},"sender":[{"rel":"c","href":"c","events":[{"link":{"rel":"messagingInv',
        b'{"_links":[],"sender":[]}',
        b'{"_links":{"next":{"href":"n"}},"sender":"communication"}',
    ]
    for body in bad:
        with pytest.raises(EventParseError):
            dispatcher.feed(parse_events(body, JSON), now=1.0)
    assert snapshot(model) == before


# -- property: whatever the channel says, feed never raises and states stay legal ---------------------------

HREFS = [INV, "/app/communication/invitations/2", RENEG, "/app/conversations/5/participants/7"]
RELS = [
    "audioVideoInvitation",
    "messagingInvitation",
    "participantInvitation",
    "audioVideoRenegotiation",
    "participant",
]
events_strategy = st.builds(
    event,
    st.sampled_from(RELS),
    st.sampled_from(HREFS),
    st.sampled_from(["started", "updated", "completed", "added", "deleted", "bogus"]),
    status=st.sampled_from([None, "Success", "failure", "Partial"]),
    embedded=st.none()
    | st.fixed_dictionaries(
        {
            "state": st.sampled_from(["Connecting", "Alerting", "Connected", "Declined", "Weird"]),
            "direction": st.sampled_from(["Incoming", "Outgoing", "Sideways"]),
        }
    ),
    reason=st.none() | st.just({"code": "RemoteFailure", "subcode": "Declined"}),
    in_=st.none() | st.just(("lobby", "/app/conversations/5/lobby")),
)


@settings(max_examples=40)
@given(st.lists(st.lists(events_strategy, min_size=1, max_size=4), min_size=1, max_size=5))
def test_feed_never_raises_and_every_model_stays_in_a_legal_state(batches: list[list[dict[str, Any]]]) -> None:
    dispatcher = Dispatcher()
    now = 0.0
    for batch in batches:
        result: DispatchResult = dispatcher.feed(response(*batch), now=now)
        now += 1.0
        assert len(result.changes) + len(result.violations) + len(result.unknown) + len(result.duplicates) <= len(batch)
        for change in result.changes:
            assert change.dest in type(change.source)
    for model in dispatcher.models:
        assert model.state in model.DEFINITION.states  # type: ignore[attr-defined]

