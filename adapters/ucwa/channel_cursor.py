"""The sans-IO core of the event channel: what each P-GET answer means and where the next GET goes.

:class:`PGetCursor` reads an answer (or a transport error) and returns a
decision (:data:`Decision`), moving its URL on when the answer says so; it
raises :class:`EventChannelError` when the loop cannot go on. Both loops,
sync and asyncio, act on these decisions and nothing else, so they cannot
disagree on a rule. No I/O, no clock, no threads.
"""

from __future__ import annotations

from enum import Enum
from typing import Final
from urllib.parse import urljoin

import httpx
from attrs import frozen

from adapters.transport.http import TransportError
from adapters.ucwa.channel_parameters import PGetParameters, with_parameters
from adapters.wire.events import EventParseError, EventsResponse, parse_events
from adapters.wire.requests import HttpResponse, OriginError, loggable_url, origin, show_origin
from adapters.wire.ucwa_errors import UcwaError, parse_error

#: Statuses retried with backoff: the server or a proxy is busy or failing.
RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})


class ResetKind(Enum):
    RESUME = "resume"
    RESYNC = "resync"



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
