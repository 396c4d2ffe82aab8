"""Sans-IO requests: fsm actions in, request descriptions out; responses in, triggers out.

Theory of operation
-------------------
A machine's local trigger returns frozen actions (:mod:`fsm.actions`). This
module turns each action into an :class:`HttpRequest` (method, absolute URL,
headers, body bytes) and, once a transport has sent it, turns the
:class:`HttpResponse` back into the trigger the machine needs:

============================  ==========================================================
response                      trigger
============================  ==========================================================
``201`` with ``Location``     ``model.created(href=Location)``
other ``2xx``                 ``model.request_succeeded()``
``4xx`` / ``5xx``             a typed :class:`~adapters.wire.ucwa_errors.UcwaError` (status,
                              code, subcode) and ``model.request_failed(reason=...)``
``409`` Conflict/AlreadyExists  on a renegotiation offer: the collision (at most one
                              renegotiation in flight, docs/protocol.md §4)
============================  ==========================================================

Nothing here performs I/O, reads a clock or logs a credential: a bearer token
enters as a :class:`Secret` and stays one inside the request description
(``repr`` shows ``Secret('***')``); only :meth:`HttpRequest.wire_headers`,
called by a transport at the last moment, reveals it.

Max lengths (``operationId`` 50, ``subject`` 250...) are checked by the fsm
triggers before an action exists (:class:`fsm.errors.InvalidInput`), so a
request for an over-long value is never built. This module checks nothing of
the kind again; it does refuse an action it cannot express (a Huawei action
without an access token, for instance) with :class:`RequestError`.

Origins. A credential goes only to the origin (scheme, host, port) of the
``base_url`` it was given for: the application's URL for UCWA, the
configured API host for Huawei. :func:`resolve` is the one place an href
becomes a URL, and it refuses any other origin with :class:`OriginError`,
whatever the href came from; the senders (:mod:`adapters.transport.http`) check again
before a credential header leaves.

Choices where the docs are silent ([U]):

- ``Location`` is passed to ``created`` exactly as the server wrote it (like
  event hrefs, which are compared as given), not resolved to an absolute URL.
- A ``201`` without ``Location`` drives nothing: the operation's ``started``
  event carries the href anyway; the outcome is :class:`Unexpected`.
- ``acceptWithAnswer`` (an SDP body): the link's properties
  (``sessionContext``) travel as query parameters, as the docs describe them.
- A ``FetchResource`` answered ``200`` becomes ``completed`` (the embedded
  state is final) or ``updated`` on an invitation-like model; a failed GET
  drives nothing (the resource's own events still will).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from attrs import field, frozen

from adapters.wire import bodies
from adapters.wire.bodies import BodyFormat
from adapters.wire.events import ParseError, parse_resource, representation_of
from adapters.wire.ucwa_errors import UcwaError, parse_error
from fsm.actions import (
    Action,
    Actions,
    DeleteSeries,
    DeleteSubMeetings,
    FetchResource,
    PostRenegotiation,
)
from fsm.errors import InvalidTrigger
from fsm.outcome import Completion
from fsm.reasons import Reason
from fsm.wire import Representation

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


# --------------------------------------------------------------------------------
# origins

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


# --------------------------------------------------------------------------------
# building requests

JSON: Final = "json"
XML: Final = "xml"
#: What a request asks for, per body format (docs/protocol.md §6: the vnd forms are the precise ones).
ACCEPT: Final = {
    JSON: "application/vnd.microsoft.com.ucwa+json",
    XML: "application/vnd.microsoft.com.ucwa+xml",
}

#: Huawei paths (docs/protocol.md §7.1).
HUAWEI_CANCEL_SERIES: Final = "/v1/mmc/management/cycleconferences"
HUAWEI_CANCEL_SUB_MEETINGS: Final = "/v1/mmc/management/conferences/cyclesubconf"


def resolve(base_url: str, href: str, source: str = "href") -> str:
    """``href`` resolved against ``base_url``, refused with :class:`OriginError` unless it stays on
    ``base_url``'s origin (scheme, host, port). An href comes from the server, an event, a webhook
    callback or a snapshot someone may have edited; the request built from it carries the token."""
    try:
        url = urljoin(base_url, href)
    except ValueError:  # an unbalanced IPv6 bracket: no URL at all, so on no allowed origin
        raise OriginError(href, show_origin(origin(base_url)), source) from None
    return check_origin(url, base_url, source)


def with_query(url: str, params: Sequence[tuple[str, str]]) -> str:
    """``url`` with ``params`` appended; the existing query is kept byte for byte."""
    if not params:
        return url
    scheme, netloc, path, query, fragment = urlsplit(url)
    extra = urlencode(list(params))
    return urlunsplit((scheme, netloc, path, f"{query}&{extra}" if query else extra, fragment))


def build_request(
    action: Action,
    *,
    base_url: str,
    token: Secret | str | None,
    body_format: str = JSON,
) -> HttpRequest:
    """The request that performs ``action``.

    UCWA actions carry ``Authorization: Bearer <token>``; Huawei actions carry
    ``X-Access-Token: <token>`` and none of the deprecated headers
    (``X-Authorization-Type``, ``X-Site-Id``, ``userUUID``). Bodies and query
    parameters come from :mod:`adapters.wire.bodies`, which checks the documented
    maximum lengths once more (:class:`fsm.errors.InvalidInput`, nothing built).
    """
    if body_format not in ACCEPT:
        raise RequestError(f"unknown body format {body_format!r}: use {JSON!r} or {XML!r}")
    secret = None if token is None else as_secret(token)
    if isinstance(action, DeleteSeries | DeleteSubMeetings):
        if secret is None:
            raise RequestError("a Huawei request needs an access token (X-Access-Token)")
        return huawei_request(action, base_url=base_url, access_token=secret)
    headers: list[tuple[str, HeaderValue]] = [("Accept", ACCEPT[body_format])]
    if secret is not None:
        headers.append(("Authorization", Secret("Bearer " + secret.reveal())))
    url = resolve(base_url, action.href)
    if isinstance(action, FetchResource):
        return HttpRequest("GET", url, tuple(headers))
    fmt: BodyFormat = "xml" if body_format == XML else "json"
    body = bodies.render(action, fmt)
    url = with_query(url, bodies.query_params(action))
    if body is None:
        return HttpRequest("POST", url, tuple(headers), b"")
    headers.append(("Content-Type", body.content_type))
    return HttpRequest("POST", url, tuple(headers), body.content)


def huawei_request(action: DeleteSeries | DeleteSubMeetings, *, base_url: str, access_token: Secret) -> HttpRequest:
    """The Huawei DELETE for a series or for some of its sub-meetings (docs/protocol.md §7.1, seed 004)."""
    params = [("conferenceID", action.conference_id)]
    if action.cancel_ongoing:
        params.append(("type", "1"))
    headers: list[tuple[str, HeaderValue]] = [("Accept", "application/json"), ("X-Access-Token", access_token)]
    if isinstance(action, DeleteSeries):
        return HttpRequest("DELETE", with_query(resolve(base_url, HUAWEI_CANCEL_SERIES), params), tuple(headers))
    if not action.sub_meeting_ids:
        raise RequestError("cancelling sub-meetings needs at least one sub-meeting id (cycleSubConfIDs)")
    headers.append(("Content-Type", "application/json"))
    body = json.dumps({"cycleSubConfIDs": list(action.sub_meeting_ids)}, separators=(",", ":")).encode("utf-8")
    url = with_query(resolve(base_url, HUAWEI_CANCEL_SUB_MEETINGS), params)
    return HttpRequest("DELETE", url, tuple(headers), body)


# --------------------------------------------------------------------------------
# responses back to triggers


@frozen
class Created:
    """``201`` with ``Location``: the created resource's href, as the server wrote it."""

    href: str
    response: HttpResponse


