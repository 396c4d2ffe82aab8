""":class:`AsyncUcwaClient`: a UCWA application in asyncio code, over ``httpx.AsyncClient``, and the
:class:`Subscription` that hands its changes out as an async iterator.

The asyncio twin, and only what is asyncio about it: creating or reading the application, the
keep-alive task, the event channel run as a task, the timers that show a provisional outcome final, and
closing. What to send and what each answer does are the core's plans (:mod:`adapters.ucwa.client_core`),
awaited with :func:`~adapters.ucwa.client_plans.arun_plan`; the app's calls are
:mod:`adapters.ucwa.client_async_calls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from adapters.routing.dispatcher import DispatchResult
from adapters.routing.trace import TraceTarget, TraceWriter, open_trace
from adapters.transport.http import AsyncSender, AsyncTokenSource, TransportError
from adapters.ucwa.application import ASYNC_REPORT_LEAD, MakeMeAvailable, creation, new_endpoint_id
from adapters.ucwa.application import Step as CreationStep
from adapters.ucwa.channel import AsyncEventChannel, Backoff, ChannelEnd, ChannelReset, PGetParameters
from adapters.ucwa.client_async_calls import AsyncUcwaCalls
from adapters.ucwa.client_changes import StateChange, outcome_settled
from adapters.ucwa.client_core import REQUEST_TIMEOUT, creation_request
from adapters.ucwa.client_links import ApplicationLinks, ClientError, read_application
from adapters.ucwa.client_plans import arun_plan
from adapters.ucwa.tracing import async_traced_sender, trace_sink
from adapters.wire.requests import HttpResponse, OriginError
from adapters.wire.ucwa_errors import UcwaError
from fsm.invitation import Invitation
from fsm.outcome import Outcome

log = logging.getLogger("callfsm.client")

T = TypeVar("T")


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


class AsyncUcwaClient(AsyncUcwaCalls):
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
        self.http = client or httpx.AsyncClient(timeout=REQUEST_TIMEOUT)
        sender = AsyncSender(self.http, token, base_url=url, body_format=body_format)
        self.sender = async_traced_sender(sender, self.trace, clock)
        self.sleep = sleep
        self.on_application_not_found = on_application_not_found
        self.channel: AsyncEventChannel[DispatchResult] | None = None
        self.failure: BaseException | None = None
        self._task: asyncio.Task[ChannelEnd] | None = None
        self._subscriptions: set[Subscription] = set()
        #: model id -> the timer that shows its provisional outcome as final once the grace passes.
        self._final_timers: dict[int, asyncio.TimerHandle] = {}
        self._keep_alive_task: asyncio.Task[None] | None = None

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
        return cls._restored(url, snapshot, wall, {"token": token, **options})

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

        async def send(step: CreationStep) -> HttpResponse:
            sender = AsyncSender(http, token, base_url=step.url, body_format=body_format)
            credential = await sender.token() if step.authorized else None
            return await sender.send(creation_request(step, credential, body_format))

        try:
            endpoint_id = endpoint_id or new_endpoint_id()
            walk = creation(
                url, user_agent=user_agent, endpoint_id=endpoint_id, culture=culture, allowed_origins=allowed_origins
            )
            created = await arun_plan(walk, send)
            app = cls(created.url, token=token, client=http, **options)
        except BaseException:
            if client is None:
                await http.aclose()
            raise
        app._open(app._adopt(created, own_client=client is None, delete_on_close=delete_on_close))
        return app

    async def __aenter__(self) -> AsyncUcwaClient:
        if self.channel is None:  # one create_application made is connected already
            await self.connect()
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _read_links(self) -> ApplicationLinks:
        request = self._read_links_request(await self.sender.token())
        return read_application(self.url, await self.sender.send(request))

    async def connect(self) -> ApplicationLinks:
        """GET the application resource, read its links, prepare the event channel."""
        return self._open(await self._read_links())

    async def make_me_available(self, settings: MakeMeAvailable | None = None, /, **fields: Any) -> None:
        """The asyncio twin of :meth:`UcwaClient.make_me_available`; the keep-alive then runs as a task
        (every :data:`~adapters.ucwa.application.REPORT_DEADLINE` less a margin, on ``clock`` and ``sleep``)."""
        request = self._make_me_available_request(settings or MakeMeAvailable(**fields), await self.sender.token())
        if self._made_available(await self.sender.send(request)):
            self.links = await self._read_links()
        if self.keep_alive_enabled and (self._keep_alive_task is None or self._keep_alive_task.done()):
            self._keep_alive_task = asyncio.ensure_future(self._keep_alive_loop())

    async def report_my_activity(self) -> None:
        """The asyncio twin of :meth:`UcwaClient.report_my_activity`."""
        request = self._lifecycle_request("POST", "reportMyActivity", await self.sender.token())
        self._reported(await self.sender.send(request))

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
        self._deleted(await self.sender.send(self._lifecycle_request("DELETE", "self", await self.sender.token())))

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
            if self._deletes(delete_application):
                try:
                    await self.delete_application()
                except (UcwaError, TransportError, OriginError) as error:
                    self._not_deleted(error, delete_application)
        finally:
            if self.trace is not None:
                self.trace.close()
            if self._own_client:
                await self.http.aclose()

    # -- the app's calls ------------------------------------------------------------------------

    def changes(self) -> Subscription:
        """An async iterator of every :class:`StateChange` from now on (ends when the channel ends)."""
        return Subscription(self)

    async def wait_for_outcome(self, invitation: Invitation, timeout: float = 60.0) -> Outcome | None:
        """Wait until ``invitation``'s outcome is final (as :meth:`UcwaClient.wait_for_outcome`); returns it."""
        subscription = self.changes()
        try:
            async with asyncio.timeout(timeout):
                while not outcome_settled(invitation, self.clock()):
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
        await self._run(self._dispatched_plan(result))

    async def _reset(self, reset: ChannelReset) -> None:
        await self._run(self._reset_plan(reset))

    def _publish(self, change: StateChange) -> None:
        for subscription in list(self._subscriptions):
            subscription.put(change)

    def _watch_provisional(self) -> None:
        waiting = [(i, m) for i, m in self._feed.provisional.items() if i not in self._final_timers]
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
        model = self._feed.provisional.get(ident)
        if model is not None:
            self._emit([model])
