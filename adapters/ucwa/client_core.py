"""What the sync and the asyncio UCWA client share, with no I/O: the dispatcher and the machines, the
application's links, the changes shown, action ownership, snapshots, the requests the lifecycle sends
and what their answers mean, and the plans (:mod:`adapters.ucwa.client_plans`) of everything a call or
an event makes the client send.

Separate from the twins so that each of them is only the sending around it: a twin's method builds
nothing and decides nothing, it sends (or awaits) what the core asks for and hands the answer back.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Self, TypeVar

import httpx

from adapters.routing import restart
from adapters.routing.dispatcher import Dispatcher, DispatchResult
from adapters.routing.trace import TraceWriter
from adapters.ucwa.application import Created as ApplicationCreated
from adapters.ucwa.application import KeepAlive, MakeMeAvailable, expect, made_available
from adapters.ucwa.application import Step as CreationStep
from adapters.ucwa.application import request as application_request
from adapters.ucwa.channel import AsyncEventChannel, Backoff, ChannelEnd, ChannelReset, EventChannel, PGetParameters
from adapters.ucwa.client_changes import ChangeFeed, StateChange
from adapters.ucwa.client_links import ApplicationLinks, application_links, links_or_raise
from adapters.ucwa.client_plans import Plan
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
from adapters.wire.ucwa_errors import UcwaError
from fsm.actions import Action, Actions, FetchResource, PostRenegotiation, StartOperation
from fsm.invitation import KIND_RULES, Invitation, InvitationKind
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin
from fsm.renegotiation import Renegotiation

log = logging.getLogger("callfsm.client")


#: How long a plain request may take (the P-GET has its own, longer timeout).
REQUEST_TIMEOUT: Final = httpx.Timeout(15.0, connect=10.0)

M = TypeVar("M", bound=FsmModel)
#: What ``cancel`` takes: an invitation, or a join (it leaves the lobby, or the meeting).
Cancellable = Invitation | OnlineMeetingJoin


def new_operation_id() -> str:
    """32 hexadecimal characters (the limit is 50)."""
    return uuid.uuid4().hex


def _raise_for(applied: Applied) -> None:
    if isinstance(applied.outcome, Failed):
        raise applied.outcome.error
    if isinstance(applied.outcome, Unexpected):
        log.warning("unexpected answer: %s", applied.outcome.why)


class ClientCore:
    """What both clients are, with no I/O: the dispatcher and the machines, the application's links,
    the changes shown, and the plans (:mod:`adapters.ucwa.client_plans`) of everything they send.

    The twins subclass it and only send: :class:`~adapters.ucwa.client_sync.UcwaClient` runs each plan
    with :func:`~adapters.ucwa.client_plans.run_plan`, :class:`~adapters.ucwa.client_async.AsyncUcwaClient`
    awaits it with :func:`~adapters.ucwa.client_plans.arun_plan`. Time is the client's ``clock``, read here
    and passed to the machines as ``now``.
    """

    #: The event channel, once connected (each twin holds its own kind).
    channel: EventChannel[DispatchResult] | AsyncEventChannel[DispatchResult] | None

    def __init__(
        self,
        url: str,
        *,
        on_change: Callable[[StateChange], object] | None,
        clock: Callable[[], float],
        trace: TraceWriter | None,
        body_format: str,
        own_client: bool,
        backoff: Backoff | None,
        pget_parameters: PGetParameters | None,
        keep_alive: bool,
    ) -> None:
        self.url = url
        self.dispatcher = Dispatcher(base_url=url)
        self.on_change = on_change
        self.clock = clock
        #: The trace (``trace=``: a path or text stream; adapters/routing/trace.py): answers, calls, requests, redacted.
        self.trace = trace
        self.body_format = body_format
        #: Whether the httpx client is this client's own (closed with it), or the app's.
        self._own_client = own_client
        self.backoff = backoff
        #: ``low``/``medium``/``timeout``/``priority`` for the P-GET (:class:`~adapters.ucwa.channel.PGetParameters`).
        self.pget_parameters = pget_parameters
        #: Keep the application alive (``reportMyActivity``) after ``make_me_available`` (off: the app reports).
        self.keep_alive_enabled = keep_alive
        self.links: ApplicationLinks | None = None
        self.ended: ChannelEnd | None = None
        self.channel = None
        #: What the app has been shown; its ``provisional`` models turn final with time alone.
        self._feed = ChangeFeed()
        #: Where a restored client's event channel starts (``connect`` uses it once).
        self._resume_from: str | None = None
        #: When ``reportMyActivity`` is due (active from a successful ``make_me_available`` on).
        self.keep_alive = KeepAlive()
        #: Whether ``close()`` (and leaving ``with``) deletes the application: on for one this client created.
        self.delete_on_close = False
        #: The application resource as the creating POST's 201 carried it (``None``: not created here).
        self.resource: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({loggable_url(self.url)!r}, models={len(self.models)})"

    @property
    def models(self) -> tuple[FsmModel, ...]:
        """The live machines the dispatcher holds."""
        return self.dispatcher.models

    # -- the application's lifecycle: the requests, and what their answers mean -------------------------

    def _lifecycle_href(self, rel: str) -> str:
        """The absolute URL of the application's ``rel`` link, on the application's origin (else OriginError)."""
        return resolve(self.url, links_or_raise(self.links).href(rel))

    def _lifecycle_request(self, method: str, rel: str, token: Secret | None) -> HttpRequest:
        href = self._lifecycle_href(rel)
        return application_request(method, href, token=token, body_format=self.body_format)

    def _make_me_available_request(self, settings: MakeMeAvailable, token: Secret | None) -> HttpRequest:
        body = settings.body(self.body_format)
        href = self._lifecycle_href("makeMeAvailable")
        return application_request("POST", href, token=token, body_format=self.body_format, body=body)

    def _made_available(self, response: HttpResponse) -> bool:
        """Take ``makeMeAvailable``'s answer (raise when refused); true when the links must be read again."""
        made_available(response)
        self.keep_alive.started(self.clock())
        # some servers add ``reportMyActivity`` to ``me`` only now: then read the application again
        return "reportMyActivity" not in links_or_raise(self.links).links

    def _reported(self, response: HttpResponse) -> None:
        expect(response, 204, 200)
        self.keep_alive.reported(self.clock())

    def _keep_alive_failed(self, error: Exception) -> None:
        gone = isinstance(error, UcwaError) and error.status in (404, 410)
        log.warning("reportMyActivity failed%s: %s", "; keep-alive stopped" if gone else "", error)
        if gone:
            self.keep_alive.stop()

    def _read_links_request(self, token: Secret | None) -> HttpRequest:
        action = FetchResource(self.url, "read the application")
        return build_request(action, base_url=self.url, token=token, body_format=self.body_format)

    def _deleted(self, response: HttpResponse) -> None:
        """Take the DELETE's answer: 404 or 410 mean the application is gone already."""
        if response.status not in (404, 410):
            expect(response, 204, 200)

    def _deletes(self, delete_application: bool | None) -> bool:
        """Whether closing deletes the application (``None``: :attr:`delete_on_close` decides)."""
        wanted = self.delete_on_close if delete_application is None else delete_application
        return self.links is not None and wanted

    @staticmethod
    def _not_deleted(error: Exception, delete_application: bool | None) -> None:
        # raised only when asked for: leaving ``with`` must not hide the error that made it leave
        if delete_application:
            raise error
        log.warning("the application was not deleted: %s", error)

    def _adopt(self, created: ApplicationCreated, *, own_client: bool, delete_on_close: bool) -> ApplicationLinks:
        """Take the creating POST's 201 as this client's application resource (no second GET)."""
        self._own_client = own_client
        self.delete_on_close = delete_on_close
        self.resource = created.resource
        self.links = application_links(self.url, created.resource)
        return self.links

    # -- restart --------------------------------------------------------------------------------------

    def _events_cursor(self) -> str | None:
        if self.channel is not None:
            return self.channel.resume_url
        return self._resume_from

    def snapshot(self, *, wall: Callable[[], float] = time.time) -> dict[str, Any]:
        """The live machines, the event-channel cursor and the routing, as JSON-ready data.

        Holds no credential. Take it between answers, or after stopping the
        client; one taken while an answer is being processed resumes from that
        answer (see :attr:`adapters.ucwa.channel.EventChannel.resume_url`).
        ``wall`` is the wall clock (Unix seconds) that carries deadlines across
        a restart: :mod:`adapters.routing.restart`.
        """
        return restart.take(self.url, self._events_cursor(), self.dispatcher, now=self.clock(), wall=wall())

    @classmethod
    def _restored(
        cls, url: str, snapshot: Mapping[str, Any] | str | bytes, wall: Callable[[], float], options: dict[str, Any]
    ) -> Self:
        """A client for ``url`` built from ``options`` (the constructor's), holding ``snapshot``'s machines."""
        clock: Callable[[], float] = options.get("clock", time.monotonic)
        state = restart.load(snapshot, url=url, now=clock(), wall=wall())  # before anything is opened
        client = cls(url, **options)
        client._install(state)
        return client

    def _install(self, state: restart.ClientState) -> None:
        restart.install(state, self.dispatcher)
        for model in self.dispatcher.models:
            self._feed.restored(model, self.clock())
        self._resume_from = state.events

    def _channel_start(self, links: ApplicationLinks) -> str:
        """Where a new channel starts: the restored cursor, else where the old channel was, else ``events``."""
        start = self._events_cursor() or links.events
        self._resume_from = None
        return start

    # -- what the app is shown ------------------------------------------------------------------------

    def _emit(self, models: Iterable[FsmModel]) -> None:
        for change in self._feed.changes(models, self.clock()):
            if self.on_change is not None:
                self.on_change(change)
            self._publish(change)
        if self._feed.provisional:
            self._watch_provisional()

    def _publish(self, change: StateChange) -> None:
        """Hand ``change`` to the app's other listeners, besides ``on_change`` (the asyncio client's iterators)."""

    def _watch_provisional(self) -> None:
        """Some outcome is provisional: the asyncio client arms a timer; the sync one asks at each poll."""

    # -- the plans: what to send, and what each answer does ------------------------------------------

    def _perform_plan(self, model: FsmModel, actions: Actions) -> Plan[Action, HttpResponse, list[Applied]]:
        """Send ``actions`` (from ``model``'s trigger) and feed each answer back to ``model``; the first error raises.

        A creating POST's model is tracked first; a 201 releases what the channel held for the resource it
        names; what a response asks for (a GET after a bare answer) is sent next.
        """
        applied: list[Applied] = []
        track_creations(self.dispatcher, model, actions)
        if self.trace is not None:
            self.trace.call(model, actions, self.clock())
        self._emit([model])
        for action in actions:
            response = yield action
            result = apply_response(model, action, response, now=self.clock())
            applied.append(result)
            self._emit([model])
            if isinstance(result.outcome, Created) and result.violation is None:
                # the 201 names the resource: what the channel held for that href now reaches the model
                yield from self._dispatched_plan(self.dispatcher.created(model, now=self.clock()))
            if result.actions:
                applied.extend((yield from self._perform_plan(model, result.actions)))
            _raise_for(result)
        return applied

    def _dispatched_plan(self, result: DispatchResult) -> Plan[Action, HttpResponse, None]:
        """Show what the dispatcher changed, then send what the machines asked for (each by its owner)."""
        self._emit(change.model for change in result.changes)
        for action in result.actions:
            owner = owner_of(self.dispatcher, action)
            if owner is None:
                log.warning("no machine owns %s; not sent", type(action).__name__)
                continue
            try:
                yield from self._perform_plan(owner, (action,))
            except (UcwaError, OriginError) as error:  # an event's href off the application's origin: not sent
                log.warning("%s refused: %s", type(action).__name__, error)

    def _reset_plan(self, reset: ChannelReset) -> Plan[Action, HttpResponse, None]:
        """After a ``resume``/``resync``, read every unsettled resource again."""
        for href in self.dispatcher.hrefs_to_refetch():
            model = self.dispatcher.model_for(href)
            if model is not None:
                with contextlib.suppress(UcwaError, OriginError):
                    yield from self._perform_plan(model, (FetchResource(href, f"re-read after {reset.kind.value}"),))

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
        target = href if href is not None else links_or_raise(self.links).href(*KIND_RULES[kind].create_rels)
        invitation = Invitation(kind=kind)
        actions = invitation.send(
            now=self.clock(),
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
        href = links_or_raise(self.links).href("joinOnlineMeeting")
        join = OnlineMeetingJoin()
        actions = join.send(
            now=self.clock(),
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
            now=self.clock(), href=href, operation_id=operation_id, sdp=sdp, deadline=deadline
        )


def owner_of(dispatcher: Dispatcher, action: Action) -> FsmModel | None:
    """The model an action from a dispatch result belongs to (the one holding that link or href), if any."""
    href = getattr(action, "href", None)
    if not isinstance(href, str):
        return None
    found = dispatcher.model_for(href)
    if found is not None:
        return found
    key = dispatcher.key(href)
    for model in dispatcher.models:
        representation = getattr(model, "representation", None)
        links = getattr(representation, "links", ())
        if any(dispatcher.key(link.href) == key for link in links):
            return model
    return None


def track_creations(dispatcher: Dispatcher, model: FsmModel, actions: Actions) -> None:
    """Track ``model`` under the operation id of each creating POST in ``actions``, before it is sent.

    The ``started`` event may beat the 201 (docs/protocol.md §2.2); the dispatcher
    then finds the model by its operation id. :meth:`Dispatcher.track` is
    idempotent, so a model the app (or an earlier call) already tracked
    under that id is left as it is.
    """
    for action in actions:
        if isinstance(action, StartOperation | PostRenegotiation):
            dispatcher.track(model, operation_id=action.operation_id)


def creation_request(step: CreationStep, token: Secret | None, body_format: str) -> HttpRequest:
    """The request for one step of the application's creation walk (:func:`~adapters.ucwa.application.creation`)."""
    return application_request(step.method, step.url, token=token, body_format=body_format, body=step.body)
