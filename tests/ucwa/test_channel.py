"""The P-GET loop against a real loopback server (tests/ucwa_fake.py), sync and asyncio.

Rules under test are docs/protocol.md §2.2: next followed as given (acks need not be
self + 1), next P-GET issued before processing (asyncio here; the sync loop's
``prefetch`` in test_channel_prefetch.py), responses in order, resume/resync,
409 PGetReplaced, 404 ApplicationNotFound; plus the loop's own contract
(bounded backoff then a clear error, a clean stop).

The sync loop sends its next GET ahead from a helper thread: each test's sync
channels are closed at teardown and the GETs they sent ahead waited for, so
that none reaches the (module-wide) server after the next test's reset and
takes that test's events.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ucwa_fake import APP, EVENTS, INVITATIONS, TOKEN, Channels, Scripted, UcwaFake, closed_port, error_body, serve

from adapters.routing.dispatcher import Dispatcher, DispatchResult
from adapters.transport.http import MAX_RESPONSE_BODY, AsyncSender, ResponseTooLarge, SyncSender
from adapters.ucwa.channel import (
    AsyncEventChannel,
    Backoff,
    ChannelEnd,
    ChannelReset,
    EventChannel,
    EventChannelError,
    PGetParameterError,
    PGetParameters,
    ResetKind,
)
from adapters.wire.events import EventParseError, EventsResponse
from fsm.invitation import Invitation, InvitationState

START = f"{EVENTS}?ack=11"


@pytest.fixture(scope="module")
def fake() -> Iterator[UcwaFake]:
    server = UcwaFake(hold=0.2)
    with serve(server.app) as base_url:
        server.base_url = base_url
        yield server


#: The sync channels the current test made (closed, and their GETs sent ahead settled, at teardown).
_made = Channels()


@pytest.fixture(autouse=True)
def _clean(fake: UcwaFake) -> Iterator[None]:
    fake.reset()
    yield
    _made.close(fake)


class Recording(Dispatcher):
    """A real dispatcher that also writes down the order of what the loop asked of it."""

    def __init__(self, log: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log

    def feed(self, response: EventsResponse, now: float) -> DispatchResult:
        self.log.append(f"feed {len(response.events)}")
        return super().feed(response, now)

    def drop_transient(self) -> None:
        self.log.append("drop_transient")
        super().drop_transient()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)

    async def asleep(self, delay: float) -> None:
        self.delays.append(delay)


def answer(links: dict[str, str], *events: dict[str, Any]) -> Scripted:
    document: dict[str, Any] = {"_links": {rel: {"href": href} for rel, href in links.items()}}
    if events:
        document["sender"] = [{"rel": "communication", "href": f"{APP}/communication", "events": list(events)}]
    return Scripted(200, json.dumps(document).encode(), {"content-type": "application/json"})


def started(inv: str) -> dict[str, Any]:
    href = f"{INVITATIONS}/{inv}"
    return {
        "link": {"rel": "audioVideoInvitation", "href": href},
        "type": "started",
        "_embedded": {
            "audioVideoInvitation": {
                "state": "Connecting",
                "direction": "Incoming",
                "_links": {"self": {"href": href}, "accept": {"href": f"{href}/accept"}},
            }
        },
    }


def completed(inv: str) -> dict[str, Any]:
    return {
        "link": {"rel": "audioVideoInvitation", "href": f"{INVITATIONS}/{inv}"},
        "type": "completed",
        "status": "Success",
        "_embedded": {"audioVideoInvitation": {"state": "Connected"}},
    }


def sync_channel(fake: UcwaFake, dispatcher: Dispatcher | None = None, **kwargs: Any) -> EventChannel[DispatchResult]:
    sender = SyncSender(httpx.Client(), TOKEN, base_url=fake.base_url)
    channel = EventChannel(sender, dispatcher or Dispatcher(base_url=fake.base_url), START, **kwargs)
    return _made.add(channel)


def event_gets(fake: UcwaFake) -> list[str]:
    return [r.target for r in fake.seen("GET", EVENTS)]


def settled_gets(fake: UcwaFake) -> list[str]:
    """The P-GETs the server saw, once each GET this test's channels sent ahead has been answered."""
    _made.settle()
    return event_gets(fake)


