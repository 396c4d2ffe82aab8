"""The simulator end to end: online meetings, joined through the lobby and led (a guest admitted).

Driven over loopback HTTP by :class:`ucwa_doc_client.DocClient` (plain httpx, links
only). Expected states, reasons and shapes come from docs/protocol.md (section
numbers in each test) or from the simulator's documented [U] choices
(adapters/simulator/README.md), never from the code's output. Every stream is
also fed to the Dispatcher, as it arrives and again whole at the end.
"""

from __future__ import annotations

from simulator_steps import MEETING, no_violations
from ucwa_doc_client import DocClient, Replay, embedded, is_event

from adapters.simulator import SimulatorHandle
from fsm.lobby_participant import LobbyParticipantState
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState

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
    no_violations(ucwa_simulator, replay)


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
    no_violations(ucwa_simulator, replay)


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
    no_violations(ucwa_simulator, replay)
