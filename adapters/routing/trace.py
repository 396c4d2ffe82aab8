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
"""

from __future__ import annotations

import contextvars
import inspect
import json
import math
import re
import threading
import typing
import weakref
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import Enum
from os import PathLike
from pathlib import Path
from typing import IO, Any, Final, Literal, TypeVar

import cattrs
from attrs import frozen

from adapters.wire.events import MAX_EVENTS_BODY, EventParseError, parse_events
from adapters.wire.recording import MAX_RECORD, RecordError
from adapters.wire.requests import HttpRequest, HttpResponse, Secret, loggable_url
from fsm.actions import (
    Action,
    Actions,
    DeleteSeries,
    DeleteSubMeetings,
    FetchResource,
    PostLink,
    PostRenegotiation,
    PropertyValue,
    StartOperation,
)
from fsm.model import FsmModel

FORMAT: Final = "callfsm-trace"
VERSION: Final = 1
#: Largest request or response body kept in a record (larger ones: their size only).
MAX_BODY: Final = 1024 * 1024
#: Records the in-memory trace (no file: the simulator fixture's) keeps, the newest.
MAX_BUFFERED: Final = 100_000
REDACTED: Final = "***"
#: Events answers held until fed (a channel has one or two out); past this, they are written as they came.
MAX_ARRIVED: Final = 16
#: Actions awaiting their request, at most (each is sent right after its call: a handful in practice).
MAX_OWNERS: Final = 10_000
R = TypeVar("R")
SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "x-access-token", "cookie", "set-cookie"})
#: JSON member names whose values are credentials (Huawei's ``accessToken``, ``appKey``, ``signature``...).
SECRET_MEMBER: Final = re.compile(r"token|secret|password|signature|appkey|app_key|credential", re.IGNORECASE)
#: How deep a JSON body is searched for credential members (bodies are a few levels deep).
MAX_REDACT_DEPTH: Final = 32

Role = Literal["client", "server"]


class TraceError(RecordError):
    """A trace line that is not a record of this format (names the file and line)."""


# -- the records ------------------------------------------------------------------------------------


@frozen
class Header:
    format: str
    version: int
    role: str = "client"


@frozen
class ModelRef:
    """Which model: its machine, and what finds it again (href once known, operation id before)."""

    machine: str
    href: str | None = None
    operation_id: str | None = None
    #: An invitation's kind (its rel: ``audioVideoInvitation``...), which a new one is made with.
    kind: str | None = None


@frozen
class RequestSent:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: str | None = None
    body_size: int = 0


@frozen
class ResponseReceived:
    status: int
    headers: list[tuple[str, str]]
    body: str | None = None
    body_size: int = 0


@frozen
class EventsEntry:
    t: float
    response: Any
    content_type: str | None = None
    kind: str = "events"


@frozen
class CallEntry:
    t: float
    model: ModelRef
    trigger: str
    args: dict[str, Any]
    kind: str = "call"


@frozen
class RequestEntry:
    t: float
    request: RequestSent
    response: ResponseReceived | None = None
    error: str | None = None
    model: ModelRef | None = None
    #: The action as performed (``{"type": "PostLink", ...}``), when a model asked for the request.
    action: dict[str, Any] | None = None
    kind: str = "request"


Entry = Header | EventsEntry | CallEntry | RequestEntry
_KINDS: Final[Mapping[str, type[Any]]] = {"events": EventsEntry, "call": CallEntry, "request": RequestEntry}
_ACTIONS: Final[Mapping[str, type[Any]]] = {
    cls.__name__: cls
    for cls in (PostLink, StartOperation, FetchResource, PostRenegotiation, DeleteSeries, DeleteSubMeetings)
}

converter = cattrs.Converter(forbid_extra_keys=True)
converter.register_structure_hook(Any, lambda value, _: value)


def _finite(value: object, _: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"t must be a finite number, got {value!r}")
    return float(value)


converter.register_structure_hook(float, _finite)


def _exactly(kind: type[Any]) -> Any:
    """A hook that takes a value of ``kind`` as it is and refuses any other (cattrs would convert ``5`` to ``"5"``)."""

    def hook(value: object, _: object) -> Any:
        if type(value) is not kind:
            raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


for _kind in (str, int, bool):
    converter.register_structure_hook(_kind, _exactly(_kind))


def _property_value(value: object, _: object) -> PropertyValue:
    """A body property's value (``extra``): a string, a boolean or an integer, as the wire has them."""
    if type(value) not in (str, bool, int):
        raise ValueError(f"a property value is a string, boolean or integer, got {type(value).__name__}")
    return typing.cast(PropertyValue, value)


