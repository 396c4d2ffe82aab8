"""The origin policy: a credential goes only to the origin (scheme, host, port) it was given for.

:func:`resolve` is the one place an href becomes a URL, and :func:`check_origin` the one origin check;
both refuse any other origin with :class:`OriginError` before a request exists. URLs are parsed with
httpx, the parser of the transport that sends them, so the origin checked is the origin connected to
(two parsers can disagree on ``a\\@b``, user info, odd ports); nothing is sent from here. Apart from
request building because every client, the event channel and the snapshot restore resolve hrefs.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urljoin

import httpx

from adapters.wire.http_values import loggable_url


# RequestError is here, not with request building, because OriginError is one: the policy needs nothing above it.
class RequestError(ValueError):
    """An action cannot be expressed as a request (nothing is sent)."""


class OriginError(RequestError):
    """An href leads off the origin the credentials belong to: nothing is sent, least of all the token.

    ``url`` (query values hidden) is where the href led; ``allowed`` is the one origin allowed.
    """

    def __init__(self, url: str, allowed: str, source: str = "href") -> None:
        self.url = loggable_url(url)
        self.allowed = allowed
        self.source = source
        super().__init__(f"{source} {self.url!r} is not on {allowed}, the origin the credentials belong to: refused")


#: The port a scheme implies when the URL names none (RFC 6454: the origin is scheme, host, port).
DEFAULT_PORTS: Final = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def origin(url: str) -> Origin | None:
    """``(scheme, host, port)`` of an absolute http(s) ``url``, lower-cased, the port made explicit;
    ``None`` for anything else (relative, another scheme, unparseable, a port out of range).

    Parsed by httpx, the parser of the transport that sends the request: a URL two parsers read
    differently (``a\\@b``, user info, odd ports) is judged by where the request would really go.
    """
    try:
        parsed = httpx.URL(url)
        scheme, host, port = parsed.scheme.lower(), parsed.host.lower(), parsed.port
    except (httpx.InvalidURL, ValueError, TypeError):
        return None
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return (scheme, host, DEFAULT_PORTS[scheme] if port is None else port)


def show_origin(found: Origin | None) -> str:
    return "(none)" if found is None else f"{found[0]}://{found[1]}:{found[2]}"


def check_origin(url: str, base_url: str, source: str = "href") -> str:
    """``url`` when it is on ``base_url``'s origin; else :class:`OriginError`. The one origin check:
    every request that carries a credential is built from :func:`resolve` or passes here."""
    allowed = origin(base_url)
    if allowed is None or origin(url) != allowed:
        raise OriginError(url, show_origin(allowed), source)
    return url


def resolve(base_url: str, href: str, source: str = "href") -> str:
    """``href`` resolved against ``base_url``, refused with :class:`OriginError` unless it stays on
    ``base_url``'s origin (scheme, host, port). An href comes from the server, an event, a webhook
    callback or a snapshot someone may have edited; the request built from it carries the token."""
    try:
        url = urljoin(base_url, href)
    except ValueError:  # an unbalanced IPv6 bracket: no URL at all, so on no allowed origin
        raise OriginError(href, show_origin(origin(base_url)), source) from None
    return check_origin(url, base_url, source)

