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
status (see :class:`_DuplicateWindow`): until then the window holds the event
itself, so it keeps up to ``dedupe_window`` events alive.

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
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TypeAlias
from urllib.parse import urljoin, urlsplit

from attrs import frozen

from adapters.wire.events import Event, EventsResponse, EventType, _new_object, _slot_setters
from fsm.actions import Action, Actions
from fsm.errors import CallFsmError
from fsm.invitation import KIND_RULES, Invitation, InvitationKind, InvitationState
from fsm.lobby_participant import LobbyParticipant
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.outcome import CompletionStatus
from fsm.reasons import Reason
from fsm.renegotiation import AudioVideoSession, Renegotiation
from fsm.wire import Direction, Representation, bare_rel

#: Rels (bare) of the resources a renegotiation model stands for.
RENEGOTIATION_RELS: Final = frozenset({"audioVideoRenegotiation", "applicationSharingRenegotiation"})
_PARTICIPANT_RELS: Final = frozenset({"participant", "localParticipant"})
_EVENT_TYPES: Final[Mapping[str, EventType]] = {member.value: member for member in EventType}
_EVENT_TYPE_NAMES: Final = frozenset(_EVENT_TYPES)

# Dict lookups with the same rules as InvitationKind.from_rel and Direction.parse,
# which scan their enum (a Python-level property read per member) on every event.
_INVITATION_KINDS: Final[Mapping[str, InvitationKind]] = {member.value: member for member in InvitationKind}
_DIRECTIONS: Final[Mapping[str, Direction]] = {member.value.lower(): member for member in Direction}


def _invitation_kind(rel: str) -> InvitationKind | None:
    """``InvitationKind.from_rel(rel)``."""
    return _INVITATION_KINDS.get(bare_rel(rel))


def _direction(text: str | None) -> Direction | None:
    """``Direction.parse(text)``."""
    return None if text is None else _DIRECTIONS.get(text.lower())


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


@frozen
class _Held:
    """An event held until a create's 201 names its href (see "Held events" in the module doc)."""

    event: Event
    kind: InvitationKind
    #: Where it came from: the response's ``self`` and the event's index there.
    response: str | None
    index: int
    #: The caller's clock when it arrived.
    since: float


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


@frozen
class RouteContext:
    """What a handler gets besides the model and the event."""

    now: float
    #: The event's embedded target as a representation, or ``None``.
    representation: Representation | None
    reason: Reason | None
    #: The dispatcher (for handlers that index more hrefs, like the join's conversation).
    dispatcher: Dispatcher


_SET_CONTEXT_SLOTS: Final = _slot_setters(RouteContext)
_SET_CHANGE_SLOTS: Final = _slot_setters(Change)


def _context(
    now: float, representation: Representation | None, reason: Reason | None, dispatcher: Dispatcher
) -> RouteContext:
    """``RouteContext(now, representation, reason, dispatcher)``, without the frozen ``__init__``'s setattr calls."""
    ctx: RouteContext = _new_object(RouteContext)
    set_now, set_representation, set_reason, set_dispatcher = _SET_CONTEXT_SLOTS
    set_now(ctx, now)
    set_representation(ctx, representation)
    set_reason(ctx, reason)
    set_dispatcher(ctx, dispatcher)
    return ctx


def _change(model: FsmModel, source: Any, dest: Any, event: Event, index: int) -> Change:
    """``Change(model, source, dest, event, index)``, the same way."""
    change: Change = _new_object(Change)
    set_model, set_source, set_dest, set_event, set_index = _SET_CHANGE_SLOTS
    set_model(change, model)
    set_source(change, source)
    set_dest(change, dest)
    set_event(change, event)
    set_index(change, index)
    return change


#: A handler maps one event to one trigger call; ``None``: the event means nothing to this model.
Handler: TypeAlias = Callable[[Any, Event, RouteContext], Actions | None]


class DispatcherError(CallFsmError, ValueError):
    """The app used the dispatcher wrongly (e.g. tracked a model with nothing to find it by)."""


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


# -- the dispatcher -------------------------------------------------------------------------


def _digest(event: Event) -> str:
    reason = event.reason
    body = {
        "embedded": None if event.embedded is None else dict(event.embedded),
        "reason": None if reason is None else [reason.code, reason.subcode, reason.message],
        "in": None if event.in_ is None else [event.in_.rel, event.in_.href],
        "rel": event.link.rel,
    }
    text = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: A duplicate-window key: (href key, lowered type, status, :func:`_digest` of the rest).
