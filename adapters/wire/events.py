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

import codecs
import functools
import json
from collections.abc import Callable, Mapping
from enum import Enum
from types import MappingProxyType, MemberDescriptorType
from typing import Any, Final, TypeVar

import cattrs
from attrs import field, frozen
from attrs import fields as attrs_fields
from cattrs.gen import make_dict_structure_fn, override

from adapters.wire import xml as uxml
from adapters.wire.data_uri import BadDataUri, DataUri, content_links
from fsm.errors import CallFsmError
from fsm.outcome import CompletionStatus
from fsm.reasons import Reason, parse_error_code
from fsm.wire import Link, Representation, WireValue, bare_rel, resource_state

#: Largest event response accepted, in bytes (4 MiB). A real response holds a
#: few dozen events of a few KiB each; anything near this limit is an attack
#: or a bug, and is refused before it is parsed.
MAX_EVENTS_BODY: Final = 4 * 1024 * 1024

#: Largest resource body (GET of a resource, 201 of a renegotiation) accepted.
MAX_RESOURCE_BODY: Final = 4 * 1024 * 1024

_MISSING: Final = object()


class ParseError(CallFsmError, ValueError):
    """A body from the server could not be read. ``where`` is a JSON path or an XML location."""

    def __init__(self, what: str, where: str, why: str) -> None:
        self.what = what
        self.where = where
        self.why = why
        super().__init__(f"{what}: {where}: {why}")


class EventParseError(ParseError):
    """An event-channel response is unreadable: nothing in it was applied.

    ``next_href``/``resume_href``/``resync_href`` are set when the envelope's
    links could be read before the error was found.
    """

    def __init__(
        self,
        where: str,
        why: str,
        *,
        next_href: str | None = None,
        resume_href: str | None = None,
        resync_href: str | None = None,
    ) -> None:
        self.next_href = next_href
        self.resume_href = resume_href
        self.resync_href = resync_href
        super().__init__("event response", where, why)


class ResourceParseError(ParseError):
    """A resource body (GET, 201 with a body) is unreadable."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__("resource", where, why)


class EventType(Enum):
    """``events[].type``: resources are added/updated/deleted, operations started/updated/completed."""

    ADDED = "added"
    UPDATED = "updated"
    DELETED = "deleted"
    STARTED = "started"
    COMPLETED = "completed"

    @classmethod
    def parse(cls, text: str) -> EventType | None:
        """The member for a wire type, ignoring case; ``None`` when unknown."""
        # a dict, not a scan of the members: every event asks, several times
        return _EVENT_TYPES.get(text.strip().lower())


#: ``EventType`` by value: what :meth:`EventType.parse` looks the lowered text up in.
_EVENT_TYPES: Final[Mapping[str, EventType]] = {member.value: member for member in EventType}
#: ``CompletionStatus`` by lowered value: the same rule as :meth:`CompletionStatus.parse`, as a dict.
_COMPLETION_STATUSES: Final[Mapping[str, CompletionStatus]] = {
    member.value.lower(): member for member in CompletionStatus
}
#: The documented spellings (``Success``, ``Failure``).
_COMPLETION_SPELLINGS: Final = frozenset(member.value for member in CompletionStatus)


#: Rels (compared without the ``ms:rtc:saas:`` prefix) that the event channel
#: documents (docs/protocol.md §2.3 and the samples of S1 ``EventChannelDetails.md``).
#: Anything else is kept and reported.
KNOWN_RELS: Final = frozenset(
    {
        "audioVideoInvitation",
        "messagingInvitation",
        "onlineMeetingInvitation",
        "participantInvitation",
        "phoneAudioInvitation",
        "audioVideoRenegotiation",
        "applicationSharingRenegotiation",
        "audioVideoNegotiation",
        "participant",
        "localParticipant",
        "conversation",
        "communication",
        "audioVideo",
        "messaging",
        "phoneAudio",
        "applicationSharing",
        "dataCollaboration",
        "audioVideoSession",
        "onlineMeeting",
        "lobby",
        "message",
        "application",
        "me",
        "presence",
        "note",
        "location",
        "prompt",
        "audioVideoFlow",
    }
)

_ENVELOPE_RELS = ("self", "next", "resume", "resync")
_TOP_FIELDS = frozenset({"_links", "sender", "baseuri"})
_SENDER_FIELDS = frozenset({"rel", "href", "title", "events"})
_EVENT_FIELDS = frozenset({"link", "in", "type", "status", "reason", "_embedded"})
_REASON_FIELDS = frozenset({"code", "subcode", "message", "debugInfo", "parameters", "link"})


@frozen
class EventLink:
    """An event's ``link`` (its target) or ``in`` (the collection), as the server wrote it."""

    rel: str
    href: str
    title: str | None = None

    @property
    def name(self) -> str:
        """The rel without the Trusted Application API prefix."""
        return bare_rel(self.rel)


