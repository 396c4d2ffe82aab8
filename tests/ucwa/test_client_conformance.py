"""Both clients against the loopback UCWA server, in the shapes the documentation shows.

- UCWA audio/video has no plain ``accept`` (docs/protocol.md §1.4): the
  clients accept it explicitly, ``accept_with_answer`` (an SDP body,
  ``application/sdp``, ``sessionContext`` and ``processedOfferId`` in the
  query: §1.5) or ``accept_with_phone_audio``; ``send_provisional_answer``
  (early media) leaves it ringing; ``accept`` with no ``accept`` link sends
  nothing.
- Events in the documentation samples' shape (no ``_embedded``, §2.4) that
  beat the create's 201 wait in the dispatcher; the client tells it of the
  201 and they reach the call at once, in order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from ucwa_fake import APP, INVITATIONS, START_AV, TOKEN, Scripted, UcwaFake, serve

from adapters.ucwa.client import AsyncUcwaClient, UcwaClient
from fsm.errors import LinkMissing
from fsm.invitation import Invitation, InvitationKind, InvitationState, InvitationTrigger

S = InvitationState
T = InvitationTrigger
AV = "audioVideoInvitation"


@pytest.fixture(scope="module")
def fake() -> Iterator[UcwaFake]:
    server = UcwaFake(hold=0.2)
    with serve(server.app) as base_url:
        server.base_url = base_url
        yield server


@pytest.fixture(autouse=True)
def _clean(fake: UcwaFake) -> None:
    fake.reset()


def ucwa_av_incoming(fake: UcwaFake, inv: str = "in9") -> str:
    """Queue an incoming UCWA audio/video invitation with the links §1.4 lists (no accept)."""
    href = f"{INVITATIONS}/{inv}"
    links = {rel: {"href": f"{href}/{rel}"} for rel in ("acceptWithAnswer", "acceptWithPhoneAudio",
                                                        "sendProvisionalAnswer", "decline")}
    resource = {"rel": AV, "direction": "Incoming", "state": "Connecting", "_links": {"self": {"href": href}, **links}}
    fake.invitations[inv] = resource
    fake.push({"link": {"rel": AV, "href": href}, "type": "started", "_embedded": {AV: resource}})
    return href


def the_call(client: UcwaClient) -> Invitation:
    assert client.run_until(lambda: client.models, timeout=10)
    (inv,) = client.models
    assert isinstance(inv, Invitation)
    return inv


def query_of(target: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(target).query))


def test_sync_accept_with_answer_posts_sdp_with_its_query(fake: UcwaFake) -> None:
    href = ucwa_av_incoming(fake)
    fake.script("POST", f"{href}/sendProvisionalAnswer", Scripted(204))
    fake.script("POST", f"{href}/acceptWithAnswer", Scripted(204))
    with UcwaClient(fake.base_url + APP, token=TOKEN) as client:
        inv = the_call(client)
        client.send_provisional_answer(inv, "v=0 early", session_context="ctx-1")
        assert inv.state is S.CONNECTING  # early media: still ringing, the 204 taken in
        client.accept_with_answer(inv, "v=0 final", session_context="ctx-1", processed_offer_id="offer-2")
        assert inv.state is S.ACCEPTING
    early, final = fake.seen("POST")
    for request, sdp in ((early, b"v=0 early"), (final, b"v=0 final")):
        assert request.headers["content-type"].startswith("application/sdp")
        assert request.body == sdp
    assert urlsplit(early.target).path == f"{href}/sendProvisionalAnswer"
    assert query_of(early.target) == {"sessionContext": "ctx-1"}
    assert urlsplit(final.target).path == f"{href}/acceptWithAnswer"
    assert query_of(final.target) == {"sessionContext": "ctx-1", "processedOfferId": "offer-2"}


def test_sync_accept_never_posts_accept_with_phone_audio(fake: UcwaFake) -> None:
    href = ucwa_av_incoming(fake)
    fake.script("POST", f"{href}/acceptWithPhoneAudio", Scripted(204))
    with UcwaClient(fake.base_url + APP, token=TOKEN) as client:
        inv = the_call(client)
        with pytest.raises(LinkMissing):
            client.accept(inv)
        assert fake.seen("POST") == []  # nothing was sent
        client.accept_with_phone_audio(inv)
    (request,) = fake.seen("POST")
    assert request.target == f"{href}/acceptWithPhoneAudio"
    assert request.body == b""
    assert inv.state is S.ACCEPTING


def test_async_explicit_accepts(fake: UcwaFake) -> None:
    href = ucwa_av_incoming(fake)
    fake.script("POST", f"{href}/acceptWithAnswer", Scripted(204))

    async def main() -> Invitation:
        async with AsyncUcwaClient(fake.base_url + APP, token=TOKEN) as client:
            async with asyncio.timeout(10):
                while not client.models:
                    await asyncio.sleep(0.01)
            (inv,) = client.models
            assert isinstance(inv, Invitation)
            with pytest.raises(LinkMissing):
                await client.accept(inv)
            await client.accept_with_answer(inv, "v=0", session_context="ctx")
            return inv

    inv = asyncio.run(main())
    assert inv.state is S.ACCEPTING
    (request,) = fake.seen("POST")
    assert urlsplit(request.target).path == f"{href}/acceptWithAnswer"
    assert query_of(request.target) == {"sessionContext": "ctx"}


# -- events with no _embedded that beat the 201 ------------------------------------------------------


def bare(type_: str, href: str, **extra: Any) -> dict[str, Any]:
    return {"link": {"rel": AV, "href": href}, "type": type_, **extra}


def test_sync_bare_events_before_the_201_reach_the_call_as_the_201_comes(fake: UcwaFake) -> None:
    fake.scenario = "ring"  # the fake's own started only; the test queues the rest
    href = f"{INVITATIONS}/av1"  # the fake names its first invitation av1
    fake.push(bare("started", href), bare("completed", href, status="Success"))
    with UcwaClient(fake.base_url + APP, token=TOKEN) as client:
        call = Invitation(kind=InvitationKind.AUDIO_VIDEO)
        actions = call.send(now=client.clock(), href=fake.base_url + START_AV, operation_id="op-1", to="sip:bob@x")
        # what perform does first (track under the operation id), then the channel is read before the POST
        client.dispatcher.track(call, operation_id="op-1")
        result = client.poll_once()
        assert result is not None
        assert result.held == (0, 1)
        assert client.models == (call,)  # no second model for the bare started
        client.perform(call, actions)
        # no further poll: the 201 released the held events
        assert call.state is S.CONNECTED
        assert [step.trigger for step in call.history][:4] == [T.SEND, T.CREATED, T.STARTED, T.COMPLETED]
        assert client.dispatcher.held_count == 0
    assert call.outcome is not None
    assert call.outcome.success


def test_async_bare_events_before_the_201(fake: UcwaFake) -> None:
    fake.scenario = "ring"
    fake.create_delay = 0.5  # the 201 waits: the channel reads the bare events first
    href = f"{INVITATIONS}/av1"

    async def main() -> Invitation:
        async with AsyncUcwaClient(fake.base_url + APP, token=TOKEN) as client:
            fake.push(bare("completed", href, status="Failure", reason={"code": "RemoteFailure", "subcode": "Busy"}))
            call = await client.start_audio_video("sip:bob@x")
            await client.wait_for_outcome(call, timeout=10)
            assert client.models == (call,)
            return call

    call = asyncio.run(main())
    assert call.state is S.FAILED
    assert call.outcome is not None
    assert call.outcome.reason is not None
    assert (call.outcome.reason.code, call.outcome.reason.subcode) == ("RemoteFailure", "Busy")
    assert json.loads(fake.seen("POST", START_AV)[0].body)["to"] == "sip:bob@x"


# -- a final outcome: an updated to a final state is not the last word while a completed may follow -----


def ended_by_updated_then_completed(fake: UcwaFake) -> None:
    """The fake's first invitation (av1) rings, is updated to Declined, then completed with the reason: two answers."""
    fake.scenario = "ring"
    href = f"{INVITATIONS}/av1"
    declined = {"rel": AV, "direction": "Outgoing", "state": "Declined", "_links": {"self": {"href": href}}}
    fake.push(bare("updated", href, _embedded={AV: declined}))
    reason = {"code": "RemoteFailure", "subcode": "Declined", "message": "Outgoing invitation declined."}
    fake.push(bare("completed", href, status="Failure", reason=reason))


