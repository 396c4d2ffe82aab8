"""The event channel of one application: the queue, the acks, the pending GET.

Theory of operation
-------------------
Events are queued in *groups*: everything one server action produced (one
request handled, one scripted step fired) is one group, visible to the
client from ``visible_at`` on (later than now when the ``delay`` fault holds
it back). Groups are delivered in order.

Acks (docs/protocol.md §2.2). An ack counts events: a P-GET with ``ack=A`` asks for
the events after the first ``A - 1`` acknowledged ones. The answer's ``next``
is ``A + k`` for ``k`` events, so ``next`` jumps by the number of events it
covers (the docs' sample goes from ``ack=11`` to ``ack=21``) and an empty
answer's ``next`` repeats its own ack (the docs' "equal" acks). The client
follows ``next`` as given and never computes it.

- ``ack`` = the ``next`` of the answer in hand: that answer is acknowledged
  and forgotten, and the P-GET waits for new events;
- ``ack`` = the ``self`` of the answer in hand: it was lost on the way, and it
  is sent again, identical;
- anything else is out of range: the answer carries only a ``resync`` link,
  pointing at the first unacknowledged set (docs/protocol.md §2.2, "sole link").

A P-GET with no ``ack`` at all is taken as the expected one (the application's
``events`` link in the docs' sample has none).

One group per answer. By default an answer carries exactly one group, even
when several are queued, so the stream a client sees depends only on what the
server did, not on when the client happened to poll: the same seed and the
same requests give the same answers (a determinism test relies on it). The
real server sends everything queued; ``coalesce=True`` does that too, at the
price of timing-dependent batching. Both keep every event exactly once, in
order.

Long poll. With nothing to send, the P-GET waits until ``timeout`` (query
parameter; the docs' range is 180-1800 s, default 180) and then gets an empty
answer. [U] The simulator also accepts values from 0.05 s up, so tests do not
wait three minutes; the default comes from the configuration. As the docs say,
``timeout``, ``low``, ``medium`` and ``priority`` are kept for later P-GETs
until the client changes them, and forgotten after a ``resume``.

Replacement. A second P-GET while one is pending releases the older one with
409 ``PGetReplaced`` (EventChannelDetails: same ack; EventsInUCWA: any newer
P-GET; the simulator applies the wider rule). With ``priority``, a lower value
never replaces a higher one: the newcomer is refused with the same 409.

This module decides and keeps the books; it does no I/O and reads no clock:
every method takes ``now`` from the world.
"""

from __future__ import annotations

import copy
import itertools
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final

from attrs import define, field, frozen

#: P-GET parameters the docs define, with their documented ranges (seconds; priority: any int).
PARAMETER_RANGES: Final[Mapping[str, tuple[float, float]]] = {
    "low": (5.0, 1800.0),
    "medium": (5.0, 1800.0),
    "timeout": (0.05, 1800.0),  # docs: 180-1800; shorter allowed for tests [U]
}

Sender = tuple[str, str]
Document = dict[str, Any]


@frozen
class ChannelError:
    """A P-GET refused: HTTP status and UCWA code/subcode."""

    status: int
    code: str
    subcode: str | None = None
    message: str | None = None
    parameters: tuple[str, ...] = ()


@define
class QueuedGroup:
    seq: int
    events: list[tuple[Sender, Document]]
    visible_at: float


@define
class SentAnswer:
    self_ack: int
    next_ack: int
    document: Document
    #: Sequence numbers of the groups it carries.
    groups: tuple[int, ...]
    #: Events it carries (acknowledged by a P-GET on ``next``).
    count: int


@define(eq=False)
class Waiter:
    """A pending P-GET."""

    ident: int
    ack: int
    self_href: str
    priority: int
    deadline: float
    replaced: bool = False
    done: bool = False


