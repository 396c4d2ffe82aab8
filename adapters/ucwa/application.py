"""The application's lifecycle, sans-IO: discovery, creation, makeMeAvailable, keep-alive, deletion.

Theory of operation
-------------------
Before any call, a UCWA app creates an *application* on the server
(docs/protocol.md §8a, CreateAnApplication.md), by following links only:

1. ``GET`` the discovery URL (``https://lyncdiscover.<domain>/``): no token is
   sent; the answer has ``user`` (and ``xframe``) links. A document that
   already has an ``applications`` link (the Trusted Application API's
   ``discover``, or a ``user`` resource given directly) skips step 2.
2. ``GET`` the ``user`` link with the bearer token; the answer has the
   ``applications`` link (401 means the token was refused).
3. ``POST`` ``{"UserAgent", "EndpointId", "Culture"}`` (the sample's names
   and casing) to ``applications``; ``201 Created`` carries the application
   resource: ``_links`` ``self``, ``batch``, ``events``; ``_embedded`` ``me``,
   ``people``, ``onlineMeetings``, ``communication``.

:func:`creation` is that walk as a generator: it yields each
:class:`Step` (what to send, and whether it carries the token) and is sent
each :class:`~adapters.wire.requests.HttpResponse` back; the sync and asyncio
clients (:meth:`adapters.ucwa.client.UcwaClient.create_application`) only move
the bytes.

Origins. The host may change between steps (the sample goes from
``lyncdiscover.contoso.com`` to ``lyncweb.contoso.com``). The token goes
only to the origin (scheme, host, port) of the URL the caller named, and to
the origins the caller lists in ``allowed_origins``; a ``user`` or
``applications`` link anywhere else ends the walk with
:class:`~adapters.wire.requests.OriginError` before anything is sent there. The
unauthenticated discovery ``GET`` goes only to the URL the caller named.
Once the application exists, the client sends the token only to the
application's own origin, as for every request after.

makeMeAvailable. :class:`MakeMeAvailable` holds the documented body fields
(makeMeAvailable2_ref.md), each optional, the enumerations typed:
``audioPreference`` (:class:`AudioPreference`), ``inactiveTimeout`` (minutes),
``phoneNumber``, ``signInAs`` (:class:`Availability`),
``supportedMessageFormats`` (:class:`MessageFormat`), ``supportedModalities``
(:class:`Modality`) and ``voipFallbackToPhoneAudioTimeOut`` (sent as given:
its unit is not documented). The link is ``communication/makeMeAvailable``
on the reference pages and ``me/makeMeAvailable`` in the Online samples: the
client takes it from wherever the application resource puts it. A second call
(after a restore, say) meets 409 ``AlreadyExists`` and only restarts the
keep-alive.

[U] The Trusted Application API creates its application with a ``GET`` on
``applications?endpointId=...`` (AuthenticationAndAuthorization.md); the walk
here POSTs, as UCWA and the simulator's ``saas`` profile do.

Keep-alive. ``reportMyActivity`` must come "at least once every four
minutes" (reportMyActivity_ref.md), and an available application that
neither reports nor calls is ended (MeDashboard). :class:`KeepAlive` says
when the next report is due, on the client's clock: the asyncio client
sleeps until then in a task; the sync client, which starts no thread of its
own, reports before a P-GET whenever that P-GET's longest hold would
otherwise carry it past the deadline.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Generator, Iterable, Sequence
from typing import Any, Final
from urllib.parse import urljoin

from attrs import define, field, frozen
from attrs.validators import deep_iterable, instance_of, optional

from adapters.wire.events import ParseError, parse_resource
from adapters.wire.requests import (
    ACCEPT,
    HttpRequest,
    HttpResponse,
    OriginError,
    Secret,
    as_secret,
    check_origin,
    loggable_url,
    origin,
    show_origin,
)
from adapters.wire.ucwa_errors import UcwaError, parse_error
from adapters.wire.xml import UCWA_NS, escape_text
from fsm.wire import WireEnum, bare_rel

#: The documented deadline between two ``reportMyActivity`` (reportMyActivity_ref.md: four minutes).
REPORT_DEADLINE: Final = 240.0
#: Time kept in hand before the deadline: the report's own request (its 15 s timeout) and a little more.
REPORT_SLACK: Final = 20.0
#: The asyncio keep-alive reports this much earlier still: every 180 s, well inside the 4 minutes.
ASYNC_REPORT_LEAD: Final = 40.0
#: The P-GET hold when the client sends no ``timeout`` (docs/protocol.md §2.2: 180 s).
DEFAULT_PGET_HOLD: Final = 180.0
#: Longest user agent, endpoint id or culture the client sends ([U]: the simulator refuses over 100).
MAX_APPLICATION_FIELD: Final = 100
#: Longest phone number sent in makeMeAvailable ([U]: no documented limit; E.164 has 15 digits).
MAX_PHONE_NUMBER: Final = 64
#: Discovery documents a walk may read before it must have reached ``applications``.
MAX_DISCOVERY_STEPS: Final = 4


class ApplicationError(Exception):
    """The application could not be discovered, created or kept: which step, which URL (query values
    hidden), what the server said. ``status`` is the HTTP status when there was one; ``challenge`` the
    ``WWW-Authenticate`` header of a 401 (where to get a token), never a credential."""

    def __init__(self, step: str, url: str, why: str, *, status: int | None = None, challenge: str | None = None):
        self.step = step
        self.url = loggable_url(url)
        self.status = status
        self.challenge = challenge
        super().__init__(f"{step} {self.url}: {why}")


# -- makeMeAvailable ------------------------------------------------------------------------------


class AudioPreference(WireEnum):
    """Where incoming audio goes (AudioPreference_ref.md)."""

    PHONE_AUDIO = "PhoneAudio"
    VOIP_AUDIO = "VoipAudio"


class Availability(WireEnum):
    """``signInAs``: the availability the user signs in with (PreferredAvailability_ref.md)."""

    ONLINE = "Online"
    BUSY = "Busy"
    DO_NOT_DISTURB = "DoNotDisturb"
    BE_RIGHT_BACK = "BeRightBack"
    AWAY = "Away"
    OFFWORK = "Offwork"


class MessageFormat(WireEnum):
    """``supportedMessageFormats`` (MessageFormat_ref.md)."""

    PLAIN = "Plain"
    HTML = "Html"


class Modality(WireEnum):
    """``supportedModalities``: the incoming modalities of interest (ModalityType_ref.md)."""

    AUDIO = "Audio"
    VIDEO = "Video"
    PHONE_AUDIO = "PhoneAudio"
    APPLICATION_SHARING = "ApplicationSharing"
    MESSAGING = "Messaging"
    DATA_COLLABORATION = "DataCollaboration"
    PANORAMIC_VIDEO = "PanoramicVideo"


def _positive_int(_: object, attribute: Any, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise ValueError(f"{attribute.name} must be a whole number > 0, got {value!r}")


def _phone(_: object, attribute: Any, value: str | None) -> None:
    if value is not None and not 0 < len(value) <= MAX_PHONE_NUMBER:
        raise ValueError(f"phone_number must have 1 to {MAX_PHONE_NUMBER} characters")


def _enum_tuple(kind: type[WireEnum]) -> Any:
    return deep_iterable(instance_of(kind), instance_of(tuple))


@frozen(kw_only=True)
class MakeMeAvailable:
    """The body of ``makeMeAvailable``: every field optional (makeMeAvailable2_ref.md); ``None`` or an empty
    tuple leaves it out. A wrong type or value raises ``TypeError``/``ValueError`` before anything is sent."""

    audio_preference: AudioPreference | None = field(default=None, validator=optional(instance_of(AudioPreference)))
    #: Minutes before the user's activity turns inactive (the server's default: 5).
    inactive_timeout: int | None = field(default=None, validator=_positive_int)
    phone_number: str | None = field(default=None, validator=optional([instance_of(str), _phone]))
    sign_in_as: Availability | None = field(default=None, validator=optional(instance_of(Availability)))
    supported_message_formats: tuple[MessageFormat, ...] = field(
        default=(), converter=tuple, validator=_enum_tuple(MessageFormat)
    )
    supported_modalities: tuple[Modality, ...] = field(default=(), converter=tuple, validator=_enum_tuple(Modality))
    #: Sent as given: the documentation names it a TimeSpan and gives no unit.
    voip_fallback_to_phone_audio_timeout: int | None = field(default=None, validator=_positive_int)

    def properties(self) -> dict[str, str | int | list[str]]:
        """The wire names and values that are set, in the documentation's order."""
        values: dict[str, str | int | list[str] | None] = {
            "audioPreference": None if self.audio_preference is None else self.audio_preference.value,
            "inactiveTimeout": self.inactive_timeout,
            "phoneNumber": self.phone_number,
            "signInAs": None if self.sign_in_as is None else self.sign_in_as.value,
            "supportedMessageFormats": [f.value for f in self.supported_message_formats] or None,
            "supportedModalities": [m.value for m in self.supported_modalities] or None,
            "voipFallbackToPhoneAudioTimeOut": self.voip_fallback_to_phone_audio_timeout,
        }
        return {name: value for name, value in values.items() if value is not None}

    def body(self, body_format: str = "json") -> tuple[str, bytes]:
        """``(content type, bytes)``: a JSON object, or an XML ``<input>`` with ``propertyList`` for arrays."""
        properties = self.properties()
        if body_format == "json":
            return "application/json", json.dumps(properties, separators=(",", ":")).encode("utf-8")
        parts = ['<?xml version="1.0" encoding="utf-8"?>', f'<input xmlns="{UCWA_NS}">']
        for name, value in properties.items():
            if isinstance(value, list):
                items = "".join(f"<item>{escape_text(item, what=name)}</item>" for item in value)
                parts.append(f'<propertyList name="{name}">{items}</propertyList>')
            else:
                parts.append(f'<property name="{name}">{escape_text(str(value), what=name)}</property>')
        parts.append("</input>")
        return "application/xml", "".join(parts).encode("utf-8")