@frozen
class Succeeded:
    """Any other ``2xx``."""

    response: HttpResponse


@frozen
class Failed:
    """``4xx``/``5xx``: the parsed error. ``collision`` is the renegotiation 409 AlreadyExists."""

    error: UcwaError
    collision: bool = False

    @property
    def reason(self) -> Reason:
        return self.error.reason


@frozen
class Unexpected:
    """A response that fits no rule (``201`` without ``Location``, ``1xx``/``3xx``)."""

    why: str
    response: HttpResponse


RequestOutcome = Created | Succeeded | Failed | Unexpected


def classify_response(action: Action, response: HttpResponse) -> RequestOutcome:
    """What ``response`` means for the request that performed ``action``."""
    status = response.status
    if status == 201:
        location = response.header("location")
        if location:
            return Created(location.strip(), response)
        if isinstance(action, PostRenegotiation):
            # the renegotiation 201 carries the resource as its body (docs/protocol.md §4)
            return Succeeded(response)
        return Unexpected("201 Created without a Location header", response)
    if 200 <= status < 300:
        return Succeeded(response)
    if status >= 400:
        error = parse_error(status, response.body, response.content_type)
        return Failed(error, isinstance(action, PostRenegotiation) and error.is_collision)
    return Unexpected(f"HTTP {status} is not an answer this request expects", response)


