"""The UCWA event channel: the pending-GET (P-GET) loop, sync and asyncio.

Theory of operation
-------------------
UCWA delivers events as answers to a long-held GET on the application's
``events`` link (docs/protocol.md §2.1, 2.2). Each answer names where the next GET
goes; following it acknowledges the answer. The decisions live in one
sans-IO object, :class:`PGetCursor`; two thin loops do the I/O:

- :class:`EventChannel` (``httpx.Client``): :meth:`~EventChannel.run` blocks
  in the calling thread, which processes every answer and runs every hook;
  only the sending of the next GET is handed to a helper thread (below);
  :meth:`~EventChannel.poll_once` does a single round for apps that drive
  the loop themselves; :meth:`~EventChannel.stop` ends it and
  :meth:`~EventChannel.close` lets go of a GET still out.
- :class:`AsyncEventChannel` (``httpx.AsyncClient``): ``async for result in
  channel`` or ``await channel.run()``; :meth:`~AsyncEventChannel.stop` or
  cancelling the task ends it, and the GET in flight is cancelled with it.

Rules, each from docs/protocol.md §2.2:

- ``next`` is followed exactly as given (resolved against the URL it came
  from when relative, never rebuilt, ``ack`` never touched): the server's
  acks need not be ``self + 1``.
- "Issue the next P-GET before processing a response, but process responses
  in order." The asyncio loop starts the next GET as a task and then feeds
  the dispatcher with the answer it holds, so processing overlaps the wait
  and answers are still processed one by one, in order. The sync loop does
  the same with one short-lived daemon thread per P-GET (``prefetch=True``,
  the default): once an answer is read into events (or skipped as
  unreadable but with a link), the cursor already names the next URL; the
  request for it is built in the caller's thread (token included) and only
  ``sender.send`` runs in the helper thread, which ``httpx.Client`` allows.
  The caller's thread then processes the answer in hand (the dispatcher,
  ``on_result`` and whatever requests that hook sends, ``on_reset``), and the
  next :meth:`~EventChannel.poll_once` takes the helper's answer, or its
  :class:`TransportError`, instead of sending a GET. At most one GET is out
  at a time, answers are processed one by one in the order they came, and no
  hook ever runs in the helper thread. A retry, a ``PGetReplaced`` and an
  ``ApplicationNotFound`` send nothing ahead, as in the asyncio loop.
  Threads are acceptable here, in ``adapters/``, which does I/O anyway;
  ``fsm/`` stays free of threads and I/O, and the helper thread never
  touches a machine, the dispatcher or the cursor: it only carries one
  HTTP exchange. ``prefetch=False`` is the old loop (one thread, the next
  GET sent after processing; the server holds new events until it comes,
  so nothing is lost or reordered, only the overlap is), for apps that must
  not have a second thread.
- Ending the sync loop with a GET sent ahead (stopped, replaced, gone, an
  :class:`EventChannelError`, or :meth:`~EventChannel.close`): that GET is
  abandoned. Its answer, whenever it comes, is dropped without touching the
  cursor, so :attr:`~EventChannel.next_url` is still the URL it went to and
  a new loop from there (a restart from a snapshot, :mod:`adapters.routing.restart`)
  asks the server for the same events again; nothing of them was processed.
  A blocked ``httpx`` GET cannot be interrupted from another thread (closing
  the client does not wake it), so the abandoned helper thread lives on
  until the server answers or the read timeout: it is a daemon thread, and
  never delays the interpreter's exit. A GET let go of before it was sent is
  not sent; one already on its way may still reach the server after the loop
  ended. It asks for :attr:`~EventChannel.next_url` like any P-GET; should a
  new loop's GET be out already (a restart within milliseconds), the server
  keeps the later of the two and answers the other ``409 PGetReplaced``.
  :meth:`~EventChannel.take_over` avoids that for a loop replaced in-process.
  The helpers are named ``callfsm-pget-N``: a test whose server outlives the
  test joins them, after releasing what the server holds, before the next
  test queues events (tests/ucwa/test_channel_prefetch.py).
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

- The P-GET query parameters ``low``, ``medium``, ``timeout`` and ``priority``
  (:class:`PGetParameters`, docs/protocol.md §2.2) go on the first GET, and
  again on the first GET after a ``resume`` (the server reset them), a
  ``resync`` and a new events link (a recreated application), since the
  server keeps them between GETs and forgets them then. Every other GET
  follows ``next`` verbatim. A value outside its documented range is refused
  when the parameters are made. With a ``timeout`` longer than the transport's
  read timeout allows, the read timeout grows to ``timeout`` plus a minute.

``clock`` (for the ``now`` each dispatch gets) and ``sleep`` are injected, so
tests neither wait nor read the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from enum import Enum
from typing import Any, Final, Generic, Protocol, TypeVar
from urllib.parse import urljoin

import httpx
from attrs import field, frozen

from adapters.transport.http import AsyncSender, SyncSender, TransportError
from adapters.wire.events import EventParseError, EventsResponse, parse_events
from adapters.wire.requests import (
    ACCEPT,
    JSON,
    HttpRequest,
    HttpResponse,
    OriginError,
    Secret,
    loggable_url,
    origin,
    resolve,
    show_origin,
)
from adapters.wire.ucwa_errors import UcwaError, parse_error

log = logging.getLogger("callfsm.channel")

#: How long the transport waits for a P-GET answer. The server releases an
#: empty answer after its ``timeout`` parameter (default 180 s, docs/protocol.md §2.2);
#: the read timeout must be longer, or every quiet period would look like a
#: network error.
PGET_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=240.0, write=10.0, pool=10.0)

#: Statuses retried with backoff: the server or a proxy is busy or failing.
RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})

#: The documented ranges of the P-GET's hold times, in seconds (docs/protocol.md §2.2).
PARAMETER_RANGES: Final = {"low": (5, 1800), "medium": (5, 1800), "timeout": (180, 1800)}


class PGetParameterError(ValueError):
    """A P-GET query parameter outside its documented range (nothing is sent)."""


def _seconds(name: str, value: object) -> int | None:
    if value is None:
        return None
    low, high = PARAMETER_RANGES[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PGetParameterError(
            f"P-GET parameter {name} must be a whole number of seconds from {low} to {high}, got {value!r}"
        )
    return value


def _low(value: object) -> int | None:
    return _seconds("low", value)


def _medium(value: object) -> int | None:
    return _seconds("medium", value)


def _timeout(value: object) -> int | None:
    return _seconds("timeout", value)


def _priority(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PGetParameterError(f"P-GET parameter priority must be an integer, got {value!r}")
    return value


@frozen
class PGetParameters:
    """``low``, ``medium`` (hold times of low and medium priority events), ``timeout`` (when an empty answer
    is released) and ``priority`` (which of two P-GETs with the same ack wins); ``None`` leaves the server's
    default (15 s, 5 s, 180 s, 0). Refused with :class:`PGetParameterError` outside the documented ranges."""

    low: int | None = field(default=None, converter=_low)
    medium: int | None = field(default=None, converter=_medium)
    timeout: int | None = field(default=None, converter=_timeout)
    priority: int | None = field(default=None, converter=_priority)

    def query(self) -> list[tuple[str, str]]:
        """The parameters that are set, in the documentation's order."""
        values = (("low", self.low), ("medium", self.medium), ("timeout", self.timeout), ("priority", self.priority))
        return [(name, str(value)) for name, value in values if value is not None]


