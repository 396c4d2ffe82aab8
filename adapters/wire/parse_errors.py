"""The errors of reading a body from the server, and the internal failure they are raised from.

:class:`ParseError` and its two kinds (:class:`EventParseError` for an event-channel response,
:class:`ResourceParseError` for a resource body) are what the codec's callers catch. ``_Fail`` is
what the walks raise at a JSON path before the entry point knows which kind to turn it into, and
``_kind`` names a JSON value's type in those messages. They sit apart from the event model and the
walk because every reader of the codec (events, resources, reasons, XML) raises them.
"""

from __future__ import annotations

from fsm.errors import CallFsmError


class ParseError(CallFsmError, ValueError):
    """A body from the server could not be read. ``where`` is a JSON path or an XML location."""

    def __init__(self, what: str, where: str, why: str) -> None:
        self.what = what
        self.where = where
        self.why = why
        super().__init__(f"{what}: {where}: {why}")


class EventParseError(ParseError):
    """An event-channel response is unreadable: nothing in it was applied.

    ``next_href``/``resume_href``/``resync_href`` are set when the envelope's
    links could be read before the error was found.
    """

    def __init__(
        self,
        where: str,
        why: str,
        *,
        next_href: str | None = None,
        resume_href: str | None = None,
        resync_href: str | None = None,
    ) -> None:
        self.next_href = next_href
        self.resume_href = resume_href
        self.resync_href = resync_href
        super().__init__("event response", where, why)


class ResourceParseError(ParseError):
    """A resource body (GET, 201 with a body) is unreadable."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__("resource", where, why)


class _Fail(Exception):
    """Internal: a shape error at a path; becomes an EventParseError with the links known so far."""

    def __init__(self, where: str, why: str) -> None:
        self.where = where
        self.why = why
        super().__init__(f"{where}: {why}")



