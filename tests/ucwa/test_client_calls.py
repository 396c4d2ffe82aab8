"""The client's local calls beyond audio/video, against the simulator over loopback HTTP.

Messaging, adding a participant, forwarding, joining a meeting through the
lobby, renegotiations (ours offered, theirs answered or dismissed) and the
leader's admit / reject, in sync and asyncio code; and ``perform`` tracking
a creating POST's model before it is sent, so that a ``started`` that beats
the 201 is routed. Expected states and reasons come from the docs (docs/protocol.md
sections, seeds, and the simulator's documented [U] choices in
adapters/simulator/README.md), never from the code's own output.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from adapters.simulator import SimulatorHandle
from adapters.ucwa import client as client_module
from adapters.ucwa.client import AsyncUcwaClient, ClientError, UcwaClient
from adapters.wire.requests import HttpResponse
from fsm.actions import Action, StartOperation
from fsm.errors import InvalidInput, InvalidTrigger
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.lobby_participant import LobbyParticipant, LobbyParticipantState
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState, OnlineMeetingTrigger
from fsm.reasons import ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation, RenegotiationInFlight, RenegotiationState

S = InvitationState
J = OnlineMeetingState
BOB = "sip:bob@contoso.com"
DAN = "sip:dan@contoso.com"
MEETING = "sip:organizer@contoso.com;gruu;opaque=app:conf:focus:id:7PQRS3"
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
WAIT = 5.0


# -- helpers ----------------------------------------------------------------------------------------------


def _application(sim: SimulatorHandle) -> str:
    """POST applications (the app's business, not the client's); the application's URL."""
    response = httpx.post(
        sim.applications_url,
        json={"UserAgent": "callfsm-tests", "EndpointId": "client-calls", "Culture": "en-US"},
        headers={"Authorization": f"Bearer {sim.token}"},
    )
    assert response.status_code == 201
    return str(httpx.URL(sim.base_url).join(response.headers["location"]))


def _get(sim: SimulatorHandle, href: str) -> dict[str, Any]:
    """GET a resource the way an app reads a link the client does not follow itself."""
    response = httpx.get(
        urljoin(sim.base_url, href), headers={"Authorization": f"Bearer {sim.token}", "Accept": "application/json"}
    )
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _link(sim: SimulatorHandle, href: str, rel: str) -> str:
    return str(_get(sim, href)["_links"][rel]["href"])


def _requests(sim: SimulatorHandle) -> list[str]:
    """Every request the server answered, in order ("POST /path -> 201")."""
    return list(sim.simulator.transcript)


def _posts_to(sim: SimulatorHandle, suffix: str) -> list[str]:
    return [line for line in _requests(sim) if line.startswith("POST ") and line.split(" ")[1].endswith(suffix)]


def _models(client: UcwaClient | AsyncUcwaClient, kind: type[Any], state: object) -> list[Any]:
    return [m for m in client.models if isinstance(m, kind) and m.state is state]


def _wait(client: UcwaClient, what: str, predicate: Callable[[], object]) -> None:
    assert client.run_until(predicate, timeout=WAIT), what


async def _await(predicate: Callable[[], object]) -> None:
    async with asyncio.timeout(WAIT):
        while not predicate():
            await asyncio.sleep(0.01)


def _connected_call(sim: SimulatorHandle, client: UcwaClient) -> Invitation:
    sim.script.answer_after(0.0, kind="audioVideo")
    call = client.start_audio_video(BOB)
    _wait(client, "the answer", lambda: call.state is S.CONNECTED)
    return call


def _incoming_renegotiation(sim: SimulatorHandle, client: UcwaClient) -> tuple[Invitation, Renegotiation]:
    call = _connected_call(sim, client)
    sim.script.incoming_renegotiation()
    _wait(client, "the remote's offer", lambda: _models(client, Renegotiation, RenegotiationState.REMOTE_OFFERED))
    (offer,) = _models(client, Renegotiation, RenegotiationState.REMOTE_OFFERED)
    return call, offer


def _server_renegotiations(sim: SimulatorHandle) -> list[Renegotiation]:
    """The server's shadows of the renegotiations (each stands for an ideal client of that resource)."""
    with sim.world.lock:
        return [r.shadow for app in sim.world.apps.values() for c in app.conversations for r in c.renegotiations]


# -- messaging and participants ------------------------------------------------------------------------------