def target(fake: UcwaFake, url: str) -> str:
    """What the server records for a GET to ``url`` (path and query)."""
    assert url.startswith(fake.base_url)
    return url[len(fake.base_url) :]


# -- next, in order -----------------------------------------------------------------------------


def test_next_is_followed_verbatim(fake: UcwaFake) -> None:
    # the SaaS OMI sample: self at ack=11, next at ack=21 (docs/protocol.md §2.4); plus a key we must not touch
    odd = f"{EVENTS}?ack=21&key=a%2Bb%3D"
    fake.next_links.append(odd)
    channel = sync_channel(fake)
    channel.poll_once()
    channel.poll_once()
    assert event_gets(fake)[:2] == [START, odd]


def test_relative_next_resolves_against_the_url_it_came_from(fake: UcwaFake) -> None:
    fake.next_links.append("events?ack=99")
    channel = sync_channel(fake)
    channel.poll_once()
    channel.poll_once()
    assert event_gets(fake)[1] == f"{EVENTS}?ack=99"


def test_responses_are_processed_in_order(fake: UcwaFake) -> None:
    fake.push(started("in1"))
    fake.push(completed("in1"))
    dispatcher = Dispatcher(base_url=fake.base_url)
    channel = sync_channel(fake, dispatcher)
    first, second = channel.poll_once(), channel.poll_once()
    assert first is not None
    assert second is not None
    (inv,) = first.created
    assert isinstance(inv, Invitation)
    # started then completed: Connecting, then Connected (the other order would absorb the started)
    assert [step.dest for step in inv.history] == [InvitationState.CONNECTING, InvitationState.CONNECTED]


async def test_async_issues_the_next_get_before_processing(fake: UcwaFake) -> None:
    fake.push(started("in1"))
    fake.push(completed("in1"))
    gets_seen_while_processing: list[int] = []

    async def on_result(result: DispatchResult) -> None:
        # give the loop's next-GET task a moment; it must already be on the wire
        for _ in range(100):
            if len(event_gets(fake)) > len(gets_seen_while_processing) + 1:
                break
            await asyncio.sleep(0.01)
        gets_seen_while_processing.append(len(event_gets(fake)))
        if len(gets_seen_while_processing) == 2:
            channel.stop()

    async with httpx.AsyncClient() as client:
        sender = AsyncSender(client, TOKEN, base_url=fake.base_url)
        channel: AsyncEventChannel[DispatchResult] = AsyncEventChannel(
            sender, Dispatcher(base_url=fake.base_url), START, on_result=on_result
        )
        results = [result async for result in channel]
    # while answer n was processed, GET n+1 had been sent
    assert gets_seen_while_processing == [2, 3]
    assert [len(r.changes) for r in results] == [1, 1]
    assert channel.ended is ChannelEnd.STOPPED


# -- resume, resync ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ResetKind.RESUME, ResetKind.RESYNC])
def test_resume_and_resync_drop_transient_then_reread_then_continue(fake: UcwaFake, kind: ResetKind) -> None:
    onward = f"{EVENTS}?ack=5&{kind.value}=1"
    events = (started("in2"),) if kind is ResetKind.RESUME else ()
    fake.script("GET", EVENTS, answer({"self": START, kind.value: onward}, *events))
    log: list[str] = []
    resets: list[ChannelReset] = []

    def on_reset(reset: ChannelReset) -> None:
        log.append("on_reset")
        resets.append(reset)

    channel = sync_channel(fake, Recording(log, base_url=fake.base_url), on_reset=on_reset)
    channel.poll_once()
    channel.poll_once()
    assert log[:3] == ["drop_transient", f"feed {len(events)}", "on_reset"]
    assert resets[0].kind is kind
    assert resets[0].href == fake.base_url + onward
    assert event_gets(fake)[1] == onward


# -- special answers ------------------------------------------------------------------------------------


