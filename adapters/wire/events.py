"""Event-channel responses, JSON or XML, as typed values.

Theory of operation
-------------------
:func:`parse_events` takes the bytes of one event-channel response (a P-GET
answer, or a Trusted Application API webhook POST) and its ``Content-Type``,
and returns an :class:`EventsResponse`: the ``self``/``next``/``resume``/
``resync`` links, the senders in order, each with its events in order.

One reader, two formats. An XML body (root ``<events>``, events as elements
named by their type, docs/protocol.md §2.2 and 6) is first turned into the JSON shape
(``adapters.wire.xml`` does the resources), then both go through the same walk.
So a document and its XML translation give equal values by construction,
and the tests check it on the documentation samples.

Strict about shape, tolerant about vocabulary:

- the envelope and every event must have the documented shape: a truncated
  body, an array where an object belongs (``_links`` as a list, ``sender`` as
  a string), a missing or non-string ``href``... raise :class:`EventParseError`
  saying what was wrong and where (``$.sender[0].events[2].link.href``).
  When the envelope's links could be read, the error carries them, so the
  P-GET loop can go on past a poisoned response instead of fetching it again;
- what is well-formed but not known is kept and reported in
  :attr:`EventsResponse.unknown`: an unknown event type (kept as an event
  with ``known=False``), an unknown target rel, an unknown field, a status
  other than Success/Failure, a reason code outside ``ErrorCode``. None of
  these stops the channel.

Bodies larger than :data:`MAX_EVENTS_BODY` are refused before any parsing.
XML goes through defusedxml only (entity expansion and external entities are
refused, see :mod:`adapters.wire.xml`).

The leaf records (links, reasons) are structured by cattrs with a strict
string hook, so a wrong type is an error with its path instead of a silent
``str()`` conversion.

Modules. This one holds the entry points and the body limits; every name it
had before the split is still importable from it. The values are
:mod:`adapters.wire.event_model`; the walk over a decoded document and its
fast path :mod:`adapters.wire.event_walk`; content types and JSON decoding
:mod:`adapters.wire.decoding`; XML events into the JSON shape
:mod:`adapters.wire.xml_events`; the cattrs leaf records
:mod:`adapters.wire.structuring`; resources as representations
:mod:`adapters.wire.representations`; values built through their slots
:mod:`adapters.wire.slot_setters`; the errors :mod:`adapters.wire.parse_errors`.

Choices where the docs are silent ([U]):

- XML ``status``: the ``status`` attribute of the event element, or a
  ``<status>`` child; XML ``in``: an ``<in rel href/>`` child. No XML sample
  of either exists.
- A response with no ``_links``, or with neither ``next``, ``resume`` nor
  ``resync``, is an error for the P-GET loop (it could not go on). Webhook
  POSTs need no continuation: pass ``require_links=False``.
- ``reason.parameters`` has no documented shape: a list of ``{name, value}``
  objects, a list of names, or a ``{name: value}`` object are all read.
"""

from __future__ import annotations

from typing import Final

from adapters.wire import xml as uxml
from adapters.wire.decoding import (
    JSON_TYPES,
    XML_TYPES,
    _check_size,
    _load_json,
    _reading,
    body_format,
    media_type,
)
from adapters.wire.event_model import (
    KNOWN_RELS,
    Event,
    EventLink,
    EventsResponse,
    EventType,
    ReasonBody,
    ReasonParameter,
    Sender,
)
from adapters.wire.event_walk import _EVENT_LINKS, _Walk
from adapters.wire.parse_errors import EventParseError, ParseError, ResourceParseError, _Fail
from adapters.wire.representations import _LINKS, representation_of
from adapters.wire.slot_setters import _new_object, _slot_setters
from adapters.wire.structuring import parse_reason_object
from adapters.wire.xml_events import _xml_events
from fsm.wire import json_kind

#: Largest event response accepted, in bytes (4 MiB). A real response holds a
#: few dozen events of a few KiB each; anything near this limit is an attack
#: or a bug, and is refused before it is parsed.
MAX_EVENTS_BODY: Final = 4 * 1024 * 1024

