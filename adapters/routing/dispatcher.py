"""Route parsed channel events to the live machines that they concern.

Theory of operation
-------------------
The :class:`Dispatcher` holds the live models of one application and turns
each :class:`~adapters.wire.events.Event` of an :class:`~adapters.wire.events.EventsResponse`
into (at most) one trigger of one model. :meth:`Dispatcher.feed` never raises
because of what the server sent: everything it could not apply is reported in
its :class:`DispatchResult`.

Finding the model, in order:

1. by the target href (``link.href``, normalised: see below);
2. by ``operationId``, read from the embedded resource, for models the app
   :meth:`~Dispatcher.track`\\ ed before the create's 201 arrived (the
   ``started`` may beat the 201, docs/protocol.md §2.2); the href is then bound to the
   model, so the 201 and the event agree whichever comes first;
3. the join's context: conversation ``updated`` and local-participant events
   go to the :class:`~fsm.online_meeting.OnlineMeetingJoin` whose OMI named
   that conversation;
4. creation: ``started`` of an unknown invitation href (kind from the rel,
   :meth:`~fsm.invitation.InvitationKind.from_rel`) creates an
   :class:`~fsm.invitation.Invitation` unless the embedded resource says it
   is ``Outgoing`` (someone else's, or ours from before a restart: not ours
   to drive); ``started`` of an unknown renegotiation creates a
   :class:`~fsm.renegotiation.Renegotiation` through its audio/video
   session (:class:`~fsm.renegotiation.AudioVideoSession`, the glare rule);
   a lobby ``added``/``updated`` (``in: lobby``) creates a
   :class:`~fsm.lobby_participant.LobbyParticipant`;
5. held: an invitation's ``started``, ``updated`` or ``completed`` for an
   unknown href that names no operation id (no ``_embedded``: the
   documentation's own samples; or a create sent without one, which UCWA
   allows) while a create of that kind awaits its 201. The 201 is the only
   thing that can tell whose it is. See "Held events" below;
6. handled and ignored (:class:`Ignored`, never counted as unrouted): the
   ``audioVideoNegotiation`` ``updated`` (sender ``audioVideoInvitation``)
   and the modalities' ``updated`` (``audioVideo``, ``messaging``, sender
   ``conversation``), documented (docs/protocol.md §2.3) but meaning
   nothing to any machine: the invitation's own events carry its lifecycle;
7. otherwise the event is :class:`Unrouted`: reported, not applied.

Held events. A held event waits, with the later events of its href, in
arrival order. When the 201 names that href (:meth:`Dispatcher.created`,
which the client calls as the 201 comes; else the next :meth:`~Dispatcher.feed`
notices the model's href) they are delivered, in order, to that model: no
second model, whichever came first. When no 201 can claim them any more
(``hold_for`` seconds of the caller's clock passed since the first, 10 by
default: a create's 201 is one round trip, and an incoming call must not
ring unseen for long; or every create of that kind has its href already),
they are settled: a ``started`` of a kind that can be incoming is taken as
an incoming invitation (created as in step 4, with a GET for its links) and
its href's later held events go to it; anything else is a :class:`Violation`
(state ``held``). At most ``max_held`` events are held at once; beyond it an
event is a violation at once. Nothing else keeps a held event alive.

A created model whose first trigger is refused is dropped again (nothing was
created). A refused trigger on a live model is a :class:`Violation` carrying
the :class:`~fsm.errors.InvalidTrigger` message; the model is unchanged (the
fsm guarantees it). Unknown event types are never applied.

Duplicates. UCWA delivers every event exactly once, in order (docs/protocol.md
§2.2), but copies still reach an app: a webhook POST retried because our 200
was lost, a P-GET re-sent with the same ``next`` after a network error, a
response re-read after a crash. An exact copy carries nothing new, so it is
dropped: the key is (href, type, status, reason, ``in``, a digest of the
embedded resource), remembered for the last ``dedupe_window`` events. Two
events that differ in anything, even one property of the embedded body, both
act. A genuine repeat with identical content would be a no-op for every
machine anyway (same state, same links), so dropping it loses nothing. The
digest is only computed when two events in the window share href, type and
status (see :class:`~adapters.routing.duplicates.DuplicateWindow`): until
then the window holds the event itself, so it keeps up to ``dedupe_window``
events alive.

Hrefs are compared after resolving them against a base, then dropping scheme
and host: ``https://h/ucwa/x`` and ``/ucwa/x`` are the same resource, as a
``Location`` header and an event may write it either way. The base is the
latest ``baseuri`` a response carried (Trusted Application API: event hrefs
are relative to it, docs/protocol.md §2.1), else the ``base_url`` given to the
dispatcher. [U] The docs do not say whether a baseuri can change; when it
does, every index is rebuilt from the models' own hrefs, so a key never
differs from what the same href gives now.

Memory. A model that has settled (terminal, or with an outcome: an invitation
that connected) is kept for ``grace`` seconds of the caller's clock, so that
late events and duplicates still find it and are absorbed, then forgotten on
a later :meth:`~Dispatcher.feed` or :meth:`~Dispatcher.sweep`. The app keeps
its own reference if it wants more (a connected invitation it may hang up;
the responses to its requests go to the model directly, not through here).

Resume and resync. The server reset its transient state: :meth:`drop_transient`
forgets the duplicate window and the per-response caches but keeps every
model, and :meth:`hrefs_to_refetch` lists the resources to GET again
(renegotiations excluded: they exist only on the event channel).

Extension: :meth:`Dispatcher.route` registers the handler for another model
class (a handler maps one event to one trigger call, or ``None``).

The parts, each in its module: the records a feed returns (:mod:`.records`),
the handlers that turn an event into a trigger (:mod:`.handlers`), the href →
model registry (:mod:`.registry`), models the server creates
(:mod:`.creation`), held events (:mod:`.held`), the duplicate window
(:mod:`.duplicates`), and one feed's bookkeeping (:mod:`.feed_run`). This
module is the façade that composes them; every name it had stays importable
from here.
"""