def test_pget_replaced_stops_quietly(fake: UcwaFake) -> None:
    fake.script("GET", EVENTS, Scripted(409, error_body("Conflict", "PGetReplaced")))
    replaced: list[str] = []
    channel = sync_channel(fake, on_replaced=lambda error: replaced.append(str(error.subcode)))
    assert channel.run() is ChannelEnd.REPLACED
    assert replaced == ["PGetReplaced"]
    assert len(event_gets(fake)) == 1


def test_application_not_found_is_reported_and_the_hook_decides(fake: UcwaFake) -> None:
    fake.script("GET", EVENTS, Scripted(404, error_body("NotFound", "ApplicationNotFound")))
    seen: list[str | None] = []
    channel = sync_channel(fake, on_application_not_found=lambda error: seen.append(error.subcode) or None)
    assert channel.run() is ChannelEnd.APPLICATION_NOT_FOUND
    assert seen == ["ApplicationNotFound"]


def test_application_not_found_hook_may_give_a_new_events_link(fake: UcwaFake) -> None:
    fake.script("GET", EVENTS, Scripted(404, error_body("NotFound", "ApplicationNotFound")))
    recreated = f"{EVENTS}?ack=1&app=recreated"
    channel = sync_channel(fake, on_application_not_found=lambda _: recreated)
    channel.poll_once()
    assert channel._pending is None  # nothing is sent ahead of a 404, nor left pointing at the old link
    channel.poll_once()
    # the recreated link, then (sent ahead of processing its answer) that answer's next
    assert settled_gets(fake) == [START, recreated, target(fake, channel.next_url)]
    assert channel.ended is None


def test_network_errors_back_off_then_fail_clearly() -> None:
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{closed_port()}"
    sender = SyncSender(httpx.Client(), TOKEN, base_url=url)
    errors: list[Exception] = []
    channel: EventChannel[DispatchResult] = EventChannel(
        sender, Dispatcher(), START, sleep=sleeps, on_error=errors.append,
        backoff=Backoff(base=0.5, factor=2.0, max_delay=3.0, max_attempts=5),
    )
    with pytest.raises(EventChannelError) as caught:
        channel.run()
    # four pauses between five attempts: 0.5, 1, 2, then capped at 3
    assert sleeps.delays == [0.5, 1.0, 2.0, 3.0]
    assert caught.value.attempts == 5
    assert "after 5 attempts" in str(caught.value)
    assert "ack=11" in str(caught.value)
    assert len(errors) == 4


async def test_async_network_errors_back_off_then_fail_clearly() -> None:
    sleeps = Sleeps()
    async with httpx.AsyncClient() as client:
        sender = AsyncSender(client, TOKEN, base_url=f"http://127.0.0.1:{closed_port()}")
        channel: AsyncEventChannel[DispatchResult] = AsyncEventChannel(
            sender, Dispatcher(), START, sleep=sleeps.asleep, backoff=Backoff(base=1.0, max_attempts=3)
        )
        with pytest.raises(EventChannelError, match="after 3 attempts"):
            await channel.run()
    assert sleeps.delays == [1.0, 2.0]


def test_server_errors_are_retried_and_a_good_answer_resets_the_count(fake: UcwaFake) -> None:
    fake.script("GET", EVENTS, Scripted(503), Scripted(500, error_body("ServiceFailure")))
    fake.push(started("in3"))
    sleeps = Sleeps()
    channel = sync_channel(fake, sleep=sleeps, backoff=Backoff(base=0.5, max_attempts=3))
    results = [channel.poll_once() for _ in range(3)]
    assert sleeps.delays == [0.5, 1.0]
    assert results[2] is not None
    assert len(results[2].created) == 1
    # the same URL was asked three times: nothing was acknowledged by a failure (nothing sent ahead of one);
    # the good answer's next went out ahead of its processing
    assert settled_gets(fake) == [START] * 3 + [target(fake, channel.next_url)]
    assert channel.cursor.failures == 0


def test_unauthorized_is_not_retried(fake: UcwaFake) -> None:
    sender = SyncSender(httpx.Client(), "wrong-token", base_url=fake.base_url)
    channel: EventChannel[DispatchResult] = EventChannel(sender, Dispatcher(), START, sleep=Sleeps())
    with pytest.raises(EventChannelError, match="401"):
        channel.run()
    assert len(event_gets(fake)) == 1


