"""The simulator's seeded faults, its clock, and determinism, over loopback HTTP.

Each fault is forced (``script.fault_next``) or drawn from a seed, and the
stream the doc client gets must still replay through the Dispatcher with no
violation: what a fault changes is timing and repetition, never the legality
of the stream (docs/protocol.md §2.2: duplicates, aggregation, events before the 201,
resume are all things a real server does).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ucwa_doc_client import DocClient, Replay, embedded, is_event, replay_all

from adapters.simulator import FaultConfig, ManualClock, SimulatorConfig, SimulatorHandle, serve
from adapters.simulator.faults import FaultKind
from fsm.invitation import Invitation, InvitationKind, InvitationState

S = InvitationState
BOB = "sip:bob@contoso.com"


@pytest.fixture
def client(ucwa_simulator: SimulatorHandle) -> Iterator[DocClient]:
    doc = DocClient(ucwa_simulator.base_url, ucwa_simulator.token)
    doc.create_application()
    yield doc
    doc.close()


def _start(client: DocClient, replay: Replay, operation_id: str) -> tuple[str, Invitation]:
    href = client.link(client.communication, "startAudioVideo")
    model = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    model.send(now=0.0, href=href, operation_id=operation_id, to=BOB)
    replay.track(model, operation_id)
    response = client.post(href, {"operationId": operation_id, "to": BOB})
    assert response.status_code == 201
    model.created(now=0.5, href=response.headers["location"])
    return response.headers["location"], model


def _wait_pending(sim: SimulatorHandle) -> None:
    """Until the server holds a P-GET (a state of the server, not a time)."""
    deadline = time.monotonic() + 5
    while all(app.channel.waiter is None or app.channel.waiter.done for app in sim.world.apps.values()):
        assert time.monotonic() < deadline, "no P-GET became pending"
        time.sleep(0.005)


def test_duplicated_events_are_absorbed(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.fault_next("duplicate", times=20)
    ucwa_simulator.script.answer_after(0.0)
    replay = Replay()
    location, model = _start(client, replay, "op-dup")
    client.wait_event(is_event("audioVideoInvitation", "completed"))
    completed = [e for e in client.events if is_event("audioVideoInvitation", "completed", location)(e)]
    assert len(completed) >= 1
    every = [e for e in client.events if e["link"]["href"] == location]
    assert len(every) == 2 * len({(e["type"], e.get("status")) for e in every})  # each one twice
    replay.feed(client.responses)
    assert model.state is S.CONNECTED
    assert replay.violations == []
    assert replay_all(ucwa_simulator.events_sent) == []


def test_a_dropped_started_is_aggregation(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.fault_next("drop_started")
    ucwa_simulator.script.answer_after(0.0)
    replay = Replay()
    location, model = _start(client, replay, "op-drop")
    client.wait_event(is_event("audioVideoInvitation", "completed", location))
    # docs/protocol.md §2.2: because of aggregation an operation may show only completed
    assert not [e for e in client.events if is_event("audioVideoInvitation", "started", location)(e)]
    replay.feed(client.responses)
    assert model.state is S.CONNECTED
    assert replay.violations == []
    assert ucwa_simulator.world.refusals == []


def test_events_before_the_201(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.fault_next("early_events")
    ucwa_simulator.script.no_answer(30.0)
    got: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: got.setdefault("answer", client.poll(timeout=5)))
    thread.start()
    _wait_pending(ucwa_simulator)
    other = httpx.Client(base_url=ucwa_simulator.base_url, headers={"Authorization": f"Bearer {ucwa_simulator.token}"})
    response = other.post(
        client.link(client.communication, "startAudioVideo"), json={"operationId": "op-early", "to": BOB}
    )
    thread.join(timeout=10)
    assert response.status_code == 201
    location = response.headers["location"]
    started = [
        e for s in got["answer"]["sender"] for e in s["events"] if is_event("audioVideoInvitation", "started")(e)
    ]
    assert started[0]["link"]["href"] == location
    # docs/protocol.md §2.2: the started can arrive before the 201; the server released them in that order
    transcript = ucwa_simulator.simulator.transcript
    answer_at = next(i for i, line in enumerate(transcript) if line.startswith("GET ") and "/events" in line)
    created_at = next(i for i, line in enumerate(transcript) if "startAudioVideo -> 201" in line)
    assert answer_at < created_at
    other.close()


def test_resume_replaces_next_and_forgets_the_parameters(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    client.poll(timeout=0.1)
    app = next(iter(ucwa_simulator.world.apps.values()))
    assert app.channel.params == {"timeout": 0.1}  # kept for later P-GETs (docs/protocol.md §2.2)
    ucwa_simulator.script.fault_next("resume")
    answer = client.http.get(client.events_href).json()
    # docs/protocol.md §2.2: resume replaces next; the parameters must be sent again
    assert "resume" in answer["_links"]
    assert "next" not in answer["_links"]
    assert app.channel.params == {}
    client.events_href = answer["_links"]["resume"]["href"]
    assert "next" in client.poll(timeout=0.1)["_links"]


def test_injected_500_then_recovery(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.fail_next()
    failed = client.http.get(client.app["_links"]["self"]["href"])
    assert failed.status_code == 500
    assert failed.json()["code"] == "ServiceFailure"  # docs/protocol.md §5.2: 500 ServiceFailure
    assert client.http.get(client.app["_links"]["self"]["href"]).status_code == 200


def test_application_not_found_fault() -> None:
    with serve(SimulatorConfig(faults=FaultConfig(application_not_found=1.0))) as sim:
        client = DocClient(sim.base_url, sim.token)
        client.create_application()
        gone = client.http.get(client.events_href)
        assert gone.status_code == 404
        assert gone.json()["subcode"] == "ApplicationNotFound"
        assert client.http.get(client.app["_links"]["self"]["href"]).status_code == 404
        client.close()


def test_scripted_delays_follow_the_injected_clock() -> None:
    clock = ManualClock(1000.0)
    with serve(SimulatorConfig(clock=clock, pget_timeout=60.0)) as sim:
        client = DocClient(sim.base_url, sim.token)
        client.create_application()
        sim.script.answer_after(10.0)
        replay = Replay()
        location, model = _start(client, replay, "op-clock")
        client.wait_event(is_event("audioVideoInvitation", "started", location))
        got: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: got.setdefault("answer", client.poll()))
        thread.start()
        _wait_pending(sim)
        assert "answer" not in got  # ten seconds have not passed on the simulator's clock
        clock.advance(10.0)
        thread.join(timeout=10)
        completed = [e for s in got["answer"]["sender"] for e in s["events"] if e["type"] == "completed"]
        assert completed[0]["status"] == "Success"
        replay.feed(client.responses)
        assert model.state is S.CONNECTED
        client.close()


# -- determinism ---------------------------------------------------------------------------------------------

NOISY = FaultConfig(duplicate=0.3, drop_started=0.5, delay=0.5, max_delay=0.02, resume=0.3)


def _session(seed: int) -> tuple[list[dict[str, Any]], list[Any], set[FaultKind]]:
    """One fixed client session under seeded faults: the recorded stream and the replay's violations."""
    with serve(SimulatorConfig(seed=seed, faults=NOISY, pget_timeout=10.0, default_answer_delay=0.01)) as sim:
        client = DocClient(sim.base_url, sim.token)
        client.create_application()
        client.make_me_available()
        replay = Replay()
        sim.script.answer_after(0.01)
        first, _ = _start(client, replay, "op-1")
        client.wait_event(is_event("audioVideoInvitation", "completed", first))
        sim.script.decline()
        second, _ = _start(client, replay, "op-2")
        client.wait_event(is_event("audioVideoInvitation", "completed", second))
        sim.script.incoming_call("Alice", "sip:alice@contoso.com")
        incoming = client.wait_event(is_event("audioVideoInvitation", "started"))
        assert client.post(embedded(incoming)["_links"]["acceptWithPhoneAudio"]["href"]).status_code == 204
        client.wait_event(is_event("audioVideoInvitation", "completed", incoming["link"]["href"]))
        replay.feed(client.responses)
        client.close()
        assert sim.world.refusals == []
        return sim.events_sent, replay.violations, set(sim.world.faults.counts)


