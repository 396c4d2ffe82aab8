"""What the sync and the asyncio UCWA client share, with no I/O: the dispatcher, the application's
links, change bookkeeping, action ownership, snapshots and the requests the lifecycle sends.

Separate from the twins so that each of them is only the sending around it.
"""

from __future__ import annotations

import logging
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

import httpx

from adapters.routing import restart
from adapters.routing.dispatcher import Dispatcher
from adapters.ucwa.application import Created as ApplicationCreated
from adapters.ucwa.application import (
    KeepAlive,
    MakeMeAvailable,
)
from adapters.ucwa.application import Step as CreationStep
from adapters.ucwa.application import request as application_request
from adapters.ucwa.channel import AsyncEventChannel, ChannelEnd, EventChannel
from adapters.ucwa.client_changes import StateChange, _Steps
from adapters.ucwa.client_links import ApplicationLinks, _links_or_raise, application_links
from adapters.wire.requests import (
    Applied,
    Failed,
    HttpRequest,
    Secret,
    Unexpected,
    resolve,
)
from adapters.wire.ucwa_errors import UcwaError
from fsm.actions import Action, Actions, PostRenegotiation, StartOperation
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
