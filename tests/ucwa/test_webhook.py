"""The Trusted Application API webhook receiver, over real HTTP on loopback.

Expected behaviour: docs/protocol.md §2.1 (bearer token checked by the app, SaaS
content type, ``{"CallbackContext": ...}`` reply), 2.2 (event format) and the
issue's bad-input list (truncated JSON, XML bomb, external entity, a 10 MB
body, unknown hrefs, Success/success/missing status).

Replays (docs/protocol.md §2.1, Microsoft's ``Webhooks.md``): the callback's
bearer token is an AAD JWT whose ``nbf`` and ``exp`` the receiver validates
before it accepts the callback; Microsoft's validators allow 5 minutes of
clock skew. The tokens here are JWT-shaped (the validator is the test's, so
they carry no real signature).
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ucwa_fake import serve

from adapters.routing.dispatcher import Dispatcher, DispatchResult
from adapters.ucwa.webhook import webhook_app
from adapters.wire.events import MAX_EVENTS_BODY, EventsResponse
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.wire import Link, Representation


def jwt(exp: float | None, nbf: float | None = None, **claims: object) -> str:
    """A JWT-shaped token (header.payload.signature) with these time claims; the signature is a stand-in."""

    def part(document: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    payload: dict[str, object] = {"aud": "https://litware.com", **claims}
    if exp is not None:
        payload["exp"] = exp
    if nbf is not None:
        payload["nbf"] = nbf
    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(payload)}.c2lnbmF0dXJl"


#: Valid for a day from now (AAD tokens live an hour; the margin keeps a slow run valid).
GOOD = jwt(time.time() + 86_400, time.time() - 60)
POOL = "https://webpoolbl20r04.infra.lync.com"
SAAS_JSON = 'application/json; type="application/vnd.microsoft.com.ucwa+json"; charset=utf-8'
INV = "/platformservice/v1/applications/42/communication/invitations/137"


class Switch(Dispatcher):
    """One server per module; each test gets a fresh dispatcher behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.target = Dispatcher()
        self.results: list[DispatchResult] = []

    def feed(self, response: EventsResponse, now: float) -> DispatchResult:
        result = self.target.feed(response, now)
        self.results.append(result)
        return result


async def validate(token: str) -> bool:
    if token == "explode":
        raise RuntimeError("validator bug")
    return token == GOOD


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Switch]]:
    switch = Switch()
    app = webhook_app(switch, validate, path="/callback", callback_context="0", allowed_baseuris=[POOL + "/"])
    with serve(app) as base_url:
        yield f"{base_url}/callback", switch


@pytest.fixture
def hook(server: tuple[str, Switch]) -> tuple[str, Switch]:
    server[1].target = Dispatcher()
    server[1].results.clear()
    return server


_ACKS = itertools.count(37)


def events_body(*events: dict[str, Any], baseuri: str | None = None) -> bytes:
    # each callback its own ack, as the server numbers them: the same bytes twice are one callback sent twice
    document: dict[str, Any] = {
        "_links": {"self": {"href": f"events?ack={next(_ACKS)}&key=abc"}},
        "sender": [{"rel": "ms:rtc:saas:communication", "href": "communication", "events": list(events)}],
    }
    if baseuri is not None:
        document["baseuri"] = baseuri
    return json.dumps(document).encode()


def started_incoming(href: str = INV) -> dict[str, Any]:
    return {
        "link": {"rel": "ms:rtc:saas:audioVideoInvitation", "href": href},
        "type": "started",
        "_embedded": {
            "ms:rtc:saas:audioVideoInvitation": {
                "direction": "Incoming",
                "state": "Connecting",
                "_links": {"self": {"href": href}, "ms:rtc:saas:accept": {"href": f"{href}/accept"}},
            }
        },
    }


HTTP = httpx.Client()  # one client: building one per request costs more than the request


def post(url: str, body: bytes, *, token: str | None = GOOD, content_type: str = SAAS_JSON) -> httpx.Response:
    headers = {"content-type": content_type}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return HTTP.post(url, content=body, headers=headers)


def test_valid_post_feeds_the_dispatcher_and_answers_200_with_callback_context(hook: tuple[str, Switch]) -> None:
    url, switch = hook
    reply = post(url, events_body(started_incoming()))
    assert reply.status_code == 200
    assert reply.json() == {"CallbackContext": "0"}
    (inv,) = switch.target.models
    assert isinstance(inv, Invitation)
    assert inv.state is InvitationState.CONNECTING
    assert inv.representation.has("accept")


