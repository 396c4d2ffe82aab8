"""The reason catalogues and the HTTP status table, checked against the documentation in both directions.

Every expected value here is typed from the documentation, never read from
``fsm.reasons``: docs/protocol.md §5.1 (the asynchronous reason table, UCWA
columns from the 2016 skype-docs pages), seed 002 (the Trusted Application API
``ms:rtc:saas:audioVideoInvitation`` page, for the AV column, typed a second
time from its own code -> subcode tables) and docs/protocol.md §5.2 (HTTP
status <-> error code, and the resource-specific synchronous errors).
A pair misspelt, dropped or added in the catalogue fails a test below.
"""

from __future__ import annotations

import pytest

from fsm.reasons import (
    CATALOGUE,
    CODES_SEEN_ON_EVENT_CHANNEL,
    HTTP_STATUS_CODE_NAMES,
    SYNC_CATALOGUE,
    ErrorCode,
    Reason,
    ReasonResource,
    SyncScope,
    error_code_for_status,
    status_for_error_code,
)

AV, OMI, MSG, PI, PA = "AV", "OMI", "MSG", "PI", "PA"
ALL = (AV, OMI, MSG, PI, PA)
NOT_AV = (OMI, MSG, PI, PA)

# docs/protocol.md §5.1, row by row: (code, subcodes, resources the row is "In").
ASYNC_TABLE: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("BadRequest", ("NormalizationFailed",), (AV, PA)),
    ("Conflict", ("AlreadyExists",), ALL),
    ("Conflict", ("None",), ALL),
    ("Conflict", ("TooManyGroups",), ALL),
    ("Conflict", ("TooManyLobbyParticipants", "TooManyParticipants"), (OMI,)),
    ("EntityTooLarge", ("None",), ALL),
    ("Forbidden", ("AnonymousNotAllowed", "DialoutNotAllowed"), ALL),
    ("Forbidden", ("FederationRequired",), ALL),
    ("Forbidden", ("InviteesOnly",), ALL),
    ("Forbidden", ("ModalityNotSupported",), ALL),
    ("Forbidden", ("None",), ALL),
    ("Forbidden", ("Unreachable",), ALL),
    ("Gone", ("CannotRedirect",), (AV,)),
    ("Informational", ("AutoAccepted",), NOT_AV),
    ("Informational", ("Canceled",), ALL),
    ("Informational", ("ConnectedElsewhere",), ALL),
    ("Informational", ("DerivedConversation",), ALL),
    ("Informational", ("MediaFallback",), ALL),
    ("Informational", ("Missed",), ALL),
    ("Informational", ("Ended",), (OMI,)),
    ("Informational", ("Redirected",), (AV, PA)),
    ("LocalFailure", ("Canceled", "Declined"), ALL),
    ("LocalFailure", ("None", "Timeout"), ALL),
    ("LocalFailure", ("EscalationFailed",), (AV,)),
    ("LocalFailure", ("InsufficientBandwidth",), (AV,)),
    ("LocalFailure", ("PstnCallFailed",), (PA,)),
    ("NotFound", ("DestinationNotFound",), ALL),
    (
        "RemoteFailure",
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
        ALL,
    ),
    ("RemoteFailure", ("InsufficientBandwidth", "MediaEncryptionMismatch", "MediaFailure"), (AV, PA)),
    (
        "RemoteFailure",
        ("InvalidMediaDescription", "IPv6NotSupported", "MediaEncryptionNotSupported", "MediaEncryptionRequired"),
        (AV,),
    ),
    (
        "ServiceFailure",
        ("CallbackChannelError", "EscalationFailed", "InvalidExchangeServerVersion", "None", "Timeout", "Unavailable"),
        ALL,
    ),
    ("ServiceFailure", ("Forwarded", "MediaNegotiationFailure", "MediaNegotiationTimeOut"), (AV,)),
    ("ServiceFailure", ("PhoneNumberConflict",), (AV, PA)),
    ("ServiceFailure", ("PstnCallFailed",), (PA,)),
    ("Timeout", ("None",), ALL),
)

