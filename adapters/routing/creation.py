"""Models the server creates: an incoming invitation, an incoming renegotiation, a lobby participant.

Step 4 of the dispatcher's routing (:mod:`adapters.routing.dispatcher`): an event for an href
no live model has may start a model of its own, when it is the ``started`` of an invitation or
renegotiation that is not outgoing (an outgoing one is someone else's, or ours from before a
restart: not ours to drive), or a lobby ``added``/``updated``. Which events create what is the
one decision here; applying the first trigger and reporting a refusal is the run's
(:class:`~adapters.routing.feed_run.FeedRun`), so that a created model whose first trigger is
refused is dropped again like any refused event.
"""

from __future__ import annotations

from typing import Final

from adapters.routing.feed_run import FeedRun
from adapters.routing.handlers import RouteContext
from adapters.routing.records import Violation
from adapters.routing.vocabulary import RENEGOTIATION_RELS, _direction, _invitation_kind
from adapters.wire.events import Event, EventType
from fsm.errors import CallFsmError
from fsm.invitation import Invitation, InvitationKind
from fsm.lobby_participant import LobbyParticipant
from fsm.renegotiation import Renegotiation
from fsm.wire import Direction

_IDLE_RENEGOTIATION: Final = Renegotiation().state


def create(run: FeedRun, index: int, event: Event, ctx: RouteContext) -> bool:
    """Handle an event for an unknown href that may create a model; False: it does not."""
    kind = event.event_type
    name = event.link.name
    invitation_kind = _invitation_kind(event.link.rel)
    if invitation_kind is not None and kind is EventType.STARTED:
        return create_invitation(run, index, event, ctx, invitation_kind)
    if name in RENEGOTIATION_RELS and kind is EventType.STARTED:
        return create_renegotiation(run, index, event, ctx)
    in_lobby = event.in_ is not None and event.in_.name == "lobby"
    if (
        run.create_lobby_participants
        and in_lobby
        and name == "participant"
        and kind in (EventType.ADDED, EventType.UPDATED)
    ):
        run.apply(index, event, LobbyParticipant(), ctx, created=True)
        return True
    return False


def create_invitation(run: FeedRun, index: int, event: Event, ctx: RouteContext, kind: InvitationKind) -> bool:
    representation = ctx.representation
    direction = None if representation is None else _direction(representation.direction)
    if direction is Direction.OUTGOING:
        run.unrouted(index, event, "started of an outgoing invitation no tracked model owns (no matching operationId)")
        return True
    # without the resource the machine asks for a GET itself: links gate every action
    run.apply(index, event, Invitation(kind=kind), ctx, created=True)
    return True


def create_renegotiation(run: FeedRun, index: int, event: Event, ctx: RouteContext) -> bool:
    representation = ctx.representation
    if representation is None:
        run.unrouted(index, event, "renegotiation started without its resource: its direction is unknown")
        return True
    direction = _direction(representation.direction)
    if direction is Direction.OUTGOING:
        run.unrouted(index, event, "started of an outgoing renegotiation no tracked model owns")
        return True
    offer = representation.link("mediaOffer")
    deadline = None if run.renegotiation_timeout is None else run.now + run.renegotiation_timeout
    session_link = representation.link("audioVideoSession")
    session = None if session_link is None else run.registry.av_session(session_link.href)
    try:
        if session is not None:
            model, actions = session.incoming(
                now=run.now,
                representation=representation,
                href=event.link.href,
                media_offer=None if offer is None else offer.href,
                deadline=deadline,
            )
        else:
            model = Renegotiation()
            actions = model.started(
                now=run.now,
                representation=representation,
                href=event.link.href,
                media_offer=None if offer is None else offer.href,
                deadline=deadline,
            )
    except CallFsmError as refused:
        run.violations.append(
            Violation(run.response_href, index, event.link.href, "renegotiation", "idle", event.type, str(refused))
        )
        return True
    run.commit(index, event, model, _IDLE_RENEGOTIATION, actions, created=True)
    if session is not None and session_link is not None:
        run.registry.keys.setdefault(id(model), set()).add(("session", session_link.href))
    return True


__all__ = ["create", "create_invitation", "create_renegotiation"]
