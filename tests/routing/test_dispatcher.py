"""The dispatcher: documented samples drive the machines; duplicates, strays and refusals are recorded.

Every response goes through :func:`adapters.wire.events.parse_events` first, as on the wire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.routing.dispatcher import Dispatcher, DispatcherError, DispatchResult
from adapters.wire.bodies import render
from adapters.wire.events import EventParseError, EventsResponse, parse_events
from fsm.actions import FetchResource, PostLink
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.lobby_participant import LobbyParticipant, LobbyParticipantState
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.reasons import Reason, ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation, RenegotiationState

SAMPLES = Path(__file__).parent.parent / "samples"
JSON = "application/json"
_ack = iter(range(1000, 10**9))


def sample(name: str) -> EventsResponse:
    content_type = JSON if name.endswith(".json") else "application/xml"
    return parse_events((SAMPLES / name).read_bytes(), content_type)


def event(
    rel: str,
    href: str,
    type_: str,
    *,
    status: str | None = None,
    embedded: dict[str, Any] | None = None,
    reason: dict[str, Any] | None = None,
    in_: tuple[str, str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"link": {"rel": rel, "href": href}, "type": type_}
    if status is not None:
        out["status"] = status
    if embedded is not None:
        out["_embedded"] = {rel: {"rel": rel, **embedded}}
    if reason is not None:
        out["reason"] = reason
    if in_ is not None:
        out["in"] = {"rel": in_[0], "href": in_[1]}
    return out


def response(*events: dict[str, Any], sender: str = "communication") -> EventsResponse:
    ack = next(_ack)
    document = {
        "_links": {"self": {"href": f"/app/events?ack={ack}"}, "next": {"href": f"/app/events?ack={ack + 1}"}},
        "sender": [{"rel": sender, "href": f"/app/{sender}", "events": list(events)}],
    }
    return parse_events(json.dumps(document).encode(), JSON)


def links(**rels: str) -> dict[str, Any]:
    return {"_links": {rel: {"href": href} for rel, href in rels.items()}}


def state_of(model: FsmModel) -> object:
    # not narrowed by mypy between triggers, unlike ``model.state``
    return model.state  # type: ignore[attr-defined]


def snapshot(model: FsmModel) -> tuple[object, int]:
    return model.state, len(model.history)  # type: ignore[attr-defined]


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

INV = "/app/communication/invitations/1"


def incoming(state: str = "Connecting", **extra: Any) -> dict[str, Any]:
    return {"state": state, "direction": "Incoming", **links(accept=f"{INV}/accept", decline=f"{INV}/decline"), **extra}


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


# -- duplicates ---------------------------------------------------------------------------------------------


def test_the_same_event_delivered_twice_acts_once() -> None:
    dispatcher = Dispatcher()
    body = response(event("messagingInvitation", INV, "started", embedded=incoming()))
    dispatcher.feed(body, now=0.0)
    model = dispatcher.model_for(INV)
    assert model is not None
    before = snapshot(model)
    again = dispatcher.feed(body, now=1.0)
    assert again.duplicates == (0,)
    assert again.changes == ()
    assert snapshot(model) == before
    # the same content in another response (a retried webhook POST) is a duplicate too
    assert dispatcher.feed(response(event("messagingInvitation", INV, "started", embedded=incoming())), 2.0).duplicates


def test_events_that_differ_in_their_body_both_act() -> None:
    dispatcher = Dispatcher()
    dispatcher.feed(response(event("audioVideoInvitation", INV, "started", embedded=incoming())), now=0.0)
    model = dispatcher.model_for(INV)
    assert isinstance(model, Invitation)
    result = dispatcher.feed(
        response(
            event("audioVideoInvitation", INV, "updated", embedded=incoming("Alerting")),
            event("audioVideoInvitation", INV, "updated", embedded=incoming("TeamRing")),
        ),
        now=1.0,
    )
    assert result.duplicates == ()
    assert [c.dest for c in result.changes] == [InvitationState.ALERTING, InvitationState.TEAM_RING]


def test_duplicate_window_is_bounded() -> None:
    dispatcher = Dispatcher(dedupe_window=2)
    first = response(event("messagingInvitation", INV, "started", embedded=incoming()))
    dispatcher.feed(first, now=0.0)
    for state in ("Alerting", "TeamRing"):
        dispatcher.feed(response(event("messagingInvitation", INV, "updated", embedded=incoming(state))), now=1.0)
    # two newer events pushed the first one out of a window of 2: it acts again (absorbed by the machine rules)
    assert dispatcher.feed(first, now=2.0).duplicates == ()


def test_drop_transient_forgets_the_window_and_keeps_the_models() -> None:
    dispatcher = Dispatcher()
    body = response(event("messagingInvitation", INV, "started", embedded=incoming()))
    dispatcher.feed(body, now=0.0)
    model = dispatcher.model_for(INV)
    assert dispatcher.drop_transient() == (INV,)
    assert dispatcher.model_for(INV) is model
    assert dispatcher.feed(body, now=1.0).duplicates == ()
    assert dispatcher.hrefs_to_refetch() == (INV,)


# -- online meeting join, lobby, renegotiation -----------------------------------------------------------------

OMI = "/app/communication/onlineMeetingInvitations/9"
CONV = "/app/communication/conversations/5"


def test_online_meeting_join_through_the_lobby() -> None:
    dispatcher = Dispatcher()
    join = OnlineMeetingJoin()
    join.send(now=0.0, href="joinOnlineMeeting", operation_id="op-j", online_meeting_uri="sip:m@x;gruu;opaque=app:conf")
    dispatcher.track(join)
    omi = {"state": "Connecting", "direction": "Outgoing", "operationId": "op-j", **links(conversation=CONV)}
    dispatcher.feed(response(event("onlineMeetingInvitation", OMI, "started", embedded=omi)), now=1.0)
    assert state_of(join) is OnlineMeetingState.CONNECTING
    # docs/protocol.md §3: waiting in the lobby shows as the conversation's InLobby
    result = dispatcher.feed(
        response(event("conversation", CONV, "updated", embedded={"state": "InLobby"}), sender="communication"),
        now=2.0,
    )
    assert state_of(join) is OnlineMeetingState.IN_LOBBY
    assert result.unknown == ()
    dispatcher.feed(response(event("localParticipant", f"{CONV}/participants/me", "added"), sender="conversation"), 3.0)
    assert state_of(join) is OnlineMeetingState.ADMITTED
    dispatcher.feed(
        response(
            event("onlineMeetingInvitation", OMI, "completed", status="Success", embedded={**omi, "state": "Connected"})
        ),
        now=4.0,
    )
    assert state_of(join) is OnlineMeetingState.CONNECTED


def test_lobby_participant_admitted_then_in_the_roster() -> None:
    dispatcher = Dispatcher()
    participant_href = "/app/conversations/5/participants/196"
    lobby = ("lobby", "/app/conversations/5/lobby")
    added = event(
        "participant",
        participant_href,
        "added",
        in_=lobby,
        embedded={"name": "Ann", **links(admit=f"{participant_href}/admit", reject=f"{participant_href}/reject")},
    )
    (participant,) = dispatcher.feed(response(added, sender="conversation"), now=0.0).created
    assert isinstance(participant, LobbyParticipant)
    assert participant.display_name == "Ann"
    (admit,) = participant.admit(now=1.0)
    assert admit == PostLink("admit", f"{participant_href}/admit")
    dispatcher.feed(response(event("participant", participant_href, "deleted", in_=lobby), sender="conversation"), 2.0)
    assert participant.state is LobbyParticipantState.ADMITTED
    # the roster add that follows is absorbed
    result = dispatcher.feed(response(event("participant", participant_href, "added"), sender="conversation"), 3.0)
    assert participant.state is LobbyParticipantState.ADMITTED
    assert result.violations == ()


RENEG = "/app/conversations/5/audioVideo/audioVideoSession/renegotiations/audioVideoRenegotiation"
SESSION = "/app/conversations/5/audioVideo/audioVideoSession"


def remote_offer(**extra: Any) -> dict[str, Any]:
    return {
        "direction": "Incoming",
        **links(
            answer=f"{RENEG}/answer",
            dismiss=f"{RENEG}/dismiss",
            audioVideoSession=SESSION,
            mediaOffer="data:application/sdp;base64,dj0w",
        ),
        **extra,
    }


def test_incoming_renegotiation_is_created_and_dismissed_with_the_seed_body() -> None:
    dispatcher = Dispatcher(renegotiation_timeout=30.0)
    started = event("audioVideoRenegotiation", RENEG, "started", embedded=remote_offer())
    result = dispatcher.feed(response(started), now=10.0)
    (renegotiation,) = result.created
    assert isinstance(renegotiation, Renegotiation)
    assert renegotiation.state is RenegotiationState.REMOTE_OFFERED
    assert renegotiation.media_offer == "data:application/sdp;base64,dj0w"
    assert renegotiation.deadline == 40.0
    (dismiss,) = renegotiation.dismiss(now=11.0, reason=ReNegotiationDeclineReason.UNKNOWN)
    assert isinstance(dismiss, PostLink)
    body = render(dismiss, "xml")
    assert body is not None
    assert len(body.content) == 149  # seed 001's Content-Length
    assert dispatcher.hrefs_to_refetch() == ()  # renegotiations exist only on the event channel


def test_incoming_renegotiation_crossing_ours_is_dismissed_with_conflict() -> None:
    dispatcher = Dispatcher()
    session = dispatcher.av_session(SESSION)
    ours, _ = session.offer(now=0.0, href=f"{SESSION}/renegotiations", operation_id="op-ours", sdp="v=0")
    dispatcher.track(ours)
    result = dispatcher.feed(response(event("audioVideoRenegotiation", RENEG, "started", embedded=remote_offer())), 1.0)
    (theirs,) = result.created
    assert isinstance(theirs, Renegotiation)
    assert theirs.state is RenegotiationState.DISMISSING
    assert result.actions == (PostLink("dismiss", f"{RENEG}/dismiss", (("reason", "Conflict"),)),)
    assert ours.state is RenegotiationState.OFFERING
    assert session.current is ours


# -- memory --------------------------------------------------------------------------------------------------------


def test_settled_models_are_forgotten_after_the_grace_period() -> None:
    dispatcher = Dispatcher(grace=60.0)
    dispatcher.feed(response(event("messagingInvitation", INV, "started", embedded=incoming())), now=0.0)
    dispatcher.feed(response(event("messagingInvitation", INV, "completed", status="Failure")), now=10.0)
    model = dispatcher.model_for(INV)
    assert isinstance(model, Invitation)
    assert model.state is InvitationState.FAILED
    # within the grace period a late event is still absorbed by the model
    late = dispatcher.feed(response(event("messagingInvitation", INV, "updated", embedded=incoming("Alerting"))), 50.0)
    assert late.unknown == ()
    assert model.history[-1].dest is InvitationState.FAILED
    # after it, the model is gone and the same kind of event is unknown
    gone = dispatcher.feed(response(event("messagingInvitation", INV, "updated", embedded=incoming("TeamRing"))), 71.0)
    assert dispatcher.models == ()
    assert dispatcher.model_for(INV) is None
    assert "no live machine" in gone.unknown[0].why


def test_models_settled_by_the_app_are_noticed_by_sweep() -> None:
    dispatcher = Dispatcher(grace=5.0)
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="startMessaging", operation_id="op", to="sip:b@x")
    dispatcher.track(invitation)
    invitation.request_failed(now=1.0, reason=Reason("Forbidden"))
    assert dispatcher.sweep(now=2.0) == ()  # noticed now, kept for the grace period
    assert dispatcher.sweep(now=7.0) == (invitation,)
    assert dispatcher.models == ()


def test_forget_removes_every_index() -> None:
    dispatcher = Dispatcher()
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="startMessaging", operation_id="op-f", to="sip:b@x")
    dispatcher.track(invitation, href=INV)
    dispatcher.forget(invitation)
    result = dispatcher.feed(
        response(event("messagingInvitation", INV, "completed", status="Success", embedded={"operationId": "op-f"})),
        now=1.0,
    )
    assert invitation.state is InvitationState.SENDING
    assert result.unknown


def test_tracking_a_model_without_a_route_is_refused() -> None:
    class Stray(Invitation):
        pass

    dispatcher = Dispatcher()
    dispatcher.track(Stray(kind=InvitationKind.MESSAGING))  # a subclass inherits its route
    with pytest.raises(DispatcherError, match="no route"):
        dispatcher.track(object())  # type: ignore[arg-type]


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


def test_operation_id_match_needs_the_models_kind_of_resource() -> None:
    # an app may reuse an operation id for a message in the conversation it started
    dispatcher = Dispatcher()
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="startMessaging", operation_id="op-m", to="sip:b@x")
    dispatcher.track(invitation)
    message = event("message", "/app/conversations/5/messaging/messages/1", "completed", status="Success",
                    embedded={"operationId": "op-m"})
    result = dispatcher.feed(response(message, sender="conversation"), now=1.0)
    assert invitation.state is InvitationState.SENDING
    assert invitation.href is None
    assert result.changes == ()
    assert result.unknown


def test_base_url_makes_relative_event_hrefs_meet_an_absolute_location() -> None:
    # Trusted Application API: event hrefs are relative to the baseuri (docs/protocol.md §2.1)
    base = "https://host/platformservice/v1/applications/123/"
    dispatcher = Dispatcher(base_url=base)
    invitation = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    invitation.send(now=0.0, href="startAudio", operation_id="op-b", to="sip:b@x")
    dispatcher.track(invitation)
    invitation.created(now=1.0, href=base + "communication/invitations/137")
    document = json.loads((SAMPLES / "seed002_completed.json").read_bytes())
    document["baseuri"] = base
    document["sender"][0]["events"][0]["status"] = "Success"
    result = dispatcher.feed(parse_events(json.dumps(document).encode(), JSON, require_links=False), now=2.0)
    assert invitation.state is InvitationState.CONNECTED
    assert dispatcher.baseuri == base
    assert result.created == ()


def test_a_new_baseuri_rebuilds_the_indexes() -> None:
    dispatcher = Dispatcher()
    (invitation,) = dispatcher.feed(sample("seed002_started.json"), now=0.0).created  # no baseuri yet
    session = dispatcher.av_session("communication/conversations/1/audioVideo/audioVideoSession")
    document = json.loads((SAMPLES / "seed002_completed.json").read_bytes())
    document["baseuri"] = "https://host/platformservice/v1/applications/42/"
    document["sender"][0]["events"][0]["status"] = "Success"
    result = dispatcher.feed(parse_events(json.dumps(document).encode(), JSON), now=1.0)
    assert result.unknown == ()
    assert invitation.state is InvitationState.CONNECTED  # type: ignore[attr-defined]
    absolute = "https://host/platformservice/v1/applications/42/communication/invitations/137"
    assert dispatcher.model_for(absolute) is invitation
    assert dispatcher.av_session("/platformservice/v1/applications/42/communication/conversations/1/audioVideo/"
                                 "audioVideoSession") is session
