"""RFC 2397 ``data:`` URIs, where UCWA puts content in a link's href (docs/protocol.md §6).

``mediaOffer``, ``mediaAnswer``, ``customContent`` and ``message`` are links
whose href is the content itself: ``data:application/sdp;base64,...`` in the
documentation's samples, ``data:text/plain;charset=utf-8,Hello%20there``
URL-encoded, or a plain ``data:foo/foo,Text`` in recorded Trusted Application
API traffic. :func:`decode` reads all three.

Hostile by default: the href comes from the server. :func:`decode` never
raises; a bad URI (no comma, bad base64, a wrong type, too large) comes back
as :class:`BadDataUri`, with the href kept (cut to :data:`KEEP_HREF`
characters) and why it was refused. The decoded size is bounded by
:data:`MAX_DATA_BYTES` before anything is decoded (base64 is 3/4 of its text,
percent-escapes at most 1/3).

Why the standard library: ``urllib.request``'s ``DataHandler`` parses the same
grammar but raises on bad input, sits next to the network opener (a href that is
no ``data:`` URI would be fetched) and bounds nothing; the ``python-datauri``
package raises too and is another dependency. ``urllib.parse.unquote_to_bytes``
and ``base64.b64decode(validate=True)`` are the parts needed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Final
from urllib.parse import unquote, unquote_to_bytes

from attrs import frozen

from fsm.wire import bare_rel

#: Largest decoded content accepted, in bytes (an SDP offer is a few KiB).
MAX_DATA_BYTES: Final = 256 * 1024
#: Characters of a refused href kept in :class:`BadDataUri` (enough to recognise it in a report).
KEEP_HREF: Final = 200
#: The link rels whose href is a data: URI (docs/protocol.md §6), compared without the SaaS prefix.
CONTENT_RELS: Final = frozenset({"mediaOffer", "mediaAnswer", "customContent", "message"})

_DEFAULT_TYPE: Final = "text/plain"
_DEFAULT_CHARSET: Final = "US-ASCII"  # RFC 2397 §2: "text/plain;charset=US-ASCII" when none is given


@frozen
class DataUri:
    """A decoded ``data:`` URI."""

    #: Lower-cased media type; ``text/plain`` when the URI names none (RFC 2397 §2).
    media_type: str
    #: The ``;name=value`` parameters, names lower-cased, values as written (percent-decoded).
    parameters: tuple[tuple[str, str], ...]
    data: bytes
    #: True when the URI said ``;base64``.
    base64: bool

    @property
    def charset(self) -> str:
        for name, value in self.parameters:
            if name == "charset":
                return value
        return _DEFAULT_CHARSET if self.media_type == _DEFAULT_TYPE else "utf-8"

    def text(self) -> str | None:
        """The content as text in its charset, or ``None`` when it does not decode (or the charset is unknown)."""
        try:
            return self.data.decode(self.charset)
        except (LookupError, UnicodeDecodeError):
            return None


@frozen
class BadDataUri:
    """A href that was meant to be a ``data:`` URI and is not one that can be read: kept, with why."""

    href: str
    why: str


def _bad(href: str, why: str) -> BadDataUri:
    return BadDataUri(href[:KEEP_HREF], why)


def decode(href: object, *, limit: int = MAX_DATA_BYTES) -> DataUri | BadDataUri:
    """``href`` decoded as an RFC 2397 ``data:`` URI. Never raises."""
    if not isinstance(href, str):
        return BadDataUri(repr(href)[:KEEP_HREF], f"a data: URI is a string, not {type(href).__name__}")
    if href[:5].lower() != "data:":
        return _bad(href, "not a data: URI")
    header, comma, payload = href[5:].partition(",")
    if not comma:
        return _bad(href, "no comma between the media type and the data")
    parts = header.split(";")
    is_base64 = parts[-1].strip().lower() == "base64"
    if is_base64:
        parts = parts[:-1]
    media_type = parts[0].strip().lower() or _DEFAULT_TYPE
    if "/" not in media_type:
        return _bad(href, f"media type {media_type[:40]!r} is not type/subtype")
    parameters: list[tuple[str, str]] = []
    for part in parts[1:]:
        name, equals, value = part.partition("=")
        if not equals or not name.strip():
            return _bad(href, f"parameter {part[:40]!r} is not name=value")
        parameters.append((name.strip().lower(), unquote(value.strip())))
    if is_base64:
        if len(payload) // 4 * 3 > limit:
            return _bad(href, f"more than {limit} bytes once decoded")
        text = unquote(payload) if "%" in payload else payload  # a URL-encoded base64 payload (+, /, =)
        text = "".join(text.split())
        text += "=" * (-len(text) % 4) if len(text) % 4 != 1 else ""  # padding left out is unambiguous
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            return _bad(href, f"bad base64 ({exc})")
    else:
        if len(payload) - 2 * payload.count("%") > limit:
            return _bad(href, f"more than {limit} bytes once decoded")
        try:
            data = unquote_to_bytes(payload)
        except (TypeError, ValueError) as exc:  # a lone surrogate cannot be encoded
            return _bad(href, f"bad percent-encoding ({type(exc).__name__})")
    if len(data) > limit:
        return _bad(href, f"more than {limit} bytes once decoded")
    return DataUri(media_type, tuple(parameters), data, is_base64)


def content_links(resource: Mapping[str, object], *, limit: int = MAX_DATA_BYTES) -> dict[str, DataUri | BadDataUri]:
    """The decoded ``data:`` hrefs of ``resource``'s content links (:data:`CONTENT_RELS`), by rel as written.

    ``resource`` is the JSON shape (from JSON or XML). A content link whose href is an
    ordinary URL is left out: the content is then a resource to GET. Never raises.
    """
    found: dict[str, DataUri | BadDataUri] = {}
    links = resource.get("_links")
    if not isinstance(links, Mapping):
        return found
    for rel, value in links.items():
        if not isinstance(rel, str) or bare_rel(rel) not in CONTENT_RELS:
            continue
        link = value[0] if isinstance(value, list) and value else value
        href = link.get("href") if isinstance(link, Mapping) else None
        if isinstance(href, str) and href[:5].lower() != "data:":
            continue
        found[rel] = decode(href, limit=limit)
    return found