@pytest.mark.parametrize(
    ("token", "header"),
    [(None, None), ("wrong", None), ("explode", None), (None, f"Basic {GOOD}"), (None, "Bearer")],
)
def test_bad_or_missing_token_is_401_and_touches_nothing(
    hook: tuple[str, Switch], token: str | None, header: str | None
) -> None:
    url, switch = hook
    headers = {"content-type": SAAS_JSON}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if header is not None:
        headers["authorization"] = header
    reply = HTTP.post(url, content=events_body(started_incoming()), headers=headers)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == "Bearer"
    assert switch.results == []
    assert switch.target.models == ()


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b'{"sender": [{"rel": "communication", "href": "c", "events": [', SAAS_JSON, "not valid JSON"),
        (b'{"sender": "communication"}', SAAS_JSON, "$.sender"),
        (
            b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            b'<events xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">&b;</events>',
            "application/vnd.microsoft.com.ucwa+xml",
            "defusedxml",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<events xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">&x;</events>',
            "application/vnd.microsoft.com.ucwa+xml",
            "defusedxml",
        ),
        (b"hello", "text/plain", "content type"),
    ],
)
def test_unparseable_body_is_400_with_one_line_and_touches_nothing(
    hook: tuple[str, Switch], body: bytes, content_type: str, says: str
) -> None:
    url, switch = hook
    reply = post(url, body, content_type=content_type)
    assert reply.status_code == 400
    assert reply.text.count("\n") == 1
    assert says in reply.text
    assert switch.results == []


def test_a_10_mb_body_is_refused_above_the_limit(hook: tuple[str, Switch]) -> None:
    url, switch = hook
    assert MAX_EVENTS_BODY < 10 * 1024 * 1024
    padding = b" " * (10 * 1024 * 1024)
    try:
        reply = post(url, events_body(started_incoming())[:-1] + padding + b"}")
    except httpx.TransportError:  # pragma: no cover - depends on socket timing
        # the server may close the connection before the client has finished sending 10 MB
        assert switch.results == []
        return
    assert reply.status_code == 413
    assert switch.results == []


def test_unknown_href_is_recorded_and_answered_200(hook: tuple[str, Switch]) -> None:
    url, switch = hook
    completed = {"link": {"rel": "ms:rtc:saas:audioVideoInvitation", "href": "/nobody/knows"}, "type": "completed"}
    assert post(url, events_body(completed)).status_code == 200
    (result,) = switch.results
    assert [u.href for u in result.unknown] == ["/nobody/knows"]
    assert result.changes == ()


@pytest.mark.parametrize(("status", "expected"), [("Success", "Connected"), ("success", "Connected"), (None, None)])
def test_completion_status_in_any_case_or_missing(
    hook: tuple[str, Switch], status: str | None, expected: str | None
) -> None:
    url, switch = hook
    inv = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    inv.send(now=0.0, href="communication/startAudio", operation_id="op-1", to="sip:bob@contoso.com")
    inv.created(now=0.1, href=INV)
    inv.started(now=0.2, href=INV, representation=Representation(state="Connecting", links=[Link("cancel", "c")]))
    switch.target.track(inv)
    event: dict[str, Any] = {"link": {"rel": "ms:rtc:saas:audioVideoInvitation", "href": INV}, "type": "completed"}
    if status is not None:
        event["status"] = status
    assert post(url, events_body(event)).status_code == 200
    if expected is None:
        # neither status nor state: the machine stays and asks for a GET (docs/protocol.md §9, trap 2)
        assert inv.state is InvitationState.CONNECTING
        assert [type(a).__name__ for a in switch.results[0].actions] == ["FetchResource"]
    else:
        assert inv.state.value == expected


def test_a_retried_post_does_not_act_twice(hook: tuple[str, Switch]) -> None:
    url, switch = hook
    body = events_body(started_incoming())
    assert post(url, body).status_code == 200
    assert post(url, body).status_code == 200  # acknowledged, so the server stops retrying
    (inv,) = switch.target.models
    assert len(inv.history) == 1
    assert len(switch.results) == 1  # the same body under a valid token: dropped before the dispatcher


