"""The trace's records: one attrs class per line kind, the cattrs converter that reads them, and actions as JSON.

:mod:`adapters.routing.trace` writes these records and :mod:`adapters.routing.replay` reads them; both
meet here, so that the format (its header, its record kinds, how strictly a line is validated) is
defined once and apart from the writer's redaction and threading.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from typing import Any, Final, Literal

import cattrs
from attrs import frozen

from adapters.wire.recording import RecordError
from fsm.actions import (
    Action,
    DeleteSeries,
    DeleteSubMeetings,
    FetchResource,
    PostLink,
    PostRenegotiation,
    PropertyValue,
    StartOperation,
)

FORMAT: Final = "callfsm-trace"
VERSION: Final = 1

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



__all__ = [
    "FORMAT",
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
    "action_from_json",
    "action_json",
    "converter",
    "parse_entry",
]
