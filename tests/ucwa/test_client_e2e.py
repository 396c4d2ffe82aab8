"""End to end: the app-facing clients against the loopback UCWA server, real HTTP.

An outgoing audio/video invitation goes from the create POST to completion
(Connected; Declined with its reason) in sync and in asyncio code, and the
client examples in their connect-by-URL form (``UcwaClient(APP, ...)``, an
application that already exists) run against it; the README's own examples,
which create their application, run against ``callfsm simulate`` in
``test_client_readme.py``. Expected states and reasons come from
docs/protocol.md §1.5-1.7 and 5.1 (RemoteFailure/Declined, LocalFailure/Canceled),
never from the code's own output.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ucwa_fake import APP, EVENTS, INVITATIONS, START_AV, TOKEN, Scripted, UcwaFake, closed_port, error_body, serve

from adapters.simulator import SimulatorHandle
from adapters.transport.http import HttpResponse, SyncSender, TransportError
from adapters.ucwa.channel import ChannelEnd
from adapters.ucwa.client import AsyncUcwaClient, StateChange, UcwaClient
from adapters.wire.requests import build_request
from adapters.wire.ucwa_errors import UcwaError
from fsm.actions import Action, FetchResource
from fsm.errors import InvalidInput
from fsm.invitation import Invitation, InvitationState, InvitationTrigger
from fsm.reasons import CallDeclineReason

S = InvitationState
T = InvitationTrigger

README_SYNC = '''\
# needs: server (tests/ucwa/test_client_e2e.py runs this against a loopback UCWA server)
import os

from adapters.ucwa.client import UcwaClient

APP = "https://fe1.contoso.com/ucwa/v1/applications/app1"
with UcwaClient(APP, token=os.environ["UCWA_TOKEN"], on_change=print) as client:
    call = client.start_audio_video("sip:bob@contoso.com", subject="Standup")
    outcome = client.wait_for_outcome(call, timeout=60)
    print(call.state.value, outcome)
'''

README_ASYNC = '''\
# needs: server (tests/ucwa/test_client_e2e.py runs this against a loopback UCWA server)
import asyncio
import os

from adapters.ucwa.client import AsyncUcwaClient

APP = "https://fe1.contoso.com/ucwa/v1/applications/app1"

async def main() -> None:
    async with AsyncUcwaClient(APP, token=os.environ["UCWA_TOKEN"]) as client:
        changes = client.changes()  # subscribe before acting
        call = await client.start_audio_video("sip:bob@contoso.com")
        async for change in changes:
            print(change)
            if change.model is call and call.outcome is not None:
                break
    print(call.state.value, call.outcome)

asyncio.run(main())
'''


def _readme_server_blocks() -> list[str]:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    return [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "# needs: server" in b]


@pytest.fixture(scope="module")
def fake() -> Iterator[UcwaFake]:
    server = UcwaFake(hold=0.2)
    with serve(server.app) as base_url:
        server.base_url = base_url
        yield server


@pytest.fixture(autouse=True)
def _clean(fake: UcwaFake) -> None:
    fake.reset()


def app_url(fake: UcwaFake) -> str:
    return fake.base_url + APP


def triggers(inv: Invitation) -> list[T]:
    return [step.trigger for step in inv.history]


# -- the README examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("snippet", [README_SYNC, README_ASYNC, *_readme_server_blocks()])
@pytest.mark.parametrize(("scenario", "expected"), [("connect", "Connected"), ("decline", "Declined")])
def test_readme_examples_run_against_the_loopback_server(
    *,
    fake: UcwaFake,
    snippet: str,
    scenario: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert len(snippet.strip().splitlines()) < 20
    fake.scenario = scenario
    monkeypatch.setenv("UCWA_TOKEN", TOKEN)
    code = snippet.replace("https://fe1.contoso.com", fake.base_url)
    exec(compile(code, "README example", "exec"), {"__name__": "readme"})
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(expected)
    if scenario == "decline":
        assert "RemoteFailure" in last
        assert "Declined" in last


# -- outgoing, sync ------------------------------------------------------------------------------------


def test_sync_outgoing_audio_video_to_connected(fake: UcwaFake) -> None:
    changes: list[StateChange] = []
    with UcwaClient(app_url(fake), token=TOKEN, on_change=changes.append) as client:
        inv = client.start_audio_video("sip:bob@contoso.com", subject="Standup")
        assert inv.state is S.CONNECTING  # the 201 was fed before start_audio_video returned
        outcome = client.wait_for_outcome(inv, timeout=10)
    assert outcome is not None
    assert outcome.success
    assert inv.state is S.CONNECTED
    assert triggers(inv) == [T.SEND, T.CREATED, T.STARTED, T.COMPLETED]
    assert [(c.source, c.dest) for c in changes] == [
        (S.IDLE, S.SENDING),
        (S.SENDING, S.CONNECTING),
        (S.CONNECTING, S.CONNECTING),
        (S.CONNECTING, S.CONNECTED),
    ]
    (post,) = fake.seen("POST", START_AV)
    body = json.loads(post.body)
    assert body["to"] == "sip:bob@contoso.com"
    assert body["subject"] == "Standup"
    assert len(body["operationId"]) <= 50
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert inv.href == f"{INVITATIONS}/av1"


def test_sync_outgoing_declined_with_its_reason(fake: UcwaFake) -> None:
    fake.scenario = "decline"
    with UcwaClient(app_url(fake), token=TOKEN) as client:
        inv = client.start_audio_video("sip:bob@contoso.com")
        outcome = client.wait_for_outcome(inv, timeout=10)
    assert inv.state is S.DECLINED
    assert outcome is not None
    assert not outcome.success
    assert outcome.reason is not None
    assert (outcome.reason.code, outcome.reason.subcode) == ("RemoteFailure", "Declined")


def test_sync_cancel_of_a_ringing_call(fake: UcwaFake) -> None:
    fake.scenario = "ring"
    with UcwaClient(app_url(fake), token=TOKEN) as client:
        inv = client.start_audio_video("sip:bob@contoso.com")
        assert client.run_until(lambda: inv.representation.has("cancel"), timeout=10)
        client.cancel(inv)
        assert inv.state is S.CANCEL_ANSWERED  # the 204 says nothing of the outcome; completed decides
        client.wait_for_outcome(inv, timeout=10)
    assert inv.state is S.CANCELLED
    assert [r.target for r in fake.seen("POST", f"{INVITATIONS}/av1/cancel")] == [f"{INVITATIONS}/av1/cancel"]


def test_over_long_values_send_nothing(fake: UcwaFake) -> None:
    with UcwaClient(app_url(fake), token=TOKEN) as client:
        with pytest.raises(InvalidInput, match="subject"):
            client.start_audio_video("sip:bob@contoso.com", subject="s" * 251)
        with pytest.raises(InvalidInput, match="operationId"):
            client.start_audio_video("sip:bob@contoso.com", operation_id="o" * 51)
        with pytest.raises(InvalidInput, match="sessionContext"):
            client.start_audio_video("sip:bob@contoso.com", sessionContext="c" * 51)
        assert client.models == ()
    assert fake.seen("POST") == []


def test_a_refused_create_raises_a_typed_error_and_fails_the_invitation(fake: UcwaFake) -> None:
    fake.script("POST", START_AV, Scripted(409, error_body("Conflict", "TooManyGroups", "too many")))
    with UcwaClient(app_url(fake), token=TOKEN) as client:
        with pytest.raises(UcwaError) as caught:
            client.start_audio_video("sip:bob@contoso.com")
        (inv,) = client.models
    assert (caught.value.status, caught.value.code, caught.value.subcode) == (409, "Conflict", "TooManyGroups")
    assert isinstance(inv, Invitation)
    assert inv.state is S.FAILED


# -- incoming, sync ---------------------------------------------------------------------------------------


def _incoming(client: UcwaClient, fake: UcwaFake) -> Invitation:
    fake.incoming("in1")
    assert client.run_until(lambda: client.models, timeout=10)
    (inv,) = client.models
    assert isinstance(inv, Invitation)
    return inv


def test_sync_accept_an_incoming_call(fake: UcwaFake) -> None:
    with UcwaClient(app_url(fake), token=TOKEN) as client:
        inv = _incoming(client, fake)
        client.accept(inv)
        assert inv.state is S.ACCEPTING
        client.wait_for_outcome(inv, timeout=10)
    assert inv.state is S.CONNECTED
    assert len(fake.seen("POST", f"{INVITATIONS}/in1/accept")) == 1


def test_sync_decline_an_incoming_call_with_a_reason(fake: UcwaFake) -> None:
    with UcwaClient(app_url(fake), token=TOKEN) as client:
        inv = _incoming(client, fake)
        client.decline(inv, CallDeclineReason.LOCAL)
        client.wait_for_outcome(inv, timeout=10)
    (post,) = fake.seen("POST", f"{INVITATIONS}/in1/decline")
    assert json.loads(post.body) == {"reason": "Local"}
    assert inv.state is S.DECLINED


def test_resync_rereads_the_live_invitations(fake: UcwaFake) -> None:
    fake.scenario = "ring"
    with UcwaClient(app_url(fake), token=TOKEN) as client:
        inv = client.start_audio_video("sip:bob@contoso.com")
        assert client.run_until(lambda: inv.representation.has("cancel"), timeout=10)
        doc = {"_links": {"resync": {"href": f"{EVENTS}?ack=1&resync=1"}}}
        fake.script("GET", EVENTS, Scripted(200, json.dumps(doc).encode()))
        fake.invitations["av1"] = {**fake.invitations["av1"], "state": "Alerting"}
        client.poll_once()
    assert [r.target for r in fake.seen("GET", f"{INVITATIONS}/av1")] == [f"{INVITATIONS}/av1"]
    assert inv.state is S.ALERTING  # learnt from the re-read, not from an event


def test_application_gone_ends_the_loop_through_the_hook(fake: UcwaFake) -> None:
    fake.script("GET", EVENTS, Scripted(404, error_body("NotFound", "ApplicationNotFound")))
    told: list[str | None] = []
    with UcwaClient(app_url(fake), token=TOKEN, on_application_not_found=lambda e: told.append(e.subcode)) as client:
        assert client.run() is ChannelEnd.APPLICATION_NOT_FOUND
    assert told == ["ApplicationNotFound"]


# -- asyncio -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "state", "subcode"), [("connect", S.CONNECTED, None), ("decline", S.DECLINED, "Declined")]
)
async def test_async_outgoing_audio_video(fake: UcwaFake, scenario: str, state: S, subcode: str | None) -> None:
    fake.scenario = scenario
    async with AsyncUcwaClient(app_url(fake), token=TOKEN) as client:
        inv = await client.start_audio_video("sip:bob@contoso.com")
        outcome = await client.wait_for_outcome(inv, timeout=10)
    assert inv.state is state
    assert outcome is not None
    assert outcome.success is (state is S.CONNECTED)
    assert (outcome.reason.subcode if outcome.reason else None) == subcode


async def test_async_started_may_beat_the_201(fake: UcwaFake) -> None:
    fake.scenario = "ring"  # started only; completed is pushed below, after the 201
    fake.create_delay = 0.4
    async with AsyncUcwaClient(app_url(fake), token=TOKEN) as client:
        changes = client.changes()
        inv = await client.start_audio_video("sip:bob@contoso.com")
        fake.push({"link": {"rel": "audioVideoInvitation", "href": inv.href}, "type": "completed", "status": "Success"})
        seen = [change async for change in _until(changes, lambda: inv.outcome is not None)]
    # the started event was routed by operationId while the POST still waited for its 201
    assert triggers(inv) == [T.SEND, T.STARTED, T.CREATED, T.COMPLETED]
    assert inv.state is S.CONNECTED
    assert [c.trigger for c in seen] == [T.SEND, T.STARTED, T.CREATED, T.COMPLETED]


async def _until(changes: AsyncIterator[StateChange], done: Callable[[], bool]) -> AsyncIterator[StateChange]:
    async for change in changes:
        yield change
        if done():
            return


async def test_async_accept_incoming_via_on_change(fake: UcwaFake) -> None:
    async with AsyncUcwaClient(app_url(fake), token=TOKEN) as client:
        changes = client.changes()
        fake.incoming("in1")
        change = await anext(changes)
        inv = change.model
        assert isinstance(inv, Invitation)
        assert change.dest is S.CONNECTING
        await client.accept(inv)
        outcome = await client.wait_for_outcome(inv, timeout=10)
    assert outcome is not None
    assert outcome.success
    assert inv.state is S.CONNECTED


async def test_async_changes_end_when_the_channel_is_replaced(fake: UcwaFake) -> None:
    fake.script("GET", EVENTS, Scripted(409, error_body("Conflict", "PGetReplaced")))
    async with AsyncUcwaClient(app_url(fake), token=TOKEN) as client:
        changes = client.changes()
        assert [c async for c in changes] == []
        assert client.ended is ChannelEnd.REPLACED


async def test_async_close_stops_the_pending_get(fake: UcwaFake) -> None:
    fake.hold = 30.0
    try:
        client = AsyncUcwaClient(app_url(fake), token=TOKEN)
        await client.connect()
        task = client.start()
        while not fake.seen("GET", EVENTS):
            await asyncio.sleep(0.01)
        await asyncio.wait_for(client.aclose(), 10)
        assert task.done()
        assert client.ended is ChannelEnd.STOPPED
    finally:
        fake.hold = 0.2


# -- the cancel race, against the simulator ----------------------------------------------------------------
#
# The simulator's answer_on_cancel plan answers the call as the cancel arrives (docs/protocol.md §1.6): the server
# queues completed Success and answers the cancel 204. The cancel and the hang-up POST the same cancel link
# and a response does not say which request it answers, so the client must send the hang-up only once the
# cancel's own 204 is in, whichever of the two it sees first.

#: One POST the client sent: its href, and the call's last step (source, trigger, dest) when it went out.
Sent = tuple[str, tuple[str, str, str] | None]


def _last_step(call: Invitation) -> tuple[str, str, str] | None:
    if not call.history:
        return None
    step = call.history[-1]
    return step.source.value, step.trigger.value, step.dest.value


def _simulated_application(sim: SimulatorHandle) -> str:
    response = httpx.post(
        sim.applications_url,
        json={"UserAgent": "callfsm-tests", "EndpointId": "cancel-race", "Culture": "en-US"},
        headers={"Authorization": f"Bearer {sim.token}"},
    )
    assert response.status_code == 201
    return str(httpx.URL(sim.base_url).join(response.headers["location"]))


def _server_state(sim: SimulatorHandle, operation_id: str) -> str:
    """The state of the server's shadow of the call (it stands for an ideal client of the resource)."""
    with sim.world.lock:
        for app in sim.world.apps.values():
            for conv in app.conversations:
                record = conv.invitation
                if record is not None and record.operation_id == operation_id:
                    return record.shadow.state.value
    raise AssertionError(f"the simulator has no call {operation_id}")


