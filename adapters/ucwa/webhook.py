"""The Trusted Application API push model: an ASGI app that receives event POSTs.

Theory of operation
-------------------
With the Trusted Application API the server POSTs each event response to the
callback URL the app registered (docs/protocol.md §2.1, S4 ``Webhooks.md``) instead of
answering a P-GET. :func:`webhook_app` builds a Starlette app for that URL:

1. ``Authorization: Bearer <token>`` is checked by the validator the app
   passes in (an AAD token whose ``aud`` is the app's App ID URI: validating it
   needs the app's tenant and keys, so it is the app's function, sync or
   async). A missing header (or two), another scheme, a refusal or a validator
   that raises: ``401`` with ``WWW-Authenticate: Bearer``, and the body is not read.
2. Replays. Microsoft's ``Webhooks.md`` (docs/protocol.md §2.1) gives one
   means: the callback's token is an AAD JWT with ``nbf`` and ``exp``, to be
   validated before the callback is accepted. So the token's ``exp`` must be
   present and not past, and ``nbf`` not future (both with :data:`CLOCK_SKEW`,
   the 5 minutes Microsoft's token validators allow); else ``401``. Within the
   token's lifetime a byte-identical body already accepted is a replay (or the
   server's retry of a POST whose answer it lost): answered ``200`` and dropped
   unread, so a ``started`` replayed after the dispatcher's duplicate window
   cannot revive an ended call as a new ringing one. Each accepted body's
   digest is kept until its token expires, at most ``max_remembered`` of them
   (``429`` beyond: the server retries later). What the documentation cannot
   give: a new body under a stolen, still valid token; the signature covers
   the token, not the body.
3. The body is read up to ``max_body`` bytes (4 MiB by default); a longer one
   is refused with ``413`` before it is buffered.
4. :func:`adapters.wire.events.parse_events` reads it (JSON, including the SaaS
   ``application/json; type="..."`` form, or UCWA XML; no ``next`` link is
   needed); a ``multipart/related; type="application/json"`` body, the form of
   the Webhooks page's example, is read through its root part. A body that
   cannot be parsed gets ``400`` with one line saying what was wrong and
   where; no machine is touched.
5. ``baseuri``: the Trusted Application API names the server that event hrefs
   are relative to. Only those in ``allowed_baseuris`` (compared as origins:
   scheme, host, port) are taken; any other is refused with ``403`` and
   nothing is dispatched, since the app would send its requests, and its
   token, there. The list is empty by default: name your pool's URL.
6. The events go to the same :class:`~adapters.routing.dispatcher.Dispatcher` the P-GET
   loop uses; refused events are recorded as violations in the result, never
   an error status (the server would only retry).
7. ``200``, with ``{"CallbackContext": ...}`` when ``callback_context`` gives
   one (the server then adds ``?callbackContext=...`` to later callbacks).

``on_result`` receives each :class:`~adapters.routing.dispatcher.DispatchResult` (sync
or async); performing the actions it lists (a GET after a bare ``completed``)
is the app's business, for example through :class:`adapters.ucwa.client.AsyncUcwaClient.perform`.
The token is never logged; a refusal is logged with the client address only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import inspect
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection
from email.message import Message
from typing import Final

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from adapters.routing.dispatcher import Dispatcher, DispatchResult
from adapters.wire.events import MAX_EVENTS_BODY, EventParseError, EventsResponse, parse_events
from adapters.wire.requests import origin

log = logging.getLogger("callfsm.webhook")

#: The validator: the bearer token in, accept or refuse out.
TokenValidator = Callable[[str], bool | Awaitable[bool]]

_BEARER: Final = "bearer "
#: Seconds of clock difference allowed on ``exp`` and ``nbf``: the default of Microsoft's own token
#: validators (``TokenValidationParameters.ClockSkew``).
CLOCK_SKEW: Final = 300.0
#: Most accepted callbacks remembered at once (until their tokens expire); beyond, ``429``.
MAX_REMEMBERED: Final = 100_000
#: Most parts a ``multipart/related`` callback may have (the documented example has one).
MAX_PARTS: Final = 16
#: Longest bearer token whose claims are read.
MAX_TOKEN: Final = 16 * 1024


class TokenTimes:
    """The time claims of a JWT bearer token (read, not verified: the app's validator verifies it)."""

    def __init__(self, exp: float, nbf: float | None) -> None:
        self.exp = exp
        self.nbf = nbf


def token_times(token: str) -> TokenTimes | None:
    """``exp`` and ``nbf`` of a JWT (``header.payload.signature``), or ``None`` when it has no numeric ``exp``."""
    parts = token.split(".")
    if len(token) > MAX_TOKEN or len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        return None
    if not isinstance(claims, dict):
        return None
    exp, nbf = claims.get("exp"), claims.get("nbf")

    def number(value: object) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        try:
            as_float = float(value)
        except OverflowError:
            return None
        return as_float if math.isfinite(as_float) else None

    expiry = number(exp)
    return None if expiry is None else TokenTimes(expiry, number(nbf))


class _Remembered:
    """Digests of accepted callback bodies, each until its token's expiry (Unix time)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._until: dict[bytes, float] = {}
        self._heap: list[tuple[float, bytes]] = []

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] < now:
            until, digest = heapq.heappop(self._heap)
            if self._until.get(digest) == until:
                del self._until[digest]

    def seen(self, digest: bytes, now: float) -> bool:
        self._purge(now)
        return digest in self._until

    def full(self) -> bool:
        return len(self._until) >= self.limit

    def add(self, digest: bytes, until: float) -> None:
        self._until[digest] = until
        heapq.heappush(self._heap, (until, digest))


def _multipart_root(body: bytes, content_type: str) -> tuple[bytes, str]:
    """The root part of a ``multipart/related`` body (RFC 2387: the first part, or the one ``start`` names)
    and its content type; :class:`EventParseError` when there is none to read."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    wanted = header.get_param("type")
    start = header.get_param("start")
    if not isinstance(boundary, str) or not boundary:
        raise EventParseError("multipart/related", "body without a boundary parameter")
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise EventParseError("multipart/related", "body without a whole part")
    for chunk in chunks[1 : 1 + MAX_PARTS]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, sep, content = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = chunk.lstrip(b"\n").partition(b"\n\n")
        part = Message()
        for line in head.decode("latin-1").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                part[name.strip()] = value.strip()
        if start is not None and part.get("content-id") != start:
            continue
        part_type = part.get("content-type") or (wanted if isinstance(wanted, str) else "") or ""
        return content.removesuffix(b"\r\n").removesuffix(b"\n"), part_type
    raise EventParseError("multipart/related", "body without a root part")


def read_callback(body: bytes, content_type: str) -> EventsResponse:
    """The events of a callback body: JSON or XML, or a ``multipart/related`` body's root part."""
    if content_type.split(";", 1)[0].strip().lower() == "multipart/related":
        body, content_type = _multipart_root(body, content_type)
    return parse_events(body, content_type, require_links=False)


class _TooLarge(Exception):
    pass


def _unauthorized(why: str) -> Response:
    return PlainTextResponse(f"{why}\n", 401, headers={"WWW-Authenticate": "Bearer"})


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    buffer = bytearray()
    async for chunk in request.stream():
        buffer += chunk
        if len(buffer) > limit:
            raise _TooLarge
    return bytes(buffer)


async def _valid(validate: TokenValidator, token: str) -> bool:
    try:
        verdict = validate(token)
        if inspect.isawaitable(verdict):
            verdict = await verdict
    except Exception as exc:  # a validator that fails refuses: never a 500 that leaks its trace
        log.warning("token validator raised %s; request refused", type(exc).__name__)
        return False
    return bool(verdict)


def webhook_app(
    dispatcher: Dispatcher,
    validate_token: TokenValidator,
    *,
    path: str = "/",
    on_result: Callable[[DispatchResult], object] | None = None,
    callback_context: str | Callable[[DispatchResult], str | None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    max_body: int = MAX_EVENTS_BODY,
    allowed_baseuris: Collection[str] = (),
    wall: Callable[[], float] = time.time,
    clock_skew: float = CLOCK_SKEW,
    max_remembered: int = MAX_REMEMBERED,
) -> Starlette:
    """A Starlette app that feeds POSTed event responses to ``dispatcher``.

    ``callback_context`` is a fixed value or a function of the dispatch
    result; ``None`` (or a function returning ``None``) answers an empty 200.
    ``allowed_baseuris``: the servers (scheme, host, port) a callback's
    ``baseuri`` may name. ``wall`` is the Unix clock the token's ``exp`` and
    ``nbf`` are read against.
    """
    allowed = {origin(uri) for uri in allowed_baseuris} - {None}
    remembered = _Remembered(max_remembered)

    async def receive(request: Request) -> Response:
        headers = request.headers.getlist("authorization")
        if not headers:
            return _unauthorized("missing Authorization header")
        if len(headers) > 1:
            return _unauthorized("more than one Authorization header")
        header = headers[0]
        if not header.lower().startswith(_BEARER) or not header[len(_BEARER) :].strip():
            return _unauthorized("Authorization must be a Bearer token")
        token = header[len(_BEARER) :].strip()
        if not await _valid(validate_token, token):
            client = request.client.host if request.client else "?"
            log.warning("webhook POST from %s refused: invalid bearer token", client)
            return _unauthorized("invalid bearer token")
        times = token_times(token)
        now = wall()
        if times is None:
            return _unauthorized("the bearer token has no expiry (exp): a callback could be replayed for ever")
        if times.exp + clock_skew < now:
            return _unauthorized("the bearer token has expired")
        if times.nbf is not None and times.nbf - clock_skew > now:
            return _unauthorized("the bearer token is not valid yet (nbf)")
        try:
            body = await _read(request, max_body)
        except _TooLarge:
            return PlainTextResponse(f"body larger than {max_body} bytes: refused\n", 413)
        except ClientDisconnect:
            return PlainTextResponse("client disconnected\n", 400)
        digest = hashlib.sha256(body).digest()
        if remembered.seen(digest, now):
            log.info("webhook POST dropped: the same callback was accepted before (a replay or a retry)")
            return Response(b"", 200)
        if remembered.full():
            return PlainTextResponse("too many callbacks remembered: retry later\n", 429)
        try:
            events = read_callback(body, request.headers.get("content-type", ""))
        except EventParseError as exc:
            line = str(exc).replace("\n", " ")
            log.warning("webhook POST refused: %s", line)
            return PlainTextResponse(f"{line}\n", 400)
        if events.baseuri is not None and origin(events.baseuri) not in allowed:
            log.warning("webhook POST refused: baseuri on an origin that is not allowed")
            return PlainTextResponse("baseuri is not on an allowed origin: refused\n", 403)
        remembered.add(digest, times.exp + clock_skew)
        result = dispatcher.feed(events, clock())
        for violation in result.violations:
            log.info("event refused by the %s machine: %s", violation.machine, violation.message)
        if on_result is not None:
            outcome = on_result(result)
            if inspect.isawaitable(outcome):
                await outcome
        context = callback_context(result) if callable(callback_context) else callback_context
        if context is None:
            return Response(b"", 200)
        return JSONResponse({"CallbackContext": context}, 200)

    return Starlette(routes=[Route(path, receive, methods=["POST"])])


__all__ = ["CLOCK_SKEW", "TokenTimes", "TokenValidator", "read_callback", "token_times", "webhook_app"]
