"""The parts of a UCWA resource representation that the machines read.

Adapters parse JSON or XML into these values (through cattrs); the machines
only ever see them. Links gate actions, so the latest representation's links
are what decide whether ``accept`` or ``cancel`` may be sent.

Rel names are compared without the Trusted Application API prefix
``ms:rtc:saas:``, so one table serves UCWA and the SaaS API; the rel is kept
as the server wrote it, because that is what the adapters must send back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from functools import cache
from typing import Any, Generic, Self, TypeVar

from attrs import field, frozen

SAAS_PREFIX = "ms:rtc:saas:"


def bare_rel(rel: str) -> str:
    """``ms:rtc:saas:accept`` -> ``accept``; UCWA rels are returned unchanged."""
    return rel[len(SAAS_PREFIX) :] if rel.startswith(SAAS_PREFIX) else rel


class WireEnum(Enum):
    """An enum whose values are wire strings, parsed ignoring case and surrounding space.

    The docs capitalise inconsistently (``Success`` on the wire, "success" in
    the prose), so every enum read off the wire is matched this way.
    """

    @classmethod
    def parse(cls, text: str | None) -> Self | None:
        """The member whose value is ``text`` (any case), or ``None``: never an exception."""
        if text is None:
            return None
        found: Self | None = _members_by_lowered_value(cls).get(text.strip().lower())
        return found


@cache
def _members_by_lowered_value(cls: type[WireEnum]) -> dict[str, Any]:
    return {member.value.lower(): member for member in cls}


class Direction(WireEnum):
    INCOMING = "Incoming"
    OUTGOING = "Outgoing"


class CallState(WireEnum):
    """``CallState`` (docs/protocol.md §1.1): a modality's ``state`` (audioVideo, messaging, phoneAudio).

    The docs describe the modality ``state`` only by examples, so a value
    outside this set is kept as given (:class:`WireValue`), never refused.
    """

    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    TRANSFERRING = "Transferring"
    DISCONNECTING = "Disconnecting"
    DISCONNECTED = "Disconnected"


class SessionState(WireEnum):
    """``SessionState`` (docs/protocol.md §1.1): the ``state`` of an ``audioVideoSession``."""

    ESTABLISHING = "Establishing"
    ESTABLISHED = "Established"
    SUSPENDED = "Suspended"


class JobStatus(WireEnum):
    """``Status`` (docs/protocol.md §1.1): a job instance's ``status``; not an event's Success/Failure."""

    PENDING = "Pending"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


E = TypeVar("E", bound=WireEnum)


@frozen
class WireValue(Generic[E]):
    """An enumerated property as the wire gave it: the text always, the member when it is known.

    An unknown value is kept (``member is None``) so it can be reported, never dropped or refused.
    """

    text: str
    member: E | None

    @property
    def known(self) -> bool:
        return self.member is not None


def read_enum(enum: type[E], value: object) -> WireValue[E] | None:
    """``value`` (a property read off the wire) as a :class:`WireValue`; ``None`` when it is no string."""
    if not isinstance(value, str):
        return None
    return WireValue(value, enum.parse(value))


#: Which enumeration a resource's property takes, by bare rel (docs/protocol.md §1.1): the resources
#: that carry a ``CallState`` or a ``SessionState``. The job ``Status`` is read with :func:`job_status`
#: ([U]: the docs name no resource rel that carries it).
STATE_ENUMS: Mapping[str, type[WireEnum]] = {
    "audioVideo": CallState,
    "messaging": CallState,
    "phoneAudio": CallState,
    "audioVideoSession": SessionState,
}


def resource_state(rel: str, resource: Mapping[str, object]) -> WireValue[Any] | None:
    """The ``state`` of a modality or an audioVideoSession as a :class:`WireValue`, else ``None``.

    ``rel`` may carry the Trusted Application API prefix. ``None`` for a resource that
    carries none of these enumerations, or whose ``state`` is absent or not a string.
    """
    enum = STATE_ENUMS.get(bare_rel(rel))
    return None if enum is None else read_enum(enum, resource.get("state"))


def job_status(resource: Mapping[str, object]) -> WireValue[JobStatus] | None:
    """A job instance's ``status`` as a :class:`WireValue`, or ``None`` when it has none."""
    return read_enum(JobStatus, resource.get("status"))


@frozen
class Link:
    rel: str
    href: str

    @property
    def name(self) -> str:
        return bare_rel(self.rel)


def _links_tuple(links: Iterable[Link]) -> tuple[Link, ...]:
    return tuple(links)


@frozen
class Representation:
    """An invitation-like resource as the server last described it."""

    #: The resource's wire state (``Connecting``...), as given, or ``None``.
    state: str | None = None
    direction: str | None = None
    operation_id: str | None = None
    links: tuple[Link, ...] = field(default=(), converter=_links_tuple)

    def link(self, *names: str) -> Link | None:
        """The first link whose bare rel is one of ``names`` (in the order given)."""
        for name in names:
            for link in self.links:
                if link.name == name:
                    return link
        return None

    def has(self, name: str) -> bool:
        return self.link(name) is not None


def json_kind(value: object) -> str:
    """What a decoded JSON value is, as an error message says it: ``null``, ``a string``, ``an object``...

    Booleans before numbers (a ``bool`` is an ``int``); a tuple reads as an array (snapshots are
    structured from tuples); anything that is not JSON at all is named by its type.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
