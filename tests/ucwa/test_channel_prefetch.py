"""The sync P-GET loop's ``prefetch``: the next GET goes out before an answer is processed.

docs/protocol.md §2.2: "Issue the next P-GET before processing a response, but
process responses in order." Against a real loopback server
(tests/ucwa_fake.py), with the transport untouched:

- the GET of the next URL reaches the server while the hook still processes
  the answer before it (and, with ``prefetch=False``, does not);
- answers are still processed one at a time, in the order they came, every
  hook in the caller's thread;
- stopping with a GET sent ahead abandons it: its answer is dropped unread,
  the cursor stays at that GET's URL, and a new loop from there gets the same
  events again (the fake keeps answers by ``ack``, as UCWA does for an answer
  not yet acknowledged); ``close()`` lets go of it without waiting for it;
- a transport error on the GET sent ahead takes the ordinary backoff path.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from ucwa_fake import (
    APP,
    EVENTS,
    INVITATIONS,
    JSON_TYPE,
    TOKEN,
    Channels,
    Recorded,
    Scripted,
    UcwaFake,
    free_socket,
    serve,
)

from adapters.routing.dispatcher import Dispatcher, DispatchResult
from adapters.transport.http import (
    MAX_RESPONSE_BODY,
    HttpRequest,
    HttpResponse,
    ResponseTooLarge,
    SyncSender,
    TransportError,
)
from adapters.ucwa.channel import ChannelEnd, EventChannel, EventChannelError
from adapters.wire.events import EventsResponse
from fsm.invitation import Invitation, InvitationState

START = f"{EVENTS}?ack=11"
SECOND = f"{EVENTS}?ack=12"
MAIN = threading.main_thread().name


class PrefetchFake(UcwaFake):
    """UcwaFake that says when a request arrives, and (``keep``) answers a repeated ``ack`` the same way."""

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.arrivals: dict[str, threading.Event] = {}
            self.keep = False
            self.kept: dict[str, bytes] = {}

    def arrival(self, target: str) -> threading.Event:
        """Set once a request for ``target`` (path and query) has arrived."""
        with self.lock:
            return self.arrivals.setdefault(target, threading.Event())

    def _record(self, request: Request, body: bytes) -> Recorded:
        recorded = super()._record(request, body)
        self.arrival(recorded.target).set()
        return recorded

    async def events(self, request: Request) -> Response:
        ack = request.url.query
        with self.lock:
            kept = self.kept.get(ack) if self.keep else None
        if kept is not None:
            self._record(request, b"")
            return Response(kept, 200, media_type=JSON_TYPE)
        response = await super().events(request)
        if response.status_code == 200:
            with self.lock:
                # kept even if nobody reads it: the answer to an abandoned GET is not lost to the server
                self.kept[ack] = bytes(response.body)
        return response


class ThreadNoting(SyncSender):
    """A real SyncSender that also notes which thread sent each request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[str, str]] = []

    def send(self, request: HttpRequest, *, timeout: httpx.Timeout | float | None = None) -> HttpResponse:
        self.sent.append((request.url, threading.current_thread().name))
        return super().send(request, timeout=timeout)