@frozen
class _EnvelopeLink:
    href: str
    title: str | None = None


@frozen
class ReasonParameter:
    """One entry of ``reason.parameters`` (e.g. a property that failed validation)."""

    name: str
    value: str | None = None


@frozen
class ReasonBody:
    """A ``reason`` block, verbatim: the common UCWA error structure."""

    code: str | None = None
    subcode: str | None = None
    message: str | None = None
    #: Opaque diagnostics: log it, never interpret it.
    debug_info: str | None = None
    parameters: tuple[ReasonParameter, ...] = ()

    def to_reason(self) -> Reason:
        return Reason(code=self.code, subcode=self.subcode, message=self.message)


def _frozen_mapping(value: Mapping[str, object] | None) -> Mapping[str, object] | None:
    return None if value is None else MappingProxyType(dict(value))


@frozen
class Event:
    """One event, in the order the channel delivered it."""

    #: The target resource.
    link: EventLink
    #: The collection the resource was added to or removed from (``lobby``...).
    in_: EventLink | None
    #: The type exactly as the wire wrote it.
    type: str
    status: str | None = None
    reason: ReasonBody | None = None
    #: The raw ``_embedded`` object, keyed by rel (read-only view). Not hashed.
    embedded: Mapping[str, object] | None = field(default=None, converter=_frozen_mapping, hash=False)
    #: False when ``type`` is not an :class:`EventType`: kept, reported, never applied.
    known: bool = True

    @property
    def event_type(self) -> EventType | None:
        # the wire's usual spelling is the value itself: one dict lookup, else the full rule
        return _EVENT_TYPES.get(self.type) or EventType.parse(self.type)

    @property
    def completion_status(self) -> CompletionStatus | None:
        return CompletionStatus.parse(self.status)

    @property
    def resource(self) -> Mapping[str, object] | None:
        """The embedded representation of the target: by its rel, else the only one embedded."""
        embedded = self.embedded
        if not embedded:
            return None
        rel = self.link.rel
        value = embedded.get(rel)
        if type(value) is dict or isinstance(value, Mapping):
            return value
        name = bare_rel(rel)
        if name != rel:
            value = embedded.get(name)
            if isinstance(value, Mapping):
                return value
        for key, value in embedded.items():
            if isinstance(value, Mapping) and bare_rel(key) == self.link.name:
                return value
        objects = [v for v in embedded.values() if isinstance(v, Mapping)]
        return objects[0] if len(objects) == 1 else None

    def representation(self) -> Representation | None:
        """The embedded target as a :class:`~fsm.wire.Representation`, or ``None``."""
        resource = self.resource
        return None if resource is None else representation_of(resource)

    @property
    def operation_id(self) -> str | None:
        resource = self.resource
        value = None if resource is None else resource.get("operationId")
        return value if isinstance(value, str) else None

    @property
    def content(self) -> dict[str, DataUri | BadDataUri]:
        """The embedded target's ``data:`` links (mediaOffer, mediaAnswer, customContent, message), decoded.

        Decoded on each access, not while parsing: most events carry none. A bad URI is kept as a
        :class:`~adapters.wire.data_uri.BadDataUri` saying why (docs/protocol.md §6).
        """
        resource = self.resource
        return {} if resource is None else content_links(resource)

    @property
    def wire_state(self) -> WireValue[Any] | None:
        """The embedded target's ``CallState`` (a modality) or ``SessionState`` (an audioVideoSession).

        ``None`` for other resources; an unknown value is kept (``member is None``), docs/protocol.md §1.1.
        """
        resource = self.resource
        return None if resource is None else resource_state(self.link.rel, resource)