_SeenKey: TypeAlias = tuple[str, str, str | None, str]
_Prefix: TypeAlias = tuple[str, str, str | None]
#: A window entry: the event, or once needed its digest.
_Entry: TypeAlias = Event | str


class _DuplicateWindow:
    """The keys of the last distinct events, the digest part computed only when it can matter.

    An event is a duplicate when an event in the window has the same key
    ``(href key, type, status, digest)``. The digest (canonical JSON of the
    embedded resource, reason, ``in`` and rel, then SHA-256: ~8 µs) can only
    matter between events that already agree on the *prefix* ``(href, type,
    status)``, which in a stream is rare: a resource's ``started``,
    ``updated`` and ``completed`` differ by type; only its repeated
    ``updated`` (or a real copy) agree. So the window keeps, per prefix, its
    entries oldest first (a list only once there are two), each either the
    event itself (immutable) or, once needed, its digest: both digests are
    made the first time a later event shares the prefix, and the digest then
    replaces the event. Every answer is the one full keys would give, since a
    digest depends only on its event. The oldest entry leaving the window is
    the first of its prefix's group.

    It is read as a sequence (iteration: the full keys, oldest first;
    ``append``) and as a set (``in``, ``add``): :mod:`adapters.routing.restart` saves
    its keys in order and restores them with ``add``.
    """

    def __init__(self) -> None:
        #: The prefix of every entry, oldest first.
        self._order: deque[_Prefix] = deque()
        #: prefix -> its entry, or its entries oldest first once there are several (a list): each
        #: an event not digested yet, or its digest.
        self._groups: dict[_Prefix, _Entry | list[_Entry]] = {}

    def remember(self, prefix: _Prefix, event: Event, size: int) -> bool:
        """True if ``event`` is a duplicate; else it enters the window, which then keeps its ``size`` newest."""
        groups = self._groups
        group = groups.get(prefix)
        if group is None:
            groups[prefix] = event
        else:
            entries = self._entries(prefix)
            digest = _digest(event)
            if digest in _digested(entries):
                return True
            entries.append(digest)
        order = self._order
        order.append(prefix)
        while len(order) > size:
            self._leave()
        return False

    def _entries(self, prefix: _Prefix) -> list[_Entry]:
        """The entries of a prefix that has some, as a list (made one in place)."""
        group = self._groups[prefix]
        if type(group) is list:
            return group
        entries: list[_Entry] = [group]  # type: ignore[list-item]
        self._groups[prefix] = entries
        return entries

    def _leave(self) -> None:
        oldest = self._order.popleft()
        group = self._groups[oldest]
        if type(group) is list and len(group) > 1:
            del group[0]
        else:
            del self._groups[oldest]

    # -- the deque and set views ----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[_SeenKey]:
        position: dict[_Prefix, int] = {}
        keys: list[_SeenKey] = []
        for prefix in self._order:
            index = position.get(prefix, 0)
            position[prefix] = index + 1
            keys.append((*prefix, _digested(self._entries(prefix))[index]))
        return iter(keys)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 4:
            return False
        prefix = key[:3]
        return prefix in self._groups and key[3] in _digested(self._entries(prefix))

    def append(self, key: _SeenKey) -> None:
        """Add a full key as the newest entry (a restored window)."""
        href, type_, status, digest = key
        prefix = (href, type_, status)
        if prefix in self._groups:
            self._entries(prefix).append(digest)
        else:
            self._groups[prefix] = digest
        self._order.append(prefix)

    def add(self, key: _SeenKey) -> None:
        """Add a full key unless it is there already."""
        if key not in self:
            self.append(key)

    def clear(self) -> None:
        self._order.clear()
        self._groups.clear()