# -- bad answers never stop the channel -------------------------------------------------------------------


def test_unreadable_answer_with_links_is_skipped(fake: UcwaFake) -> None:
    onward = f"{EVENTS}?ack=12"
    bad = {"_links": {"self": {"href": START}, "next": {"href": onward}}, "sender": "not a list"}
    fake.script("GET", EVENTS, Scripted(200, json.dumps(bad).encode()))
    errors: list[Exception] = []
    dispatcher = Dispatcher(base_url=fake.base_url)
    channel = sync_channel(fake, dispatcher, on_error=errors.append)
    assert channel.poll_once() is None
    channel.poll_once()
    assert isinstance(errors[0], EventParseError)
    assert "$.sender" in str(errors[0])
    assert event_gets(fake)[1] == onward
    assert dispatcher.models == ()


@pytest.mark.parametrize(
    "body",
    [
        b'{"_links": {"next": {"href": "events?ack=2"}}, "sender": [',  # truncated
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b'<events xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">&lol2;</events>',  # entity expansion
        b'{"sender": []}',  # no _links at all
    ],
)
def test_unreadable_answer_without_links_is_fetched_again_and_the_channel_goes_on(fake: UcwaFake, body: bytes) -> None:
    content_type = "application/xml" if body.startswith(b"<") else "application/json"
    fake.script("GET", EVENTS, Scripted(200, body, {"content-type": content_type}))
    fake.push(started("in4"))
    sleeps = Sleeps()
    errors: list[Exception] = []
    channel = sync_channel(fake, sleep=sleeps, on_error=errors.append)
    assert channel.poll_once() is None
    result = channel.poll_once()
    assert result is not None
    assert len(result.created) == 1
    assert settled_gets(fake) == [START, START, target(fake, channel.next_url)]
    assert sleeps.delays == [0.5]
    assert len(errors) == 1


def test_a_body_that_stays_broken_ends_in_a_clear_error(fake: UcwaFake) -> None:
    broken = Scripted(200, b"{", {"content-type": "application/json"})
    fake.script("GET", EVENTS, broken, broken, broken)
    channel = sync_channel(fake, sleep=Sleeps(), backoff=Backoff(max_attempts=3))
    with pytest.raises(EventChannelError, match="unreadable answer"):
        channel.run()


# -- stopping -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [False, True])
def test_sync_stop_from_a_callback_ends_after_that_answer(fake: UcwaFake, prefetch: bool) -> None:
    fake.push(started("in5"))
    channel: EventChannel[DispatchResult]
    results: list[DispatchResult] = []

    def on_result(result: DispatchResult) -> None:
        results.append(result)
        if result.created:
            channel.stop()

    channel = sync_channel(fake, on_result=on_result, prefetch=prefetch)
    assert channel.run() is ChannelEnd.STOPPED
    assert len(results) == 1
    assert channel._pending is None  # a GET sent ahead was let go of when the loop ended
    if prefetch:
        # the next GET may have gone out (abandoned); nothing else did
        assert event_gets(fake) in ([START], [START, target(fake, channel.next_url)])
    else:
        assert event_gets(fake) == [START]


async def test_async_stop_cancels_the_get_in_flight(fake: UcwaFake) -> None:
    fake.hold = 30.0  # the GET would hang for 30 s if stop() did not cancel it
    try:
        async with httpx.AsyncClient() as client:
            sender = AsyncSender(client, TOKEN, base_url=fake.base_url)
            channel: AsyncEventChannel[DispatchResult] = AsyncEventChannel(sender, Dispatcher(), START)
            task = asyncio.ensure_future(channel.run())
            while not event_gets(fake):
                await asyncio.sleep(0.01)
            channel.stop()
            assert await asyncio.wait_for(task, 10) is ChannelEnd.STOPPED
    finally:
        fake.hold = 0.2