# -- requests -------------------------------------------------------------------------------------


def request(
    method: str,
    url: str,
    *,
    token: Secret | str | None,
    body_format: str = "json",
    body: tuple[str, bytes] | None = None,
) -> HttpRequest:
    """A UCWA request to an absolute ``url`` already checked by the caller (bearer token when given)."""
    headers: list[tuple[str, str | Secret]] = [("Accept", ACCEPT[body_format])]
    if token is not None:
        headers.append(("Authorization", Secret("Bearer " + as_secret(token).reveal())))
    if body is not None:
        headers.append(("Content-Type", body[0]))
    return HttpRequest(method, url, tuple(headers), None if body is None else body[1])


def made_available(response: HttpResponse) -> None:
    """The answer to ``makeMeAvailable``: 204 (makeMeAvailable_ref), 201 with the operations queued
    (makeMeAvailable2_ref), or 409 ``AlreadyExists`` ("multiple invocations of this operation is not
    valid": it is available already, as a restored client's application is); anything else raises."""
    if response.ok:
        return
    error = parse_error(response.status, response.body, response.content_type)
    if error.status == 409 and error.subcode == "AlreadyExists":
        return
    raise error


def expect(response: HttpResponse, *statuses: int) -> HttpResponse:
    """``response`` when its status is one of ``statuses``; its typed :class:`UcwaError` otherwise."""
    if response.status not in statuses:
        raise parse_error(response.status, response.body, response.content_type)
    return response