def _digested(group: list[_Entry]) -> list[str]:
    """The digests of a group's entries, made (and kept in place of their events) where missing."""
    for index, entry in enumerate(group):
        if not isinstance(entry, str):
            group[index] = _digest(entry)
    return group  # type: ignore[return-value]


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
        self.base_url = base_url
        #: Seconds (caller's clock) a settled model is kept for late events.
        self.grace = grace
        self.dedupe_window = dedupe_window
        #: Deadline given to an incoming renegotiation (``now + timeout``), or none.
        self.renegotiation_timeout = renegotiation_timeout
        self.create_lobby_participants = create_lobby_participants
        self._routes: dict[type[FsmModel], Handler] = dict(DEFAULT_ROUTES)
        self._models: dict[int, FsmModel] = {}
        self._by_href: dict[str, FsmModel] = {}
        self._by_operation: dict[str, FsmModel] = {}
        self._conversations: dict[str, OnlineMeetingJoin] = {}
        self._sessions: dict[str, AudioVideoSession] = {}
        #: session key -> the href it was asked for (to rebuild keys when the base changes)
        self._session_hrefs: dict[str, str] = {}
        self._keys: dict[int, set[tuple[str, str]]] = {}
        self._settled_at: dict[int, float] = {}
        # the duplicate window; adapters.routing.restart saves its keys (iteration) and restores them (add)
        self._seen = _DuplicateWindow()
        #: The latest ``baseuri`` a response carried; hrefs resolve against it first.
        self.baseuri: str | None = None
        #: Tracked models not yet indexed by href.
        self._pending: dict[int, FsmModel] = {}
        self._last_sweep: float | None = None
        #: Seconds (caller's clock) an event is held for a create's 201 (module doc, "Held events").
        self.hold_for = hold_for
        self.max_held = max_held
        #: href key -> its held events, in arrival order.
        self._held: dict[str, list[_Held]] = {}

    # -- configuration --------------------------------------------------------------

    def route(self, model_type: type[FsmModel], handler: Handler) -> None:
        """Register (or replace) the handler for a model class: the extension point."""
        self._routes[model_type] = handler

    # -- models -----------------------------------------------------------------------

    @property
    def models(self) -> tuple[FsmModel, ...]:
        return tuple(self._models.values())

    def model_for(self, href: str) -> FsmModel | None:
        return self._by_href.get(self.key(href))

    def track(self, model: FsmModel, href: str | None = None, operation_id: str | None = None) -> FsmModel:
        """Register a model the app created (before the 201: by its operation id).

        ``href`` and ``operation_id`` default to the model's own. A model with
        neither is kept and indexed as soon as one of them appears (the
        transport calls ``created(href=Location)`` on it).
        """
        if type(model) not in self._routes and not any(isinstance(model, t) for t in self._routes):
            raise DispatcherError(f"no route for {type(model).__name__}: register one with Dispatcher.route")
        self._models[id(model)] = model
        self._keys.setdefault(id(model), set())
        self._index(model, href=href, operation_id=operation_id)
        return model

    def created(self, model: FsmModel, *, now: float, href: str | None = None) -> DispatchResult:
        """The create's 201 named ``model``'s href (``href``, else the model's own): deliver what was held for it.

        The client calls it as each 201 comes, after the model's own
        ``created`` trigger; the events held for that href then reach the
        model in order, and events no 201 can claim any more are settled
        (module doc, "Held events"). Without this call the next :meth:`feed`
        does the same.
        """
        run = _Run(self, _NO_RESPONSE, now)
        if id(model) in self._models:
            self._index(model, href=href)
            own = href or getattr(model, "href", None)
            if isinstance(own, str):
                run.release(self.key(own), model)
        run.settle_held()
        return run.result()

    @property
    def held_count(self) -> int:
        """How many events are held for a create's 201 right now."""
        return sum(len(entries) for entries in self._held.values())

    def _awaiting(self, kind: InvitationKind) -> bool:
        """Whether a create of ``kind`` was sent and its resource is not known yet (its 201 may claim an href)."""
        for model in self._pending.values():
            if getattr(model, "href", None) is not None:
                continue
            if isinstance(model, Invitation):
                if model.kind is kind and model.state is InvitationState.SENDING:
                    return True
            elif (
                isinstance(model, OnlineMeetingJoin)
                and kind is InvitationKind.ONLINE_MEETING
                and model.state is OnlineMeetingState.SENDING
            ):
                return True
        return False

    def forget(self, model: FsmModel) -> None:
        """Drop a model and everything that points to it."""
        ident = id(model)
        self._models.pop(ident, None)
        self._settled_at.pop(ident, None)
        self._pending.pop(ident, None)
        for space, key in self._keys.pop(ident, set()):
            if space == "session":
                session_key = self.key(key)  # stored as the href: keys may have been rebuilt
                session = self._sessions.get(session_key)
                if session is not None and session.current is model:
                    self._drop_session(session_key)
                continue
            tables: dict[str, dict[str, Any]] = {
                "href": self._by_href,
                "op": self._by_operation,
                "conv": self._conversations,
            }
            table = tables[space]
            if table.get(key) is model:
                del table[key]

    def av_session(self, href: str) -> AudioVideoSession:
        """The :class:`AudioVideoSession` for an ``audioVideoSession`` href (created on first use).

        Offer renegotiations through it (``session.offer(...)``) and :meth:`track`
        the model, so that an incoming offer crossing ours is dismissed (glare).
        A session is dropped by :meth:`sweep` once its current renegotiation
        is no longer tracked.
        """
        key = self.key(href)
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = AudioVideoSession()
            self._session_hrefs[key] = href
        return session

    def _drop_session(self, key: str) -> None:
        self._sessions.pop(key, None)
        self._session_hrefs.pop(key, None)

    def sweep(self, now: float) -> tuple[FsmModel, ...]:
        """Notice models settled outside the dispatcher, forget those settled ``grace`` ago; returns them.

        Looks at every live model: :meth:`feed` calls it at most every
        ``grace / 4`` seconds of the caller's clock, so a feed stays cheap
        with many live models.
        """
        self._last_sweep = now
        settled_at = self._settled_at
        for ident, model in self._models.items():  # _note_settled, inlined: this visits every live model
            if _settled(model):
                settled_at.setdefault(ident, now)
            else:
                settled_at.pop(ident, None)
        gone = [self._models[i] for i, at in self._settled_at.items() if now - at >= self.grace and i in self._models]
        for model in gone:
            self.forget(model)
        # a session lives as long as its current renegotiation is tracked
        for key, session in list(self._sessions.items()):
            if session.current is None or id(session.current) not in self._models:
                self._drop_session(key)
        return tuple(gone)

    def drop_transient(self) -> tuple[str, ...]:
        """After ``resume``/``resync``: forget the duplicate window and caches, keep the models.

        Returns :meth:`hrefs_to_refetch`, the resources to read again.
        """
        self._seen.clear()
        return self.hrefs_to_refetch()

    def hrefs_to_refetch(self) -> tuple[str, ...]:
        """Hrefs of live, unsettled models to GET again after a resume or resync."""
        out: list[str] = []
        for model in self._models.values():
            href = getattr(model, "href", None)
            if _settled(model) or isinstance(model, Renegotiation) or not isinstance(href, str):
                continue
            out.append(href)
        return tuple(out)

    # -- hrefs ----------------------------------------------------------------------------

    def key(self, href: str) -> str:
        """The form hrefs are compared in: resolved, then without scheme and host."""
        return _href_key(self.baseuri or self.base_url, href)

    def _index(
        self,
        model: FsmModel,
        *,
        href: str | None = None,
        operation_id: str | None = None,
        href_key: tuple[str, str] | None = None,
    ) -> None:
        """``href_key``: an (href, key) pair already computed, used when the href to index is that one."""
        ident = id(model)
        keys = self._keys.get(ident)
        if keys is None:
            keys = self._keys[ident] = set()
        own_href = href or getattr(model, "href", None)
        if isinstance(own_href, str):
            key = href_key[1] if href_key is not None and own_href == href_key[0] else self.key(own_href)
            self._by_href[key] = model
            keys.add(("href", key))
            if self._pending:
                self._pending.pop(ident, None)
        elif ident in self._models:
            self._pending[ident] = model
        own_op = operation_id or getattr(model, "operation_id", None)
        if isinstance(own_op, str) and own_op:
            self._by_operation[own_op] = model
            keys.add(("op", own_op))
        if isinstance(model, OnlineMeetingJoin):
            self._index_conversation(model)

    def _index_conversation(self, model: OnlineMeetingJoin) -> None:
        link = model.representation.link("conversation")
        if link is not None:
            key = self.key(link.href)
            self._conversations[key] = model
            self._keys.setdefault(id(model), set()).add(("conv", key))

    def _rebase(self, baseuri: str) -> None:
        """A new base: rebuild every href index from the models' own hrefs."""
        self.baseuri = baseuri
        sessions = [(href, self._sessions[key]) for key, href in self._session_hrefs.items()]
        self._by_href.clear()
        self._conversations.clear()
        self._sessions.clear()
        self._session_hrefs.clear()
        for ident in self._keys:
            self._keys[ident] = {entry for entry in self._keys[ident] if entry[0] in ("op", "session")}
        for model in self._models.values():
            self._index(model)
        for href, session in sessions:
            key = self.key(href)
            self._sessions[key] = session
            self._session_hrefs[key] = href

    def _refresh(self, run: _Run) -> None:
        # tracked models that learned their href outside (created(href=Location)) since the last feed
        if self._pending:
            for model in list(self._pending.values()):
                href = getattr(model, "href", None)
                if isinstance(href, str):
                    self._index(model)
                    if self._held:
                        run.release(self.key(href), model)

    def _note_settled(self, model: FsmModel, now: float) -> None:
        if _settled(model):
            self._settled_at.setdefault(id(model), now)
        else:
            self._settled_at.pop(id(model), None)

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, response: EventsResponse, now: float) -> DispatchResult:
        """Apply every event of ``response`` in order. Never raises for what the server sent."""
        if response.baseuri and response.baseuri != self.baseuri:
            self._rebase(response.baseuri)
        run = _Run(self, response, now)
        self._refresh(run)
        if self._held:
            run.settle_held()
        if self._last_sweep is None or now - self._last_sweep >= self.grace / 4:
            self.sweep(now)
        for index, event in enumerate(response.events):
            run.event(index, event)
        return run.result()

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

    def _find(self, event: Event, key: str | None = None) -> FsmModel | None:
        if key is None:
            key = self.key(event.link.href)
        model = self._by_href.get(key)
        if model is not None:
            return model
        operation_id = event.operation_id
        if operation_id is not None:
            model = self._by_operation.get(operation_id)
            if model is not None and _owns(model, event, self):
                self._index(model, href=event.link.href)
                return model
        name = event.link.name
        if name == "conversation":
            return self._conversations.get(key)
        if name in _PARTICIPANT_RELS and event.in_ is None:
            for candidate in (key.split("/participants/", 1)[0], key.rsplit("/", 1)[0]):
                join = self._conversations.get(candidate)
                if join is not None:
                    return join
        return None


