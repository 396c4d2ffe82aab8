"""The UCWA event channel: the pending-GET (P-GET) loop, sync and asyncio.

Theory of operation
-------------------
UCWA delivers events as answers to a long-held GET on the application's
``events`` link (domain.md 2.1, 2.2). Each answer names where the next GET
goes; following it acknowledges the answer. The decisions live in one
sans-IO object, :class:`PGetCursor`; two thin loops do the I/O:

- :class:`EventChannel` (``httpx.Client``): :meth:`~EventChannel.run` blocks,
  one GET after the other, in the calling thread (no thread is started);
  :meth:`~EventChannel.poll_once` does a single round for apps that drive
  the loop themselves; :meth:`~EventChannel.stop` ends it.
- :class:`AsyncEventChannel` (``httpx.AsyncClient``): ``async for result in
  channel`` or ``await channel.run()``; :meth:`~AsyncEventChannel.stop` or
  cancelling the task ends it, and the GET in flight is cancelled with it.

Rules, each from domain.md 2.2:

- ``next`` is followed exactly as given (resolved against the URL it came
  from when relative, never rebuilt, ``ack`` never touched): the server's
  acks need not be ``self + 1``.
- "Issue the next P-GET before processing a response, but process responses
  in order." The asyncio loop starts the next GET as a task and then feeds
  the dispatcher with the answer it holds, so processing overlaps the wait
  and answers are still processed one by one, in order. The sync loop has
  one thread and no task to start: it processes an answer (in memory, quick)
  and then sends the next GET. The server holds new events until that GET
  arrives, so nothing is lost or reordered, only the overlap is.
- ``resume`` (transient state reset after inactivity) and ``resync`` (our ack
  was out of range): :meth:`Dispatcher.drop_transient` first, then the
  events of that answer (a ``resync`` answer carries none), then the app's
  ``on_reset`` hook re-reads the resources it cares about, then the loop goes
  on from the ``resume``/``resync`` link.
- ``409`` with subcode ``PGetReplaced``: another GET (ours or another
  instance's) took over. The loop ends quietly with
  :attr:`ChannelEnd.REPLACED` and calls ``on_replaced``; no exception.
- ``404`` (``ApplicationNotFound``, or a bare 404 on the events link, which
  can only mean the same [U]): the ``on_application_not_found`` hook decides.
  It may recreate the application and return the new ``events`` href to go
  on from, or return ``None`` to end with :attr:`ChannelEnd.APPLICATION_NOT_FOUND`.
- Network errors, ``408``, ``429`` and ``5xx``: retried after an exponential
  backoff (:class:`Backoff`: 0.5 s doubling, at most 30 s, 6 attempts in a
  row); past the last attempt, :class:`EventChannelError` says which URL
  failed how many times and why. A good answer resets the count.
- Any other ``4xx`` (401, 403...) ends the loop with :class:`EventChannelError`
  at once: retrying cannot help.
- An answer that cannot be parsed is reported through ``on_error``; no
  machine sees any of it. When its links could still be read, the loop goes
  on past it; otherwise it is fetched again (same URL, nothing acknowledged)
  under the same backoff, so a body that stays broken ends in
  :class:`EventChannelError` rather than a tight loop.

``clock`` (for the ``now`` each dispatch gets) and ``sleep`` are injected, so
tests neither wait nor read the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from enum import Enum
from typing import Any, Final, Generic, Protocol, TypeVar
from urllib.parse import urljoin

import httpx
from attrs import frozen

from adapters.events import EventParseError, EventsResponse, parse_events
from adapters.http import AsyncSender, SyncSender, TransportError
from adapters.requests import ACCEPT, JSON, HttpRequest, HttpResponse, Secret, loggable_url
from adapters.ucwa_errors import UcwaError, parse_error

log = logging.getLogger("callfsm.channel")

#: How long the transport waits for a P-GET answer. The server releases an
#: empty answer after its ``timeout`` parameter (default 180 s, domain.md 2.2);
#: the read timeout must be longer, or every quiet period would look like a
#: network error.
PGET_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=240.0, write=10.0, pool=10.0)

#: Statuses retried with backoff: the server or a proxy is busy or failing.
RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})


class ChannelEnd(Enum):
    """Why a loop ended without an error."""

    #: :meth:`stop` was called.
    STOPPED = "stopped"
    #: ``409 PGetReplaced``: a newer P-GET took over.
    REPLACED = "replaced"
    #: ``404``: the application is gone and the hook did not give a new events link.
    APPLICATION_NOT_FOUND = "application_not_found"


class ResetKind(Enum):
    RESUME = "resume"
    RESYNC = "resync"


@frozen
class ChannelReset:
    """What ``on_reset`` is told: the server reset transient state (``resume``) or our ack (``resync``)."""

    kind: ResetKind
    #: The link the loop goes on from.
    href: str
    #: What :meth:`Dispatcher.drop_transient` returned.
    dropped: object = None


class EventChannelError(Exception):
    """The event channel cannot go on: retries exhausted, or an error retrying cannot fix."""

    def __init__(self, url: str, why: str, *, attempts: int = 1, cause: Exception | None = None) -> None:
        self.url = loggable_url(url)
        self.attempts = attempts
        self.cause = cause
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"event channel: GET {self.url} failed{tries}: {why}")


@frozen
class Backoff:
    """Bounded exponential backoff: ``base * factor**(n-1)`` seconds, at most ``max_delay``."""

    base: float = 0.5
    factor: float = 2.0
    max_delay: float = 30.0
    #: Consecutive failed attempts allowed before :class:`EventChannelError`.
    max_attempts: int = 6

    def delay(self, attempt: int) -> float:
        """The pause before retry number ``attempt`` (1 is the first retry)."""
        return float(min(self.base * self.factor ** (attempt - 1), self.max_delay))


R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class EventSink(Protocol[R_co]):
    """What the loop feeds: :class:`adapters.dispatcher.Dispatcher`."""

    def feed(self, response: EventsResponse, now: float) -> R_co: ...

    def drop_transient(self) -> object: ...


# -- the sans-IO decisions ------------------------------------------------------------


@frozen
class Deliver:
    """A good answer: feed these events; ``reset`` says whether transient state must go first."""

    events: EventsResponse
    reset: ResetKind | None


@frozen
class Skip:
    """An unreadable answer whose links could still be read: report it, go on."""

    error: EventParseError


@frozen
class Retry:
    """GET the same URL again after ``delay`` seconds."""

    delay: float
    why: str
    #: The failure (a TransportError, a UcwaError, an EventParseError), when there is one.
    cause: Exception | None = None


@frozen
class Replaced:
    error: UcwaError


@frozen
class ApplicationGone:
    error: UcwaError


Decision = Deliver | Skip | Retry | Replaced | ApplicationGone


class PGetCursor:
    """Where the next P-GET goes, and what each answer means. No I/O.

    :meth:`on_response` and :meth:`on_transport_error` return a decision and
    advance :attr:`url` when the answer says so; they raise
    :class:`EventChannelError` when the loop cannot go on.
    """

    def __init__(self, url: str, backoff: Backoff | None = None) -> None:
        self.url = url
        self.backoff = backoff or Backoff()
        #: Consecutive failed attempts on :attr:`url`.
        self.failures = 0

    def restart(self, url: str) -> None:
        """Go on from a new ``events`` link (a recreated application)."""
        self.url = url
        self.failures = 0

    def _onward(self, href: str) -> str | None:
        """``href`` resolved against the current URL, or ``None`` when no GET could go there.

        Resolving a relative href is what HTTP does with it; the href itself is
        untouched. A server's link is untrusted input: an unbalanced IPv6
        bracket makes urllib raise, a NUL, a lone surrogate or 64 KiB of query
        make httpx refuse to build the request. Following such a link would
        end the loop with an exception that is no :class:`EventChannelError`.
        """
        try:
            url = urljoin(self.url, href)
            httpx.URL(url)
        except (ValueError, httpx.InvalidURL):  # UnicodeEncodeError is a ValueError
            return None
        return url

    def _advance(self, url: str) -> None:
        self.url = url
        self.failures = 0

    def _fail(self, why: str, cause: Exception | None = None) -> Retry:
        self.failures += 1
        if self.failures >= self.backoff.max_attempts:
            raise EventChannelError(self.url, why, attempts=self.failures, cause=cause)
        return Retry(self.backoff.delay(self.failures), why, cause)

    def on_transport_error(self, error: TransportError) -> Retry:
        return self._fail(error.why, error)

    def on_response(self, response: HttpResponse) -> Decision:
        status = response.status
        if status == 200:
            return self._parse(response)
        if status >= 400:
            error = parse_error(status, response.body, response.content_type)
            if error.is_pget_replaced:
                return Replaced(error)
            if status == 404:
                return ApplicationGone(error)
            if status in RETRYABLE_STATUSES:
                return self._fail(str(error), error)
            raise EventChannelError(self.url, f"{error} (not retried: retrying cannot fix it)", cause=error)
        # 204 and other 2xx/3xx carry no events and no next link: ask again, bounded
        return self._fail(f"HTTP {status} is not an event-channel answer")

    def _parse(self, response: HttpResponse) -> Decision:
        try:
            events = parse_events(response.body, response.content_type)
        except EventParseError as error:
            onward = error.resync_href or error.resume_href or error.next_href
            target = None if onward is None else self._onward(onward)
            if target is None:
                why = "no link to go on from" if onward is None else "and its link to go on from is no URL"
                return self._fail(f"unreadable answer, {why}: {error}", error)
            self._advance(target)
            return Skip(error)
        reset = ResetKind.RESYNC if events.resync_href else ResetKind.RESUME if events.resume_href else None
        onward = events.continuation
        assert onward is not None  # parse_events requires one of the three links
        target = self._onward(onward)
        if target is None:
            # nothing of it is applied: a loop that cannot go on past an answer must not act on it
            rel = "next" if reset is None else reset.value
            return self._fail(f"the answer's {rel} link is no URL a GET can go to; nothing of it was applied")
        self._advance(target)
        return Deliver(events, reset)


# -- hooks --------------------------------------------------------------------------------

MaybeAwaitable = Any  # a hook of the asyncio loop may be a coroutine function


def _request(url: str, token: Secret | None, body_format: str) -> HttpRequest:
    headers: list[tuple[str, str | Secret]] = [("Accept", ACCEPT.get(body_format, ACCEPT[JSON]))]
    if token is not None:
        headers.append(("Authorization", Secret("Bearer " + token.reveal())))
    return HttpRequest("GET", url, tuple(headers))


class _Base(Generic[R]):
    def __init__(
        self,
        dispatcher: EventSink[R],
        events_href: str,
        *,
        on_result: Callable[[R], MaybeAwaitable] | None,
        on_reset: Callable[[ChannelReset], MaybeAwaitable] | None,
        on_application_not_found: Callable[[UcwaError], MaybeAwaitable] | None,
        on_replaced: Callable[[UcwaError], MaybeAwaitable] | None,
        on_error: Callable[[Exception], MaybeAwaitable] | None,
        backoff: Backoff | None,
        clock: Callable[[], float],
        timeout: httpx.Timeout | float,
    ) -> None:
        self.dispatcher = dispatcher
        self.cursor = PGetCursor(events_href, backoff)
        self.on_result = on_result
        self.on_reset = on_reset
        self.on_application_not_found = on_application_not_found
        self.on_replaced = on_replaced
        self.on_error = on_error
        self.clock = clock
        self.timeout = timeout
        self.ended: ChannelEnd | None = None
        self._stopping = False
        #: The URL whose answer is being processed (events fed, hooks running), else ``None``.
        self._processing: str | None = None

    @property
    def next_url(self) -> str:
        """Where the next P-GET goes."""
        return self.cursor.url

    @property
    def resume_url(self) -> str:
        """Where a restarted client must go on from so that no event is lost.

        Between answers it is :attr:`next_url`. While an answer is being
        processed (its events fed, the hooks and the requests they cause still
        running) it is the URL that answer came from, because following ``next``
        is what acknowledges an answer. The sync loop sends that GET only after
        processing, so the server sends the same answer again and a restored
        dispatcher's duplicate window drops the events already applied. The
        asyncio loop's next GET is already out (domain.md 2.2), so the server
        answers the old URL with ``resync`` and the restored client re-reads
        its live resources, which is the documented recovery.
        """
        return self._processing if self._processing is not None else self.cursor.url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(next={loggable_url(self.cursor.url)!r}, ended={self.ended})"


class EventChannel(_Base[R]):
    """The blocking P-GET loop over a :class:`~adapters.http.SyncSender`.

    Hooks (all optional, all called in the loop's thread):

    - ``on_result(result)``: what the dispatcher made of each answer;
    - ``on_reset(ChannelReset)``: after ``resume``/``resync`` and
      :meth:`Dispatcher.drop_transient`: re-read what you need;
    - ``on_application_not_found(UcwaError) -> str | None``: a new events href, or ``None`` to end;
    - ``on_replaced(UcwaError)``: the loop ends quietly after it;
    - ``on_error(Exception)``: an unreadable answer or a failed attempt that will be retried.
    """

    def __init__(
        self,
        sender: SyncSender,
        dispatcher: EventSink[R],
        events_href: str,
        *,
        on_result: Callable[[R], object] | None = None,
        on_reset: Callable[[ChannelReset], object] | None = None,
        on_application_not_found: Callable[[UcwaError], str | None] | None = None,
        on_replaced: Callable[[UcwaError], object] | None = None,
        on_error: Callable[[Exception], object] | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        timeout: httpx.Timeout | float = PGET_TIMEOUT,
    ) -> None:
        super().__init__(
            dispatcher,
            resolve_events(sender.base_url, events_href),
            on_result=on_result,
            on_reset=on_reset,
            on_application_not_found=on_application_not_found,
            on_replaced=on_replaced,
            on_error=on_error,
            backoff=backoff,
            clock=clock,
            timeout=timeout,
        )
        self.sender = sender
        self.sleep = sleep

    def stop(self) -> None:
        """End the loop after the answer in hand (a GET in flight is not interrupted)."""
        self._stopping = True

    def run(self) -> ChannelEnd:
        """GET, process, repeat, until stopped, replaced or the application is gone."""
        while self.ended is None:
            self.poll_once()
        return self.ended

    def __iter__(self) -> Iterator[R]:
        """Each dispatch result, in order (``on_result`` is still called)."""
        while self.ended is None:
            result = self.poll_once()
            if result is not None:
                yield result

    def poll_once(self) -> R | None:
        """One P-GET and its processing. Returns the dispatch result, or ``None``
        when nothing was dispatched (a retry, an unreadable answer, the end)."""
        if self._stopping:
            self.ended = ChannelEnd.STOPPED
        if self.ended is not None:
            return None
        fetched = self.cursor.url
        request = _request(fetched, self.sender.token(), self.sender.body_format)
        try:
            decision: Decision = self.cursor.on_response(self.sender.send(request, timeout=self.timeout))
        except TransportError as error:
            decision = self.cursor.on_transport_error(error)
        self._processing = fetched
        try:
            return self._process(decision)
        finally:
            self._processing = None

    def _process(self, decision: Decision) -> R | None:
        if isinstance(decision, Deliver):
            result = self._deliver(decision)
        elif isinstance(decision, Skip):
            log.warning("event channel: unreadable answer skipped: %s", decision.error)
            _report(self.on_error, decision.error)
            result = None
        elif isinstance(decision, Retry):
            log.warning("event channel: %s; retrying in %.1f s", decision.why, decision.delay)
            _report(self.on_error, _retry_error(self.cursor, decision))
            self.sleep(decision.delay)
            result = None
        elif isinstance(decision, Replaced):
            log.info("event channel: %s; this loop ends", decision.error)
            self.ended = ChannelEnd.REPLACED
            if self.on_replaced is not None:
                self.on_replaced(decision.error)
            result = None
        else:
            onward = self.on_application_not_found(decision.error) if self.on_application_not_found else None
            if onward is None:
                self.ended = ChannelEnd.APPLICATION_NOT_FOUND
            else:
                self.cursor.restart(resolve_events(self.sender.base_url, onward))
            result = None
        if self._stopping and self.ended is None:
            self.ended = ChannelEnd.STOPPED
        return result

    def _deliver(self, decision: Deliver) -> R:
        dropped = self.dispatcher.drop_transient() if decision.reset is not None else None
        result = self.dispatcher.feed(decision.events, self.clock())
        if self.on_result is not None:
            self.on_result(result)
        if decision.reset is not None and self.on_reset is not None:
            self.on_reset(ChannelReset(decision.reset, self.cursor.url, dropped))
        return result


class AsyncEventChannel(_Base[R]):
    """The asyncio P-GET loop over an :class:`~adapters.http.AsyncSender`.

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
    ) -> None:
        super().__init__(
            dispatcher,
            resolve_events(sender.base_url, events_href),
            on_result=on_result,
            on_reset=on_reset,
            on_application_not_found=on_application_not_found,
            on_replaced=on_replaced,
            on_error=on_error,
            backoff=backoff,
            clock=clock,
            timeout=timeout,
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
        self._inflight = asyncio.ensure_future(self._get(self.cursor.url))
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
                    # the next GET goes out before this answer is processed (domain.md 2.2)
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
        if isinstance(decision, Deliver):
            dropped = self.dispatcher.drop_transient() if decision.reset is not None else None
            result = self.dispatcher.feed(decision.events, self.clock())
            await _call(self.on_result, result)
            if decision.reset is not None:
                await _call(self.on_reset, ChannelReset(decision.reset, self.cursor.url, dropped))
            return result
        if isinstance(decision, Skip):
            log.warning("event channel: unreadable answer skipped: %s", decision.error)
            await _call(self.on_error, decision.error)
        elif isinstance(decision, Retry):
            log.warning("event channel: %s; retrying in %.1f s", decision.why, decision.delay)
            await _call(self.on_error, _retry_error(self.cursor, decision))
            await self.sleep(decision.delay)
        elif isinstance(decision, Replaced):
            log.info("event channel: %s; this loop ends", decision.error)
            self.ended = ChannelEnd.REPLACED
            await _call(self.on_replaced, decision.error)
        else:
            onward = await _call(self.on_application_not_found, decision.error)
            if isinstance(onward, str):
                self.cursor.restart(resolve_events(self.sender.base_url, onward))
            else:
                self.ended = ChannelEnd.APPLICATION_NOT_FOUND
        return None


# -- helpers ---------------------------------------------------------------------------------


def resolve_events(base_url: str, href: str) -> str:
    return urljoin(base_url, href)


def _retry_error(cursor: PGetCursor, decision: Retry) -> EventChannelError:
    """What ``on_error`` hears about a failed attempt (the loop itself goes on)."""
    return EventChannelError(
        cursor.url, f"{decision.why}; retry in {decision.delay:g} s", attempts=cursor.failures, cause=decision.cause
    )


def _report(hook: Callable[[Exception], object] | None, error: Exception) -> None:
    if hook is not None:
        hook(error)


async def _call(hook: Callable[[Any], object] | None, argument: object) -> object:
    if hook is None:
        return None
    value = hook(argument)
    if inspect.isawaitable(value):
        return await value
    return value