@frozen
class Sender:
    rel: str
    href: str
    events: tuple[Event, ...]


@frozen
class EventsResponse:
    """One event-channel response."""

    self_href: str | None
    next_href: str | None
    resume_href: str | None
    resync_href: str | None
    senders: tuple[Sender, ...]
    #: Trusted Application API: relative hrefs resolve against this.
    baseuri: str | None = None
    #: What was kept but not understood, one line each, with its location.
    unknown: tuple[str, ...] = ()

    @property
    def events(self) -> tuple[Event, ...]:
        """Every event, sender by sender, in delivery order."""
        senders = self.senders
        if len(senders) == 1:  # the usual response: its one sender's tuple is the answer
            return senders[0].events
        return tuple(event for sender in senders for event in sender.events)

    @property
    def continuation(self) -> str | None:
        """Where the next P-GET goes: ``resync`` wins, then ``resume``, then ``next``."""
        return self.resync_href or self.resume_href or self.next_href


# -- representations -----------------------------------------------------------------


def representation_of(resource: Mapping[str, object]) -> Representation:
    """The parts of a resource (JSON shape, from JSON or XML) that the machines read.

    Tolerant: a property of the wrong type is read as absent, a link without a
    string ``href`` is skipped. A rel whose value is an array gives one link each.
    """
    links: list[Link] = []
    raw = resource.get("_links")
    if type(raw) is dict or isinstance(raw, Mapping):
        for rel, value in raw.items():
            if type(value) is dict:
                # the usual shape, one {href} object per rel: Link(rel, href), without the generic walk below
                href = value.get("href")
                if type(href) is str and type(rel) is str:
                    link = _LINKS.get(href)
                    if link is None or link.rel != rel:
                        link = _new_link(rel, href)
                    links.append(link)
                    continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Mapping) and isinstance(item.get("href"), str) and isinstance(rel, str):
                    links.append(Link(rel, item["href"]))
    state = resource.get("state")
    direction = resource.get("direction")
    operation_id = resource.get("operationId")
    # Representation(state=..., direction=..., operation_id=..., links=tuple(links)), each property read as
    # absent unless it is a string
    representation: Representation = _new_object(Representation)
    _set_representation_state(representation, state if isinstance(state, str) else None)
    _set_representation_direction(representation, direction if isinstance(direction, str) else None)
    _set_representation_operation_id(representation, operation_id if isinstance(operation_id, str) else None)
    _set_representation_links(representation, tuple(links))
    return representation


# -- frozen values made without attrs' frozen __init__ ------------------------------------
#
# A frozen attrs class sets each slot through a bound ``object.__setattr__``;
# on the ingestion path (an Event, its EventLink, a Representation and its
# Links per event) that is a few microseconds per event. Setting the same
# slots through their descriptors makes the same immutable object. Only
# classes without validators, converters or a post-init are made this way
# (checked below, at import), and the one converter involved is applied by
# hand (``Representation.links``: a tuple is given; ``Event.embedded``).

_new_object: Final = object.__new__


def _slot_setters(cls: type, *, converted: frozenset[str] = frozenset()) -> tuple[Callable[[Any, Any], None], ...]:
    """The setters of ``cls``'s field slots, in field order; refuses a class they would not build faithfully.

    ``converted``: fields whose converter the caller applies itself.
    """
    names = [a.name for a in attrs_fields(cls)]
    plain = all(
        a.init and a.validator is None and (a.converter is None or a.name in converted) for a in attrs_fields(cls)
    )
    descriptors = [cls.__dict__.get(name) for name in names]
    extra_slots = set(cls.__dict__.get("__slots__", ())) - set(names) - {"__weakref__"}
    if (
        not plain
        or extra_slots
        or hasattr(cls, "__attrs_post_init__")
        or not all(isinstance(d, MemberDescriptorType) for d in descriptors)
    ):
        raise TypeError(f"{cls.__name__} cannot be built through its slots")
    return tuple(d.__set__ for d in descriptors)  # type: ignore[union-attr]