def test_sync_start_messaging_answered_is_connected(ucwa_simulator: SimulatorHandle) -> None:
    ucwa_simulator.script.answer_after(0.0, kind="messaging")
    with UcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        im = client.start_messaging(BOB, subject="Lunch?", operation_id="im-sync")
        assert im.state is S.CONNECTING  # the 201 was fed before start_messaging returned
        outcome = client.wait_for_outcome(im, timeout=WAIT)
    # docs/protocol.md §1.7: completed Success -> Connected
    assert im.kind is InvitationKind.MESSAGING
    assert im.state is S.CONNECTED
    assert outcome is not None
    assert (outcome.success, outcome.status) == (True, "Success")
    assert im.operation_id == "im-sync"
    assert len(_posts_to(ucwa_simulator, "/communication/startMessaging")) == 1
    with ucwa_simulator.world.lock:
        (record,) = [
            c.invitation for app in ucwa_simulator.world.apps.values() for c in app.conversations if c.invitation
        ]
        assert (record.kind, record.target, record.subject) == (InvitationKind.MESSAGING, BOB, "Lunch?")


async def test_async_start_messaging_answered_is_connected(ucwa_simulator: SimulatorHandle) -> None:
    ucwa_simulator.script.answer_after(0.0, kind="messaging")
    async with AsyncUcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        im = await client.start_messaging(BOB)
        outcome = await client.wait_for_outcome(im, timeout=WAIT)
    assert im.state is S.CONNECTED
    assert outcome is not None
    assert outcome.success


def test_add_participant_through_the_conversations_link(ucwa_simulator: SimulatorHandle) -> None:
    ucwa_simulator.script.answer_after(0.0, kind="messaging")
    ucwa_simulator.script.answer_after(0.0, kind="participant")
    with UcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        im = client.start_messaging(BOB)
        _wait(client, "the answer", lambda: im.state is S.CONNECTED)
        # addParticipant is a conversation link (addParticipant_ref.md), not the application's
        before = _requests(ucwa_simulator)
        with pytest.raises(ClientError, match="addParticipant"):
            client.add_participant(DAN)
        assert _requests(ucwa_simulator) == before
        conversation = im.representation.link("conversation")
        assert conversation is not None
        href = _link(ucwa_simulator, conversation.href, "addParticipant")
        invite = client.add_participant(DAN, href=href)
        outcome = client.wait_for_outcome(invite, timeout=WAIT)
    assert invite.kind is InvitationKind.PARTICIPANT
    assert invite.state is S.CONNECTED  # docs/protocol.md §1.7: Success -> Connected
    assert outcome is not None
    assert outcome.success
    assert [step.trigger.value for step in invite.history][:2] == ["send", "created"]
    assert len(_posts_to(ucwa_simulator, "/addParticipant")) == 1


def test_over_long_values_raise_before_anything_is_sent(ucwa_simulator: SimulatorHandle) -> None:
    with UcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        before = _requests(ucwa_simulator)
        # docs/protocol.md §1.3: subject at most 250 characters, operationId at most 50
        with pytest.raises(InvalidInput, match="subject"):
            client.start_messaging(BOB, subject="s" * 251)
        with pytest.raises(InvalidInput, match="subject"):
            client.join_online_meeting(MEETING, subject="s" * 251)
        with pytest.raises(InvalidInput, match="anonymousDisplayName"):
            client.join_online_meeting(MEETING, anonymousDisplayName="a" * 251)
        with pytest.raises(InvalidInput, match="operationId"):
            client.add_participant(DAN, href="/conversations/1/addParticipant", operation_id="o" * 51)
        with pytest.raises(InvalidInput, match="lobby_deadline"):
            client.join_online_meeting(MEETING, lobby_deadline=float("inf"))
        assert client.models == ()
        assert _requests(ucwa_simulator) == before


@pytest.mark.ucwa_simulator(profile="saas")  # forward is a Trusted Application API link only (docs/protocol.md §1.4)
def test_forward_an_incoming_call(ucwa_simulator: SimulatorHandle) -> None:
    url = _application(ucwa_simulator)
    with UcwaClient(url, token=ucwa_simulator.token) as client:
        assert client.links is not None
        available = httpx.post(
            urljoin(url, client.links.href("makeMeAvailable")),
            json={"SupportedModalities": ["AudioVideo"]},
            headers={"Authorization": f"Bearer {ucwa_simulator.token}"},
        )
        assert available.status_code == 204
        ucwa_simulator.script.incoming_call("Eve", "sip:eve@contoso.com")
        _wait(client, "the incoming call", lambda: _models(client, Invitation, S.CONNECTING))
        (call,) = _models(client, Invitation, S.CONNECTING)
        client.forward(call, "sip:frank@contoso.com")
        assert call.state is S.FORWARDING  # the 204 says nothing; completed decides
        outcome = client.wait_for_outcome(call, timeout=WAIT)
    # the simulator's [U] choice: a forwarded call ends Informational/Redirected ("redirected", docs/protocol.md §5.1),
    # a failure that is neither Declined nor Canceled: Failed
    assert call.state is S.FAILED
    assert outcome is not None
    assert outcome.reason is not None
    assert (outcome.reason.code, outcome.reason.subcode) == ("Informational", "Redirected")
    assert len(_posts_to(ucwa_simulator, "/forward")) == 1