# Seed 002 ("Asynchronous reason codes" of ms:rtc:saas:audioVideoInvitation): its code list, then one
# Subcode table per code in that order. Repeated rows (same subcode, another message) appear once.
SEED_002_AV: dict[str, tuple[str, ...]] = {
    "BadRequest": ("NormalizationFailed",),
    "Conflict": ("AlreadyExists", "None", "TooManyGroups"),
    "EntityTooLarge": ("None",),
    "Forbidden": (
        "AnonymousNotAllowed",
        "DialoutNotAllowed",
        "FederationRequired",
        "InviteesOnly",
        "ModalityNotSupported",
        "None",
        "Unreachable",
    ),
    "Gone": ("CannotRedirect",),
    "Informational": ("Canceled", "ConnectedElsewhere", "DerivedConversation", "MediaFallback", "Missed", "Redirected"),
    "LocalFailure": ("Canceled", "Declined", "EscalationFailed", "InsufficientBandwidth", "None", "Timeout"),
    "NotFound": ("DestinationNotFound",),
    "RemoteFailure": (
        "AnotherOperationPending",
        "Busy",
        "Canceled",
        "Declined",
        "DoNotDisturb",
        "InsufficientBandwidth",
        "InvalidMediaDescription",
        "IPv6NotSupported",
        "MediaEncryptionMismatch",
        "MediaEncryptionNotSupported",
        "MediaEncryptionRequired",
        "MediaFailure",
        "None",
        "NotAcceptable",
        "NotAllowed",
        "RepliedWithOtherModality",
        "TemporarilyUnavailable",
        "ThreadIdAlreadyExists",
        "Timeout",
        "UnsupportedMediaType",
    ),
    "ServiceFailure": (
        "CallbackChannelError",
        "EscalationFailed",
        "Forwarded",
        "InvalidExchangeServerVersion",
        "MediaNegotiationFailure",
        "MediaNegotiationTimeOut",
        "None",
        "PhoneNumberConflict",
        "Timeout",
        "Unavailable",
    ),
    "Timeout": ("None",),
}

# docs/protocol.md §5.2: HTTP status <-> error name, as the table spells them, and which may also
# arrive on the event channel ("yes" in its last column).
HTTP_TABLE: dict[int, tuple[str, bool]] = {
    400: ("BadRequest", True),
    403: ("Forbidden", True),
    404: ("NotFound", True),
    405: ("MethodNotAllowed", False),
    408: ("ClientTimeout", False),
    409: ("Conflict", True),
    410: ("Gone", False),
    412: ("PreConditionFailed", False),
    413: ("EntityTooLarge", True),
    415: ("UnsupportedMediaType", False),
    428: ("PreConditionRequired", False),
    429: ("TooManyRequests", False),
    500: ("ServiceFailure", True),
    503: ("ServiceUnavailable", False),
    504: ("Timeout", True),
}

# docs/protocol.md §5.1: the ErrorCode enum (S1), 20 names.
ERROR_CODES = (
    "BadRequest", "Conflict", "EntityTooLarge", "ExchangeServiceFailure", "Forbidden", "GatewayTimeout", "Gone",
    "Informational", "LocalFailure", "MethodNotAllowed", "NotAcceptable", "NotFound", "PreconditionFailed",
    "PreconditionRequired", "RemoteFailure", "ServiceFailure", "ServiceUnavailable", "Timeout", "TooManyRequests",
    "UnsupportedMediaType",
)

# docs/protocol.md §5.2 "Resource-specific synchronous errors" (seed 000 for the POST link rows,
# seed 002 for the GET rows): (HTTP status, code, subcode, where).
SYNC_TABLE: set[tuple[int, str, str, str]] = {
    (404, "NotFound", "None", "GET"),
    (400, "BadRequest", "None", "GET"),
    (400, "BadRequest", "ParameterValidationFailure", "GET"),
    (410, "Gone", "None", "GET"),
    (500, "ServiceFailure", "InvalidExchangeServerVersion", "GET"),
    (500, "ServiceFailure", "CallbackChannelError", "POST"),
    (409, "Conflict", "AlreadyExists", "any"),
    (409, "Conflict", "TooManyGroups", "any"),
    (409, "Conflict", "None", "any"),
    (410, "Gone", "CannotRedirect", "any"),
    # docs/protocol.md §2.2: the event channel's own refusals
    (409, "Conflict", "PGetReplaced", "events"),
    (404, "NotFound", "ApplicationNotFound", "events"),
    # docs/protocol.md §8a: an application left inactive too long
    (410, "Gone", "InactiveApplicationExpired", "any"),
}

TAGS = {AV: ReasonResource.AUDIO_VIDEO, OMI: ReasonResource.ONLINE_MEETING, MSG: ReasonResource.MESSAGING,
        PI: ReasonResource.PARTICIPANT, PA: ReasonResource.PHONE_AUDIO}
SCOPES = {"GET": SyncScope.GET, "POST": SyncScope.POST_LINK, "any": SyncScope.ANY_RESOURCE,
          "events": SyncScope.EVENT_CHANNEL}


def documented_pairs(resource: str) -> set[tuple[str, str]]:
    return {(code, sub) for code, subs, where in ASYNC_TABLE if resource in where for sub in subs}


def catalogued_pairs(resource: ReasonResource) -> set[tuple[str, str]]:
    return {(row.code.value, row.subcode) for row in CATALOGUE if resource in row.resources}


def test_the_av_column_of_the_table_is_seed_002() -> None:
    # the two hand-typed sources agree, so a typo in either is caught here first
    from_seed = {(code, sub) for code, subs in SEED_002_AV.items() for sub in subs}
    assert documented_pairs(AV) == from_seed