@define(eq=False)
class EventChannel:
    """The books of one application's event channel."""

    #: Path of the ``events`` resource (``.../applications/101/events``).
    path: str
    default_timeout: float
    coalesce: bool = False
    queue: deque[QueuedGroup] = field(factory=deque)
    #: Events acknowledged so far; the expected ack is ``acked + 1``.
    acked: int = 0
    outstanding: SentAnswer | None = None
    waiter: Waiter | None = None
    params: dict[str, float] = field(factory=dict)
    #: Highest group sequence number delivered in an answer (for "events before the 201").
    delivered_upto: int = 0
    last_answer_at: float | None = None
    _group_seq: itertools.count[int] = field(factory=lambda: itertools.count(1))
    _waiter_seq: itertools.count[int] = field(factory=lambda: itertools.count(1))
    _last_visible: float = 0.0

    # -- links --------------------------------------------------------------------------

    def href(self, ack: int) -> str:
        return f"{self.path}?ack={ack}"

    # -- queueing -------------------------------------------------------------------------

    def enqueue(self, events: list[tuple[Sender, Document]], visible_at: float) -> int:
        """Queue one group; it never overtakes an earlier one. Returns its sequence number."""
        seq = next(self._group_seq)
        visible = max(visible_at, self._last_visible)
        self._last_visible = visible
        self.queue.append(QueuedGroup(seq, events, visible))
        return seq

    def pending_events(self) -> int:
        return sum(len(g.events) for g in self.queue)

    # -- P-GET ----------------------------------------------------------------------------

    @property
    def expected_ack(self) -> int:
        return self.acked + 1

    def parse_params(self, query: Mapping[str, str]) -> ChannelError | None:
        """Read and keep ``timeout``/``low``/``medium``/``priority``; refuse values out of range."""
        staged: dict[str, float] = {}
        bad: list[str] = []
        for name, (low, high) in PARAMETER_RANGES.items():
            if name in query:
                try:
                    value = float(query[name])
                except ValueError:
                    bad.append(name)
                    continue
                if not low <= value <= high:
                    bad.append(name)
                    continue
                staged[name] = value
        if "priority" in query:
            try:
                staged["priority"] = int(query["priority"])
            except ValueError:
                bad.append("priority")
        if bad:
            return ChannelError(
                400,
                "BadRequest",
                "ParameterValidationFailure",
                f"invalid P-GET parameter(s): {', '.join(bad)}",
                tuple(bad),
            )
        self.params.update(staged)
        return None

    def begin(self, ack: int | None, self_href: str, now: float) -> Document | ChannelError | Waiter:
        """A P-GET arrived (its parameters already read): answer now, or wait."""
        priority = int(self.params.get("priority", 0))
        if self.waiter is not None and not self.waiter.done:
            if priority < self.waiter.priority:
                return ChannelError(
                    409, "Conflict", "PGetReplaced", "a pending GET with a higher priority holds the channel"
                )
            self.waiter.replaced = True
        wanted = self.expected_ack if ack is None else ack
        sent = self.outstanding
        if sent is not None and wanted == sent.next_ack:
            self.acked += sent.count
            self.outstanding = None
        elif sent is not None and wanted == sent.self_ack:
            return self._resend(sent)
        elif sent is not None or wanted != self.expected_ack:
            target = sent.self_ack if sent is not None else self.expected_ack
            return self._record({"_links": {"self": {"href": self_href}, "resync": {"href": self.href(target)}}}, now)
        timeout = float(self.params.get("timeout", self.default_timeout))
        waiter = Waiter(next(self._waiter_seq), wanted, self_href, priority, now + timeout)
        self.waiter = waiter
        return waiter

    def poll(self, waiter: Waiter, now: float, resume: Callable[[], bool]) -> Document | ChannelError | None:
        """What the pending P-GET gets now, or ``None`` to keep waiting.

        ``resume`` is asked once per answer that is sent: whether it carries
        ``resume`` instead of ``next``.
        """
        if waiter.done:
            return None
        if waiter.replaced:
            waiter.done = True
            return ChannelError(409, "Conflict", "PGetReplaced", "a newer GET on the event channel replaced this one")
        head = self.queue[0] if self.queue else None
        if head is not None and head.visible_at <= now:
            groups = [self.queue.popleft()]
            while self.coalesce and self.queue and self.queue[0].visible_at <= now:
                groups.append(self.queue.popleft())
            return self._answer(waiter, groups, now, resume())
        if now >= waiter.deadline:
            return self._answer(waiter, [], now, resume())
        return None

    def abandon(self, waiter: Waiter) -> None:
        """The client went away before an answer: nothing was sent."""
        waiter.done = True
        if self.waiter is waiter:
            self.waiter = None

    # -- answers ----------------------------------------------------------------------------

    def _answer(self, waiter: Waiter, groups: list[QueuedGroup], now: float, resume: bool) -> Document:
        waiter.done = True
        if self.waiter is waiter:
            self.waiter = None
        events = [item for group in groups for item in group.events]
        next_ack = waiter.ack + len(events)
        onward = "resume" if resume else "next"
        document: Document = {"_links": {"self": {"href": waiter.self_href}, onward: {"href": self.href(next_ack)}}}
        senders = _senders(events)
        if senders:
            document["sender"] = senders
        if resume:
            # the server reset its transient state: the P-GET parameters must be sent again
            self.params.clear()
        self.outstanding = SentAnswer(waiter.ack, next_ack, document, tuple(g.seq for g in groups), len(events))
        if groups:
            self.delivered_upto = max(self.delivered_upto, groups[-1].seq)
        return self._record(document, now)

    def _resend(self, sent: SentAnswer) -> Document:
        return copy.deepcopy(sent.document)

    def _record(self, document: Document, now: float) -> Document:
        self.last_answer_at = now
        return copy.deepcopy(document)


def _senders(events: list[tuple[Sender, Document]]) -> list[Document]:
    """Consecutive events of one sender share an entry; a sender repeats to keep the order."""
    out: list[Document] = []
    for (rel, href), event in events:
        if out and out[-1]["rel"] == rel and out[-1]["href"] == href:
            out[-1]["events"].append(event)
        else:
            out.append({"rel": rel, "href": href, "events": [event]})
    return out
