"""Traces: one JSON Lines format for what an application (or the simulator) saw and did.

Theory of operation
-------------------
An event stream alone cannot be replayed to the live end state: the app's
own requests (a cancel, an admit, a dismiss) and their responses move the
machines too, and they are not events. A trace holds both, in the order they
happened, each with its time ``t`` (seconds on the writer's clock):

- a header line ``{"format": "callfsm-trace", "version": 1, "role": ...}``
  (``role`` is ``client``, or ``server`` for the simulator's view);
- ``{"kind": "events", ...}``: an event-channel answer as received (the
  document, or the raw body as a string, and its ``content_type``), exactly
  what ``callfsm replay`` reads from a channel-only stream;
- ``{"kind": "call", ...}``: a local trigger the app fired on a model
  (``model``: machine, href, operation id, invitation kind; ``trigger``: its
  name; ``args``: its JSON-able arguments, without ``now``);
- ``{"kind": "request", ...}``: one HTTP exchange: the model and the action
  it performs (``null`` for requests no machine asked for: the application's
  lifecycle, or any request the simulator served), the request (method, URL,
  headers, body) and the response (status, headers, body), or the ``error``
  when none came.

Every record is a cattrs-structured attrs value (:data:`converter`); reading
validates each line against them (:func:`parse_entry`).

Arguments of a call. The client sees a trigger's effect, not its call: the
trigger is the model's newest local step since the client last looked, and
its arguments are read back from what the trigger returned and kept (the
action's ``href``/``operation_id``/``sdp``, the body property of the same
name in the wire's camelCase, the invitation's target property for ``to``,
the model's own deadline attributes) [I]. An argument found nowhere is left
out, so its default applies on replay; the request record still shows what
was sent.

Redaction. Header values of ``Authorization``, ``Proxy-Authorization``,
``X-Access-Token``, ``Cookie`` and ``Set-Cookie`` are ``***``; JSON body
members whose name says token, key, secret, password or signature are
``***``; URLs are written as :func:`adapters.wire.requests.loggable_url` shows
them; and every credential the writer saw go out (the bearer token, an
access token) is replaced by ``***`` wherever it appears in a line.

Bounds. A body above :data:`MAX_BODY` bytes (an events answer above
:data:`adapters.wire.events.MAX_EVENTS_BODY`) is written as its size only
(``body_size``, ``body: null``), so a record stays below
:data:`adapters.wire.recording.MAX_RECORD`; the in-memory trace of the simulator
fixture keeps at most :data:`MAX_BUFFERED` records.

Order. Records are written in the order the app processed them. A request
is written when its response comes (or its error). An events answer is
written when the channel feeds it to the dispatcher (:class:`TracingSink`),
not when it arrives: the asyncio client, and the sync one with
``prefetch``, send the next P-GET before the previous answer's requests are
done, and its answer may come back first; written on arrival, a replay would
see it too early. An answer the channel cannot read (it skips it) is written
as a plain exchange, and a replay skips it too.

This module is the writer. The records and the converter that reads them are in
:mod:`.trace_format`, what is blanked out in :mod:`.trace_redaction`, a call's
arguments (both ways) in :mod:`.trace_calls`; their public names are importable
from here too.
"""

from __future__ import annotations

import contextvars
import json
import threading
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from adapters.routing.trace_calls import call_args, call_kwargs, local_trigger, model_ref
from adapters.routing.trace_format import (
    FORMAT,
    VERSION,
    CallEntry,
    Entry,
    EventsEntry,
    Header,
    ModelRef,
    RequestEntry,
    RequestSent,
    ResponseReceived,
    Role,
    TraceError,
    action_from_json,
    action_json,
    converter,
    parse_entry,
)
from adapters.routing.trace_redaction import (
    MAX_REDACT_DEPTH,
    REDACTED,
    SECRET_HEADERS,
    SECRET_MEMBER,
    _body_text,
    redact_headers,
)
from adapters.wire.events import MAX_EVENTS_BODY, EventParseError, parse_events
from adapters.wire.recording import MAX_RECORD
from adapters.wire.requests import HttpRequest, HttpResponse, Secret, loggable_url
from fsm.actions import Action, Actions
from fsm.model import FsmModel

#: Largest request or response body kept in a record (larger ones: their size only).
MAX_BODY: Final = 1024 * 1024
#: Records the in-memory trace (no file: the simulator fixture's) keeps, the newest.
MAX_BUFFERED: Final = 100_000
#: Events answers held until fed (a channel has one or two out); past this, they are written as they came.
MAX_ARRIVED: Final = 16
#: Actions awaiting their request, at most (each is sent right after its call: a handful in practice).
MAX_OWNERS: Final = 10_000
R = TypeVar("R")