def test_sync_wait_for_outcome_waits_for_the_completed_after_an_updated_end(fake: UcwaFake) -> None:
    ended_by_updated_then_completed(fake)
    with UcwaClient(fake.base_url + APP, token=TOKEN) as client:
        call = client.start_audio_video("sip:bob@x")
        outcome = client.wait_for_outcome(call, timeout=10)
    assert call.state is S.DECLINED
    assert outcome is not None
    assert outcome.status == "Failure"  # the completed's, not the updated's provisional None
    assert outcome.reason is not None
    assert (outcome.reason.code, outcome.reason.subcode) == ("RemoteFailure", "Declined")


def test_async_wait_for_outcome_waits_for_the_completed_after_an_updated_end(fake: UcwaFake) -> None:
    ended_by_updated_then_completed(fake)

    async def main() -> Any:
        async with AsyncUcwaClient(fake.base_url + APP, token=TOKEN) as client:
            call = await client.start_audio_video("sip:bob@x")
            return await client.wait_for_outcome(call, timeout=10)

    outcome = asyncio.run(main())
    assert outcome is not None
    assert outcome.status == "Failure"
    assert outcome.reason is not None
    assert outcome.reason.subcode == "Declined"


# -- the changes say once, per call, when its outcome is final ---------------------------------------