@functools.lru_cache(maxsize=4096)
def _href_key(base: str | None, href: str) -> str:
    """:meth:`Dispatcher.key`: a pure function of (base, href), and each href is keyed several times per event
    (duplicate check, routing, indexing), so the last few thousand answers are kept (urljoin alone is ~3 µs).

    An href urllib cannot split (an unbalanced IPv6 bracket: ``//[::1/x``) is its own key, as given: the
    server named the resource that way, and routing must go on rather than raise out of ``feed``.
    """
    try:
        parts = urlsplit(urljoin(base, href) if base else href)
    except ValueError:
        return href
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _settled(model: FsmModel) -> bool:
    """Ended, or with an outcome (a connected invitation): only late events can still concern it."""
    # the outcome first: a plain attribute, where is_terminal hashes an enum member (Python code in 3.11)
    return getattr(model, "outcome", None) is not None or model.is_terminal


def _owns(model: FsmModel, event: Event, dispatcher: Dispatcher) -> bool:
    """Whether an operationId match really is this model's resource.

    Operation ids are the app's, and an app may reuse one across resources (a
    message sent in the conversation it started): the rel must be of the
    model's kind, and a model that already knows its href keeps it.
    """
    href = getattr(model, "href", None)
    if isinstance(href, str) and dispatcher.key(href) != dispatcher.key(event.link.href):
        return False
    if isinstance(model, Invitation):
        return _invitation_kind(event.link.rel) is model.kind
    if isinstance(model, OnlineMeetingJoin):
        return _invitation_kind(event.link.rel) is InvitationKind.ONLINE_MEETING
    if isinstance(model, Renegotiation):
        return event.link.name in RENEGOTIATION_RELS
    return True


