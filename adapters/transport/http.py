"""Thin senders over httpx: a request description in, a typed response out.

Theory of operation
-------------------
Everything that decides *what* to send lives in the sans-IO modules
(:mod:`adapters.wire.requests`, :mod:`adapters.huawei`); this module only moves
bytes. :class:`SyncSender` wraps an :class:`httpx.Client` and
:class:`AsyncSender` an :class:`httpx.AsyncClient`; both

- take the bearer token from a *token source* (a :class:`Secret`, a string or
  a callable returning either) at the moment of sending, so a refreshed token
  is picked up without rebuilding anything;
- read the response body with a size limit (:data:`MAX_RESPONSE_BODY`), so a
  hostile or broken server cannot make the app buffer an unbounded body;
- turn every httpx failure into one typed :class:`TransportError` whose
  message names the method and the URL, never a header;
- return an :class:`HttpResponse`, whose repr leaves the body out (a token
  endpoint's body *is* a token);
- refuse, with :class:`OriginError` and before anything is sent, a request
  that carries a credential to another origin than ``base_url``'s.

Secrets. A token is wrapped in :class:`Secret` from the moment it enters the
library: its ``repr`` and ``str`` are ``Secret('***')``, request descriptions
hold the wrapped value, and only :meth:`HttpRequest.wire_headers`, called by
the sender right before httpx sees the request, reveals it. Logs carry the
method, the path, the status and the body size, nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Final

import httpx

from adapters.wire.requests import (
    HttpRequest,
    HttpResponse,
    OriginError,
    Secret,
    as_secret,
    build_request,
    check_origin,
    loggable_url,
)

if TYPE_CHECKING:
    from fsm.actions import Action

log = logging.getLogger("callfsm.http")

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_BODY",
    "AsyncSender",
    "AsyncTokenSource",
    "HttpRequest",
    "HttpResponse",
    "OriginError",
    "ResponseTooLarge",
    "Secret",
    "SyncSender",
    "TokenSource",
    "TransportError",
    "resolve_token",
    "resolve_token_async",
]

#: Largest response body a sender reads (bytes): the same 4 MiB as
#: :data:`adapters.wire.events.MAX_EVENTS_BODY`. A longer body is not buffered;
#: it becomes :class:`ResponseTooLarge`.
MAX_RESPONSE_BODY: Final = 4 * 1024 * 1024

#: Default timeouts for ordinary requests (the P-GET passes its own, longer one).
DEFAULT_TIMEOUT: Final = httpx.Timeout(15.0, connect=10.0)

#: A token as the app hands it over: fixed, or fetched on each send.
TokenSource = Secret | str | Callable[[], Secret | str]
AsyncTokenSource = Secret | str | Callable[[], Secret | str] | Callable[[], Awaitable[Secret | str]]


def resolve_token(source: TokenSource | None) -> Secret | None:
    if source is None:
        return None
    if isinstance(source, Secret | str):
        return as_secret(source)
    return as_secret(source())


async def resolve_token_async(source: AsyncTokenSource | None) -> Secret | None:
    if source is None:
        return None
    if isinstance(source, Secret | str):
        return as_secret(source)
    value = source()
    if isinstance(value, Secret | str):
        return as_secret(value)
    return as_secret(await value)


class TransportError(Exception):
    """The request could not be completed: connection, timeout, or an oversized body.

    The message names the method and the URL (query values outside a short
    allow-list hidden), never a header or a body.
    """

    def __init__(self, method: str, url: str, why: str) -> None:
        self.method = method
        self.url = loggable_url(url)
        self.why = why
        super().__init__(f"{method} {self.url}: {why}")


class ResponseTooLarge(TransportError):
    """The response body exceeded the sender's ``max_body``; it was not read further."""


def _too_large(request: HttpRequest, limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(request.method, request.url, f"response body larger than {limit} bytes: refused")


def _declared_length(response: httpx.Response) -> int | None:
    text = response.headers.get("content-length")
    if text is None or not text.strip().isdigit():
        return None
    return int(text)


def _typed(request: HttpRequest, response: httpx.Response, body: bytes) -> HttpResponse:
    result = HttpResponse(
        status=response.status_code,
        headers=tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers.raw),
        body=body,
        url=request.url,
    )
    log.debug("%s %s -> %d (%d bytes)", request.method, loggable_url(request.url), result.status, len(body))
    return result


def _httpx_request(
    client: httpx.Client | httpx.AsyncClient, request: HttpRequest, timeout: httpx.Timeout | float | None
) -> httpx.Request:
    return client.build_request(
        request.method,
        request.url,
        headers=request.wire_headers(),
        content=request.body,
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
    )


