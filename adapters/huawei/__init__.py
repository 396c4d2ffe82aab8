"""Huawei Cloud Meeting: App ID authentication, token refresh, querying and cancelling a recurring series.

Theory of operation
-------------------
Sans-IO first. :class:`HuaweiAuth` holds the App ID credentials and the
current access token; it builds the App ID authentication request
(``POST /v2/usg/acs/auth/appauth``, docs/protocol.md §7.1), the token refresh
(``PUT /v1/usg/acs/token``) and the token validation
(``POST /v1/usg/acs/token/validate``), reads their answers, and decides from
the caller's clock what the token needs (:class:`TokenStep`).
:func:`adapters.wire.requests.huawei_request` builds the DELETEs,
:func:`detail_request` the details query. Each conversation with the server
(renew the token if needed, send, on 401 renew once and retry, on a 403 to a
plain cancel ask the details API) is one generator that yields requests and
receives responses; :class:`HuaweiClient` (``httpx.Client``) and
:class:`AsyncHuaweiClient` (``httpx.AsyncClient``) only run it, so both
behave the same by construction.

Authentication. The signature is
``HexEncode(HMAC-SHA256(key=appKey, msg="appId:userId:expireTime:nonce"))``
and the header is ``Authorization: HMAC-SHA256 signature=<hex>,access=<base64(appId)>``.
The body carries ``appId``, ``clientType`` 72 (API), ``corpId`` (only when
given: the page says to leave it out outside SP mode), ``expireTime`` (a Unix
time in seconds after which the *signature* is refused: now + 10 minutes by
default), ``nonce`` (32 to 64 characters: 32 random bytes in hex, 64) and
``userId`` (empty means the enterprise's default administrator). The answer's
``accessToken`` is kept as a :class:`~adapters.wire.requests.Secret`; its expiry
is the answer's ``expireTime`` (Unix seconds), else now + ``validPeriod``,
else now + 12 hours (the documented minimum lifetime).

Refresh, not re-authentication. Huawei documents a refresh: ``PUT
/v1/usg/acs/token`` with the token in ``X-Access-Token`` and no body "refreshes
the token's expiry and returns the result" (huaweicloud-sdk-python-v3,
``update_token``); its answer has the App ID answer's shape (``accessToken``,
``validPeriod``, ``expireTime``). So a token within ``refresh_margin`` (5
minutes) of its expiry is refreshed before a request goes out, and a 401 is
answered by a refresh too. The App ID authentication runs only when there is
no token, when the token is already past its expiry (nothing left to
refresh), or when the refresh itself is refused. A token the app already
holds (``access_token=`` at construction) has no known expiry: it is checked
once with ``POST /v1/usg/acs/token/validate`` (body ``{"token": ...,
"needGenNewToken": false}``, ``check_token`` in the SDK), which answers with
the same shape, before its first use.

401. A request refused with 401 causes exactly one renewal (refresh, else App
ID authentication) and one retry. If the retry is refused with 401 again, the
series machine is told (``cancel_failed`` with status 401) and
:class:`HuaweiAuthError` is raised: trying again would loop.

403 to a plain cancel. The cancel page lists 403 "insufficient permissions"
and says a meeting that has been held cannot be cancelled without ``type=1``;
which of the two a 403 means, no page says. The client asks the documented
details API (``GET /v1/mmc/management/conferences/confDetail?conferenceID=``),
whose ``conferenceState`` is ``Created`` once the meeting has been held and
``Schedule`` otherwise (docs/protocol.md §7.2), tells the machine what it
read, and reports the 403 with ``held=True`` when it says ``Created``: the
series goes to ``held``, and the next cancel without ``type=1`` is refused
locally instead of being sent again. If the query fails, the 403 is
reported as it came.

Where the token goes. Every Huawei URL is the configured ``base_url`` joined
with one of the fixed API paths above, through
:func:`adapters.wire.requests.resolve`, which refuses another origin. The server
never hands out a URL to follow, except in a redirect: httpx keeps custom
headers such as ``X-Access-Token`` across a redirect to another host, so a
client built on an ``httpx.Client(follow_redirects=True)`` is refused at
construction, and a 3xx is reported as an error, never followed.

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
from collections.abc import Callable, Generator, Sequence
from enum import Enum
from typing import Any, Final, TypeVar

import cattrs
import httpx
from attrs import define, field, frozen
from cattrs.gen import make_dict_structure_fn, override

from adapters.transport.http import DEFAULT_TIMEOUT, AsyncSender, SyncSender, TransportError
from adapters.wire.requests import (
    HttpRequest,
    HttpResponse,
    Secret,
    as_secret,
    huawei_request,
    resolve,
    with_query,
)
from fsm.actions import Action, Actions, DeleteSeries, DeleteSubMeetings
from fsm.meeting_series import HELD_REFUSAL_STATUS, ConferenceState, HuaweiError, MeetingSeries

log = logging.getLogger("callfsm.huawei")

HUAWEI_BASE_URL: Final = "https://api.meeting.huaweicloud.com"
APP_AUTH_PATH: Final = "/v2/usg/acs/auth/appauth"
#: PUT: refresh the token in ``X-Access-Token`` (SDK ``update_token``).
TOKEN_PATH: Final = "/v1/usg/acs/token"
#: POST ``{"token", "needGenNewToken"}``: is this token valid, until when (SDK ``check_token``).
VALIDATE_PATH: Final = "/v1/usg/acs/token/validate"
#: GET ``?conferenceID=``: a meeting not yet ended, with its ``conferenceState`` (SDK ``show_meeting_detail``).
DETAIL_PATH: Final = "/v1/mmc/management/conferences/confDetail"
#: ``clientType`` for API callers (docs/protocol.md §7.1).
CLIENT_TYPE_API: Final = 72
NONCE_MIN, NONCE_MAX = 32, 64
#: The documented minimum token lifetime (12 to 24 hours), used when the answer names none.
DEFAULT_TOKEN_LIFETIME: Final = 12 * 3600.0

R = TypeVar("R")
#: A conversation with the server: yields the requests to send, receives their responses, returns ``R``.
Exchange = Generator[HttpRequest, HttpResponse, R]


class HuaweiAuthError(Exception):
    """App ID authentication failed, or the server refused a fresh token again.

    The message carries the status and Huawei's ``error_code`` / ``error_msg``,
    never a token, an app key or a signature.
    """

    def __init__(self, why: str, *, status: int | None = None, error_code: str | None = None) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(why)


class HuaweiAnswerError(ValueError):
    """A 200 whose body is not what the documentation describes (says which field, never a token)."""


def signature(*, app_id: str, user_id: str, expire_time: int, nonce: str, app_key: Secret | str) -> Secret:
    """``HexEncode(HMAC-SHA256(appId:userId:expireTime:nonce, appKey))`` (docs/protocol.md §7.1)."""
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


class TokenStep(Enum):
    """What the token needs before the next request."""

    USE = "use it"
    VALIDATE = "validate the token the app gave"
    REFRESH = "refresh it (PUT /v1/usg/acs/token)"
    AUTHENTICATE = "App ID authentication"


class Renewal(Enum):
    """How a new token was had."""

    VALIDATED = "validated"
    REFRESHED = "refreshed"
    REAUTHENTICATED = "App ID authentication"


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


def _api_request(
    method: str,
    base_url: str,
    path: str,
    token: Secret,
    *,
    params: Sequence[tuple[str, str]] = (),
    body: dict[str, Any] | None = None,
) -> HttpRequest:
    headers: list[tuple[str, str | Secret]] = [("Accept", "application/json"), ("X-Access-Token", token)]
    if body is not None:
        headers.append(("Content-Type", "application/json; charset=UTF-8"))
    data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    return HttpRequest(method, with_query(resolve(base_url, path), params), tuple(headers), data)


def detail_request(conference_id: str, *, base_url: str, access_token: Secret) -> HttpRequest:
    """``GET confDetail?conferenceID=...``: the series' details, ``conferenceState`` among them."""
    return _api_request("GET", base_url, DETAIL_PATH, access_token, params=[("conferenceID", conference_id)])


