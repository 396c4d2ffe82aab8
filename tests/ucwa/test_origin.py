"""A credential goes only to the origin it belongs to, whatever sends the client elsewhere.

Two real loopback servers: ``home`` (tests/ucwa_fake.py, the application)
and ``elsewhere``, on another port, which records every request it gets and
whether it carried an ``Authorization`` header. An origin is scheme, host
and port (RFC 6454), so 127.0.0.1 on another port is another origin, as a
foreign host would be.

Every path by which an href reaches a request is tried with an href on
``elsewhere``: the P-GET's ``next``, ``resume`` and ``resync`` links (and
the link of an unreadable answer), the application's ``events`` link on
``connect()``, an invitation's action links (accept, decline, cancel), the
GET the machine asks for after a bare ``completed``, a new events href after
a 404, a client snapshot whose cursor or whose model links were edited, and a
request described by hand. Each must end in a typed error (or, for an event,
a refusal in the log) and ``elsewhere`` must never see a request with a token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from attrs import define, field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from ucwa_fake import APP, EVENTS, INVITATIONS, JSON_TYPE, TOKEN, Scripted, UcwaFake, serve

from adapters.routing.dispatcher import Dispatcher
from adapters.transport.http import AsyncSender, SyncSender
from adapters.ucwa.channel import AsyncEventChannel, EventChannel, EventChannelError
from adapters.ucwa.client import AsyncUcwaClient, UcwaClient
from adapters.wire.requests import HttpRequest, OriginError, Secret, build_request, resolve
from fsm.actions import FetchResource
from fsm.errors import SnapshotError
from fsm.invitation import Invitation, InvitationKind
from fsm.wire import Link, Representation


@define
class Elsewhere:
    """Another origin: records each request and whether it carried a credential."""

    base_url: str = ""
    lock: threading.Lock = field(factory=threading.Lock)
    seen: list[tuple[str, str, bool]] = field(factory=list)

    async def any(self, request: Request) -> Response:
        with self.lock:
            self.seen.append((request.method, request.url.path, "authorization" in request.headers))
        # a plausible event page, so a client that came here would go on and come back
        page = {"_links": {"self": {"href": "/e"}, "next": {"href": "/e?ack=2"}}}
        return Response(json.dumps(page), 200, media_type=JSON_TYPE)

    def tokens_seen(self) -> list[tuple[str, str, bool]]:
        with self.lock:
            return [entry for entry in self.seen if entry[2]]


@pytest.fixture(scope="module")
def home() -> Iterator[UcwaFake]:
    server = UcwaFake(hold=0.2)
    with serve(server.app) as base_url:
        server.base_url = base_url
        yield server


@pytest.fixture(scope="module")
def elsewhere_server() -> Iterator[Elsewhere]:
    recorder = Elsewhere()
    app = Starlette(routes=[Route("/{path:path}", recorder.any, methods=["GET", "POST", "DELETE", "PUT"])])
    with serve(app) as base_url:
        recorder.base_url = base_url
        yield recorder


@pytest.fixture
def elsewhere(elsewhere_server: Elsewhere, home: UcwaFake) -> Iterator[Elsewhere]:
    home.reset()
    with elsewhere_server.lock:
        elsewhere_server.seen.clear()
    assert elsewhere_server.base_url.rsplit(":", 1)[1] != home.base_url.rsplit(":", 1)[1]
    yield elsewhere_server
    # the point of every test here: nothing with a token ever reached the other origin
    assert elsewhere_server.tokens_seen() == []


def page(links: dict[str, str], *events: dict[str, Any]) -> bytes:
    document: dict[str, Any] = {"_links": {rel: {"href": href} for rel, href in links.items()}}
    if events:
        document["sender"] = [{"rel": "communication", "href": f"{APP}/communication", "events": list(events)}]
    return json.dumps(document).encode()


def incoming(href: str, links: dict[str, str]) -> dict[str, Any]:
    return {
        "link": {"rel": "audioVideoInvitation", "href": href},
        "type": "started",
        "_embedded": {"audioVideoInvitation": {"state": "Connecting", "direction": "Incoming",
                                               "_links": {"self": {"href": href}, **{
                                                   rel: {"href": h} for rel, h in links.items()}}}},
    }


def client_for(home: UcwaFake) -> UcwaClient:
    return UcwaClient(home.base_url + APP, token=TOKEN)


# -- the one check ------------------------------------------------------------------------------------

BASE = "https://fe1.contoso.com/ucwa/v1/applications/1"


@pytest.mark.parametrize(
    "href",
    [
        "/ucwa/v1/applications/1/events?ack=2",  # relative: the application's origin
        "https://fe1.contoso.com/ucwa/x",
        "https://FE1.contoso.com:443/ucwa/x",  # host case and the default port do not change an origin
    ],
)
def test_an_href_on_the_application_origin_resolves(href: str) -> None:
    assert resolve(BASE, href).lower().startswith("https://fe1.contoso.com")


@pytest.mark.parametrize(
    "href",
    [
        "https://evil.example/ucwa/x",  # another host
        "http://fe1.contoso.com/ucwa/x",  # another scheme
        "https://fe1.contoso.com:8443/ucwa/x",  # another port
        "//evil.example/ucwa/x",  # scheme-relative: another host
        "https://fe1.contoso.com@evil.example/x",  # user info: the host is evil.example
        "https://fe1.contoso.com:443@evil.example/x",
        "https://fe1.contoso.com\\@evil.example/x",  # a backslash before the user info's @
        "https://fe1.contoso.com.evil.example/x",
        "ftp://fe1.contoso.com/x",
        "https://[::1/x",  # no URL at all
    ],
)
def test_an_href_on_another_origin_is_refused(href: str) -> None:
    with pytest.raises(OriginError) as caught:
        resolve(BASE, href)
    assert "fe1.contoso.com" in str(caught.value)
    with pytest.raises(OriginError):
        build_request(FetchResource(href, "read"), base_url=BASE, token="t")


def test_a_request_described_by_hand_with_a_token_is_refused_by_the_sender(
    home: UcwaFake, elsewhere: Elsewhere
) -> None:
    request = HttpRequest("GET", elsewhere.base_url + "/x", (("Authorization", Secret("Bearer " + TOKEN)),))
    with httpx.Client() as http, pytest.raises(OriginError):
        SyncSender(http, TOKEN, base_url=home.base_url + APP).send(request)

    async def asynchronously() -> None:
        async with httpx.AsyncClient() as http:
            with pytest.raises(OriginError):
                await AsyncSender(http, TOKEN, base_url=home.base_url + APP).send(request)

    asyncio.run(asynchronously())
    # without a credential a request may go anywhere: the check is about the token
    with httpx.Client() as http:
        plain = HttpRequest("GET", elsewhere.base_url + "/x")
        answer = SyncSender(http, None, base_url=home.base_url + APP).send(plain)
    assert answer.status == 200
    assert elsewhere.seen == [("GET", "/x", False)]


# -- the event channel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", ["next", "resume", "resync"])
def test_a_pget_link_to_another_origin_ends_the_loop_before_any_get_goes_there(
    home: UcwaFake, elsewhere: Elsewhere, rel: str
) -> None:
    links = {"self": f"{EVENTS}?ack=1", rel: elsewhere.base_url + f"{EVENTS}?ack=2"}
    if rel != "next":
        links["next"] = f"{EVENTS}?ack=2"  # a resume/resync answer still names a next; the reset link wins
    home.script("GET", EVENTS, Scripted(200, page(links), {"content-type": JSON_TYPE}))
    with client_for(home) as client, pytest.raises(EventChannelError) as caught:
        client.poll_once()
    assert isinstance(caught.value.cause, OriginError)
    assert elsewhere.seen == []


def test_the_link_of_an_unreadable_answer_to_another_origin_is_not_followed(
    home: UcwaFake, elsewhere: Elsewhere
) -> None:
    body = json.dumps({"_links": {"next": {"href": elsewhere.base_url + "/e"}}, "sender": 5}).encode()
    home.script("GET", EVENTS, Scripted(200, body, {"content-type": JSON_TYPE}))
    with client_for(home) as client, pytest.raises(EventChannelError):
        client.poll_once()
    assert elsewhere.seen == []


def test_the_asyncio_loop_does_not_follow_a_next_link_to_another_origin(home: UcwaFake, elsewhere: Elsewhere) -> None:
    home.script("GET", EVENTS, Scripted(200, page({"next": elsewhere.base_url + "/e"}), {"content-type": JSON_TYPE}))

    async def run() -> None:
        async with httpx.AsyncClient() as http:
            sender = AsyncSender(http, TOKEN, base_url=home.base_url + APP)
            channel = AsyncEventChannel(sender, Dispatcher(), f"{EVENTS}?ack=1", sleep=lambda _: asyncio.sleep(0))
            with pytest.raises(EventChannelError):
                await channel.run()

    asyncio.run(run())
    assert elsewhere.seen == []


def test_an_events_link_to_another_origin_is_refused_on_connect(home: UcwaFake, elsewhere: Elsewhere) -> None:
    document = {"_links": {"self": {"href": APP}, "events": {"href": elsewhere.base_url + EVENTS}}}
    home.script("GET", APP, Scripted(200, json.dumps(document).encode(), {"content-type": JSON_TYPE}))
    client = client_for(home)
    with pytest.raises(OriginError):
        client.connect()
    client.close()
    assert elsewhere.seen == []


def test_a_new_events_href_on_another_origin_after_a_404_ends_the_loop(home: UcwaFake, elsewhere: Elsewhere) -> None:
    home.script("GET", EVENTS, Scripted(404, b'{"code":"NotFound","subcode":"ApplicationNotFound"}'))
    with httpx.Client() as http:
        sender = SyncSender(http, TOKEN, base_url=home.base_url + APP)
        channel = EventChannel(
            sender, Dispatcher(), f"{EVENTS}?ack=1", prefetch=False,
            on_application_not_found=lambda _: elsewhere.base_url + EVENTS,
        )
        with pytest.raises(EventChannelError) as caught:
            channel.poll_once()
    assert isinstance(caught.value.cause, OriginError)
    assert elsewhere.seen == []


# -- actions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["accept", "decline"])
def test_an_action_link_from_an_event_to_another_origin_is_refused(
    home: UcwaFake, elsewhere: Elsewhere, verb: str
) -> None:
    href = f"{INVITATIONS}/in1"
    home.push(incoming(href, {verb: elsewhere.base_url + f"{href}/{verb}"}))
    with client_for(home) as client:
        result = client.poll_once()
        assert result is not None
        (call,) = result.created
        assert isinstance(call, Invitation)
        with pytest.raises(OriginError):
            getattr(client, verb)(call)
    assert elsewhere.seen == []


def test_cancel_through_a_link_on_another_origin_is_refused(home: UcwaFake, elsewhere: Elsewhere) -> None:
    call = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    call.send(now=0.0, href=f"{APP}/communication/startAudioVideo", operation_id="op-1", to="sip:bob@contoso.com")
    call.created(now=0.1, href=f"{INVITATIONS}/av1")
    cancel = Link("cancel", elsewhere.base_url + f"{INVITATIONS}/av1/cancel")
    call.updated(now=0.2, representation=Representation(state="Connecting", links=(cancel,)))
    client = client_for(home)
    with pytest.raises(OriginError):
        client.cancel(call)
    client.close()
    assert elsewhere.seen == []


def test_the_get_after_a_bare_completed_is_not_sent_to_another_origin(
    home: UcwaFake, elsewhere: Elsewhere, caplog: pytest.LogCaptureFixture
) -> None:
    # an incoming invitation whose own href is on another origin, then a completed with no resource:
    # the machine asks for a GET of that href; the client refuses it and goes on
    href = elsewhere.base_url + f"{INVITATIONS}/in9"
    home.push(incoming(href, {}))
    home.push({"link": {"rel": "audioVideoInvitation", "href": href}, "type": "completed"})
    with client_for(home) as client, caplog.at_level(logging.WARNING, "callfsm.client"):
        client.poll_once()
        client.poll_once()
    assert "origin" in caplog.text
    assert elsewhere.seen == []


# -- snapshots -----------------------------------------------------------------------------------------------


def test_a_snapshot_whose_cursor_was_edited_to_another_origin_is_refused(home: UcwaFake, elsewhere: Elsewhere) -> None:
    with client_for(home) as client:
        snap = client.snapshot()
    snap["events"] = elsewhere.base_url + f"{EVENTS}?ack=7"
    with pytest.raises(SnapshotError) as caught:
        UcwaClient.restore(home.base_url + APP, snap, token=TOKEN)
    assert "events" in str(caught.value)
    with pytest.raises(SnapshotError):
        AsyncUcwaClient.restore(home.base_url + APP, snap, token=TOKEN)
    assert elsewhere.seen == []


@pytest.mark.parametrize("where", ["href", "link"])
def test_a_snapshot_whose_model_links_were_edited_to_another_origin_is_refused(
    home: UcwaFake, elsewhere: Elsewhere, where: str
) -> None:
    href = f"{INVITATIONS}/in1"
    home.push(incoming(href, {"accept": f"{href}/accept", "decline": f"{href}/decline"}))
    with client_for(home) as client:
        assert client.poll_once() is not None
        snap = client.snapshot()
    model = snap["models"][0]["model"]["model"]
    if where == "href":
        model["href"] = elsewhere.base_url + href
    else:
        model["representation"]["links"][0]["href"] = elsewhere.base_url + f"{href}/accept"
    with pytest.raises(SnapshotError) as caught:
        UcwaClient.restore(home.base_url + APP, snap, token=TOKEN)
    assert "models[0]" in str(caught.value)
    assert elsewhere.seen == []


def test_a_cursor_on_another_origin_that_got_past_restore_is_still_never_requested(
    home: UcwaFake, elsewhere: Elsewhere
) -> None:
    # defence in depth: the channel itself refuses to start from another origin, whoever set the cursor
    client = client_for(home)
    client._resume_from = elsewhere.base_url + f"{EVENTS}?ack=7"
    with pytest.raises(OriginError):
        client.connect()
    client.close()
    assert elsewhere.seen == []
