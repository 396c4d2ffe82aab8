"""Reasons: error codes, documented (code, subcode) pairs, decline reasons.

Theory of operation
-------------------
UCWA and the Trusted Application API report a failure as a ``reason`` with a
``code`` (a closed enum, :class:`ErrorCode`), an open ``subcode`` string and a
localised ``message``. New subcodes may appear at any time and must be
tolerated, so :class:`Reason` keeps whatever the wire said, as given, and
*classifies* it against the catalogue instead of validating it:

- :attr:`Reason.error_code` is the :class:`ErrorCode` member or ``None``;
- :meth:`Reason.documented_for` says whether the pair is in the asynchronous
  reason table of a resource (docs/protocol.md §5.1);
- :attr:`Reason.documented_sync` is the row of :data:`SYNC_CATALOGUE` (the
  resource-specific synchronous errors, docs/protocol.md §5.2) for a reason
  that came with an HTTP status;
- :attr:`Reason.undocumented` flags anything outside the catalogue of its
  context: the synchronous one when the reason carries a ``status``, else
  the asynchronous one.

Nothing here raises on unknown input. Code names are compared ignoring case,
because the docs' own tables disagree on case (``PreConditionFailed`` vs
``PreconditionFailed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from attrs import field, frozen


class ErrorCode(Enum):
    """UCWA ``ErrorCode`` (S1): the closed set of reason codes."""

    BAD_REQUEST = "BadRequest"
    CONFLICT = "Conflict"
    ENTITY_TOO_LARGE = "EntityTooLarge"
    EXCHANGE_SERVICE_FAILURE = "ExchangeServiceFailure"
    FORBIDDEN = "Forbidden"
    GATEWAY_TIMEOUT = "GatewayTimeout"
    GONE = "Gone"
    INFORMATIONAL = "Informational"
    LOCAL_FAILURE = "LocalFailure"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    NOT_ACCEPTABLE = "NotAcceptable"
    NOT_FOUND = "NotFound"
    PRECONDITION_FAILED = "PreconditionFailed"
    PRECONDITION_REQUIRED = "PreconditionRequired"
    REMOTE_FAILURE = "RemoteFailure"
    SERVICE_FAILURE = "ServiceFailure"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    TIMEOUT = "Timeout"
    TOO_MANY_REQUESTS = "TooManyRequests"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"


class CallDeclineReason(Enum):
    """Body of ``decline`` (S1 ``CallDeclineReason``)."""

    UNKNOWN = "Unknown"
    LOCAL = "Local"
    GLOBAL = "Global"
    MEDIA_ALLOCATION_FAILURE = "MediaAllocationFailure"
    ENCRYPTION_MISMATCH = "EncryptionMismatch"
    IPV6_NOT_SUPPORTED = "IPv6NotSupported"
    MEDIA_CONNECTIVITY_FAILURE = "MediaConnectivityFailure"
    CODEC_MISMATCH = "CodecMismatch"
    UNSUPPORTED_MEDIA = "UnsupportedMedia"
    INVALID_MEDIA_OFFER = "InvalidMediaOffer"
    INSUFFICIENT_BANDWIDTH = "InsufficientBandwidth"
    INSUFFICIENT_BANDWIDTH_REROUTE_OVER_PSTN = "InsufficientBandwidthRerouteOverPstn"


class ReNegotiationDeclineReason(Enum):
    """Body of a renegotiation's ``dismiss`` (S1 ``ReNegotiationDeclineReason``)."""

    UNKNOWN = "Unknown"
    MEDIA_ALLOCATION_FAILURE = "MediaAllocationFailure"
    ENCRYPTION_MISMATCH = "EncryptionMismatch"
    IPV6_NOT_SUPPORTED = "IPv6NotSupported"
    UNSUPPORTED_MEDIA = "UnsupportedMedia"
    INVALID_MEDIA_OFFER = "InvalidMediaOffer"
    INSUFFICIENT_BANDWIDTH = "InsufficientBandwidth"
    CONFLICT = "Conflict"


class ReasonResource(Enum):
    """Resources that have an asynchronous reason table (docs/protocol.md §5.1)."""

    AUDIO_VIDEO = "AV"  # SaaS audioVideoInvitation (seed 002)
    ONLINE_MEETING = "OMI"
    MESSAGING = "MSG"
    PARTICIPANT = "PI"
    PHONE_AUDIO = "PA"


_AV, _OMI, _MSG, _PI, _PA = (
    ReasonResource.AUDIO_VIDEO,
    ReasonResource.ONLINE_MEETING,
    ReasonResource.MESSAGING,
    ReasonResource.PARTICIPANT,
    ReasonResource.PHONE_AUDIO,
)
_ALL = frozenset(ReasonResource)
_NOT_AV = frozenset({_OMI, _MSG, _PI, _PA})