from __future__ import annotations

from adapters.routing.creation import create
from adapters.routing.duplicates import DuplicateWindow
from adapters.routing.feed_run import FeedRun
from adapters.routing.handlers import (
    DEFAULT_ROUTES,
    Handler,
    RouteContext,
    Router,
    _context,
    route_invitation,
    route_lobby_participant,
    route_online_meeting,
    route_renegotiation,
)
from adapters.routing.held import HeldEvents
from adapters.routing.records import (
    _NO_RESPONSE,
    IGNORED_EVENTS,
    Change,
    DispatcherError,
    DispatchResult,
    Ignored,
    Unrouted,
    Violation,
)
from adapters.routing.registry import ModelRegistry

# replay imports _settled from here, and a test clears _href_key's cache here: explicit re-exports
from adapters.routing.registry import _href_key as _href_key  # noqa: PLC0414
from adapters.routing.registry import _settled as _settled  # noqa: PLC0414
from adapters.routing.vocabulary import _EVENT_TYPE_NAMES, RENEGOTIATION_RELS
from adapters.wire.events import Event, EventsResponse
from fsm.model import FsmModel
from fsm.renegotiation import AudioVideoSession


class Dispatcher:
    """The live models of one application, and the routing of channel events to them.

    ``now`` is always the caller's clock; the dispatcher reads none.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        grace: float = 60.0,
        dedupe_window: int = 1024,
        renegotiation_timeout: float | None = None,
        create_lobby_participants: bool = True,
        hold_for: float = 10.0,
        max_held: int = 256,
    ) -> None:
        if dedupe_window < 0:
            raise DispatcherError("dedupe_window must be >= 0")
        if not hold_for >= 0 or max_held < 0:
            raise DispatcherError("hold_for and max_held must be >= 0")
        #: Seconds (caller's clock) a settled model is kept for late events.
        self.grace = grace
        self.dedupe_window = dedupe_window
        #: Deadline given to an incoming renegotiation (``now + timeout``), or none.
        self.renegotiation_timeout = renegotiation_timeout
        self.create_lobby_participants = create_lobby_participants
        self._routes: dict[type[FsmModel], Handler] = dict(DEFAULT_ROUTES)
        #: The models and the indexes that find them (base_url and baseuri included).
        self.registry = ModelRegistry(base_url)
        # the duplicate window; adapters.routing.restart saves its keys (iteration) and restores them (add)
        self._seen = DuplicateWindow()
        #: The events held for a create's 201 (module doc, "Held events").
        self.held_events = HeldEvents(hold_for, max_held)
        self._last_sweep: float | None = None

    # -- configuration --------------------------------------------------------------

    def route(self, model_type: type[FsmModel], handler: Handler) -> None:
        """Register (or replace) the handler for a model class: the extension point."""
        self._routes[model_type] = handler

    @property
    def base_url(self) -> str | None:
        return self.registry.base_url

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        self.registry.base_url = value

    @property
    def baseuri(self) -> str | None:
        """The latest ``baseuri`` a response carried; hrefs resolve against it first."""
        return self.registry.baseuri

    @baseuri.setter
    def baseuri(self, value: str | None) -> None:
        self.registry.baseuri = value

    @property
    def hold_for(self) -> float:
        """Seconds (caller's clock) an event is held for a create's 201 (module doc, "Held events")."""
        return self.held_events.hold_for

    @hold_for.setter
    def hold_for(self, value: float) -> None:
        self.held_events.hold_for = value

    @property
    def max_held(self) -> int:
        return self.held_events.max_held

    @max_held.setter
    def max_held(self, value: int) -> None:
        self.held_events.max_held = value

    # -- models -----------------------------------------------------------------------

    @property
    def models(self) -> tuple[FsmModel, ...]:
        return tuple(self.registry.models.values())

    def model_for(self, href: str) -> FsmModel | None:
        return self.registry.model_for(href)

    def track(self, model: FsmModel, href: str | None = None, operation_id: str | None = None) -> FsmModel:
        """Register a model the app created (before the 201: by its operation id).

        ``href`` and ``operation_id`` default to the model's own. A model with
        neither is kept and indexed as soon as one of them appears (the
        transport calls ``created(href=Location)`` on it).
        """
        if type(model) not in self._routes and not any(isinstance(model, t) for t in self._routes):
            raise DispatcherError(f"no route for {type(model).__name__}: register one with Dispatcher.route")
        registry = self.registry
        registry.models[id(model)] = model
        registry.keys.setdefault(id(model), set())
        registry.index(model, href=href, operation_id=operation_id)
        return model

    def created(self, model: FsmModel, *, now: float, href: str | None = None) -> DispatchResult:
        """The create's 201 named ``model``'s href (``href``, else the model's own): deliver what was held for it.

        The client calls it as each 201 comes, after the model's own
        ``created`` trigger; the events held for that href then reach the
        model in order, and events no 201 can claim any more are settled
        (module doc, "Held events"). Without this call the next :meth:`feed`
        does the same.
        """
        run = self._run(_NO_RESPONSE, now)
        if id(model) in self.registry.models:
            self.registry.index(model, href=href)
            own = href or getattr(model, "href", None)
            if isinstance(own, str):
                self.held_events.release(run, self.key(own), model)
        self.held_events.settle(run)
        return run.result()

    @property
    def held_count(self) -> int:
        """How many events are held for a create's 201 right now."""
        return self.held_events.count

    def forget(self, model: FsmModel) -> None:
        """Drop a model and everything that points to it."""
        self.registry.forget(model)

    def av_session(self, href: str) -> AudioVideoSession:
        """The :class:`AudioVideoSession` for an ``audioVideoSession`` href (created on first use).

        Offer renegotiations through it (``session.offer(...)``) and :meth:`track`
        the model, so that an incoming offer crossing ours is dismissed (glare).
        A session is dropped by :meth:`sweep` once its current renegotiation
        is no longer tracked.
        """
        return self.registry.av_session(href)

    def sweep(self, now: float) -> tuple[FsmModel, ...]:
        """Notice models settled outside the dispatcher, forget those settled ``grace`` ago; returns them.

        Looks at every live model: :meth:`feed` calls it at most every
        ``grace / 4`` seconds of the caller's clock, so a feed stays cheap
        with many live models.
        """
        self._last_sweep = now
        return self.registry.sweep(now, self.grace)

    def drop_transient(self) -> tuple[str, ...]:
        """After ``resume``/``resync``: forget the duplicate window and caches, keep the models.

        Returns :meth:`hrefs_to_refetch`, the resources to read again.
        """
        self._seen.clear()
        return self.hrefs_to_refetch()

    def hrefs_to_refetch(self) -> tuple[str, ...]:
        """Hrefs of live, unsettled models to GET again after a resume or resync."""
        return self.registry.hrefs_to_refetch()

    def key(self, href: str) -> str:
        """The form hrefs are compared in: resolved, then without scheme and host."""
        return self.registry.key(href)

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, response: EventsResponse, now: float) -> DispatchResult:
        """Apply every event of ``response`` in order. Never raises for what the server sent."""
        registry = self.registry
        if response.baseuri and response.baseuri != registry.baseuri:
            registry.rebase(response.baseuri)
        run = self._run(response, now)
        self._refresh(run)
        if self.held_events.by_key:
            self.held_events.settle(run)
        if self._last_sweep is None or now - self._last_sweep >= self.grace / 4:
            self.sweep(now)
        route = self._route
        for index, event in enumerate(response.events):
            route(run, index, event)
        return run.result()

    def _run(self, response: EventsResponse, now: float) -> FeedRun:
        return FeedRun(
            self,
            self.registry,
            self._routes,
            response,
            now,
            renegotiation_timeout=self.renegotiation_timeout,
            create_lobby_participants=self.create_lobby_participants,
        )

    def _refresh(self, run: FeedRun) -> None:
        # tracked models that learned their href outside (created(href=Location)) since the last feed
        registry = self.registry
        if registry.pending:
            for model in list(registry.pending.values()):
                href = getattr(model, "href", None)
                if isinstance(href, str):
                    registry.index(model)
                    if self.held_events.by_key:
                        self.held_events.release(run, registry.key(href), model)

    def _route(self, run: FeedRun, index: int, event: Event) -> None:
        """One event: the steps of the module doc, in order."""
        if not event.known:
            run.unrouted(index, event, f"unknown event type {event.type!r}: kept, not applied")
            return
        registry = self.registry
        href = event.link.href
        # the event's href key, computed once: the duplicate check, the search and the indexing all need it
        key = registry.key(href)
        run.href_key = (href, key)
        if self._remember(event, key):
            run.duplicates.append(index)
            return
        reason = event.reason
        ctx = _context(run.now, event.representation(), None if reason is None else reason.to_reason(), self)
        model = registry.find(event, key)
        held = self.held_events
        if model is not None:
            if held.by_key and key in held.by_key:
                # the model was just found by operation id: what was held for its href came first
                held.release(run, key, model)
                run.href_key = (href, key)
            run.apply(index, event, model, ctx, created=False)
            return
        if held.hold(run, index, event, key):
            return
        if not create(run, index, event, ctx):
            run.unrouted(index, event, "no live machine for this href, and this event does not create one")

    def _remember(self, event: Event, key: str | None = None) -> bool:
        """True if this exact event was seen within the window (then it is a duplicate).

        ``key``: ``self.key(event.link.href)``, when the caller has it.
        """
        if self.dedupe_window == 0:
            return False
        type_ = event.type
        if type_ not in _EVENT_TYPE_NAMES:  # (the usual spelling is already normalised)
            type_ = type_.strip().lower()
        prefix = (self.key(event.link.href) if key is None else key, type_, event.status)
        return self._seen.remember(prefix, event, self.dedupe_window)


__all__ = [
    "DEFAULT_ROUTES",
    "IGNORED_EVENTS",
    "RENEGOTIATION_RELS",
    "Change",
    "DispatchResult",
    "Dispatcher",
    "DispatcherError",
    "Handler",
    "Ignored",
    "RouteContext",
    "Router",
    "Unrouted",
    "Violation",
    "route_invitation",
    "route_lobby_participant",
    "route_online_meeting",
    "route_renegotiation",
]