#: Largest resource body (GET of a resource, 201 of a renegotiation) accepted.
MAX_RESOURCE_BODY: Final = 4 * 1024 * 1024


def parse_events(body: bytes, content_type: str, *, require_links: bool = True) -> EventsResponse:
    """Parse one event-channel response; raises only :class:`EventParseError`.

    ``require_links=False`` for webhook POSTs, which need no ``next``.
    """
    too_big = _check_size(body, MAX_EVENTS_BODY, "MAX_EVENTS_BODY")
    if too_big is not None:
        raise EventParseError(too_big.where, too_big.why)
    if type(content_type) is str:
        fmt, charset = _reading(content_type)
    else:
        fmt, charset = _reading.__wrapped__(content_type)
    if fmt is None:
        raise EventParseError(
            "Content-Type", f"unsupported content type {content_type!r}: expected a UCWA JSON or XML type"
        )
    unknown: list[str] = []
    walk = _Walk(unknown)
    try:
        doc = _load_json(body, charset) if fmt == "json" else _xml_events(body, unknown)
        return walk.response(doc, require_links)
    except _Fail as fail:
        raise walk.fail(fail) from None
    except uxml.XmlError as exc:
        raise EventParseError("<events>", exc.why) from None


def parse_events_document(doc: object, *, require_links: bool = True) -> EventsResponse:
    """:func:`parse_events` for a JSON document already decoded; raises only :class:`EventParseError`.

    For a reader that decodes a recording once (``callfsm replay``): ``doc`` is
    walked as the parser's own, so its ``_embedded`` objects are kept without
    a copy and must not be changed afterwards. The caller bounds its size.
    """
    walk = _Walk([])
    try:
        return walk.response(doc, require_links)
    except _Fail as fail:
        raise walk.fail(fail) from None


def parse_resource(body: bytes, content_type: str | None) -> dict[str, object]:
    """A resource body (JSON, or XML ``<resource>``) in the JSON shape; raises :class:`ResourceParseError`.

    Feed the result to :func:`representation_of`.
    """
    too_big = _check_size(body, MAX_RESOURCE_BODY, "MAX_RESOURCE_BODY")
    if too_big is not None:
        raise ResourceParseError(too_big.where, too_big.why)
    fmt = body_format(content_type)
    try:
        if fmt == "json":
            doc = _load_json(body, media_type(content_type)[1].get("charset"))
            if not isinstance(doc, dict):
                raise _Fail("$", f"expected an object, got {json_kind(doc)}")
            return doc
        if fmt == "xml":
            root = uxml.parse_xml(body, what="resource")
            if uxml.local_name(root) != "resource":
                raise _Fail("<resource>", f"the root element is <{root.tag}>, not a UCWA <resource>")
            return uxml.resource_to_dict(root)
    except _Fail as fail:
        raise ResourceParseError(fail.where, fail.why) from None
    except uxml.XmlError as exc:
        raise ResourceParseError("<resource>", exc.why) from None
    raise ResourceParseError("Content-Type", f"unsupported content type {content_type!r}")


# The four private names stay importable from here, as before the split: the dispatcher builds its
# values with the slot setters, and a memory test empties the parser's two href caches.
__all__ = [
    "JSON_TYPES",
    "KNOWN_RELS",
    "MAX_EVENTS_BODY",
    "MAX_RESOURCE_BODY",
    "XML_TYPES",
    "_EVENT_LINKS",
    "_LINKS",
    "Event",
    "EventLink",
    "EventParseError",
    "EventType",
    "EventsResponse",
    "ParseError",
    "ReasonBody",
    "ReasonParameter",
    "ResourceParseError",
    "Sender",
    "_new_object",
    "_slot_setters",
    "body_format",
    "media_type",
    "parse_events",
    "parse_events_document",
    "parse_reason_object",
    "parse_resource",
    "representation_of",
]
