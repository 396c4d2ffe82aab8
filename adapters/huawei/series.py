"""Huawei Cloud Meeting recurring series: the clients that run the series conversations over httpx.

Each conversation with the server is a generator of requests
(:data:`~adapters.huawei.series_exchange.Exchange`, in :mod:`.series_exchange`;
the details query's wire shape is in :mod:`.series_detail`);
:class:`HuaweiClient` and :class:`AsyncHuaweiClient` only run it. The package docstring
(:mod:`adapters.huawei`) is the theory of operation. Every name of the two
modules above is re-exported here, where it was first defined.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Generic

import httpx
from attrs import frozen

from adapters.huawei.auth import HUAWEI_BASE_URL, AppIdCredentials, HuaweiAuth, Renewal, new_nonce
from adapters.huawei.series_detail import (
    DETAIL_PATH,
    HuaweiAnswerError,
    SeriesDetail,
    detail_request,
    parse_detail,
)
from adapters.huawei.series_exchange import (
    Exchange,
    HuaweiResult,
    R,
    SeriesQuery,
    _authorized,
    _huawei_action,
    _perform,
    _query,
    _token,
    feed_series,
)
from adapters.transport.http import DEFAULT_TIMEOUT, AsyncSender, SyncSender, TransportError
from adapters.wire.requests import HttpRequest, HttpResponse, Secret, huawei_request
from fsm.actions import Action
from fsm.meeting_series import MeetingSeries

__all__ = [
    "DETAIL_PATH",
    "AsyncHuaweiClient",
    "Exchange",
    "HuaweiAnswerError",
    "HuaweiClient",
    "HuaweiResult",
    "SeriesDetail",
    "SeriesQuery",
    "detail_request",
    "feed_series",
    "parse_detail",
]


@frozen
class _Done(Generic[R]):
    """What a finished conversation came to (a value apart from the requests it yields)."""

    value: R


def _resume(exchange: Exchange[R], outcome: HttpResponse | TransportError | None) -> HttpRequest | _Done[R]:
    """Hand the conversation what its last request came to (nothing yet, an answer, or a
    transport error thrown into it): the next request it asks for, or what it came to."""
    try:
        if isinstance(outcome, TransportError):
            return exchange.throw(outcome)
        if outcome is None:
            return next(exchange)
        return exchange.send(outcome)
    except StopIteration as done:
        value: R = done.value
        return _Done(value)


def _run(exchange: Exchange[R], send: Callable[[HttpRequest], HttpResponse]) -> R:
    """Run a conversation over a blocking transport; a transport error is thrown into it."""
    outcome: HttpResponse | TransportError | None = None
    while not isinstance(step := _resume(exchange, outcome), _Done):
        try:
            outcome = send(step)
        except TransportError as exc:
            outcome = exc
    return step.value


async def _run_async(exchange: Exchange[R], sender: AsyncSender) -> R:
    """:func:`_run` over an asyncio transport."""
    outcome: HttpResponse | TransportError | None = None
    while not isinstance(step := _resume(exchange, outcome), _Done):
        try:
            outcome = await sender.send(step)
        except TransportError as exc:
            outcome = exc
    return step.value


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
