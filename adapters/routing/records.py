"""What one feed reports: the changes it made, and the events it refused, could not route or ignored.

These are the dispatcher's outputs (:class:`DispatchResult` and its parts) and its one error.
They are apart from the routing so that a reader of a result (the clients, replay, the soak
run) finds its whole shape in one short module, and so that every part of the routing builds
the same records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from attrs import frozen

from adapters.wire.events import Event, EventsResponse, EventType, _new_object, _slot_setters
from fsm.actions import Actions
from fsm.errors import CallFsmError
from fsm.model import FsmModel


@frozen(eq=False)
class Change:
    """One event applied to one model (``source`` may equal ``dest``: links or data changed)."""

    model: FsmModel
    source: Any
    dest: Any
    event: Event
    #: The index of the event in the response (sender by sender, in order).
    index: int

    @property
    def moved(self) -> bool:
        return bool(self.source is not self.dest)


@frozen
class Violation:
    """An event that a machine refused: recorded, not raised. The model is unchanged."""

    response: str | None
    index: int
    href: str
    machine: str
    state: str
    event_type: str
    message: str


@frozen
class Unrouted:
    """An event no machine takes: unknown href, unknown type, nothing to trigger."""

    response: str | None
    index: int
    href: str
    rel: str
    event_type: str
    why: str


@frozen
class Ignored:
    """An event that is documented and routed to nothing on purpose: ``why`` says so. Not unrouted."""

    response: str | None
    index: int
    href: str
    rel: str
    event_type: str
    why: str


#: (bare rel, event type) -> why the event is handled by being ignored (docs/protocol.md §2.3).
IGNORED_EVENTS: Final[Mapping[tuple[str, EventType], str]] = {
    ("audioVideoNegotiation", EventType.UPDATED): (
        "the audio/video invitation's initial media negotiation (its answer, its provisional answer): "
        "the invitation's own events carry the call's lifecycle"
    ),
    **{
        (modality, EventType.UPDATED): (
            f"the {modality} modality's state follows its invitation and conversation, "
            "whose own events the machines take"
        )
        for modality in ("audioVideo", "messaging")
    },
}

_NO_RESPONSE: Final = EventsResponse(None, None, None, None, ())


@frozen(eq=False)
class DispatchResult:
    changes: tuple[Change, ...] = ()
    #: What the machines ask for, in order (FetchResource, a glare dismiss...).
    actions: Actions = ()
    violations: tuple[Violation, ...] = ()
    unknown: tuple[Unrouted, ...] = ()
    #: Indexes of the events dropped as exact duplicates.
    duplicates: tuple[int, ...] = ()
    #: Models created by this response (also in ``changes``).
    created: tuple[FsmModel, ...] = ()
    #: Documented events that mean nothing to any machine, each with why (not unrouted).
    ignored: tuple[Ignored, ...] = ()
    #: Indexes of the events held until a create's 201 names their href.
    held: tuple[int, ...] = ()


_SET_CHANGE_SLOTS: Final = _slot_setters(Change)


def _change(model: FsmModel, source: Any, dest: Any, event: Event, index: int) -> Change:
    """``Change(model, source, dest, event, index)``, without the frozen ``__init__``'s setattr calls."""
    change: Change = _new_object(Change)
    set_model, set_source, set_dest, set_event, set_index = _SET_CHANGE_SLOTS
    set_model(change, model)
    set_source(change, source)
    set_dest(change, dest)
    set_event(change, event)
    set_index(change, index)
    return change


class DispatcherError(CallFsmError, ValueError):
    """The app used the dispatcher wrongly (e.g. tracked a model with nothing to find it by)."""


__all__ = [
    "IGNORED_EVENTS",
    "Change",
    "DispatchResult",
    "DispatcherError",
    "Ignored",
    "Unrouted",
    "Violation",
]
