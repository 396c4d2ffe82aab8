"""A walk over one machine's table, and the walker base every machine's walker extends.

:class:`EventWalk` is what a walk gives: the resource, where it started, the events (or, for
meeting_series, trigger calls) in order and the state after each as the table says. ``_Walker``
holds what every machine's walker shares: picking the rows, the etags, the event dict and the
completion payloads (``status`` + ``reason`` drawn from the reason catalogue). The machines' own
walkers are :mod:`adapters.testing.channel_walkers` and :mod:`adapters.testing.series_walker`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Final

from attrs import define, field

from adapters.testing.choices import _Choices
from adapters.wire.events import EventType
from fsm.engine import MachineDefinition, Transition
from fsm.outcome import Completion, CompletionStatus
from fsm.reasons import CATALOGUE, ErrorCode
from fsm.wire import SAAS_PREFIX

#: The application every generated href lives under.
APP: Final = "/ucwa/oauth/v1/applications/1"

# Reason subcodes (not state names) that decide a completion: docs/protocol.md §1.1 and 5.1.
_CANCELED: Final = "Canceled"
_DECLINED: Final = "Declined"


@define
class EventWalk:
    """One resource driven along its machine by wire events (or, for meeting_series, trigger calls)."""

    machine: str
    #: The resource, as its events name it (``""`` for meeting_series: its conference id is ``conference_id``).
    href: str
    #: The operation id the resource's representation carries (outgoing resources: the app's own).
    operation_id: str | None
    #: Whether the app created the resource (its model must exist before the first event).
    outgoing: bool
    #: The state the walk starts from: the initial state, or where the app's create left it.
    start: Enum
    #: Event dicts in delivery order; for meeting_series, ``{"trigger", "kwargs"}`` calls.
    events: list[dict[str, Any]]
    #: The state after each event, as the table says.
    states: list[Enum]
    #: The events wrapped into event-channel responses (empty for meeting_series).
    responses: list[dict[str, Any]] = field(factory=list)
    #: meeting_series only: the series' ``conferenceID``.
    conference_id: str | None = None

    @property
    def final_state(self) -> Enum:
        return self.states[-1] if self.states else self.start

    def prefix(self, count: int) -> EventWalk:
        """The first ``count`` events (a prefix of a walk is a walk); responses are not kept."""
        return EventWalk(
            self.machine,
            self.href,
            self.operation_id,
            self.outgoing,
            self.start,
            self.events[:count],
            self.states[:count],
            conference_id=self.conference_id,
        )


class _Walker:
    """Builds one walk: which rows are eligible, and the wire event for each."""

    definition: MachineDefinition[Any, Any]

    def __init__(self, choices: _Choices, serial: int) -> None:
        self.c = choices
        self.serial = serial
        self.count = 0
        self.prefix = choices.pick(("", SAAS_PREFIX))
        self.conversation = f"{APP}/communication/conversations/{serial}"
        self.href = ""
        self.operation_id: str | None = None
        self.outgoing = False
        self.start: Enum = self.definition.initial

    def rel(self, name: str) -> str:
        return self.prefix + name

    def eligible(self, state: Enum, first: bool) -> list[Transition[Any, Any]]:
        raise NotImplementedError

    def emit(self, row: Transition[Any, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def etag(self) -> str:
        self.count += 1
        return f"{self.serial}.{self.count}"

    def run(self, length: int) -> EventWalk:
        state = self.start
        events: list[dict[str, Any]] = []
        states: list[Enum] = []
        for number in range(length):
            rows = self.eligible(state, number == 0)
            if not rows:
                break
            row = self.c.pick(rows)
            events.append(self.emit(row))
            state = row.dest
            states.append(state)
        return EventWalk(self.definition.name, self.href, self.operation_id, self.outgoing, self.start, events, states)

    # -- shared wire pieces ----------------------------------------------------------

    def event(
        self,
        rel: str,
        href: str,
        type_: EventType,
        resource: dict[str, Any] | None,
        *,
        status: str | None = None,
        reason: dict[str, Any] | None = None,
        in_: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"link": {"rel": rel, "href": href}}
        if in_ is not None:
            out["in"] = {"rel": in_[0], "href": in_[1]}
        if status is not None:
            out["status"] = status
        if reason is not None:
            out["reason"] = reason
        if resource is not None:
            out["_embedded"] = {rel: {"rel": rel, "etag": self.etag(), **resource}}
        out["type"] = type_.value
        return out

    def links(self, **rels: str) -> dict[str, dict[str, str]]:
        return {"self": {"href": self.href}, **{self.rel(name): {"href": href} for name, href in rels.items()}}

    def completion(self, completion: Completion) -> tuple[str | None, dict[str, Any] | None, str | None]:
        """``status``, ``reason`` and embedded ``state`` that classify as ``completion`` (docs/protocol.md §9 #2)."""
        if completion is Completion.UNDETERMINED:
            return None, None, None
        final = completion.value if self.c.coin() else None
        if completion is Completion.CONNECTED:
            return CompletionStatus.SUCCESS.value, None, final
        pairs = _REASONS[completion]
        code, subcode = self.c.pick(pairs)
        reason = None if code is None else {"code": code, "subcode": subcode, "message": "generated"}
        return CompletionStatus.FAILURE.value, reason, final


def _catalogue_pairs(keep: Callable[[str], bool]) -> tuple[tuple[str | None, str | None], ...]:
    return tuple((row.code.value, row.subcode) for row in CATALOGUE if keep(row.subcode.lower()))


_REASONS: Final[Mapping[Completion, tuple[tuple[str | None, str | None], ...]]] = {
    Completion.DECLINED: _catalogue_pairs(lambda sub: sub == _DECLINED.lower()),
    Completion.CANCELLED: _catalogue_pairs(lambda sub: sub == _CANCELED.lower()),
    Completion.FAILED: (
        *_catalogue_pairs(lambda sub: sub not in (_DECLINED.lower(), _CANCELED.lower())),
        # tolerated: a subcode outside the catalogue, and a failure that carries no reason
        (ErrorCode.SERVICE_FAILURE.value, "SomethingNew"),
        (None, None),
    ),
}
