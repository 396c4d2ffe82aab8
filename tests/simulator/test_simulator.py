"""The simulator end to end over loopback HTTP, driven by a client written from the docs.

Every scenario of the issue runs against a real server on 127.0.0.1 with
:class:`ucwa_doc_client.DocClient` (plain httpx, links only). Expected states,
reasons and shapes come from docs/protocol.md (section numbers in each test) or
from the simulator's documented [U] choices (adapters/simulator/README.md),
never from the code's output. Every stream is also fed to the Dispatcher:
as it arrives, with the local triggers of an ideal client at the moments the
doc client acted, and again at the end, whole, with nothing tracked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ucwa_doc_client import DocClient, Replay, embedded, is_event, replay_all

from adapters.simulator import SimulatorHandle
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.lobby_participant import LobbyParticipantState
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.reasons import ReNegotiationDeclineReason
from fsm.renegotiation import RenegotiationState

S = InvitationState
BOB = "sip:bob@contoso.com"
MEETING = "sip:organizer@contoso.com;gruu;opaque=app:conf:focus:id:7PQRS3"


@pytest.fixture
def client(ucwa_simulator: SimulatorHandle) -> Iterator[DocClient]:
    doc = DocClient(ucwa_simulator.base_url, ucwa_simulator.token)
    doc.create_application(ucwa_simulator.world.profile.root)
    yield doc
    doc.close()


def _no_violations(sim: SimulatorHandle, replay: Replay | None = None) -> None:
    """The stream as the client got it (with its local triggers), and the whole recorded stream, replay clean."""
    if replay is not None:
        assert replay.violations == []
    assert replay_all(sim.events_sent) == []
    assert sim.world.refusals == []


def _start_av(client: DocClient, replay: Replay, operation_id: str) -> tuple[str, Invitation]:
    """POST startAudioVideo; track the ideal client's model by operation id before the POST (docs/protocol.md §2.2)."""
    # the Trusted Application API names it ms:rtc:saas:startAudio (docs/protocol.md §1.2)
    saas = "ms:rtc:saas:startAudio" in client.communication["_links"]
    href = client.link(client.communication, "startAudio" if saas else "startAudioVideo")
    model = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    model.send(now=0.0, href=href, operation_id=operation_id, to=BOB)
    replay.track(model, operation_id)
    response = client.post(href, {"operationId": operation_id, "to": BOB, "subject": "Standup"})
    # docs/protocol.md §1.2: 201 Created, Content-Length 0, Location = the invitation
    assert response.status_code == 201
    assert response.headers["content-length"] == "0"
    location = response.headers["location"]
    model.created(now=0.5, href=location)
    return location, model


# -- the application ---------------------------------------------------------------------------------


def test_application_resource_has_the_documented_shape(ucwa_simulator: SimulatorHandle) -> None:
    doc = DocClient(ucwa_simulator.base_url, ucwa_simulator.token)
    app = doc.create_application(root="/ucwa/v1/applications")  # both roots exist (docs/protocol.md §2.1)
    # applications_ref.md: rel application, events link, embedded me/people/communication
    assert app["rel"] == "application"
    assert app["userAgent"] == "DocClient/1.0 (tests)"
    assert app["_links"]["events"]["href"].endswith("/events?ack=1")
    assert set(app["_embedded"]) >= {"me", "people", "communication"}
    comm = app["_embedded"]["communication"]["_links"]
    assert {"self", "startAudioVideo", "startMessaging", "joinOnlineMeeting"} <= set(comm)
    assert "makeMeAvailable" in app["_embedded"]["me"]["_links"]
    # GET of the application (self link) gives the same resource; XML on request
    again = doc.http.get(app["_links"]["self"]["href"])
    assert again.status_code == 200
    assert again.json()["_links"]["self"] == app["_links"]["self"]
    xml = doc.http.get(app["_links"]["self"]["href"], headers={"Accept": "application/vnd.microsoft.com.ucwa+xml"})
    assert xml.headers["content-type"].startswith("application/vnd.microsoft.com.ucwa+xml")
    assert b'<resource rel="application"' in xml.content
    assert b'<link rel="events"' in xml.content
    # makeMeAvailable once: 204; twice: 409 AlreadyExists (makeMeAvailable_ref.md)
    doc.make_me_available()
    second = doc.http.post(doc.link(doc.me, "makeMeAvailable"), json={})
    assert second.status_code == 409
    assert second.json()["subcode"] == "AlreadyExists"
    doc.close()