converter.register_structure_hook(PropertyValue, _property_value)


def action_json(action: Action) -> dict[str, Any]:
    """An action as JSON data: its fields and ``type`` (its class name)."""
    data = converter.unstructure(action)
    return {"type": type(action).__name__, **data}


def action_from_json(data: Mapping[str, Any]) -> Action:
    """The action :func:`action_json` wrote; ``ValueError`` for anything else."""
    cls = _ACTIONS.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown action type {data.get('type')!r}; known: {', '.join(_ACTIONS)}")
    fields = {k: v for k, v in data.items() if k != "type"}
    for name in ("properties", "sub_meeting_ids"):
        if isinstance(fields.get(name), list):
            fields[name] = tuple(tuple(p) if isinstance(p, list) else p for p in fields[name])
    try:
        return typing.cast(Action, cls(**fields))
    except TypeError as exc:
        raise ValueError(f"{cls.__name__}: {exc}") from None


def parse_entry(value: Mapping[str, Any], where: str) -> Entry:
    """One trace line, decoded from JSON, as its record; :class:`TraceError` naming ``where`` otherwise."""
    try:
        if "format" in value:
            header = converter.structure(value, Header)
            if header.format != FORMAT:
                raise TraceError(f"{where}: not a callfsm trace (format {header.format!r})")
            if header.version != VERSION:
                raise TraceError(f"{where}: trace version {header.version} is not supported (this reads {VERSION})")
            return header
        cls = _KINDS.get(str(value.get("kind")))
        if cls is None:
            raise TraceError(f"{where}: unknown trace record kind {value.get('kind')!r}; known: {', '.join(_KINDS)}")
        entry: Entry = converter.structure(value, cls)
    except TraceError:
        raise
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise TraceError(f"{where}: not a trace record: {_why(exc)}") from None
    if isinstance(entry, RequestEntry) and entry.action is not None:
        try:
            action_from_json(entry.action)
        except ValueError as exc:
            raise TraceError(f"{where}: {exc}") from None
    return entry


def _why(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc)) or str(exc)
    return str(exc)


# -- redaction ----------------------------------------------------------------------------------------


def redact_headers(headers: Sequence[tuple[str, str | Secret]]) -> list[tuple[str, str]]:
    return [(k, REDACTED if k.lower() in SECRET_HEADERS or isinstance(v, Secret) else v) for k, v in headers]


def _redact_members(value: Any, depth: int = 0) -> tuple[Any, bool]:
    if depth > MAX_REDACT_DEPTH:
        return value, False
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and SECRET_MEMBER.search(key) and item not in (None, ""):
                out[key], changed = REDACTED, True
            else:
                out[key], inner = _redact_members(item, depth + 1)
                changed = changed or inner
        return out, changed
    if isinstance(value, list):
        items = [_redact_members(item, depth + 1) for item in value]
        return [i for i, _ in items], any(c for _, c in items)
    return value, False


