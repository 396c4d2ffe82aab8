"""The simulator end to end: outgoing calls (answered, declined, cancelled, failed, forwarded), messaging and
added participants, incoming calls.

Driven over loopback HTTP by :class:`ucwa_doc_client.DocClient` (plain httpx, links
only). Expected states, reasons and shapes come from docs/protocol.md (section
numbers in each test) or from the simulator's documented [U] choices
(adapters/simulator/README.md), never from the code's output. Every stream is
also fed to the Dispatcher, as it arrives and again whole at the end.
"""

from __future__ import annotations

from typing import Any

import pytest
from simulator_steps import BOB, S, no_violations, start_av
from ucwa_doc_client import DocClient, Replay, embedded, is_event

from adapters.simulator import SimulatorHandle

# -- outgoing calls -----------------------------------------------------------------------------------


def test_outgoing_audio_video_answered(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_after(0.05)
    replay = Replay()
    location, model = start_av(client, replay, "op-answered")
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
    no_violations(ucwa_simulator, replay)


def test_outgoing_declined_with_reason(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.decline("RemoteFailure", "Declined", message="Outgoing invitation declined.")
    replay = Replay()
    _, model = start_av(client, replay, "op-declined")
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
    no_violations(ucwa_simulator, replay)


def test_cancel_race_success_crosses_the_cancel(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_on_cancel()
    replay = Replay()
    _, model = start_av(client, replay, "op-race")
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
    no_violations(ucwa_simulator, replay)


def test_cancel_before_the_answer(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.no_answer(30.0)
    replay = Replay()
    location, model = start_av(client, replay, "op-cancel")
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
    no_violations(ucwa_simulator, replay)


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
    _, model = start_av(client, replay, "op-fails")
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
    no_violations(ucwa_simulator, replay)


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
    _, model = start_av(client, replay, "op-forward")
    updated = client.wait_event(is_event("audioVideoInvitation", "updated"))
    assert embedded(updated)["state"] == "Forwarded"  # InvitationState (docs/protocol.md §1.1)
    client.wait_event(is_event("audioVideoInvitation", "completed"))
    replay.feed(client.responses)
    assert [step.dest for step in model.history][-2:] == [S.FORWARDED, S.CONNECTED]
    no_violations(ucwa_simulator, replay)


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
    no_violations(ucwa_simulator)


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
    no_violations(ucwa_simulator, replay)


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
    no_violations(ucwa_simulator)