# -- online meetings ------------------------------------------------------------------------------------------


def test_join_online_meeting_admitted_from_the_lobby_then_left(ucwa_simulator: SimulatorHandle) -> None:
    ucwa_simulator.script.admit_after(0.1)
    with UcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        deadline = client.clock() + 30.0
        join = client.join_online_meeting(MEETING, lobby_deadline=deadline, operation_id="join-lobby")
        assert join.lobby_deadline == deadline
        assert join.state is J.CONNECTING  # fed its 201
        _wait(client, "the lobby's decision", lambda: join.outcome is not None)
        # seed 003: Connecting, waiting in the lobby, added to the roster, completed Success
        assert join.state is J.CONNECTED
        assert join.outcome is not None
        assert join.outcome.success
        ladder = (J.IN_LOBBY, J.ADMITTED, J.CONNECTED)
        assert [s.dest for s in join.history if s.source is not s.dest and s.dest in ladder] == list(ladder)
        assert not join.lobby_timeout_due(client.clock())
        client.cancel(join)  # connected: the cancel link leaves the meeting
    assert join.state is J.HUNG_UP
    assert len(_posts_to(ucwa_simulator, "/terminate")) == 1


async def test_async_perform_tracks_a_join_whose_started_beats_the_201(
    ucwa_simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    ucwa_simulator.script.admit_after(0.05)
    ucwa_simulator.script.fault_next("early_events")  # the server sends the 201 once its started was delivered
    async with AsyncUcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        assert client.links is not None
        # the app builds the join itself and hands it to perform, without tracking it
        join = OnlineMeetingJoin()
        actions = join.send(
            now=client.clock(),
            href=client.links.href("joinOnlineMeeting"),
            operation_id="join-early",
            online_meeting_uri=MEETING,
        )
        perform = client.sender.perform

        async def the_201_after_the_started(action: Action, **kwargs: Any) -> HttpResponse:
            response = await perform(action, **kwargs)
            if isinstance(action, StartOperation):
                # and the client reads the 201 only once the event loop has taken the started in: the
                # event had to be routed while the join knew no href (it is not tracked otherwise)
                with contextlib.suppress(TimeoutError):
                    await _await(lambda: join.state is not J.SENDING)
            return response

        monkeypatch.setattr(client.sender, "perform", the_201_after_the_started)
        await client.perform(join, actions)
        await _await(lambda: join.outcome is not None)
    triggers = [step.trigger for step in join.history]
    # the started was routed by operation id while the POST still waited for its 201 (docs/protocol.md §2.2)
    assert triggers[:2] == [OnlineMeetingTrigger.SEND, OnlineMeetingTrigger.STARTED]
    assert join.history[1].source is J.SENDING
    assert triggers.index(OnlineMeetingTrigger.CREATED) > 1
    assert join.state is J.CONNECTED
    assert join in client.models


# -- renegotiations -------------------------------------------------------------------------------------------


def test_answer_an_incoming_renegotiation(ucwa_simulator: SimulatorHandle) -> None:
    with UcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        call, offer = _incoming_renegotiation(ucwa_simulator, client)
        client.answer(offer)
        client.cancel(call)
    # answer_ref.md: POST answer, no body, 204 -> answered (docs/protocol.md §4)
    assert offer.state is RenegotiationState.ANSWERED
    assert offer.outcome is not None
    assert offer.outcome.success
    (server,) = _server_renegotiations(ucwa_simulator)
    assert server.state is RenegotiationState.ANSWERED
    assert call.state is S.HUNG_UP


async def test_async_dismiss_an_incoming_renegotiation_with_a_reason(ucwa_simulator: SimulatorHandle) -> None:
    ucwa_simulator.script.answer_after(0.0, kind="audioVideo")
    ucwa_simulator.script.incoming_renegotiation()
    async with AsyncUcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        call = await client.start_audio_video(BOB)
        await _await(lambda: _models(client, Renegotiation, RenegotiationState.REMOTE_OFFERED))
        (offer,) = _models(client, Renegotiation, RenegotiationState.REMOTE_OFFERED)
        await client.dismiss(offer, ReNegotiationDeclineReason.INSUFFICIENT_BANDWIDTH)
    # seed 001: POST dismiss {"reason": "InsufficientBandwidth"} -> 204; our own dismissal is LocalFailure/Declined
    assert call.state is S.CONNECTED
    assert offer.state is RenegotiationState.DISMISSED
    assert offer.outcome is not None
    assert offer.outcome.reason is not None
    assert (offer.outcome.reason.code, offer.outcome.reason.subcode) == ("LocalFailure", "Declined")
    (server,) = _server_renegotiations(ucwa_simulator)
    assert server.decline_reason is ReNegotiationDeclineReason.INSUFFICIENT_BANDWIDTH


def test_offer_a_renegotiation_one_at_a_time_answered(ucwa_simulator: SimulatorHandle) -> None:
    ucwa_simulator.script.renegotiation_answer(after=0.05)
    with UcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        call = _connected_call(ucwa_simulator, client)
        audio_video = call.representation.link("audioVideo")
        assert audio_video is not None
        session = _link(ucwa_simulator, audio_video.href, "audioVideoSession")
        renegotiations = _link(ucwa_simulator, session, "renegotiations")
        ours = client.offer(session, SDP, href=renegotiations, operation_id="reneg-1", deadline=client.clock() + 30)
        # renegotiations_ref.md: 201 with the renegotiation as its body, no answer yet
        assert ours.state is RenegotiationState.OFFERED
        assert ours.href is not None
        # docs/protocol.md §4: at most one renegotiation in flight per session, refused before anything is sent
        before = _requests(ucwa_simulator)
        with pytest.raises(RenegotiationInFlight):
            client.offer(session, SDP, href=renegotiations)
        assert _requests(ucwa_simulator) == before
        _wait(client, "the remote's answer", lambda: ours.is_terminal)
    # the simulator's [U] choice: the answer is an updated carrying mediaAnswer -> completed
    assert ours.state is RenegotiationState.COMPLETED
    assert ours.media_answer is not None
    assert ours.media_answer.startswith("data:application/sdp")
    assert ours in client.models
    (post,) = _posts_to(ucwa_simulator, "/renegotiations?operationId=reneg-1")
    assert post.endswith("-> 201")
    (server,) = _server_renegotiations(ucwa_simulator)
    assert server.media_offer == SDP


# -- the leader's lobby -----------------------------------------------------------------------------------------


def test_leader_admits_one_lobby_participant_and_rejects_another(ucwa_simulator: SimulatorHandle) -> None:
    ucwa_simulator.script.answer_after(0.0)  # the join: admitted with no lobby
    ucwa_simulator.script.lobby_arrival("Guest A", "sip:a@fabrikam.com")
    ucwa_simulator.script.lobby_arrival("Guest B", "sip:b@fabrikam.com")
    waiting = LobbyParticipantState.WAITING
    with UcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        join = client.join_online_meeting(MEETING)
        _wait(client, "two guests in the lobby", lambda: len(_models(client, LobbyParticipant, waiting)) == 2)
        assert join.state is J.CONNECTED
        guests = {p.display_name: p for p in _models(client, LobbyParticipant, waiting)}
        admitted, rejected = guests["Guest A"], guests["Guest B"]
        client.admit(admitted)
        client.reject(rejected)
        assert (admitted.state, rejected.state) == (LobbyParticipantState.ADMITTING, LobbyParticipantState.REJECTING)
        _wait(client, "the lobby events", lambda: admitted.is_terminal and rejected.is_terminal)
        # a second admit is refused locally: the participant is no longer waiting
        before = _requests(ucwa_simulator)
        with pytest.raises(InvalidTrigger):
            client.admit(admitted)
        assert _requests(ucwa_simulator) == before
    # docs/protocol.md §3, leader side: deleted from the lobby after our admit -> admitted; after our reject -> rejected
    assert admitted.state is LobbyParticipantState.ADMITTED
    assert rejected.state is LobbyParticipantState.REJECTED
    assert len(_posts_to(ucwa_simulator, "/admit")) == 1
    assert len(_posts_to(ucwa_simulator, "/reject")) == 1


def test_both_clients_offer_every_local_call_and_the_module_doc_lists_them() -> None:
    doc = client_module.__doc__ or ""
    calls = (
        "start_audio_video",
        "start_messaging",
        "add_participant",
        "join_online_meeting",
        "accept",
        "decline",
        "forward",
        "cancel",
        "offer",
        "answer",
        "dismiss",
        "admit",
        "reject",
    )
    for name in calls:
        assert f"``{name}``" in doc, name
        assert callable(getattr(UcwaClient, name))
        assert asyncio.iscoroutinefunction(getattr(AsyncUcwaClient, name)), name