@frozen
class Applied:
    """What feeding one response did: the outcome, the follow-up actions, or the refusal."""

    outcome: RequestOutcome
    actions: Actions = ()
    #: The machine refused the trigger (recorded, not raised: the wire is not the app's bug).
    violation: InvalidTrigger | None = None
    #: A body that should have been a resource could not be read.
    unreadable: ParseError | None = None

    @property
    def error(self) -> UcwaError | None:
        return self.outcome.error if isinstance(self.outcome, Failed) else None


Trigger = Callable[[], Actions]


def apply_response(model: Any, action: Action, response: HttpResponse, *, now: float) -> Applied:
    """Feed ``response`` (to ``action``) into ``model`` as its trigger; return what happened.

    ``model`` is any machine model with the triggers named in the module
    docstring (an :class:`~fsm.invitation.Invitation`, a renegotiation, a
    lobby participant...). A refused trigger is returned as
    :attr:`Applied.violation`, not raised: a response the machine did not
    expect is the server's doing, not the app's.
    """
    outcome = classify_response(action, response)
    try:
        trigger = _trigger_for(model, action, outcome, now)
    except ParseError as unreadable:
        return Applied(outcome, (), None, unreadable)
    if trigger is None:
        return Applied(outcome)
    try:
        actions = trigger()
    except InvalidTrigger as refused:
        return Applied(outcome, (), refused)
    return Applied(outcome, actions)


def _trigger_for(model: Any, action: Action, outcome: RequestOutcome, now: float) -> Trigger | None:
    if isinstance(action, FetchResource):
        return _fetched(model, action, outcome, now) if isinstance(outcome, Succeeded) else None
    if isinstance(action, PostRenegotiation) and isinstance(outcome, Created | Succeeded):
        return _renegotiation_created(model, action, outcome, now)
    if isinstance(outcome, Created) and hasattr(model, "created"):
        return partial(model.created, now=now, href=outcome.href)
    if isinstance(outcome, Succeeded) and hasattr(model, "request_succeeded"):
        return partial(model.request_succeeded, now=now)
    if isinstance(outcome, Failed) and hasattr(model, "request_failed"):
        # the machine tells a collision (409 Conflict/AlreadyExists) from other refusals itself
        return partial(model.request_failed, now=now, reason=outcome.reason)
    return None


def _resource(response: HttpResponse) -> dict[str, object]:
    return parse_resource(response.body, response.content_type)


def _self_href(resource: dict[str, object]) -> str | None:
    links = resource.get("_links")
    own = links.get("self") if isinstance(links, dict) else None
    href = own.get("href") if isinstance(own, dict) else None
    return href if isinstance(href, str) else None


def _renegotiation_created(
    model: Any, action: PostRenegotiation, outcome: Created | Succeeded, now: float
) -> Trigger | None:
    """The renegotiation 201 carries the resource as its body (docs/protocol.md §4)."""
    if not hasattr(model, "created"):
        return None
    response = outcome.response
    resource = _resource(response) if response.body.strip() else {}
    representation = representation_of(resource)
    href = outcome.href if isinstance(outcome, Created) else (_self_href(resource) or action.href)
    answer = representation.link("mediaAnswer")
    return partial(
        model.created,
        now=now,
        representation=representation,
        href=href,
        media_answer=None if answer is None else answer.href,
    )


_FINAL_STATES: Final = frozenset(c.value.lower() for c in Completion if c is not Completion.UNDETERMINED)


def _fetched(model: Any, action: FetchResource, outcome: Succeeded, now: float) -> Trigger | None:
    """A GET asked for by the machine: a final state completes it, any other updates it."""
    representation: Representation = representation_of(_resource(outcome.response))
    state = (representation.state or "").lower()
    if state in _FINAL_STATES and hasattr(model, "completed"):
        return partial(model.completed, now=now, representation=representation, href=action.href)
    if hasattr(model, "updated"):
        return partial(model.updated, now=now, href=action.href, representation=representation)
    return None
