"""The values a request and its response are described by, and the :class:`Secret` a credential travels as.

:class:`HttpRequest` and :class:`HttpResponse` are what crosses between the sans-IO codec and a
transport; a credential header's value is a :class:`Secret`, which never shows itself, and
:func:`loggable_url` is how a URL appears in logs and errors (query values hidden unless listed in
:data:`LOGGABLE_QUERY`). Apart from request building and from the response rules because the
transports, the trace and the simulator use these values without either.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from attrs import field, frozen

# --------------------------------------------------------------------------------
# secrets


class Secret:
    """A credential that never shows itself: ``repr`` and ``str`` are ``Secret('***')``.

    Equality compares the hidden values (so caches and tests work) without
    printing them; :meth:`reveal` is the one way to read it. Pickling is
    refused, because it would write the value somewhere the app did not choose.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("a Secret cannot be pickled")


def as_secret(value: Secret | str) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


# --------------------------------------------------------------------------------
# request and response values

HeaderValue = str | Secret
Headers = tuple[tuple[str, HeaderValue], ...]

#: Query parameters whose values are shown in logs and error messages; any
#: other value (an event href's ``key=...``) is replaced by ``***``.
LOGGABLE_QUERY: Final = frozenset(
    {"ack", "conferenceID", "type", "operationId", "callbackContext", "sessionContext", "endpointId"}
)


def loggable_url(url: str) -> str:
    """``url`` with query values outside :data:`LOGGABLE_QUERY` replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not even splittable (``http://[::1/x``): keep nothing after the path
        head, sep, _ = url.partition("?")
        return head + ("?***" if sep else "")
    if not parts.query:
        return url
    query = [(k, v if k in LOGGABLE_QUERY else "***") for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    # backslashreplace: a lone surrogate in a server's href must not make the error message raise
    encoded = urlencode(query, safe="*:@", errors="backslashreplace")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, encoded, ""))


@frozen
class HttpRequest:
    """One request, fully described. Credential header values are :class:`Secret`."""

    method: str
    url: str
    headers: Headers = ()
    body: bytes | None = field(default=None, repr=lambda b: "None" if b is None else f"<{len(b)} bytes>")

    def header(self, name: str) -> HeaderValue | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def wire_headers(self) -> list[tuple[str, str]]:
        """The headers as a transport must send them: the one place a secret is revealed."""
        return [(k, v.reveal() if isinstance(v, Secret) else v) for k, v in self.headers]


@frozen
class HttpResponse:
    """A response as the sans-IO layer reads it. The repr leaves the body out
    (a token endpoint's body *is* a token)."""

    status: int
    #: Header names lower-cased, in the order received.
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = field(default=b"", repr=lambda b: f"<{len(b)} bytes>")
    #: The URL that was requested.
    url: str = ""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def content_type(self) -> str:
        return self.header("content-type") or ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

