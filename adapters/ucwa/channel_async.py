"""The asyncio event channel (``httpx.AsyncClient``): the next GET in flight as a task while an answer is processed.

The rules are the theory of operation in :mod:`adapters.ucwa.channel`; the
decisions come from :class:`~adapters.ucwa.channel_cursor.PGetCursor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from adapters.transport.http import AsyncSender, TransportError
from adapters.ucwa.channel_cursor import Backoff, Decision, Deliver, Skip
from adapters.ucwa.channel_loop import (
    ChannelEnd,
    ChannelLoop,
    ChannelReset,
    EventSink,
    R,
    _request,
    _run_steps_async,
    resolve_events,
)
from adapters.ucwa.channel_parameters import PGET_TIMEOUT, PGetParameters
from adapters.wire.requests import HttpResponse
from adapters.wire.ucwa_errors import UcwaError


class AsyncEventChannel(ChannelLoop[R]):
    """The asyncio P-GET loop over an :class:`~adapters.transport.http.AsyncSender`.

    Same hooks as :class:`EventChannel`; each may be a plain function or a
    coroutine function. ``async for result in channel`` yields each dispatch
    result while the next GET is already in flight.
    """

    def __init__(
        self,
        sender: AsyncSender,
        dispatcher: EventSink[R],
        events_href: str,
        *,
        on_result: Callable[[R], object] | None = None,
        on_reset: Callable[[ChannelReset], object] | None = None,
        on_application_not_found: Callable[[UcwaError], str | Awaitable[str | None] | None] | None = None,
        on_replaced: Callable[[UcwaError], object] | None = None,
        on_error: Callable[[Exception], object] | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        timeout: httpx.Timeout | float = PGET_TIMEOUT,
        parameters: PGetParameters | None = None,
    ) -> None:
        super().__init__(
            dispatcher,
            sender.base_url,
            resolve_events(sender.base_url, events_href),
            on_result=on_result,
            on_reset=on_reset,
            on_application_not_found=on_application_not_found,
            on_replaced=on_replaced,
            on_error=on_error,
            backoff=backoff,
            clock=clock,
            timeout=timeout,
            parameters=parameters,
        )
        self.sender = sender
        self.sleep = sleep
        self._inflight: asyncio.Task[HttpResponse] | None = None

    def stop(self) -> None:
        """End the loop now: the GET in flight is cancelled, ``run`` returns ``STOPPED``."""
        self._stopping = True
        if self._inflight is not None:
            self._inflight.cancel()

    async def run(self) -> ChannelEnd:
        """Run until stopped, replaced or the application is gone; cancelling the caller's task
        cancels the GET in flight and re-raises ``CancelledError``."""
        async for _ in self:
            pass
        return self.ended or ChannelEnd.STOPPED

    def __aiter__(self) -> AsyncIterator[R]:
        return self._results()

    async def _get(self, url: str) -> HttpResponse:
        token = await self.sender.token()
        return await self.sender.send(_request(url, token, self.sender.body_format), timeout=self.timeout)

    def _start(self) -> asyncio.Task[HttpResponse]:
        self._inflight = asyncio.ensure_future(self._get(self.cursor.wire_url()))
        return self._inflight

    async def _results(self) -> AsyncIterator[R]:
        task: asyncio.Task[HttpResponse] | None = None
        fetched = self.cursor.url
        try:
            while not self._stopping and self.ended is None:
                if task is None:
                    fetched = self.cursor.url
                    task = self._start()
                try:
                    decision: Decision = self.cursor.on_response(await task)
                except TransportError as error:
                    decision = self.cursor.on_transport_error(error)
                except asyncio.CancelledError:
                    if self._stopping:  # stop() cancelled the GET; our own task goes on
                        break
                    raise
                task = None
                self._processing = fetched
                if isinstance(decision, Deliver | Skip):
                    # the next GET goes out before this answer is processed (docs/protocol.md §2.2)
                    fetched = self.cursor.url
                    task = self._start()
                try:
                    result = await self._process(decision)
                finally:
                    self._processing = None
                if result is not None:
                    yield result
        finally:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TransportError):
                    await task
            self._inflight = None
            if self.ended is None and self._stopping:
                self.ended = ChannelEnd.STOPPED

    async def _process(self, decision: Decision) -> R | None:
        return await _run_steps_async(self._steps(decision))
