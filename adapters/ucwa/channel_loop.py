"""What the sync and asyncio event channels share: their state, the GET they send, the hooks' plumbing.

:class:`ChannelLoop` holds what both loops read and report (the cursor, the hooks,
:attr:`~ChannelLoop.next_url`, :attr:`~ChannelLoop.resume_url`, why the loop ended);
the two loops differ only in how they wait. Separate from :mod:`.channel_cursor`
because this is the part that knows of hooks and senders.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

import httpx
from attrs import frozen

from adapters.ucwa.channel_cursor import Backoff, EventChannelError, PGetCursor, ResetKind, Retry
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
