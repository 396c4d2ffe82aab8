"""Frozen attrs values made through their slot descriptors instead of attrs' frozen ``__init__``.

The ingestion path makes an Event, its EventLink, a Representation and its Links per event; a frozen
attrs ``__init__`` sets each slot through a bound ``object.__setattr__``, a few microseconds per event.
:func:`_slot_setters` hands out the slot descriptors' setters, which make the same immutable object,
and refuses a class they would not build faithfully. It is its own module because the event walk,
the representations and the dispatcher (:mod:`adapters.routing.dispatcher`) all build values this way.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any, Final

from attrs import fields as attrs_fields

# Only classes without validators, converters or a post-init are made this way
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