def test_same_seed_same_stream() -> None:
    stream, violations, happened = _session(seed=11)
    again, violations_again, _ = _session(seed=11)
    assert happened == {FaultKind.DUPLICATE, FaultKind.DROP_STARTED, FaultKind.DELAY, FaultKind.RESUME}
    assert stream == again
    assert violations == violations_again == []
    assert replay_all(stream) == []
    other, _, _ = _session(seed=12)
    assert other != stream  # the faults did shape the stream


def test_idle_application_expires_and_idle_channel_resumes() -> None:
    clock = ManualClock()
    config = SimulatorConfig(clock=clock, pget_timeout=60.0, application_expiry=100.0, resume_after_idle=30.0)
    with serve(config) as sim:
        client = DocClient(sim.base_url, sim.token)
        client.create_application()

        def poll_while_time_passes(seconds: float) -> dict[str, Any]:
            got: dict[str, Any] = {}
            thread = threading.Thread(target=lambda: got.setdefault("answer", client.poll(timeout=1.0)))
            thread.start()
            _wait_pending(sim)
            clock.advance(seconds)  # the P-GET's 1 s timeout passes on the simulator's clock
            thread.join(timeout=10)
            return got["answer"]  # type: ignore[no-any-return]

        assert "next" in poll_while_time_passes(1.0)["_links"]
        clock.advance(40.0)  # no P-GET for longer than resume_after_idle
        assert "resume" in poll_while_time_passes(1.0)["_links"]
        clock.advance(101.0)  # no request for longer than application_expiry
        gone = client.http.get(client.events_href)
        assert gone.status_code == 404
        assert gone.json()["subcode"] == "ApplicationNotFound"
        client.close()