@pytest.mark.parametrize("resource", ALL)
def test_every_documented_pair_is_catalogued_for_its_resource(resource: str) -> None:
    missing = documented_pairs(resource) - catalogued_pairs(TAGS[resource])
    assert not missing, f"documented for {resource} but not in CATALOGUE: {sorted(missing)}"


@pytest.mark.parametrize("resource", ALL)
def test_nothing_undocumented_is_catalogued_for_a_resource(resource: str) -> None:
    extra = catalogued_pairs(TAGS[resource]) - documented_pairs(resource)
    assert not extra, f"in CATALOGUE for {resource} but not documented: {sorted(extra)}"


def test_every_catalogue_row_is_a_documented_pair() -> None:
    documented = {pair for resource in ALL for pair in documented_pairs(resource)}
    rows = [(row.code.value, row.subcode) for row in CATALOGUE]
    assert len(rows) == len(set(rows)), "a (code, subcode) pair appears twice"
    assert set(rows) == documented


@pytest.mark.parametrize(("code", "subcode", "resources"), [
    (code, sub, where) for code, subs, where in ASYNC_TABLE for sub in subs
])
def test_reason_classifies_each_documented_pair(code: str, subcode: str, resources: tuple[str, ...]) -> None:
    reason = Reason(code, subcode)
    assert not reason.undocumented
    assert {tag for tag in ALL if reason.documented_for(TAGS[tag])} == set(resources)
    # the wire's case is not the docs' case: still documented
    assert not Reason(code.upper(), subcode.lower()).undocumented


def test_error_code_enum_is_the_documented_one() -> None:
    assert sorted(member.value for member in ErrorCode) == sorted(ERROR_CODES)


def test_http_status_table_both_directions() -> None:
    assert dict(HTTP_STATUS_CODE_NAMES) == {status: name for status, (name, _) in HTTP_TABLE.items()}
    assert set(CODES_SEEN_ON_EVENT_CHANNEL) == {status for status, (_, seen) in HTTP_TABLE.items() if seen}


@pytest.mark.parametrize("status", sorted(HTTP_TABLE))
def test_status_and_error_code_map_both_ways(status: int) -> None:
    name = HTTP_TABLE[status][0]
    # the table's names differ from the enum's in case only, except ClientTimeout (not in the enum)
    enum_name = next((code for code in ERROR_CODES if code.lower() == name.lower()), None)
    found = error_code_for_status(status)
    assert (found.value if found else None) == enum_name
    assert status_for_error_code(name) == status
    assert status_for_error_code(name.swapcase()) == status


def test_statuses_outside_the_table() -> None:
    for status in (200, 401, 402, 502, 599):
        assert error_code_for_status(status) is None
    assert status_for_error_code("Informational") is None  # asynchronous only


def test_sync_catalogue_both_directions() -> None:
    catalogued = {(row.status, row.code.value, row.subcode, row.scope) for row in SYNC_CATALOGUE}
    assert catalogued == {(status, code, sub, SCOPES[where]) for status, code, sub, where in SYNC_TABLE}


@pytest.mark.parametrize(("status", "code", "subcode", "where"), sorted(SYNC_TABLE))
def test_documented_sync_errors_are_not_undocumented(status: int, code: str, subcode: str, where: str) -> None:
    # a reason from a synchronous answer knows its status; the wire's "no subcode" is None, not "None"
    wire_subcode = None if subcode == "None" else subcode
    reason = Reason(code, wire_subcode, status=status)
    assert not reason.undocumented, (status, code, subcode, where)
    assert reason.documented_sync is not None
    assert reason.documented_sync.scope is SCOPES[where]
    assert not Reason(code.lower(), subcode.upper() if wire_subcode else None, status=status).undocumented


@pytest.mark.parametrize(
    ("status", "code", "subcode"),
    [
        (500, "Conflict", "AlreadyExists"),  # right pair, wrong status: 409 carries Conflict
        (404, "NotFound", "DestinationNotFound"),  # an asynchronous pair, not a synchronous one
        (400, "BadRequest", "NoSuchSubcode"),
        (418, "Teapot", None),
    ],
)
def test_other_sync_errors_are_undocumented(status: int, code: str, subcode: str | None) -> None:
    assert Reason(code, subcode, status=status).undocumented


def test_sync_status_does_not_change_equality_or_the_async_view() -> None:
    # existing users compare reasons by what the wire said; the status is context
    assert Reason("Conflict", "AlreadyExists", status=409) == Reason("Conflict", "AlreadyExists")
    assert Reason("Conflict", "AlreadyExists", status=409).documented_for(ReasonResource.ONLINE_MEETING)
    # asynchronous context: 404 with no subcode is in no reason table
    assert Reason("NotFound").undocumented
    assert not Reason("NotFound", status=404).undocumented
