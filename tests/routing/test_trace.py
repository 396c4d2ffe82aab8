"""Traces (adapters/routing/trace.py): small hand-written traces replayed, the writer's redaction and bounds,
and traces written by the clients and the simulator against the simulator on 127.0.0.1.

Expected end states are reasoned from the docs in each test, never read from the replay's output.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.cli import main
from adapters.routing.replay import ReplayInputError, read_records, replay
from adapters.routing.trace import MAX_BODY, TraceWriter, action_from_json, action_json, parse_entry
from adapters.simulator import SimulatorHandle
from adapters.ucwa.client import AsyncUcwaClient, UcwaClient
from adapters.ucwa.tracing import TracingSink
from adapters.wire.events import parse_events
from adapters.wire.recording import MAX_RECORD
from adapters.wire.requests import HttpRequest, HttpResponse, Secret
from fsm.actions import PostLink

APP = "/ucwa/v1/applications/7"
START_AV = f"{APP}/communication/startAudioVideo"
CALL = f"{APP}/communication/invitations/1"
CANCEL = f"{CALL}/cancel"
RENEGOTIATION = f"{APP}/communication/conversations/1/audioVideo/audioVideoSession/renegotiations/2"
HEADER = {"format": "callfsm-trace", "version": 1, "role": "client"}
AV = {"machine": "invitation", "href": CALL, "operation_id": "op-1", "kind": "audioVideoInvitation"}


def events(t: float, *items: dict[str, Any]) -> dict[str, Any]:
    document = {
        "_links": {"self": {"href": f"{APP}/events?ack={t:g}"}, "next": {"href": f"{APP}/events?ack={t + 1:g}"}},
        "sender": [{"rel": "communication", "href": f"{APP}/communication", "events": list(items)}],
    }
    return {"t": t, "kind": "events", "response": document}


def av_event(type_: str, resource: dict[str, Any], **extra: Any) -> dict[str, Any]:
    embedded = {"rel": "audioVideoInvitation", "direction": "Outgoing", "operationId": "op-1", **resource}
    return {
        "link": {"rel": "audioVideoInvitation", "href": CALL},
        "type": type_,
        "_embedded": {"audioVideoInvitation": embedded},
        **extra,
    }


def call(t: float, model: dict[str, Any], trigger: str, **args: Any) -> dict[str, Any]:
    return {"t": t, "kind": "call", "model": model, "trigger": trigger, "args": args}


def request(
    t: float, model: dict[str, Any], action: dict[str, Any], status: int, headers: list[list[str]] | None = None
) -> dict[str, Any]:
    return {
        "t": t,
        "kind": "request",
        "model": model,
        "action": action,
        "request": {"method": "POST", "url": "http://127.0.0.1:1" + action["href"], "headers": [], "body": None},
        "response": {"status": status, "headers": headers or [], "body": ""},
    }


def cancel_link() -> dict[str, Any]:
    return {"type": "PostLink", "rel": "cancel", "href": CANCEL, "properties": [], "sdp": None}


def jsonl(*lines: dict[str, Any]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def states(text: str) -> dict[str, str]:
    report = replay(read_records(text, "t.jsonl"))
    assert report.violations == ()
    return {r.href: r.state for r in report.resources}


def cancel_race(*, with_the_apps_doing: bool = True) -> list[dict[str, Any]]:
    """docs/protocol.md §1.5-1.7: we call, cancel while it rings, the answer crosses our cancel, we hang up."""
    creating = {"machine": "invitation", "href": None, "operation_id": "op-1", "kind": "audioVideoInvitation"}
    start = {"type": "StartOperation", "rel": "startAudioVideo", "href": START_AV, "operation_id": "op-1",
             "properties": [["to", "sip:bob@contoso.com"]]}  # fmt: skip
    ringing = {"state": "Connecting", "_links": {"self": {"href": CALL}, "cancel": {"href": CANCEL}}}
    app = [
        call(1.0, creating, "send", href=START_AV, operation_id="op-1", to="sip:bob@contoso.com"),
        request(1.1, creating, start, 201, [["location", CALL]]),
        events(2.0, av_event("started", ringing)),
        call(3.0, AV, "cancel"),
        request(3.1, AV, cancel_link(), 204),
        # §1.7: completed Success means Connected: the callee answered as our cancel arrived
        events(4.0, av_event("completed", {"state": "Connected"}, status="Success")),
        # the call is up and we no longer want it: the client hangs up through the cancel link (§9 trap 4)
        request(4.1, AV, cancel_link(), 204),
    ]
    if with_the_apps_doing:
        return [HEADER, *app]
    return [line for line in app if line["kind"] == "events"]


def test_the_cancel_race_replays_to_hung_up() -> None:
    # the hang-up's 204 ends the call we hung up: hung_up, not the Connected the events alone say
    assert states(jsonl(*cancel_race())) == {CALL: "hung_up"}


def test_the_same_race_without_the_apps_requests_ends_connected() -> None:
    # the channel alone: started (Outgoing, adopted), then completed Success -> Connected (§1.7);
    # this is what issue 12 saw, and why a trace holds the app's requests
    assert states(jsonl(*cancel_race(with_the_apps_doing=False))) == {CALL: "Connected"}


def test_a_dismissed_incoming_renegotiation_replays_to_dismissed() -> None:
    # docs/protocol.md §4: an Incoming renegotiation started with a mediaOffer is the remote's offer; the app
    # POSTs dismiss {"reason": "InsufficientBandwidth"} (seed 001) and the 204 ends it dismissed
    links = {name: {"href": f"{RENEGOTIATION}/{name}"} for name in ("answer", "dismiss", "mediaOffer")}
    offer = {"rel": "audioVideoRenegotiation", "direction": "Incoming", "_links": links}
    started = {
        "link": {"rel": "audioVideoRenegotiation", "href": RENEGOTIATION},
        "type": "started",
        "_embedded": {"audioVideoRenegotiation": offer},
    }
    model = {"machine": "renegotiation", "href": RENEGOTIATION, "operation_id": None, "kind": None}
    dismiss = {"type": "PostLink", "rel": "dismiss", "href": f"{RENEGOTIATION}/dismiss",
               "properties": [["reason", "InsufficientBandwidth"]], "sdp": None}  # fmt: skip
    text = jsonl(
        HEADER,
        events(1.0, started),
        call(2.0, model, "dismiss", reason="InsufficientBandwidth"),
        request(2.1, model, dismiss, 204),
    )
    assert states(text) == {RENEGOTIATION: "dismissed"}
    # the events alone: an offer nobody answered (issue 12's remote_offered)
    assert states(jsonl(events(1.0, started))) == {RENEGOTIATION: "remote_offered"}


def test_a_call_the_machine_refuses_is_a_violation_and_the_rest_is_still_replayed() -> None:
    # the started carries no cancel link: §1.6's rule, an action needs its link, so the cancel is refused
    lines = cancel_race()
    lines[3] = events(2.0, av_event("started", {"state": "Connecting", "_links": {"self": {"href": CALL}}}))
    report = replay(read_records(jsonl(*lines[:5]), "t.jsonl"))
    [violation] = report.violations
    assert violation.type == "cancel"
    assert violation.href == CALL
    assert "refused" in violation.message


def test_a_call_on_a_model_never_seen_is_a_violation() -> None:
    report = replay(read_records(jsonl(HEADER, call(1.0, AV, "cancel")), "t.jsonl"))
    [violation] = report.violations
    assert "not seen" in violation.message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"format": "callfsm-trace", "version": 2}, "t.jsonl:1: trace version 2 is not supported"),
        ({"format": "other", "version": 1}, "t.jsonl:1: not a callfsm trace"),
        ({"kind": "teleport", "t": 1}, "t.jsonl:1: unknown trace record kind 'teleport'"),
        ({**call(1.0, AV, "cancel"), "extra": 1}, "t.jsonl:1: not a trace record"),
        ({**call(1.0, AV, "cancel"), "t": "soon"}, "t.jsonl:1: not a trace record"),
        ({**request(1.0, AV, {"type": "Nuke", "href": "/x"}, 204)}, "t.jsonl:1: unknown action type 'Nuke'"),
    ],
)
def test_a_bad_trace_line_is_refused_with_its_file_and_line(line: dict[str, Any], message: str) -> None:
    with pytest.raises(ReplayInputError, match="^" + message.replace("(", r"\(")):
        read_records(jsonl(line), "t.jsonl")


def test_callfsm_replay_reads_a_trace_and_a_bad_one_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(jsonl(*cancel_race()), encoding="utf-8")
    assert main(["replay", "--json", str(good)]) == 0
    assert [r["state"] for r in json.loads(capsys.readouterr().out)["resources"]] == ["hung_up"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(jsonl({"format": "callfsm-trace", "version": 9}), encoding="utf-8")
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "version 9" in err
    assert "Traceback" not in err


# -- the writer ---------------------------------------------------------------------------------------


def written(writer: TraceWriter, stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_writer_redacts_credentials_in_headers_bodies_and_anywhere_it_saw_them() -> None:
    stream = io.StringIO()
    writer = TraceWriter(stream)
    token = "cwt=SECRET-5f1e-TOKEN"
    sent = HttpRequest(
        "POST",
        "http://127.0.0.1:1/v2/usg/acs/auth/appauth?key=hidden-href-key&ack=3",
        (("Authorization", Secret("Bearer " + token)), ("X-Access-Token", "hw-ACCESS-42-SECRET")),
        b'{"appKey": "APP-KEY-SECRET-1"}',
    )
    writer.learn_secrets(sent)
    answer = HttpResponse(
        200,
        (("content-type", "application/json"), ("set-cookie", "s=COOKIE-SECRET")),
        json.dumps({"accessToken": "hw-NEW-SECRET-9", "echo": f"Bearer {token}", "expireTime": 3600}).encode(),
    )
    writer.exchange(1.0, sent, answer)
    text = stream.getvalue()
    for secret in (token, "hw-ACCESS-42-SECRET", "APP-KEY-SECRET-1", "COOKIE-SECRET", "hw-NEW-SECRET-9"):
        assert secret not in text
    assert "hidden-href-key" not in text  # a query value outside the loggable ones, as in logs
    [_, entry] = written(writer, stream)
    assert entry["request"]["headers"] == [["Authorization", "***"], ["X-Access-Token", "***"]]
    assert "ack=3" in entry["request"]["url"]
    assert json.loads(entry["response"]["body"])["expireTime"] == 3600  # what is not a credential stays


def test_a_body_above_the_limit_is_written_as_its_size() -> None:
    stream = io.StringIO()
    writer = TraceWriter(stream, max_body=100)
    writer.exchange(1.0, HttpRequest("POST", "http://127.0.0.1:1/x", (), b"x" * 101), HttpResponse(204))
    [_, entry] = written(writer, stream)
    assert (entry["request"]["body"], entry["request"]["body_size"]) == (None, 101)
    assert MAX_BODY >= 64 * 1024  # an SDP or a resource fits


def test_every_written_record_reads_back_as_its_cattrs_record() -> None:
    for number, line in enumerate(cancel_race(), 1):
        parse_entry(line, f"t.jsonl:{number}")


# -- written by the clients and the simulator, against the simulator ------------------------------------


def _application(sim: SimulatorHandle) -> str:
    response = httpx.post(
        sim.applications_url,
        json={"UserAgent": "trace-test", "EndpointId": "t", "Culture": "en-US"},
        headers={"Authorization": f"Bearer {sim.token}"},
    )
    assert response.status_code == 201
    return str(httpx.URL(sim.base_url).join(response.headers["location"]))


def test_the_sync_client_writes_a_trace_that_replays_to_its_end_state(
    ucwa_simulator: SimulatorHandle, tmp_path: Path
) -> None:
    path = tmp_path / "client.jsonl"
    ucwa_simulator.script.answer_after(0.05)
    with UcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token, trace=path) as client:
        invitation = client.start_audio_video("sip:bob@contoso.com")
        assert client.run_until(lambda: invitation.outcome is not None, timeout=5)
        client.cancel(invitation)  # §1.6: the answered call's cancel link hangs up
        live = (invitation.href, invitation.state.value)
    assert live[1] == "hung_up"
    text = path.read_text(encoding="utf-8")
    assert ucwa_simulator.token not in text
    assert states(text) == {live[0]: "hung_up"}


def test_the_async_client_writes_a_trace_too(ucwa_simulator: SimulatorHandle, tmp_path: Path) -> None:
    path = tmp_path / "async.jsonl"
    ucwa_simulator.script.decline("RemoteFailure", "Declined")

    async def run() -> tuple[str | None, str]:
        async with AsyncUcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token, trace=path) as client:
            invitation = await client.start_audio_video("sip:bob@contoso.com")
            await client.wait_for_outcome(invitation, timeout=5)
            return invitation.href, invitation.state.value

    href, state = asyncio.run(run())
    assert state == "Declined"  # seed 002: Failure RemoteFailure/Declined
    text = path.read_text(encoding="utf-8")
    assert ucwa_simulator.token not in text
    assert json.loads(text.splitlines()[0])["version"] == 1
    assert states(text) == {href: "Declined"}


def test_the_fixture_writes_the_servers_view(ucwa_simulator: SimulatorHandle, tmp_path: Path) -> None:
    ucwa_simulator.script.decline("RemoteFailure", "Declined")
    with UcwaClient(_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        invitation = client.start_audio_video("sip:bob@contoso.com")
        client.wait_for_outcome(invitation, timeout=5)
    path = ucwa_simulator.write_trace(tmp_path / "server.jsonl")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"format": "callfsm-trace", "version": 1, "role": "server"}
    requests = [line["request"] for line in lines if line.get("kind") == "request"]
    served = [r["method"] + " " + r["url"] for r in requests]
    assert any(s.startswith("POST ") and s.endswith("/startAudioVideo") for s in served)  # what it received
    assert any(line.get("kind") == "events" for line in lines)  # and the answers it sent
    assert ucwa_simulator.token not in path.read_text(encoding="utf-8")
    # the server's view replays like the channel: the declined call (seed 002)
    assert list(states(path.read_text(encoding="utf-8")).values()) == ["Declined"]


def test_callfsm_simulate_writes_the_servers_trace(tmp_path: Path) -> None:
    token = "cwt=SIMULATE-SECRET-TOKEN-4242"
    path = tmp_path / "server.jsonl"
    command = [sys.executable, "-m", "adapters.cli", "simulate", "--port", "0", "--token", token, "--trace", str(path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()  # the banner comes first (a dead process gives "": the match fails)
        match = re.search(r"http://127\.0\.0\.1:(\d+)", banner)
        assert match, banner
        base = f"http://127.0.0.1:{match.group(1)}"
        for _ in range(200):
            try:
                created = httpx.post(
                    base + "/ucwa/v1/applications",
                    json={"UserAgent": "t", "EndpointId": "t", "Culture": "en-US"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=2,
                )
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert created.status_code == 201
    finally:
        process.terminate()
        process.communicate(timeout=15)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"format": "callfsm-trace", "version": 1, "role": "server"}
    [create] = [line for line in lines[1:] if line["request"]["method"] == "POST"]
    assert ["authorization", "***"] in create["request"]["headers"]  # what it received, redacted
    assert create["response"]["status"] == 201  # and what it sent
    assert "SIMULATE-SECRET" not in path.read_text(encoding="utf-8")


# -- hostile traces: never a crash, only violations -------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
TRIGGERS = st.sampled_from(["send", "cancel", "accept", "decline", "dismiss", "answer", "offer", "admit", "created"])
MACHINES = st.sampled_from(["invitation", "online_meeting", "renegotiation", "lobby_participant", "meeting_series"])


@settings(max_examples=200, deadline=None)
@given(
    machine=MACHINES,
    trigger=TRIGGERS,
    args=st.dictionaries(st.sampled_from(["href", "to", "operation_id", "reason", "sdp", "extra", "x"]), JSON_VALUES),
    status=st.integers(100, 599),
    body=st.text(max_size=60),
)
def test_any_call_and_response_in_a_trace_is_replayed_or_refused_never_a_crash(
    machine: str, trigger: str, args: dict[str, Any], status: int, body: str
) -> None:
    lines = cancel_race()
    model = {"machine": machine, "href": CALL, "operation_id": "op-1", "kind": "audioVideoInvitation"}
    hostile_call = call(3.0, model, trigger, **args)
    hostile_request = request(3.1, model, cancel_link(), status, [["location", body]])
    hostile_request["response"]["body"] = body
    report = replay(read_records(jsonl(*lines[:4], hostile_call, hostile_request, *lines[4:]), "t.jsonl"))
    # whatever the call and the response were, the trace is judged to its end and the call is in the report
    assert [r.href for r in report.resources] == [CALL]
    assert all(v.event is None for v in report.violations)  # refusals of the app's records, not of events


@given(st.lists(st.tuples(st.text(min_size=1, max_size=10), st.text(max_size=10) | st.booleans() | st.integers())))
def test_an_action_written_reads_back_equal(properties: list[tuple[str, Any]]) -> None:
    action = PostLink("decline", CALL + "/decline", tuple(properties))
    assert action_from_json(json.loads(json.dumps(action_json(action)))) == action


def test_a_record_that_would_pass_the_readers_limit_keeps_only_the_sizes() -> None:
    # two bodies of control characters under MAX_BODY each: JSON escapes each byte as \u00XX, six-fold,
    # past the reader's 8 MiB record limit (adapters/wire/recording.py)
    stream = io.StringIO()
    writer = TraceWriter(stream)
    body = b"\x01" * (MAX_BODY - 1)
    writer.exchange(1.0, HttpRequest("POST", "http://127.0.0.1:1/x", (), body), HttpResponse(200, (), body))
    [_, line] = stream.getvalue().splitlines()
    assert len(line.encode()) <= MAX_RECORD
    entry = json.loads(line)
    assert (entry["request"]["body"], entry["request"]["body_size"]) == (None, MAX_BODY - 1)
    assert (entry["response"]["body"], entry["response"]["body_size"]) == (None, MAX_BODY - 1)
    read_records(stream.getvalue(), "t.jsonl")  # and it reads back


class _Sink:
    """Stands for the dispatcher: counts what the channel feeds it."""

    def __init__(self) -> None:
        self.fed = 0

    def feed(self, response: object, now: float) -> int:
        self.fed += 1
        return self.fed

    def drop_transient(self) -> object:
        return ()


def test_an_events_answer_is_written_when_it_is_fed_not_when_it_arrives() -> None:
    # the asyncio channel sends its next P-GET before the answer in hand is processed (docs/protocol.md §2.2),
    # so answer B can arrive while answer A's hang-up is still out; the app processed A, then the hang-up,
    # then B: that is the order a replay must see
    stream = io.StringIO()
    writer = TraceWriter(stream)
    sink = TracingSink(_Sink(), writer)
    get = HttpRequest("GET", f"http://127.0.0.1:1{APP}/events?ack=1")
    answer_a, answer_b = (
        HttpResponse(200, (("content-type", "application/json"),), json.dumps(events(n)["response"]).encode())
        for n in (1.0, 2.0)
    )
    writer.sent(1.0, get, answer_a)
    writer.sent(1.5, get, answer_b)  # arrived early
    sink.feed(parse_events(answer_a.body, "application/json"), 2.0)
    writer.sent(2.5, HttpRequest("POST", f"http://127.0.0.1:1{CANCEL}"), HttpResponse(204))  # A's hang-up
    sink.feed(parse_events(answer_b.body, "application/json"), 3.0)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()[1:]]
    assert [(line["kind"], line["t"]) for line in lines] == [("events", 2.0), ("request", 2.5), ("events", 3.0)]
    assert lines[0]["response"]["_links"]["self"]["href"].endswith("ack=1")
    assert lines[2]["response"]["_links"]["self"]["href"].endswith("ack=2")


def test_an_answer_the_channel_cannot_read_is_written_as_a_plain_exchange() -> None:
    stream = io.StringIO()
    writer = TraceWriter(stream)
    TracingSink(_Sink(), writer)
    get = HttpRequest("GET", f"http://127.0.0.1:1{APP}/events?ack=1")
    writer.sent(1.0, get, HttpResponse(200, (("content-type", "application/json"),), b'{"sender": ['))
    [line] = [json.loads(line) for line in stream.getvalue().splitlines()[1:]]
    assert (line["kind"], line["model"]) == ("request", None)  # the channel skips it; so does a replay
