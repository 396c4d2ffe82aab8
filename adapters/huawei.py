"""Huawei Cloud Meeting: App ID authentication and cancelling a recurring series.

Theory of operation
-------------------
Sans-IO first. :class:`HuaweiAuth` holds the App ID credentials and the
current access token; it builds the App ID authentication request
(``POST /v2/usg/acs/auth/appauth``, domain.md 7.1) and reads its response,
and it decides, from the caller's clock, whether the token must be renewed.
:func:`adapters.requests.huawei_request` builds the DELETEs. Two thin
transports, :class:`HuaweiClient` (``httpx.Client``) and
:class:`AsyncHuaweiClient` (``httpx.AsyncClient``), share all of that and only
move bytes.

Authentication. The signature is
``HexEncode(HMAC-SHA256(key=appKey, msg="appId:userId:expireTime:nonce"))``
and the header is ``Authorization: HMAC-SHA256 signature=<hex>,access=<base64(appId)>``.
The ``access=`` part is in the current revision of the App ID page
(meeting_21_0311, "required: base64 of the issued app id") though domain.md
7.1 quotes only the signature; sending it costs nothing if a server ignores it.
The body carries ``appId``, ``clientType`` 72 (API), ``corpId`` (only when
given: the page says to leave it out outside SP mode), ``expireTime`` (a Unix
time in seconds after which the *signature* is refused: now + 10 minutes by
default), ``nonce`` (32 to 64 characters: 32 random bytes in hex, 64) and
``userId`` (empty means the enterprise's default administrator). The answer's
``accessToken`` is kept as a :class:`~adapters.requests.Secret`; its expiry
is the answer's ``expireTime`` (Unix seconds), else now + ``validPeriod``,
else now + 12 hours (the documented minimum lifetime).

Renewal. The token is renewed by authenticating again once ``now`` is within
``refresh_margin`` (5 minutes) of its expiry, before any request goes out.
[U] The refresh endpoint (PUT ``/v1/usg/acs/token``) is documented without a
body; a fresh App ID authentication needs nothing more than we already hold.

401. A request refused with 401 causes exactly one re-authentication and one
retry. If the retry is refused with 401 again, the series machine is told
(``cancel_failed`` with status 401) and :class:`HuaweiAuthError` is raised:
the credentials are wrong, and trying again would loop.

Transport errors (no answer at all) leave the machine waiting in
``cancelling``: the DELETE may have reached the server, and sending it again
is harmless.

Requests carry ``X-Access-Token`` and never ``X-Authorization-Type``,
``X-Site-Id`` or ``userUUID`` (deprecated, seed 004). Error bodies
``{"error_code": "MMC.111072065", "error_msg": "..."}`` are parsed leniently:
a missing or non-JSON body gives ``None`` for both, never an exception.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import httpx
from attrs import define, field, frozen

from adapters.http import DEFAULT_TIMEOUT, AsyncSender, SyncSender
from adapters.requests import HttpRequest, HttpResponse, Secret, as_secret, huawei_request, resolve
from fsm.actions import Action, Actions, DeleteSeries, DeleteSubMeetings
from fsm.meeting_series import HuaweiError, MeetingSeries

log = logging.getLogger("callfsm.huawei")

HUAWEI_BASE_URL: Final = "https://api.meeting.huaweicloud.com"
APP_AUTH_PATH: Final = "/v2/usg/acs/auth/appauth"
#: ``clientType`` for API callers (domain.md 7.1).
CLIENT_TYPE_API: Final = 72
NONCE_MIN, NONCE_MAX = 32, 64
#: The documented minimum token lifetime (12 to 24 hours), used when the answer names none.
DEFAULT_TOKEN_LIFETIME: Final = 12 * 3600.0


class HuaweiAuthError(Exception):
    """App ID authentication failed, or the server refused a fresh token again.

    The message carries the status and Huawei's ``error_code`` / ``error_msg``,
    never a token, an app key or a signature.
    """

    def __init__(self, why: str, *, status: int | None = None, error_code: str | None = None) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(why)


def signature(*, app_id: str, user_id: str, expire_time: int, nonce: str, app_key: Secret | str) -> Secret:
    """``HexEncode(HMAC-SHA256(appId:userId:expireTime:nonce, appKey))`` (domain.md 7.1)."""
    message = f"{app_id}:{user_id}:{expire_time}:{nonce}".encode()
    key = as_secret(app_key).reveal().encode("utf-8")
    return Secret(hmac.new(key, message, hashlib.sha256).hexdigest())


def new_nonce() -> str:
    """64 hexadecimal characters (the allowed range is 32 to 64)."""
    return secrets.token_hex(32)


@frozen
class AppIdCredentials:
    """What the Huawei console issues: the app ID and its key, plus who acts."""

    app_id: str
    app_key: Secret = field(converter=as_secret)
    #: The third-party user ID; empty: the enterprise's default administrator.
    user_id: str = ""
    #: Only in SP mode (several enterprises behind one app).
    corp_id: str | None = None


@frozen
class AccessToken:
    value: Secret
    #: Unix time (seconds) at which the server stops accepting it.
    expires_at: float


def parse_huawei_error(response: HttpResponse) -> HuaweiError:
    """Read ``{"error_code", "error_msg"}`` if the body has them; never raises."""
    code = message = None
    try:
        document = json.loads(response.body) if response.body else None
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict):
        raw_code, raw_msg = document.get("error_code"), document.get("error_msg")
        code = raw_code if isinstance(raw_code, str) else None
        message = raw_msg if isinstance(raw_msg, str) else None
    return HuaweiError(response.status, code, message)


@define
class HuaweiAuth:
    """Sans-IO App ID authentication: builds the request, reads the answer, tracks expiry."""

    credentials: AppIdCredentials
    base_url: str = HUAWEI_BASE_URL
    #: Seconds before expiry at which the token is renewed.
    refresh_margin: float = 300.0
    #: How long the signature stays valid (the request's ``expireTime`` is now + this).
    signature_validity: int = 600
    nonce: Callable[[], str] = new_nonce
    token: AccessToken | None = None

    def needs_token(self, now: float) -> bool:
        return self.token is None or now >= self.token.expires_at - self.refresh_margin

    def invalidate(self) -> None:
        self.token = None

    def request(self, now: float) -> HttpRequest:
        """The ``appauth`` POST, signed for ``now``."""
        creds = self.credentials
        nonce = self.nonce()
        if not NONCE_MIN <= len(nonce) <= NONCE_MAX:
            raise ValueError(f"nonce must have {NONCE_MIN} to {NONCE_MAX} characters, got {len(nonce)}")
        expire_time = int(now) + self.signature_validity
        sig = signature(
            app_id=creds.app_id, user_id=creds.user_id, expire_time=expire_time, nonce=nonce, app_key=creds.app_key
        )
        access = base64.b64encode(creds.app_id.encode("utf-8")).decode("ascii")
        body: dict[str, Any] = {
            "appId": creds.app_id,
            "clientType": CLIENT_TYPE_API,
            "expireTime": expire_time,
            "nonce": nonce,
            "userId": creds.user_id,
        }
        if creds.corp_id is not None:
            body["corpId"] = creds.corp_id
        headers = (
            ("Content-Type", "application/json; charset=UTF-8"),
            ("Accept", "application/json"),
            ("Authorization", Secret(f"HMAC-SHA256 signature={sig.reveal()},access={access}")),
        )
        return HttpRequest(
            "POST", resolve(self.base_url, APP_AUTH_PATH), headers, json.dumps(body, separators=(",", ":")).encode()
        )

    def accept(self, response: HttpResponse, now: float) -> AccessToken:
        """Read the ``appauth`` answer; keep and return the token, or raise :class:`HuaweiAuthError`."""
        if response.status != 200:
            error = parse_huawei_error(response)
            raise HuaweiAuthError(
                f"App ID authentication refused: {error}", status=response.status, error_code=error.error_code
            )
        try:
            document = json.loads(response.body)
        except (ValueError, RecursionError):
            raise HuaweiAuthError("App ID authentication answered 200 with a non-JSON body", status=200) from None
        value = document.get("accessToken") if isinstance(document, dict) else None
        if not isinstance(value, str) or not value:
            raise HuaweiAuthError("App ID authentication answered 200 without an accessToken", status=200)
        expires_at = now + DEFAULT_TOKEN_LIFETIME
        expire_time, valid_period = document.get("expireTime"), document.get("validPeriod")
        if _usable_seconds(expire_time):
            expires_at = float(expire_time)
        elif _usable_seconds(valid_period):
            expires_at = now + float(valid_period)
        self.token = AccessToken(Secret(value), expires_at)
        log.info("Huawei App ID authentication succeeded; token valid until %.0f", expires_at)
        return self.token


def _usable_seconds(value: object) -> bool:
    """A positive, finite number of seconds that a float holds (a hostile answer may send 1e999 or 10**400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        number = float(value)
    except OverflowError:
        return False
    return math.isfinite(number) and number > 0


@frozen
class HuaweiResult:
    """What one Huawei action came to: the final response, its error, and the re-authentications."""

    action: DeleteSeries | DeleteSubMeetings
    response: HttpResponse
    error: HuaweiError | None
    #: 1 when a 401 made the client authenticate again and retry once.
    reauthenticated: int = 0
    #: What the machine's trigger returned.
    actions: Actions = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def feed_series(
    model: MeetingSeries, action: DeleteSeries | DeleteSubMeetings, response: HttpResponse, now: float
) -> tuple[HuaweiError | None, Actions]:
    """Drive the series machine with a Huawei response: 2xx is success, 4xx/5xx a failure.

    Any other status (1xx, 3xx: not documented) drives nothing and is
    returned as an error, so the app sees it; the machine keeps waiting.
    """
    if 200 <= response.status < 300:
        if isinstance(action, DeleteSeries):
            return None, model.cancel_succeeded(now=now)
        return None, model.sub_cancel_succeeded(now=now, ids=action.sub_meeting_ids)
    error = parse_huawei_error(response)
    if not 400 <= response.status <= 599:
        return error, ()
    return error, _fail(model, action, error, now)


def _fail(model: MeetingSeries, action: DeleteSeries | DeleteSubMeetings, error: HuaweiError, now: float) -> Actions:
    if isinstance(action, DeleteSeries):
        return model.cancel_failed(now=now, status=error.status, error_code=error.error_code, error_msg=error.error_msg)
    return model.sub_cancel_failed(
        now=now, ids=action.sub_meeting_ids, status=error.status, error_code=error.error_code, error_msg=error.error_msg
    )


def _auth_failure(
    model: MeetingSeries, action: DeleteSeries | DeleteSubMeetings, exc: HuaweiAuthError, now: float
) -> None:
    """The DELETE could not be sent for want of a token: the machine hears a 401 (or the auth status)."""
    status = exc.status if exc.status is not None and 400 <= exc.status <= 599 else 401
    _fail(model, action, HuaweiError(status, exc.error_code, "App ID authentication failed"), now)


def _huawei_action(action: Action) -> DeleteSeries | DeleteSubMeetings:
    if not isinstance(action, DeleteSeries | DeleteSubMeetings):
        raise TypeError(f"the Huawei client performs DeleteSeries / DeleteSubMeetings, not {type(action).__name__}")
    return action


class HuaweiClient:
    """Huawei Cloud Meeting over an ``httpx.Client``: authentication, renewal, one retry on 401.

    ``clock`` is the wall clock in Unix seconds (token expiry is an absolute
    Unix time); inject a fake one in tests.
    """

    def __init__(
        self,
        client: httpx.Client,
        credentials: AppIdCredentials,
        *,
        base_url: str = HUAWEI_BASE_URL,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = new_nonce,
        refresh_margin: float = 300.0,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    ) -> None:
        self.auth = HuaweiAuth(credentials, base_url, refresh_margin, nonce=nonce)
        self.base_url = base_url
        self.clock = clock
        self._sender = SyncSender(client, base_url=base_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"HuaweiClient(base_url={self.base_url!r}, app_id={self.auth.credentials.app_id!r})"

    def access_token(self) -> Secret:
        """The current token, authenticating first when there is none or it is about to expire."""
        now = self.clock()
        token = self.auth.token
        if token is None or self.auth.needs_token(now):
            token = self.auth.accept(self._sender.send(self.auth.request(now)), now)
        return token.value

    def send(self, action: Action) -> tuple[HttpResponse, int]:
        """Send a Huawei action; on 401, authenticate again and retry exactly once."""
        huawei = _huawei_action(action)
        response = self._sender.send(huawei_request(huawei, base_url=self.base_url, access_token=self.access_token()))
        if response.status != 401:
            return response, 0
        log.info("Huawei answered 401: authenticating again, then one retry")
        self.auth.invalidate()
        retry = huawei_request(huawei, base_url=self.base_url, access_token=self.access_token())
        return self._sender.send(retry), 1

    def perform(self, model: MeetingSeries, action: Action) -> HuaweiResult:
        """Send ``action`` and drive ``model`` with the answer.

        Raises :class:`HuaweiAuthError` (after telling the machine) when no token
        can be had or a fresh one is refused again; :class:`~adapters.http.TransportError`
        when no answer came (the machine is left waiting: the request may have
        reached the server, and sending it again is safe).
        """
        huawei = _huawei_action(action)
        try:
            response, reauthenticated = self.send(huawei)
        except HuaweiAuthError as exc:
            _auth_failure(model, huawei, exc, self.clock())
            raise
        error, actions = feed_series(model, huawei, response, self.clock())
        result = HuaweiResult(huawei, response, error, reauthenticated, actions)
        _raise_on_second_401(result)
        return result

    def cancel_series(self, series: MeetingSeries, *, cancel_ongoing: bool = False) -> HuaweiResult:
        """``series.cancel`` (refused locally for a held series without ``cancel_ongoing``), then the DELETE."""
        (action,) = series.cancel(now=self.clock(), cancel_ongoing=cancel_ongoing)
        return self.perform(series, action)

    def cancel_sub_meetings(
        self, series: MeetingSeries, ids: Sequence[str], *, cancel_ongoing: bool = False
    ) -> HuaweiResult:
        (action,) = series.cancel_sub_meetings(now=self.clock(), ids=ids, cancel_ongoing=cancel_ongoing)
        return self.perform(series, action)


class AsyncHuaweiClient:
    """The asyncio twin of :class:`HuaweiClient` (same sans-IO, ``httpx.AsyncClient``)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        credentials: AppIdCredentials,
        *,
        base_url: str = HUAWEI_BASE_URL,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = new_nonce,
        refresh_margin: float = 300.0,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    ) -> None:
        self.auth = HuaweiAuth(credentials, base_url, refresh_margin, nonce=nonce)
        self.base_url = base_url
        self.clock = clock
        self._sender = AsyncSender(client, base_url=base_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"AsyncHuaweiClient(base_url={self.base_url!r}, app_id={self.auth.credentials.app_id!r})"

    async def access_token(self) -> Secret:
        now = self.clock()
        token = self.auth.token
        if token is None or self.auth.needs_token(now):
            token = self.auth.accept(await self._sender.send(self.auth.request(now)), now)
        return token.value

    async def send(self, action: Action) -> tuple[HttpResponse, int]:
        huawei = _huawei_action(action)
        response = await self._sender.send(
            huawei_request(huawei, base_url=self.base_url, access_token=await self.access_token())
        )
        if response.status != 401:
            return response, 0
        log.info("Huawei answered 401: authenticating again, then one retry")
        self.auth.invalidate()
        retry = huawei_request(huawei, base_url=self.base_url, access_token=await self.access_token())
        return await self._sender.send(retry), 1

    async def perform(self, model: MeetingSeries, action: Action) -> HuaweiResult:
        huawei = _huawei_action(action)
        try:
            response, reauthenticated = await self.send(huawei)
        except HuaweiAuthError as exc:
            _auth_failure(model, huawei, exc, self.clock())
            raise
        error, actions = feed_series(model, huawei, response, self.clock())
        result = HuaweiResult(huawei, response, error, reauthenticated, actions)
        _raise_on_second_401(result)
        return result

    async def cancel_series(self, series: MeetingSeries, *, cancel_ongoing: bool = False) -> HuaweiResult:
        (action,) = series.cancel(now=self.clock(), cancel_ongoing=cancel_ongoing)
        return await self.perform(series, action)

    async def cancel_sub_meetings(
        self, series: MeetingSeries, ids: Sequence[str], *, cancel_ongoing: bool = False
    ) -> HuaweiResult:
        (action,) = series.cancel_sub_meetings(now=self.clock(), ids=ids, cancel_ongoing=cancel_ongoing)
        return await self.perform(series, action)


def _raise_on_second_401(result: HuaweiResult) -> None:
    if result.reauthenticated and result.error is not None and result.error.status == 401:
        raise HuaweiAuthError(
            f"Huawei refused a freshly issued token ({result.error}); not retrying again",
            status=401,
            error_code=result.error.error_code,
        )
