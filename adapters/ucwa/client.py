"""One object per UCWA application: the event channel, the dispatcher, the machines, the sender.

Theory of operation
-------------------
:class:`UcwaClient` (sync, ``httpx.Client``) and :class:`AsyncUcwaClient`
(asyncio, ``httpx.AsyncClient``) put the pieces together for an app:

- :meth:`UcwaClient.create_application` creates the application by following
  links from a discovery URL (:mod:`adapters.ucwa.application`: which origins get
  the token on the way) and returns a client connected to it from the 201's
  body; ``connect()`` instead GETs an application that already exists and
  reads its links (the ``events`` link, and the ``communication`` links such
  as ``startAudioVideo``, wherever they are embedded). Recreating it after a
  404 stays the app's business (``on_application_not_found``).
- the lifecycle: ``make_me_available`` (the documented body fields, typed),
  then the ``reportMyActivity`` keep-alive (asyncio: a task; sync: before a
  P-GET that would otherwise outlast the four-minute deadline, so no thread),
  and ``close(delete_application=...)`` / ``aclose(...)``, which DELETEs an
  application this client created unless told not to.
- a local call fires the machine's trigger first, so a refused trigger or
  an over-long value raises before anything is sent; then each action
  becomes a request (:mod:`adapters.wire.requests`), and its response is fed back
  to the same machine (201 -> ``created``, 204 -> ``request_succeeded``,
  4xx/5xx -> ``request_failed`` and a raised
  :class:`~adapters.wire.ucwa_errors.UcwaError`). The local calls:

  - invitations: ``start_audio_video``, ``start_messaging``,
    ``add_participant`` (its link is the conversation's: pass ``href=``),
    ``accept`` (its ``accept`` link only), ``accept_with_answer``,
    ``accept_with_phone_audio`` and ``send_provisional_answer`` (UCWA
    audio/video, which has no ``accept``), ``decline``, ``forward``,
    ``cancel`` (also leaves a join);
  - the online meeting join through the lobby: ``join_online_meeting``;
  - renegotiations: ``offer`` (ours, one at a time per audio/video
    session), ``answer`` and ``dismiss`` (theirs);
  - the leader's lobby participants: ``admit`` and ``reject``;
  - :meth:`~UcwaClient.perform` for any machine's actions.
- a created resource (a ``StartOperation``: an invitation, a join; a
  renegotiation offer) is tracked by the dispatcher under its operation id
  *before* its POST goes out, so a ``started`` that beats the 201 finds it:
  :meth:`~UcwaClient.perform` does it for any model, the app's own too. An
  event with nothing to route it by (no ``_embedded``) waits in the
  dispatcher until the 201 comes: the client then tells the dispatcher
  (:meth:`Dispatcher.created <adapters.routing.dispatcher.Dispatcher.created>`) and
  what it held reaches the model, in order.
- deadlines (a join's ``lobby_deadline``, an offer's ``deadline``) are on the
  client's ``clock``; the client keeps them on the model but fires nothing:
  the app performs ``lobby_timeout`` / ``expire`` when they are due.
- the event channel (:mod:`adapters.ucwa.channel`) feeds the
  :class:`~adapters.routing.dispatcher.Dispatcher`; what the machines then ask for
  (a GET after a bare ``completed``, a glare dismiss) is performed at once;
  after a ``resume``/``resync`` every unsettled resource is read again.
- every step a machine takes, whatever caused it, reaches the app as a
  :class:`StateChange`: through ``on_change``, and in asyncio also through
  ``client.changes()``, an async iterator (subscribe before you act).

- :meth:`UcwaClient.snapshot` and :meth:`UcwaClient.restore` (and their
  asyncio twins) carry the live machines, the event-channel cursor and the
  routing across a restart (:mod:`adapters.routing.restart`): the restored client
  reads the application again on ``connect`` but goes on from the saved
  cursor, not from the application's ``events`` link, so no event is lost.

The sync client starts no thread unless asked to (``prefetch=True``: each
P-GET is then sent ahead from a helper thread while the answer before it is
processed, as docs/protocol.md §2.2 advises; off by default because a sync GET sent
ahead cannot be interrupted by :meth:`UcwaClient.close`). The app drives it with
:meth:`UcwaClient.poll_once`, :meth:`UcwaClient.run_until` or
:meth:`UcwaClient.run`. One poll blocks until the server answers the P-GET
(at most its ``timeout``, 180 s by default), so ``run_until``'s timeout is
checked between answers. The asyncio client runs the channel as a task from
``async with`` (or :meth:`AsyncUcwaClient.start`) until ``aclose``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, Final, TypeVar

import httpx
from attrs import field, frozen

from adapters.routing import restart
from adapters.routing.dispatcher import Dispatcher, DispatchResult
from adapters.routing.trace import TraceTarget, TraceWriter, open_trace
from adapters.transport.http import AsyncSender, AsyncTokenSource, SyncSender, TokenSource, TransportError
from adapters.ucwa.application import (
    ASYNC_REPORT_LEAD,
    KeepAlive,
    MakeMeAvailable,
    creation,
    expect,
    made_available,
    new_endpoint_id,
    pget_hold,
)
from adapters.ucwa.application import Created as ApplicationCreated
from adapters.ucwa.application import Step as CreationStep
from adapters.ucwa.application import request as application_request
from adapters.ucwa.channel import AsyncEventChannel, Backoff, ChannelEnd, ChannelReset, EventChannel, PGetParameters
from adapters.ucwa.tracing import async_traced_sender, trace_sink, traced_sender
from adapters.wire.events import ParseError, parse_resource
from adapters.wire.requests import (
    Applied,
    Created,
    Failed,
    HttpRequest,
    HttpResponse,
    OriginError,
    Secret,
    Unexpected,
    apply_response,
    build_request,
    loggable_url,
    resolve,
)
from adapters.wire.ucwa_errors import UcwaError, parse_error
from fsm.actions import Action, Actions, FetchResource, PostRenegotiation, StartOperation
from fsm.engine import Step
from fsm.invitation import KIND_RULES, Invitation, InvitationKind
from fsm.lobby_participant import LobbyParticipant
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin
from fsm.outcome import Outcome
from fsm.reasons import CallDeclineReason, ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation
from fsm.wire import bare_rel

log = logging.getLogger("callfsm.client")

#: How long a plain request may take (the P-GET has its own, longer timeout).
REQUEST_TIMEOUT: Final = httpx.Timeout(15.0, connect=10.0)

M = TypeVar("M", bound=FsmModel)
#: What ``cancel`` takes: an invitation, or a join (it leaves the lobby, or the meeting).
Cancellable = Invitation | OnlineMeetingJoin


class ClientError(Exception):
    """The client cannot do what was asked (not connected, a link the application lacks...)."""


@frozen(eq=False)
class StateChange:
    """One step of one machine, as the app sees it."""

    model: FsmModel
    step: Step[Any, Any]
    #: The model's outcome is final from this change on (:meth:`~fsm.invitation.Invitation.outcome_is_final`):
    #: true on one change per model. When only time made it final (the grace after an end seen without
    #: status), that change repeats the model's last step.
    final: bool = False

    @property
    def source(self) -> Enum:
        return self.step.source  # type: ignore[no-any-return]

    @property
    def dest(self) -> Enum:
        return self.step.dest  # type: ignore[no-any-return]

    @property
    def trigger(self) -> Enum:
        return self.step.trigger  # type: ignore[no-any-return]

    @property
    def moved(self) -> bool:
        return self.step.source is not self.step.dest

    def __str__(self) -> str:
        href = getattr(self.model, "href", None)
        where = f" {href}" if href else ""
        why = f" ({self.step.reason})" if self.step.reason else ""
        return f"{self.model.machine}{where}: {self.source.value} -[{self.trigger.value}]-> {self.dest.value}{why}"


class _Steps:
    """How much of each model's history the app has been shown (weak: a dropped model is forgotten)."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[weakref.ref[FsmModel], int]] = {}

    def _forget(self, ident: int) -> Callable[[weakref.ref[FsmModel]], None]:
        def forget(_: weakref.ref[FsmModel]) -> None:
            self._seen.pop(ident, None)

        return forget

    def new(self, model: FsmModel) -> list[StateChange]:
        ident = id(model)
        entry = self._seen.get(ident)
        start = entry[1] if entry is not None and entry[0]() is model else 0
        steps = model.history[start:]
        if steps or entry is None:
            self._seen[ident] = (weakref.ref(model, self._forget(ident)), len(model.history))
        return [StateChange(model, step) for step in steps]

    def shown(self, model: FsmModel) -> None:
        """Count ``model``'s history as already shown (a restored model's past is not news)."""
        self._seen[id(model)] = (weakref.ref(model, self._forget(id(model))), len(model.history))