@frozen
class DocumentedReason:
    """One row of the asynchronous reason catalogue."""

    code: ErrorCode
    subcode: str
    resources: frozenset[ReasonResource]
    meaning: str


def _rows(
    code: ErrorCode, subcodes: tuple[str, ...], resources: frozenset[ReasonResource], meaning: str
) -> tuple[DocumentedReason, ...]:
    return tuple(DocumentedReason(code, sub, resources, meaning) for sub in subcodes)


_E = ErrorCode

#: docs/protocol.md §5.1, row by row.
CATALOGUE: tuple[DocumentedReason, ...] = (
    *_rows(_E.BAD_REQUEST, ("NormalizationFailed",), frozenset({_AV, _PA}), "phone number normalization failed"),
    *_rows(_E.CONFLICT, ("AlreadyExists",), _ALL, "already exists / problem joining the conference focus"),
    *_rows(_E.CONFLICT, ("None",), _ALL, "resource being deleted / focus join problem / unsupported"),
    *_rows(_E.CONFLICT, ("TooManyGroups",), _ALL, "too many groups"),
    *_rows(_E.CONFLICT, ("TooManyLobbyParticipants",), frozenset({_OMI}), "lobby full"),
    *_rows(_E.CONFLICT, ("TooManyParticipants",), frozenset({_OMI}), "meeting full"),
    *_rows(_E.ENTITY_TOO_LARGE, ("None",), _ALL, "request too large"),
    *_rows(
        _E.FORBIDDEN,
        ("AnonymousNotAllowed", "DialoutNotAllowed"),
        _ALL,
        "meeting forbids dial-out by attendees",
    ),
    *_rows(_E.FORBIDDEN, ("FederationRequired",), _ALL, "federation required"),
    *_rows(_E.FORBIDDEN, ("InviteesOnly",), _ALL, "closed meeting, invitees only"),
    *_rows(
        _E.FORBIDDEN,
        ("ModalityNotSupported",),
        _ALL,
        "modality not allowed in the conference or by the remote client",
    ),
    *_rows(_E.FORBIDDEN, ("None",), _ALL, "participant not connected to the meeting"),
    *_rows(_E.FORBIDDEN, ("Unreachable",), _ALL, "destination unreachable"),
    *_rows(_E.GONE, ("CannotRedirect",), frozenset({_AV}), "no backup pool to redirect to"),
    *_rows(_E.INFORMATIONAL, ("AutoAccepted",), _NOT_AV, "auto-accepted"),
    *_rows(_E.INFORMATIONAL, ("Canceled",), _ALL, "request canceled"),
    *_rows(_E.INFORMATIONAL, ("ConnectedElsewhere",), _ALL, "accepted at another endpoint"),
    *_rows(_E.INFORMATIONAL, ("DerivedConversation",), _ALL, "a derived conversation was created"),
    *_rows(_E.INFORMATIONAL, ("MediaFallback",), _ALL, "cancelled by media fallback logic"),
    *_rows(_E.INFORMATIONAL, ("Missed",), _ALL, "invitation missed"),
    *_rows(_E.INFORMATIONAL, ("Ended",), frozenset({_OMI}), "meeting ended"),
    *_rows(_E.INFORMATIONAL, ("Redirected",), frozenset({_AV, _PA}), "redirected to another contact"),
    *_rows(_E.LOCAL_FAILURE, ("Canceled",), _ALL, "cancelled by the local user"),
    *_rows(_E.LOCAL_FAILURE, ("Declined",), _ALL, "declined by the local user"),
    *_rows(_E.LOCAL_FAILURE, ("None",), _ALL, "local failure"),
    *_rows(_E.LOCAL_FAILURE, ("Timeout",), _ALL, "timed out locally"),
    *_rows(_E.LOCAL_FAILURE, ("EscalationFailed",), frozenset({_AV}), "escalation to conference failed"),
    *_rows(_E.LOCAL_FAILURE, ("InsufficientBandwidth",), frozenset({_AV}), "rejected locally for bandwidth"),
    *_rows(_E.LOCAL_FAILURE, ("PstnCallFailed",), frozenset({_PA}), "first-leg PSTN call failed"),
    *_rows(_E.NOT_FOUND, ("DestinationNotFound",), _ALL, "target identity not found"),
    *_rows(
        _E.REMOTE_FAILURE,
        (
            "AnotherOperationPending",
            "Busy",
            "Canceled",
            "Declined",
            "DoNotDisturb",
            "None",
            "NotAcceptable",
            "NotAllowed",
            "RepliedWithOtherModality",
            "TemporarilyUnavailable",
            "ThreadIdAlreadyExists",
            "Timeout",
            "UnsupportedMediaType",
        ),
        _ALL,
        "remote side refused or failed",
    ),
    *_rows(
        _E.REMOTE_FAILURE,
        ("InsufficientBandwidth", "MediaEncryptionMismatch", "MediaFailure"),
        frozenset({_AV, _PA}),
        "media problems on the remote side",
    ),
    *_rows(
        _E.REMOTE_FAILURE,
        (
            "InvalidMediaDescription",
            "IPv6NotSupported",
            "MediaEncryptionNotSupported",
            "MediaEncryptionRequired",
        ),
        frozenset({_AV}),
        "SDP and encryption problems",
    ),
    *_rows(
        _E.SERVICE_FAILURE,
        (
            "CallbackChannelError",
            "EscalationFailed",
            "InvalidExchangeServerVersion",
            "None",
            "Timeout",
            "Unavailable",
        ),
        _ALL,
        "service-side failure",
    ),
    *_rows(
        _E.SERVICE_FAILURE,
        ("Forwarded", "MediaNegotiationFailure", "MediaNegotiationTimeOut"),
        frozenset({_AV}),
        "forward failed / media negotiation failed or timed out",
    ),
    *_rows(
        _E.SERVICE_FAILURE,
        ("PhoneNumberConflict",),
        frozenset({_AV, _PA}),
        "several users share the destination number",
    ),
    *_rows(_E.SERVICE_FAILURE, ("PstnCallFailed",), frozenset({_PA}), "last-leg PSTN fallback failed"),
    *_rows(_E.TIMEOUT, ("None",), _ALL, "operation timed out"),
)

