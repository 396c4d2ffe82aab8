"""The P-GET's query parameters and the transport timeout they call for.

``low``, ``medium``, ``timeout`` and ``priority`` (docs/protocol.md §2.2) are checked
against their documented ranges when they are made, and set on a URL without
touching the rest of its query (``ack`` above all). Separate from the cursor
because they are plain values an app builds and a client stores, with no
notion of answers or retries.
"""

from __future__ import annotations

from typing import Final

import httpx
from attrs import field, frozen

#: How long the transport waits for a P-GET answer. The server releases an
#: empty answer after its ``timeout`` parameter (default 180 s, docs/protocol.md §2.2);
#: the read timeout must be longer, or every quiet period would look like a
#: network error.
PGET_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=240.0, write=10.0, pool=10.0)

#: The documented ranges of the P-GET's hold times, in seconds (docs/protocol.md §2.2).
PARAMETER_RANGES: Final = {"low": (5, 1800), "medium": (5, 1800), "timeout": (180, 1800)}


class PGetParameterError(ValueError):
    """A P-GET query parameter outside its documented range (nothing is sent)."""


def _seconds(name: str, value: object) -> int | None:
    if value is None:
        return None
    low, high = PARAMETER_RANGES[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PGetParameterError(
            f"P-GET parameter {name} must be a whole number of seconds from {low} to {high}, got {value!r}"
        )
    return value


def _low(value: object) -> int | None:
    return _seconds("low", value)


def _medium(value: object) -> int | None:
    return _seconds("medium", value)


def _timeout(value: object) -> int | None:
    return _seconds("timeout", value)


def _priority(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PGetParameterError(f"P-GET parameter priority must be an integer, got {value!r}")
    return value


@frozen
class PGetParameters:
    """``low``, ``medium`` (hold times of low and medium priority events), ``timeout`` (when an empty answer
    is released) and ``priority`` (which of two P-GETs with the same ack wins); ``None`` leaves the server's
    default (15 s, 5 s, 180 s, 0). Refused with :class:`PGetParameterError` outside the documented ranges."""

    low: int | None = field(default=None, converter=_low)
    medium: int | None = field(default=None, converter=_medium)
    timeout: int | None = field(default=None, converter=_timeout)
    priority: int | None = field(default=None, converter=_priority)

    def query(self) -> list[tuple[str, str]]:
        """The parameters that are set, in the documentation's order."""
        values = (("low", self.low), ("medium", self.medium), ("timeout", self.timeout), ("priority", self.priority))
        return [(name, str(value)) for name, value in values if value is not None]


def with_parameters(url: str, parameters: list[tuple[str, str]]) -> str:
    """``url`` with ``parameters`` set: the query's other pieces (``ack`` above all) kept byte for byte,
    a piece naming one of ``parameters`` replaced."""
    if not parameters:
        return url
    head, sep, fragment = url.partition("#")
    path, _, query = head.partition("?")
    names = {name for name, _ in parameters}
    kept = [piece for piece in query.split("&") if piece and piece.split("=", 1)[0] not in names]
    pieces = kept + [f"{name}={value}" for name, value in parameters]
    return f"{path}?{'&'.join(pieces)}" + (sep + fragment if sep else "")


def read_timeout_for(timeout: httpx.Timeout | float, parameters: PGetParameters | None) -> httpx.Timeout | float:
    """The transport timeout, its read part grown past the P-GET's own ``timeout`` when that is longer."""
    if parameters is None or parameters.timeout is None:
        return timeout
    needed = parameters.timeout + 60.0
    if isinstance(timeout, httpx.Timeout):
        if timeout.read is not None and timeout.read < needed:
            return httpx.Timeout(connect=timeout.connect, read=needed, write=timeout.write, pool=timeout.pool)
        return timeout
    return max(float(timeout), needed)