async def test_async_cancellation_is_clean(fake: UcwaFake) -> None:
    fake.hold = 30.0
    try:
        async with httpx.AsyncClient() as client:
            sender = AsyncSender(client, TOKEN, base_url=fake.base_url)
            channel: AsyncEventChannel[DispatchResult] = AsyncEventChannel(sender, Dispatcher(), START)
            task = asyncio.ensure_future(channel.run())
            while not event_gets(fake):
                await asyncio.sleep(0.01)
            inflight = channel._inflight
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
            assert inflight is not None
            assert inflight.cancelled()
            assert channel._inflight is None
    finally:
        fake.hold = 0.2


async def test_async_replaced_ends_the_iteration(fake: UcwaFake) -> None:
    fake.push(started("in6"))
    fake.script("GET", EVENTS, answer({"self": START, "next": f"{EVENTS}?ack=12"}, started("in6")),
                Scripted(409, error_body("Conflict", "PGetReplaced")))
    async with httpx.AsyncClient() as client:
        sender = AsyncSender(client, TOKEN, base_url=fake.base_url)
        channel: AsyncEventChannel[DispatchResult] = AsyncEventChannel(sender, Dispatcher(), START)
        results = [r async for r in channel]
    assert len(results) == 1
    assert channel.ended is ChannelEnd.REPLACED


def test_an_oversized_answer_is_not_buffered_and_counts_as_a_failed_attempt(fake: UcwaFake) -> None:
    huge = Scripted(200, b"{" + b" " * (MAX_RESPONSE_BODY + 1) + b"}", {"content-type": "application/json"})
    fake.script("GET", EVENTS, huge)
    fake.push(started("in7"))
    errors: list[Exception] = []
    sleeps = Sleeps()
    channel = sync_channel(fake, sleep=sleeps, on_error=errors.append)
    assert channel.poll_once() is None
    result = channel.poll_once()
    assert result is not None
    assert len(result.created) == 1
    assert isinstance(errors[0], EventChannelError)
    assert isinstance(errors[0].cause, ResponseTooLarge)
    assert sleeps.delays == [0.5]


# -- the P-GET query parameters ---------------------------------------------------------------------------------
# docs/protocol.md §2.2 (Microsoft's events_ref.md and EventChannelDetails.md): low and medium 5-1800 s,
# timeout 180-1800 s, priority an integer; the server keeps them for later P-GETs until they change, and
# they must be sent again after a resume.

PARAMS = PGetParameters(low=30, medium=10, timeout=600, priority=2)
SENT = "low=30&medium=10&timeout=600&priority=2"


@pytest.mark.parametrize(
    ("name", "value"),
    [("low", 4), ("low", 1801), ("medium", 4), ("medium", 1801), ("timeout", 179), ("timeout", 1801),
     ("low", 5.5), ("timeout", "600"), ("priority", 1.0), ("priority", True), ("low", True)],
)
def test_a_parameter_outside_its_documented_range_is_refused(name: str, value: object) -> None:
    with pytest.raises(PGetParameterError) as caught:
        PGetParameters(**{name: value})
    assert name in str(caught.value)


def test_the_documented_bounds_themselves_are_taken() -> None:
    low = PGetParameters(low=5, medium=5, timeout=180, priority=-3)
    high = PGetParameters(low=1800, medium=1800, timeout=1800, priority=10**6)
    assert low.query() == [("low", "5"), ("medium", "5"), ("timeout", "180"), ("priority", "-3")]
    assert high.query()[2] == ("timeout", "1800")
    assert PGetParameters().query() == []


@pytest.mark.parametrize("prefetch", [False, True])
def test_the_parameters_go_on_the_first_get_then_next_is_followed_verbatim(fake: UcwaFake, prefetch: bool) -> None:
    fake.script("GET", EVENTS, answer({"next": f"{EVENTS}?ack=12"}, started("in1")),
                answer({"next": f"{EVENTS}?ack=13"}, completed("in1")))
    channel = sync_channel(fake, parameters=PARAMS, prefetch=prefetch)
    assert channel.poll_once() is not None
    assert channel.poll_once() is not None
    gets = settled_gets(fake)
    # the server's ack is kept as it was, the parameters follow it; the next GET is the server's link as given
    assert gets[:2] == [f"{START}&{SENT}", f"{EVENTS}?ack=12"]
    assert gets[2:] == ([f"{EVENTS}?ack=13"] if prefetch else [])  # sent ahead, verbatim too