_BY_PAIR: dict[tuple[str, str], DocumentedReason] = {
    (row.code.value.lower(), row.subcode.lower()): row for row in CATALOGUE
}
_CODES_BY_NAME: dict[str, ErrorCode] = {c.value.lower(): c for c in ErrorCode}


#: HTTP status of a synchronous error -> the code the docs' table names
#: (docs/protocol.md §5.2). ``ClientTimeout`` is not in the ErrorCode enum, so 408
#: maps to ``None`` for the enum view and keeps its table name here.
HTTP_STATUS_CODE_NAMES: Mapping[int, str] = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "ClientTimeout",
    409: "Conflict",
    410: "Gone",
    412: "PreConditionFailed",
    413: "EntityTooLarge",
    415: "UnsupportedMediaType",
    428: "PreConditionRequired",
    429: "TooManyRequests",
    500: "ServiceFailure",
    503: "ServiceUnavailable",
    504: "Timeout",
}

#: Codes of the 5.2 table that may also arrive on the event channel.
CODES_SEEN_ON_EVENT_CHANNEL: frozenset[int] = frozenset({400, 403, 404, 409, 413, 500, 504})


class SyncScope(Enum):
    """Where a resource-specific synchronous error is documented (docs/protocol.md §5.2)."""

    GET = "GET"  # a GET of an invitation resource
    POST_LINK = "POST"  # a POST to a link resource (accept, cancel, decline...)
    ANY_RESOURCE = "any"  # repeated on every resource page
    EVENT_CHANNEL = "events"  # the P-GET's own refusals (docs/protocol.md §2.2)


@frozen
class DocumentedSyncError:
    """One documented synchronous error: the HTTP status with its code and subcode."""

    status: int
    code: ErrorCode
    subcode: str
    scope: SyncScope
    meaning: str


