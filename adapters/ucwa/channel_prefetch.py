"""The sync loop's GET sent ahead: one P-GET carried by its own daemon thread.

Separate because it is the only place a thread is started: the loop hands it a
request built in the caller's thread and reads the answer back there, so the
thread never touches a machine, the dispatcher or the cursor.
"""

from __future__ import annotations

import itertools
import logging
import threading

import httpx

from adapters.transport.http import SyncSender
from adapters.wire.requests import HttpRequest, HttpResponse, loggable_url

log = logging.getLogger("callfsm.channel")


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
