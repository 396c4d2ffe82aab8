"""No bearer token or X-Access-Token value shows in logs, reprs, errors, snapshots, traces or replay output.

The tokens are distinctive strings that the servers below really check (so
each request really carried them) and that a proxy page echoes back (as
real proxies do with request headers). Everything the library wrote is then
searched for them: every log record at DEBUG (httpx and httpcore included),
the repr of every client, sender, request, response, model and result, the
text of every exception forced on the way, the client snapshot's JSON, the
clients' traces (docs/trace.md) and the output of ``callfsm replay`` on a
recording that carries a token.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from ucwa_fake import APP, EVENTS, INVITATIONS, START_AV, TOKEN, Scripted, UcwaFake, closed_port, serve

from adapters.cli import replay as cli_replay
from adapters.huawei import AppIdCredentials, AsyncHuaweiClient, HuaweiAuthError, HuaweiClient
from adapters.transport.http import SyncSender, TransportError
from adapters.ucwa.channel import EventChannelError
from adapters.ucwa.client import AsyncUcwaClient, UcwaClient
from adapters.wire.requests import build_request
from adapters.wire.ucwa_errors import UcwaError
from fsm.actions import FetchResource
from fsm.meeting_series import MeetingSeries

#: The part of the UCWA bearer token that must show nowhere (the fake checks the whole token).
UCWA_SECRET = TOKEN.split("=", 1)[1]
HUAWEI_TOKEN = "hw-ACCESS-7c1e-SECRET-d04b"
APP_KEY = "hw-APPKEY-91f0-SECRET-aa17"
SECRETS = (UCWA_SECRET, HUAWEI_TOKEN, APP_KEY)


def assert_no_secret(texts: list[str]) -> None:
    assert texts
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into: {text[:300]!r}"


@pytest.fixture(scope="module")
def ucwa() -> Iterator[UcwaFake]:
    server = UcwaFake(hold=0.1)
    with serve(server.app) as base_url:
        server.base_url = base_url
        yield server


@pytest.fixture(autouse=True)
def _clean(ucwa: UcwaFake) -> None:
    ucwa.reset()


def echo_page(secret: str) -> bytes:
    """What a proxy answers: an HTML page that quotes the request's headers."""
    return f"<html><body>502 upstream: Authorization: Bearer {secret} X-Access-Token: {secret}</body></html>".encode()


# -- UCWA, sync and asyncio ---------------------------------------------------------------------------


def test_a_full_sync_call_and_its_failures_leak_no_token(
    ucwa: UcwaFake, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    url = ucwa.base_url + APP
    trace = tmp_path / "trace.jsonl"  # every request, response and event answer below, the echoes included
    with UcwaClient(url, token=TOKEN, trace=trace) as client:
        call = client.start_audio_video("sip:bob@contoso.com", subject="secrets")
        client.wait_for_outcome(call, timeout=10)
        request = build_request(FetchResource(call.href or "", "read"), base_url=url, token=client.sender.token())
        response = client.sender.send(request)
        texts += [repr(client), repr(client.sender), repr(client.channel), repr(request), repr(response), repr(call)]
        texts += [str(request.headers), str(client.sender.token()), f"{client.sender.token()}"]
        # a failing request, answered by a proxy that echoes the token
        ucwa.script("POST", START_AV, Scripted(502, echo_page(TOKEN), {"content-type": "text/html"}))
        with pytest.raises(UcwaError) as refused:
            client.start_audio_video("sip:carol@contoso.com")
        texts += [str(refused.value), repr(refused.value), str(refused.value.note)]
        # a P-GET answered by the echoing proxy (retried), then refused for good
        ucwa.script(
            "GET",
            EVENTS,
            Scripted(500, echo_page(TOKEN), {"content-type": "text/html"}),
            Scripted(403, echo_page(TOKEN), {"content-type": "text/html"}),
        )
        with pytest.raises(EventChannelError) as ended:
            client.run()
        texts += [str(ended.value), repr(ended.value), str(ended.value.cause), client.snapshot().__repr__()]
        texts.append(json.dumps(client.snapshot()))
    with httpx.Client() as http:
        dead = SyncSender(http, TOKEN, base_url=f"http://127.0.0.1:{closed_port()}")
        with pytest.raises(TransportError) as unreachable:
            dead.perform(FetchResource("/x", "x"))
        texts += [str(unreachable.value), repr(unreachable.value), repr(dead), str(unreachable.value.__cause__)]
    # the requests did carry the token: the fake refuses any other with 401
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in ucwa.seen())
    assert ucwa.seen("POST", START_AV)
    texts.append(caplog.text)
    texts += [record.getMessage() for record in caplog.records]
    texts.append(trace.read_text(encoding="utf-8"))
    assert "502 upstream" in texts[-1]  # the echoing proxy's page is in the trace, its token is not
    assert_no_secret(texts)