def test_an_event_the_machine_refuses_is_a_violation_not_an_error(hook: tuple[str, Switch]) -> None:
    url, switch = hook
    inv = Invitation(kind=InvitationKind.PARTICIPANT)  # never incoming (docs/protocol.md §1.2)
    switch.target.track(inv, href=INV)
    started = started_incoming()
    started["link"]["rel"] = "participantInvitation"
    assert post(url, events_body(started)).status_code == 200
    (result,) = switch.results
    assert len(result.violations) == 1
    assert inv.state is InvitationState.IDLE


def test_relative_hrefs_resolve_against_baseuri(hook: tuple[str, Switch]) -> None:
    url, switch = hook
    baseuri = f"{POOL}/platformservice/v1/applications/42/"
    body = events_body(started_incoming("communication/invitations/9"), baseuri=baseuri)
    assert post(url, body).status_code == 200
    (inv,) = switch.target.models
    assert switch.target.model_for("/platformservice/v1/applications/42/communication/invitations/9") is inv


async def test_async_on_result_and_no_callback_context() -> None:
    seen: list[DispatchResult] = []

    async def on_result(result: DispatchResult) -> None:
        seen.append(result)

    app = webhook_app(Dispatcher(), lambda token: token == GOOD, on_result=on_result)
    with serve(app) as base_url:
        async with httpx.AsyncClient() as client:
            reply = await client.post(
                base_url + "/",
                content=events_body(started_incoming()),
                headers={"authorization": f"Bearer {GOOD}", "content-type": SAAS_JSON},
            )
    assert reply.status_code == 200
    assert reply.content == b""
    assert len(seen) == 1


# -- baseuri -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "baseuri",
    [
        "https://evil.example/platformservice/v1/applications/42/",
        "http://webpoolbl20r04.infra.lync.com/platformservice/",  # another scheme: another origin
        "https://webpoolbl20r04.infra.lync.com:8443/platformservice/",
        "not a url",
    ],
)
def test_a_baseuri_outside_the_allow_list_is_refused_and_nothing_dispatched(
    hook: tuple[str, Switch], baseuri: str
) -> None:
    url, switch = hook
    reply = post(url, events_body(started_incoming("communication/invitations/9"), baseuri=baseuri))
    assert reply.status_code == 403
    assert switch.results == []
    assert switch.target.baseuri is None


def test_with_no_allow_list_every_baseuri_is_refused() -> None:
    app = webhook_app(Dispatcher(), lambda token: token == GOOD)
    with serve(app) as base_url:
        reply = post(base_url + "/", events_body(started_incoming(), baseuri=POOL + "/"))
    assert reply.status_code == 403


# -- replays ---------------------------------------------------------------------------------------------------


