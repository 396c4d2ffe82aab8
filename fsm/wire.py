"""The parts of a UCWA resource representation that the machines read.

Adapters parse JSON or XML into these values (through cattrs); the machines
only ever see them. Links gate actions, so the latest representation's links
are what decide whether ``accept`` or ``cancel`` may be sent.

Rel names are compared without the Trusted Application API prefix
``ms:rtc:saas:``, so one table serves UCWA and the SaaS API; the rel is kept
as the server wrote it, because that is what the adapters must send back.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from functools import cache
from typing import Any, Self

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