#: The resource-specific synchronous errors (docs/protocol.md §5.2: seed 002 for the GET
#: rows, seed 000 for the POST link rows), plus the event channel's documented refusals
#: (§2.2) and the expired application (§8a). ``"None"`` is the docs' "no subcode".
SYNC_CATALOGUE: tuple[DocumentedSyncError, ...] = (
    DocumentedSyncError(404, _E.NOT_FOUND, "None", SyncScope.GET, "call or resource not found"),
    DocumentedSyncError(400, _E.BAD_REQUEST, "None", SyncScope.GET, "malformed request body"),
    DocumentedSyncError(
        400, _E.BAD_REQUEST, "ParameterValidationFailure", SyncScope.GET, "wrong or missing parameters"
    ),
    DocumentedSyncError(410, _E.GONE, "None", SyncScope.GET, "content type not supported"),
    DocumentedSyncError(
        500, _E.SERVICE_FAILURE, "InvalidExchangeServerVersion", SyncScope.GET, "invalid Exchange server version"
    ),
    DocumentedSyncError(
        500, _E.SERVICE_FAILURE, "CallbackChannelError", SyncScope.POST_LINK, "remote event channel unreachable"
    ),
    DocumentedSyncError(409, _E.CONFLICT, "AlreadyExists", SyncScope.ANY_RESOURCE, "already exists"),
    DocumentedSyncError(409, _E.CONFLICT, "TooManyGroups", SyncScope.ANY_RESOURCE, "too many groups"),
    DocumentedSyncError(409, _E.CONFLICT, "None", SyncScope.ANY_RESOURCE, "unsupported service, resource or API"),
    DocumentedSyncError(410, _E.GONE, "CannotRedirect", SyncScope.ANY_RESOURCE, "no backup pool to redirect to"),
    DocumentedSyncError(409, _E.CONFLICT, "PGetReplaced", SyncScope.EVENT_CHANNEL, "a newer P-GET replaced this one"),
    DocumentedSyncError(
        404, _E.NOT_FOUND, "ApplicationNotFound", SyncScope.EVENT_CHANNEL, "the application is gone"
    ),
    DocumentedSyncError(
        410, _E.GONE, "InactiveApplicationExpired", SyncScope.ANY_RESOURCE, "application expired after inactivity"
    ),
)

_SYNC_BY_KEY: dict[tuple[int, str, str], DocumentedSyncError] = {
    (row.status, row.code.value.lower(), row.subcode.lower()): row for row in SYNC_CATALOGUE
}


def error_code_for_status(status: int) -> ErrorCode | None:
    """The :class:`ErrorCode` for an HTTP status, or ``None`` (e.g. 408, 401)."""
    name = HTTP_STATUS_CODE_NAMES.get(status)
    return None if name is None else _CODES_BY_NAME.get(name.lower())


def status_for_error_code(code: str) -> int | None:
    """The HTTP status that carries ``code`` (case-insensitive), or ``None``."""
    wanted = code.lower()
    for status, name in HTTP_STATUS_CODE_NAMES.items():
        if name.lower() == wanted:
            return status
    return None


def parse_error_code(code: str | None) -> ErrorCode | None:
    """The enum member for a wire code, ignoring case; ``None`` when unknown."""
    return None if code is None else _CODES_BY_NAME.get(code.lower())


@frozen
class Reason:
    """A reason as the wire gave it: kept verbatim, classified on demand.

    ``code`` is ``None`` only when the wire gave no reason at all for a
    failure; callfsm still records a :class:`Reason` then, so that a failed
    outcome always carries one (see :meth:`absent`).
    """

    code: str | None
    subcode: str | None = None
    message: str | None = None
    #: The HTTP status when the reason is a synchronous error's (a 4xx/5xx answer), else ``None``.
    #: Context, not what the wire said: left out of equality, so existing comparisons hold.
    status: int | None = field(default=None, eq=False, kw_only=True)

    @classmethod
    def absent(cls, what: str) -> Reason:
        """The reason recorded when a failure came with none."""
        return cls(code=None, subcode=None, message=f"no reason given: {what}")

    @property
    def error_code(self) -> ErrorCode | None:
        return parse_error_code(self.code)

    @property
    def documented(self) -> DocumentedReason | None:
        """The catalogue row for this pair, whatever the resource."""
        if self.code is None:
            return None
        return _BY_PAIR.get((self.code.lower(), (self.subcode or "None").lower()))

    def documented_for(self, resource: ReasonResource) -> bool:
        row = self.documented
        return row is not None and resource in row.resources

    @property
    def documented_sync(self) -> DocumentedSyncError | None:
        """The :data:`SYNC_CATALOGUE` row for this status, code and subcode, or ``None``."""
        if self.code is None or self.status is None:
            return None
        return _SYNC_BY_KEY.get((self.status, self.code.lower(), (self.subcode or "None").lower()))

    @property
    def undocumented(self) -> bool:
        """True when the code is unknown or the pair is not catalogued for its context.

        A reason with a ``status`` came from a synchronous answer and is looked up
        in :data:`SYNC_CATALOGUE`; any other in the asynchronous :data:`CATALOGUE`.
        """
        if self.error_code is None:
            return True
        if self.status is not None:
            return self.documented_sync is None
        return self.documented is None

    def subcode_is(self, name: str) -> bool:
        return self.subcode is not None and self.subcode.lower() == name.lower()

    def __str__(self) -> str:
        if self.code is None:
            return self.message or "no reason given"
        text = self.code if self.subcode is None else f"{self.code}/{self.subcode}"
        return text if not self.message else f"{text} ({self.message})"
