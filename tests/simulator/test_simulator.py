"""The simulator end to end: applications (shape, body, bearer) and the event channel (next, resync, resend,
replaced, gone, XML).

Driven over loopback HTTP by :class:`ucwa_doc_client.DocClient` (plain httpx, links
only). Expected states, reasons and shapes come from docs/protocol.md (section
numbers in each test) or from the simulator's documented [U] choices
(adapters/simulator/README.md), never from the code's output. Every stream is
also fed to the Dispatcher, as it arrives and again whole at the end.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
from simulator_steps import BOB, start_av
from ucwa_doc_client import DocClient, Replay, is_event

from adapters.simulator import SimulatorHandle

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


# -- the event channel --------------------------------------------------------------------------------------


def test_next_jumps_by_the_number_of_events(ucwa_simulator: SimulatorHandle, client: DocClient) -> None:
    ucwa_simulator.script.answer_after(0.0)
    replay = Replay()
    start_av(client, replay, "op-acks")
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
    start_av(client, replay, "op-lost")
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
