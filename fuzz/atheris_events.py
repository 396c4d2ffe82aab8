"""Coverage-guided fuzzing (atheris, libFuzzer) of the event-channel parsers, JSON and XML.

Theory of operation
-------------------
libFuzzer mutates bytes and keeps the inputs that reach new code; this
harness feeds each input to what reads a P-GET answer in production:

1. :func:`adapters.wire.events.parse_events`, as JSON or as XML (an input that
   starts with ``<`` after blanks is XML; the input's length picks one of the
   content types of that family, so the seeds in ``tests/corpus`` go where
   they belong);
2. if it is accepted, the answer's typed values are read back, and the
   events go through a :class:`~adapters.routing.dispatcher.Dispatcher` holding an
   incoming invitation, as the channel would feed them;
3. the same bytes as a whole answer through :class:`~adapters.ucwa.channel.PGetCursor`
   (the loop's decision: deliver, skip, retry).

The contract under test: :class:`~adapters.wire.events.EventParseError` is the
only exception :func:`parse_events` raises, the dispatcher raises none, and
the cursor raises :class:`~adapters.ucwa.channel.EventChannelError` only. Any
other exception is a finding: libFuzzer stops and writes the input to the
artifact prefix; it becomes a file in ``tests/corpus`` with a manifest entry.

Not part of ``make test`` (it needs atheris and a time budget)::

    .venv/bin/pip install atheris
    mkdir -p .fuzz-corpus
    .venv/bin/python fuzz/atheris_events.py -max_total_time=60 -artifact_prefix=.fuzz-corpus/ .fuzz-corpus tests/corpus

libFuzzer writes the inputs it finds interesting into the *first* corpus
directory, so ``.fuzz-corpus`` comes first and ``tests/corpus`` (read as seeds)
is never written to.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports(include=["adapters", "fsm"]):
    from adapters.routing.dispatcher import Dispatcher
    from adapters.ucwa.channel import EventChannelError, PGetCursor
    from adapters.wire.events import EventParseError, EventsResponse, parse_events
    from adapters.wire.requests import HttpResponse

JSON_TYPES = (
    "application/vnd.microsoft.com.ucwa+json",
    "application/json",
    'application/json; type="application/vnd.microsoft.com.ucwa+json"; charset=utf-8',
    "application/json; charset=utf-16",
)
XML_TYPES = ("application/vnd.microsoft.com.ucwa+xml", "application/xml", "text/xml")
APP = "/ucwa/v1/applications/app1"
#: An incoming invitation the dispatcher holds, so that events for it reach a machine.
STARTED = (
    b'{"_links":{"next":{"href":"'
    + APP.encode()
    + b'/events?ack=2"}},"sender":[{"rel":"communication","href":"'
    + APP.encode()
    + b'/communication","events":[{"link":{"rel":"audioVideoInvitation","href":"'
    + APP.encode()
    + b'/communication/audioVideoInvitations/in1"},"type":"started","_embedded":{"audioVideoInvitation":'
    b'{"direction":"Incoming","state":"Connecting","_links":{"accept":{"href":"a"},"decline":{"href":"d"}}}}}]}]}'
)


def content_type(data: bytes) -> str:
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    family = XML_TYPES if stripped.startswith(b"<") else JSON_TYPES
    return family[len(data) % len(family)]


def read_back(response: EventsResponse) -> None:
    """Touch every typed value, as the machines will (a lazy view that raises is a finding too)."""
    for href in (response.self_href, response.next_href, response.resume_href, response.resync_href):
        if href is not None and not isinstance(href, str):
            raise TypeError(f"href of type {type(href).__name__}")
    for event in response.events:
        if not isinstance(event.link.href, str) or not isinstance(event.type, str):
            raise TypeError("event link or type is not a string")
        event.representation()
        _ = event.completion_status, event.event_type, event.operation_id
        if event.reason is not None:
            event.reason.to_reason()


def live_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher(base_url="https://fe1.contoso.com" + APP + "/")
    dispatcher.feed(parse_events(STARTED, JSON_TYPES[0]), 0.0)
    return dispatcher


def test_one_input(data: bytes) -> None:
    kind = content_type(data)
    try:
        response = parse_events(data, kind, require_links=len(data) % 2 == 0)
    except EventParseError:
        response = None
    if response is not None:
        read_back(response)
        live_dispatcher().feed(response, 1.0)
    cursor = PGetCursor("https://fe1.contoso.com" + APP + "/events?ack=1")
    with contextlib.suppress(EventChannelError):
        cursor.on_response(HttpResponse(200, (("content-type", kind),), data))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