def test_application_body_is_required(ucwa_simulator: SimulatorHandle) -> None:
    doc = DocClient(ucwa_simulator.base_url, ucwa_simulator.token)
    response = doc.http.post("/ucwa/v1/applications", json={"UserAgent": "x"})
    # applications_ref.md: culture and endpointId are required -> 400 ParameterValidationFailure (docs/protocol.md §5.2)
    assert response.status_code == 400
    assert response.json()["subcode"] == "ParameterValidationFailure"
    assert {p["name"] for p in response.json()["parameters"]} == {"endpointId", "culture"}
    doc.close()


def test_requests_without_bearer_get_401(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    anonymous = DocClient(ucwa_simulator.base_url, None)
    assert anonymous.http.post("/ucwa/v1/applications", json={}).status_code == 401
    assert anonymous.http.get(client.events_href).status_code == 401
    wrong = DocClient(ucwa_simulator.base_url, "cwt=not-the-token")
    assert wrong.http.get(client.app["_links"]["self"]["href"]).status_code == 401
    anonymous.close()
    wrong.close()


# -- outgoing calls -----------------------------------------------------------------------------------


def test_outgoing_audio_video_answered(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_after(0.05)
    replay = Replay()
    location, model = _start_av(client, replay, "op-answered")
    started = client.wait_event(is_event("audioVideoInvitation", "started"))
    invitation = embedded(started)
    # docs/protocol.md §1.6/2.4: started, Outgoing, Connecting, cancel and conversation links; from = the user
    assert started["link"]["href"] == location
    assert invitation["direction"] == "Outgoing"
    assert invitation["state"] == "Connecting"
    assert invitation["operationId"] == "op-answered"
    assert {"self", "cancel", "conversation"} <= set(invitation["_links"])
    assert invitation["_embedded"]["from"]["uri"] == "sip:user@callfsm.test"
    assert invitation["_embedded"]["from"]["name"]
    completed = client.wait_event(is_event("audioVideoInvitation", "completed"))
    # docs/protocol.md §1.7, 2.4: completed Success with embedded state Connected; cancel stays (terminate)
    assert completed["status"] == "Success"
    assert embedded(completed)["state"] == "Connected"
    assert embedded(completed)["_links"]["cancel"]["href"].endswith("/audioVideo/terminate")
    replay.feed(client.responses)
    assert model.state is S.CONNECTED
    # the invitation resource, JSON and XML (docs/protocol.md §6)
    got = client.http.get(location)
    assert got.json()["state"] == "Connected"
    xml = client.http.get(location, headers={"Accept": "application/xml"})
    assert xml.headers["content-type"].startswith("application/xml")
    assert b'<property name="state">Connected</property>' in xml.content
    # hang up through the cancel link of the connected invitation (docs/protocol.md §1.6)
    hang_up = client.post(embedded(completed)["_links"]["cancel"]["href"])
    assert hang_up.status_code == 204
    _no_violations(ucwa_simulator, replay)


def test_outgoing_declined_with_reason(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.decline("RemoteFailure", "Declined", message="Outgoing invitation declined.")
    replay = Replay()
    _, model = _start_av(client, replay, "op-declined")
    completed = client.wait_event(is_event("audioVideoInvitation", "completed"))
    # docs/protocol.md §5.1: RemoteFailure/Declined, status Failure
    assert completed["status"] == "Failure"
    assert completed["reason"]["code"] == "RemoteFailure"
    assert completed["reason"]["subcode"] == "Declined"
    replay.feed(client.responses)
    assert model.state is S.DECLINED
    assert model.outcome is not None
    assert model.outcome.reason is not None
    assert model.outcome.reason.subcode == "Declined"
    _no_violations(ucwa_simulator, replay)


def test_cancel_race_success_crosses_the_cancel(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_on_cancel()
    replay = Replay()
    _, model = _start_av(client, replay, "op-race")
    started = client.wait_event(is_event("audioVideoInvitation", "started"))
    replay.feed(client.responses)
    cancel = embedded(started)["_links"]["cancel"]["href"]
    model.cancel(now=2.0)
    assert client.post(cancel).status_code == 204
    model.request_succeeded(now=2.1)
    assert model.state is S.CANCEL_ANSWERED  # the cancel's 204 is in: a hang-up can go as soon as it is due
    completed = client.wait_event(is_event("audioVideoInvitation", "completed"))
    # the callee answered as the cancel arrived: Success, and the invitation must be hung up
    assert completed["status"] == "Success"
    replay.feed(client.responses)
    assert model.state is S.HANGING_UP
    terminate = embedded(completed)["_links"]["cancel"]["href"]
    assert client.post(terminate).status_code == 204
    model.request_succeeded(now=3.0)
    assert model.state is S.HUNG_UP
    _no_violations(ucwa_simulator, replay)


def test_cancel_before_the_answer(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.no_answer(30.0)
    replay = Replay()
    location, model = _start_av(client, replay, "op-cancel")
    started = client.wait_event(is_event("audioVideoInvitation", "started"))
    assert client.post(embedded(started)["_links"]["cancel"]["href"]).status_code == 204
    completed = client.wait_event(is_event("audioVideoInvitation", "completed"))
    # docs/protocol.md §5.1: LocalFailure/Canceled (one l); state Cancelled (two l, docs/protocol.md §1.1)
    assert completed["reason"] == {"code": "LocalFailure", "subcode": "Canceled", "message": "cancelled by the user"}
    assert embedded(completed)["state"] == "Cancelled"
    # cancelling again: the link is gone -> 409 (README: a link the resource does not offer now)
    assert client.post(f"{location}/cancel").status_code == 409
    replay.feed(client.responses)
    assert model.state is S.CANCELLED
    _no_violations(ucwa_simulator, replay)


@pytest.mark.parametrize(
    ("script", "code", "subcode"),
    [
        (lambda s: s.no_answer(0.05), "RemoteFailure", "Timeout"),
        (lambda s: s.busy(), "RemoteFailure", "Busy"),
        (lambda s: s.fail("ServiceFailure", "Unavailable"), "ServiceFailure", "Unavailable"),
        (lambda s: s.fail("Forbidden", "Unreachable", after=0.02), "Forbidden", "Unreachable"),
        # neither the code nor the subcode is documented: the wire carries them as given, the machine fails
        (lambda s: s.fail_undocumented("QuotaExceeded", "PerTenantLimit"), "QuotaExceeded", "PerTenantLimit"),
        (lambda s: s.fail_undocumented("RemoteFailure", "PromptsStopped"), "RemoteFailure", "PromptsStopped"),
    ],
)
def test_outgoing_failures(
    ucwa_simulator: SimulatorHandle, client: DocClient, script: Any, code: str, subcode: str
) -> None:
    script(ucwa_simulator.script)
    replay = Replay()
    _, model = _start_av(client, replay, "op-fails")
    completed = client.wait_event(is_event("audioVideoInvitation", "completed"))
    assert completed["status"] == "Failure"
    assert (completed["reason"]["code"], completed["reason"]["subcode"]) == (code, subcode)
    replay.feed(client.responses)
    assert model.state is S.FAILED
    assert model.outcome is not None
    reason = model.outcome.reason
    assert reason is not None
    assert (reason.code, reason.subcode) == (code, subcode)  # kept as given, documented or not
    # the first four pairs are in docs/protocol.md §5.1's audio/video table; the last two are not
    undocumented = {("QuotaExceeded", "PerTenantLimit"), ("RemoteFailure", "PromptsStopped")}
    assert reason.undocumented is ((code, subcode) in undocumented)
    _no_violations(ucwa_simulator, replay)


def test_fail_accepts_only_catalogued_pairs(ucwa_simulator: SimulatorHandle) -> None:
    with pytest.raises(ValueError, match="catalogue"):
        ucwa_simulator.script.fail("RemoteFailure", "NoSuchSubcode")
    with pytest.raises(ValueError, match="non-empty"):
        ucwa_simulator.script.fail_undocumented("", "NoSuchSubcode")
    with pytest.raises(ValueError, match="unknown reason code"):
        ucwa_simulator.script.decline("Nope", "Declined")


def test_forwarded_then_answered(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.forward("sip:carol@contoso.com", answer_after=0.02)
    replay = Replay()
    _, model = _start_av(client, replay, "op-forward")
    updated = client.wait_event(is_event("audioVideoInvitation", "updated"))
    assert embedded(updated)["state"] == "Forwarded"  # InvitationState (docs/protocol.md §1.1)
    client.wait_event(is_event("audioVideoInvitation", "completed"))
    replay.feed(client.responses)
    assert [step.dest for step in model.history][-2:] == [S.FORWARDED, S.CONNECTED]
    _no_violations(ucwa_simulator, replay)


def test_messaging_and_add_participant(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_after(0.0, kind="messaging")
    ucwa_simulator.script.decline(kind="participant")
    response = client.post(client.link(client.communication, "startMessaging"), {"operationId": "im-1", "to": BOB})
    assert response.status_code == 201
    completed = client.wait_event(is_event("messagingInvitation", "completed"))
    assert completed["status"] == "Success"
    conversation = client.http.get(embedded(completed)["_links"]["conversation"]["href"]).json()
    # addParticipant is a conversation link in UCWA (addParticipant_ref.md)
    invite = client.post(
        conversation["_links"]["addParticipant"]["href"], {"operationId": "pi-1", "to": "sip:dan@contoso.com"}
    )
    assert invite.status_code == 201
    failed = client.wait_event(is_event("participantInvitation", "completed"))
    assert failed["reason"]["subcode"] == "Declined"
    _no_violations(ucwa_simulator)


# -- online meetings ------------------------------------------------------------------------------------


def _join(client: DocClient, replay: Replay, operation_id: str) -> OnlineMeetingJoin:
    href = client.link(client.communication, "joinOnlineMeeting")
    join = OnlineMeetingJoin()
    join.send(now=0.0, href=href, operation_id=operation_id, online_meeting_uri=MEETING)
    replay.track(join, operation_id)
    response = client.post(href, {"operationId": operation_id, "onlineMeetingUri": MEETING})
    assert response.status_code == 201
    join.created(now=0.5, href=response.headers["location"])
    return join


def test_join_through_the_lobby_admitted(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.admit_after(0.05)
    replay = Replay()
    join = _join(client, replay, "join-admitted")
    in_lobby = client.wait_event(is_event("conversation", "updated"))
    assert embedded(in_lobby)["state"] == "InLobby"  # docs/protocol.md §3: the lobby shows on the conversation
    completed = client.wait_event(is_event("onlineMeetingInvitation", "completed"))
    # seed 003: the OMI stays Connecting in the lobby and completes with Success once admitted
    omi_states = [
        embedded(e)["state"]
        for e in client.events
        if e["link"]["rel"] == "onlineMeetingInvitation" and e["type"] != "completed"
    ]
    assert omi_states
    assert set(omi_states) == {"Connecting"}
    assert completed["status"] == "Success"
    roster = [e for e in client.events if e["link"]["rel"] == "localParticipant" and e["type"] == "added"]
    assert len(roster) == 1  # localParticipant_ref.md: added again = admitted
    assert client.events.index(roster[0]) < client.events.index(completed)  # success only once in the roster
    replay.feed(client.responses)
    assert join.state is OnlineMeetingState.CONNECTED
    _no_violations(ucwa_simulator, replay)


def test_join_through_the_lobby_rejected(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.reject_after(0.05)
    replay = Replay()
    join = _join(client, replay, "join-rejected")
    completed = client.wait_event(is_event("onlineMeetingInvitation", "completed"))
    # docs/protocol.md §3: rejected -> Failure with a reason; the simulator's [U] choice is Forbidden/Denied
    assert completed["status"] == "Failure"
    assert completed["reason"]["subcode"] == "Denied"
    assert embedded(completed)["state"] == "Failed"
    replay.feed(client.responses)
    assert join.state is OnlineMeetingState.FAILED
    _no_violations(ucwa_simulator, replay)


def test_leader_admits_a_lobby_participant(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_after(0.0)  # joined with no lobby
    ucwa_simulator.script.lobby_arrival("Guest", "sip:guest@fabrikam.com")
    replay = Replay()
    _join(client, replay, "join-leader")
    added = client.wait_event(lambda e: e["type"] == "added" and e.get("in", {}).get("rel") == "lobby")
    guest = embedded(added)
    assert guest["inLobby"] is True
    assert guest["name"] == "Guest"
    replay.feed(client.responses)
    model = replay.model(added["link"]["href"])
    assert model.state is LobbyParticipantState.WAITING
    model.admit(now=30.0)
    assert client.post(guest["_links"]["admit"]["href"]).status_code == 204
    model.request_succeeded(now=30.1)
    deleted = client.wait_event(is_event("participant", "deleted", added["link"]["href"]))
    assert deleted["in"]["rel"] == "lobby"  # lobby_ref.md: admitted -> deleted from the lobby
    client.wait_event(lambda e: e["type"] == "added" and e["link"]["href"] == added["link"]["href"] and "in" not in e)
    replay.feed(client.responses)
    assert model.state is LobbyParticipantState.ADMITTED
    _no_violations(ucwa_simulator, replay)


# -- incoming ---------------------------------------------------------------------------------------------


def test_incoming_call_waits_for_make_me_available_then_is_accepted(
    ucwa_simulator: SimulatorHandle, client: DocClient
) -> None:
    ucwa_simulator.script.incoming_call("Alice Example", "sip:alice@contoso.com", subject="Hello")
    quiet = client.poll(timeout=0.2)
    assert "sender" not in quiet  # makeMeAvailable_ref.md: not available yet, nothing arrives
    client.make_me_available()
    started = client.wait_event(is_event("audioVideoInvitation", "started"))
    invitation = embedded(started)
    # incoming, Connecting; from = the caller (name, uri). UCWA audio/video has acceptWithAnswer,
    # acceptWithPhoneAudio and decline, and no plain accept; forward is the Trusted Application API's
    # (docs/protocol.md §1.4)
    assert invitation["direction"] == "Incoming"
    assert invitation["state"] == "Connecting"
    assert {"acceptWithAnswer", "acceptWithPhoneAudio", "decline"} <= set(invitation["_links"])
    assert not {"accept", "forward"} & set(invitation["_links"])
    assert invitation["_embedded"]["from"]["name"] == "Alice Example"
    assert invitation["_embedded"]["from"]["uri"] == "sip:alice@contoso.com"
    replay = Replay()
    replay.feed(client.responses)
    model = replay.model(started["link"]["href"])
    assert model.state is S.CONNECTING
    # the machines' explicit trigger (an older machine's accept() chose the same link)
    getattr(model, "accept_with_phone_audio", model.accept)(now=10.0)
    assert client.post(invitation["_links"]["acceptWithPhoneAudio"]["href"]).status_code == 204
    model.request_succeeded(now=10.1)
    completed = client.wait_event(is_event("audioVideoInvitation", "completed"))
    assert completed["status"] == "Success"
    replay.feed(client.responses)
    assert model.state is S.CONNECTED
    _no_violations(ucwa_simulator, replay)


def test_incoming_call_declined_with_an_xml_body(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.incoming_call(kind="messaging")
    client.make_me_available()
    started = client.wait_event(is_event("messagingInvitation", "started"))
    decline = embedded(started)["_links"]["decline"]["href"]
    bad = client.http.post(decline, json={"reason": "NotAReason"})
    assert bad.status_code == 400  # CallDeclineReason is a closed enum (docs/protocol.md §1.5)
    body = (
        '<?xml version="1.0" encoding="utf-8"?><input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">'
        '<property name="reason">Local</property></input>'
    )
    response = client.http.post(decline, content=body, headers={"Content-Type": "application/xml"})
    assert response.status_code == 204
    completed = client.wait_event(is_event("messagingInvitation", "completed"))
    # S2: LocalFailure/Declined is "declined by the local user"
    assert (completed["reason"]["code"], completed["reason"]["subcode"]) == ("LocalFailure", "Declined")
    assert embedded(completed)["state"] == "Declined"
    _no_violations(ucwa_simulator)


def test_incoming_renegotiation_dismissed_with_insufficient_bandwidth(
    ucwa_simulator: SimulatorHandle, client: DocClient
) -> None:
    ucwa_simulator.script.answer_after(0.0)
    ucwa_simulator.script.incoming_renegotiation()
    replay = Replay()
    _start_av(client, replay, "op-reneg")
    client.wait_event(is_event("audioVideoInvitation", "completed"))
    started = client.wait_event(is_event("audioVideoRenegotiation", "started"))
    renegotiation = embedded(started)
    # docs/protocol.md §4: Incoming, mediaOffer as a data: link, answer/dismiss links, no state property
    assert renegotiation["direction"] == "Incoming"
    assert renegotiation["_links"]["mediaOffer"]["href"].startswith("data:application/sdp;base64,")
    assert "state" not in renegotiation
    replay.feed(client.responses)
    model = replay.model(started["link"]["href"])
    assert model.state is RenegotiationState.REMOTE_OFFERED
    model.dismiss(now=20.0, reason=ReNegotiationDeclineReason.INSUFFICIENT_BANDWIDTH)
    # seed 001: {"reason":"InsufficientBandwidth"} -> 204
    response = client.post(renegotiation["_links"]["dismiss"]["href"], {"reason": "InsufficientBandwidth"})
    assert response.status_code == 204
    model.request_succeeded(now=20.1)
    assert model.state is RenegotiationState.DISMISSED
    # the server's own view heard the same reason
    server = [r for app in ucwa_simulator.world.apps.values() for c in app.conversations for r in c.renegotiations]
    assert server[0].shadow.decline_reason is ReNegotiationDeclineReason.INSUFFICIENT_BANDWIDTH
    again = client.post(renegotiation["_links"]["dismiss"]["href"], {"reason": "InsufficientBandwidth"})
    assert again.status_code == 409
    _no_violations(ucwa_simulator, replay)


def test_our_renegotiation_offer_and_the_one_at_a_time_rule(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_after(0.0)
    ucwa_simulator.script.renegotiation_answer(after=30.0)
    replay = Replay()
    _start_av(client, replay, "op-offer")
    completed = client.wait_event(is_event("audioVideoInvitation", "completed"))
    audio_video = client.http.get(embedded(completed)["_links"]["audioVideo"]["href"]).json()
    session = client.http.get(audio_video["_links"]["audioVideoSession"]["href"]).json()
    renegotiations = session["_links"]["renegotiations"]["href"]
    sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    first = client.http.post(
        renegotiations, params={"operationId": "reneg-1"}, content=sdp, headers={"Content-Type": "application/sdp"}
    )
    # renegotiations_ref.md: 201 with the renegotiation resource as its body
    assert first.status_code == 201
    assert first.json()["rel"] == "audioVideoRenegotiation"
    assert first.json()["direction"] == "Outgoing"
    second = client.http.post(
        renegotiations, params={"operationId": "reneg-2"}, content=sdp, headers={"Content-Type": "application/sdp"}
    )
    # at most one in progress: 409 Conflict/AlreadyExists (docs/protocol.md §4)
    assert second.status_code == 409
    assert (second.json()["code"], second.json()["subcode"]) == ("Conflict", "AlreadyExists")
    _no_violations(ucwa_simulator)


# -- Huawei ------------------------------------------------------------------------------------------------


def _sign(app_id: str, user_id: str, expire_time: int, nonce: str, app_key: str) -> str:
    """docs/protocol.md §7.1: HexEncode(HMAC-SHA256(appId:userId:expireTime:nonce, appKey))."""
    return hmac.new(app_key.encode(), f"{app_id}:{user_id}:{expire_time}:{nonce}".encode(), hashlib.sha256).hexdigest()


def test_huawei_app_id_authentication(ucwa_simulator: SimulatorHandle) -> None:
    http = httpx.Client(base_url=ucwa_simulator.base_url, timeout=10)
    expire = int(time.time()) + 600
    nonce = secrets.token_hex(32)
    body = {
        "appId": ucwa_simulator.huawei_app_id,
        "clientType": 72,
        "expireTime": expire,
        "nonce": nonce,
        "userId": "u1",
    }
    good = _sign(ucwa_simulator.huawei_app_id, "u1", expire, nonce, ucwa_simulator.huawei_app_key)
    ok = http.post("/v2/usg/acs/auth/appauth", json=body, headers={"Authorization": f"HMAC-SHA256 signature={good}"})
    assert ok.status_code == 200
    token = ok.json()["accessToken"]
    assert ok.json()["expireTime"] > time.time()
    bad = http.post(
        "/v2/usg/acs/auth/appauth", json=body, headers={"Authorization": "HMAC-SHA256 signature=" + "0" * 64}
    )
    assert bad.status_code == 401
    assert set(bad.json()) == {"error_code", "error_msg"}  # docs/protocol.md §7.3 body
    ucwa_simulator.script.series("984697426")
    cancelled = http.delete(
        "/v1/mmc/management/cycleconferences", params={"conferenceID": "984697426"}, headers={"X-Access-Token": token}
    )
    assert cancelled.status_code == 200
    http.close()


def test_huawei_series_cancelled_and_held_one_refused_without_type_1(ucwa_simulator: SimulatorHandle) -> None:
    http = httpx.Client(
        base_url=ucwa_simulator.base_url, timeout=10, headers={"X-Access-Token": ucwa_simulator.huawei_token}
    )
    script = ucwa_simulator.script
    script.series("984697426")
    script.series("555000111", held=True)
    path = "/v1/mmc/management/cycleconferences"
    # seed 004: 200 on success
    assert http.delete(path, params={"conferenceID": "984697426"}).status_code == 200
    # cancelled already: CONF_NOT_FOUND (docs/protocol.md §7.3)
    gone = http.delete(path, params={"conferenceID": "984697426"})
    assert gone.status_code == 400
    assert gone.json()["error_code"] == "MMC.111072065"
    # seed 004: by default a meeting that has been held cannot be cancelled
    refused = http.delete(path, params={"conferenceID": "555000111"})
    assert refused.status_code == 403
    assert set(refused.json()) == {"error_code", "error_msg"}
    assert http.delete(path, params={"conferenceID": "555000111", "type": "1"}).status_code == 200
    # X-Access-Token is required (seed 004): 401
    anonymous = httpx.delete(ucwa_simulator.base_url + path, params={"conferenceID": "555000111"})
    assert anonymous.status_code == 401
    http.close()


def test_huawei_sub_meetings(ucwa_simulator: SimulatorHandle) -> None:
    http = httpx.Client(
        base_url=ucwa_simulator.base_url, timeout=10, headers={"X-Access-Token": ucwa_simulator.huawei_token}
    )
    ucwa_simulator.script.series("777", sub_meetings=["s1", "s2", "s3"])
    ucwa_simulator.script.hold_series("777", sub_meeting="s2")
    path = "/v1/mmc/management/conferences/cyclesubconf"
    assert (
        http.request("DELETE", path, params={"conferenceID": "777"}, json={"cycleSubConfIDs": ["s1"]}).status_code
        == 200
    )
    assert (
        http.request("DELETE", path, params={"conferenceID": "777"}, json={"cycleSubConfIDs": ["s1"]}).status_code
        == 400
    )
    held = http.request("DELETE", path, params={"conferenceID": "777"}, json={"cycleSubConfIDs": ["s2"]})
    assert held.status_code == 403
    ok = http.request("DELETE", path, params={"conferenceID": "777", "type": "1"}, json={"cycleSubConfIDs": ["s2"]})
    assert ok.status_code == 200
    detail = http.get("/v1/mmc/management/conferences/confDetail", params={"conferenceID": "777"}).json()
    assert detail["conferenceData"]["conferenceState"] == "Created"  # held (docs/protocol.md §7.2)
    assert [s["cycleSubConfID"] for s in detail["conferenceData"]["subConfs"]] == ["s3"]
    http.close()


# -- the event channel --------------------------------------------------------------------------------------


def test_next_jumps_by_the_number_of_events(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_after(0.0)
    replay = Replay()
    _start_av(client, replay, "op-acks")
    client.wait_event(is_event("audioVideoInvitation", "completed"))
    for doc in client.responses:
        self_ack = int(doc["_links"]["self"]["href"].rsplit("ack=", 1)[1].split("&")[0])
        next_ack = int(doc["_links"]["next"]["href"].rsplit("ack=", 1)[1])
        count = sum(len(s["events"]) for s in doc.get("sender", []))
        assert next_ack == self_ack + count  # README: next counts events; a client only follows it
    assert any(sum(len(s["events"]) for s in doc.get("sender", [])) > 1 for doc in client.responses)


def test_resync_on_an_out_of_range_ack(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    events = client.events_href.split("?", 1)[0]
    answer = client.http.get(events, params={"ack": "999"})
    assert answer.status_code == 200
    links = answer.json()["_links"]
    # docs/protocol.md §2.2: resync is the sole link and points at the first unacknowledged set
    assert set(links) == {"self", "resync"}
    assert links["resync"]["href"].endswith("?ack=1")
    client.events_href = links["resync"]["href"]
    assert client.poll(timeout=0.1)["_links"]["next"]["href"].endswith("?ack=1")


def test_a_lost_answer_is_sent_again_on_the_same_ack(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_after(0.0)
    replay = Replay()
    _start_av(client, replay, "op-lost")
    first_href = client.events_href
    first = client.poll()
    again = client.http.get(first_href).json()
    assert again == first  # nothing acknowledged: the same answer, exactly once per ack


def test_pget_replaced(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    href = client.events_href
    results: dict[str, httpx.Response] = {}

    def first() -> None:
        results["first"] = client.http.get(href, params={"timeout": "5"})

    thread = threading.Thread(target=first)
    thread.start()
    app = next(iter(ucwa_simulator.world.apps.values()))
    deadline = time.monotonic() + 5
    while app.channel.waiter is None and time.monotonic() < deadline:  # the first GET is pending
        time.sleep(0.005)
    other = httpx.Client(base_url=ucwa_simulator.base_url, headers={"Authorization": f"Bearer {ucwa_simulator.token}"})
    second = other.get(href, params={"timeout": "0.1"})
    thread.join(timeout=10)
    # docs/protocol.md §2.2: the older P-GET with the same ack is released with 409 PGetReplaced
    assert results["first"].status_code == 409
    assert results["first"].json()["subcode"] == "PGetReplaced"
    assert second.status_code == 200
    other.close()


def test_application_not_found_after_delete_and_on_expiry(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    other = DocClient(ucwa_simulator.base_url, ucwa_simulator.token)
    other.create_application()
    assert client.http.delete(client.app["_links"]["self"]["href"]).status_code == 204
    gone = client.http.get(client.events_href)
    # docs/protocol.md §2.2: 404 ApplicationNotFound once the application is gone
    assert gone.status_code == 404
    assert gone.json()["subcode"] == "ApplicationNotFound"
    results: dict[str, httpx.Response] = {}
    thread = threading.Thread(
        target=lambda: results.setdefault("r", other.http.get(other.events_href, params={"timeout": "5"}))
    )
    thread.start()
    app = ucwa_simulator.world.apps[other.app["id"]]
    deadline = time.monotonic() + 5
    while app.channel.waiter is None and time.monotonic() < deadline:
        time.sleep(0.005)
    ucwa_simulator.script.expire_application()
    thread.join(timeout=10)
    assert results["r"].status_code == 404  # a pending P-GET is released with it
    assert results["r"].json()["subcode"] == "ApplicationNotFound"
    other.close()


def test_xml_events_say_what_json_says(ucwa_simulator: SimulatorHandle) -> None:
    from adapters.wire.events import parse_events

    xml_client = DocClient(
        ucwa_simulator.base_url, ucwa_simulator.token, accept="application/vnd.microsoft.com.ucwa+xml"
    )
    json_client = DocClient(ucwa_simulator.base_url, ucwa_simulator.token)
    json_client.create_application()
    xml_client.events_href = json_client.events_href
    ucwa_simulator.script.answer_after(0.0)
    assert (
        json_client.post(
            json_client.link(json_client.communication, "startAudioVideo"), {"to": BOB, "operationId": "x1"}
        ).status_code
        == 201
    )
    response = xml_client.http.get(xml_client.events_href)
    # docs/protocol.md §6: XML events need Accept vnd+xml; root <events> in the UCWA namespace
    assert response.headers["content-type"].startswith("application/vnd.microsoft.com.ucwa+xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?><events href=')
    recorded = ucwa_simulator.events_sent[-1]
    as_xml = parse_events(response.content, response.headers["content-type"])
    as_json = parse_events(json.dumps(recorded).encode(), "application/json")

    # XML has no value types and nests embedded resources under their key (docs/protocol.md §6):
    # compare what the machines read, event by event
    def summary(events: Any) -> list[tuple[Any, ...]]:
        return [(e.link, e.in_, e.type, e.status, e.reason, e.representation()) for e in events]

    assert len(as_json.events) == 2
    assert summary(as_xml.events) == summary(as_json.events)
    assert as_xml.next_href == as_json.next_href
    xml_client.close()
    json_client.close()


@pytest.mark.ucwa_simulator(profile="saas")  # forward is the Trusted Application API's (docs/protocol.md §1.4)
def test_incoming_call_forwarded_and_renegotiation_answered(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    client.make_me_available()
    ucwa_simulator.script.incoming_call("Eve", "sip:eve@contoso.com")
    started = client.wait_event(is_event("audioVideoInvitation", "started"))
    assert started["link"]["rel"] == "ms:rtc:saas:audioVideoInvitation"
    forward = client.link(embedded(started), "forward")
    assert client.post(forward, {"to": 42}).status_code == 400  # `to` is a SIP URI when given
    # ms:rtc:saas:forward marks `to` as not required (docs/protocol.md §1.5): no body is a forward too
    assert client.post(forward).status_code == 204
    completed = client.wait_event(is_event("audioVideoInvitation", "completed", started["link"]["href"]))
    # README [U]: a forwarded incoming call ends Informational/Redirected ("redirected to another contact", 5.1)
    assert (completed["reason"]["code"], completed["reason"]["subcode"]) == ("Informational", "Redirected")
    ucwa_simulator.script.answer_after(0.0)
    ucwa_simulator.script.incoming_renegotiation()
    replay = Replay()
    _start_av(client, replay, "op-answer-reneg")
    offer = client.wait_event(is_event("audioVideoRenegotiation", "started"))
    replay.feed(client.responses)
    model = replay.model(offer["link"]["href"])
    model.answer(now=40.0)
    # answer_ref.md: POST with no body, 204
    assert client.post(client.link(embedded(offer), "answer")).status_code == 204
    model.request_succeeded(now=40.1)
    assert model.state is RenegotiationState.ANSWERED
    _no_violations(ucwa_simulator, replay)
