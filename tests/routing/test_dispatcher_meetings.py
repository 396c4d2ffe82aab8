"""The dispatcher and the meeting machines: a join through the lobby, lobby participants, renegotiations.

Every response goes through :func:`adapters.wire.events.parse_events` first, as on the wire.
"""

from __future__ import annotations

from dispatcher_events import (
    CONV,
    OMI,
    RENEG,
    SESSION,
    event,
    links,
    remote_offer,
    response,
    state_of,
)

from adapters.routing.dispatcher import Dispatcher
from adapters.wire.bodies import render
from fsm.actions import PostLink
from fsm.lobby_participant import LobbyParticipant, LobbyParticipantState
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.reasons import ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation, RenegotiationState

# -- online meeting join, lobby, renegotiation -----------------------------------------------------------------


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


