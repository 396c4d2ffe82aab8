"""The simulator end to end: audio/video renegotiations, the remote's (dismissed, answered) and ours.

Driven over loopback HTTP by :class:`ucwa_doc_client.DocClient` (plain httpx, links
only). Expected states, reasons and shapes come from docs/protocol.md (section
numbers in each test) or from the simulator's documented [U] choices
(adapters/simulator/README.md), never from the code's output. Every stream is
also fed to the Dispatcher, as it arrives and again whole at the end.
"""

from __future__ import annotations

import pytest
from simulator_steps import no_violations, start_av
from ucwa_doc_client import DocClient, Replay, embedded, is_event

from adapters.simulator import SimulatorHandle
from fsm.reasons import ReNegotiationDeclineReason
from fsm.renegotiation import RenegotiationState


def test_incoming_renegotiation_dismissed_with_insufficient_bandwidth(
    ucwa_simulator: SimulatorHandle, client: DocClient
) -> None:
    ucwa_simulator.script.answer_after(0.0)
    ucwa_simulator.script.incoming_renegotiation()
    replay = Replay()
    start_av(client, replay, "op-reneg")
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
    no_violations(ucwa_simulator, replay)


def test_our_renegotiation_offer_and_the_one_at_a_time_rule(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_after(0.0)
    ucwa_simulator.script.renegotiation_answer(after=30.0)
    replay = Replay()
    start_av(client, replay, "op-offer")
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
    no_violations(ucwa_simulator)


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
    start_av(client, replay, "op-answer-reneg")
    offer = client.wait_event(is_event("audioVideoRenegotiation", "started"))
    replay.feed(client.responses)
    model = replay.model(offer["link"]["href"])
    model.answer(now=40.0)
    # answer_ref.md: POST with no body, 204
    assert client.post(client.link(embedded(offer), "answer")).status_code == 204
    model.request_succeeded(now=40.1)
    assert model.state is RenegotiationState.ANSWERED
    no_violations(ucwa_simulator, replay)
