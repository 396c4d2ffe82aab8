"""Fuzzing the channel, the dispatcher and the transport with input they must reject.

A whole P-GET answer the channel refuses, and each single event a machine refuses, leave every
live model's snapshot exactly as it was. An href from the server that no request can go to (an
event's, a Location, a continuation) is a typed error, never a crash.

A known bug in a file this suite does not own can be pinned by a strict
xfail in the corpus (tests/corpus/MANIFEST.json, ``xfail``), which fails as
soon as the bug is fixed.
"""

from __future__ import annotations

import json
from typing import Any, cast

import httpx
import pytest
from fuzz_checks import parse_or_refuse
from fuzz_strategies import (
    JSON_TYPES,
    ODD_TYPES,
    XML_TYPES,
    fuzz_settings,
    json_bodies,
    mutated_doc,
    valid_docs,
    xml_bodies,
)
from hypothesis import assume, given
from hypothesis import strategies as st
from ucwa_fake import closed_port

from adapters.routing.dispatcher import Dispatcher
from adapters.routing.replay import Replay
from adapters.testing.strategies import random_stream
from adapters.transport.http import SyncSender, TransportError
from adapters.ucwa.channel import Backoff, EventChannel, EventChannelError
from adapters.wire.events import (
    EventsResponse,
    Sender,
)
from adapters.wire.requests import HttpRequest, HttpResponse
from fsm import snapshot
from fsm.invitation import InvitationState

# -- no machine moves on a rejected input ---------------------------------------------------------------------


class OneAnswer:
    """A sender that answers every P-GET with the same response (the channel's I/O, minus the network)."""

    base_url = "https://fe1.contoso.com/ucwa/oauth/v1/applications/1/"
    body_format = "json"

    def __init__(self, response: HttpResponse) -> None:
        self.response = response

    def token(self) -> None:
        return None

    def send(self, request: HttpRequest, *, timeout: object = None) -> HttpResponse:
        return self.response


def live_dispatcher(seed: int, events: int) -> Dispatcher:
    run = Replay(base_url=OneAnswer.base_url)
    for doc in random_stream(seed, events=events).responses:
        run.feed(json.dumps(doc).encode())
    return run.dispatcher


def frozen_state(dispatcher: Dispatcher) -> list[dict[str, Any]]:
    return [snapshot.snapshot(model) for model in dispatcher.models]


@fuzz_settings
@given(
    seed=st.integers(0, 50),
    body=json_bodies() | xml_bodies(),
    content_type=st.sampled_from(JSON_TYPES + XML_TYPES + ODD_TYPES),
)
def test_an_answer_the_channel_refuses_moves_no_machine(seed: int, body: bytes, content_type: str) -> None:
    dispatcher = live_dispatcher(seed, 30)
    before = frozen_state(dispatcher)
    errors: list[Exception] = []
    answer = HttpResponse(200, (("content-type", content_type),), body)
    channel = EventChannel(
        cast(SyncSender, OneAnswer(answer)),
        dispatcher,
        "events?ack=1",
        on_error=errors.append,
        backoff=Backoff(max_attempts=2),
        sleep=lambda _: None,
        clock=lambda: 1000.0,
    )
    try:
        result = channel.poll_once()
    except EventChannelError:
        result = None  # a refused answer with no link to go on from, past the retries
    if result is None:
        assert frozen_state(dispatcher) == before


@fuzz_settings
@given(seed=st.integers(0, 50), doc=valid_docs().flatmap(mutated_doc))
def test_an_event_a_machine_refuses_moves_no_machine(seed: int, doc: Any) -> None:
    dispatcher = live_dispatcher(seed, 30)
    response = parse_or_refuse(json.dumps(doc).encode(), "application/json", require_links=False)
    assume(response is not None)
    assert response is not None
    for sender in response.senders:
        for event in sender.events:
            before = frozen_state(dispatcher)
            one = EventsResponse(response.self_href, None, None, None, (Sender(sender.rel, sender.href, (event,)),))
            result = dispatcher.feed(one, 2000.0)
            if not result.changes:
                assert result.created == ()
                assert frozen_state(dispatcher) == before


# -- known bug outside this suite's files --------------------------------------------------------------------


@pytest.mark.parametrize("tail", ["x?ack=\x00", "x?ack=\ud800", "x?ack=" + "9" * 70_000, "http://[::1/x"])
def test_an_unsendable_url_is_a_transport_error(tail: str) -> None:
    """An href from the server (an event's, a Location) that no request can go to: a typed error, not a crash."""
    base = f"http://127.0.0.1:{closed_port()}/"
    url = tail if tail.startswith("http") else base + tail
    with httpx.Client() as http:
        sender = SyncSender(http, "t", base_url=base)
        with pytest.raises(TransportError):
            sender.send(HttpRequest("GET", url))


@pytest.mark.parametrize("href", ["/e?ack=\x00", "/e?ack=\ud800", "/e?ack=" + "9" * 70_000, "//[::1/e", "http://h]/e"])
@pytest.mark.parametrize("continuation", ["next", "resume"])
def test_a_continuation_that_is_no_url_ends_the_loop_with_a_typed_error(href: str, continuation: str) -> None:
    """docs/protocol.md §2.2: the loop follows the link as given; one it cannot follow is an unreadable answer."""
    started = {
        "link": {"rel": "audioVideoInvitation", "href": "/app/invitations/1"},
        "type": "started",
        "_embedded": {"audioVideoInvitation": {"direction": "Incoming", "state": "Connecting"}},
    }
    doc = {
        "_links": {continuation: {"href": href}},
        "sender": [{"rel": "communication", "href": "/c", "events": [started]}],
    }
    dispatcher = Dispatcher()
    errors: list[Exception] = []
    answer = HttpResponse(200, (("content-type", "application/json"),), json.dumps(doc).encode())
    channel = EventChannel(
        cast(SyncSender, OneAnswer(answer)),
        dispatcher,
        "events?ack=1",
        on_error=errors.append,
        backoff=Backoff(max_attempts=3),
        sleep=lambda _: None,
    )
    with pytest.raises(EventChannelError, match=f"{continuation} link is no URL") as ended:
        channel.run()
    assert ended.value.attempts == 3
    assert dispatcher.models == ()  # nothing of an answer the loop cannot go on from is applied
    assert len(errors) == 2  # the two retries were reported before the end
    assert channel.next_url.endswith("events?ack=1")


@pytest.mark.parametrize("href", ["//[::1/x", "http://h]/x"])
def test_an_event_href_urllib_cannot_split_is_routed_by_the_href_as_given(href: str) -> None:
    # urljoin/urlsplit raise ValueError on an unbalanced IPv6 bracket; feed is documented never to raise,
    # and the href still names one resource: its started and its completed meet the same model
    link = {"rel": "audioVideoInvitation", "href": href}
    started = {"link": link, "type": "started", "_embedded": {"audioVideoInvitation": {"direction": "Incoming"}}}
    completed = {"link": link, "type": "completed", "status": "Failure", "reason": {"code": "RemoteFailure"}}
    dispatcher = Dispatcher(base_url="https://fe1.contoso.com/ucwa/")
    for n, event in enumerate((started, completed)):
        sender = {"rel": "communication", "href": "/c", "events": [event]}
        doc = {"_links": {"next": {"href": f"/n{n}"}}, "sender": [sender]}
        response = parse_or_refuse(json.dumps(doc).encode(), "application/json")
        assert response is not None
        assert dispatcher.feed(response, float(n)).violations == ()
    (model,) = dispatcher.models
    assert model.state is InvitationState.FAILED  # Failure with a reason that is neither Canceled nor Declined