def with_parameters(url: str, parameters: list[tuple[str, str]]) -> str:
    """``url`` with ``parameters`` set: the query's other pieces (``ack`` above all) kept byte for byte,
    a piece naming one of ``parameters`` replaced."""
    if not parameters:
        return url
    head, sep, fragment = url.partition("#")
    path, _, query = head.partition("?")
    names = {name for name, _ in parameters}
    kept = [piece for piece in query.split("&") if piece and piece.split("=", 1)[0] not in names]
    pieces = kept + [f"{name}={value}" for name, value in parameters]
    return f"{path}?{'&'.join(pieces)}" + (sep + fragment if sep else "")


def read_timeout_for(timeout: httpx.Timeout | float, parameters: PGetParameters | None) -> httpx.Timeout | float:
    """The transport timeout, its read part grown past the P-GET's own ``timeout`` when that is longer."""
    if parameters is None or parameters.timeout is None:
        return timeout
    needed = parameters.timeout + 60.0
    if isinstance(timeout, httpx.Timeout):
        if timeout.read is not None and timeout.read < needed:
            return httpx.Timeout(connect=timeout.connect, read=needed, write=timeout.write, pool=timeout.pool)
        return timeout
    return max(float(timeout), needed)


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
    """What the loop feeds: :class:`adapters.routing.dispatcher.Dispatcher`."""

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

    def __init__(
        self,
        url: str,
        backoff: Backoff | None = None,
        *,
        home: str | None = None,
        parameters: PGetParameters | None = None,
    ) -> None:
        self.url = url
        self.backoff = backoff or Backoff()
        #: Consecutive failed attempts on :attr:`url`.
        self.failures = 0
        self.parameters = parameters
        #: Whether the next GET carries the parameters: the server does not have them (yet, or any more).
        self.send_parameters = parameters is not None and bool(parameters.query())
        #: The origin every P-GET stays on: the application's (``home``, else the first URL's).
        self.origin = origin(home if home is not None else url)

    def _off_origin(self, url: str, source: str) -> EventChannelError | None:
        """The error that ends the loop when ``url`` leaves the application's origin, else ``None``.

        Not retried: the same answer would name the same place. The token never goes there.
        """
        if origin(url) == self.origin and self.origin is not None:
            return None
        refused = OriginError(url, show_origin(self.origin), source)
        return EventChannelError(self.url, f"{refused} (not retried: nothing of the answer was applied)", cause=refused)

    def restart(self, url: str) -> None:
        """Go on from a new ``events`` link (a recreated application), on the same origin."""
        error = self._off_origin(url, "events href")
        if error is not None:
            raise error
        self.url = url
        self.failures = 0
        self._parameters_lost()

    def _parameters_lost(self) -> None:
        self.send_parameters = self.parameters is not None and bool(self.parameters.query())

    def wire_url(self, url: str | None = None) -> str:
        """The URL a GET for ``url`` (by default :attr:`url`) goes to: itself, plus the parameters when due."""
        target = self.url if url is None else url
        if not self.send_parameters or self.parameters is None:
            return target
        return with_parameters(target, self.parameters.query())

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
        error = self._off_origin(url, "link")
        if error is not None:  # an answer that sends the loop (and its token) elsewhere ends it
            raise error
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
            self.send_parameters = False  # that GET was answered: the server has them
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
        if reset is None:
            self.send_parameters = False  # that GET was answered: the server has them
        else:
            self._parameters_lost()  # after resume (and resync) the server must be told again
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
        parameters: PGetParameters | None,
    ) -> None:
        self.dispatcher = dispatcher
        # events_href was resolved against the application's URL and checked to stay on its origin
        self.cursor = PGetCursor(events_href, backoff, parameters=parameters)
        self.on_result = on_result
        self.on_reset = on_reset
        self.on_application_not_found = on_application_not_found
        self.on_replaced = on_replaced
        self.on_error = on_error
        self.clock = clock
        self.timeout = read_timeout_for(timeout, parameters)
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
        is what acknowledges an answer. The asyncio loop and the sync loop with
        ``prefetch`` (the default) have their next GET out already (docs/protocol.md
        2.2), so the server answers the old URL with ``resync`` and the restored
        client re-reads its live resources, which is the documented recovery.
        The sync loop with ``prefetch=False`` sends that GET only after
        processing, so the server sends the same answer again and a restored
        dispatcher's duplicate window drops the events already applied.
        """
        return self._processing if self._processing is not None else self.cursor.url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(next={loggable_url(self.cursor.url)!r}, ended={self.ended})"


class _Prefetch:
    """One P-GET sent from its own daemon thread, and what came of it.

    The thread only calls ``sender.send``; the caller's thread builds the
    request before and reads the outcome after (:meth:`result`). The holder
    knows no cursor: an abandoned answer is simply never read.
    """

    _names = itertools.count(1)

    def __init__(self, url: str, sender: SyncSender, request: HttpRequest, timeout: httpx.Timeout | float) -> None:
        self.url = url
        self._sender = sender
        self._request = request
        self._timeout = timeout
        self._wake = threading.Event()
        self._going = threading.Event()
        #: Makes "abandoned" and "sending" exclusive: a GET let go of before it was sent never is.
        self._lock = threading.Lock()
        self._response: HttpResponse | None = None
        self._error: Exception | None = None
        self.abandoned = False
        # a daemon thread, not a ThreadPoolExecutor worker: those are joined at exit, and a
        # worker blocked in a long poll would hold the interpreter's exit for minutes
        self.thread = threading.Thread(target=self._send, name=f"callfsm-pget-{next(self._names)}", daemon=True)

    def start(self) -> None:
        """Start the thread, and return once it is sending (or has given up).

        Waiting costs one thread hand-off. Without it the helper might only get the
        GIL once the caller's thread blocks, well into processing (or after it); with
        it the request is in practice on its way before processing starts, as the
        rule asks, and whether it goes out is decided before then too.
        """
        self.thread.start()
        self._going.wait(timeout=5.0)

    def _send(self) -> None:
        try:
            with self._lock:
                sending = not self.abandoned  # let go of before it went out: it need not go out at all
            self._going.set()
            if sending:
                self._response = self._sender.send(self._request, timeout=self._timeout)
        except Exception as error:  # handed over to the loop's thread, raised there
            self._error = error
        finally:
            self._going.set()
            if self.abandoned:
                log.debug("event channel: the GET %s, let go of, ended unread", loggable_url(self.url))
            self._wake.set()

    def abandon(self) -> None:
        """Nobody will read the answer; wake a caller waiting for it."""
        with self._lock:
            self.abandoned = True
        self._wake.set()

    def result(self) -> HttpResponse | None:
        """The answer (blocking until it is in), ``None`` once abandoned; raises what ``send`` raised."""
        self._wake.wait()
        if self.abandoned:
            return None
        if self._error is not None:
            raise self._error
        assert self._response is not None
        return self._response


class EventChannel(_Base[R]):
    """The blocking P-GET loop over a :class:`~adapters.transport.http.SyncSender`.

    With ``prefetch`` (the default) the next GET goes out, from a helper
    daemon thread, before the answer in hand is processed (docs/protocol.md §2.2);
    processing and hooks stay in the caller's thread, one answer at a time,
    in order. ``prefetch=False`` starts no thread: each GET is sent after
    the previous answer was processed. :meth:`stop` ends the loop after the
    answer in hand; a GET sent ahead is then abandoned, its answer dropped
    unread, and :attr:`next_url` stays the URL it went to. :meth:`close`
    also lets go of it at once.

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
        prefetch: bool = True,
        parameters: PGetParameters | None = None,
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
            parameters=parameters,
        )
        self.sender = sender
        self.sleep = sleep
        self.prefetch = prefetch
        #: The GET sent ahead for :attr:`next_url`, while its answer is not taken.
        self._pending: _Prefetch | None = None
        self._closed = False

    def stop(self) -> None:
        """End the loop after the answer in hand (a GET in flight is not interrupted;
        a GET sent ahead for the next answer is abandoned)."""
        self._stopping = True

    @property
    def sent_ahead(self) -> threading.Thread | None:
        """The helper thread carrying the GET sent ahead, while its answer is not taken (else ``None``).

        An app that must not leave the process with a request still out joins it after :meth:`close`.
        """
        return None if self._pending is None else self._pending.thread

    def close(self) -> None:
        """Stop, and let go of a GET sent ahead now: its answer is dropped unread, the
        cursor stays where it is. Returns at once; may be called from another thread
        (a :meth:`poll_once` waiting for that answer then ends with ``STOPPED``)."""
        self._closed = True
        self._stopping = True
        self._abandon()

    def take_over(self, previous: EventChannel[Any]) -> None:
        """Replace ``previous`` (a loop over the same application, e.g. made before the client
        read its application again): ``previous`` is closed, and its GET sent ahead, when it
        went where this loop starts, becomes this loop's, so that one P-GET is out, not two
        (two would race for the same events, and the later would replace the other, 409)."""
        pending, previous._pending = previous._pending, None
        previous.close()
        if pending is None:
            return
        if self.prefetch and self._pending is None and not pending.abandoned and pending.url == self.cursor.url:
            self._pending = pending
        else:
            pending.abandon()

    def _abandon(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.abandon()

    def run(self) -> ChannelEnd:
        """GET, process, repeat, until stopped, replaced or the application is gone."""
        try:
            while self.ended is None:
                self.poll_once()
        except BaseException:
            self._abandon()  # the loop is over: a GET sent ahead has nobody to read it
            raise
        return self.ended

    def __iter__(self) -> Iterator[R]:
        """Each dispatch result, in order (``on_result`` is still called)."""
        try:
            while self.ended is None:
                result = self.poll_once()
                if result is not None:
                    yield result
        finally:
            self._abandon()

    def poll_once(self) -> R | None:
        """One P-GET and its processing. Returns the dispatch result, or ``None``
        when nothing was dispatched (a retry, an unreadable answer, the end).

        With ``prefetch`` the GET may already be out (sent during the previous
        call); this call then takes its answer. A hook that raises leaves that
        GET out, and the next call takes it, as a GET the next call would send."""
        if self._stopping:
            self.ended = ChannelEnd.STOPPED
        if self.ended is not None:
            self._abandon()
            return None
        fetched = self.cursor.url
        try:
            decision = self._take(fetched)
        except EventChannelError:
            self._abandon()
            raise
        if decision is None:  # the GET sent ahead was abandoned by close()
            self.ended = ChannelEnd.STOPPED
            return None
        self._processing = fetched
        try:
            if isinstance(decision, Deliver | Skip):
                # the next GET goes out before this answer is processed (docs/protocol.md §2.2)
                self._send_ahead()
            return self._process(decision)
        finally:
            self._processing = None
            if self.ended is not None:
                self._abandon()

    def _take(self, fetched: str) -> Decision | None:
        """The decision on the answer for ``fetched``: from the GET sent ahead, or from one sent now."""
        pending = self._pending
        if pending is not None and pending.url != fetched:
            self._abandon()  # the cursor was moved by hand since: that GET went to the wrong place
            pending = None
        try:
            if pending is None:
                request = _request(self.cursor.wire_url(fetched), self.sender.token(), self.sender.body_format)
                response = self.sender.send(request, timeout=self.timeout)
            else:
                try:
                    answer = pending.result()  # close() from another thread may abandon it meanwhile
                except Exception:
                    self._pending = None  # what send raised: that GET is over (an interrupted wait is not)
                    raise
                if answer is None:
                    return None
                self._pending = None
                response = answer
        except TransportError as error:
            return self.cursor.on_transport_error(error)
        return self.cursor.on_response(response)

    def _send_ahead(self) -> None:
        if not self.prefetch or self._stopping or self._closed:
            return  # the loop ends after this answer: a GET now would only be abandoned
        assert self._pending is None
        url = self.cursor.url
        try:
            request = _request(self.cursor.wire_url(url), self.sender.token(), self.sender.body_format)
        except Exception:  # a token source that fails: the next poll_once asks again and raises there
            log.debug("event channel: no GET sent ahead: the token source failed", exc_info=True)
            return
        pending = _Prefetch(url, self.sender, request, self.timeout)
        # recorded before the thread exists: a close() from another thread from here on finds it
        # (recorded after start(), a close() in between saw nothing to let go of, and the GET stayed out)
        self._pending = pending
        if self._closed:  # close() ran between the check above and the line before: it saw nothing
            self._abandon()
            return
        try:
            pending.start()
        except RuntimeError as error:  # no thread to be had: the next poll_once sends the GET itself
            log.warning("event channel: no GET sent ahead: %s", error)
            if self._pending is pending:
                self._pending = None
            return

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
                assert self._pending is None  # nothing is sent ahead of a 404
                _restart(self.cursor, self.sender.base_url, onward)
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
                _restart(self.cursor, self.sender.base_url, onward)
            else:
                self.ended = ChannelEnd.APPLICATION_NOT_FOUND
        return None


# -- helpers ---------------------------------------------------------------------------------


def resolve_events(base_url: str, href: str) -> str:
    """The events href as a URL on the application's origin; :class:`OriginError` for any other."""
    return resolve(base_url, href, "events href")


def _restart(cursor: PGetCursor, base_url: str, href: str) -> None:
    """Go on from the new events ``href`` an app's hook gave, unless it leaves the application's origin."""
    try:
        url = resolve_events(base_url, href)
    except OriginError as refused:
        raise EventChannelError(cursor.url, f"{refused} (the new events link)", cause=refused) from None
    cursor.restart(url)


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
