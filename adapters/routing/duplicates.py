"""The duplicate window: which of the last events an exact copy of an event would repeat.

UCWA sends every event once, but copies still reach an app (a retried webhook POST, a P-GET
re-sent after a network error, a response re-read after a crash): the dispatcher drops an event
whose key it saw among the last ``dedupe_window`` ones (:mod:`adapters.routing.dispatcher`,
"Duplicates"). The window is its own module because it is a data structure with its own
invariant and cost model (a digest only when two events share a prefix), and because
:mod:`adapters.routing.restart` saves and restores it through the views defined here.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterator
from typing import TypeAlias

from adapters.wire.events import Event


def _digest(event: Event) -> str:
    reason = event.reason
    body = {
        "embedded": None if event.embedded is None else dict(event.embedded),
        "reason": None if reason is None else [reason.code, reason.subcode, reason.message],
        "in": None if event.in_ is None else [event.in_.rel, event.in_.href],
        "rel": event.link.rel,
    }
    text = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: A duplicate-window key: (href key, lowered type, status, :func:`_digest` of the rest).
_SeenKey: TypeAlias = tuple[str, str, str | None, str]
_Prefix: TypeAlias = tuple[str, str, str | None]
#: A window entry: the event, or once needed its digest.
_Entry: TypeAlias = Event | str


class DuplicateWindow:
    """The keys of the last distinct events, the digest part computed only when it can matter.

    An event is a duplicate when an event in the window has the same key
    ``(href key, type, status, digest)``. The digest (canonical JSON of the
    embedded resource, reason, ``in`` and rel, then SHA-256: ~8 µs) can only
    matter between events that already agree on the *prefix* ``(href, type,
    status)``, which in a stream is rare: a resource's ``started``,
    ``updated`` and ``completed`` differ by type; only its repeated
    ``updated`` (or a real copy) agree. So the window keeps, per prefix, its
    entries oldest first (a list only once there are two), each either the
    event itself (immutable) or, once needed, its digest: both digests are
    made the first time a later event shares the prefix, and the digest then
    replaces the event. Every answer is the one full keys would give, since a
    digest depends only on its event. The oldest entry leaving the window is
    the first of its prefix's group.

    It is read as a sequence (iteration: the full keys, oldest first;
    ``append``) and as a set (``in``, ``add``): :mod:`adapters.routing.restart` saves
    its keys in order and restores them with ``add``.
    """

    def __init__(self) -> None:
        #: The prefix of every entry, oldest first.
        self._order: deque[_Prefix] = deque()
        #: prefix -> its entry, or its entries oldest first once there are several (a list): each
        #: an event not digested yet, or its digest.
        self._groups: dict[_Prefix, _Entry | list[_Entry]] = {}

    def remember(self, prefix: _Prefix, event: Event, size: int) -> bool:
        """True if ``event`` is a duplicate; else it enters the window, which then keeps its ``size`` newest."""
        groups = self._groups
        group = groups.get(prefix)
        if group is None:
            groups[prefix] = event
        else:
            entries = self._entries(prefix)
            digest = _digest(event)
            if digest in _digested(entries):
                return True
            entries.append(digest)
        order = self._order
        order.append(prefix)
        while len(order) > size:
            self._leave()
        return False

    def _entries(self, prefix: _Prefix) -> list[_Entry]:
        """The entries of a prefix that has some, as a list (made one in place)."""
        group = self._groups[prefix]
        if type(group) is list:
            return group
        entries: list[_Entry] = [group]  # type: ignore[list-item]
        self._groups[prefix] = entries
        return entries

    def _leave(self) -> None:
        oldest = self._order.popleft()
        group = self._groups[oldest]
        if type(group) is list and len(group) > 1:
            del group[0]
        else:
            del self._groups[oldest]

    # -- the deque and set views ----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[_SeenKey]:
        position: dict[_Prefix, int] = {}
        keys: list[_SeenKey] = []
        for prefix in self._order:
            index = position.get(prefix, 0)
            position[prefix] = index + 1
            keys.append((*prefix, _digested(self._entries(prefix))[index]))
        return iter(keys)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 4:
            return False
        prefix = key[:3]
        return prefix in self._groups and key[3] in _digested(self._entries(prefix))

    def append(self, key: _SeenKey) -> None:
        """Add a full key as the newest entry (a restored window)."""
        href, type_, status, digest = key
        prefix = (href, type_, status)
        if prefix in self._groups:
            self._entries(prefix).append(digest)
        else:
            self._groups[prefix] = digest
        self._order.append(prefix)

    def add(self, key: _SeenKey) -> None:
        """Add a full key unless it is there already."""
        if key not in self:
            self.append(key)

    def clear(self) -> None:
        self._order.clear()
        self._groups.clear()


def _digested(group: list[_Entry]) -> list[str]:
    """The digests of a group's entries, made (and kept in place of their events) where missing."""
    for index, entry in enumerate(group):
        if not isinstance(entry, str):
            group[index] = _digest(entry)
    return group  # type: ignore[return-value]



__all__ = ["DuplicateWindow"]