# -- writing ----------------------------------------------------------------------------------------------

#: The model and action a request is sent for (set around a sender's ``perform``).
_ACTING: contextvars.ContextVar[tuple[FsmModel, Action] | None] = contextvars.ContextVar("callfsm_trace", default=None)

TraceTarget = str | PathLike[str] | IO[str]


class TraceWriter:
    """Writes a trace: to a file (a path: created, closed by :meth:`close`), a text stream, or memory.

    Thread-safe: the simulator's handlers and a sync client's prefetch thread write too.
    """

    def __init__(self, target: TraceTarget | None = None, *, role: Role = "client", max_body: int = MAX_BODY) -> None:
        self.role = role
        self.max_body = max_body
        self._lock = threading.Lock()
        self._own = False
        self._stream: IO[str] | None = None
        self._buffer: deque[str] | None = None
        if target is None:
            self._buffer = deque(maxlen=MAX_BUFFERED)
        elif isinstance(target, str | PathLike):
            self._stream = open(target, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
            self._own = True
        else:
            self._stream = target
        self._secrets: set[str] = set()
        #: model id -> (the model, how many of its history steps were looked at)
        self._seen: dict[int, tuple[weakref.ref[FsmModel], int]] = {}
        self._owners: dict[int, FsmModel] = {}
        #: Events answers received, not yet fed (written when the channel feeds them: :class:`TracingSink`).
        self._arrived: deque[HttpResponse] = deque()
        #: A :class:`TracingSink` tells when answers are fed (else they are written as they arrive).
        self.fed_by_sink = False
        self._header = self._line(converter.unstructure(Header(FORMAT, VERSION, role)))
        self._emit(self._header)

    # -- records

    def events(self, t: float, response: HttpResponse) -> None:
        """An event-channel answer as received."""
        body = response.body
        content_type = response.content_type or None
        document: Any
        if len(body) > MAX_EVENTS_BODY:
            document = None
        else:
            text = body.decode("utf-8", "replace")
            document = text
            if "json" in (content_type or "json").lower():
                try:
                    decoded = json.loads(text)
                except (ValueError, RecursionError):
                    decoded = None
                if isinstance(decoded, dict):
                    document, content_type = decoded, None
        if document is None:  # too large to keep: its size is said, and replay reports it unreadable
            document = f"(an events answer of {len(body)} bytes, above the trace's limit)"
        self.write(EventsEntry(t, document, content_type))

    def call(self, model: FsmModel, actions: Actions, t: float) -> None:
        """The local triggers ``model`` took since last seen (the app's calls), and whose ``actions`` these are."""
        if len(self._owners) > MAX_OWNERS:  # actions never sent (their perform raised first) are not kept forever
            self._owners.clear()
        for action in actions:
            self._owners[id(action)] = model
        history = model.history
        seen = self._seen.get(id(model))
        start = seen[1] if seen is not None and seen[0]() is model else max(len(history) - 1, 0)
        local = model.DEFINITION.local_triggers
        for step in history[min(start, len(history)) :]:
            if step.trigger in local:
                name = str(step.trigger.value)
                self.write(CallEntry(step.at, model_ref(model), name, call_args(model, name, actions)))
        ident = id(model)
        self._seen[ident] = (weakref.ref(model, lambda _: self._seen.pop(ident, None)), len(history))

    def exchange(
        self,
        t: float,
        request: HttpRequest,
        response: HttpResponse | None,
        *,
        error: str | None = None,
        model: FsmModel | None = None,
        action: Action | None = None,
    ) -> None:
        self.write(
            RequestEntry(
                t,
                self.request(
                    request.method, request.url, request.headers, request.body, request.header("content-type")
                ),
                None if response is None else self.response(response.status, response.headers, response.body),
                error,
                None if model is None else model_ref(model),
                None if action is None else action_json(action),
            )
        )

    def request(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str | Secret]],
        body: bytes | None,
        content_type: object = None,
    ) -> RequestSent:
        text, size = _body_text(body, content_type if isinstance(content_type, str) else "", self.max_body)
        return RequestSent(method, loggable_url(url), redact_headers(headers), text, size)

    def response(self, status: int, headers: Sequence[tuple[str, str]], body: bytes) -> ResponseReceived:
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        text, size = _body_text(body, content_type, self.max_body)
        return ResponseReceived(status, redact_headers(headers), text, size)

    # -- plumbing

    def learn_secret(self, value: str | Secret | None) -> None:
        """A credential to replace by ``***`` wherever it shows (the bearer token, an access token)."""
        if isinstance(value, Secret):
            value = value.reveal()
        if not value:
            return
        for part in (value, value.split(" ", 1)[-1]):
            if len(part) >= 6:  # a very short value would also blank out ordinary text
                self._secrets.add(part)

    def learn_secrets(self, request: HttpRequest) -> None:
        for name, value in request.headers:
            if name.lower() in SECRET_HEADERS or isinstance(value, Secret):
                self.learn_secret(value)

    @contextmanager
    def acting(self, action: Action) -> Iterator[None]:
        """Requests sent inside belong to ``action`` and its model (the one :meth:`call` named)."""
        model = self._owners.pop(id(action), None)
        token = _ACTING.set(None if model is None else (model, action))
        try:
            yield
        finally:
            _ACTING.reset(token)

    def sent(self, t: float, request: HttpRequest, response: HttpResponse | None, error: str | None = None) -> None:
        """What a traced sender saw: an action's exchange, an events answer, or any other exchange."""
        acting = _ACTING.get()
        if acting is not None:
            self.exchange(t, request, response, error=error, model=acting[0], action=acting[1])
        elif response is not None and is_events_answer(request, response):
            if not self.fed_by_sink:
                self.events(t, response)
                return
            self._arrived.append(response)
            while len(self._arrived) > MAX_ARRIVED:  # a channel that never feeds: written as they came
                self.events(t, self._arrived.popleft())
        else:
            self.exchange(t, request, response, error=error)

    def delivered(self, now: float) -> None:
        """The channel feeds the oldest events answer received: it is written now, in processing order."""
        if self._arrived:
            self.events(now, self._arrived.popleft())

    def write(self, entry: Entry) -> None:
        self._emit(self._line(converter.unstructure(entry)))

    def _line(self, data: Any) -> str:
        line = self._redacted(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        if len(line.encode("utf-8")) > MAX_RECORD and isinstance(data, dict):
            # bodies of escaped control characters can grow six-fold: the record keeps their sizes only
            for part in ("request", "response"):
                if isinstance(data.get(part), dict):
                    data[part]["body"] = None
            if data.get("kind") == "events":
                data["response"] = "(an events answer above the trace's limit)"
            line = self._redacted(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        return line

    def _redacted(self, line: str) -> str:
        for secret in self._secrets:
            for form in (secret, json.dumps(secret, ensure_ascii=False)[1:-1]):
                line = line.replace(form, REDACTED)
        return line

    def _emit(self, line: str) -> None:
        with self._lock:
            if self._buffer is not None:
                self._buffer.append(line)
            elif self._stream is not None:
                self._stream.write(line + "\n")
                self._stream.flush()

    def lines(self) -> list[str]:
        """The in-memory trace (header first)."""
        with self._lock:
            body = list(self._buffer or ())
        return body if body and body[0] == self._header else [self._header, *body]

    def dump(self, path: str | PathLike[str]) -> Path:
        """Write the in-memory trace to ``path`` (the ``ucwa_simulator`` fixture's ``write_trace``)."""
        target = Path(path)
        target.write_text("".join(line + "\n" for line in self.lines()), encoding="utf-8")
        return target

    def close(self) -> None:
        with self._lock:
            if self._own and self._stream is not None:
                self._stream.close()
            self._stream = None


def is_events_answer(request: HttpRequest, response: HttpResponse) -> bool:
    """A P-GET's answer the channel will feed: a 200 to a GET that reads as an events response (links included).

    An answer the channel cannot read is skipped there, and written as a plain exchange here.
    """
    if request.method != "GET" or response.status != 200:
        return False
    try:
        parse_events(response.body, response.content_type)
    except (EventParseError, ValueError):
        return False
    return True


def open_trace(target: TraceTarget | TraceWriter | None, role: Role = "client") -> TraceWriter | None:
    if target is None or isinstance(target, TraceWriter):
        return target
    return TraceWriter(target, role=role)


__all__ = [
    "FORMAT",
    "MAX_ARRIVED",
    "MAX_BODY",
    "MAX_BUFFERED",
    "MAX_OWNERS",
    "MAX_REDACT_DEPTH",
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_MEMBER",
    "VERSION",
    "CallEntry",
    "Entry",
    "EventsEntry",
    "Header",
    "ModelRef",
    "RequestEntry",
    "RequestSent",
    "ResponseReceived",
    "Role",
    "TraceError",
    "TraceTarget",
    "TraceWriter",
    "action_from_json",
    "action_json",
    "call_args",
    "call_kwargs",
    "converter",
    "is_events_answer",
    "local_trigger",
    "model_ref",
    "open_trace",
    "parse_entry",
    "redact_headers",
]
