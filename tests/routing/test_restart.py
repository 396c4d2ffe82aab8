"""A client stopped in the middle of calls and started again from its snapshot ends every call the same.

End to end over loopback (tests/ucwa_fake.py, real HTTP): the same scripted
calls run once on a client that never stops and once on a client that is
snapshotted, stopped and restored mid-call (between answers; inside the
processing of an answer, as a crash would leave it; asyncio, with the P-GET
in flight cancelled). Every call must end in the same state, with the same
outcome and the same steps.

Expected ends come from docs/protocol.md §1.5-1.7 and 5.1, not from the code: the
outgoing call the callee declines is Declined with RemoteFailure/Declined;
the incoming call we accept is Connected; the one we decline is Declined
with LocalFailure/Declined (what the fake server sends for our decline).

The fake here keeps each answer under the ``ack`` it was asked for and
answers a repeated ``ack`` with the same answer, as UCWA does for an answer
not yet acknowledged (following ``next`` acknowledges, docs/protocol.md §2.2). So a
restarted client that resumed from the wrong place would see the wrong
events, and one that re-reads an answer gets it again.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import attrs
import pytest
from starlette.requests import Request
from starlette.responses import Response
from ucwa_fake import APP, EVENTS, INVITATIONS, JSON_TYPE, TOKEN, UcwaFake, serve

from adapters.routing import restart
from adapters.routing.restart import TIME_FIELDS
from adapters.ucwa.client import AsyncUcwaClient, StateChange, UcwaClient
from adapters.wire.events import parse_events
from fsm import snapshot as model_snapshot
from fsm.errors import NotDue, SnapshotError
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.reasons import CallDeclineReason
from fsm.registry import MODELS
from fsm.renegotiation import Renegotiation, RenegotiationState
from fsm.wire import Link, Representation

S = InvitationState
AV1 = f"{INVITATIONS}/av1"
IN1 = f"{INVITATIONS}/in1"
IN2 = f"{INVITATIONS}/in2"


class AckFake(UcwaFake):
    """UcwaFake whose P-GET answers are kept by ``ack``: asking for an ``ack`` again gets the same answer."""

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.answers: dict[str, str] = {}

    async def events(self, request: Request) -> Response:
        _, early = await self._common(request)
        if early is not None:
            return early
        ack = request.url.query
        with self.lock:
            kept = self.answers.get(ack)
        if kept is not None:
            return Response(kept, 200, media_type=JSON_TYPE)
        deadline = time.monotonic() + self.hold
        generation = self.generation
        batch: list[dict[str, Any]] | None = None
        while True:
            with self.lock:
                if generation != self.generation:
                    return Response(b"", 410)
                if self.batches:
                    batch = self.batches.popleft()
            if batch is not None or time.monotonic() >= deadline:
                break
            if await request.is_disconnected():
                return Response(b"", 499)
            await asyncio.sleep(0.01)
        with self.lock:
            self.ack += 1
            document: dict[str, Any] = {
                "_links": {"self": {"href": f"{EVENTS}?{ack}"}, "next": {"href": f"{EVENTS}?ack={self.ack}"}}
            }
            if batch:
                document["sender"] = [{"rel": "communication", "href": f"{APP}/communication", "events": batch}]
            text = json.dumps(document)
            # kept even if the client is gone: a cancelled P-GET must not lose what it took
            self.answers[ack] = text
        return Response(text, 200, media_type=JSON_TYPE)


@pytest.fixture(scope="module")
def fake() -> Iterator[AckFake]:
    server = AckFake(hold=0.15)
    with serve(server.app) as base_url:
        server.base_url = base_url
        yield server


@pytest.fixture(autouse=True)
def _clean(fake: AckFake) -> None:
    fake.reset()


# -- the script ---------------------------------------------------------------------------------


def alerting(href: str) -> dict[str, Any]:
    resource = {
        "rel": "audioVideoInvitation",
        "direction": "Outgoing",
        "state": "Alerting",
        "_links": {"self": {"href": href}, "cancel": {"href": f"{href}/cancel"}},
    }
    return {
        "link": {"rel": "audioVideoInvitation", "href": href},
        "type": "updated",
        "_embedded": {"audioVideoInvitation": resource},
    }


def remote_declined(href: str) -> dict[str, Any]:
    return {
        "link": {"rel": "audioVideoInvitation", "href": href},
        "type": "completed",
        "status": "Failure",
        "reason": {"code": "RemoteFailure", "subcode": "Declined", "message": "Outgoing invitation declined."},
    }


def push_alerting_and_second_incoming(fake: AckFake) -> None:
    """One answer with two events: our call rings at the callee, and a second call comes in."""
    fake.incoming("in2")
    with fake.lock:
        (started_in2,) = fake.batches.pop()
        fake.batches.append([alerting(AV1), started_in2])


Summary = dict[str, tuple[str, tuple[object, ...] | None, list[tuple[str, str, str]]]]


def summary(models: tuple[FsmModel, ...]) -> Summary:
    out: Summary = {}
    for model in models:
        assert isinstance(model, Invitation)
        assert model.href is not None
        outcome = model.outcome
        reason = None if outcome is None else outcome.reason
        out[model.href] = (
            model.state.value,
            None
            if outcome is None
            else (outcome.success, outcome.status, reason and reason.code, reason and reason.subcode),
            [(s.source.value, s.trigger.value, s.dest.value) for s in model.history],
        )
    return out


def by_href(models: tuple[FsmModel, ...], href: str) -> Invitation:
    (found,) = [m for m in models if isinstance(m, Invitation) and m.href == href]
    return found


def all_settled(models: tuple[FsmModel, ...]) -> bool:
    return len(models) == 3 and all(isinstance(m, Invitation) and m.outcome is not None for m in models)


def check_expected_ends(result: Summary) -> None:
    """The ends docs/protocol.md gives for the three calls of the script."""
    assert result[AV1][0] == S.DECLINED.value
    assert result[AV1][1] == (False, "Failure", "RemoteFailure", "Declined")
    assert result[IN1][0] == S.CONNECTED.value
    assert result[IN1][1] is not None
    assert result[IN1][1][0] is True
    assert result[IN2][0] == S.DECLINED.value
    assert result[IN2][1] == (False, "Failure", "LocalFailure", "Declined")


Restart = Literal["never", "between answers", "inside an answer"]


def run_sync(fake: AckFake, restart_at: Restart) -> tuple[Summary, dict[str, Any] | None, list[str]]:
    """The script on a sync client; returns the ends, the snapshot taken (if any) and the P-GET targets."""
    url = fake.base_url + APP
    fake.scenario = "ring"
    taken: list[dict[str, Any]] = []
    client = UcwaClient(url, token=TOKEN)
    client.connect()
    call = client.start_audio_video("sip:bob@contoso.com")
    fake.incoming("in1")
    assert client.run_until(lambda: call.representation.has("cancel") and len(client.models) == 2, timeout=10)
    push_alerting_and_second_incoming(fake)
    if restart_at == "inside an answer":

        def grab(change: StateChange) -> None:
            # called while the answer is still being processed: a crash here loses the rest of it
            if change.dest is S.ALERTING and not taken:
                taken.append(client.snapshot())

        client.on_change = grab
    assert client.run_until(lambda: call.state is S.ALERTING and len(client.models) == 3, timeout=10)
    if restart_at == "between answers":
        taken.append(client.snapshot())
    gets_before = len(fake.seen("GET", EVENTS))
    if restart_at != "never":
        text = json.dumps(taken[0])  # the snapshot goes through JSON, as it would through a file
        client.close()
        fake.push(remote_declined(AV1))  # while no client runs
        client = UcwaClient.restore(url, text, token=TOKEN)
        client.connect()
    else:
        fake.push(remote_declined(AV1))
    with client:
        client.accept(by_href(client.models, IN1))
        client.decline(by_href(client.models, IN2), CallDeclineReason.LOCAL)
        assert client.run_until(lambda: all_settled(client.models), timeout=10)
        result = summary(client.models)
    targets = [r.target for r in fake.seen("GET", EVENTS)]
    return result, (taken[0] if taken else None), targets[gets_before - 1 :]


@pytest.mark.parametrize("restart_at", ["between answers", "inside an answer"])
def test_sync_client_restarted_mid_call_ends_every_call_like_one_that_never_stopped(
    fake: AckFake, restart_at: Restart
) -> None:
    reference, _, _ = run_sync(fake, "never")
    check_expected_ends(reference)
    fake.reset()
    restarted, snap, targets = run_sync(fake, restart_at)
    assert restarted == reference
    assert snap is not None
    last_before, first_after = targets[0], targets[1]
    if restart_at == "between answers":
        # the restored loop goes on from the last next it followed...
        assert snap["events"] == fake.base_url + first_after
        assert first_after != last_before
    else:
        # ...or, stopped inside an answer, reads that answer again (nothing was acknowledged)
        assert first_after == last_before
    assert not first_after.endswith("?ack=1")  # not from the application's events link


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def run_async(fake: AckFake, *, restart_mid_call: bool) -> tuple[Summary, list[str]]:
    url = fake.base_url + APP
    fake.scenario = "ring"
    client = AsyncUcwaClient(url, token=TOKEN)
    await client.connect()
    client.start()
    call = await client.start_audio_video("sip:bob@contoso.com")
    fake.incoming("in1")
    await until(lambda: call.representation.has("cancel") and len(client.models) == 2)
    push_alerting_and_second_incoming(fake)
    await until(lambda: call.state is S.ALERTING and len(client.models) == 3)
    gets_before = len(fake.seen("GET", EVENTS))
    if restart_mid_call:
        await client.aclose()  # the P-GET in flight is cancelled
        text = json.dumps(client.snapshot())
        fake.push(remote_declined(AV1))
        client = AsyncUcwaClient.restore(url, text, token=TOKEN)
        await client.connect()
        client.start()
    else:
        fake.push(remote_declined(AV1))
    try:
        await client.accept(by_href(client.models, IN1))
        await client.decline(by_href(client.models, IN2), CallDeclineReason.LOCAL)
        await until(lambda: all_settled(client.models))
    finally:
        await client.aclose()
    return summary(client.models), [r.target for r in fake.seen("GET", EVENTS)][gets_before:]


async def test_async_client_restarted_mid_call_ends_every_call_like_one_that_never_stopped(fake: AckFake) -> None:
    reference, _ = await run_async(fake, restart_mid_call=False)
    check_expected_ends(reference)
    fake.reset()
    restarted, targets = await run_async(fake, restart_mid_call=True)
    assert restarted == reference
    assert not any(target.endswith("?ack=1") for target in targets)


# -- deadlines, sessions, routing --------------------------------------------------------------------

SESSION = f"{APP}/communication/conversations/5/audioVideo/audioVideoSession"
RENEG_IN = f"{SESSION}/renegotiations/theirs"
OMI = f"{APP}/communication/onlineMeetingInvitations/j1"
CONVERSATION = f"{APP}/communication/conversations/9"


def offline_client(clock: float, **options: Any) -> UcwaClient:
    return UcwaClient("https://fe1.contoso.com" + APP, token=TOKEN, clock=lambda: clock, **options)


def join_in_lobby(client: UcwaClient, *, deadline: float) -> OnlineMeetingJoin:
    join = OnlineMeetingJoin()
    join.send(
        now=1000.0,
        href=f"{APP}/communication/joinOnlineMeeting",
        operation_id="op-join",
        online_meeting_uri="sip:org@contoso.com;gruu;opaque=app:conf:focus:id:X",
        lobby_deadline=deadline,
    )
    client.dispatcher.track(join)
    join.created(now=1000.5, href=OMI)
    representation = Representation(
        state="Connecting",
        links=(Link("self", OMI), Link("conversation", CONVERSATION), Link("cancel", f"{OMI}/cancel")),
    )
    join.started(now=1001.0, href=OMI, representation=representation)
    join.conversation_updated(now=1002.0, state="InLobby")
    client.dispatcher.track(join)  # its conversation is known now
    assert join.state is OnlineMeetingState.IN_LOBBY
    return join


def their_offer() -> bytes:
    resource = {
        "direction": "Incoming",
        "_links": {
            "self": {"href": RENEG_IN},
            "answer": {"href": f"{RENEG_IN}/answer"},
            "dismiss": {"href": f"{RENEG_IN}/dismiss"},
            "audioVideoSession": {"href": SESSION},
            "mediaOffer": {"href": "data:application/sdp;base64,dj0w"},
        },
    }
    event = {
        "link": {"rel": "audioVideoRenegotiation", "href": RENEG_IN},
        "type": "started",
        "_embedded": {"audioVideoRenegotiation": resource},
    }
    doc = {
        "_links": {"next": {"href": f"{EVENTS}?ack=9"}},
        "sender": [{"rel": "communication", "href": "/c", "events": [event]}],
    }
    return json.dumps(doc).encode()


def test_deadlines_survive_a_restart_onto_a_new_clock() -> None:
    # taken at clock 1000 (wall 5000); restored 5 s of wall time later on a clock that reads 50
    before = offline_client(1000.0)
    join_in_lobby(before, deadline=1020.0)  # 20 s left when the snapshot is taken
    session = before.dispatcher.av_session(SESSION)
    ours, _ = session.offer(
        now=1000.0, href=f"{SESSION}/renegotiations", operation_id="op-ours", sdp="v=0", deadline=1030.0
    )
    before.dispatcher.track(ours)
    text = json.dumps(before.snapshot(wall=lambda: 5000.0))
    before.close()

    after = UcwaClient.restore(before.url, text, token=TOKEN, clock=lambda: 50.0, wall=lambda: 5005.0)
    join2 = next(m for m in after.models if isinstance(m, OnlineMeetingJoin))
    ours2 = next(m for m in after.models if isinstance(m, Renegotiation))
    # 20 s left minus the 5 s the client was down: 15 s from the new clock's 50
    assert join2.lobby_deadline == 65.0
    assert ours2.deadline == 75.0
    assert ours2.history[-1].at == 50.0 - 5.0  # taken at 1000, 5 s before the restore
    with pytest.raises(NotDue):
        join2.lobby_timeout(now=64.0)
    join2.lobby_timeout(now=65.0)
    assert join2.state is OnlineMeetingState.CANCELLING  # it had a cancel link: it leaves
    assert not ours2.due(74.0)
    assert ours2.due(75.0)
    # the glare rule survives too: their offer crossing ours is dismissed, ours stays current
    result = after.dispatcher.feed(parse_events(their_offer(), "application/json"), 60.0)
    (theirs,) = result.created
    assert isinstance(theirs, Renegotiation)
    assert theirs.state is RenegotiationState.DISMISSING
    assert after.dispatcher.av_session(SESSION).current is ours2
    assert ours2.state is RenegotiationState.OFFERING
    after.close()


def test_the_routing_survives_a_restart() -> None:
    before = offline_client(10.0)
    join = join_in_lobby(before, deadline=2000.0)
    outgoing = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    outgoing.send(
        now=10.0, href=f"{APP}/communication/startAudioVideo", operation_id="op-out", to="sip:bob@contoso.com"
    )
    before.dispatcher.track(outgoing, operation_id="op-out")  # before its 201: found by operation id only
    snap = before.snapshot(wall=lambda: 0.0)
    before.close()
    after = UcwaClient.restore(before.url, snap, token=TOKEN, clock=lambda: 10.0, wall=lambda: 0.0)
    join2 = next(m for m in after.models if isinstance(m, OnlineMeetingJoin))
    out2 = next(m for m in after.models if isinstance(m, Invitation))
    assert after.dispatcher.model_for(OMI) is join2
    # a started that beats the 201 still finds the outgoing invitation by its operation id
    started = {
        "link": {"rel": "audioVideoInvitation", "href": f"{INVITATIONS}/av9"},
        "type": "started",
        "_embedded": {
            "audioVideoInvitation": {"direction": "Outgoing", "operationId": "op-out", "state": "Connecting"}
        },
    }
    conversation = {
        "link": {"rel": "conversation", "href": CONVERSATION},
        "type": "updated",
        "_embedded": {"conversation": {"state": "Conferenced"}},
    }
    doc = {
        "_links": {"next": {"href": "/n"}},
        "sender": [{"rel": "communication", "href": "/c", "events": [started, conversation]}],
    }
    result = after.dispatcher.feed(parse_events(json.dumps(doc).encode(), "application/json"), 11.0)
    assert result.unknown == ()
    assert result.violations == ()
    assert out2.state is S.CONNECTING
    assert out2.href == f"{INVITATIONS}/av9"
    assert join2.conversation_state == "Conferenced"  # found through its conversation
    # the same snapshot again on the same clocks: nothing moved
    assert after.snapshot(wall=lambda: 0.0)["models"][0]["routes"] == snap["models"][0]["routes"]
    assert join is not join2
    after.close()


def test_a_restored_client_reports_only_new_steps() -> None:
    before = offline_client(1.0)
    join_in_lobby(before, deadline=99.0)
    seen: list[StateChange] = []
    after = UcwaClient.restore(before.url, before.snapshot(), token=TOKEN, on_change=seen.append, clock=lambda: 1.0)
    (join,) = after.models
    assert isinstance(join, OnlineMeetingJoin)
    steps_before = len(join.history)
    admitted = {"link": {"rel": "localParticipant", "href": f"{CONVERSATION}/participants/me"}, "type": "added"}
    doc = {
        "_links": {"next": {"href": "/n"}},
        "sender": [{"rel": "conversation", "href": CONVERSATION, "events": [admitted]}],
    }
    after._dispatched(after.dispatcher.feed(parse_events(json.dumps(doc).encode(), "application/json"), 2.0))
    assert join.state is OnlineMeetingState.ADMITTED
    assert [(c.source, c.dest) for c in seen] == [(OnlineMeetingState.IN_LOBBY, OnlineMeetingState.ADMITTED)]
    assert len(join.history) == steps_before + 1
    before.close()
    after.close()


def test_every_time_field_of_every_machine_is_moved_on_restore() -> None:
    for name, cls in MODELS.items():
        floats = {f.name for f in attrs.fields(cls) if "float" in str(f.type)}
        assert set(TIME_FIELDS[name]) == floats, name


# -- versions and refusals ---------------------------------------------------------------------------


def small_snapshot() -> dict[str, Any]:
    client = offline_client(3.0)
    join_in_lobby(client, deadline=9.0)
    snap = client.snapshot(wall=lambda: 100.0)
    client.close()
    return snap


def restore(snap: object) -> UcwaClient:
    return UcwaClient.restore("https://fe1.contoso.com" + APP, snap, token=TOKEN, clock=lambda: 3.0)  # type: ignore[arg-type]


def test_a_newer_client_snapshot_is_refused_clearly() -> None:
    snap = small_snapshot()
    snap["version"] = restart.VERSION + 1
    with pytest.raises(SnapshotError, match=r"version 2 is newer than this callfsm understands \(1\)"):
        restore(snap)


def test_an_older_client_snapshot_is_upgraded_by_its_migration(monkeypatch: pytest.MonkeyPatch) -> None:
    old = small_snapshot()
    # pretend a version 2 exists: a version-1 snapshot must go through the migration
    calls: list[int] = []

    def one_to_two(data: dict[str, Any]) -> dict[str, Any]:
        calls.append(data["version"])
        return data

    monkeypatch.setattr(restart, "VERSION", 2)
    monkeypatch.setitem(restart.MIGRATIONS, 1, one_to_two)
    client = restore(old)
    assert calls == [1]
    assert len(client.models) == 1
    client.close()


def test_an_older_client_snapshot_without_a_migration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    snap = small_snapshot()  # version 1
    monkeypatch.setattr(restart, "VERSION", 3)
    monkeypatch.setitem(restart.MIGRATIONS, 1, lambda data: data)
    with pytest.raises(SnapshotError, match=r"version 1 is older .* no migration from version 2 to 3"):
        restore(snap)


def test_a_failing_migration_is_refused_with_the_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "x": data["no such key"]}

    snap = small_snapshot()
    monkeypatch.setattr(restart, "VERSION", 2)
    monkeypatch.setitem(restart.MIGRATIONS, 1, broken)
    with pytest.raises(SnapshotError, match="could not be upgraded from version 1 to 2: KeyError"):
        restore(snap)


def test_an_older_model_snapshot_inside_is_upgraded_or_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    snap = small_snapshot()
    monkeypatch.setattr(model_snapshot, "VERSION", 2)
    with pytest.raises(SnapshotError, match=r"models\[0\].model.*no migration from version 1 to 2"):
        restore(snap)
    monkeypatch.setitem(model_snapshot.MIGRATIONS, 1, lambda body: {**body, "timed_out": False})
    (join,) = restore(snap).models
    assert isinstance(join, OnlineMeetingJoin)
    assert not join.timed_out


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.update(format="callfsm.snapshot"), "restore it with fsm.snapshot"),
        (lambda d: d.update(url="https://other/ucwa"), "is of the application"),
        (lambda d: d.update(version="1"), "no valid version"),
        (lambda d: d.update(version=True), "no valid version"),
        (lambda d: d.update(events=7), r"events: expected a string"),
        (lambda d: d["clock"].update(now=math.inf), "finite"),
        (lambda d: d["clock"].update(wall=10**400), "too large"),
        (lambda d: d.update(models={}), "models: expected an array"),
        (lambda d: d["models"][0].update(routes=[["nowhere", "/x"]]), "unknown routing space"),
        (lambda d: d["models"][0]["model"]["model"].update(lobby_deadline="soon"), "expected a number"),
        (lambda d: d.update(sessions=[{"href": "/s", "current": 0}]), "index of a renegotiation"),
        (lambda d: d.update(seen=[["k", "started", None]]), r"seen\[0\]"),
        (lambda d: d.update(extra=1), "unknown field 'extra'"),
    ],
)
def test_broken_client_snapshots_are_refused_clearly(mutate: Callable[[dict[str, Any]], None], words: str) -> None:
    snap = json.loads(json.dumps(small_snapshot()))
    mutate(snap)
    with pytest.raises(SnapshotError, match=words):
        restore(snap)


def test_a_client_snapshot_holds_plain_json() -> None:
    snap = small_snapshot()
    assert json.loads(json.dumps(snap, allow_nan=False)) == snap
    assert snap["format"] == "callfsm.client"
    assert snap["models"][0]["model"]["format"] == "callfsm.snapshot"


def test_restoring_refuses_text_that_is_not_json() -> None:
    with pytest.raises(SnapshotError, match="not JSON"):
        restore("{nope")
    with pytest.raises(SnapshotError, match="nested too deeply"):
        restore("[" * 100_000)