def _optional_secret(value: Secret | str | None) -> Secret | None:
    return None if value is None else as_secret(value)


@define
class HuaweiAuth:
    """Sans-IO App ID authentication, refresh and validation; tracks the token's expiry."""

    credentials: AppIdCredentials
    base_url: str = HUAWEI_BASE_URL
    #: Seconds before expiry at which the token is refreshed.
    refresh_margin: float = 300.0
    #: How long the signature stays valid (the request's ``expireTime`` is now + this).
    signature_validity: int = 600
    nonce: Callable[[], str] = new_nonce
    token: AccessToken | None = None
    #: A token the app handed in, expiry unknown: validated before its first use.
    given: Secret | None = field(default=None, converter=_optional_secret)

    def step(self, now: float) -> TokenStep:
        if self.token is None:
            return TokenStep.AUTHENTICATE if self.given is None else TokenStep.VALIDATE
        if now >= self.token.expires_at:
            return TokenStep.AUTHENTICATE  # past its expiry: nothing left to refresh
        if now >= self.token.expires_at - self.refresh_margin:
            return TokenStep.REFRESH
        return TokenStep.USE

    def needs_token(self, now: float) -> bool:
        return self.step(now) is not TokenStep.USE

    def invalidate(self) -> None:
        self.token = None
        self.given = None

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

    def refresh_request(self) -> HttpRequest:
        """``PUT /v1/usg/acs/token`` for the current token (no body, as in the SDK)."""
        if self.token is None:
            raise HuaweiAuthError("no token to refresh")
        return _api_request("PUT", self.base_url, TOKEN_PATH, self.token.value)

    def validate_request(self) -> HttpRequest:
        """``POST /v1/usg/acs/token/validate`` for the given (else the current) token; no new token asked."""
        token = self.given if self.given is not None else None if self.token is None else self.token.value
        if token is None:
            raise HuaweiAuthError("no token to validate")
        return _api_request(
            "POST", self.base_url, VALIDATE_PATH, token, body={"token": token.reveal(), "needGenNewToken": False}
        )

    def accept(
        self, response: HttpResponse, now: float, *, what: str = "App ID authentication", current: Secret | None = None
    ) -> AccessToken:
        """Read a token answer (App ID, refresh and validation share its shape); keep and return the token.

        ``current`` is the token that was refreshed or validated: kept when the
        answer names no ``accessToken``. Raises :class:`HuaweiAuthError`.
        """
        if response.status != 200:
            error = parse_huawei_error(response)
            raise HuaweiAuthError(f"{what} refused: {error}", status=response.status, error_code=error.error_code)
        try:
            document = json.loads(response.body)
        except (ValueError, RecursionError):
            raise HuaweiAuthError(f"{what} answered 200 with a non-JSON body", status=200) from None
        value = document.get("accessToken") if isinstance(document, dict) else None
        if isinstance(value, str) and value:
            token = Secret(value)
        elif current is not None and isinstance(document, dict):
            token = current
        else:
            raise HuaweiAuthError(f"{what} answered 200 without an accessToken", status=200)
        expires_at = now + DEFAULT_TOKEN_LIFETIME
        expire_time, valid_period = document.get("expireTime"), document.get("validPeriod")
        if _usable_seconds(expire_time):
            expires_at = float(expire_time)
        elif _usable_seconds(valid_period):
            expires_at = now + float(valid_period)
        self.token = AccessToken(token, expires_at)
        log.info("Huawei %s succeeded; token valid until %.0f", what, expires_at)
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


