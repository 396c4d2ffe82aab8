"""Replay: check a recorded event stream against the machines.

Theory of operation
-------------------
A recording is a sequence of event-channel responses. :class:`Replay` feeds
every event, in order, through one :class:`~adapters.routing.dispatcher.Dispatcher`,
exactly as a live application would, and keeps what the machines said:

- every resource a machine took charge of, in order of first appearance, with
  its final state (by its wire name where the machine has one, such as
  ``Connected``; else the state's value, such as ``remote_offered``) and, for a
  failed outcome, the status, code and subcode;
- every *violation*: an event that a machine refused (the dispatcher's
  :class:`~adapters.routing.dispatcher.Violation`: which response, which event, the
  href, the state it was in, the event type, why), and every response that
  :func:`~adapters.wire.events.parse_events` rejected (response index and the
  parser's message; its event, href, state and type are ``None``). A corrupt
  response in a long recording is one violation, and the rest is still checked;
- what was not applied and why (unknown hrefs, unknown event types, events
  that mean nothing to a machine) and the exact duplicates the dispatcher
  dropped: reported, never violations (UCWA vocabulary is open, docs/protocol.md §5.1).

Indexes: ``response`` counts the responses of the whole input from 0 (across
every file, in the order given); ``event`` counts the events of one response
from 0, sender by sender, as the dispatcher numbers them.

Time. Nothing here reads a clock. Each response is fed at a synthetic time: its
record's ``t`` when it has one, else its index. The dispatcher is built with
an infinite ``grace`` (its sweep never forgets a settled model, so late events
still find theirs and every resource is in the report) and no renegotiation
deadline.

Adoption [I]. A recording is one application's channel, so an *outgoing*
invitation, online meeting join or renegotiation in it is the app's own: it
sent the create POST, which the recording does not show. The dispatcher will
not create a model for an outgoing resource it was not told about, so before
an event is fed the replay adopts its resource when the dispatcher has none
for the href: an ``Outgoing`` invitation (or OMI, or renegotiation) gets the
model the app would have made (``send``/``offer`` called with the operation id
the resource carries, then tracked), so all its events are checked; an
invitation whose first event is ``updated`` or ``completed`` (its ``started``
was aggregated away, or the recording began mid-call) gets a fresh one.
``adopt=False`` turns this off (the dispatcher alone decides).

Memory. The replay keeps what its report needs: each resource's model (a
late event must still find it, and be judged as it always was) and the
violations. Once a model has settled, what no later event can read is
released: its history, and for an invitation whose every wire trigger can
only be absorbed (Connected, or ended) its representation (``release=False``
keeps them). About 1 KB per ended call (bench/README.md). The violations and
the events no machine took are kept too, one small record each, for the
report.

Input (:func:`iter_records`, read as it is needed; :func:`read_records` for
bytes in memory). A file holds JSON Lines (one response per line), a JSON
array of responses, one response, or raw XML ``<events>`` responses one
after another (:mod:`adapters.wire.recording`, at most
:data:`~adapters.wire.recording.MAX_RECORD` bytes a record). Each JSON response is either an
events document (an object with ``_links`` and/or ``sender``) or a record
``{"t": 12.5, "response": ..., "content_type": ...}``: ``t`` (optional) is a
finite number, the time on the recorder's clock; ``response`` is the events
document, or the raw body as a string (JSON or XML as received, so that a
body the server got wrong can be replayed as it came); ``content_type``
(optional) defaults to JSON, or XML for a string body starting with ``<``.
[U] Continuation links are not required (webhook POSTs have none).
Anything else is a :class:`ReplayInputError`, naming the file and line.

Traces (:mod:`adapters.routing.trace`, docs/trace.md). A line with a ``format``
(the header) or a ``kind`` is a trace record: ``events`` is read as a
wrapped record; a ``call`` re-fires the app's local trigger on the model it
names (a creating ``send``/``offer`` makes and tracks it, as the client
does); a ``request`` feeds its recorded response through
:func:`adapters.wire.requests.apply_response`, the client's own response ->
trigger mapping, and a 201 releases what the dispatcher held for that href.
A refused call, or one naming a model never seen, is a violation (``event``
is ``None``, ``type`` the trigger). While a trace is replayed an ended
invitation keeps its representation: the app's later calls read its links.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from typing import Any, Final

from attrs import define, evolve, field

from adapters.routing.dispatcher import RENEGOTIATION_RELS, Dispatcher, DispatchResult, _settled
from adapters.routing.replay_input import JSON_TYPE, XML_TYPE, Record, ReplayInputError, iter_records, read_records
from adapters.routing.replay_report import (
    FailedOutcome,
    NotApplied,
    ReplayReport,
    ReplayViolation,
    ResourceReport,
    failed_outcome,
    render_text,
    state_name,
)
from adapters.wire.events import (
    Event,
    EventParseError,
    EventsResponse,
    EventType,
    Sender,
    parse_events,
    parse_events_document,
)
from fsm.actions import PostRenegotiation, StartOperation
from fsm.engine import MachineDefinition
from fsm.errors import CallFsmError
from fsm.invitation import MAX_LENGTHS, Invitation, InvitationKind
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin
from fsm.renegotiation import Renegotiation
from fsm.wire import Direction, Representation

#: What an adopted resource's create is given where the recording has no value.
_UNKNOWN: Final = "unknown (adopted by replay)"


def _quiescent(definition: MachineDefinition[Any, Any]) -> frozenset[Any]:
    """States where every trigger the wire can cause has rows, all of them absorbing: nothing can change."""
    return frozenset(
        state
        for state in definition.states
        if all(
            (rows := definition.rows(state, trigger)) and all(row.absorb for row in rows)
            for trigger in definition.remote_triggers
        )
    )


_QUIESCENT: Final = _quiescent(Invitation.DEFINITION)
_NO_REPRESENTATION: Final = Representation()


@define
class _Entry:
    model: FsmModel
    rel: str
    href: str


@define
class Replay:
    """Feeds recorded responses through one dispatcher and collects the verdict (sans-IO)."""

    base_url: str | None = None
    adopt: bool = True
    #: Release what a settled model no longer needs (its history; an ended invitation's representation).
    release: bool = True
    dispatcher: Dispatcher = field(init=False)
    responses: int = field(init=False, default=0)
    events: int = field(init=False, default=0)
    violations: list[ReplayViolation] = field(init=False, factory=list)
    not_applied: list[NotApplied] = field(init=False, factory=list)
    duplicates: int = field(init=False, default=0)
    _entries: dict[int, _Entry] = field(init=False, factory=dict)
    #: A trace's models by ``href:<key>`` and ``op:<operation id>`` (the app's, found again for its next call).
    _traced: dict[str, FsmModel] = field(init=False, factory=dict)
    #: A trace is being replayed: the app's later calls read a settled invitation's links (kept, then).
    _in_trace: bool = field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        # infinite grace: a settled model is never forgotten, late events still find it
        self.dispatcher = Dispatcher(base_url=self.base_url, grace=math.inf)

    def feed_record(self, record: Record) -> tuple[ReplayViolation, ...]:
        if record.entry is not None:
            return self._feed_entry(record.entry, record.source)
        if record.document is not None:
            return self.feed_document(record.document, t=record.t, source=record.source)
        return self.feed(record.body, record.content_type, t=record.t, source=record.source)

    def feed(
        self, body: bytes, content_type: str = JSON_TYPE, *, t: float | None = None, source: str | None = None
    ) -> tuple[ReplayViolation, ...]:
        """Feed one response body; returns the violations it caused."""
        try:
            response: EventsResponse | str = parse_events(body, content_type, require_links=False)
        except (EventParseError, ValueError) as exc:
            # ValueError too: json's integer-length limit raises it outside JSONDecodeError
            response = str(exc)
        return self._feed_response(response, t, source)

    def feed_document(
        self, document: object, *, t: float | None = None, source: str | None = None
    ) -> tuple[ReplayViolation, ...]:
        """Feed one events document already decoded from JSON (the reader's: it is not copied)."""
        try:
            response: EventsResponse | str = parse_events_document(document, require_links=False)
        except EventParseError as exc:
            response = str(exc)
        return self._feed_response(response, t, source)

    def _feed_response(
        self, response: EventsResponse | str, t: float | None, source: str | None
    ) -> tuple[ReplayViolation, ...]:
        index = self.responses
        self.responses += 1
        now = float(index) if t is None else t
        before = len(self.violations)
        if isinstance(response, str):
            self.violations.append(
                ReplayViolation(index, None, None, None, None, f"unreadable response: {response}", source=source)
            )
            return tuple(self.violations[before:])
        events = response.events
        self.events += len(events)
        if not self.adopt:
            self._collect(self.dispatcher.feed(response, now), index, 0, source)
            return tuple(self.violations[before:])
        # Adoption must see the dispatcher as the event will. The events are fed in runs: a run ends
        # before an event whose resource the dispatcher does not know yet (it may have to be adopted);
        # the run is fed, then that event is adopted or not, and starts the next run. A response of
        # known resources (or of incoming starts) is one feed.
        start = 0
        for number, event in enumerate(events):
            if self._may_adopt(event):
                if number > start:
                    self._feed_run(response, start, number, now, index=index, source=source)
                    start = number
                self._adopt(event, now)
        self._feed_run(response, start, len(events), now, index=index, source=source)
        return tuple(self.violations[before:])

    def _feed_run(
        self, response: EventsResponse, start: int, end: int, now: float, *, index: int, source: str | None
    ) -> None:
        """Feed events ``start`` to ``end`` (numbered across the senders) of ``response``."""
        if start == 0 and end == len(response.events):
            part = response
        else:
            senders = []
            first = 0
            for sender in response.senders:
                count = len(sender.events)
                lo, hi = max(start - first, 0), min(end - first, count)
                if lo < hi:
                    senders.append(Sender(sender.rel, sender.href, sender.events[lo:hi]))
                first += count
            part = evolve(response, senders=tuple(senders))
        self._collect(self.dispatcher.feed(part, now), index, start, source)

    def report(self) -> ReplayReport:
        resources = tuple(
            ResourceReport(
                href=_own_href(entry),
                rel=entry.rel,
                machine=entry.model.machine,
                state=state_name(entry.model),
                outcome=failed_outcome(entry.model),
            )
            for entry in self._entries.values()
        )
        return ReplayReport(
            resources, tuple(self.violations), self.events, self.responses, tuple(self.not_applied), self.duplicates
        )

    # -- internals ---------------------------------------------------------------------

    def _register(self, model: FsmModel, rel: str, href: str) -> None:
        if id(model) not in self._entries:
            self._entries[id(model)] = _Entry(model, rel, href)

    def _collect(self, result: DispatchResult, index: int, first: int, source: str | None) -> None:
        """``first``: the number of the response's first event fed (the dispatcher numbers from 0)."""
        entries = self._entries
        for change in result.changes:
            model = change.model
            if id(model) not in entries:
                # a rel is one of a few words, decoded anew in each record: one copy serves every resource
                entries[id(model)] = _Entry(model, sys.intern(change.event.link.rel), change.event.link.href)
            if self.release and model.history and _settled(model) and not isinstance(model, Renegotiation):
                # settled: its history is never read again (the report needs state and outcome), so it is
                # released; the model stays, so that a late event is judged exactly as before
                model.history = []
                if type(model) is Invitation and model.state in _QUIESCENT and not self._in_trace:
                    # every event can only be absorbed from here, and an absorbed event never reads the
                    # representation (it is kept for the app's own requests, which a replay never makes):
                    # its links and properties are released too
                    model.representation = _NO_REPRESENTATION
        for v in result.violations:
            self.violations.append(
                ReplayViolation(index, first + v.index, v.href, v.state, v.event_type, v.message, v.machine, source)
            )
        for u in result.unknown:
            self.not_applied.append(NotApplied(index, first + u.index, u.href, u.rel, u.event_type, u.why))
        self.duplicates += len(result.duplicates)

    def _may_adopt(self, event: Event) -> bool:
        """Whether :meth:`_adopt` could adopt this event's resource now (True when unsure: it decides)."""
        kind = event.event_type
        if kind not in (EventType.STARTED, EventType.UPDATED, EventType.COMPLETED):
            return False
        if self.dispatcher.model_for(event.link.href) is not None:
            # models are only ever added during a replay (infinite grace): it will still be there
            return False
        if kind is not EventType.STARTED:
            return True
        resource = event.resource
        direction = None if resource is None else resource.get("direction")
        # an incoming (or undirected) started is never adopted: the dispatcher creates its model
        return isinstance(direction, str) and direction.strip().lower() != "incoming"

    def _adopt(self, event: Event, now: float) -> None:
        href = event.link.href
        kind = event.event_type
        if kind not in (EventType.STARTED, EventType.UPDATED, EventType.COMPLETED):
            return
        if self.dispatcher.model_for(href) is not None or f"op:{event.operation_id}" in self._traced:
            return  # the dispatcher has it, or a trace's create made it (its events find it by operation id)
        representation = event.representation()
        direction = None if representation is None else Direction.parse(representation.direction)
        invitation_kind = InvitationKind.from_rel(event.link.rel)
        outgoing = direction is Direction.OUTGOING
        operation_id = event.operation_id
        if not operation_id or len(operation_id) > MAX_LENGTHS["operationId"]:
            operation_id = f"replay-{self.responses}-{self.events}"
        resource = event.resource or {}
        model: FsmModel
        try:
            if invitation_kind is InvitationKind.ONLINE_MEETING and outgoing:
                join = OnlineMeetingJoin()
                uri = resource.get("onlineMeetingUri")
                uri = uri if isinstance(uri, str) and uri else _UNKNOWN
                join.send(now=now, href=href, operation_id=operation_id, online_meeting_uri=uri)
                model = join
            elif invitation_kind is not None and outgoing:
                invitation = Invitation(kind=invitation_kind)
                target = resource.get(invitation.rules.target_property)
                invitation.send(
                    now=now, href=href, operation_id=operation_id, to=target if isinstance(target, str) else _UNKNOWN
                )
                model = invitation
            elif invitation_kind is not None and kind is not EventType.STARTED:
                model = Invitation(kind=invitation_kind)
            elif event.link.name in RENEGOTIATION_RELS and outgoing:
                renegotiation = Renegotiation()
                offer = representation.link("mediaOffer") if representation is not None else None
                renegotiation.offer(
                    now=now, href=href, operation_id=operation_id, sdp="" if offer is None else offer.href
                )
                model = renegotiation
            else:
                return
        except CallFsmError:
            # the recording's values do not make a valid create: the dispatcher decides alone
            return
        self.dispatcher.track(model, href=href)
        self._register(model, event.link.rel, href)

    # -- a trace's own records: the app's calls and requests (adapters/routing/trace.py) ---------------

    def _feed_entry(self, entry: Any, source: str | None) -> tuple[ReplayViolation, ...]:
        """Re-apply a local call, or feed a request's recorded response as the client fed it."""
        from adapters.routing import trace  # noqa: PLC0415 - only a trace needs it (and httpx behind it)

        before = len(self.violations)
        self._in_trace = True
        if isinstance(entry, trace.CallEntry):
            self._trace_call(entry, source)
        elif isinstance(entry, trace.RequestEntry) and entry.model is not None and entry.action is not None:
            self._trace_request(entry, source)
        # the header, a lifecycle request, a request the simulator served: nothing a machine takes
        return tuple(self.violations[before:])

    def _trace_violation(self, model: FsmModel | None, ref: Any, what: str, message: str, source: str | None) -> None:
        state = None if model is None else state_name(model)
        href = ref.href or (f"operationId {ref.operation_id}" if ref.operation_id else None)
        self.violations.append(ReplayViolation(self.responses, None, href, state, what, message, ref.machine, source))

    def _trace_find(self, ref: Any) -> FsmModel | None:
        found = self.dispatcher.model_for(ref.href) if ref.href else None
        if found is None and ref.href:
            found = self._traced.get("href:" + self.dispatcher.key(ref.href))
        if found is None and ref.operation_id:
            found = self._traced.get(f"op:{ref.operation_id}")
        return found if found is not None and found.machine == ref.machine else None

    def _trace_remember(self, model: FsmModel, ref: Any) -> None:
        """Find ``model`` again by its own href and operation id, and by those the trace named it with."""
        for href in (getattr(model, "href", None), ref.href):
            if isinstance(href, str) and href:
                self._traced["href:" + self.dispatcher.key(href)] = model
        for operation_id in (getattr(model, "operation_id", None), ref.operation_id):
            if isinstance(operation_id, str) and operation_id:
                self._traced[f"op:{operation_id}"] = model

    def _trace_call(self, entry: Any, source: str | None) -> None:
        from adapters.routing import trace  # noqa: PLC0415 - as in _feed_entry

        ref = entry.model
        model = self._trace_find(ref)
        if model is None and entry.trigger in _CREATING:
            model = _new_model(ref)
        if model is None:
            why = "the app's call names a model the replay has not seen"
            self._trace_violation(None, ref, entry.trigger, why, source)
            return
        try:
            trigger = trace.local_trigger(model, entry.trigger)
            actions = trigger(now=entry.t, **trace.call_kwargs(model, entry.trigger, entry.args))
        except (CallFsmError, ValueError, TypeError) as exc:
            self._trace_violation(model, ref, entry.trigger, f"the app's call is refused: {exc}", source)
            return
        for action in actions:
            if isinstance(action, StartOperation | PostRenegotiation):
                # as the client does: a create is tracked by its operation id before its POST goes out
                self.dispatcher.track(model, operation_id=action.operation_id)
        self._trace_remember(model, ref)

    def _trace_request(self, entry: Any, source: str | None) -> None:
        from adapters.routing import trace  # noqa: PLC0415 - as in _feed_entry
        from adapters.wire.requests import Created, HttpResponse, apply_response  # noqa: PLC0415 - as above

        ref = entry.model
        model = self._trace_find(ref)
        if model is None:
            why = "a request for a model the replay has not seen"
            self._trace_violation(None, ref, entry.request.method, why, source)
            return
        if entry.response is None:
            return  # no response came: the live client fed its model nothing either
        received = entry.response
        response = HttpResponse(
            received.status,
            tuple((name.lower(), value) for name, value in received.headers),
            (received.body or "").encode("utf-8"),
            entry.request.url,
        )
        # the client's own mapping (adapters.wire.requests): response -> trigger, exactly as live
        applied = apply_response(model, trace.action_from_json(entry.action), response, now=entry.t)
        if applied.violation is not None:
            self._trace_violation(model, ref, f"HTTP {received.status}", str(applied.violation), source)
        if isinstance(applied.outcome, Created) and applied.violation is None:
            self._collect(self.dispatcher.created(model, now=entry.t), self.responses, 0, source)
        self._trace_remember(model, ref)


#: The local triggers that make a model (a trace's first call on it).
_CREATING: Final = frozenset({"send", "offer"})


def _new_model(ref: Any) -> FsmModel | None:
    """The fresh model a trace's creating call is made on (its machine, and an invitation's kind)."""
    if ref.machine == Invitation.DEFINITION.name:
        try:
            return Invitation(kind=InvitationKind(ref.kind))
        except ValueError:
            return None
    if ref.machine == OnlineMeetingJoin.DEFINITION.name:
        return OnlineMeetingJoin()
    if ref.machine == Renegotiation.DEFINITION.name:
        return Renegotiation()
    return None


def _own_href(entry: _Entry) -> str:
    href = getattr(entry.model, "href", None)
    return href if isinstance(href, str) else entry.href


def replay(records: Iterable[Record], *, base_url: str | None = None, adopt: bool = True) -> ReplayReport:
    """Replay ``records`` in order and return the report."""
    run = Replay(base_url=base_url, adopt=adopt)
    for record in records:
        run.feed_record(record)
    return run.report()


__all__ = [
    "JSON_TYPE",
    "XML_TYPE",
    "FailedOutcome",
    "NotApplied",
    "Record",
    "Replay",
    "ReplayInputError",
    "ReplayReport",
    "ReplayViolation",
    "ResourceReport",
    "failed_outcome",
    "iter_records",
    "read_records",
    "render_text",
    "replay",
    "state_name",
]
