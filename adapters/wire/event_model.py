"""The typed values of one event-channel response: the response, its senders, their events.

:class:`EventsResponse` holds :class:`Sender` values in delivery order, each holding :class:`Event`
values; an event names its target (:class:`EventLink`), maybe its collection, its type
(:class:`EventType`, kept verbatim when unknown), a status and a :class:`ReasonBody`. The properties
an event offers (its embedded resource, representation, content links, wire state) are computed on
access, not while parsing. The values are apart from the walk that builds them so that their readers
(the dispatcher, replay, the simulator) see the model without the parser's machinery.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any, Final

from attrs import field, frozen

from adapters.wire.data_uri import BadDataUri, DataUri, content_links
from adapters.wire.representations import representation_of
from fsm.outcome import CompletionStatus
from fsm.reasons import Reason
from fsm.wire import Representation, WireValue, bare_rel, resource_state


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