class Clocks:
    """The dispatcher's clock and the wall clock the token's claims are read against, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.wall = 1_700_000_000.0

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall += seconds


def completed_cancelled(href: str = INV) -> dict[str, Any]:
    return {
        "link": {"rel": "ms:rtc:saas:audioVideoInvitation", "href": href},
        "type": "completed",
        "status": "Failure",
        "reason": {"code": "RemoteFailure", "subcode": "Canceled"},
    }


@pytest.fixture
def replay_hook() -> Iterator[tuple[str, Dispatcher, Clocks, str]]:
    clocks = Clocks()
    token = jwt(clocks.wall + 3600, clocks.wall)  # an hour, as AAD issues them
    # a small duplicate window and no grace, so that the dispatcher alone forgets quickly
    dispatcher = Dispatcher(dedupe_window=1, grace=0.0)
    app = webhook_app(dispatcher, lambda t: t == token, clock=lambda: clocks.now, wall=lambda: clocks.wall)
    with serve(app) as base_url:
        yield base_url + "/", dispatcher, clocks, token


def test_a_callback_replayed_after_the_duplicate_window_does_not_revive_an_ended_call(
    replay_hook: tuple[str, Dispatcher, Clocks, str],
) -> None:
    url, dispatcher, clocks, token = replay_hook
    ringing = events_body(started_incoming())
    assert post(url, ringing, token=token).status_code == 200
    assert post(url, events_body(completed_cancelled()), token=token).status_code == 200
    (call,) = dispatcher.models
    assert call.state is InvitationState.CANCELLED
    clocks.advance(120.0)  # past the dispatcher's grace: the ended call is forgotten
    other = started_incoming(INV + "0")
    assert post(url, events_body(other), token=token).status_code == 200  # pushes `started` out of the window
    assert call not in dispatcher.models
    before = len(dispatcher.models)
    # the first callback again, byte for byte, its token still valid: acknowledged and dropped
    assert post(url, ringing, token=token).status_code == 200
    assert len(dispatcher.models) == before
    assert all(model.href != INV for model in dispatcher.models)


def test_a_callback_whose_token_expired_is_refused(replay_hook: tuple[str, Dispatcher, Clocks, str]) -> None:
    url, dispatcher, clocks, token = replay_hook
    clocks.advance(3600 + 300 + 1)  # past exp and the 5 minutes of skew
    reply = post(url, events_body(started_incoming()), token=token)
    assert reply.status_code == 401
    assert "expired" in reply.text
    assert dispatcher.models == ()


def test_within_the_clock_skew_an_expired_token_is_still_taken(
    replay_hook: tuple[str, Dispatcher, Clocks, str],
) -> None:
    url, dispatcher, clocks, token = replay_hook
    clocks.advance(3600 + 299)
    assert post(url, events_body(started_incoming()), token=token).status_code == 200
    assert len(dispatcher.models) == 1


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (jwt(None), "no expiry"),
        ("not-a-jwt", "no expiry"),
        (jwt(time.time() + 86_400, nbf=time.time() + 3600), "not valid yet"),
        (jwt(time.time() - 3600), "expired"),
        ("eyJhbGciOiJSUzI1NiJ9.!!not-base64!!.c2ln", "no expiry"),
    ],
    ids=["no exp", "opaque", "nbf ahead", "expired", "garbled"],
)
def test_a_token_whose_times_cannot_bound_a_replay_is_refused(token: str, says: str) -> None:
    app = webhook_app(Dispatcher(), lambda t: True)  # the validator says yes: the time claims still decide
    with serve(app) as base_url:
        reply = post(base_url + "/", events_body(started_incoming()), token=token)
    assert reply.status_code == 401
    assert says in reply.text


def test_two_authorization_headers_are_refused(hook: tuple[str, Switch]) -> None:
    url, switch = hook
    pairs = [("authorization", f"Bearer {GOOD}"), ("authorization", "Bearer x"), ("content-type", SAAS_JSON)]
    headers = httpx.Headers(pairs)
    assert HTTP.post(url, content=events_body(started_incoming()), headers=headers).status_code == 401
    assert switch.results == []


# -- multipart/related -------------------------------------------------------------------------------------------


BOUNDARY = "805b28b2-04d8-4937-b38e-f4dcab9a4ea8"  # the Webhooks page's own


def multipart(document: bytes, *, boundary: str = BOUNDARY, start: str | None = None) -> tuple[bytes, str]:
    """The Webhooks page's form: ``multipart/related; type="application/json"`` with the JSON as its one part."""
    part_head = "Content-Type: application/json; charset=utf-8\r\n"
    if start is not None:
        part_head += f"Content-ID: {start}\r\n"
    body = f"--{boundary}\r\n{part_head}\r\n".encode() + document + f"\r\n--{boundary}--\r\n".encode()
    content_type = f'multipart/related; boundary="{boundary}"; type="application/json"'
    if start is not None:
        content_type += f'; start="{start}"'
    return body, content_type


@pytest.mark.parametrize("start", [None, "<root@callfsm>"])
def test_a_multipart_related_callback_is_read_through_its_root_part(
    hook: tuple[str, Switch], start: str | None
) -> None:
    url, switch = hook
    body, content_type = multipart(events_body(started_incoming()), start=start)
    reply = post(url, body, content_type=content_type)
    assert reply.status_code == 200, reply.text
    (inv,) = switch.target.models
    assert inv.state is InvitationState.CONNECTING


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"--b\r\n\r\n{}\r\n--b--\r\n", 'multipart/related; type="application/json"'),  # no boundary
        (b"no parts at all", 'multipart/related; boundary="b"; type="application/json"'),
        (b'--b\r\nContent-Type: application/json\r\n\r\n{"sender": 5}\r\n--b--\r\n', 'multipart/related; boundary="b"'),
    ],
    ids=["no boundary", "no part", "bad root"],
)
def test_a_broken_multipart_callback_is_a_400(hook: tuple[str, Switch], body: bytes, content_type: str) -> None:
    url, switch = hook
    reply = post(url, body, content_type=content_type)
    assert reply.status_code == 400
    assert reply.text.count("\n") == 1
    assert switch.results == []
