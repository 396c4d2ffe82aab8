"""callfsm's side of the ingestion figure: bytes -> parsed -> routed -> applied -> recorded.

Theory of operation
-------------------
Written against the event-channel adapters: ``adapters.wire.events.parse_events(body,
content_type)`` turns one response body into a typed response, and
``adapters.routing.dispatcher.Dispatcher.feed(response, now)`` routes each event to its
machine (creating one for a new incoming invitation), applies it and reports
what it did. The suite imports this module only once both adapters exist, and
checks one untimed run first: every event must have reached a machine's
history, or the figure would be measuring something else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.routing.dispatcher import Dispatcher
from adapters.wire.events import parse_events


class CallFsmIngest:
    """A fresh dispatcher fed one stream of responses."""

    def __init__(self) -> None:
        self.dispatcher: Any = Dispatcher()

    def run(self, bodies: Sequence[bytes], content_type: str) -> list[Any]:
        feed = self.dispatcher.feed
        return [feed(parse_events(body, content_type), 1000.0 + i) for i, body in enumerate(bodies)]

    def check(self, bodies: Sequence[bytes], content_type: str, expected_events: int) -> str | None:
        """Run once (untimed); ``None`` if every event was applied, else what went wrong."""
        results = self.run(bodies, content_type)
        applied = sum(len(getattr(r, "changes", ())) for r in results)
        refused = sum(len(getattr(r, "violations", ())) for r in results)
        unrouted = sum(len(getattr(r, "unknown", ())) for r in results)
        recorded = sum(len(m.history) for m in self.dispatcher.models)
        if applied == recorded == expected_events and not refused and not unrouted:
            return None
        return (
            f"{content_type}: {applied} applied, {recorded} recorded, {refused} refused, "
            f"{unrouted} unrouted of {expected_events} events"
        )