# -- the details answer (cattrs) -------------------------------------------------------------------


@frozen
class SeriesDetail:
    """What ``confDetail`` said of the series (``conferenceData``), values as given."""

    conference_id: str | None = None
    #: ``Schedule`` / ``Created`` today (``Creating`` and ``Destroyed`` documented); kept even when unknown.
    conference_state: str | None = None
    #: ``0`` normal, ``1`` recurring.
    conference_type: int | None = None
    #: ``FUTURE``, ``IMMEDIATELY`` or ``CYCLE``.
    conf_type: str | None = None

    @property
    def held(self) -> bool | None:
        """``Created``: held; ``Schedule``/``Creating``: not yet; ``None``: the answer does not say."""
        parsed = None if self.conference_state is None else ConferenceState.parse(self.conference_state)
        if parsed is ConferenceState.CREATED:
            return True
        if parsed in (ConferenceState.SCHEDULE, ConferenceState.CREATING):
            return False
        return None


_detail_converter = cattrs.Converter(forbid_extra_keys=False)


def _strict(kind: type[Any]) -> Callable[[object, type[Any]], Any]:
    def structure(value: object, _: type[Any]) -> Any:
        # bool is an int to Python, and cattrs would turn 7 into "7": a field of the wrong type is refused
        if isinstance(value, bool) or not isinstance(value, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


_detail_converter.register_structure_hook(str, _strict(str))
_detail_converter.register_structure_hook(int, _strict(int))
_detail_converter.register_structure_hook(
    SeriesDetail,
    make_dict_structure_fn(
        SeriesDetail,
        _detail_converter,
        conference_id=override(rename="conferenceID"),
        conference_state=override(rename="conferenceState"),
        conference_type=override(rename="conferenceType"),
        conf_type=override(rename="confType"),
    ),
)


def parse_detail(response: HttpResponse) -> SeriesDetail:
    """The ``conferenceData`` of a 200 ``confDetail`` answer; :class:`HuaweiAnswerError` when it has none."""
    try:
        document = json.loads(response.body) if response.body else None
    except (ValueError, RecursionError):
        raise HuaweiAnswerError("confDetail answered 200 with a body that is not JSON") from None
    data = document.get("conferenceData") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise HuaweiAnswerError("confDetail answered 200 without a conferenceData object")
    try:
        detail = _detail_converter.structure(data, SeriesDetail)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        where = cattrs.transform_error(exc, "conferenceData") if isinstance(exc, cattrs.BaseValidationError) else []
        raise HuaweiAnswerError(f"confDetail answered 200 with {'; '.join(where) or exc}") from None
    if detail.conference_state is None:
        raise HuaweiAnswerError("confDetail answered 200 without conferenceData.conferenceState")
    return detail


# -- results --------------------------------------------------------------------------------------


@frozen
class SeriesQuery:
    """What one details query came to."""

    response: HttpResponse
    #: The details, on a 200.
    detail: SeriesDetail | None
    #: The refusal, on a 4xx/5xx (a series that has ended is no longer found there: docs/protocol.md §7.1).
    error: HuaweiError | None
    renewal: Renewal | None = None

    @property
    def held(self) -> bool | None:
        return None if self.detail is None else self.detail.held


@frozen
class HuaweiResult:
    """What one Huawei action came to: the final response, its error, and the token renewals."""

    action: DeleteSeries | DeleteSubMeetings
    response: HttpResponse
    error: HuaweiError | None
    #: 1 when a 401 made the client authenticate again (App ID) and retry once.
    reauthenticated: int = 0
    #: What the machine's trigger returned.
    actions: Actions = ()
    #: How the token was renewed after a 401 (then the request was retried once), else ``None``.
    renewal: Renewal | None = None
    #: The details query a 403 to a plain cancel led to.
    query: SeriesQuery | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def feed_series(
    model: MeetingSeries,
    action: DeleteSeries | DeleteSubMeetings,
    response: HttpResponse,
    now: float,
    *,
    held: bool = False,
) -> tuple[HuaweiError | None, Actions]:
    """Drive the series machine with a Huawei response: 2xx is success, 4xx/5xx a failure.

    ``held``: the refusal is known to mean the series has been held. Any
    other status (1xx, 3xx: not documented) drives nothing and is returned as
    an error, so the app sees it; the machine keeps waiting.
    """
    if 200 <= response.status < 300:
        if isinstance(action, DeleteSeries):
            return None, model.cancel_succeeded(now=now)
        return None, model.sub_cancel_succeeded(now=now, ids=action.sub_meeting_ids)
    error = parse_huawei_error(response)
    if not 400 <= response.status <= 599:
        return error, ()
    return error, _fail(model, action, error, now, held=held)


def _fail(
    model: MeetingSeries,
    action: DeleteSeries | DeleteSubMeetings,
    error: HuaweiError,
    now: float,
    *,
    held: bool = False,
) -> Actions:
    if isinstance(action, DeleteSeries):
        return model.cancel_failed(
            now=now, status=error.status, error_code=error.error_code, error_msg=error.error_msg, held=held
        )
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


# -- the conversations (sans-IO: each yields requests and receives responses) ---------------------


def _renew(auth: HuaweiAuth, clock: Callable[[], float], *, refused: bool = False) -> Exchange[Renewal | None]:
    """Get the token ready: validate a given one, refresh one near its expiry, App ID auth only as the last resort.

    ``refused``: the server has just answered 401 to the current token, so it
    is renewed even though the clock says it is still good.
    """
    now = clock()
    step = auth.step(now)
    if refused and step is TokenStep.USE:
        step = TokenStep.REFRESH
    if step is TokenStep.USE:
        return None
    if step is TokenStep.VALIDATE:
        given = auth.given
        try:
            auth.accept((yield auth.validate_request()), now, what="token validation", current=given)
            return Renewal.VALIDATED
        except HuaweiAuthError as exc:
            log.info("Huawei %s: App ID authentication instead", exc)
        finally:
            auth.given = None
    elif step is TokenStep.REFRESH:
        assert auth.token is not None
        current = auth.token.value
        try:
            auth.accept((yield auth.refresh_request()), now, what="token refresh", current=current)
            return Renewal.REFRESHED
        except HuaweiAuthError as exc:
            log.info("Huawei %s: App ID authentication instead", exc)
    auth.token = None
    auth.accept((yield auth.request(now)), now)
    return Renewal.REAUTHENTICATED


def _token(auth: HuaweiAuth, clock: Callable[[], float]) -> Exchange[Secret]:
    yield from _renew(auth, clock)
    assert auth.token is not None
    return auth.token.value


def _authorized(
    auth: HuaweiAuth, clock: Callable[[], float], build: Callable[[Secret], HttpRequest]
) -> Exchange[tuple[HttpResponse, Renewal | None]]:
    """Send ``build(token)``; on 401, renew the token once and send it once more."""
    response = yield build((yield from _token(auth, clock)))
    if response.status != 401:
        return response, None
    log.info("Huawei answered 401: renewing the token (refresh first), then one retry")
    renewal = yield from _renew(auth, clock, refused=True)
    return (yield build((yield from _token(auth, clock)))), renewal


def _query(
    auth: HuaweiAuth, clock: Callable[[], float], model: MeetingSeries
) -> Exchange[SeriesQuery]:
    def build(token: Secret) -> HttpRequest:
        return detail_request(model.conference_id, base_url=auth.base_url, access_token=token)

    response, renewal = yield from _authorized(auth, clock, build)
    if response.status != 200:
        return SeriesQuery(response, None, parse_huawei_error(response), renewal)
    detail = parse_detail(response)
    assert detail.conference_state is not None
    model.conference_state_observed(now=clock(), conference_state=detail.conference_state)
    return SeriesQuery(response, detail, None, renewal)


def _may_mean_held(action: DeleteSeries | DeleteSubMeetings, response: HttpResponse, model: MeetingSeries) -> bool:
    return (
        isinstance(action, DeleteSeries)
        and not action.cancel_ongoing
        and response.status == HELD_REFUSAL_STATUS
        and not model.held
    )


def _perform(
    auth: HuaweiAuth, clock: Callable[[], float], model: MeetingSeries, action: DeleteSeries | DeleteSubMeetings
) -> Exchange[HuaweiResult]:
    def build(token: Secret) -> HttpRequest:
        return huawei_request(action, base_url=auth.base_url, access_token=token)

    try:
        response, renewal = yield from _authorized(auth, clock, build)
    except HuaweiAuthError as exc:
        _auth_failure(model, action, exc, clock())
        raise
    query = None
    if _may_mean_held(action, response, model):
        try:
            query = yield from _query(auth, clock, model)
        except (HuaweiAuthError, HuaweiAnswerError, TransportError) as exc:
            # the 403 is still reported, as it came: the app can query again later
            log.info("Huawei series %s: the details query after a 403 failed: %s", model.conference_id, exc)
    error, actions = feed_series(model, action, response, clock(), held=query is not None and query.held is True)
    reauthenticated = 1 if renewal is Renewal.REAUTHENTICATED else 0
    result = HuaweiResult(action, response, error, reauthenticated, actions, renewal, query)
    if renewal is not None and error is not None and error.status == 401:
        raise HuaweiAuthError(
            f"Huawei refused a freshly renewed token ({error}); not retrying again",
            status=401,
            error_code=error.error_code,
        )
    return result


def _run(exchange: Exchange[R], send: Callable[[HttpRequest], HttpResponse]) -> R:
    """Run a conversation over a blocking transport; a transport error is thrown into it."""
    outcome: HttpResponse | TransportError | None = None
    while True:
        try:
            if isinstance(outcome, TransportError):
                request = exchange.throw(outcome)
            elif outcome is None:
                request = next(exchange)
            else:
                request = exchange.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            outcome = send(request)
        except TransportError as exc:
            outcome = exc


async def _run_async(exchange: Exchange[R], sender: AsyncSender) -> R:
    """:func:`_run` over an asyncio transport."""
    outcome: HttpResponse | TransportError | None = None
    while True:
        try:
            if isinstance(outcome, TransportError):
                request = exchange.throw(outcome)
            elif outcome is None:
                request = next(exchange)
            else:
                request = exchange.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            outcome = await sender.send(request)
        except TransportError as exc:
            outcome = exc


def _no_redirects(client: httpx.Client | httpx.AsyncClient) -> None:
    if client.follow_redirects:
        raise ValueError(
            "the Huawei client needs an httpx client with follow_redirects=False: httpx keeps "
            "X-Access-Token on a redirect, so the token would go wherever the Location points"
        )


# -- the two transports -----------------------------------------------------------------------------


class HuaweiClient:
    """Huawei Cloud Meeting over an ``httpx.Client``: authentication, refresh, one retry on 401.

    ``clock`` is the wall clock in Unix seconds (token expiry is an absolute
    Unix time); inject a fake one in tests. ``access_token`` is a token the app
    already holds (validated before its first use).
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
        access_token: Secret | str | None = None,
    ) -> None:
        _no_redirects(client)
        self.auth = HuaweiAuth(credentials, base_url, refresh_margin, nonce=nonce, given=access_token)
        self.base_url = base_url
        self.clock = clock
        self._sender = SyncSender(client, base_url=base_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"HuaweiClient(base_url={self.base_url!r}, app_id={self.auth.credentials.app_id!r})"

    def _run(self, exchange: Exchange[R]) -> R:
        return _run(exchange, self._sender.send)

    def access_token(self) -> Secret:
        """The current token; validated, refreshed or (last resort) authenticated first when needed."""
        return self._run(_token(self.auth, self.clock))

    def send(self, action: Action) -> tuple[HttpResponse, int]:
        """Send a Huawei action; on 401, renew the token and retry exactly once (the int: 1 if App ID auth ran)."""
        huawei = _huawei_action(action)
        response, renewal = self._run(
            _authorized(
                self.auth, self.clock, lambda t: huawei_request(huawei, base_url=self.base_url, access_token=t)
            )
        )
        return response, int(renewal is Renewal.REAUTHENTICATED)

    def query_series(self, series: MeetingSeries) -> SeriesQuery:
        """Ask ``confDetail`` and tell ``series`` the ``conferenceState`` read (held once ``Created``).

        A refusal (4xx/5xx) is returned in ``error`` and changes nothing;
        a 200 without a readable ``conferenceState`` raises :class:`HuaweiAnswerError`.
        """
        return self._run(_query(self.auth, self.clock, series))

    def perform(self, model: MeetingSeries, action: Action) -> HuaweiResult:
        """Send ``action`` and drive ``model`` with the answer.

        Raises :class:`HuaweiAuthError` (after telling the machine) when no token
        can be had or a renewed one is refused again; :class:`~adapters.transport.http.TransportError`
        when no answer came (the machine is left waiting: the request may have
        reached the server, and sending it again is safe).
        """
        return self._run(_perform(self.auth, self.clock, model, _huawei_action(action)))

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
    """The asyncio twin of :class:`HuaweiClient` (same conversations, ``httpx.AsyncClient``)."""

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
        access_token: Secret | str | None = None,
    ) -> None:
        _no_redirects(client)
        self.auth = HuaweiAuth(credentials, base_url, refresh_margin, nonce=nonce, given=access_token)
        self.base_url = base_url
        self.clock = clock
        self._sender = AsyncSender(client, base_url=base_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"AsyncHuaweiClient(base_url={self.base_url!r}, app_id={self.auth.credentials.app_id!r})"

    async def access_token(self) -> Secret:
        return await _run_async(_token(self.auth, self.clock), self._sender)

    async def send(self, action: Action) -> tuple[HttpResponse, int]:
        huawei = _huawei_action(action)
        response, renewal = await _run_async(
            _authorized(
                self.auth, self.clock, lambda t: huawei_request(huawei, base_url=self.base_url, access_token=t)
            ),
            self._sender,
        )
        return response, int(renewal is Renewal.REAUTHENTICATED)

    async def query_series(self, series: MeetingSeries) -> SeriesQuery:
        return await _run_async(_query(self.auth, self.clock, series), self._sender)

    async def perform(self, model: MeetingSeries, action: Action) -> HuaweiResult:
        return await _run_async(_perform(self.auth, self.clock, model, _huawei_action(action)), self._sender)

    async def cancel_series(self, series: MeetingSeries, *, cancel_ongoing: bool = False) -> HuaweiResult:
        (action,) = series.cancel(now=self.clock(), cancel_ongoing=cancel_ongoing)
        return await self.perform(series, action)

    async def cancel_sub_meetings(
        self, series: MeetingSeries, ids: Sequence[str], *, cancel_ongoing: bool = False
    ) -> HuaweiResult:
        (action,) = series.cancel_sub_meetings(now=self.clock(), ids=ids, cancel_ongoing=cancel_ongoing)
        return await self.perform(series, action)
