"""Held events: an invitation's events for an href that only a create's 201, still to come, can claim.

Step 5 of the dispatcher's routing (:mod:`adapters.routing.dispatcher`, "Held events"): an
invitation's ``started``, ``updated`` or ``completed`` for an unknown href that names no
operation id, while a create of that kind awaits its 201, waits here with the later events of
its href, in arrival order. When a 201 names the href they are released, in order, to its
model; when no 201 can claim them any more (``hold_for`` seconds since the first, or no create
of that kind is left) they are settled: a ``started`` of a kind that can be incoming creates
that invitation, anything else is a violation in state ``held``. At most ``max_held`` events
are held at once. This is its own module because it is the one part of routing with a
lifetime across feeds and a bound of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from attrs import frozen

from adapters.routing.creation import create
from adapters.routing.feed_run import FeedRun
from adapters.routing.handlers import _context
from adapters.routing.records import Violation
from adapters.routing.vocabulary import _direction, _invitation_kind
from adapters.wire.events import Event, EventType
from fsm.invitation import KIND_RULES, Invitation, InvitationKind, InvitationState
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.wire import Direction

#: The event types held for a create's 201: an operation's own (docs/protocol.md §2.3).
_HELD_TYPES: Final = frozenset({EventType.STARTED, EventType.UPDATED, EventType.COMPLETED})
#: The ``state`` a violation names for an event settled while held: no machine had it yet.
_HELD_STATE: Final = "held"


@frozen
class _Held:
    """An event held until a create's 201 names its href (module doc; the dispatcher's, "Held events")."""

    event: Event
    kind: InvitationKind
    #: Where it came from: the response's ``self`` and the event's index there.
    response: str | None
    index: int
    #: The caller's clock when it arrived.
    since: float


def _machine_of(kind: InvitationKind) -> str:
    """The machine that a held event of ``kind`` was waiting for (its create's model)."""
    return (OnlineMeetingJoin if kind is InvitationKind.ONLINE_MEETING else Invitation).DEFINITION.name


def _awaiting(pending: Mapping[int, FsmModel], kind: InvitationKind) -> bool:
    """Whether a create of ``kind`` was sent and its resource is not known yet (its 201 may claim an href)."""
    for model in pending.values():
        if getattr(model, "href", None) is not None:
            continue
        if isinstance(model, Invitation):
            if model.kind is kind and model.state is InvitationState.SENDING:
                return True
        elif (
            isinstance(model, OnlineMeetingJoin)
            and kind is InvitationKind.ONLINE_MEETING
            and model.state is OnlineMeetingState.SENDING
        ):
            return True
    return False


class HeldEvents:
    """The events held for a create's 201, by href key, and what becomes of them (module doc)."""

    def __init__(self, hold_for: float, max_held: int) -> None:
        #: Seconds (caller's clock) an event is held for a create's 201.
        self.hold_for = hold_for
        self.max_held = max_held
        #: href key -> its held events, in arrival order.
        self.by_key: dict[str, list[_Held]] = {}

    @property
    def count(self) -> int:
        """How many events are held right now."""
        return sum(len(entries) for entries in self.by_key.values())

    def hold(self, run: FeedRun, index: int, event: Event, key: str) -> bool:
        """Hold ``event`` if only a create's 201 still to come can say whose it is; False: not held."""
        entries = self.by_key.get(key)
        if entries is not None:
            kind = entries[0].kind  # later events of a held href wait behind it, in order
        else:
            found = _invitation_kind(event.link.rel)
            if found is None or event.event_type not in _HELD_TYPES or event.operation_id is not None:
                return False
            representation = event.representation()
            if representation is not None and _direction(representation.direction) is Direction.INCOMING:
                return False
            if not _awaiting(run.registry.pending, found):
                return False
            kind = found
        if self.count >= self.max_held:
            run.violations.append(
                Violation(
                    run.response_href,
                    index,
                    event.link.href,
                    _machine_of(kind),
                    _HELD_STATE,
                    event.type,
                    f"{self.max_held} events already held for a create's 201: this one is not kept",
                )
            )
            return True
        self.by_key.setdefault(key, []).append(_Held(event, kind, run.response_href, index, run.now))
        run.held.append(index)
        return True

    def release(self, run: FeedRun, key: str, model: FsmModel) -> None:
        """Deliver to ``model``, in order, the events held for ``key`` (its href, now named by a 201)."""
        for entry in self.by_key.pop(key, ()):
            self._deliver(run, entry, key, model)

    def _deliver(self, run: FeedRun, entry: _Held, key: str, model: FsmModel | None) -> None:
        event = entry.event
        kept = run.response_href
        run.response_href = entry.response
        run.href_key = (event.link.href, key)
        try:
            if model is None:
                run.violations.append(
                    Violation(
                        entry.response,
                        entry.index,
                        event.link.href,
                        _machine_of(entry.kind),
                        _HELD_STATE,
                        event.type,
                        f"held {run.now - entry.since:g} s, and no create's 201 named {event.link.href}",
                    )
                )
                return
            reason = event.reason
            ctx = _context(run.now, event.representation(), None if reason is None else reason.to_reason(), run.d)
            run.apply(entry.index, event, model, ctx, created=False)
        finally:
            run.response_href = kept

    def settle(self, run: FeedRun) -> None:
        """Settle the held hrefs no 201 can claim any more: their time is up, or no create of their kind is left."""
        by_key = self.by_key
        for key in list(by_key):
            entries = by_key[key]
            first = entries[0]
            if run.now - first.since < self.hold_for and _awaiting(run.registry.pending, first.kind):
                continue
            del by_key[key]
            model: FsmModel | None = None
            rest = entries
            if first.event.event_type is EventType.STARTED and KIND_RULES[first.kind].can_be_incoming:
                # nobody's create: an incoming invitation whose started carried no resource
                kept = run.response_href
                run.response_href = first.response
                run.href_key = (first.event.link.href, key)
                try:
                    said = first.event.reason
                    reason = None if said is None else said.to_reason()
                    ctx = _context(run.now, first.event.representation(), reason, run.d)
                    create(run, first.index, first.event, ctx)
                finally:
                    run.response_href = kept
                model = run.registry.by_href.get(key)
                rest = entries[1:]
            for entry in rest:
                self._deliver(run, entry, key, model)


__all__ = ["HeldEvents"]
