"""The blocking event channel (``httpx.Client``), with the next GET sent ahead from a helper thread.

The rules are the theory of operation in :mod:`adapters.ucwa.channel`; the
decisions come from :class:`~adapters.ucwa.channel_cursor.PGetCursor`, and
the GET sent ahead is a :class:`~adapters.ucwa.channel_prefetch._Prefetch`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from adapters.transport.http import SyncSender, TransportError
from adapters.ucwa.channel_cursor import (
    ApplicationGone,
    Backoff,
    Decision,
    Deliver,
    EventChannelError,
    Skip,
)
from adapters.ucwa.channel_loop import (
    ChannelEnd,
    ChannelLoop,
    ChannelReset,
    EventSink,
    R,
    _request,
    _run_steps,
    resolve_events,
)
from adapters.ucwa.channel_parameters import PGET_TIMEOUT, PGetParameters
from adapters.ucwa.channel_prefetch import _Prefetch
from adapters.wire.ucwa_errors import UcwaError

log = logging.getLogger("callfsm.channel")


class EventChannel(ChannelLoop[R]):
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
        if isinstance(decision, ApplicationGone):
            assert self._pending is None  # nothing is sent ahead of a 404
        result = _run_steps(self._steps(decision))
        if self._stopping and self.ended is None:
            self.ended = ChannelEnd.STOPPED
        return result
