""":class:`UcwaClient`: a UCWA application driven from a plain script, over ``httpx.Client``.

The sync twin, and only what is sync about it: creating or reading the application, the keep-alive
sent before a P-GET that would outlast its deadline (no thread), the event channel polled by the app
(``poll_once``, ``run_until``, ``run``), and closing. What to send and what each answer does are the
core's plans (:mod:`adapters.ucwa.client_core`), run here with
:func:`~adapters.ucwa.client_plans.run_plan`; the app's calls are :mod:`adapters.ucwa.client_sync_calls`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from adapters.routing.dispatcher import DispatchResult
from adapters.routing.trace import TraceTarget, TraceWriter, open_trace
from adapters.transport.http import SyncSender, TokenSource, TransportError
from adapters.ucwa.application import MakeMeAvailable, creation, new_endpoint_id, pget_hold
from adapters.ucwa.application import Step as CreationStep
from adapters.ucwa.channel import Backoff, ChannelEnd, ChannelReset, EventChannel, PGetParameters
from adapters.ucwa.client_changes import StateChange, outcome_settled
from adapters.ucwa.client_core import REQUEST_TIMEOUT, creation_request
from adapters.ucwa.client_links import ApplicationLinks, ClientError, read_application
from adapters.ucwa.client_plans import run_plan
from adapters.ucwa.client_sync_calls import UcwaCalls
from adapters.ucwa.tracing import trace_sink, traced_sender
from adapters.wire.requests import HttpResponse, OriginError
from adapters.wire.ucwa_errors import UcwaError
from fsm.invitation import Invitation
from fsm.outcome import Outcome

log = logging.getLogger("callfsm.client")

T = TypeVar("T")


class UcwaClient(UcwaCalls):
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
        super().__init__(
            url,
            on_change=on_change,
            clock=clock,
            trace=open_trace(trace),
            body_format=body_format,
            own_client=client is None,
            backoff=backoff,
            pget_parameters=pget_parameters,
            keep_alive=keep_alive,
        )
        #: Send each P-GET ahead, from a helper thread, while the answer before it is processed
        #: (:class:`~adapters.ucwa.channel.EventChannel`'s ``prefetch``). Off by default here: this client
        #: promises a plain script no thread of its own, and a sync GET sent ahead cannot be interrupted,
        #: so after :meth:`close` it would stay out until the server answers or its long-poll times out.
        self.prefetch = prefetch
        self.http = client or httpx.Client(timeout=REQUEST_TIMEOUT)
        sender = SyncSender(self.http, token, base_url=url, body_format=body_format)
        self.sender = traced_sender(sender, self.trace, clock)
        self.sleep = sleep
        self.on_application_not_found = on_application_not_found
        self.channel: EventChannel[DispatchResult] | None = None

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
        return cls._restored(url, snapshot, wall, {"token": token, **options})

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

        def send(step: CreationStep) -> HttpResponse:
            sender = SyncSender(http, token, base_url=step.url, body_format=body_format)
            return sender.send(creation_request(step, sender.token() if step.authorized else None, body_format))

        try:
            endpoint_id = endpoint_id or new_endpoint_id()
            walk = creation(
                url, user_agent=user_agent, endpoint_id=endpoint_id, culture=culture, allowed_origins=allowed_origins
            )
            created = run_plan(walk, send)
            app = cls(created.url, token=token, client=http, **options)
        except BaseException:
            if client is None:
                http.close()
            raise
        app._open(app._adopt(created, own_client=client is None, delete_on_close=delete_on_close))
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
            if self._deletes(delete_application):
                try:
                    self.delete_application()
                except (UcwaError, TransportError, OriginError) as error:
                    self._not_deleted(error, delete_application)
        finally:
            if self.trace is not None:
                self.trace.close()
            if self._own_client:
                self.http.close()

    def delete_application(self) -> None:
        """``DELETE`` the application (204; 404 or 410: already gone). Its calls end with it."""
        self._deleted(self.sender.send(self._lifecycle_request("DELETE", "self", self.sender.token())))

    # -- setup ----------------------------------------------------------------------------

    def make_me_available(self, settings: MakeMeAvailable | None = None, /, **fields: Any) -> None:
        """POST ``makeMeAvailable`` (wherever the application puts it) so incoming invitations arrive;
        the keep-alive (``reportMyActivity``) runs from then on. ``fields`` are those of
        :class:`~adapters.ucwa.application.MakeMeAvailable` (``supported_modalities=[Modality.AUDIO]``...),
        checked before anything is sent. A second call (409 ``AlreadyExists``: a restored client's
        application is available already) only restarts the keep-alive. Raises :class:`UcwaError` when refused."""
        request = self._make_me_available_request(settings or MakeMeAvailable(**fields), self.sender.token())
        if self._made_available(self.sender.send(request)):
            self.links = self._read_links()  # the channel stays
        hold = self._pget_hold()
        last_safe = self.keep_alive.next_at(blocking_for=hold)  # set: the keep-alive has just started
        if self.keep_alive_enabled and last_safe is not None and last_safe <= self.clock():
            log.warning(
                "a P-GET held up to %.0f s may outlast reportMyActivity's %.0f s deadline: lower its timeout",
                hold,
                self.keep_alive.deadline,
            )

    def report_my_activity(self) -> None:
        """POST ``reportMyActivity`` now (the keep-alive does it on time by itself). Raises :class:`UcwaError`."""
        self._reported(self.sender.send(self._lifecycle_request("POST", "reportMyActivity", self.sender.token())))

    def _pget_hold(self) -> float:
        """How long the server may hold our P-GET (its ``timeout`` parameter, else the default)."""
        return pget_hold(None if self.pget_parameters is None else self.pget_parameters.timeout)

    def _keep_alive_if_due(self) -> None:
        if not self.keep_alive_enabled or not self.keep_alive.due(self.clock(), blocking_for=self._pget_hold()):
            return
        try:
            self.report_my_activity()
        except (UcwaError, TransportError, OriginError, ClientError) as error:
            self._keep_alive_failed(error)

    def _read_links(self) -> ApplicationLinks:
        return read_application(self.url, self.sender.send(self._read_links_request(self.sender.token())))

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
        if self._feed.provisional:
            self._emit(self._feed.due(self.clock()))
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
        self.run_until(lambda: outcome_settled(invitation, self.clock()), timeout)
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
        self._run(self._dispatched_plan(result))

    def _reset(self, reset: ChannelReset) -> None:
        self._run(self._reset_plan(reset))