def _build(
    client: httpx.Client | httpx.AsyncClient, request: HttpRequest, timeout: httpx.Timeout | float | None
) -> httpx.Request:
    # an href from the server (an event's, a Location) may be no URL at all
    try:
        return _httpx_request(client, request, timeout)
    except (httpx.InvalidURL, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        why = f"no request can go to this URL ({type(exc).__name__})"
        raise TransportError(request.method, request.url, why) from None


def _guard(request: HttpRequest, base_url: str) -> None:
    """A request carrying a credential goes only to the sender's origin (:class:`OriginError` otherwise).

    :func:`adapters.wire.requests.resolve` refuses a foreign href already; this is the last gate, for a
    request described by hand or one whose URL came from elsewhere.
    """
    if any(isinstance(value, Secret) for _, value in request.headers):
        check_origin(request.url, base_url, f"{request.method} to")


def _collect(chunks: Iterator[bytes], request: HttpRequest, limit: int) -> bytes:
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            raise _too_large(request, limit)
    return bytes(buffer)


class SyncSender:
    """Sends :class:`HttpRequest` values (or fsm actions) through an :class:`httpx.Client`.

    ``token`` is the bearer token source; ``base_url`` resolves relative hrefs
    (defaults to the client's ``base_url``); ``body_format`` is ``"json"`` or
    ``"xml"`` for the request bodies :meth:`perform` renders.
    """

    def __init__(
        self,
        client: httpx.Client,
        token: TokenSource | None = None,
        *,
        base_url: str | None = None,
        body_format: str = "json",
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_body: int = MAX_RESPONSE_BODY,
    ) -> None:
        self.client = client
        self._token = token
        self.base_url = base_url if base_url is not None else str(client.base_url)
        self.body_format = body_format
        self.timeout = timeout
        self.max_body = max_body

    def __repr__(self) -> str:
        return f"SyncSender(base_url={self.base_url!r}, body_format={self.body_format!r})"

    def token(self) -> Secret | None:
        return resolve_token(self._token)

    def send(self, request: HttpRequest, *, timeout: httpx.Timeout | float | None = None) -> HttpResponse:
        """Send ``request``; raise :class:`TransportError` when no response could be read,
        :class:`OriginError` (nothing sent) when it carries a credential off the sender's origin."""
        _guard(request, self.base_url)
        built = _build(self.client, request, timeout if timeout is not None else self.timeout)
        try:
            response = self.client.send(built, stream=True)
        except httpx.HTTPError as exc:
            raise TransportError(request.method, request.url, f"{type(exc).__name__}: {exc}") from exc
        try:
            declared = _declared_length(response)
            if declared is not None and declared > self.max_body:
                raise _too_large(request, self.max_body)
            body = _collect(response.iter_bytes(), request, self.max_body)
        except httpx.HTTPError as exc:
            raise TransportError(request.method, request.url, f"{type(exc).__name__}: {exc}") from exc
        finally:
            response.close()
        return _typed(request, response, body)

    def perform(self, action: Action, *, timeout: httpx.Timeout | float | None = None) -> HttpResponse:
        """Build the request for a UCWA ``action`` (bearer token, body) and send it."""
        request = build_request(action, base_url=self.base_url, token=self.token(), body_format=self.body_format)
        return self.send(request, timeout=timeout)


class AsyncSender:
    """The asyncio twin of :class:`SyncSender`, over an :class:`httpx.AsyncClient`.

    The token source may also be an ``async`` callable.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        token: AsyncTokenSource | None = None,
        *,
        base_url: str | None = None,
        body_format: str = "json",
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_body: int = MAX_RESPONSE_BODY,
    ) -> None:
        self.client = client
        self._token = token
        self.base_url = base_url if base_url is not None else str(client.base_url)
        self.body_format = body_format
        self.timeout = timeout
        self.max_body = max_body

    def __repr__(self) -> str:
        return f"AsyncSender(base_url={self.base_url!r}, body_format={self.body_format!r})"

    async def token(self) -> Secret | None:
        return await resolve_token_async(self._token)

    async def send(self, request: HttpRequest, *, timeout: httpx.Timeout | float | None = None) -> HttpResponse:
        _guard(request, self.base_url)
        built = _build(self.client, request, timeout if timeout is not None else self.timeout)
        try:
            response = await self.client.send(built, stream=True)
        except httpx.HTTPError as exc:
            raise TransportError(request.method, request.url, f"{type(exc).__name__}: {exc}") from exc
        try:
            declared = _declared_length(response)
            if declared is not None and declared > self.max_body:
                raise _too_large(request, self.max_body)
            buffer = bytearray()
            async for chunk in response.aiter_bytes():
                buffer += chunk
                if len(buffer) > self.max_body:
                    raise _too_large(request, self.max_body)
        except httpx.HTTPError as exc:
            raise TransportError(request.method, request.url, f"{type(exc).__name__}: {exc}") from exc
        finally:
            await response.aclose()
        return _typed(request, response, bytes(buffer))

    async def perform(self, action: Action, *, timeout: httpx.Timeout | float | None = None) -> HttpResponse:
        request = build_request(
            action, base_url=self.base_url, token=await self.token(), body_format=self.body_format
        )
        return await self.send(request, timeout=timeout)
