"""Handlers: how one event becomes one trigger call, per model class (the dispatcher's routes).

A handler gets the model the event was routed to, the event, and a :class:`RouteContext`;
it calls the one trigger the event means, or returns ``None`` when the event means nothing
to that model. :data:`DEFAULT_ROUTES` maps each machine of :mod:`fsm` to its handler;
:meth:`adapters.routing.dispatcher.Dispatcher.route` adds or replaces one. Handlers are
apart from the dispatcher because they are the one part that speaks each machine's
trigger vocabulary, and the part an application extends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol, TypeAlias

from attrs import frozen

from adapters.routing.vocabulary import _EVENT_TYPES, _PARTICIPANT_RELS, _invitation_kind
from adapters.wire.events import Event, EventType, _new_object, _slot_setters
from fsm.actions import Actions
from fsm.invitation import Invitation, InvitationKind
from fsm.lobby_participant import LobbyParticipant
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin
from fsm.outcome import CompletionStatus
from fsm.reasons import Reason
from fsm.renegotiation import AudioVideoSession, Renegotiation
from fsm.wire import Representation


class Router(Protocol):
    """What a handler may ask of the dispatcher: :class:`adapters.routing.dispatcher.Dispatcher` is one.

    A protocol rather than the class because the dispatcher imports the handlers: a handler
    that indexes more hrefs (like the join's conversation) needs only these.
    """

    def key(self, href: str) -> str: ...

    def model_for(self, href: str) -> FsmModel | None: ...

    def track(self, model: FsmModel, href: str | None = None, operation_id: str | None = None) -> FsmModel: ...

    def forget(self, model: FsmModel) -> None: ...

    def av_session(self, href: str) -> AudioVideoSession: ...


@frozen
class RouteContext:
    """What a handler gets besides the model and the event."""

    now: float
    #: The event's embedded target as a representation, or ``None``.
    representation: Representation | None
    reason: Reason | None
    #: The dispatcher (for handlers that index more hrefs, like the join's conversation), seen as a :class:`Router`.
    dispatcher: Router


_SET_CONTEXT_SLOTS: Final = _slot_setters(RouteContext)


def _context(
    now: float, representation: Representation | None, reason: Reason | None, dispatcher: Router
) -> RouteContext:
    """``RouteContext(now, representation, reason, dispatcher)``, without the frozen ``__init__``'s setattr calls."""
    ctx: RouteContext = _new_object(RouteContext)
    set_now, set_representation, set_reason, set_dispatcher = _SET_CONTEXT_SLOTS
    set_now(ctx, now)
    set_representation(ctx, representation)
    set_reason(ctx, reason)
    set_dispatcher(ctx, dispatcher)
    return ctx


#: A handler maps one event to one trigger call; ``None``: the event means nothing to this model.
Handler: TypeAlias = Callable[[Any, Event, RouteContext], Actions | None]


def _truthy(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


# -- handlers ---------------------------------------------------------------------------


def _invitation_like(model: Any, event: Event, ctx: RouteContext) -> Actions | None:
    kind = _EVENT_TYPES.get(event.type) or event.event_type  # the usual spelling, else the full rule
    href = event.link.href
    if kind is EventType.STARTED:
        return model.started(now=ctx.now, href=href, representation=ctx.representation)  # type: ignore[no-any-return]
    if kind is EventType.UPDATED:
        return model.updated(now=ctx.now, href=href, representation=ctx.representation)  # type: ignore[no-any-return]
    if kind is EventType.COMPLETED:
        return model.completed(  # type: ignore[no-any-return]
            now=ctx.now, status=event.status, reason=ctx.reason, representation=ctx.representation, href=href
        )
    return None


def route_invitation(model: Invitation, event: Event, ctx: RouteContext) -> Actions | None:
    """started / updated / completed of the invitation itself."""
    return _invitation_like(model, event, ctx)


def route_online_meeting(model: OnlineMeetingJoin, event: Event, ctx: RouteContext) -> Actions | None:
    """The OMI's own events, its conversation's updates, the local participant's events."""
    name = event.link.name
    kind = event.event_type
    if _invitation_kind(event.link.rel) is InvitationKind.ONLINE_MEETING:
        return _invitation_like(model, event, ctx)
    if name == "conversation" and kind is EventType.UPDATED:
        state = ctx.representation.state if ctx.representation is not None else None
        return model.conversation_updated(now=ctx.now, state=state)
    if name in _PARTICIPANT_RELS and event.in_ is None:
        local = name == "localParticipant" or (
            model.participant_href is not None
            and ctx.dispatcher.key(event.link.href) == ctx.dispatcher.key(model.participant_href)
        )
        if not local:
            return None
        if kind is EventType.ADDED:
            return model.roster_added(now=ctx.now, href=event.link.href)
        if kind is EventType.UPDATED:
            resource = event.resource
            in_lobby = None if resource is None else _truthy(resource.get("inLobby"))
            return model.participant_updated(now=ctx.now, in_lobby=in_lobby)
    return None


def route_lobby_participant(model: LobbyParticipant, event: Event, ctx: RouteContext) -> Actions | None:
    """Lobby added / updated / deleted (``in: lobby``) and the roster ``added`` (no ``in``)."""
    kind = event.event_type
    resource = event.resource
    name = resource.get("name") if resource is not None else None
    display_name = name if isinstance(name, str) else None
    in_lobby = event.in_ is not None and event.in_.name == "lobby"
    if in_lobby and kind is EventType.ADDED:
        return model.added(
            now=ctx.now, href=event.link.href, representation=ctx.representation, display_name=display_name
        )
    if in_lobby and kind is EventType.UPDATED:
        return model.updated(
            now=ctx.now, href=event.link.href, representation=ctx.representation, display_name=display_name
        )
    if in_lobby and kind is EventType.DELETED:
        return model.deleted(now=ctx.now)
    if event.in_ is None and kind is EventType.ADDED:
        return model.roster_added(now=ctx.now, href=event.link.href)
    return None


def route_renegotiation(model: Renegotiation, event: Event, ctx: RouteContext) -> Actions | None:
    """``started`` (documented); [I] a later ``updated``/``completed`` carrying ``mediaAnswer`` or a failure."""
    kind = event.event_type
    representation = ctx.representation or Representation()
    answer = representation.link("mediaAnswer")
    if kind is EventType.STARTED:
        offer = representation.link("mediaOffer")
        return model.started(
            now=ctx.now,
            representation=representation,
            href=event.link.href,
            media_offer=None if offer is None else offer.href,
        )
    if kind in (EventType.UPDATED, EventType.COMPLETED) and answer is not None:
        return model.remote_answered(now=ctx.now, media_answer=answer.href)
    if kind is EventType.COMPLETED and event.completion_status is CompletionStatus.FAILURE:
        return model.remote_rejected(now=ctx.now, reason=ctx.reason)
    return None


DEFAULT_ROUTES: Final[Mapping[type[FsmModel], Handler]] = {
    Invitation: route_invitation,
    OnlineMeetingJoin: route_online_meeting,
    LobbyParticipant: route_lobby_participant,
    Renegotiation: route_renegotiation,
}


__all__ = [
    "DEFAULT_ROUTES",
    "Handler",
    "RouteContext",
    "Router",
    "route_invitation",
    "route_lobby_participant",
    "route_online_meeting",
    "route_renegotiation",
]
