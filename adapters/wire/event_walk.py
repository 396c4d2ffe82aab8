"""The walk over one decoded event response (JSON shape): strict about shape, tolerant about vocabulary.

``_Walk`` checks the envelope, every sender and every event against the documented shape, raising
``_Fail`` at the first wrong one with its JSON path, and notes what is well-formed but unknown. Nearly
every event takes the fast path (``_plain_event``), which builds the value the strict walk would build
for a plain, known event with plain dict access, and hands anything else to the strict walk. The walk
is apart from the decoding of bytes and from XML so that the one walk serves JSON, XML and documents
decoded elsewhere (``parse_events_document``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from adapters.wire.event_model import (
    _EVENT_TYPES,
    KNOWN_RELS,
    Event,
    EventLink,
    EventsResponse,
    EventType,
    ReasonBody,
    Sender,
    _EnvelopeLink,
)
from adapters.wire.parse_errors import EventParseError, _Fail
from adapters.wire.representations import _LINKS_MAX
from adapters.wire.slot_setters import _new_object, _slot_setters
from adapters.wire.structuring import _structure
from fsm.outcome import CompletionStatus
from fsm.reasons import parse_error_code
from fsm.wire import bare_rel, json_kind

_MISSING: Final = object()

#: ``CompletionStatus`` by lowered value: the same rule as :meth:`CompletionStatus.parse`, as a dict.
_COMPLETION_STATUSES: Final[Mapping[str, CompletionStatus]] = {
    member.value.lower(): member for member in CompletionStatus
}
#: The documented spellings (``Success``, ``Failure``).
_COMPLETION_SPELLINGS: Final = frozenset(member.value for member in CompletionStatus)

_ENVELOPE_RELS = ("self", "next", "resume", "resync")
_TOP_FIELDS = frozenset({"_links", "sender", "baseuri"})
_SENDER_FIELDS = frozenset({"rel", "href", "title", "events"})
_EVENT_FIELDS = frozenset({"link", "in", "type", "status", "reason", "_embedded"})
_REASON_FIELDS = frozenset({"code", "subcode", "message", "debugInfo", "parameters", "link"})


class _Walk:
    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown
        self.links: dict[str, str] = {}

    def note(self, text: str) -> None:
        self.unknown.append(text)

    def fail(self, fail: _Fail) -> EventParseError:
        return EventParseError(
            fail.where,
            fail.why,
            next_href=self.links.get("next"),
            resume_href=self.links.get("resume"),
            resync_href=self.links.get("resync"),
        )

    def response(self, doc: object, require_links: bool) -> EventsResponse:
        if type(doc) is not dict and not isinstance(doc, Mapping):
            raise _Fail("$", f"expected an object, got {json_kind(doc)}")
        self.envelope_links(doc.get("_links", _MISSING), require_links)
        baseuri = doc.get("baseuri")
        if baseuri is not None and not isinstance(baseuri, str):
            raise _Fail("$.baseuri", f"expected a string, got {json_kind(baseuri)}")
        raw_senders = doc.get("sender")
        if raw_senders is None:
            raw_senders = []
        if not isinstance(raw_senders, list):
            raise _Fail("$.sender", f"expected an array of senders, got {json_kind(raw_senders)}")
        senders = tuple(self.sender(raw, f"$.sender[{i}]") for i, raw in enumerate(raw_senders))
        for key in doc:
            if key not in _TOP_FIELDS:
                self.note(f"$: unknown field {key!r} ignored")
        return EventsResponse(
            self_href=self.links.get("self"),
            next_href=self.links.get("next"),
            resume_href=self.links.get("resume"),
            resync_href=self.links.get("resync"),
            senders=senders,
            baseuri=baseuri,
            unknown=tuple(self.unknown),
        )

    def envelope_links(self, raw: object, require_links: bool) -> None:
        if raw is _MISSING or raw is None:
            if require_links:
                raise _Fail("$._links", "missing: an event response must carry its next (or resume/resync) link")
            return
        if not isinstance(raw, Mapping):
            raise _Fail("$._links", f"expected an object (rel -> link), got {json_kind(raw)}")
        for rel, value in raw.items():
            if rel not in _ENVELOPE_RELS:
                self.note(f"$._links: unknown rel {rel!r} ignored")
                continue
            href = value.get("href") if type(value) is dict else None
            title = value.get("title") if type(value) is dict else None
            if type(href) is str and (title is None or type(title) is str):
                self.links[rel] = href  # the usual {href} object: what cattrs would give, without it
            else:
                self.links[rel] = _structure(value, _EnvelopeLink, f"$._links.{rel}").href
        links = self.links
        if require_links and not ("next" in links or "resume" in links or "resync" in links):
            raise _Fail("$._links", "has no next, resume or resync link: the channel could not go on")

    def sender(self, raw: object, path: str) -> Sender:
        if type(raw) is not dict and not isinstance(raw, Mapping):
            raise _Fail(path, f"expected a sender object, got {json_kind(raw)}")
        rel = raw.get("rel", _MISSING)
        href = raw.get("href", _MISSING)
        for name, value in (("rel", rel), ("href", href)):
            if value is _MISSING:
                raise _Fail(f"{path}.{name}", "missing")
            if not isinstance(value, str):
                raise _Fail(f"{path}.{name}", f"expected a string, got {json_kind(value)}")
        raw_events = raw.get("events")
        if raw_events is None:
            raw_events = []
            self.note(f"{path}: sender with no events")
        if not isinstance(raw_events, list):
            raise _Fail(f"{path}.events", f"expected an array of events, got {json_kind(raw_events)}")
        for key in raw:
            if key not in _SENDER_FIELDS:
                self.note(f"{path}: unknown field {key!r} ignored")
        events: list[Event] = []
        for i, ev in enumerate(raw_events):
            event = _plain_event(ev)
            events.append(self.event(ev, f"{path}.events[{i}]") if event is None else event)
        return Sender(rel=str(rel), href=str(href), events=tuple(events))

    def event(self, raw: object, path: str) -> Event:
        if not isinstance(raw, Mapping):
            raise _Fail(path, f"expected an event object, got {json_kind(raw)}")
        if "link" not in raw:
            raise _Fail(f"{path}.link", "missing: an event must name its target")
        link = _structure(raw["link"], EventLink, f"{path}.link")
        in_raw = raw.get("in")
        in_ = None if in_raw is None else _structure(in_raw, EventLink, f"{path}.in")
        type_ = raw.get("type", _MISSING)
        if type_ is _MISSING:
            raise _Fail(f"{path}.type", "missing")
        if not isinstance(type_, str):
            raise _Fail(f"{path}.type", f"expected a string, got {json_kind(type_)}")
        status = raw.get("status")
        if status is not None and not isinstance(status, str):
            raise _Fail(f"{path}.status", f"expected a string, got {json_kind(status)}")
        reason_raw = raw.get("reason")
        reason = None if reason_raw is None else _structure(reason_raw, ReasonBody, f"{path}.reason")
        embedded = raw.get("_embedded")
        if embedded is not None and not isinstance(embedded, Mapping):
            raise _Fail(f"{path}._embedded", f"expected an object (rel -> resource), got {json_kind(embedded)}")
        known = EventType.parse(type_) is not None
        if not known:
            self.note(f"{path}: unknown event type {type_!r} kept, not applied")
        if link.name not in KNOWN_RELS:
            self.note(f"{path}.link: unknown rel {link.rel!r}")
        if status is not None and status.strip().lower() not in _COMPLETION_STATUSES:
            self.note(f"{path}.status: unknown status {status!r} (neither Success nor Failure)")
        if reason is not None:
            if reason.code is not None and parse_error_code(reason.code) is None:
                self.note(f"{path}.reason.code: unknown code {reason.code!r}")
            if isinstance(reason_raw, Mapping):
                for key in reason_raw:
                    if key not in _REASON_FIELDS:
                        self.note(f"{path}.reason: unknown field {key!r} ignored")
        for key in raw:
            if key not in _EVENT_FIELDS:
                self.note(f"{path}: unknown field {key!r} ignored")
        return Event(
            link=link,
            in_=in_,
            type=type_,
            status=status,
            reason=reason,
            embedded=embedded,
            known=known,
        )


# -- the fast path: the common, valid event that needs no note ---------------------------------
#
# Nearly every event is a plain object with a known type, a link of a known
# rel, maybe a status, ``in`` and ``_embedded``, and no ``reason``. For that
# shape the strict walk above would build exactly the values below and note
# nothing, so they are built with plain dict access. Anything else (a reason,
# an unknown field, type, rel or status, a wrong type anywhere) returns None
# and goes through the strict walk, which builds the same value or raises the
# same informative error it always did.

#: Fields the fast path takes: the event's fields without ``reason`` (rare: the strict walk reads it).
_PLAIN_EVENT_FIELDS: Final = _EVENT_FIELDS - {"reason"}
_SET_EVENT_LINK_SLOTS: Final = _slot_setters(EventLink)
_SET_EVENT_SLOTS: Final = _slot_setters(Event, converted=frozenset({"embedded"}))
#: EventLinks already made, by href (rel and title compared on use); bounded like :data:`_LINKS`.
_EVENT_LINKS: Final[dict[str, EventLink]] = {}


def _plain_link(raw: object) -> EventLink | None:
    """``raw`` as cattrs would structure it, when it is a plain object of strings; else ``None``."""
    if type(raw) is not dict:
        return None
    rel = raw.get("rel")
    href = raw.get("href")
    title = raw.get("title")
    if type(rel) is not str or type(href) is not str or (title is not None and type(title) is not str):
        return None
    # a resource's every event names it again: share the (immutable) value, as for Links
    link = _EVENT_LINKS.get(href)
    if link is not None and link.rel == rel and link.title == title:
        return link
    if len(_EVENT_LINKS) >= _LINKS_MAX:
        _EVENT_LINKS.clear()
    link = _new_object(EventLink)
    set_rel, set_href, set_title = _SET_EVENT_LINK_SLOTS
    set_rel(link, rel)
    set_href(link, href)
    set_title(link, title)
    _EVENT_LINKS[href] = link
    return link


def _plain_event(raw: object) -> Event | None:
    """The :class:`Event` the strict walk would give ``raw`` without a note; ``None``: let it decide."""
    if type(raw) is not dict or not _PLAIN_EVENT_FIELDS.issuperset(raw):
        return None
    link = _plain_link(raw.get("link"))
    # ``bare_rel(rel) in KNOWN_RELS``: KNOWN_RELS holds bare rels only, so a rel found as it is needs no stripping
    if link is None or (link.rel not in KNOWN_RELS and bare_rel(link.rel) not in KNOWN_RELS):
        return None
    in_raw = raw.get("in")
    in_ = None
    if in_raw is not None:
        in_ = _plain_link(in_raw)
        if in_ is None:
            return None
    # the exact spellings ("started", "Success") first: the normalised test agrees whenever they match
    type_ = raw.get("type")
    if type(type_) is not str or (type_ not in _EVENT_TYPES and type_.strip().lower() not in _EVENT_TYPES):
        return None
    status = raw.get("status")
    if status is not None and (
        type(status) is not str
        or (status not in _COMPLETION_SPELLINGS and status.strip().lower() not in _COMPLETION_STATUSES)
    ):
        return None
    embedded = raw.get("_embedded")
    if embedded is not None and type(embedded) is not dict:
        return None
    # Event(link, in_, type_, status, None, embedded, True), its converter applied by hand
    event: Event = _new_object(Event)
    set_link, set_in, set_type, set_status, set_reason, set_embedded, set_known = _SET_EVENT_SLOTS
    set_link(event, link)
    set_in(event, in_)
    set_type(event, type_)
    set_status(event, status)
    set_reason(event, None)
    # no copy, unlike the converter: this dict is the parser's own, reachable from nothing else once parsed
    set_embedded(event, None if embedded is None else MappingProxyType(embedded))
    set_known(event, True)
    return event

