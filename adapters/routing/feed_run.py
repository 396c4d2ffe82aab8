"""One feed call's bookkeeping: applying an event to a model, and the records the call returns.

:class:`FeedRun` lives for one :meth:`~adapters.routing.dispatcher.Dispatcher.feed` (or one
``created``): it runs a handler and records what came of it (a change and its actions, a
violation, an unrouted or ignored event) and finally makes the
:class:`~adapters.routing.records.DispatchResult`. Held events (:mod:`.held`) and created models
(:mod:`.creation`) are applied through it too, so that a refused trigger is reported the same way
whichever path brought the event. It is apart from the dispatcher so that those parts can use it
without importing the dispatcher.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.routing.handlers import Handler, RouteContext, Router
from adapters.routing.records import (
    IGNORED_EVENTS,
    Change,
    DispatchResult,
    Ignored,
    Unrouted,
    Violation,
    _change,
)
from adapters.routing.registry import ModelRegistry, _settled
from adapters.wire.events import Event, EventsResponse
from fsm.actions import Action
from fsm.errors import CallFsmError
from fsm.model import FsmModel


class FeedRun:
    """The bookkeeping of one :meth:`~adapters.routing.dispatcher.Dispatcher.feed` call."""

    def __init__(
        self,
        dispatcher: Router,
        registry: ModelRegistry,
        routes: dict[type[FsmModel], Handler],
        response: EventsResponse,
        now: float,
        *,
        renegotiation_timeout: float | None,
        create_lobby_participants: bool,
    ) -> None:
        self.d = dispatcher
        self.registry = registry
        self.routes = routes
        self.renegotiation_timeout = renegotiation_timeout
        self.create_lobby_participants = create_lobby_participants
        self.response = response
        self.now = now
        self.changes: list[Change] = []
        self.actions: list[Action] = []
        self.violations: list[Violation] = []
        self.unknown: list[Unrouted] = []
        self.duplicates: list[int] = []
        self.created: list[FsmModel] = []
        self.ignored: list[Ignored] = []
        self.held: list[int] = []
        #: The current event's (href, key).
        self.href_key: tuple[str, str] | None = None
        #: The ``self`` of the response the current event came in (a held event's own, when released).
        self.response_href = response.self_href

    def result(self) -> DispatchResult:
        return DispatchResult(
            changes=tuple(self.changes),
            actions=tuple(self.actions),
            violations=tuple(self.violations),
            unknown=tuple(self.unknown),
            duplicates=tuple(self.duplicates),
            created=tuple(self.created),
            ignored=tuple(self.ignored),
            held=tuple(self.held),
        )

    def unrouted(self, index: int, event: Event, why: str) -> None:
        kind = event.event_type if event.known else None
        ignored = None if kind is None else IGNORED_EVENTS.get((event.link.name, kind))
        if ignored is not None:
            href, rel = event.link.href, event.link.rel
            self.ignored.append(Ignored(self.response_href, index, href, rel, event.type, ignored))
            return
        self.unknown.append(Unrouted(self.response_href, index, event.link.href, event.link.rel, event.type, why))

    # -- applying ------------------------------------------------------------------------

    def apply(self, index: int, event: Event, model: FsmModel, ctx: RouteContext, *, created: bool) -> bool:
        handler = self.routes.get(type(model)) or self._handler(model)
        source = model.state  # type: ignore[attr-defined]
        if handler is None:
            self.unrouted(index, event, f"no route for {type(model).__name__}")
            return False
        try:
            actions = handler(model, event, ctx)
        except CallFsmError as refused:
            self.violations.append(
                Violation(
                    self.response_href,
                    index,
                    event.link.href,
                    model.machine,
                    str(getattr(source, "value", source)),
                    event.type,
                    str(refused),
                )
            )
            return False
        if actions is None:
            self.unrouted(index, event, f"means nothing to the {model.machine} machine in state {source.value}")
            return False
        self.commit(index, event, model, source, actions, created=created)
        return True

    def commit(
        self, index: int, event: Event, model: FsmModel, source: Any, actions: Iterable[Action], *, created: bool
    ) -> None:
        registry = self.registry
        if created:
            registry.models[id(model)] = model
            self.created.append(model)
        registry.index(model, href=event.link.href if created else None, href_key=self.href_key)
        if _settled(model):  # the registry's settled bookkeeping, inlined: once per applied event
            registry.settled_at.setdefault(id(model), self.now)
        else:
            registry.settled_at.pop(id(model), None)
        self.changes.append(_change(model, source, model.state, event, index))  # type: ignore[attr-defined]
        self.actions.extend(actions)

    def _handler(self, model: FsmModel) -> Handler | None:
        handler = self.routes.get(type(model))
        if handler is not None:
            return handler
        for model_type, candidate in self.routes.items():
            if isinstance(model, model_type):
                return candidate
        return None


__all__ = ["FeedRun"]
