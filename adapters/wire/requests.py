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

Modules. Request building is here; every name this module had before the
split is still importable from it. The request and response values and
:class:`Secret` are :mod:`adapters.wire.http_values`; the origin policy
(:func:`resolve`, :func:`check_origin`, :class:`OriginError`) is
:mod:`adapters.wire.origins`; responses back to triggers (:func:`classify_response`,
:func:`apply_response`) are :mod:`adapters.wire.response_triggers`.

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
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from adapters.wire import bodies
from adapters.wire.bodies import BodyFormat
from adapters.wire.http_values import (
    LOGGABLE_QUERY,
    Headers,
    HeaderValue,
    HttpRequest,
    HttpResponse,
    Secret,
    as_secret,
    loggable_url,
)
from adapters.wire.origins import (
    DEFAULT_PORTS,
    Origin,
    OriginError,
    RequestError,
    check_origin,
    origin,
    resolve,
    show_origin,
)
from adapters.wire.response_triggers import (
    Applied,
    Created,
    Failed,
    RequestOutcome,
    Succeeded,
    Trigger,
    Unexpected,
    _fetched,
    apply_response,
    classify_response,
)
from fsm.actions import Action, DeleteSeries, DeleteSubMeetings, FetchResource

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



# ``_fetched`` stays importable from here, as before the split (the soak notes name it by this path).
__all__ = [
    "ACCEPT",
    "DEFAULT_PORTS",
    "HUAWEI_CANCEL_SERIES",
    "HUAWEI_CANCEL_SUB_MEETINGS",
    "JSON",
    "LOGGABLE_QUERY",
    "XML",
    "Applied",
    "Created",
    "Failed",
    "HeaderValue",
    "Headers",
    "HttpRequest",
    "HttpResponse",
    "Origin",
    "OriginError",
    "RequestError",
    "RequestOutcome",
    "Secret",
    "Succeeded",
    "Trigger",
    "Unexpected",
    "_fetched",
    "apply_response",
    "as_secret",
    "build_request",
    "check_origin",
    "classify_response",
    "huawei_request",
    "loggable_url",
    "origin",
    "resolve",
    "show_origin",
    "with_query",
]
