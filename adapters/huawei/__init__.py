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

Modules: :mod:`.auth` (App ID authentication and the token, sans I/O),
:mod:`.series_detail` (the details query and its answer), :mod:`.series_exchange`
(the conversations, sans I/O) and :mod:`.series` (``HuaweiClient`` and
``AsyncHuaweiClient``, which run them). Their public names are re-exported here,
where the README imports them from.
"""

from adapters.huawei.auth import (
    APP_AUTH_PATH,
    CLIENT_TYPE_API,
    DEFAULT_TOKEN_LIFETIME,
    HUAWEI_BASE_URL,
    NONCE_MAX,
    NONCE_MIN,
    TOKEN_PATH,
    VALIDATE_PATH,
    AccessToken,
    AppIdCredentials,
    HuaweiAuth,
    HuaweiAuthError,
    Renewal,
    TokenStep,
    new_nonce,
    parse_huawei_error,
    signature,
)
from adapters.huawei.series import (
    DETAIL_PATH,
    AsyncHuaweiClient,
    Exchange,
    HuaweiAnswerError,
    HuaweiClient,
    HuaweiResult,
    SeriesDetail,
    SeriesQuery,
    detail_request,
    feed_series,
    parse_detail,
)

__all__ = [
    "APP_AUTH_PATH",
    "CLIENT_TYPE_API",
    "DEFAULT_TOKEN_LIFETIME",
    "DETAIL_PATH",
    "HUAWEI_BASE_URL",
    "NONCE_MAX",
    "NONCE_MIN",
    "TOKEN_PATH",
    "VALIDATE_PATH",
    "AccessToken",
    "AppIdCredentials",
    "AsyncHuaweiClient",
    "Exchange",
    "HuaweiAnswerError",
    "HuaweiAuth",
    "HuaweiAuthError",
    "HuaweiClient",
    "HuaweiResult",
    "Renewal",
    "SeriesDetail",
    "SeriesQuery",
    "TokenStep",
    "detail_request",
    "feed_series",
    "new_nonce",
    "parse_detail",
    "parse_huawei_error",
    "signature",
]