_set_link_rel, _set_link_href = _slot_setters(Link)
(
    _set_representation_state,
    _set_representation_direction,
    _set_representation_operation_id,
    _set_representation_links,
) = _slot_setters(Representation, converted=frozenset({"links"}))

#: Links already made, by href (the rel is compared on use). A resource's links
#: come again in each of its events (the ringing invitation's accept, decline
#: and cancel, ``self``), and a Link is an immutable value, so representations
#: share them: a lookup is a fifth of the cost of a new one. Bounded: emptied
#: when full.
_LINKS: Final[dict[str, Link]] = {}
_LINKS_MAX: Final = 4096


def _new_link(rel: str, href: str) -> Link:
    """``Link(rel, href)``, remembered in :data:`_LINKS`."""
    if len(_LINKS) >= _LINKS_MAX:
        _LINKS.clear()
    link: Link = _new_object(Link)
    _set_link_rel(link, rel)
    _set_link_href(link, href)
    _LINKS[href] = link
    return link


# -- cattrs: the leaf records ----------------------------------------------------------

_converter = cattrs.Converter(forbid_extra_keys=False)


class _ShapeError(ValueError):
    """Raised by the structure hooks: its message is already the clear one."""


def _strict_str(value: object, _: object) -> str:
    if not isinstance(value, str):
        raise _ShapeError(f"expected a string, got {_kind(value)}")
    return value