def _body_text(body: bytes | None, content_type: str, limit: int) -> tuple[str | None, int]:
    """The body as text (UTF-8, credential members redacted), or ``None`` above ``limit``; and its size."""
    if body is None:
        return None, 0
    size = len(body)
    if size > limit:
        return None, size
    text = body.decode("utf-8", "replace")
    looks_json = "json" in content_type.lower() or (not content_type and text.lstrip()[:1] in ("{", "["))
    if looks_json and text.strip():
        try:
            value, changed = _redact_members(json.loads(text))
        except (ValueError, RecursionError):
            return text, size
        if changed:
            return json.dumps(value, ensure_ascii=False), size
    return text, size


# -- what a call's arguments were -------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _jsonable(value: object) -> Any:
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def call_args(model: FsmModel, trigger: str, actions: Actions) -> dict[str, Any]:
    """The trigger's arguments (``now`` aside) as far as its actions and the model keep them (module doc)."""
    method = getattr(type(model), trigger, None)
    if method is None:
        return {}
    action = actions[0] if actions else None
    properties: dict[str, Any] = dict(getattr(action, "properties", ()) or ())
    rules = getattr(model, "rules", None)
    args: dict[str, Any] = {}
    for name, param in inspect.signature(method).parameters.items():
        if name in ("self", "now") or param.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        if action is not None and name in ("href", "operation_id", "sdp") and hasattr(action, name):
            value = getattr(action, name)
        elif name == "to" and rules is not None and rules.target_property in properties:
            value = properties[rules.target_property]
        elif _camel(name) in properties:
            value = properties[_camel(name)]
        elif name in ("deadline", "lobby_deadline"):
            value = getattr(model, name, None)
        else:
            continue
        if value is not None and value != param.default:
            args[name] = _jsonable(value)
    return args


def local_trigger(model: FsmModel, name: str) -> typing.Callable[..., Actions]:
    """``model``'s local trigger ``name`` (a call in a trace may name no other); ``ValueError`` otherwise."""
    local = {str(t.value) for t in model.DEFINITION.local_triggers}
    if name not in local:
        raise ValueError(f"{name!r} is not a local trigger of {model.machine} (those: {', '.join(sorted(local))})")
    return typing.cast(typing.Callable[..., Actions], getattr(model, name))


def call_kwargs(model: FsmModel, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """A call's JSON arguments as the trigger's typed keywords (enums back from their values); a value that
    does not fit its parameter's type is a ``ValueError``, so the trigger never sees it."""
    method = getattr(type(model), name)
    hints = typing.get_type_hints(method)
    required = [
        p.name
        for p in inspect.signature(method).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty and p.name != "now"
    ]
    missing = [p for p in required if p not in args]
    if missing:
        raise ValueError(f"{model.machine}.{name} needs {', '.join(missing)}, which the call does not give")
    out: dict[str, Any] = {}
    for key, value in args.items():
        if key == "now" or key not in hints:
            raise ValueError(f"{model.machine}.{name} takes no argument {key!r}")
        if type(value) in (str, int, float, bool) and type(value) in (typing.get_args(hints[key]) or (hints[key],)):
            out[key] = value  # a plain value the parameter takes as it is (``importance`` by its wire name)
            continue
        try:
            out[key] = converter.structure(value, hints[key])
        except Exception as exc:
            why = f"{key}={value!r} does not fit {hints[key]}: {_why(exc)}"
            raise ValueError(f"{model.machine}.{name}: {why}") from None
    return out


def model_ref(model: FsmModel) -> ModelRef:
    kind = getattr(model, "kind", None)
    href = getattr(model, "href", None)
    operation_id = getattr(model, "operation_id", None)
    return ModelRef(
        model.machine,
        href if isinstance(href, str) else None,
        operation_id if isinstance(operation_id, str) else None,
        kind.value if isinstance(kind, Enum) else None,
    )


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
    "MAX_BODY",
    "VERSION",
    "CallEntry",
    "EventsEntry",
    "Header",
    "ModelRef",
    "RequestEntry",
    "RequestSent",
    "ResponseReceived",
    "TraceError",
    "TraceWriter",
    "action_from_json",
    "action_json",
    "call_args",
    "parse_entry",
]