def _check_race(call: Invitation, sent: list[Sent], crossed: bool, sim: SimulatorHandle) -> None:
    assert call.state is S.HUNG_UP
    assert call.outcome is not None
    assert (call.outcome.success, call.outcome.status) == (True, "Success")
    (cancel, cancel_seen), (hang_up, hang_up_seen) = sent
    assert cancel.endswith("/cancel")
    assert hang_up.endswith("/terminate")  # the completed's cancel link: it terminates the modality
    assert cancel_seen is not None
    assert cancel_seen[1:] == ("cancel", "cancelling")
    # the hang-up went out when the machine asked for it, once the cancel's 204 was in
    if crossed:
        assert hang_up_seen == ("cancel_crossed", "request_succeeded", "hanging_up")
    else:
        assert hang_up_seen == ("cancel_answered", "completed", "hanging_up")
    steps = [(step.source.value, step.trigger.value, step.dest.value) for step in call.history]
    assert steps.index(hang_up_seen) > steps.index(cancel_seen)
    assert steps[-1] == ("hanging_up", "request_succeeded", "hung_up")
    assert _server_state(sim, call.operation_id or "") == S.HUNG_UP.value


def test_sync_cancel_race_hangs_up_after_the_cancels_204(
    ucwa_simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    ucwa_simulator.script.answer_on_cancel()
    sent: list[Sent] = []
    with UcwaClient(_simulated_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        call = client.start_audio_video("sip:bob@contoso.com", operation_id="op-race-sync")
        assert client.run_until(lambda: call.representation.has("cancel"), timeout=10)
        perform = client.sender.perform

        def recording(action: Action, **kwargs: Any) -> HttpResponse:
            sent.append((getattr(action, "href", ""), _last_step(call)))
            return perform(action, **kwargs)

        monkeypatch.setattr(client.sender, "perform", recording)
        client.cancel(call)
        # a sync client reads the cancel's 204 before it reads any event: the 204 comes first
        assert call.state is S.CANCEL_ANSWERED
        assert client.run_until(lambda: call.is_terminal, timeout=10)
    _check_race(call, sent, False, ucwa_simulator)


async def test_async_cancel_race_the_success_crosses_the_cancel_and_the_hang_up_waits(
    ucwa_simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    ucwa_simulator.script.answer_on_cancel()
    sent: list[Sent] = []
    async with AsyncUcwaClient(_simulated_application(ucwa_simulator), token=ucwa_simulator.token) as client:
        call = await client.start_audio_video("sip:bob@contoso.com", operation_id="op-race-async")
        async with asyncio.timeout(10):
            while not call.representation.has("cancel"):
                await asyncio.sleep(0.01)
        perform = client.sender.perform

        async def recording(action: Action, **kwargs: Any) -> HttpResponse:
            sent.append((getattr(action, "href", ""), _last_step(call)))
            response = await perform(action, **kwargs)
            if len(sent) == 1:
                # hold the cancel's 204 back until the event loop has taken in the completed Success
                # that the server queued while it answered the cancel: the Success crosses the 204
                async with asyncio.timeout(10):
                    while call.state is S.CANCELLING:
                        await asyncio.sleep(0.01)
                assert call.state is S.CANCEL_CROSSED
                assert len(sent) == 1  # and nothing was sent meanwhile
            return response

        monkeypatch.setattr(client.sender, "perform", recording)
        await client.cancel(call)
        # perform() sends what the cancel's 204 asked for, the hang-up, and feeds its 204 too
        assert call.is_terminal
    _check_race(call, sent, True, ucwa_simulator)


# -- secrets --------------------------------------------------------------------------------------------------


def test_no_bearer_token_in_logs_reprs_or_errors(fake: UcwaFake, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.scenario = "decline"
    texts: list[str] = []
    with UcwaClient(app_url(fake), token=TOKEN) as client:
        inv = client.start_audio_video("sip:bob@contoso.com")
        client.wait_for_outcome(inv, timeout=10)
        request = build_request(FetchResource(inv.href or "", "x"), base_url=client.url, token=client.sender.token())
        texts += [repr(client), repr(client.sender), repr(client.channel), repr(request), repr(inv)]
        fake.script("POST", START_AV, Scripted(500, b"<html>proxy echo: Authorization: Bearer " + TOKEN.encode()))
        with pytest.raises(UcwaError) as refused:
            client.start_audio_video("sip:carol@contoso.com")
        texts += [str(refused.value), repr(refused.value)]
    with httpx.Client() as http:
        dead = SyncSender(http, TOKEN, base_url=f"http://127.0.0.1:{closed_port()}")
        with pytest.raises(TransportError) as unreachable:
            dead.perform(FetchResource("/x?key=also-secret", "x"))
        texts += [str(unreachable.value), repr(unreachable.value), repr(dead)]
    assert fake.seen("POST", START_AV)  # requests were really made with the token...
    secret_part = TOKEN.split("=", 1)[1]
    for text in [caplog.text, *texts]:
        assert secret_part not in text, text  # ...and it shows nowhere
    assert "also-secret" not in str(unreachable.value)

