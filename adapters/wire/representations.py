"""A resource body (JSON shape, from JSON or XML) as the :class:`~fsm.wire.Representation` the machines read.

:func:`representation_of` is used for every event that embeds its target and for every resource a
request fetched or created, so it builds its values through their slots and shares the
:class:`~fsm.wire.Link` values a resource repeats in each of its events (a bounded cache). It is apart
from the event model because requests and the simulator read resources that came with no event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from adapters.wire.slot_setters import _new_object, _slot_setters
from fsm.wire import Link, Representation

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