@frozen
class ApplicationLinks:
    """The links of the application resource that the client uses (bare rel -> href)."""

    self_href: str
    events: str
    links: dict[str, str] = field(factory=dict)

    def href(self, rel: str, *alternatives: str) -> str:
        """The href of ``rel``, else of the first of ``alternatives`` the application has."""
        for name in (rel, *alternatives):
            found = self.links.get(bare_rel(name))
            if found is not None:
                return found
        wanted = " or ".join(repr(name) for name in (rel, *alternatives))
        raise ClientError(f"the application resource has no {wanted} link (it has: {sorted(self.links)})")


def read_application(url: str, response: HttpResponse) -> ApplicationLinks:
    """The links of an application resource (JSON or XML), its own and its embedded resources'."""
    if response.status != 200:
        raise parse_error(response.status, response.body, response.content_type)
    try:
        resource = parse_resource(response.body, response.content_type)
    except ParseError as exc:
        raise ClientError(f"the application resource at {loggable_url(url)} is unreadable: {exc}") from None
    return application_links(url, resource)


def application_links(url: str, resource: dict[str, Any]) -> ApplicationLinks:
    """The links of an application resource already read (a GET's 200, or the creating POST's 201)."""
    links: dict[str, str] = {}
    _collect_links(resource, links, depth=0)
    events = links.get("events")
    if events is None:
        raise ClientError(f"the application resource at {loggable_url(url)} has no events link")
    return ApplicationLinks(links.get("self", url), events, links)


def _collect_links(resource: object, out: dict[str, str], depth: int) -> None:
    if not isinstance(resource, dict) or depth > 4:
        return
    raw = resource.get("_links")
    if isinstance(raw, dict):
        for rel, value in raw.items():
            item = value[0] if isinstance(value, list) and value else value
            if isinstance(item, dict) and isinstance(item.get("href"), str) and isinstance(rel, str):
                # the application's own links win over an embedded resource's "self"
                out.setdefault(bare_rel(rel), item["href"])
    embedded = resource.get("_embedded")
    if isinstance(embedded, dict):
        for value in embedded.values():
            for item in value if isinstance(value, list) else [value]:
                _collect_links(item, out, depth + 1)


def new_operation_id() -> str:
    """32 hexadecimal characters (the limit is 50)."""
    return uuid.uuid4().hex


def _raise_for(applied: Applied) -> None:
    if isinstance(applied.outcome, Failed):
        raise applied.outcome.error
    if isinstance(applied.outcome, Unexpected):
        log.warning("unexpected answer: %s", applied.outcome.why)