class Noting(Dispatcher):
    """A real dispatcher that notes the href of each event fed, and the thread that fed it."""

    def __init__(self, log: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log
        self.threads: set[str] = set()

    def feed(self, response: EventsResponse, now: float) -> DispatchResult:
        self.threads.add(threading.current_thread().name)
        self.log.extend(f"feed {event.link.href.rsplit('/', 1)[-1]}" for event in response.events)
        return super().feed(response, now)


class Reraising:
    """A daemon thread running ``target``; :meth:`join` raises, in the test's thread, what ``target`` raised.

    An assertion that fails in a plain thread is printed and lost, and the test goes on as if it held.
    """

    def __init__(self, target: Callable[[], object]) -> None:
        self._target = target
        self._failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._target()
        except BaseException as failure:  # handed to the test's thread by join()
            self._failure = failure

    def join(self, timeout: float = 10.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the helper thread did not end"
        if self._failure is not None:
            raise self._failure


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture(scope="module")
def fake() -> Iterator[PrefetchFake]:
    server = PrefetchFake(hold=0.2)
    with serve(server.app) as base_url:
        server.base_url = base_url
        yield server


#: The channels the current test made: closed at teardown, their GETs sent ahead settled (so that
#: none reaches the module-wide server after the next test's reset and takes that test's events).
_made = Channels()


@pytest.fixture(autouse=True)
def _clean(fake: PrefetchFake) -> Iterator[None]:
    fake.reset()
    yield
    fake.hold = 0.2
    _made.close(fake)


def channel_for(
    fake: PrefetchFake, dispatcher: Dispatcher | None = None, start: str = START, **kwargs: Any
) -> tuple[EventChannel[DispatchResult], ThreadNoting]:
    sender = ThreadNoting(httpx.Client(), TOKEN, base_url=fake.base_url)
    channel = EventChannel(sender, dispatcher or Dispatcher(base_url=fake.base_url), start, **kwargs)
    _made.add(channel)
    return channel, sender


def started(inv: str) -> dict[str, Any]:
    href = f"{INVITATIONS}/{inv}"
    return {
        "link": {"rel": "audioVideoInvitation", "href": href},
        "type": "started",
        "_embedded": {"audioVideoInvitation": {"state": "Connecting", "direction": "Incoming",
                                               "_links": {"self": {"href": href}}}},
    }


def completed(inv: str) -> dict[str, Any]:
    return {
        "link": {"rel": "audioVideoInvitation", "href": f"{INVITATIONS}/{inv}"},
        "type": "completed",
        "status": "Success",
        "_embedded": {"audioVideoInvitation": {"state": "Connected"}},
    }


def answer_body(links: dict[str, str], *events: dict[str, Any]) -> bytes:
    document: dict[str, Any] = {"_links": {rel: {"href": href} for rel, href in links.items()}}
    if events:
        document["sender"] = [{"rel": "communication", "href": f"{APP}/communication", "events": list(events)}]
    return json.dumps(document).encode()


def event_gets(fake: UcwaFake) -> list[str]:
    return [r.target for r in fake.seen("GET", EVENTS)]


# -- overlap ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [True, False])
def test_the_next_get_reaches_the_server_while_the_answer_before_it_is_processed(
    fake: PrefetchFake, prefetch: bool
) -> None:
    fake.next_links.append(SECOND)
    fake.push(started("in1"))
    arrived = fake.arrival(SECOND)
    seen_while_processing: list[bool] = []
    hook_threads: list[str] = []
    channel: EventChannel[DispatchResult]

    def on_result(result: DispatchResult) -> None:
        hook_threads.append(threading.current_thread().name)
        # still processing the first answer: has the GET of the next URL reached the server?
        seen_while_processing.append(arrived.wait(timeout=3.0))
        channel.stop()

    channel, sender = channel_for(fake, on_result=on_result, prefetch=prefetch)
    assert channel.run() is ChannelEnd.STOPPED
    assert seen_while_processing == [prefetch]
    assert hook_threads == [MAIN]
    assert channel.next_url == fake.base_url + SECOND
    if prefetch:
        # sent from the helper thread, ahead of processing
        assert [name.startswith("callfsm-pget") for _, name in sender.sent] == [False, True]
    else:
        # stopped after the answer in hand: the GET of the next URL never went out
        assert event_gets(fake) == [START]
        assert [name for _, name in sender.sent] == [MAIN]


# -- order --------------------------------------------------------------------------------------------------


def test_answers_are_processed_one_at_a_time_in_order(fake: PrefetchFake) -> None:
    n = 6
    for i in range(1, n + 1):
        fake.push(started(f"in{i}"))
    log: list[str] = []
    gets_when_done: list[int] = []

    def on_result(result: DispatchResult) -> None:
        (model,) = result.created
        assert isinstance(model, Invitation)
        assert model.href is not None
        # the GET of the next answer is out before this one is processed: wait until the server has it, so
        # that answer k+1 is in (or on its way) while answer k is still being processed
        assert fake.arrival(f"{EVENTS}?ack={len(gets_when_done) + 2}").wait(timeout=5)
        log.append(f"done {model.href.rsplit('/', 1)[-1]}")
        gets_when_done.append(len(event_gets(fake)))

    dispatcher = Noting(log, base_url=fake.base_url)
    # the fake's own numbering: START, then ack=2, ack=3...
    channel, sender = channel_for(fake, dispatcher, on_result=on_result)
    results: list[DispatchResult] = []
    for result in channel:
        results.append(result)
        if len(results) == n:
            channel.stop()
    assert channel.ended is ChannelEnd.STOPPED
    # each answer fed and processed before the next one is fed, in the order the server sent them
    assert log == [entry for i in range(1, n + 1) for entry in (f"feed in{i}", f"done in{i}")]
    # while answer k was processed, GET k+1 had reached the server
    assert gets_when_done == list(range(2, n + 2))
    assert dispatcher.threads == {MAIN}
    assert [name.startswith("callfsm-pget") for _, name in sender.sent][:n] == [False] + [True] * (n - 1)


# -- stop, close -------------------------------------------------------------------------------------------


def test_stop_abandons_the_get_sent_ahead_and_a_new_loop_gets_its_events_again(fake: PrefetchFake) -> None:
    fake.hold = 60.0  # the GET sent ahead is held by the server until the test pushes something
    fake.keep = True
    fake.next_links.append(SECOND)
    fake.push(started("in1"))
    arrived = fake.arrival(SECOND)
    log: list[str] = []
    helpers: list[threading.Thread] = []
    channel: EventChannel[DispatchResult]

    def on_result(result: DispatchResult) -> None:
        assert arrived.wait(timeout=10)  # the GET sent ahead is at the server, held
        assert channel._pending is not None
        helpers.append(channel.sent_ahead)
        channel.stop()

    channel, _ = channel_for(fake, Noting(log, base_url=fake.base_url), on_result=on_result)
    assert channel.run() is ChannelEnd.STOPPED
    (helper,) = helpers
    assert channel.next_url == fake.base_url + SECOND
    assert channel._pending is None
    assert helper.is_alive()  # the server still holds that GET
    assert helper.daemon  # so it cannot hold the interpreter's exit
    channel.close()
    assert helper.is_alive()  # close() returned without waiting for the GET it let go of

    # the server answers the abandoned GET: nothing of it reaches the sink, the cursor does not move
    fake.push(started("in2"))
    helper.join(timeout=10)
    assert not helper.is_alive()
    assert log == ["feed in1"]
    assert channel.next_url == fake.base_url + SECOND
    assert channel.cursor.failures == 0
    assert channel.poll_once() is None
    assert log == ["feed in1"]

    # a new loop from next_url (a restart from a snapshot) gets the same events again
    fake.hold = 0.2
    again_log: list[str] = []
    again, _ = channel_for(fake, Noting(again_log, base_url=fake.base_url), start=channel.next_url, prefetch=False)
    result = again.poll_once()
    assert result is not None
    assert again_log == ["feed in2"]
    assert event_gets(fake) == [START, SECOND, SECOND]


def test_close_from_another_thread_ends_a_loop_waiting_for_the_get_sent_ahead(fake: PrefetchFake) -> None:
    fake.hold = 60.0
    fake.next_links.append(SECOND)
    fake.push(started("in1"))
    arrived = fake.arrival(SECOND)
    helpers: list[threading.Thread] = []
    channel, _ = channel_for(fake)
    results: list[DispatchResult] = []

    def closer() -> None:
        try:
            assert arrived.wait(timeout=10)
            # the GET is at the server, so the loop has recorded it (it does so before the thread starts)
            assert channel._pending is not None
            helpers.append(channel.sent_ahead)
        finally:
            channel.close()  # even when an assertion failed: the loop below must not wait for the held GET

    other = Reraising(closer)
    results.extend(channel)  # blocks on the held GET until close() lets go of it
    other.join()  # an assertion that failed in closer() fails the test here
    (helper,) = helpers
    assert channel.ended is ChannelEnd.STOPPED
    assert len(results) == 1
    assert helper.is_alive()  # the loop ended while the server still held that GET: it did not wait for it
    assert channel.next_url == fake.base_url + SECOND
    assert channel.cursor.failures == 0


# -- a transport error on the GET sent ahead -------------------------------------------------------------------


def _read_head(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk


@contextlib.contextmanager
def hangs_up_once(first: Callable[[str], bytes], retried: bytes) -> Iterator[str]:
    """A loopback HTTP server: the first connection gets ``first(base_url)``, the second is closed
    unanswered, the third gets ``retried``. One server, so every GET stays on the application's origin
    (the loop refuses a link to another one, tests/ucwa/test_origin.py)."""
    sock = free_socket()
    sock.listen()
    sock.settimeout(10)
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"

    def run() -> None:
        with contextlib.suppress(OSError):
            for body in (first(base_url), None, retried):
                conn, _ = sock.accept()
                with conn:
                    _read_head(conn)
                    if body is not None:
                        head = f"HTTP/1.1 200 OK\r\ncontent-type: {JSON_TYPE}\r\ncontent-length: {len(body)}\r\n"
                        conn.sendall(head.encode() + b"connection: close\r\n\r\n" + body)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        thread.join(timeout=10)
        sock.close()


@pytest.mark.parametrize("failure", ["oversized answer", "connection closed unanswered"])
def test_a_transport_error_on_the_get_sent_ahead_is_retried_with_backoff(fake: PrefetchFake, failure: str) -> None:
    errors: list[Exception] = []
    sleeps = Sleeps()
    after = f"{EVENTS}?ack=13"
    with contextlib.ExitStack() as stack:
        if failure == "oversized answer":
            second = fake.base_url + SECOND
            huge = Scripted(200, b"{" + b" " * (MAX_RESPONSE_BODY + 1) + b"}", {"content-type": "application/json"})
            good = Scripted(200, answer_body({"self": START, "next": SECOND}, started("in1")))
            fake.script("GET", EVENTS, good, huge)
            fake.push(completed("in1"))  # what the retried GET gets
        else:
            retried = answer_body({"self": SECOND, "next": after}, completed("in1"))
            base = stack.enter_context(
                hangs_up_once(lambda base: answer_body({"self": START, "next": base + SECOND}, started("in1")), retried)
            )
            second = base + SECOND
        if failure == "oversized answer":
            home = fake.base_url
            channel, sender = channel_for(fake, on_error=errors.append, sleep=sleeps)
        else:
            home = base
            sender = ThreadNoting(httpx.Client(), TOKEN, base_url=base)
            channel = EventChannel(sender, Dispatcher(base_url=base), START, on_error=errors.append, sleep=sleeps)
            _made.add(channel)
        first = channel.poll_once()
        assert first is not None
        (inv,) = first.created
        assert isinstance(inv, Invitation)
        assert channel.poll_once() is None  # the GET sent ahead failed: reported, backed off
        assert channel.next_url == second  # nothing acknowledged by a failure
        assert channel.cursor.failures == 1
        third = channel.poll_once()
    assert third is not None
    assert inv.state is InvitationState.CONNECTED
    assert sleeps.delays == [0.5]
    (error,) = errors
    assert isinstance(error, EventChannelError)
    assert isinstance(error.cause, TransportError)
    if failure == "oversized answer":
        assert isinstance(error.cause, ResponseTooLarge)
    assert channel.cursor.failures == 0
    # the failing GET went from the helper thread; its retry (nothing is sent ahead of a retry) from ours
    assert [(url, name.startswith("callfsm-pget")) for url, name in sender.sent][:3] == [
        (home + START, False),
        (second, True),
        (second, False),
    ]


# -- a loop that replaces another -------------------------------------------------------------------------------


def test_a_loop_that_takes_over_adopts_the_get_sent_ahead_so_one_pget_is_out_not_two(fake: PrefetchFake) -> None:
    # a client that reads its application again (connect() twice) makes a new loop from the old one's cursor
    fake.next_links.append(SECOND)
    fake.push(started("in1"))
    log: list[str] = []
    dispatcher = Noting(log, base_url=fake.base_url)
    old, _ = channel_for(fake, dispatcher)
    assert old.poll_once() is not None
    assert old._pending is not None
    assert fake.arrival(SECOND).wait(timeout=5)  # that GET is held by the server
    new, _ = channel_for(fake, dispatcher, start=old.resume_url)
    new.take_over(old)
    assert old.ended is None
    assert old.poll_once() is None
    assert old.ended is ChannelEnd.STOPPED
    fake.push(started("in2"))  # what the adopted GET carries
    result = new.poll_once()
    assert result is not None
    assert log == ["feed in1", "feed in2"]
    # the URL was asked once: the new loop took the old loop's GET, it did not send its own
    assert event_gets(fake)[:2] == [START, SECOND]
    assert event_gets(fake).count(SECOND) == 1


# -- close() at the moment the helper thread starts sending ------------------------------------------------


class ClosingAhead(ThreadNoting):
    """Closes the channel from the helper thread, as the GET sent ahead starts: the worst moment for close()."""

    channel: EventChannel[DispatchResult]
    seen_recorded: list[bool]

    def send(self, request: HttpRequest, *, timeout: httpx.Timeout | float | None = None) -> HttpResponse:
        if threading.current_thread().name.startswith("callfsm-pget"):
            # what close() can let go of at this moment: the loop must already hold this GET
            self.seen_recorded.append(self.channel.sent_ahead is threading.current_thread())
            self.channel.close()
        return super().send(request, timeout=timeout)


def test_a_close_as_the_get_sent_ahead_starts_is_never_lost(fake: PrefetchFake) -> None:
    # close() from another thread lets go of the GET sent ahead only if the loop has recorded it; recorded
    # after its thread started, a close() in between found nothing, and that GET stayed the loop's to wait for
    fake.next_links.append(SECOND)
    fake.push(started("in1"))
    sender = ClosingAhead(httpx.Client(), TOKEN, base_url=fake.base_url)
    sender.seen_recorded = []
    channel = EventChannel(sender, Dispatcher(base_url=fake.base_url), START)
    sender.channel = channel
    _made.add(channel)
    assert channel.poll_once() is not None
    assert sender.seen_recorded == [True]
    assert channel.sent_ahead is None  # let go of: nothing left out for this loop
    assert channel.poll_once() is None
    assert channel.ended is ChannelEnd.STOPPED
    assert channel.next_url == fake.base_url + SECOND  # that GET's answer, if any, is never read