def _opaque_text(value: object, _: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _param_value(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _parameters(value: object, _: object) -> tuple[ReasonParameter, ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return tuple(ReasonParameter(str(k), _param_value(v)) for k, v in value.items())
    if isinstance(value, list):
        out: list[ReasonParameter] = []
        for item in value:
            if isinstance(item, str):
                out.append(ReasonParameter(item))
            elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
                out.append(ReasonParameter(item["name"], _param_value(item.get("value"))))
            else:
                raise _ShapeError(f"a parameter must be a name or a {{name, value}} object, got {_kind(item)}")
        return tuple(out)
    raise _ShapeError(f"expected an array or an object, got {_kind(value)}")


_converter.register_structure_hook(str, _strict_str)
_converter.register_structure_hook(
    ReasonBody,
    make_dict_structure_fn(
        ReasonBody,
        _converter,
        debug_info=override(rename="debugInfo", struct_hook=_opaque_text),
        parameters=override(struct_hook=_parameters),
    ),
)

R = TypeVar("R")


def _structure(raw: object, cls: type[R], path: str) -> R:
    """cattrs, with its errors turned into a message that names the path."""
    if not isinstance(raw, Mapping):
        raise _Fail(path, f"expected an object, got {_kind(raw)}")
    try:
        return _converter.structure(raw, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            first = cattrs.transform_error(exc, path=path, format_exception=_format)[0]
            why, _, where = first.rpartition(" @ ")
            raise _Fail(where or path, why or first) from None
        raise _Fail(path, str(exc)) from None


def _format(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, _ShapeError):
        return str(exc)
    # cattrs says "invalid value for type, expected str | None"; keep it, minus the jargon
    return cattrs.v.format_exception(exc, type_).replace("invalid value for type, ", "wrong type, ")


def parse_reason_object(raw: object, path: str = "$") -> ReasonBody:
    """A ``reason`` object (JSON shape) as a :class:`ReasonBody`; raises :class:`ParseError`."""
    try:
        return _structure(raw, ReasonBody, path)
    except _Fail as fail:
        raise ParseError("reason", fail.where, fail.why) from None


# -- the walk -------------------------------------------------------------------------


class _Fail(Exception):
    """Internal: a shape error at a path; becomes an EventParseError with the links known so far."""

    def __init__(self, where: str, why: str) -> None:
        self.where = where
        self.why = why
        super().__init__(f"{where}: {why}")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


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
            raise _Fail("$", f"expected an object, got {_kind(doc)}")
        self.envelope_links(doc.get("_links", _MISSING), require_links)
        baseuri = doc.get("baseuri")
        if baseuri is not None and not isinstance(baseuri, str):
            raise _Fail("$.baseuri", f"expected a string, got {_kind(baseuri)}")
        raw_senders = doc.get("sender")
        if raw_senders is None:
            raw_senders = []
        if not isinstance(raw_senders, list):
            raise _Fail("$.sender", f"expected an array of senders, got {_kind(raw_senders)}")
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
            raise _Fail("$._links", f"expected an object (rel -> link), got {_kind(raw)}")
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
            raise _Fail(path, f"expected a sender object, got {_kind(raw)}")
        rel = raw.get("rel", _MISSING)
        href = raw.get("href", _MISSING)
        for name, value in (("rel", rel), ("href", href)):
            if value is _MISSING:
                raise _Fail(f"{path}.{name}", "missing")
            if not isinstance(value, str):
                raise _Fail(f"{path}.{name}", f"expected a string, got {_kind(value)}")
        raw_events = raw.get("events")
        if raw_events is None:
            raw_events = []
            self.note(f"{path}: sender with no events")
        if not isinstance(raw_events, list):
            raise _Fail(f"{path}.events", f"expected an array of events, got {_kind(raw_events)}")
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
            raise _Fail(path, f"expected an event object, got {_kind(raw)}")
        if "link" not in raw:
            raise _Fail(f"{path}.link", "missing: an event must name its target")
        link = _structure(raw["link"], EventLink, f"{path}.link")
        in_raw = raw.get("in")
        in_ = None if in_raw is None else _structure(in_raw, EventLink, f"{path}.in")
        type_ = raw.get("type", _MISSING)
        if type_ is _MISSING:
            raise _Fail(f"{path}.type", "missing")
        if not isinstance(type_, str):
            raise _Fail(f"{path}.type", f"expected a string, got {_kind(type_)}")
        status = raw.get("status")
        if status is not None and not isinstance(status, str):
            raise _Fail(f"{path}.status", f"expected a string, got {_kind(status)}")
        reason_raw = raw.get("reason")
        reason = None if reason_raw is None else _structure(reason_raw, ReasonBody, f"{path}.reason")
        embedded = raw.get("_embedded")
        if embedded is not None and not isinstance(embedded, Mapping):
            raise _Fail(f"{path}._embedded", f"expected an object (rel -> resource), got {_kind(embedded)}")
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


# -- content types and decoding ---------------------------------------------------------

JSON_TYPES: Final = frozenset({"application/json", "application/vnd.microsoft.com.ucwa+json"})
XML_TYPES: Final = frozenset({"application/xml", "text/xml", "application/vnd.microsoft.com.ucwa+xml"})


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type into its lower-cased media type and its parameters.

    ``'application/json; type="x"; charset=utf-8'`` -> ``("application/json", {"type": "x", "charset": "utf-8"})``.
    """
    if not content_type:
        return "", {}
    head, *params = content_type.split(";")
    out: dict[str, str] = {}
    for param in params:
        key, sep, value = param.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip().strip('"')
    return head.strip().lower(), out


def body_format(content_type: str | None) -> str | None:
    """``"json"``, ``"xml"`` or ``None`` for a Content-Type."""
    kind, _ = media_type(content_type)
    if kind in JSON_TYPES or kind.endswith("+json"):
        return "json"
    if kind in XML_TYPES or kind.endswith("+xml"):
        return "xml"
    return None


@functools.lru_cache(maxsize=64)
def _reading(content_type: str | None) -> tuple[str | None, str | None]:
    """``(body_format, charset)`` of a Content-Type, remembered: a channel sends the same one every time."""
    return body_format(content_type), media_type(content_type)[1].get("charset")


def _load_json(body: bytes, charset: str | None) -> Any:
    try:
        if charset and codecs.lookup(charset).name not in ("utf-8", "utf-16", "utf-32"):
            return json.loads(body.decode(charset))
        # decode strictly ourselves: json.loads(bytes) lets lone surrogates through
        return json.loads(body.decode(json.detect_encoding(body)))
    except LookupError:
        raise _Fail("Content-Type", f"unknown charset {charset!r}") from None
    except json.JSONDecodeError as exc:
        ended = exc.pos >= len(exc.doc.rstrip()) - 1
        hint = " (the body ends early: truncated?)" if ended else ""
        raise _Fail("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}") from None
    except UnicodeDecodeError as exc:
        raise _Fail("$", f"not valid text in its charset: {exc.reason} at byte {exc.start}") from None
    except RecursionError:
        raise _Fail("$", "nested too deeply") from None
    except ValueError as exc:  # CPython's int-digit limit raises it outside JSONDecodeError
        raise _Fail("$", f"not valid JSON: {exc}") from None


def _check_size(body: bytes, limit: int, what: str) -> _Fail | None:
    if len(body) > limit:
        mib = limit / (1024 * 1024)
        return _Fail("body", f"{len(body)} bytes, above the {what} limit of {limit} bytes ({mib:g} MiB)")
    return None


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
                raise _Fail("$", f"expected an object, got {_kind(doc)}")
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


# -- XML events into the JSON shape ----------------------------------------------------------


def _xml_events(body: bytes, unknown: list[str]) -> dict[str, object]:
    root = uxml.parse_xml(body, what="event response")
    if uxml.local_name(root) != "events":
        raise _Fail("<events>", f"the root element is <{root.tag}>, not a UCWA <events>")
    doc: dict[str, object] = {}
    links: dict[str, object] = {}
    href = root.get("href")
    if href is not None:
        links["self"] = {"href": href}
    senders: list[object] = []
    for name, child in uxml.children(root):
        if name == "link" and child.get("rel"):
            links[child.get("rel", "")] = uxml.link_to_dict(child)
        elif name == "sender":
            senders.append(_xml_sender(child, f"<events>/sender[{len(senders)}]", unknown))
        elif name == "property" and child.get("name") == "baseuri":
            doc["baseuri"] = uxml.text_of(child)
        else:
            unknown.append(f"<events>: unknown element <{child.tag}> ignored")
    if links:
        doc["_links"] = links
    if senders:
        doc["sender"] = senders
    return doc


def _attrs(element: Any, names: tuple[str, ...]) -> dict[str, object]:
    return {name: element.get(name) for name in names if element.get(name) is not None}


def _xml_sender(element: Any, where: str, unknown: list[str]) -> dict[str, object]:
    out = _attrs(element, ("rel", "href", "title"))
    events: list[object] = []
    for name, child in uxml.children(element):
        if name is None:
            unknown.append(f"{where}: element <{child.tag}> in a foreign namespace ignored")
            continue
        events.append(_xml_event(name, child, f"{where}/{name}[{len(events)}]", unknown))
    out["events"] = events
    return out


def _xml_event(name: str, element: Any, where: str, unknown: list[str]) -> dict[str, object]:
    out: dict[str, object] = {"type": name, "link": _attrs(element, ("rel", "href", "title"))}
    status = element.get("status")
    if status is not None:
        out["status"] = status
    for attr in element.attrib:
        if attr not in ("rel", "href", "title", "status"):
            unknown.append(f"{where}: unknown attribute {attr!r} ignored")
    embedded: dict[str, object] = {}
    for child_name, child in uxml.children(element):
        if child_name == "resource":
            rel = child.get("rel") or element.get("rel") or ""
            uxml.add_repeated(embedded, rel, uxml.resource_to_dict(child, unknown=unknown, where=f"{where}/resource"))
        elif child_name == "reason":
            out["reason"] = uxml.fields_to_dict(child, unknown=unknown, where=f"{where}/reason")
        elif child_name == "in":
            out["in"] = _attrs(child, ("rel", "href", "title"))
        elif child_name == "status":
            out["status"] = uxml.text_of(child)
        else:
            unknown.append(f"{where}: unknown element <{child.tag}> ignored")
    if embedded:
        out["_embedded"] = embedded
    return out
