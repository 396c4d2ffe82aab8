"""Huawei Cloud Meeting against a loopback fake (Starlette under uvicorn, real HTTP).

Expected values: docs/protocol.md §7.1 (App ID auth: HMAC-SHA256 over
``appId:userId:expireTime:nonce`` keyed by the app key, clientType 72, nonce
32-64; X-Access-Token; deprecated headers), 7.3 (error bodies) and seed 004
(DELETE cycleconferences, type=1, 200/401/403/500). The expected signature is
computed here with hmac/hashlib, independently of adapters.huawei. Token
refresh is ``PUT /v1/usg/acs/token`` with the token in ``X-Access-Token``
(docs/protocol.md §7.1; SDK ``update_token``); App ID authentication runs
again only when the refresh is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from ucwa_fake import serve

from adapters.huawei import (
    AppIdCredentials,
    AsyncHuaweiClient,
    HuaweiAnswerError,
    HuaweiAuthError,
    HuaweiClient,
    Renewal,
    parse_detail,
    signature,
)
from adapters.wire.requests import HttpResponse
from fsm.errors import InvalidTrigger
from fsm.meeting_series import MeetingSeries, MeetingSeriesState

APP_ID = "fdb8e4699586458bbd10c834872dcc62"
APP_KEY = "K3y-0f-the-app-9a8b7c"
USER_ID = "alice"
NONCE = "0123456789abcdef0123456789abcdef"  # 32 characters, the documented minimum
T0 = 1_700_000_000.0
DEPRECATED = {"x-authorization-type", "x-site-id", "useruuid"}


class HuaweiFake:
    """The two Huawei endpoints: App ID auth, and the two DELETEs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()
        self.app = Starlette(
            routes=[
                Route("/v2/usg/acs/auth/appauth", self.appauth, methods=["POST"]),
                Route("/v1/usg/acs/token", self.refresh, methods=["PUT"]),
                Route("/v1/mmc/management/conferences/confDetail", self.detail, methods=["GET"]),
                Route("/v1/mmc/management/cycleconferences", self.delete, methods=["DELETE"]),
                Route("/v1/mmc/management/conferences/cyclesubconf", self.delete, methods=["DELETE"]),
            ]
        )

    def reset(self) -> None:
        with self.lock:
            self.auths: list[dict[str, Any]] = []
            self.refreshes: list[str | None] = []
            self.details: list[str | None] = []
            self.deletes: list[dict[str, Any]] = []
            #: The refresh is refused even for a good token.
            self.refuse_refresh = False
            #: What confDetail says the series is.
            self.conference_state = "Schedule"
            #: Answer the DELETEs with a 307 to this URL.
            self.redirect_to: str | None = None
            self.valid: set[str] = set()
            self.issued = 0
            #: Statuses to answer the next DELETEs with, whatever the token (then normal behaviour).
            self.forced: deque[tuple[int, dict[str, str]]] = deque()
            #: Tokens issued but refused anyway (a token revoked server-side).
            self.refuse_all_tokens = False
            self.expire_time: int = int(T0) + 3600

    async def appauth(self, request: Request) -> Response:
        body = json.loads(await request.body())
        header = request.headers.get("authorization", "")
        with self.lock:
            self.auths.append({"headers": dict(request.headers), "body": body})
        expected = hmac.new(
            APP_KEY.encode(),
            f"{body.get('appId')}:{body.get('userId', '')}:{body.get('expireTime')}:{body.get('nonce')}".encode(),
            hashlib.sha256,
        ).hexdigest()
        if not header.startswith(f"HMAC-SHA256 signature={expected}"):
            return JSONResponse({"error_code": "USG.000000004", "error_msg": "signature check failed"}, 401)
        with self.lock:
            self.issued += 1
            token = f"hw-token-{self.issued}-Zq81"
            self.valid.add(token)
        return JSONResponse({"accessToken": token, "validPeriod": 3600, "expireTime": self.expire_time})

    async def refresh(self, request: Request) -> Response:
        token = request.headers.get("x-access-token")
        with self.lock:
            self.refreshes.append(token)
            ok = token in self.valid and not self.refuse_all_tokens and not self.refuse_refresh
        if not ok:
            return JSONResponse({"error_code": "USG.201040001", "error_msg": "token invalid"}, 401)
        return JSONResponse({"accessToken": token, "validPeriod": 7200, "expireTime": self.expire_time + 7200})

    async def detail(self, request: Request) -> Response:
        with self.lock:
            self.details.append(request.query_params.get("conferenceID"))
        return JSONResponse({"conferenceData": {"conferenceID": "7", "conferenceState": self.conference_state}})

    async def delete(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.deletes.append(
                {
                    "path": request.url.path,
                    "query": dict(parse_qsl(request.url.query)),
                    "headers": {k.lower(): v for k, v in request.headers.items()},
                    "body": json.loads(body) if body else None,
                }
            )
            forced = self.forced.popleft() if self.forced else None
            token_ok = request.headers.get("x-access-token") in self.valid and not self.refuse_all_tokens
        if self.redirect_to is not None:
            return Response(b"", 307, headers={"Location": self.redirect_to})
        if forced is not None:
            return JSONResponse(forced[1], forced[0])
        if not token_ok:
            return JSONResponse({"error_code": "USG.201040001", "error_msg": "token invalid"}, 401)
        return Response(b"", 200, media_type="application/json;charset=UTF-8")


@pytest.fixture(scope="module")
def huawei() -> Iterator[tuple[HuaweiFake, str]]:
    fake = HuaweiFake()
    with serve(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
def fake(huawei: tuple[HuaweiFake, str]) -> HuaweiFake:
    huawei[0].reset()
    return huawei[0]


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def credentials(key: str = APP_KEY) -> AppIdCredentials:
    return AppIdCredentials(APP_ID, key, USER_ID)


@pytest.fixture
def client(huawei: tuple[HuaweiFake, str], fake: HuaweiFake) -> Iterator[HuaweiClient]:
    with httpx.Client() as http:
        yield HuaweiClient(http, credentials(), base_url=huawei[1], clock=Clock(), nonce=lambda: NONCE)


# -- authentication ------------------------------------------------------------------------------------


def test_signature_matches_the_documented_formula() -> None:
    expected = hmac.new(b"key", b"app:user:1700000600:" + NONCE.encode(), hashlib.sha256).hexdigest()
    got = signature(app_id="app", user_id="user", expire_time=1700000600, nonce=NONCE, app_key="key")
    assert got.reveal() == expected


def test_app_id_auth_request_is_as_documented(client: HuaweiClient, fake: HuaweiFake) -> None:
    client.cancel_series(MeetingSeries(conference_id="984697426"))
    (auth,) = fake.auths
    body = auth["body"]
    expire_time = int(T0) + 600  # the signature's own lifetime, from the injected clock
    assert body == {"appId": APP_ID, "clientType": 72, "expireTime": expire_time, "nonce": NONCE, "userId": USER_ID}
    message = f"{APP_ID}:{USER_ID}:{expire_time}:{NONCE}".encode()
    hexsig = hmac.new(APP_KEY.encode(), message, hashlib.sha256).hexdigest()
    access = base64.b64encode(APP_ID.encode()).decode()
    assert auth["headers"]["authorization"] == f"HMAC-SHA256 signature={hexsig},access={access}"


def test_nonce_length_is_checked() -> None:
    with httpx.Client() as http:
        short = HuaweiClient(http, credentials(), base_url="http://127.0.0.1:9", nonce=lambda: "x" * 31)
        with pytest.raises(ValueError, match="32 to 64"):
            short.access_token()


def test_corp_id_is_sent_only_when_given(huawei: tuple[HuaweiFake, str], fake: HuaweiFake) -> None:
    with httpx.Client() as http:
        sp = HuaweiClient(http, AppIdCredentials(APP_ID, APP_KEY, USER_ID, corp_id="corp-9"), base_url=huawei[1],
                          clock=Clock(), nonce=lambda: NONCE)
        sp.access_token()
    assert fake.auths[0]["body"]["corpId"] == "corp-9"


def test_token_is_refreshed_before_it_expires(client: HuaweiClient, fake: HuaweiFake) -> None:
    clock = client.clock
    assert isinstance(clock, Clock)
    first = client.access_token()
    clock.now = fake.expire_time - 301  # still outside the 300 s margin: kept
    assert client.access_token() == first
    assert (len(fake.auths), fake.refreshes) == (1, [])
    clock.now = fake.expire_time - 299  # inside the margin: refreshed (PUT), not authenticated again
    assert client.access_token() == first
    assert fake.refreshes == [first.reveal()]
    assert len(fake.auths) == 1
    token = client.auth.token
    assert token is not None
    assert token.expires_at == fake.expire_time + 7200


def test_a_refused_refresh_falls_back_to_app_id_authentication(client: HuaweiClient, fake: HuaweiFake) -> None:
    clock = client.clock
    assert isinstance(clock, Clock)
    first = client.access_token()
    fake.refuse_refresh = True
    clock.now = fake.expire_time - 299
    second = client.access_token()
    assert second != first
    assert (len(fake.refreshes), len(fake.auths)) == (1, 2)


def test_an_expired_token_is_not_refreshed(client: HuaweiClient, fake: HuaweiFake) -> None:
    clock = client.clock
    assert isinstance(clock, Clock)
    client.access_token()
    clock.now = fake.expire_time + 1  # gone: there is nothing left to refresh
    client.access_token()
    assert (fake.refreshes, len(fake.auths)) == ([], 2)


# -- cancelling ------------------------------------------------------------------------------------------


def test_cancel_series_200(client: HuaweiClient, fake: HuaweiFake) -> None:
    series = MeetingSeries(conference_id="984697426")
    result = client.cancel_series(series)
    assert result.ok
    assert series.state is MeetingSeriesState.CANCELLED
    (delete,) = fake.deletes
    assert delete["path"] == "/v1/mmc/management/cycleconferences"
    assert delete["query"] == {"conferenceID": "984697426"}
    assert delete["headers"]["x-access-token"] in fake.valid
    assert DEPRECATED.isdisjoint(delete["headers"])
    assert "authorization" not in delete["headers"]


def test_cancel_held_series_needs_type_1(client: HuaweiClient, fake: HuaweiFake) -> None:
    series = MeetingSeries(conference_id="42")
    series.conference_state_observed(now=T0, conference_state="Created")
    with pytest.raises(InvalidTrigger):
        client.cancel_series(series)
    assert fake.deletes == []  # refused locally: nothing sent
    client.cancel_series(series, cancel_ongoing=True)
    assert fake.deletes[0]["query"] == {"conferenceID": "42", "type": "1"}
    assert series.state is MeetingSeriesState.CANCELLED


def test_cancel_sub_meetings(client: HuaweiClient, fake: HuaweiFake) -> None:
    series = MeetingSeries(conference_id="42")
    client.cancel_sub_meetings(series, ["sub-1", "sub-2"])
    (delete,) = fake.deletes
    assert delete["path"] == "/v1/mmc/management/conferences/cyclesubconf"
    assert delete["body"] == {"cycleSubConfIDs": ["sub-1", "sub-2"]}
    assert series.cancelled_sub_meetings == ("sub-1", "sub-2")
    assert series.state is MeetingSeriesState.SCHEDULED


def test_401_refreshes_once_and_retries_once(client: HuaweiClient, fake: HuaweiFake) -> None:
    first = client.access_token()
    fake.forced.append((401, {"error_code": "USG.201040001", "error_msg": "token expired"}))
    series = MeetingSeries(conference_id="7")
    result = client.cancel_series(series)
    assert result.renewal is Renewal.REFRESHED
    assert result.reauthenticated == 0
    assert fake.refreshes == [first.reveal()]
    assert len(fake.auths) == 1  # the refresh was enough: no App ID authentication
    assert len(fake.deletes) == 2
    assert series.state is MeetingSeriesState.CANCELLED


def test_401_reauthenticates_once_when_the_refresh_is_refused(client: HuaweiClient, fake: HuaweiFake) -> None:
    client.access_token()
    fake.refuse_refresh = True
    fake.forced.append((401, {"error_code": "USG.201040001", "error_msg": "token expired"}))
    series = MeetingSeries(conference_id="7")
    result = client.cancel_series(series)
    assert result.reauthenticated == 1
    assert len(fake.refreshes) == 1
    assert len(fake.auths) == 2
    assert len(fake.deletes) == 2
    # the retry carried the fresh token
    assert fake.deletes[1]["headers"]["x-access-token"] != fake.deletes[0]["headers"]["x-access-token"]
    assert series.state is MeetingSeriesState.CANCELLED


def test_a_second_401_is_an_error_not_a_loop(client: HuaweiClient, fake: HuaweiFake) -> None:
    fake.refuse_all_tokens = True
    series = MeetingSeries(conference_id="7")
    with pytest.raises(HuaweiAuthError, match="not retrying again") as caught:
        client.cancel_series(series)
    assert caught.value.status == 401
    assert (len(fake.auths), len(fake.refreshes), len(fake.deletes)) == (2, 1, 2)
    # the machine heard the refusal: back where it was, the error kept
    assert series.state is MeetingSeriesState.SCHEDULED
    assert series.last_error is not None
    assert (series.last_error.status, series.last_error.error_code) == (401, "USG.201040001")


def test_a_403_for_a_series_the_details_say_is_not_held_returns_to_scheduled(
    client: HuaweiClient, fake: HuaweiFake
) -> None:
    # 403 is also "insufficient permissions" (seed 004): confDetail says Schedule, so not held
    fake.forced.append((403, {"error_code": "MMC.111070002", "error_msg": "insufficient permissions"}))
    series = MeetingSeries(conference_id="7")
    result = client.cancel_series(series)
    assert fake.details == ["7"]
    assert result.query is not None
    assert result.query.held is False
    assert series.state is MeetingSeriesState.SCHEDULED
    assert not series.held
    client.cancel_series(series)  # a plain cancel may still be tried
    assert len(fake.deletes) == 2


def test_a_403_with_type_1_asks_nothing(client: HuaweiClient, fake: HuaweiFake) -> None:
    # with type=1 a held meeting can be cancelled (seed 004), so this 403 cannot mean "held"
    fake.forced.append((403, {"error_code": "MMC.111070002", "error_msg": "insufficient permissions"}))
    series = MeetingSeries(conference_id="7")
    client.cancel_series(series, cancel_ongoing=True)
    assert fake.details == []
    assert series.state is MeetingSeriesState.SCHEDULED


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [(403, "MMC.111070002", "insufficient permissions"), (500, "MMC.111070003", "system processing failure")],
)
def test_403_and_500_fail_the_cancel_without_reauthenticating(
    client: HuaweiClient, fake: HuaweiFake, status: int, code: str, message: str
) -> None:
    fake.forced.append((status, {"error_code": code, "error_msg": message}))
    series = MeetingSeries(conference_id="7")
    result = client.cancel_series(series)
    assert not result.ok
    assert result.reauthenticated == 0
    assert len(fake.auths) == 1
    assert series.state is MeetingSeriesState.SCHEDULED
    assert series.last_error is not None
    assert (series.last_error.status, series.last_error.error_code, series.last_error.error_msg) == (
        status,
        code,
        message,
    )


def test_refused_authentication_tells_the_machine_and_raises(huawei: tuple[HuaweiFake, str], fake: HuaweiFake) -> None:
    series = MeetingSeries(conference_id="7")
    with httpx.Client() as http:
        wrong = HuaweiClient(http, credentials("not-the-key"), base_url=huawei[1], clock=Clock(), nonce=lambda: NONCE)
        with pytest.raises(HuaweiAuthError, match=r"USG\.000000004") as caught:
            wrong.cancel_series(series)
    assert "not-the-key" not in str(caught.value)
    assert fake.deletes == []
    assert series.state is MeetingSeriesState.SCHEDULED
    assert series.last_error is not None
    assert series.last_error.status == 401


async def test_async_cancel_with_one_reauthentication(huawei: tuple[HuaweiFake, str], fake: HuaweiFake) -> None:
    async with httpx.AsyncClient() as http:
        client = AsyncHuaweiClient(http, credentials(), base_url=huawei[1], clock=Clock(), nonce=lambda: NONCE)
        await client.access_token()
        fake.forced.append((401, {"error_code": "USG.201040001", "error_msg": "token expired"}))
        series = MeetingSeries(conference_id="8")
        result = await client.cancel_series(series, cancel_ongoing=True)
        assert result.renewal is Renewal.REFRESHED
        assert len(fake.auths) == 1
        assert series.state is MeetingSeriesState.CANCELLED
        fake.refuse_all_tokens = True
        other = MeetingSeries(conference_id="9")
        with pytest.raises(HuaweiAuthError):
            await client.cancel_series(other)
    assert fake.deletes[0]["query"] == {"conferenceID": "8", "type": "1"}
    assert len(fake.deletes) == 4  # 8: refused + retried; 9: refused + retried once, no more
    assert len(fake.auths) == 2  # 9: refresh refused, then App ID authentication, once


# -- secrets ---------------------------------------------------------------------------------------------


def test_no_token_or_key_in_logs_reprs_or_errors(
    client: HuaweiClient, fake: HuaweiFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    series = MeetingSeries(conference_id="7")
    fake.forced.append((401, {"error_code": "USG.201040001", "error_msg": "token expired"}))
    result = client.cancel_series(series)
    fake.refuse_all_tokens = True
    with pytest.raises(HuaweiAuthError) as caught:
        client.cancel_series(MeetingSeries(conference_id="8"))
    issued = [f"hw-token-{n}-Zq81" for n in range(1, fake.issued + 1)]
    assert issued  # tokens were issued, so the check below means something
    token = client.auth.token
    assert token is not None
    texts = [
        caplog.text,
        repr(client),
        repr(client.auth),
        repr(token),
        repr(result),
        repr(result.response),
        str(caught.value),
        repr(caught.value),
        repr(credentials()),
    ]
    for text in texts:
        for secret in [*issued, APP_KEY]:
            assert secret not in text, (secret, text)


# -- the token goes to the configured API host only ------------------------------------------------------


class Elsewhere:
    """A second loopback server (another port: another origin, RFC 6454) that records what reaches it."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/{rest:path}", self.any, methods=["GET", "POST", "PUT", "DELETE"])])

    async def any(self, request: Request) -> Response:
        self.seen.append({k.lower(): v for k, v in request.headers.items()})
        return Response(b"", 200)


def test_a_redirect_to_another_host_never_gets_the_token(huawei: tuple[HuaweiFake, str], fake: HuaweiFake) -> None:
    elsewhere = Elsewhere()
    with serve(elsewhere.app) as other:
        fake.redirect_to = f"{other}/v1/mmc/management/cycleconferences?conferenceID=7"
        # httpx keeps custom headers (X-Access-Token) across redirects: a client that follows them is refused
        with httpx.Client(follow_redirects=True) as follows, pytest.raises(ValueError, match="follow_redirects"):
            HuaweiClient(follows, credentials(), base_url=huawei[1], clock=Clock(), nonce=lambda: NONCE)
        with httpx.Client() as http:
            client = HuaweiClient(http, credentials(), base_url=huawei[1], clock=Clock(), nonce=lambda: NONCE)
            series = MeetingSeries(conference_id="7")
            result = client.cancel_series(series)
    assert result.error is not None
    assert result.error.status == 307
    assert fake.deletes[0]["headers"]["x-access-token"] in fake.valid  # the API host did get it
    assert elsewhere.seen == []


async def test_the_async_client_refuses_a_client_that_follows_redirects() -> None:
    async with httpx.AsyncClient(follow_redirects=True) as follows:
        with pytest.raises(ValueError, match="follow_redirects"):
            AsyncHuaweiClient(follows, credentials(), base_url="http://127.0.0.1:9")


# -- the details answer -----------------------------------------------------------------------------------

json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
json_values = st.recursive(
    json_leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
)
detail_bodies = st.one_of(
    st.binary(max_size=40),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["conferenceID", "conferenceState", "conferenceType", "confType", "other"]), json_values
    ).map(lambda d: json.dumps({"conferenceData": d}).encode()),
    st.just(b"[" * 5000 + b"]" * 5000),
)


@settings(max_examples=200, deadline=None)
@given(body=detail_bodies)
def test_a_details_answer_gives_details_or_huawei_answer_error(body: bytes) -> None:
    try:
        detail = parse_detail(HttpResponse(200, (), body))
    except HuaweiAnswerError:
        return
    assert isinstance(detail.conference_state, str)  # a 200 the machine can use always says it


def test_an_unknown_conference_state_is_kept_and_does_not_say_held(client: HuaweiClient, fake: HuaweiFake) -> None:
    # docs/protocol.md §7.2 names four values; a fifth is kept as given and is neither held nor not held
    fake.conference_state = "Paused"
    fake.forced.append((403, {"error_code": "MMC.111070002", "error_msg": "insufficient permissions"}))
    series = MeetingSeries(conference_id="7")
    result = client.cancel_series(series)
    assert result.query is not None
    assert result.query.detail is not None
    assert result.query.detail.conference_state == "Paused"
    assert result.query.held is None
    assert series.state is MeetingSeriesState.SCHEDULED  # the 403 reported as it came
    assert "Paused" in [step.reason for step in series.history]