class _Run:
    """The bookkeeping of one :meth:`Dispatcher.feed` call."""

    def __init__(self, dispatcher: Dispatcher, response: EventsResponse, now: float) -> None:
        self.d = dispatcher
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

    def event(self, index: int, event: Event) -> None:
        if not event.known:
            self.unrouted(index, event, f"unknown event type {event.type!r}: kept, not applied")
            return
        d = self.d
        href = event.link.href
        # the event's href key, computed once: the duplicate check, the search and the indexing all need it
        key = d.key(href)
        self.href_key = (href, key)
        if d._remember(event, key):
            self.duplicates.append(index)
            return
        reason = event.reason
        ctx = _context(self.now, event.representation(), None if reason is None else reason.to_reason(), d)
        model = d._find(event, key)
        if model is not None:
            if d._held and key in d._held:
                # the model was just found by operation id: what was held for its href came first
                self.release(key, model)
                self.href_key = (href, key)
            self.apply(index, event, model, ctx, created=False)
            return
        if self.hold(index, event, key):
            return
        if not self.create(index, event, ctx):
            self.unrouted(index, event, "no live machine for this href, and this event does not create one")

    # -- holding until a 201 (module doc, "Held events") ----------------------------------------

    def hold(self, index: int, event: Event, key: str) -> bool:
        """Hold ``event`` if only a create's 201 still to come can say whose it is; False: not held."""
        d = self.d
        entries = d._held.get(key)
        if entries is not None:
            kind = entries[0].kind  # later events of a held href wait behind it, in order
        else:
            found = _invitation_kind(event.link.rel)
            if found is None or event.event_type not in _HELD_TYPES or event.operation_id is not None:
                return False
            representation = event.representation()
            if representation is not None and _direction(representation.direction) is Direction.INCOMING:
                return False
            if not d._awaiting(found):
                return False
            kind = found
        if d.held_count >= d.max_held:
            self.violations.append(
                Violation(
                    self.response_href,
                    index,
                    event.link.href,
                    _machine_of(kind),
                    _HELD_STATE,
                    event.type,
                    f"{d.max_held} events already held for a create's 201: this one is not kept",
                )
            )
            return True
        d._held.setdefault(key, []).append(_Held(event, kind, self.response_href, index, self.now))
        self.held.append(index)
        return True

    def release(self, key: str, model: FsmModel) -> None:
        """Deliver to ``model``, in order, the events held for ``key`` (its href, now named by a 201)."""
        for entry in self.d._held.pop(key, ()):
            self.deliver(entry, key, model)

    def deliver(self, entry: _Held, key: str, model: FsmModel | None) -> None:
        event = entry.event
        kept = self.response_href
        self.response_href = entry.response
        self.href_key = (event.link.href, key)
        try:
            if model is None:
                self.violations.append(
                    Violation(
                        entry.response,
                        entry.index,
                        event.link.href,
                        _machine_of(entry.kind),
                        _HELD_STATE,
                        event.type,
                        f"held {self.now - entry.since:g} s, and no create's 201 named {event.link.href}",
                    )
                )
                return
            reason = event.reason
            ctx = _context(self.now, event.representation(), None if reason is None else reason.to_reason(), self.d)
            self.apply(entry.index, event, model, ctx, created=False)
        finally:
            self.response_href = kept

    def settle_held(self) -> None:
        """Settle the held hrefs no 201 can claim any more: their time is up, or no create of their kind is left."""
        d = self.d
        for key in list(d._held):
            entries = d._held[key]
            first = entries[0]
            if self.now - first.since < d.hold_for and d._awaiting(first.kind):
                continue
            del d._held[key]
            model: FsmModel | None = None
            rest = entries
            if first.event.event_type is EventType.STARTED and KIND_RULES[first.kind].can_be_incoming:
                # nobody's create: an incoming invitation whose started carried no resource
                kept = self.response_href
                self.response_href = first.response
                self.href_key = (first.event.link.href, key)
                try:
                    said = first.event.reason
                    reason = None if said is None else said.to_reason()
                    self.create(first.index, first.event, _context(self.now, first.event.representation(), reason, d))
                finally:
                    self.response_href = kept
                model = d._by_href.get(key)
                rest = entries[1:]
            for entry in rest:
                self.deliver(entry, key, model)

    # -- applying ------------------------------------------------------------------------

    def apply(self, index: int, event: Event, model: FsmModel, ctx: RouteContext, *, created: bool) -> bool:
        handler = self.d._routes.get(type(model)) or self._handler(model)
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
        d = self.d
        if created:
            d._models[id(model)] = model
            self.created.append(model)
        d._index(model, href=event.link.href if created else None, href_key=self.href_key)
        if _settled(model):  # d._note_settled(model, now), inlined
            d._settled_at.setdefault(id(model), self.now)
        else:
            d._settled_at.pop(id(model), None)
        self.changes.append(_change(model, source, model.state, event, index))  # type: ignore[attr-defined]
        self.actions.extend(actions)

    def _handler(self, model: FsmModel) -> Handler | None:
        handler = self.d._routes.get(type(model))
        if handler is not None:
            return handler
        for model_type, candidate in self.d._routes.items():
            if isinstance(model, model_type):
                return candidate
        return None

    # -- creating ----------------------------------------------------------------------------

    def create(self, index: int, event: Event, ctx: RouteContext) -> bool:
        """Handle an event for an unknown href that may create a model; False: it does not."""
        kind = event.event_type
        name = event.link.name
        invitation_kind = _invitation_kind(event.link.rel)
        if invitation_kind is not None and kind is EventType.STARTED:
            return self.create_invitation(index, event, ctx, invitation_kind)
        if name in RENEGOTIATION_RELS and kind is EventType.STARTED:
            return self.create_renegotiation(index, event, ctx)
        in_lobby = event.in_ is not None and event.in_.name == "lobby"
        if (
            self.d.create_lobby_participants
            and in_lobby
            and name == "participant"
            and kind in (EventType.ADDED, EventType.UPDATED)
        ):
            self.apply(index, event, LobbyParticipant(), ctx, created=True)
            return True
        return False

    def create_invitation(self, index: int, event: Event, ctx: RouteContext, kind: InvitationKind) -> bool:
        representation = ctx.representation
        direction = None if representation is None else _direction(representation.direction)
        if direction is Direction.OUTGOING:
            self.unrouted(
                index, event, "started of an outgoing invitation no tracked model owns (no matching operationId)"
            )
            return True
        # without the resource the machine asks for a GET itself: links gate every action
        self.apply(index, event, Invitation(kind=kind), ctx, created=True)
        return True

    def create_renegotiation(self, index: int, event: Event, ctx: RouteContext) -> bool:
        representation = ctx.representation
        if representation is None:
            self.unrouted(index, event, "renegotiation started without its resource: its direction is unknown")
            return True
        direction = _direction(representation.direction)
        if direction is Direction.OUTGOING:
            self.unrouted(index, event, "started of an outgoing renegotiation no tracked model owns")
            return True
        offer = representation.link("mediaOffer")
        deadline = None if self.d.renegotiation_timeout is None else self.now + self.d.renegotiation_timeout
        session_link = representation.link("audioVideoSession")
        session = None if session_link is None else self.d.av_session(session_link.href)
        try:
            if session is not None:
                model, actions = session.incoming(
                    now=self.now,
                    representation=representation,
                    href=event.link.href,
                    media_offer=None if offer is None else offer.href,
                    deadline=deadline,
                )
            else:
                model = Renegotiation()
                actions = model.started(
                    now=self.now,
                    representation=representation,
                    href=event.link.href,
                    media_offer=None if offer is None else offer.href,
                    deadline=deadline,
                )
        except CallFsmError as refused:
            self.violations.append(
                Violation(
                    self.response_href, index, event.link.href, "renegotiation", "idle", event.type, str(refused)
                )
            )
            return True
        self.commit(index, event, model, _IDLE_RENEGOTIATION, actions, created=True)
        if session is not None and session_link is not None:
            self.d._keys.setdefault(id(model), set()).add(("session", session_link.href))
        return True


_IDLE_RENEGOTIATION: Final = Renegotiation().state
#: The event types held for a create's 201: an operation's own (docs/protocol.md §2.3).
_HELD_TYPES: Final = frozenset({EventType.STARTED, EventType.UPDATED, EventType.COMPLETED})
#: The ``state`` a violation names for an event settled while held: no machine had it yet.
_HELD_STATE: Final = "held"


def _machine_of(kind: InvitationKind) -> str:
    """The machine that a held event of ``kind`` was waiting for (its create's model)."""
    return (OnlineMeetingJoin if kind is InvitationKind.ONLINE_MEETING else Invitation).DEFINITION.name

__all__ = [
    "DEFAULT_ROUTES",
    "IGNORED_EVENTS",
    "Change",
    "DispatchResult",
    "Dispatcher",
    "DispatcherError",
    "Handler",
    "Ignored",
    "RouteContext",
    "Unrouted",
    "Violation",
    "route_invitation",
    "route_lobby_participant",
    "route_online_meeting",
    "route_renegotiation",
]