class _Core:
    """What both clients share: the dispatcher, change bookkeeping, action ownership."""

    def __init__(self, url: str, base_url: str | None, on_change: Callable[[StateChange], object] | None) -> None:
        self.url = url
        self.dispatcher = Dispatcher(base_url=base_url)
        self.on_change = on_change
        self.links: ApplicationLinks | None = None
        self.ended: ChannelEnd | None = None
        self._steps = _Steps()
        #: Models whose final outcome was shown (id -> weak reference), and those whose outcome is still
        #: provisional (id -> model: shown final once their grace passes, see ``_due_finals``).
        self._finals: dict[int, weakref.ref[FsmModel]] = {}
        self._provisional: dict[int, FsmModel] = {}
        #: Where a restored client's event channel starts (``connect`` uses it once).
        self._resume_from: str | None = None
        #: When ``reportMyActivity`` is due (active from a successful ``make_me_available`` on).
        self.keep_alive = KeepAlive()
        #: Whether ``close()`` (and leaving ``with``) deletes the application: on for one this client created.
        self.delete_on_close = False
        #: The application resource as the creating POST's 201 carried it (``None``: not created here).
        self.resource: dict[str, Any] | None = None

    # -- the application's lifecycle (the I/O is the subclasses') ------------------------------------

    def _lifecycle_href(self, rel: str) -> str:
        """The absolute URL of the application's ``rel`` link, on the application's origin (else OriginError)."""
        return resolve(self.url, _links_or_raise(self.links).href(rel))

    def _make_me_available_request(self, settings: MakeMeAvailable, token: Secret | None) -> HttpRequest:
        body = settings.body(self.sender.body_format)  # type: ignore[attr-defined]
        href = self._lifecycle_href("makeMeAvailable")
        return application_request("POST", href, token=token, body_format=self.sender.body_format, body=body)  # type: ignore[attr-defined]

    def _lifecycle_request(self, method: str, rel: str, token: Secret | None) -> HttpRequest:
        href = self._lifecycle_href(rel)
        return application_request(method, href, token=token, body_format=self.sender.body_format)  # type: ignore[attr-defined]

    def _adopt(self, created: ApplicationCreated) -> ApplicationLinks:
        """Take the 201's application resource as this client's (no second GET)."""
        self.resource = created.resource
        self.links = application_links(self.url, created.resource)
        return self.links

    def _keep_alive_failed(self, error: Exception) -> None:
        gone = isinstance(error, UcwaError) and error.status in (404, 410)
        log.warning("reportMyActivity failed%s: %s", "; keep-alive stopped" if gone else "", error)
        if gone:
            self.keep_alive.stop()

    @property
    def models(self) -> tuple[FsmModel, ...]:
        """The live machines the dispatcher holds."""
        return self.dispatcher.models

    def _clock_now(self) -> float:
        raise NotImplementedError

    def _events_cursor(self) -> str | None:
        channel: EventChannel[Any] | AsyncEventChannel[Any] | None = getattr(self, "channel", None)
        if channel is not None:
            return channel.resume_url
        return self._resume_from

    def snapshot(self, *, wall: Callable[[], float] = time.time) -> dict[str, Any]:
        """The live machines, the event-channel cursor and the routing, as JSON-ready data.

        Holds no credential. Take it between answers, or after stopping the
        client; one taken while an answer is being processed resumes from that
        answer (see :attr:`adapters.ucwa.channel.EventChannel.resume_url`).
        ``wall`` is the wall clock (Unix seconds) that carries deadlines across
        a restart: :mod:`adapters.routing.restart`.
        """
        return restart.take(self.url, self._events_cursor(), self.dispatcher, now=self._clock_now(), wall=wall())

    def _install(self, state: restart.ClientState) -> None:
        restart.install(state, self.dispatcher)
        for model in self.dispatcher.models:
            self._steps.shown(model)
            self._final(model, [])  # a final outcome from before the restart is not news either
        self._resume_from = state.events

    def _channel_start(self, links: ApplicationLinks) -> str:
        """Where a new channel starts: the restored cursor, else where the old channel was, else ``events``."""
        start = self._events_cursor() or links.events
        self._resume_from = None
        return start

    def _changes(self, models: Iterable[FsmModel]) -> list[StateChange]:
        out: list[StateChange] = []
        seen: set[int] = set()
        for model in models:
            if id(model) not in seen:
                seen.add(id(model))
                out.extend(self._final(model, self._steps.new(model)))
        return out

    def _final(self, model: FsmModel, changes: list[StateChange]) -> list[StateChange]:
        """``changes`` of ``model``, the last marked ``final`` if its outcome has just become final (once per model)."""
        ident = id(model)
        outcome_is_final = getattr(model, "outcome_is_final", None)
        if outcome_is_final is None or getattr(model, "outcome", None) is None or not model.history:
            return changes
        known = self._finals.get(ident)
        if known is not None and known() is model:
            return changes
        if not outcome_is_final(self._clock_now()):
            self._provisional[ident] = model
            return changes
        self._provisional.pop(ident, None)
        self._finals[ident] = weakref.ref(model, self._forget_final(ident))
        last = changes[-1].step if changes else model.history[-1]
        return [*changes[:-1], StateChange(model, last, final=True)]

    def _forget_final(self, ident: int) -> Callable[[weakref.ref[FsmModel]], None]:
        def forget(_: weakref.ref[FsmModel]) -> None:
            self._finals.pop(ident, None)

        return forget

    def _due_finals(self) -> list[FsmModel]:
        """The models whose provisional outcome may have turned final with time alone."""
        now = self._clock_now()
        return [m for m in self._provisional.values() if m.outcome_is_final(now)]  # type: ignore[attr-defined]

    def _owner(self, action: Action, default: FsmModel | None = None) -> FsmModel | None:
        """The model an action from a dispatch result belongs to (the one holding that link or href)."""
        href = getattr(action, "href", None)
        if not isinstance(href, str):
            return default
        found = self.dispatcher.model_for(href)
        if found is not None:
            return found
        key = self.dispatcher.key(href)
        for model in self.dispatcher.models:
            representation = getattr(model, "representation", None)
            links = getattr(representation, "links", ())
            if any(self.dispatcher.key(link.href) == key for link in links):
                return model
        return default

    def _track_creations(self, model: FsmModel, actions: Actions) -> None:
        """Track ``model`` under the operation id of each creating POST in ``actions``, before it is sent.

        The ``started`` event may beat the 201 (docs/protocol.md §2.2); the dispatcher
        then finds the model by its operation id. :meth:`Dispatcher.track` is
        idempotent, so a model the app (or an earlier call) already tracked
        under that id is left as it is.
        """
        for action in actions:
            if isinstance(action, StartOperation | PostRenegotiation):
                self.dispatcher.track(model, operation_id=action.operation_id)

    def _outgoing(
        self,
        kind: InvitationKind,
        to: str,
        *,
        href: str | None = None,
        operation_id: str | None,
        subject: str | None = None,
        extra: dict[str, Any],
    ) -> tuple[Invitation, Actions]:
        """A new outgoing invitation of ``kind``, sent (its trigger fired); ``href``: else the application's link."""
        target = href if href is not None else _links_or_raise(self.links).href(*KIND_RULES[kind].create_rels)
        invitation = Invitation(kind=kind)
        actions = invitation.send(
            now=self._clock_now(),
            href=target,
            operation_id=operation_id or new_operation_id(),
            to=to,
            subject=subject,
            extra=extra,
        )
        return invitation, actions

    def _join(
        self,
        meeting_uri: str,
        *,
        subject: str | None,
        operation_id: str | None,
        lobby_deadline: float | None,
        extra: dict[str, Any],
    ) -> tuple[OnlineMeetingJoin, Actions]:
        href = _links_or_raise(self.links).href("joinOnlineMeeting")
        join = OnlineMeetingJoin()
        actions = join.send(
            now=self._clock_now(),
            href=href,
            operation_id=operation_id or new_operation_id(),
            online_meeting_uri=meeting_uri,
            subject=subject,
            lobby_deadline=lobby_deadline,
            extra=extra,
        )
        return join, actions

    def _offer(
        self, session: str, sdp: str, *, href: str, operation_id: str | None, deadline: float | None
    ) -> tuple[Renegotiation, Actions]:
        """Our renegotiation on the audio/video session ``session``, through its one-at-a-time rule."""
        operation_id = operation_id or new_operation_id()
        return self.dispatcher.av_session(session).offer(
            now=self._clock_now(), href=href, operation_id=operation_id, sdp=sdp, deadline=deadline
        )


def _step_request(step: CreationStep, token: Secret | None, body_format: str) -> HttpRequest:
    return application_request(step.method, step.url, token=token, body_format=body_format, body=step.body)


def _outcome_settled(invitation: Invitation, now: float) -> bool:
    """What ``wait_for_outcome`` waits for: a final outcome (or, should it ever be, an end with none)."""
    return invitation.outcome_is_final(now) or (invitation.outcome is None and invitation.is_terminal)


def _links_or_raise(links: ApplicationLinks | None) -> ApplicationLinks:
    if links is None:
        raise ClientError("not connected: call connect() first (or use the client as a context manager)")
    return links


