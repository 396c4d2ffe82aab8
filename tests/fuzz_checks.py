"""The fuzz suite's "typed values" checks: every field of what a parser returns, field by field.

A string where the type says string, never a number turned into one; and
:func:`parse_or_refuse`, the contract of :func:`adapters.wire.events.parse_events`: an
EventsResponse whose every value is typed, or EventParseError and nothing else. Shared by the
``test_fuzz_*.py`` files, and importable from anywhere below ``tests/`` (``conftest.py`` puts
that folder on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.wire.events import (
    Event,
    EventLink,
    EventParseError,
    EventsResponse,
    ReasonBody,
    ReasonParameter,
    Sender,
    parse_events,
)

# -- typed values -----------------------------------------------------------------------------------


def is_opt_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def check_link(link: object) -> None:
    assert isinstance(link, EventLink)
    assert isinstance(link.rel, str)
    assert isinstance(link.href, str)
    assert is_opt_str(link.title)


def check_reason(reason: object) -> None:
    assert isinstance(reason, ReasonBody)
    for value in (reason.code, reason.subcode, reason.message, reason.debug_info):
        assert is_opt_str(value)
    assert isinstance(reason.parameters, tuple)
    for parameter in reason.parameters:
        assert isinstance(parameter, ReasonParameter)
        assert isinstance(parameter.name, str)
        assert is_opt_str(parameter.value)


def check_event(event: object) -> None:
    assert isinstance(event, Event)
    check_link(event.link)
    if event.in_ is not None:
        check_link(event.in_)
    assert isinstance(event.type, str)
    assert is_opt_str(event.status)
    if event.reason is not None:
        check_reason(event.reason)
    assert event.embedded is None or isinstance(event.embedded, Mapping)
    assert isinstance(event.known, bool)
    # the derived views a dispatcher reads must not raise either
    event.representation()
    assert is_opt_str(event.operation_id)


def check_response(response: object) -> None:
    assert isinstance(response, EventsResponse)
    for href in (response.self_href, response.next_href, response.resume_href, response.resync_href, response.baseuri):
        assert is_opt_str(href)
    assert isinstance(response.senders, tuple)
    for sender in response.senders:
        assert isinstance(sender, Sender)
        assert isinstance(sender.rel, str)
        assert isinstance(sender.href, str)
        for event in sender.events:
            check_event(event)
    assert isinstance(response.unknown, tuple)
    assert all(isinstance(line, str) for line in response.unknown)


def parse_or_refuse(body: bytes, content_type: str, *, require_links: bool = True) -> EventsResponse | None:
    """The contract of parse_events: a typed response, or EventParseError (and nothing else)."""
    try:
        response = parse_events(body, content_type, require_links=require_links)
    except EventParseError as exc:
        refused = exc
    else:
        check_response(response)
        return response
    assert isinstance(refused.where, str)
    assert isinstance(refused.why, str)
    for href in (refused.next_href, refused.resume_href, refused.resync_href):
        assert is_opt_str(href)
    return None