def test_async_changes_mark_the_completed_that_makes_the_outcome_final(fake: UcwaFake) -> None:
    ended_by_updated_then_completed(fake)

    async def main() -> list[Any]:
        async with AsyncUcwaClient(fake.base_url + APP, token=TOKEN) as client:
            changes = client.changes()
            call = await client.start_audio_video("sip:bob@x")
            seen = []
            async with asyncio.timeout(10):
                async for change in changes:
                    if change.model is call:
                        seen.append(change)
                        if change.final:
                            break
            return seen

    seen = asyncio.run(main())
    finals = [c for c in seen if c.final]
    assert len(finals) == 1
    # not the updated to Declined (no status yet): the completed that said Failure and why
    assert finals[0].trigger is T.COMPLETED
    assert [c.trigger for c in seen if c.dest is S.DECLINED and not c.final] == [T.UPDATED]


def test_sync_changes_show_an_updated_end_final_once_the_grace_has_passed(fake: UcwaFake) -> None:
    fake.scenario = "ring"
    href = f"{INVITATIONS}/av1"
    declined = {"rel": AV, "direction": "Outgoing", "state": "Declined", "_links": {"self": {"href": href}}}
    fake.push(bare("updated", href, _embedded={AV: declined}))
    now = [100.0]
    seen: list[Any] = []
    with UcwaClient(fake.base_url + APP, token=TOKEN, clock=lambda: now[0], on_change=seen.append) as client:
        call = client.start_audio_video("sip:bob@x")
        assert client.run_until(lambda: call.outcome is not None, timeout=10)
        assert not [c for c in seen if c.final]  # no completed yet, and no time has passed
        now[0] += 9.9
        client.poll_once()
        assert not [c for c in seen if c.final]
        now[0] += 0.1  # the 10 s grace documented in fsm/outcome.py
        client.poll_once()
        client.poll_once()
    finals = [c for c in seen if c.final]
    assert len(finals) == 1
    assert finals[0].model is call
    assert finals[0].dest is S.DECLINED  # time alone made it final: the last step, shown again
    assert call.outcome is not None
    assert call.outcome.status is None


def test_a_resync_in_the_middle_of_a_decline_shows_no_provisional_outcome_as_final(fake: UcwaFake) -> None:
    # Issue 12: after a resync the client re-reads the call (docs/protocol.md §2.2) and finds it
    # Declined; that GET carries no status and no reason, and the completed with
    # "Failure RemoteFailure/Declined" comes on the next event answer. wait_for_outcome must give
    # the completed's word, not the GET's provisional one ("Declined, no reason given").
    fake.scenario = "ring"
    with UcwaClient(fake.base_url + APP, token=TOKEN) as client:
        call = client.start_audio_video("sip:bob@x")
        assert client.run_until(lambda: call.representation.has("cancel"), timeout=10)
        resync = {"_links": {"resync": {"href": f"{fake.base_url}{APP}/events?ack=1&resync=1"}}}
        fake.script("GET", f"{APP}/events", Scripted(200, json.dumps(resync).encode()))
        fake.invitations["av1"] = {**fake.invitations["av1"], "state": "Declined"}
        reason = {"code": "RemoteFailure", "subcode": "Declined", "message": "Outgoing invitation declined."}
        fake.push(bare("completed", f"{INVITATIONS}/av1", status="Failure", reason=reason))
        outcome = client.wait_for_outcome(call, timeout=10)
    assert [r.target for r in fake.seen("GET", f"{INVITATIONS}/av1")] == [f"{INVITATIONS}/av1"]  # the re-read
    assert call.state is S.DECLINED
    assert outcome is not None
    assert outcome.status == "Failure"
    assert outcome.reason is not None
    assert (outcome.reason.code, outcome.reason.subcode) == ("RemoteFailure", "Declined")