@pytest.mark.parametrize("reset", ["resume", "resync"])
def test_the_parameters_are_sent_again_after_resume_and_resync(fake: UcwaFake, reset: str) -> None:
    fake.script("GET", EVENTS, answer({"next": f"{EVENTS}?ack=12"}), answer({reset: f"{EVENTS}?ack=40"}),
                answer({"next": f"{EVENTS}?ack=41"}))
    channel = sync_channel(fake, parameters=PARAMS, prefetch=False)
    for _ in range(3):
        channel.poll_once()
    channel.poll_once()
    assert settled_gets(fake)[:4] == [
        f"{START}&{SENT}",
        f"{EVENTS}?ack=12",
        f"{EVENTS}?ack=40&{SENT}",  # the server reset them
        f"{EVENTS}?ack=41",
    ]


def test_a_failed_first_get_sends_the_parameters_again(fake: UcwaFake) -> None:
    fake.script("GET", EVENTS, Scripted(503, error_body("ServiceFailure")), answer({"next": f"{EVENTS}?ack=12"}))
    channel = sync_channel(fake, parameters=PARAMS, prefetch=False, sleep=Sleeps())
    channel.poll_once()
    channel.poll_once()
    channel.poll_once()
    assert settled_gets(fake)[:3] == [f"{START}&{SENT}", f"{START}&{SENT}", f"{EVENTS}?ack=12"]


def test_a_parameter_the_link_already_names_is_replaced_not_repeated(fake: UcwaFake) -> None:
    fake.script("GET", EVENTS, answer({"next": f"{EVENTS}?ack=12"}))
    sender = SyncSender(httpx.Client(), TOKEN, base_url=fake.base_url)
    start = f"{EVENTS}?ack=11&timeout=180&key=a%2Bb"
    channel = _made.add(EventChannel(sender, Dispatcher(), start, parameters=PARAMS, prefetch=False))
    channel.poll_once()
    assert settled_gets(fake)[0] == f"{EVENTS}?ack=11&key=a%2Bb&{SENT}"


def test_the_asyncio_loop_sends_them_too(fake: UcwaFake) -> None:
    fake.script("GET", EVENTS, answer({"next": f"{EVENTS}?ack=12"}, started("in1")),
                answer({"next": f"{EVENTS}?ack=13"}, completed("in1")))

    async def run() -> None:
        async with httpx.AsyncClient() as http:
            channel = AsyncEventChannel(AsyncSender(http, TOKEN, base_url=fake.base_url), Dispatcher(), START,
                                        parameters=PARAMS)
            seen = 0
            async for _ in channel:
                seen += 1
                if seen == 2:
                    channel.stop()

    fake.script("GET", EVENTS, answer({"next": f"{EVENTS}?ack=14"}, completed("in1")))
    asyncio.run(run())
    gets = event_gets(fake)
    assert gets[0] == f"{START}&{SENT}"
    assert gets[1] == f"{EVENTS}?ack=12"


def test_the_read_timeout_outlasts_the_servers_hold(fake: UcwaFake) -> None:
    # a timeout of 600 s asks the server to hold an empty answer that long: a 240 s read timeout would cut it
    channel = sync_channel(fake, parameters=PGetParameters(timeout=1800))
    assert isinstance(channel.timeout, httpx.Timeout)
    assert channel.timeout.read is not None
    assert channel.timeout.read > 1800


def test_the_clients_take_the_parameters_for_their_channel(fake: UcwaFake) -> None:
    from adapters.ucwa.client import AsyncUcwaClient, UcwaClient

    with UcwaClient(fake.base_url + APP, token=TOKEN, pget_parameters=PARAMS) as client:
        client.poll_once()
    assert event_gets(fake)[0] == f"{EVENTS}?ack=1&{SENT}"

    async def run() -> None:
        async with AsyncUcwaClient(fake.base_url + APP, token=TOKEN, pget_parameters=PARAMS):
            await asyncio.sleep(0.05)

    fake.reset()
    asyncio.run(run())
    assert event_gets(fake)[0] == f"{EVENTS}?ack=1&{SENT}"