class UcwaClient(_Core):
    """A UCWA application, driven from a plain script.

    ``url`` is the application resource (``.../ucwa/v1/applications/<id>``);
    ``token`` a bearer token, or a callable that returns the current one.
    """

    def __init__(
        self,
        url: str,
        *,
        token: TokenSource,
        client: httpx.Client | None = None,
        body_format: str = "json",
        on_change: Callable[[StateChange], object] | None = None,
        on_application_not_found: Callable[[UcwaError], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        backoff: Backoff | None = None,
        prefetch: bool = False,
        pget_parameters: PGetParameters | None = None,
        keep_alive: bool = True,
        trace: TraceTarget | TraceWriter | None = None,
    ) -> None:
        super().__init__(url, url, on_change)
        #: Send each P-GET ahead, from a helper thread, while the answer before it is processed
        #: (:class:`~adapters.ucwa.channel.EventChannel`'s ``prefetch``). Off by default here: this client
        #: promises a plain script no thread of its own, and a sync GET sent ahead cannot be interrupted,
        #: so after :meth:`close` it would stay out until the server answers or its long-poll times out.
        self.prefetch = prefetch
        self._own_client = client is None
        self.http = client or httpx.Client(timeout=REQUEST_TIMEOUT)
        #: The trace (``trace=``: a path or text stream; adapters/routing/trace.py): answers, calls, requests, redacted.
        self.trace = open_trace(trace)
        sender = SyncSender(self.http, token, base_url=url, body_format=body_format)
        self.sender = traced_sender(sender, self.trace, clock)
        self.clock = clock
        self.sleep = sleep
        self.backoff = backoff
        #: ``low``/``medium``/``timeout``/``priority`` for the P-GET (:class:`~adapters.ucwa.channel.PGetParameters`).
        self.pget_parameters = pget_parameters
        self.on_application_not_found = on_application_not_found
        self.channel: EventChannel[DispatchResult] | None = None
        #: Send ``reportMyActivity`` before a P-GET when due, after ``make_me_available`` (off: the app reports).
        self.keep_alive_enabled = keep_alive

    def __repr__(self) -> str:
        return f"UcwaClient({loggable_url(self.url)!r}, models={len(self.models)})"

    def _clock_now(self) -> float:
        return self.clock()

    @classmethod
    def restore(
        cls,
        url: str,
        snapshot: Mapping[str, Any] | str | bytes,
        *,
        token: TokenSource,
        wall: Callable[[], float] = time.time,
        **options: Any,
    ) -> UcwaClient:
        """A client for ``url`` holding the machines of ``snapshot`` (from :meth:`snapshot`, as data or JSON).

        Nothing is sent: ``connect()`` (or ``with``) reads the application
        again and starts the event channel from the snapshot's cursor.
        ``options`` are the constructor's (``client``, ``clock``, ``on_change``...).
        Raises :class:`~fsm.errors.SnapshotError` for a snapshot it cannot use.
        """
        clock: Callable[[], float] = options.get("clock", time.monotonic)
        state = restart.load(snapshot, url=url, now=clock(), wall=wall())  # before anything is opened
        client = cls(url, token=token, **options)
        client._install(state)
        return client

    @classmethod
    def create_application(
        cls,
        url: str,
        *,
        token: TokenSource,
        user_agent: str,
        endpoint_id: str | None = None,
        culture: str = "en-US",
        allowed_origins: Sequence[str] = (),
        delete_on_close: bool = True,
        client: httpx.Client | None = None,
        **options: Any,
    ) -> UcwaClient:
        """Create an application by following links from ``url`` (discovery, ``user``, ``applications``) and
        return a client connected to it (its event channel ready; ``with`` does not read it again).

        ``url`` is the discovery URL (``https://lyncdiscover.contoso.com/``) or a ``user`` resource.
        ``token``: a bearer token, or a callable returning the current one (called for each request).
        It goes only to ``url``'s origin and to ``allowed_origins`` (``["https://lyncweb.contoso.com"]``:
        where the discovery document sends you), then only to the application's. ``endpoint_id``: a
        GUID, new by default. ``delete_on_close``: :meth:`close` deletes the application (the
        documentation asks a client to, when the user leaves). ``options``: the constructor's.
        Raises :class:`~adapters.ucwa.application.ApplicationError` (which step, which URL, why),
        :class:`~adapters.wire.requests.OriginError` (a link off the allowed origins: nothing sent there) or
        :class:`~adapters.transport.http.TransportError`.
        """
        http = client or httpx.Client(timeout=REQUEST_TIMEOUT)
        body_format = options.get("body_format", "json")
        try:
            walk = creation(
                url,
                user_agent=user_agent,
                endpoint_id=endpoint_id or new_endpoint_id(),
                culture=culture,
                allowed_origins=allowed_origins,
            )
            step = next(walk)
            while True:
                sender = SyncSender(http, token, base_url=step.url, body_format=body_format)
                credential = sender.token() if step.authorized else None
                response = sender.send(_step_request(step, credential, body_format))
                try:
                    step = walk.send(response)
                except StopIteration as done:
                    created: ApplicationCreated = done.value
                    break
            app = cls(created.url, token=token, client=http, **options)
        except BaseException:
            if client is None:
                http.close()
            raise
        app._own_client = client is None
        app.delete_on_close = delete_on_close
        app._open(app._adopt(created))
        return app

    def __enter__(self) -> UcwaClient:
        if self.channel is None:  # one create_application made is connected already
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, *, delete_application: bool | None = None) -> None:
        """Stop the event channel; DELETE the application when ``delete_application`` (default:
        :attr:`delete_on_close`); close what the client opened. A 404 or 410 to the DELETE means it
        is gone already. Another failure is raised when ``delete_application=True`` was asked for, and
        only logged for the default (leaving ``with`` must not hide the error that made it leave)."""
        if self.channel is not None:
            self.channel.close()  # stops, and lets go of a P-GET sent ahead
        self.keep_alive.stop()
        try:
            if self.links is not None and (self.delete_on_close if delete_application is None else delete_application):
                try:
                    self.delete_application()
                except (UcwaError, TransportError, OriginError) as error:
                    if delete_application:
                        raise
                    log.warning("the application was not deleted: %s", error)
        finally:
            if self.trace is not None:
                self.trace.close()
            if self._own_client:
                self.http.close()

    def delete_application(self) -> None:
        """``DELETE`` the application (204; 404 or 410: already gone). Its calls end with it."""
        response = self.sender.send(self._lifecycle_request("DELETE", "self", self.sender.token()))
        if response.status not in (404, 410):
            expect(response, 204, 200)

    # -- setup ----------------------------------------------------------------------------

    def make_me_available(self, settings: MakeMeAvailable | None = None, /, **fields: Any) -> None:
        """POST ``makeMeAvailable`` (wherever the application puts it) so incoming invitations arrive;
        the keep-alive (``reportMyActivity``) runs from then on. ``fields`` are those of
        :class:`~adapters.ucwa.application.MakeMeAvailable` (``supported_modalities=[Modality.AUDIO]``...),
        checked before anything is sent. A second call (409 ``AlreadyExists``: a restored client's
        application is available already) only restarts the keep-alive. Raises :class:`UcwaError` when refused."""
        request = self._make_me_available_request(settings or MakeMeAvailable(**fields), self.sender.token())
        made_available(self.sender.send(request))
        self.keep_alive.started(self.clock())
        if "reportMyActivity" not in _links_or_raise(self.links).links:
            # some servers add it to ``me`` only now: read the application again (the channel stays)
            self.links = self._read_links()
        hold = pget_hold(None if self.pget_parameters is None else self.pget_parameters.timeout)
        if self.keep_alive_enabled and self.keep_alive.next_at(blocking_for=hold) <= self.clock():  # type: ignore[operator]
            log.warning(
                "a P-GET held up to %.0f s may outlast reportMyActivity's %.0f s deadline: lower its timeout",
                hold,
                self.keep_alive.deadline,
            )

    def report_my_activity(self) -> None:
        """POST ``reportMyActivity`` now (the keep-alive does it on time by itself). Raises :class:`UcwaError`."""
        expect(self.sender.send(self._lifecycle_request("POST", "reportMyActivity", self.sender.token())), 204, 200)
        self.keep_alive.reported(self.clock())

    def _keep_alive_if_due(self) -> None:
        hold = pget_hold(None if self.pget_parameters is None else self.pget_parameters.timeout)
        if not self.keep_alive_enabled or not self.keep_alive.due(self.clock(), blocking_for=hold):
            return
        try:
            self.report_my_activity()
        except (UcwaError, TransportError, OriginError, ClientError) as error:
            self._keep_alive_failed(error)

    def _read_links(self) -> ApplicationLinks:
        request = build_request(
            FetchResource(self.url, "read the application"),
            base_url=self.url,
            token=self.sender.token(),
            body_format=self.sender.body_format,
        )
        return read_application(self.url, self.sender.send(request))

    def connect(self) -> ApplicationLinks:
        """GET the application resource, read its links, prepare the event channel."""
        return self._open(self._read_links())

    def _open(self, links: ApplicationLinks) -> ApplicationLinks:
        self.links = links
        previous = self.channel
        self.channel = EventChannel(
            self.sender,
            trace_sink(self.dispatcher, self.trace),
            self._channel_start(self.links),
            on_result=self._dispatched,
            on_reset=self._reset,
            on_application_not_found=self.on_application_not_found,
            clock=self.clock,
            sleep=self.sleep,
            backoff=self.backoff,
            prefetch=self.prefetch,
            parameters=self.pget_parameters,
        )
        if previous is not None:
            self.channel.take_over(previous)  # its P-GET sent ahead, if any, is this channel's now
        return self.links

    # -- the app's calls ----------------------------------------------------------------------

    def start_audio_video(
        self, to: str, *, subject: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """Call ``to``: POST ``startAudioVideo``; returns the invitation, already fed its 201."""
        kind = InvitationKind.AUDIO_VIDEO
        return self._sent(*self._outgoing(kind, to, operation_id=operation_id, subject=subject, extra=extra))

    def start_messaging(
        self, to: str, *, subject: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """Start an IM conversation with ``to``: POST ``startMessaging``; returns the messagingInvitation."""
        kind = InvitationKind.MESSAGING
        return self._sent(*self._outgoing(kind, to, operation_id=operation_id, subject=subject, extra=extra))

    def add_participant(
        self, to: str, *, href: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """Invite ``to`` into a conversation: POST ``addParticipant``; returns the participantInvitation.

        ``addParticipant`` is a link of the conversation (read it from the
        conversation resource an invitation's ``conversation`` link names), not
        of the application: pass it as ``href``. Without ``href`` the
        application's own ``addParticipant`` link is used, and a
        :class:`ClientError` is raised (nothing sent) when it has none.
        """
        kind = InvitationKind.PARTICIPANT
        return self._sent(*self._outgoing(kind, to, href=href, operation_id=operation_id, extra=extra))

    def join_online_meeting(
        self,
        meeting_uri: str,
        *,
        subject: str | None = None,
        operation_id: str | None = None,
        lobby_deadline: float | None = None,
        **extra: Any,
    ) -> OnlineMeetingJoin:
        """Join the meeting ``meeting_uri``: POST ``joinOnlineMeeting``; returns the join, fed its 201.

        The join then waits in the lobby (if the meeting has one) until admitted
        or rejected: follow ``join.state``. ``extra`` carries further properties
        by their wire names (``anonymousDisplayName`` for an anonymous user,
        ``importance``...), length-checked like ``subject``. ``lobby_deadline``
        is an absolute time on this client's ``clock``; once
        ``join.lobby_timeout_due(client.clock())``, ``client.perform(join,
        join.lobby_timeout(now=client.clock()))`` leaves (the client fires no timer).
        """
        join = self._join(
            meeting_uri, subject=subject, operation_id=operation_id, lobby_deadline=lobby_deadline, extra=extra
        )
        return self._sent(*join)

    def accept(self, invitation: Invitation, *, media_host: str | None = None) -> None:
        """Accept an incoming invitation: POST its ``accept`` link, and no other (``LinkMissing`` without one).

        UCWA audio/video has no ``accept``: use :meth:`accept_with_answer` or
        :meth:`accept_with_phone_audio`. ``media_host``: the optional body of
        ``ms:rtc:saas:accept``.
        """
        self.perform(invitation, invitation.accept(now=self.clock(), media_host=media_host))

    def accept_with_answer(
        self, invitation: Invitation, sdp: str, *, session_context: str, processed_offer_id: str | None = None
    ) -> None:
        """UCWA audio/video: POST ``acceptWithAnswer`` with the SDP answer (``application/sdp``)."""
        self.perform(
            invitation,
            invitation.accept_with_answer(
                now=self.clock(), sdp=sdp, session_context=session_context, processed_offer_id=processed_offer_id
            ),
        )

    def accept_with_phone_audio(self, invitation: Invitation) -> None:
        """UCWA audio/video: POST ``acceptWithPhoneAudio`` (the audio goes to the user's phone)."""
        self.perform(invitation, invitation.accept_with_phone_audio(now=self.clock()))

    def send_provisional_answer(
        self, invitation: Invitation, sdp: str, *, session_context: str, processed_offer_id: str | None = None
    ) -> None:
        """UCWA audio/video early media: POST ``sendProvisionalAnswer``; the invitation keeps ringing."""
        self.perform(
            invitation,
            invitation.send_provisional_answer(
                now=self.clock(), sdp=sdp, session_context=session_context, processed_offer_id=processed_offer_id
            ),
        )

    def decline(self, invitation: Invitation, reason: CallDeclineReason | None = None) -> None:
        """Decline an incoming invitation: POST its ``decline`` link, with ``reason`` when given."""
        self.perform(invitation, invitation.decline(now=self.clock(), reason=reason))

    def forward(self, invitation: Invitation, to: str | None = None) -> None:
        """Forward an incoming invitation (to ``to``, optional as documented): POST its ``forward`` link."""
        self.perform(invitation, invitation.forward(now=self.clock(), to=to))

    def cancel(self, model: Cancellable) -> None:
        """Cancel an outgoing invitation or hang up a connected one; leave a join's lobby, or its meeting."""
        self.perform(model, model.cancel(now=self.clock()))

    def offer(
        self,
        session: str,
        sdp: str,
        *,
        href: str,
        operation_id: str | None = None,
        deadline: float | None = None,
    ) -> Renegotiation:
        """Offer new media (``sdp``) on the audio/video session ``session`` (its href); returns our renegotiation.

        ``href`` is that session's ``renegotiations`` link (read from the
        audioVideoSession resource). At most one renegotiation per session is
        in flight: a second offer raises
        :class:`~fsm.renegotiation.RenegotiationInFlight`, nothing sent; an
        incoming offer crossing ours is dismissed (glare). ``deadline``: an
        absolute time on this client's ``clock``.
        """
        return self._sent(*self._offer(session, sdp, href=href, operation_id=operation_id, deadline=deadline))

    def answer(self, renegotiation: Renegotiation) -> None:
        """Accept the remote's renegotiation offer: POST its ``answer`` link."""
        self.perform(renegotiation, renegotiation.answer(now=self.clock()))

    def dismiss(self, renegotiation: Renegotiation, reason: ReNegotiationDeclineReason | None = None) -> None:
        """Refuse the remote's renegotiation offer: POST its ``dismiss`` link, with ``reason`` when given."""
        self.perform(renegotiation, renegotiation.dismiss(now=self.clock(), reason=reason))

    def admit(self, participant: LobbyParticipant) -> None:
        """Admit a participant waiting in the lobby of our meeting (leader): POST its ``admit`` link."""
        self.perform(participant, participant.admit(now=self.clock()))

    def reject(self, participant: LobbyParticipant) -> None:
        """Refuse a participant waiting in the lobby of our meeting (leader): POST its ``reject`` link."""
        self.perform(participant, participant.reject(now=self.clock()))

    def _sent(self, model: M, actions: Actions) -> M:
        self.perform(model, actions)
        return model

    def perform(self, model: FsmModel, actions: Actions) -> list[Applied]:
        """Send ``actions`` (from ``model``'s trigger), feed each response back; raise the first error.

        A creating POST's model is tracked by the dispatcher under its operation
        id first, so that its events are routed to it, even those that beat the 201.
        """
        applied: list[Applied] = []
        self._track_creations(model, actions)
        if self.trace is not None:
            self.trace.call(model, actions, self.clock())
        self._emit([model])
        for action in actions:
            response = self.sender.perform(action)
            result = apply_response(model, action, response, now=self.clock())
            applied.append(result)
            self._emit([model])
            if isinstance(result.outcome, Created) and result.violation is None:
                # the 201 names the resource: what the channel held for that href now reaches the model
                self._dispatched(self.dispatcher.created(model, now=self.clock()))
            if result.actions:
                applied.extend(self.perform(model, result.actions))
            _raise_for(result)
        return applied

    # -- the event loop ------------------------------------------------------------------------

    def _channel(self) -> EventChannel[DispatchResult]:
        if self.channel is None:
            raise ClientError("not connected: call connect() first (or use the client as a context manager)")
        return self.channel

    def poll_once(self) -> DispatchResult | None:
        """One P-GET and everything it causes (and the final outcomes its wait made due); before it,
        ``reportMyActivity`` when that P-GET's longest hold would otherwise carry it past its deadline."""
        channel = self._channel()
        self._keep_alive_if_due()
        result = channel.poll_once()
        self.ended = channel.ended
        if self._provisional:
            self._emit(self._due_finals())
        return result

    def run_until(self, predicate: Callable[[], object], timeout: float) -> bool:
        """Poll until ``predicate()`` is true (True) or ``timeout`` seconds passed (False)."""
        deadline = self.clock() + timeout
        while not predicate():
            if self.ended is not None or self.clock() >= deadline:
                return bool(predicate())
            self.poll_once()
        return True

    def wait_for_outcome(self, invitation: Invitation, timeout: float = 60.0) -> Outcome | None:
        """Poll until ``invitation``'s outcome is final; returns it (at ``timeout``: the outcome as it stands).

        An end seen without status (a GET after a resync, an ``updated`` to a
        final state) is final only once its ``completed`` fills in status and
        reason, or :data:`fsm.outcome.FINAL_GRACE` seconds later
        (:meth:`~fsm.invitation.Invitation.outcome_is_final`).
        """
        self.run_until(lambda: _outcome_settled(invitation, self.clock()), timeout)
        return invitation.outcome

    def run(self) -> ChannelEnd:
        """Run the event channel until :meth:`stop`, a takeover or the application's end (keeping it alive)."""
        channel = self._channel()
        try:
            while channel.ended is None:
                self.poll_once()
        except BaseException:
            channel._abandon()  # as the channel's own run: a GET sent ahead has nobody to read it now
            raise
        self.ended = channel.ended
        return self.ended

    def stop(self) -> None:
        self._channel().stop()

    # -- hooks -----------------------------------------------------------------------------------

    def _dispatched(self, result: DispatchResult) -> None:
        self._emit(change.model for change in result.changes)
        for action in result.actions:
            owner = self._owner(action)
            if owner is None:
                log.warning("no machine owns %s; not sent", type(action).__name__)
                continue
            try:
                self.perform(owner, (action,))
            except (UcwaError, OriginError) as error:  # an event's href off the application's origin: not sent
                log.warning("%s refused: %s", type(action).__name__, error)

    def _reset(self, reset: ChannelReset) -> None:
        for href in self.dispatcher.hrefs_to_refetch():
            model = self.dispatcher.model_for(href)
            if model is not None:
                with contextlib.suppress(UcwaError, OriginError):
                    self.perform(model, (FetchResource(href, f"re-read after {reset.kind.value}"),))

    def _emit(self, models: Iterable[FsmModel]) -> None:
        for change in self._changes(models):
            if self.on_change is not None:
                self.on_change(change)


class Subscription:
    """An async iterator of :class:`StateChange`; changes are queued from its creation on."""

    def __init__(self, owner: AsyncUcwaClient) -> None:
        self._owner = owner
        self._queue: asyncio.Queue[StateChange | None] = asyncio.Queue()
        owner._subscriptions.add(self)
        if owner._task is not None and owner._task.done():
            self.put(None)  # the channel has already ended: iteration ends at once

    def put(self, change: StateChange | None) -> None:
        self._queue.put_nowait(change)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> StateChange:
        item = await self._queue.get()
        if item is None:
            self._owner._subscriptions.discard(self)
            if self._owner.failure is not None:
                raise self._owner.failure
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        self._owner._subscriptions.discard(self)


class AsyncUcwaClient(_Core):
    """A UCWA application in asyncio code. ``async with`` connects and runs the event channel."""

    def __init__(
        self,
        url: str,
        *,
        token: AsyncTokenSource,
        client: httpx.AsyncClient | None = None,
        body_format: str = "json",
        on_change: Callable[[StateChange], object] | None = None,
        on_application_not_found: Callable[[UcwaError], str | Awaitable[str | None] | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        backoff: Backoff | None = None,
        pget_parameters: PGetParameters | None = None,
        keep_alive: bool = True,
        trace: TraceTarget | TraceWriter | None = None,
    ) -> None:
        super().__init__(url, url, on_change)
        self._own_client = client is None
        self.http = client or httpx.AsyncClient(timeout=REQUEST_TIMEOUT)
        #: The trace, as :attr:`UcwaClient.trace`.
        self.trace = open_trace(trace)
        self.sender = async_traced_sender(
            AsyncSender(self.http, token, base_url=url, body_format=body_format), self.trace, clock
        )
        self.clock = clock
        self.sleep = sleep
        self.backoff = backoff
        #: ``low``/``medium``/``timeout``/``priority`` for the P-GET (:class:`~adapters.ucwa.channel.PGetParameters`).
        self.pget_parameters = pget_parameters
        self.on_application_not_found = on_application_not_found
        self.channel: AsyncEventChannel[DispatchResult] | None = None
        self.failure: BaseException | None = None
        self._task: asyncio.Task[ChannelEnd] | None = None
        self._subscriptions: set[Subscription] = set()
        #: model id -> the timer that shows its provisional outcome as final once the grace passes.
        self._final_timers: dict[int, asyncio.TimerHandle] = {}
        #: Run the ``reportMyActivity`` task after ``make_me_available`` (off: the app reports itself).
        self.keep_alive_enabled = keep_alive
        self._keep_alive_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"AsyncUcwaClient({loggable_url(self.url)!r}, models={len(self.models)})"

    def _clock_now(self) -> float:
        return self.clock()

    @classmethod
    def restore(
        cls,
        url: str,
        snapshot: Mapping[str, Any] | str | bytes,
        *,
        token: AsyncTokenSource,
        wall: Callable[[], float] = time.time,
        **options: Any,
    ) -> AsyncUcwaClient:
        """The asyncio twin of :meth:`UcwaClient.restore` (nothing is sent; ``async with`` connects)."""
        clock: Callable[[], float] = options.get("clock", time.monotonic)
        state = restart.load(snapshot, url=url, now=clock(), wall=wall())  # before anything is opened
        client = cls(url, token=token, **options)
        client._install(state)
        return client

    @classmethod
    async def create_application(
        cls,
        url: str,
        *,
        token: AsyncTokenSource,
        user_agent: str,
        endpoint_id: str | None = None,
        culture: str = "en-US",
        allowed_origins: Sequence[str] = (),
        delete_on_close: bool = True,
        client: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> AsyncUcwaClient:
        """The asyncio twin of :meth:`UcwaClient.create_application` (``token`` may be an async callable);
        ``async with`` then starts the event channel without reading the application again."""
        http = client or httpx.AsyncClient(timeout=REQUEST_TIMEOUT)
        body_format = options.get("body_format", "json")
        try:
            walk = creation(
                url,
                user_agent=user_agent,
                endpoint_id=endpoint_id or new_endpoint_id(),
                culture=culture,
                allowed_origins=allowed_origins,
            )
            step = next(walk)
            while True:
                sender = AsyncSender(http, token, base_url=step.url, body_format=body_format)
                credential = await sender.token() if step.authorized else None
                response = await sender.send(_step_request(step, credential, body_format))
                try:
                    step = walk.send(response)
                except StopIteration as done:
                    created: ApplicationCreated = done.value
                    break
            app = cls(created.url, token=token, client=http, **options)
        except BaseException:
            if client is None:
                await http.aclose()
            raise
        app._own_client = client is None
        app.delete_on_close = delete_on_close
        app._open(app._adopt(created))
        return app

    async def __aenter__(self) -> AsyncUcwaClient:
        if self.channel is None:  # one create_application made is connected already
            await self.connect()
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _read_links(self) -> ApplicationLinks:
        request = build_request(
            FetchResource(self.url, "read the application"),
            base_url=self.url,
            token=await self.sender.token(),
            body_format=self.sender.body_format,
        )
        return read_application(self.url, await self.sender.send(request))

    async def connect(self) -> ApplicationLinks:
        """GET the application resource, read its links, prepare the event channel."""
        return self._open(await self._read_links())

    async def make_me_available(self, settings: MakeMeAvailable | None = None, /, **fields: Any) -> None:
        """The asyncio twin of :meth:`UcwaClient.make_me_available`; the keep-alive then runs as a task
        (every :data:`~adapters.ucwa.application.REPORT_DEADLINE` less a margin, on ``clock`` and ``sleep``)."""
        request = self._make_me_available_request(settings or MakeMeAvailable(**fields), await self.sender.token())
        made_available(await self.sender.send(request))
        self.keep_alive.started(self.clock())
        if "reportMyActivity" not in _links_or_raise(self.links).links:
            self.links = await self._read_links()  # some servers add it to ``me`` only now
        if self.keep_alive_enabled and (self._keep_alive_task is None or self._keep_alive_task.done()):
            self._keep_alive_task = asyncio.ensure_future(self._keep_alive_loop())

    async def report_my_activity(self) -> None:
        """The asyncio twin of :meth:`UcwaClient.report_my_activity`."""
        request = self._lifecycle_request("POST", "reportMyActivity", await self.sender.token())
        expect(await self.sender.send(request), 204, 200)
        self.keep_alive.reported(self.clock())

    async def _keep_alive_loop(self) -> None:
        while self.keep_alive.active:
            at = self.keep_alive.next_at(blocking_for=ASYNC_REPORT_LEAD)
            if at is None:
                return
            await self.sleep(max(0.0, at - self.clock()))
            if not self.keep_alive.due(self.clock(), blocking_for=ASYNC_REPORT_LEAD):
                continue  # reported meanwhile (the app called report_my_activity itself)
            try:
                await self.report_my_activity()
            except (UcwaError, TransportError, OriginError, ClientError) as error:
                self._keep_alive_failed(error)
                if self.keep_alive.active:
                    await self.sleep(ASYNC_REPORT_LEAD)  # try again later, not in a tight loop

    async def delete_application(self) -> None:
        """The asyncio twin of :meth:`UcwaClient.delete_application`."""
        response = await self.sender.send(self._lifecycle_request("DELETE", "self", await self.sender.token()))
        if response.status not in (404, 410):
            expect(response, 204, 200)

    def _open(self, links: ApplicationLinks) -> ApplicationLinks:
        self.links = links
        self.channel = AsyncEventChannel(
            self.sender,
            trace_sink(self.dispatcher, self.trace),
            self._channel_start(self.links),
            on_result=self._dispatched,
            on_reset=self._reset,
            on_application_not_found=self.on_application_not_found,
            clock=self.clock,
            sleep=self.sleep,
            backoff=self.backoff,
            parameters=self.pget_parameters,
        )
        return self.links

    def start(self) -> asyncio.Task[ChannelEnd]:
        """Run the event channel as a task (``async with`` does it for you).

        After the loop ended (``409 PGetReplaced``, the application gone, a failure),
        ``await connect()`` then ``start()`` runs a new loop from where the old one stopped.
        """
        if self.channel is None:
            raise ClientError("not connected: await connect() first (or use async with)")
        if self._task is None or self._task.done():
            self.failure = None
            self._task = asyncio.ensure_future(self.channel.run())
            self._task.add_done_callback(self._channel_done)
        return self._task

    def _channel_done(self, task: asyncio.Task[ChannelEnd]) -> None:
        if task.cancelled():
            self.ended = ChannelEnd.STOPPED
        elif task.exception() is not None:
            self.failure = task.exception()
            log.error("event channel failed: %s", self.failure)
        else:
            self.ended = task.result()
        for subscription in list(self._subscriptions):
            subscription.put(None)

    async def aclose(self, *, delete_application: bool | None = None) -> None:
        """Stop the event channel (the GET in flight is cancelled) and the keep-alive; DELETE the
        application when ``delete_application`` (default: :attr:`delete_on_close`); close what the
        client opened."""
        if self.channel is not None:
            self.channel.stop()
        self.keep_alive.stop()
        if self._keep_alive_task is not None:
            self._keep_alive_task.cancel()
        for task in (self._task, self._keep_alive_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for timer in self._final_timers.values():
            timer.cancel()
        self._final_timers.clear()
        try:
            if self.links is not None and (self.delete_on_close if delete_application is None else delete_application):
                try:
                    await self.delete_application()
                except (UcwaError, TransportError, OriginError) as error:
                    if delete_application:
                        raise
                    log.warning("the application was not deleted: %s", error)
        finally:
            if self.trace is not None:
                self.trace.close()
            if self._own_client:
                await self.http.aclose()

    # -- the app's calls ------------------------------------------------------------------------

    def changes(self) -> Subscription:
        """An async iterator of every :class:`StateChange` from now on (ends when the channel ends)."""
        return Subscription(self)

    async def start_audio_video(
        self, to: str, *, subject: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """The asyncio twin of :meth:`UcwaClient.start_audio_video`."""
        kind = InvitationKind.AUDIO_VIDEO
        return await self._sent(*self._outgoing(kind, to, operation_id=operation_id, subject=subject, extra=extra))

    async def start_messaging(
        self, to: str, *, subject: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """The asyncio twin of :meth:`UcwaClient.start_messaging`."""
        kind = InvitationKind.MESSAGING
        return await self._sent(*self._outgoing(kind, to, operation_id=operation_id, subject=subject, extra=extra))

    async def add_participant(
        self, to: str, *, href: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """The asyncio twin of :meth:`UcwaClient.add_participant` (``href``: the conversation's link)."""
        kind = InvitationKind.PARTICIPANT
        return await self._sent(*self._outgoing(kind, to, href=href, operation_id=operation_id, extra=extra))

    async def join_online_meeting(
        self,
        meeting_uri: str,
        *,
        subject: str | None = None,
        operation_id: str | None = None,
        lobby_deadline: float | None = None,
        **extra: Any,
    ) -> OnlineMeetingJoin:
        """The asyncio twin of :meth:`UcwaClient.join_online_meeting`."""
        join = self._join(
            meeting_uri, subject=subject, operation_id=operation_id, lobby_deadline=lobby_deadline, extra=extra
        )
        return await self._sent(*join)

    async def accept(self, invitation: Invitation, *, media_host: str | None = None) -> None:
        """The asyncio twin of :meth:`UcwaClient.accept`."""
        await self.perform(invitation, invitation.accept(now=self.clock(), media_host=media_host))

    async def accept_with_answer(
        self, invitation: Invitation, sdp: str, *, session_context: str, processed_offer_id: str | None = None
    ) -> None:
        """The asyncio twin of :meth:`UcwaClient.accept_with_answer`."""
        await self.perform(
            invitation,
            invitation.accept_with_answer(
                now=self.clock(), sdp=sdp, session_context=session_context, processed_offer_id=processed_offer_id
            ),
        )

    async def accept_with_phone_audio(self, invitation: Invitation) -> None:
        """The asyncio twin of :meth:`UcwaClient.accept_with_phone_audio`."""
        await self.perform(invitation, invitation.accept_with_phone_audio(now=self.clock()))

    async def send_provisional_answer(
        self, invitation: Invitation, sdp: str, *, session_context: str, processed_offer_id: str | None = None
    ) -> None:
        """The asyncio twin of :meth:`UcwaClient.send_provisional_answer`."""
        await self.perform(
            invitation,
            invitation.send_provisional_answer(
                now=self.clock(), sdp=sdp, session_context=session_context, processed_offer_id=processed_offer_id
            ),
        )

    async def decline(self, invitation: Invitation, reason: CallDeclineReason | None = None) -> None:
        """The asyncio twin of :meth:`UcwaClient.decline`."""
        await self.perform(invitation, invitation.decline(now=self.clock(), reason=reason))

    async def forward(self, invitation: Invitation, to: str | None = None) -> None:
        """The asyncio twin of :meth:`UcwaClient.forward`."""
        await self.perform(invitation, invitation.forward(now=self.clock(), to=to))

    async def cancel(self, model: Cancellable) -> None:
        """The asyncio twin of :meth:`UcwaClient.cancel` (an invitation or a join)."""
        await self.perform(model, model.cancel(now=self.clock()))

    async def offer(
        self,
        session: str,
        sdp: str,
        *,
        href: str,
        operation_id: str | None = None,
        deadline: float | None = None,
    ) -> Renegotiation:
        """The asyncio twin of :meth:`UcwaClient.offer` (``href``: the session's ``renegotiations`` link)."""
        return await self._sent(*self._offer(session, sdp, href=href, operation_id=operation_id, deadline=deadline))

    async def answer(self, renegotiation: Renegotiation) -> None:
        """The asyncio twin of :meth:`UcwaClient.answer`."""
        await self.perform(renegotiation, renegotiation.answer(now=self.clock()))

    async def dismiss(self, renegotiation: Renegotiation, reason: ReNegotiationDeclineReason | None = None) -> None:
        """The asyncio twin of :meth:`UcwaClient.dismiss`."""
        await self.perform(renegotiation, renegotiation.dismiss(now=self.clock(), reason=reason))

    async def admit(self, participant: LobbyParticipant) -> None:
        """The asyncio twin of :meth:`UcwaClient.admit`."""
        await self.perform(participant, participant.admit(now=self.clock()))

    async def reject(self, participant: LobbyParticipant) -> None:
        """The asyncio twin of :meth:`UcwaClient.reject`."""
        await self.perform(participant, participant.reject(now=self.clock()))

    async def _sent(self, model: M, actions: Actions) -> M:
        await self.perform(model, actions)
        return model

    async def perform(self, model: FsmModel, actions: Actions) -> list[Applied]:
        """The asyncio twin of :meth:`UcwaClient.perform` (creating POSTs tracked first, the same way)."""
        applied: list[Applied] = []
        self._track_creations(model, actions)
        if self.trace is not None:
            self.trace.call(model, actions, self.clock())
        self._emit([model])
        for action in actions:
            response = await self.sender.perform(action)
            result = apply_response(model, action, response, now=self.clock())
            applied.append(result)
            self._emit([model])
            if isinstance(result.outcome, Created) and result.violation is None:
                # the 201 names the resource: what the channel held for that href now reaches the model
                await self._dispatched(self.dispatcher.created(model, now=self.clock()))
            if result.actions:
                applied.extend(await self.perform(model, result.actions))
            _raise_for(result)
        return applied

    async def wait_for_outcome(self, invitation: Invitation, timeout: float = 60.0) -> Outcome | None:
        """Wait until ``invitation``'s outcome is final (as :meth:`UcwaClient.wait_for_outcome`); returns it."""
        subscription = self.changes()
        try:
            async with asyncio.timeout(timeout):
                while not _outcome_settled(invitation, self.clock()):
                    final_at = invitation.final_at if invitation.outcome is not None else None
                    # a provisional outcome turns final by itself once its grace passes: wake up for it
                    wait = None if final_at is None else max(0.0, final_at - self.clock())
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await anext(subscription)
        except (TimeoutError, StopAsyncIteration):
            pass
        finally:
            subscription.close()
        if self.failure is not None and invitation.outcome is None:
            raise self.failure
        return invitation.outcome

    # -- hooks ------------------------------------------------------------------------------------

    async def _dispatched(self, result: DispatchResult) -> None:
        self._emit(change.model for change in result.changes)
        for action in result.actions:
            owner = self._owner(action)
            if owner is None:
                log.warning("no machine owns %s; not sent", type(action).__name__)
                continue
            try:
                await self.perform(owner, (action,))
            except (UcwaError, OriginError) as error:  # an event's href off the application's origin: not sent
                log.warning("%s refused: %s", type(action).__name__, error)

    async def _reset(self, reset: ChannelReset) -> None:
        for href in self.dispatcher.hrefs_to_refetch():
            model = self.dispatcher.model_for(href)
            if model is not None:
                with contextlib.suppress(UcwaError, OriginError):
                    await self.perform(model, (FetchResource(href, f"re-read after {reset.kind.value}"),))

    def _emit(self, models: Iterable[FsmModel]) -> None:
        for change in self._changes(models):
            if self.on_change is not None:
                self.on_change(change)
            for subscription in list(self._subscriptions):
                subscription.put(change)
        waiting = [(i, m) for i, m in self._provisional.items() if i not in self._final_timers]
        if waiting:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not in the loop (a restore): the next change in the loop arms it
                return
            for ident, model in waiting:
                # a provisional outcome turns final with time alone: show it then, with no event to wait for
                final_at = getattr(model, "final_at", None) or self.clock()
                delay = max(0.0, final_at - self.clock())
                self._final_timers[ident] = loop.call_later(delay, self._final_due, ident)

    def _final_due(self, ident: int) -> None:
        self._final_timers.pop(ident, None)
        model = self._provisional.get(ident)
        if model is not None:
            self._emit([model])

