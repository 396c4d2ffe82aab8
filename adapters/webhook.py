"""The Trusted Application API push model: an ASGI app that receives event POSTs.

Theory of operation
-------------------
With the Trusted Application API the server POSTs each event response to the
callback URL the app registered (domain.md 2.1, S4 ``Webhooks.md``) instead of
answering a P-GET. :func:`webhook_app` builds a Starlette app for that URL:

1. ``Authorization: Bearer <token>`` is checked by the validator the app
   passes in (an AAD token whose ``aud`` is the app's App ID URI: validating it
   needs the app's tenant and keys, so it is the app's function, sync or
   async). A missing header, another scheme, a refusal or a validator that
   raises: ``401`` with ``WWW-Authenticate: Bearer``, and the body is not read.
2. The body is read up to ``max_body`` bytes (4 MiB by default); a longer one
   is refused with ``413`` before it is buffered.
3. :func:`adapters.events.parse_events` reads it (JSON, including the SaaS
   ``application/json; type="..."`` form, or UCWA XML; no ``next`` link is
   needed). A body that cannot be parsed gets ``400`` with one line saying
   what was wrong and where; no machine is touched.
4. The events go to the same :class:`~adapters.dispatcher.Dispatcher` the P-GET
   loop uses; refused events are recorded as violations in the result, never
   an error status (the server would only retry). A retried POST is harmless:
   the dispatcher drops exact duplicates.
5. ``200``, with ``{"CallbackContext": ...}`` when ``callback_context`` gives
   one (the server then adds ``?callbackContext=...`` to later callbacks).

``on_result`` receives each :class:`~adapters.dispatcher.DispatchResult` (sync
or async); performing the actions it lists (a GET after a bare ``completed``)
is the app's business, for example through :class:`adapters.client.AsyncUcwaClient.perform`.
The token is never logged; a refusal is logged with the client address only.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from adapters.dispatcher import Dispatcher, DispatchResult
from adapters.events import MAX_EVENTS_BODY, EventParseError, parse_events

log = logging.getLogger("callfsm.webhook")

#: The validator: the bearer token in, accept or refuse out.
TokenValidator = Callable[[str], bool | Awaitable[bool]]

_BEARER: Final = "bearer "


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
) -> Starlette:
    """A Starlette app that feeds POSTed event responses to ``dispatcher``.

    ``callback_context`` is a fixed value or a function of the dispatch
    result; ``None`` (or a function returning ``None``) answers an empty 200.
    """

    async def receive(request: Request) -> Response:
        header = request.headers.get("authorization")
        if header is None:
            return _unauthorized("missing Authorization header")
        if not header.lower().startswith(_BEARER) or not header[len(_BEARER) :].strip():
            return _unauthorized("Authorization must be a Bearer token")
        if not await _valid(validate_token, header[len(_BEARER) :].strip()):
            client = request.client.host if request.client else "?"
            log.warning("webhook POST from %s refused: invalid bearer token", client)
            return _unauthorized("invalid bearer token")
        try:
            body = await _read(request, max_body)
        except _TooLarge:
            return PlainTextResponse(f"body larger than {max_body} bytes: refused\n", 413)
        except ClientDisconnect:
            return PlainTextResponse("client disconnected\n", 400)
        try:
            events = parse_events(body, request.headers.get("content-type", ""), require_links=False)
        except EventParseError as exc:
            line = str(exc).replace("\n", " ")
            log.warning("webhook POST refused: %s", line)
            return PlainTextResponse(f"{line}\n", 400)
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


__all__ = ["TokenValidator", "webhook_app"]
