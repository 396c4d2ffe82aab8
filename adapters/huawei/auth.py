"""Huawei Cloud Meeting App ID authentication, sans I/O: signing, the token answer, refresh and validation.

:class:`HuaweiAuth` builds the App ID authentication, refresh and validation requests, reads
their answers and decides from the caller's clock what the token needs (:class:`TokenStep`);
the package docstring (:mod:`adapters.huawei`) says why a refresh comes before a new App ID
authentication and how a 401 is answered. The series client (:mod:`adapters.huawei.series`) runs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import secrets
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, Final

from attrs import define, field, frozen

from adapters.wire.requests import (
    HttpRequest,
    HttpResponse,
    Secret,
    as_secret,
    resolve,
    with_query,
)
from fsm.meeting_series import HuaweiError

log = logging.getLogger("callfsm.huawei")

HUAWEI_BASE_URL: Final = "https://api.meeting.huaweicloud.com"
APP_AUTH_PATH: Final = "/v2/usg/acs/auth/appauth"
#: PUT: refresh the token in ``X-Access-Token`` (SDK ``update_token``).
TOKEN_PATH: Final = "/v1/usg/acs/token"
#: POST ``{"token", "needGenNewToken"}``: is this token valid, until when (SDK ``check_token``).
VALIDATE_PATH: Final = "/v1/usg/acs/token/validate"
#: ``clientType`` for API callers (docs/protocol.md §7.1).
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


def api_request(
    method: str,
    base_url: str,
    path: str,
    token: Secret,
    *,
    params: Sequence[tuple[str, str]] = (),
    body: dict[str, Any] | None = None,
) -> HttpRequest:
    """A Huawei API request carrying the token in ``X-Access-Token``, to ``path`` on ``base_url`` only."""
    headers: list[tuple[str, str | Secret]] = [("Accept", "application/json"), ("X-Access-Token", token)]
    if body is not None:
        headers.append(("Content-Type", "application/json; charset=UTF-8"))
    data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    return HttpRequest(method, with_query(resolve(base_url, path), params), tuple(headers), data)


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
        return api_request("PUT", self.base_url, TOKEN_PATH, self.token.value)

    def validate_request(self) -> HttpRequest:
        """``POST /v1/usg/acs/token/validate`` for the given (else the current) token; no new token asked."""
        token = self.given if self.given is not None else None if self.token is None else self.token.value
        if token is None:
            raise HuaweiAuthError("no token to validate")
        return api_request(
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


