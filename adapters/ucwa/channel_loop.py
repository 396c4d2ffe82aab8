"""What the sync and asyncio event channels share: their state, the GET they send, the hooks' plumbing.

:class:`ChannelLoop` holds what both loops read and report (the cursor, the hooks,
:attr:`~ChannelLoop.next_url`, :attr:`~ChannelLoop.resume_url`, why the loop ended) and
decides, sans I/O, what each decision of the cursor leads to (:meth:`~ChannelLoop._steps`:
the hook calls to make, yielded as :class:`HookCall`); the two loops differ only in how
they send and wait. Separate from :mod:`.channel_cursor` because this is the part that
knows of hooks and senders.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Generator
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

import httpx
from attrs import frozen

from adapters.ucwa.channel_cursor import (
    Backoff,
    Decision,
    Deliver,
    EventChannelError,
    PGetCursor,
    Replaced,
    ResetKind,
    Retry,
    Skip,
)
from adapters.ucwa.channel_parameters import PGetParameters, read_timeout_for
from adapters.wire.events import EventsResponse
from adapters.wire.requests import ACCEPT, JSON, HttpRequest, OriginError, Secret, loggable_url, resolve
from adapters.wire.ucwa_errors import UcwaError

log = logging.getLogger("callfsm.channel")


class ChannelEnd(Enum):
    """Why a loop ended without an error."""

    #: :meth:`stop` was called.
    STOPPED = "stopped"
    #: ``409 PGetReplaced``: a newer P-GET took over.
    REPLACED = "replaced"
    #: ``404``: the application is gone and the hook did not give a new events link.
    APPLICATION_NOT_FOUND = "application_not_found"


@frozen
class ChannelReset:
    """What ``on_reset`` is told: the server reset transient state (``resume``) or our ack (``resync``)."""

    kind: ResetKind
    #: The link the loop goes on from.
    href: str
    #: What :meth:`Dispatcher.drop_transient` returned.
    dropped: object = None


R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class EventSink(Protocol[R_co]):
    """What the loop feeds: :class:`adapters.routing.dispatcher.Dispatcher`."""

    def feed(self, response: EventsResponse, now: float) -> R_co: ...

    def drop_transient(self) -> object: ...


# -- hooks --------------------------------------------------------------------------------

MaybeAwaitable = Any  # a hook of the asyncio loop may be a coroutine function


@frozen
class HookCall:
    """One call the loop must make with one argument: a hook (``None``: not given) or its ``sleep``.

    The shared steps (:meth:`ChannelLoop._steps`) yield these and receive what the
    call returned; the sync loop calls them, the asyncio loop also awaits what
    a coroutine hook returns. So both loops act on a decision the same way.
    """

    hook: Callable[[Any], MaybeAwaitable] | None
    argument: object


#: What the loop does with one decision: the calls it makes, in order; then the dispatch result, if any.
Steps = Generator[HookCall, object, R | None]


def _request(url: str, token: Secret | None, body_format: str) -> HttpRequest:
    headers: list[tuple[str, str | Secret]] = [("Accept", ACCEPT.get(body_format, ACCEPT[JSON]))]
    if token is not None:
        headers.append(("Authorization", Secret("Bearer " + token.reveal())))
    return HttpRequest("GET", url, tuple(headers))


class ChannelLoop(Generic[R]):
    """The state and the decision steps :class:`~adapters.ucwa.channel.EventChannel` and
    :class:`~adapters.ucwa.channel.AsyncEventChannel` share; each adds how it sends and waits."""

    #: The loop's pause before a retry (``time.sleep``, ``asyncio.sleep`` or a test's fake).
    sleep: Callable[[float], MaybeAwaitable]

    def __init__(
        self,
        dispatcher: EventSink[R],
        base_url: str,
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
        #: The application's URL: a new events link a hook gives is resolved against it.
        self.base_url = base_url
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

    def _steps(self, decision: Decision) -> Steps[R]:
        """What both loops do with ``decision``: feed, report, pause, end or go on from a new events link.

        Sans-IO like the cursor: the hooks and the pause are yielded as
        :class:`HookCall` for the loop to make, each answered with what it returned.
        """
        if isinstance(decision, Deliver):
            dropped = self.dispatcher.drop_transient() if decision.reset is not None else None
            result = self.dispatcher.feed(decision.events, self.clock())
            yield HookCall(self.on_result, result)
            if decision.reset is not None:
                yield HookCall(self.on_reset, ChannelReset(decision.reset, self.cursor.url, dropped))
            return result
        if isinstance(decision, Skip):
            log.warning("event channel: unreadable answer skipped: %s", decision.error)
            yield HookCall(self.on_error, decision.error)
        elif isinstance(decision, Retry):
            log.warning("event channel: %s; retrying in %.1f s", decision.why, decision.delay)
            yield HookCall(self.on_error, _retry_error(self.cursor, decision))
            yield HookCall(self.sleep, decision.delay)
        elif isinstance(decision, Replaced):
            log.info("event channel: %s; this loop ends", decision.error)
            self.ended = ChannelEnd.REPLACED
            yield HookCall(self.on_replaced, decision.error)
        else:
            onward = yield HookCall(self.on_application_not_found, decision.error)
            if isinstance(onward, str):
                _restart(self.cursor, self.base_url, onward)
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


def _run_steps(steps: Steps[R]) -> R | None:
    """Make the calls of ``steps`` in this thread; a hook's exception ends them and propagates."""
    try:
        call = next(steps)
        while True:
            call = steps.send(None if call.hook is None else call.hook(call.argument))
    except StopIteration as done:
        result: R | None = done.value
        return result


async def _run_steps_async(steps: Steps[R]) -> R | None:
    """:func:`_run_steps`, awaiting what a coroutine hook (or ``asyncio.sleep``) returns."""
    try:
        call = next(steps)
        while True:
            call = steps.send(await _call(call.hook, call.argument))
    except StopIteration as done:
        result: R | None = done.value
        return result


async def _call(hook: Callable[[Any], object] | None, argument: object) -> object:
    if hook is None:
        return None
    value = hook(argument)
    if inspect.isawaitable(value):
        return await value
    return value
