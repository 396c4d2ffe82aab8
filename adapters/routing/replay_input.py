"""Reading recordings for a replay: files and bytes to :class:`Record` values.

A file holds JSON Lines, a JSON array, one JSON document or raw XML
``<events>`` documents (:mod:`adapters.wire.recording` reads them as a stream,
at most :data:`~adapters.wire.recording.MAX_RECORD` bytes a record). Each value
becomes one :class:`Record`: an events document, a wrapped record
``{"t", "response", "content_type"}``, or a trace line
(:mod:`adapters.routing.trace`). The formats are described in
:mod:`adapters.routing.replay`; anything else is a :class:`ReplayInputError`
naming the file and line.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from typing import IO, Any, Final

from attrs import field, frozen

from adapters.wire.events import media_type
from adapters.wire.recording import RecordError, iter_values
from fsm.wire import json_kind

JSON_TYPE: Final = "application/json"
XML_TYPE: Final = "application/xml"
_RECORD_KEYS: Final = frozenset({"t", "response", "content_type"})


class ReplayInputError(RecordError):
    """The input cannot be read: not JSON, or not event-channel responses. Names the file and line."""


@frozen
class Record:
    """One recorded event-channel response."""

    body: bytes
    content_type: str = JSON_TYPE
    #: The recorder's time, if it gave one.
    t: float | None = None
    #: Where it was read (``file:line``).
    source: str | None = None
    #: The events document already decoded (then ``body`` is empty): a record is decoded once.
    document: Any = field(default=None, eq=False)
    #: A trace's call or request record (:mod:`adapters.routing.trace`): the app's own doing, not an answer.
    entry: Any = field(default=None, eq=False)




def read_records(data: bytes | str, name: str) -> list[Record]:
    """Every response of one recording in memory (small recordings, tests); see :func:`iter_records`."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return list(iter_records(io.BytesIO(raw), name))


def iter_records(stream: IO[bytes], name: str) -> Iterator[Record]:
    """The responses of one recording, read as they are needed; raises :class:`ReplayInputError`.

    JSON Lines, a JSON array, one JSON document or raw XML ``<events>``
    documents (:mod:`adapters.wire.recording`); at most
    :data:`~adapters.wire.recording.MAX_RECORD` bytes a record.
    """
    try:
        for value, line, raw_xml in iter_values(stream, name):
            where = f"{name}:{line}"
            if raw_xml:
                assert isinstance(value, bytes)
                yield Record(value, XML_TYPE, None, where)
            else:
                yield _record(value, where)
    except ReplayInputError:
        raise
    except RecordError as exc:
        raise ReplayInputError(str(exc)) from None


def _record(value: object, where: str) -> Record:
    if not isinstance(value, dict):
        raise ReplayInputError(
            f"{where}: not an events document: expected an object with _links and sender, got {json_kind(value)}"
        )
    if "response" in value and set(value) <= _RECORD_KEYS:
        return _wrapped(value, where)
    if "_links" in value or "sender" in value:
        return Record(b"", JSON_TYPE, None, where, document=value)
    if "kind" in value or "format" in value:
        return _trace_record(value, where)
    keys = ", ".join(sorted(map(str, value))) or "none"
    raise ReplayInputError(
        f"{where}: not an events document: an object with _links and sender, "
        f'or {{"t", "response"}}, was expected; its keys: {keys}'
    )


def _wrapped(value: dict[str, Any], where: str) -> Record:
    t = value.get("t")
    if t is not None and (isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t)):
        raise ReplayInputError(f"{where}: t must be a finite number (seconds), got {json_kind(t)}")
    content_type = value.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        raise ReplayInputError(f"{where}: content_type must be a string, got {json_kind(content_type)}")
    response = value["response"]
    if isinstance(response, dict):
        if content_type is None or media_type(content_type) == (JSON_TYPE, {}):
            return Record(b"", JSON_TYPE, None if t is None else float(t), where, document=response)
        # another media type or a charset: the parser judges the body as that type, as it would have come
        body = json.dumps(response).encode("utf-8")
        default = JSON_TYPE
    elif isinstance(response, str):
        # a lone surrogate survives: the parser is the one to judge the body
        body = response.encode("utf-8", "surrogatepass")
        default = XML_TYPE if response.lstrip().startswith("<") else JSON_TYPE
    else:
        raise ReplayInputError(
            f"{where}: response must be an events document (object) or a raw body (string), got {json_kind(response)}"
        )
    return Record(body, content_type or default, None if t is None else float(t), where)


def _trace_record(value: dict[str, Any], where: str) -> Record:
    """A trace line: its events answer as any wrapped record, or the call / request for the replay."""
    from adapters.routing import trace  # noqa: PLC0415 - only a trace needs it

    entry = trace.parse_entry(value, where)
    if isinstance(entry, trace.EventsEntry):
        wrapped = {"t": entry.t, "response": entry.response}
        if entry.content_type is not None:
            wrapped["content_type"] = entry.content_type
        return _wrapped(wrapped, where)
    return Record(b"", JSON_TYPE, getattr(entry, "t", None), where, entry=entry)


__all__ = ["JSON_TYPE", "XML_TYPE", "Record", "ReplayInputError", "iter_records", "read_records"]
