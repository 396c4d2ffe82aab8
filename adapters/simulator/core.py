"""The world's core: the lock, the clock, the scheduled steps, the applications and the way out of events.

Every resource component (:mod:`.applications`, :mod:`.conversations`,
:mod:`.invitations`, :mod:`.renegotiations`, :mod:`.lobby`,
:mod:`.event_channel`) gets this one object injected and nothing else of the
world's state: what they share is here, so none of them needs another's
internals. It is separate from :class:`~adapters.simulator.state.World` (the
façade that takes the lock per public call) so that a component never sees
the façade and there is no import circle between them.

An event leaves through :meth:`WorldCore.emit`: the shadow machine sees the
full event first (a refusal is kept in :attr:`WorldCore.refusals`, never
sent), then the profile's rel prefix and event shape are applied
(:meth:`WorldCore.wire_event`), and :meth:`WorldCore.flush` hands each
application's pending events to its channel as one group.
"""

from __future__ import annotations

import contextlib
import copy
import heapq
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from adapters.simulator.config import SimulatorConfig
from adapters.simulator.events import Sender
from adapters.simulator.faults import FaultKind, Faults
from adapters.simulator.profiles import EventShape, dress, profile_of
from adapters.simulator.records import Application, InvitationRecord
from adapters.simulator.replies import Document
from adapters.simulator.script import Happening, RenegotiationReply, ScriptedPlan
from fsm.errors import CallFsmError

log = logging.getLogger("callfsm.simulator")


class WorldCore:
    """The state every component shares. Not thread-safe: the World holds :attr:`lock` around every call."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.profile = profile_of(config.profile)
        self.clock = config.clock
        self.lock = threading.RLock()
        self.faults = Faults(config.faults, config.seed)
        self.user = (config.user_name, config.user_uri)
        self.apps: dict[str, Application] = {}
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_ids = itertools.count(1)
        self._cancelled: set[int] = set()
        self.plans: deque[ScriptedPlan] = deque()
        self.renegotiation_replies: deque[RenegotiationReply] = deque()
        #: Scripted happenings whose precondition does not hold yet (no available application, no call...).
        self.waiting: list[Happening] = []
        #: Every event-channel answer sent (200), in order, as JSON-shaped dicts.
        self.events_sent: list[Document] = []
        #: Events the server's own machines refused (never sent): should stay empty.
        self.refusals: list[str] = []
        self.closed = False

    # -- entry, scheduling, groups ------------------------------------------------------------------

    @contextlib.contextmanager
    def entry(self) -> Iterator[float]:
        """One action: the due scheduled steps first, then the caller's body; its events form one group."""
        with self.lock:
            self._run_due()
            try:
                yield self.clock.now()
            finally:
                self.flush()

    def after(self, delay: float, step: Callable[[], None]) -> int:
        ident = next(self._timer_ids)
        heapq.heappush(self._timers, (self.clock.now() + delay, ident, step))
        return ident

    def cancel_timers(self, record: InvitationRecord) -> None:
        self._cancelled.update(record.timers)
        record.timers.clear()

    def _run_due(self) -> None:
        now = self.clock.now()
        while self._timers and self._timers[0][0] <= now:
            _, ident, step = heapq.heappop(self._timers)
            if ident in self._cancelled:
                self._cancelled.discard(ident)
                continue
            step()
            self.flush()

    def flush(self) -> None:
        now = self.clock.now()
        for app in self.apps.values():
            if not app.pending:
                continue
            events, app.pending = app.pending, []
            if app.gone:
                continue
            delay = self.faults.delay()
            seq = app.channel.enqueue(events, now + delay)
            for (sender_rel, _), event in events:
                extra = ""
                if "status" in event:
                    extra += f" status={event['status']}"
                if "reason" in event:
                    reason = event["reason"]
                    extra += f" reason={reason.get('code')}/{reason.get('subcode', '')}".rstrip("/")
                embedded: Document = event.get("_embedded") or {}
                first = next(iter(embedded.values()), None)
                state = first.get("state") if isinstance(first, dict) else None
                if state is not None:
                    extra += f" state={state}"
                log.info(
                    "event app=%s group=%d %s %s %s %s%s%s",
                    app.ident,
                    seq,
                    sender_rel,
                    event["type"],
                    event["link"]["rel"],
                    event["link"]["href"],
                    extra,
                    f" (held {delay:.3f}s)" if delay else "",
                )

    def emit(
        self,
        app: Application,
        sender: Sender,
        event: Document,
        apply: Callable[[], object] | None = None,
        *,
        droppable: bool = False,
    ) -> bool:
        """Queue one event, after its shadow accepted it; returns False when not sent."""
        if app.gone:
            return False
        if droppable and self.faults.happens(FaultKind.DROP_STARTED):
            log.info("fault: %s %s aggregated away (not sent)", event["type"], event["link"]["href"])
            return False
        if apply is not None and not self._apply(apply, event):
            return False
        app.pending.append(self.wire_event(sender, event))
        if self.faults.happens(FaultKind.DUPLICATE) and (apply is None or self._apply(apply, event)):
            log.info("fault: %s %s sent twice", event["type"], event["link"]["href"])
            app.pending.append(self.wire_event(sender, copy.deepcopy(event)))
        return True

    def _apply(self, apply: Callable[[], object], event: Document) -> bool:
        try:
            apply()
        except CallFsmError as exc:
            message = f"not sent: the server's machine refused {event['type']} {event['link']['href']}: {exc}"
            self.refusals.append(message)
            log.error("%s", message)
            return False
        return True

    # -- the wire ----------------------------------------------------------------------------------

    def out(self, document: Document) -> Document:
        """A resource as this profile writes it (its rel prefix)."""
        dressed = dress(document, self.profile.rel_prefix)
        assert isinstance(dressed, dict)
        return dressed

    def wire_event(self, sender: Sender, event: Document) -> tuple[Sender, Document]:
        """An event as this profile and event shape send it (the shadow saw the full one)."""
        if self.config.events is EventShape.LINKS:
            event = {k: v for k, v in event.items() if k != "_embedded"}
        return (self.profile.rel(sender[0]), sender[1]), self.out(event)

    # -- finding the target of a happening --------------------------------------------------------------

    def live_apps(self) -> Iterator[Application]:
        """The applications not gone, newest first: a happening goes to the newest that qualifies."""
        return (app for app in reversed(list(self.apps.values())) if not app.gone)


def bind(function: Callable[..., Any], *bound: Any) -> Callable[..., Any]:
    """``function`` with its first arguments fixed: a timer step or a link's handler."""

    def call(*more: Any) -> Any:
        return function(*bound, *more)

    return call