async def test_a_full_async_call_and_its_failures_leak_no_token(
    ucwa: UcwaFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ucwa.scenario = "decline"
    texts: list[str] = []
    url = ucwa.base_url + APP

    async def token() -> str:
        return TOKEN

    trace = io.StringIO()
    async with AsyncUcwaClient(url, token=token, trace=trace) as client:
        call = await client.start_audio_video("sip:bob@contoso.com")
        await client.wait_for_outcome(call, timeout=10)
        texts += [repr(client), repr(client.sender), repr(client.channel), repr(call), repr(call.outcome)]
        ucwa.script("POST", START_AV, Scripted(500, echo_page(TOKEN), {"content-type": "text/html"}))
        with pytest.raises(UcwaError) as refused:
            await client.start_audio_video("sip:carol@contoso.com")
        texts += [str(refused.value), repr(refused.value)]
        texts.append(json.dumps(client.snapshot()))
    assert len(ucwa.seen("POST", START_AV)) == 2
    assert f"{INVITATIONS}/av1" == call.href
    texts.append(caplog.text)
    texts.append(trace.getvalue())
    assert '"kind":"request"' in texts[-1]
    assert_no_secret(texts)


def test_a_restored_client_holds_no_token_and_needs_one(ucwa: UcwaFake) -> None:
    url = ucwa.base_url + APP
    ucwa.scenario = "ring"
    with UcwaClient(url, token=TOKEN) as client:
        call = client.start_audio_video("sip:bob@contoso.com")
        assert client.run_until(lambda: call.representation.has("cancel"), timeout=10)
        text = json.dumps(client.snapshot())
    assert_no_secret([text])
    with UcwaClient.restore(url, text, token=TOKEN) as again:
        texts = [repr(again), repr(again.models), repr(again.sender)]
        (restored,) = again.models
        again.cancel(restored)  # type: ignore[arg-type]
    assert_no_secret(texts)
    assert ucwa.seen("POST", f"{INVITATIONS}/av1/cancel")


# -- Huawei ------------------------------------------------------------------------------------------------


class HuaweiEcho:
    """App ID auth that issues HUAWEI_TOKEN, and DELETEs that accept it, or answer as told."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: list[tuple[int, bytes]] = []
        self.tokens_seen: list[str | None] = []
        self.app = Starlette(
            routes=[
                Route("/v2/usg/acs/auth/appauth", self.appauth, methods=["POST"]),
                Route("/v1/mmc/management/cycleconferences", self.delete, methods=["DELETE"]),
            ]
        )

    async def appauth(self, request: Request) -> Response:
        return JSONResponse({"accessToken": HUAWEI_TOKEN, "validPeriod": 3600})

    async def delete(self, request: Request) -> Response:
        with self.lock:
            self.tokens_seen.append(request.headers.get("x-access-token"))
            status, body = self.answers.pop(0) if self.answers else (200, b"")
        return Response(body, status, media_type="application/json")


@pytest.fixture(scope="module")
def huawei() -> Iterator[tuple[HuaweiEcho, str]]:
    server = HuaweiEcho()
    with serve(server.app) as base_url:
        yield server, base_url


def test_a_huawei_cancel_with_auth_and_its_failures_leak_no_token(
    huawei: tuple[HuaweiEcho, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server, base_url = huawei
    texts: list[str] = []
    credentials = AppIdCredentials("app-1", APP_KEY, "alice")
    with httpx.Client() as http:
        client = HuaweiClient(http, credentials, base_url=base_url)
        result = client.cancel_series(MeetingSeries(conference_id="984697426"))
        assert result.ok
        texts += [repr(client), repr(client.auth), repr(client.auth.token), repr(result), repr(credentials)]
        texts += [repr(client.auth.request(0.0)), str(client.access_token())]
        # refused twice with the proxy's echo: re-authenticated once, then HuaweiAuthError
        server.answers += [(401, echo_page(HUAWEI_TOKEN)), (401, echo_page(HUAWEI_TOKEN))]
        series = MeetingSeries(conference_id="984697427")
        with pytest.raises(HuaweiAuthError) as refused:
            client.cancel_series(series)
        texts += [str(refused.value), repr(refused.value), repr(series), repr(series.last_error)]
    assert HUAWEI_TOKEN in server.tokens_seen  # the DELETEs really carried it
    texts.append(caplog.text)
    assert_no_secret(texts)


async def test_an_async_huawei_cancel_leaks_no_token(
    huawei: tuple[HuaweiEcho, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server, base_url = huawei
    async with httpx.AsyncClient() as http:
        client = AsyncHuaweiClient(http, AppIdCredentials("app-1", APP_KEY), base_url=base_url)
        server.answers.append((500, echo_page(HUAWEI_TOKEN)))
        series = MeetingSeries(conference_id="984697428")
        result = await client.cancel_series(series)
    assert not result.ok
    assert_no_secret([caplog.text, repr(client), repr(result), repr(series), str(result.error)])


# -- replay output -------------------------------------------------------------------------------------------


def test_replay_output_shows_no_token_from_the_recording(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A recording made behind an echoing proxy: the token sits in bodies; the report must not repeat it."""
    href = f"{INVITATIONS}/in7"
    started = {
        "link": {"rel": "audioVideoInvitation", "href": href},
        "type": "started",
        "_embedded": {"audioVideoInvitation": {"direction": "Incoming", "state": "Connecting", "note": TOKEN}},
        "x-echo": f"Authorization: Bearer {TOKEN}",
    }
    failed = {
        "link": {"rel": "audioVideoInvitation", "href": href},
        "type": "completed",
        "status": "Failure",
        "reason": {"code": "ServiceFailure", "subcode": "Timeout", "message": f"Bearer {TOKEN}", "debugInfo": TOKEN},
    }
    refused = {"link": {"rel": "audioVideoInvitation", "href": href}, "type": "updated", "x-token": HUAWEI_TOKEN}

    def response(*events: dict[str, object]) -> dict[str, object]:
        return {"_links": {"next": {"href": "/e"}}, "sender": [{"rel": "c", "href": "/c", "events": list(events)}]}

    lines = [
        json.dumps(response(started)),
        json.dumps({"t": 1, "response": echo_page(TOKEN).decode(), "content_type": "text/html"}),
        json.dumps({"t": 2, "response": "{" + json.dumps(TOKEN)}),  # truncated JSON that starts with the token
        json.dumps(response(failed)),
        json.dumps(response(refused)),  # an update after the end: a violation
    ]
    recording = tmp_path / "recording.jsonl"  # type: ignore[operator]
    recording.write_text("\n".join(lines) + "\n")
    outputs = []
    for as_json in (False, True):
        parser = argparse.ArgumentParser()
        cli_replay.add_arguments(parser)  # the command's own options, defaults included
        status = cli_replay.run(parser.parse_args([str(recording), *(["--json"] if as_json else [])]))
        assert status == 1  # the violations were found...
        outputs.append(capsys.readouterr().out)
    assert "unreadable response" in outputs[0]  # ...and reported
    assert "ServiceFailure" in outputs[0]
    assert_no_secret(outputs)