# -- discovery and creation ---------------------------------------------------------------------------


@frozen
class Step:
    """One request of the walk: ``authorized`` says whether it carries the token."""

    what: str
    method: str
    url: str
    authorized: bool
    body: tuple[str, bytes] | None = None


@frozen
class Created:
    """The walk's end: the application's absolute URL and its resource (the 201's body)."""

    url: str
    resource: dict[str, Any]
    applications_url: str


def new_endpoint_id() -> str:
    """A GUID, as the sample's ``EndpointId``."""
    return str(uuid.uuid4())


def _check_field(name: str, value: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_APPLICATION_FIELD:
        raise ValueError(f"{name} must be a string of 1 to {MAX_APPLICATION_FIELD} characters")
    return value


def links_of(resource: object) -> dict[str, str]:
    """A resource's own links, bare rel -> href (``ms:rtc:saas:applications`` -> ``applications``)."""
    out: dict[str, str] = {}
    raw = resource.get("_links") if isinstance(resource, dict) else None
    if isinstance(raw, dict):
        for rel, value in raw.items():
            item = value[0] if isinstance(value, list) and value else value
            if isinstance(rel, str) and isinstance(item, dict) and isinstance(item.get("href"), str):
                out.setdefault(bare_rel(rel), item["href"])
    return out


def _read(step: Step, response: HttpResponse) -> dict[str, Any]:
    try:
        resource = parse_resource(response.body, response.content_type)
    except ParseError as exc:
        raise ApplicationError(step.what, step.url, f"unreadable answer: {exc}", status=response.status) from None
    return resource


class Origins:
    """The origins that may receive the token during creation: the named URL's, and those allowed."""

    def __init__(self, named: str, allowed: Iterable[str]) -> None:
        self.named = named
        found = {origin(named)}
        for extra in allowed:
            parsed = origin(extra)
            if parsed is None:
                raise ValueError(f"allowed origin {extra!r} is not an absolute http(s) URL")
            found.add(parsed)
        found.discard(None)
        self._origins = found

    def check(self, url: str, source: str) -> str:
        if origin(url) not in self._origins:
            shown = ", ".join(sorted(show_origin(o) for o in self._origins))
            raise OriginError(url, shown + " (pass allowed_origins= to trust another)", source)
        return url


def creation(
    url: str,
    *,
    user_agent: str,
    endpoint_id: str,
    culture: str,
    allowed_origins: Sequence[str] = (),
) -> Generator[Step, HttpResponse, Created]:
    """The walk from a discovery (or ``user``) URL to a created application; see the module docstring."""
    body = {
        "UserAgent": _check_field("user_agent", user_agent),
        "EndpointId": _check_field("endpoint_id", endpoint_id),
        "Culture": _check_field("culture", culture),
    }
    origins = Origins(url, allowed_origins)
    check_origin(url, url, "discovery URL")  # an absolute http(s) URL, or nothing is sent
    step = Step("discovery", "GET", url, authorized=False)
    applications: str | None = None
    for _ in range(MAX_DISCOVERY_STEPS):
        response = yield step
        if response.status == 401 and not step.authorized:
            # the sample's flow: the resource asks for credentials; the same GET again, with the token
            step = Step(step.what, "GET", step.url, authorized=True)
            response = yield step
        if response.status == 401:
            challenge = response.header("www-authenticate")
            raise ApplicationError(step.what, step.url, "401: the token was refused", status=401, challenge=challenge)
        if response.status != 200:
            error = parse_error(response.status, response.body, response.content_type)
            raise ApplicationError(step.what, step.url, str(error), status=response.status)
        links = links_of(_read(step, response))
        if "applications" in links:
            applications = origins.check(_absolute(step.url, links["applications"]), "applications link")
            break
        if "user" not in links:
            raise ApplicationError(step.what, step.url, f"no user or applications link (links: {sorted(links)})")
        user = origins.check(_absolute(step.url, links["user"]), "user link")
        step = Step("user", "GET", user, authorized=True)
    if applications is None:
        raise ApplicationError(step.what, step.url, f"no applications link after {MAX_DISCOVERY_STEPS} documents")
    payload = ("application/json", json.dumps(body, separators=(",", ":")).encode("utf-8"))
    create = Step("create", "POST", applications, authorized=True, body=payload)
    response = yield create
    if response.status != 201:
        error = parse_error(response.status, response.body, response.content_type)
        raise ApplicationError(create.what, create.url, str(error), status=response.status)
    resource = _read(create, response)
    own = links_of(resource).get("self") or response.header("location")
    if not own:
        raise ApplicationError(create.what, create.url, "the 201 names no application (no self link, no Location)")
    app_url = origins.check(_absolute(applications, own), "application")
    return Created(app_url, resource, applications)


def _absolute(base: str, href: str) -> str:
    """``href`` made absolute against the document it came from (its origin is checked by the caller)."""
    try:
        return urljoin(base, href)
    except ValueError:  # an unbalanced IPv6 bracket: no URL at all
        raise ApplicationError("link", base, f"{loggable_url(href)!r} is no URL") from None


# -- keep-alive -------------------------------------------------------------------------------------


@define
class KeepAlive:
    """When ``reportMyActivity`` is next due, on the client's clock (``None``: not available yet)."""

    deadline: float = REPORT_DEADLINE
    slack: float = REPORT_SLACK
    last: float | None = None

    def started(self, now: float) -> None:
        """``makeMeAvailable`` succeeded: it counts as activity, and reports are due from now on."""
        self.last = now

    def reported(self, now: float) -> None:
        self.last = now

    def stop(self) -> None:
        self.last = None

    @property
    def active(self) -> bool:
        return self.last is not None

    def next_at(self, *, blocking_for: float = 0.0) -> float | None:
        """The last moment to report before something that may block ``blocking_for`` seconds (a P-GET)
        without missing the deadline (less the slack)."""
        return None if self.last is None else self.last + self.deadline - self.slack - blocking_for

    def due(self, now: float, *, blocking_for: float = 0.0) -> bool:
        """Whether to report now, before something that may block ``blocking_for`` seconds."""
        at = self.next_at(blocking_for=blocking_for)
        return at is not None and now >= at


def pget_hold(timeout: int | None) -> float:
    """How long a P-GET may be held by the server: its ``timeout`` parameter, else the documented default."""
    return DEFAULT_PGET_HOLD if timeout is None else float(timeout)


__all__ = [
    "REPORT_DEADLINE",
    "ApplicationError",
    "AudioPreference",
    "Availability",
    "Created",
    "KeepAlive",
    "MakeMeAvailable",
    "MessageFormat",
    "Modality",
    "Step",
    "UcwaError",
    "creation",
    "links_of",
    "new_endpoint_id",
]
