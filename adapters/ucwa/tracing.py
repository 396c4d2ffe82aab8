"""The client's side of a trace: senders and the event sink that write each exchange as it happens.

The trace format and its writer live in :mod:`adapters.routing.trace`, below the clients, so
that the simulator and replay can use them without importing a client; what wraps an httpx
sender or the event channel's sink belongs here, with the clients that own both.
"""

from __future__ import annotations

import typing
from typing import Any, Generic, TypeVar

from adapters.routing.trace import TraceWriter
from adapters.transport.http import AsyncSender, SyncSender, TransportError
from adapters.ucwa.channel import EventSink
from adapters.wire.events import EventsResponse
from adapters.wire.requests import HttpRequest, HttpResponse
from fsm.actions import Action

R = TypeVar("R")


class TracingSink(Generic[R]):
    """The event channel's sink (the dispatcher), telling the trace when an answer is fed."""

    def __init__(self, sink: EventSink[R], trace: TraceWriter) -> None:
        self.sink = sink
        self.trace = trace
        trace.fed_by_sink = True

    def feed(self, response: EventsResponse, now: float) -> R:
        self.trace.delivered(now)
        return self.sink.feed(response, now)

    def drop_transient(self) -> object:
        return self.sink.drop_transient()


def trace_sink(sink: EventSink[R], trace: TraceWriter | None) -> EventSink[R]:
    """``sink`` itself without a trace; else it wrapped, so that answers are written in the order they are fed."""
    return sink if trace is None else TracingSink(sink, trace)


class TracingSender(SyncSender):
    """A :class:`~adapters.transport.http.SyncSender` that writes each exchange to a trace."""

    def __init__(self, inner: SyncSender, trace: TraceWriter, clock: typing.Callable[[], float]) -> None:
        super().__init__(
            inner.client,
            inner._token,
            base_url=inner.base_url,
            body_format=inner.body_format,
            timeout=inner.timeout,
            max_body=inner.max_body,
        )
        self.trace = trace
        self.clock = clock

    def send(self, request: HttpRequest, *, timeout: Any = None) -> HttpResponse:
        self.trace.learn_secrets(request)
        try:
            response = super().send(request, timeout=timeout)
        except TransportError as exc:
            self.trace.sent(self.clock(), request, None, str(exc))
            raise
        self.trace.sent(self.clock(), request, response)
        return response

    def perform(self, action: Action, *, timeout: Any = None) -> HttpResponse:
        with self.trace.acting(action):
            return super().perform(action, timeout=timeout)


class AsyncTracingSender(AsyncSender):
    """The asyncio twin of :class:`TracingSender`."""

    def __init__(self, inner: AsyncSender, trace: TraceWriter, clock: typing.Callable[[], float]) -> None:
        super().__init__(
            inner.client,
            inner._token,
            base_url=inner.base_url,
            body_format=inner.body_format,
            timeout=inner.timeout,
            max_body=inner.max_body,
        )
        self.trace = trace
        self.clock = clock

    async def send(self, request: HttpRequest, *, timeout: Any = None) -> HttpResponse:
        self.trace.learn_secrets(request)
        try:
            response = await super().send(request, timeout=timeout)
        except TransportError as exc:
            self.trace.sent(self.clock(), request, None, str(exc))
            raise
        self.trace.sent(self.clock(), request, response)
        return response

    async def perform(self, action: Action, *, timeout: Any = None) -> HttpResponse:
        with self.trace.acting(action):
            return await super().perform(action, timeout=timeout)


def traced_sender(sender: SyncSender, trace: TraceWriter | None, clock: typing.Callable[[], float]) -> SyncSender:
    return sender if trace is None else TracingSender(sender, trace, clock)


def async_traced_sender(
    sender: AsyncSender, trace: TraceWriter | None, clock: typing.Callable[[], float]
) -> AsyncSender:
    return sender if trace is None else AsyncTracingSender(sender, trace, clock)


__all__ = [
    "AsyncTracingSender",
    "TracingSender",
    "TracingSink",
    "async_traced_sender",
    "trace_sink",
    "traced_sender",
]

