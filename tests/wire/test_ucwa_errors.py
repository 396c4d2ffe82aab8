"""Synchronous error bodies (docs/protocol.md §5.2) as typed errors; proxies' bodies never break parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.wire.events import ReasonParameter
from adapters.wire.ucwa_errors import MAX_ERROR_BODY, UcwaError, parse_error
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.reasons import ErrorCode, Reason
from fsm.renegotiation import Renegotiation, RenegotiationState

NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
# docs/protocol.md §5.2, the documented JSON error body
CONFLICT_JSON = b'{"code":"Conflict","subcode":"AlreadyExists","message":"..."}'
CONFLICT_XML = (
    f'<reason xmlns="{NS}"><code>Conflict</code><subcode>AlreadyExists</subcode><message>...</message>'
    "<debugInfo/><parameters/></reason>"
).encode()


def test_json_error_body() -> None:
    error = parse_error(409, CONFLICT_JSON, "application/json")
    assert isinstance(error, UcwaError)
    assert (error.status, error.code, error.subcode, error.message) == (409, "Conflict", "AlreadyExists", "...")
    assert error.from_body
    assert error.error_code is ErrorCode.CONFLICT
    assert error.reason == Reason("Conflict", "AlreadyExists", "...")
    assert error.is_collision
    assert str(error) == "HTTP 409 Conflict/AlreadyExists: ..."


def test_xml_error_body_reads_like_json() -> None:
    from_xml = parse_error(409, CONFLICT_XML, "application/vnd.microsoft.com.ucwa+xml")
    from_json = parse_error(409, CONFLICT_JSON, "application/vnd.microsoft.com.ucwa+json")
    assert (from_xml.code, from_xml.subcode, from_xml.message, from_xml.parameters, from_xml.debug_info) == (
        from_json.code,
        from_json.subcode,
        from_json.message,
        from_json.parameters,
        from_json.debug_info,
    )
    assert from_xml.is_collision


def test_parameter_validation_failure_lists_the_parameters() -> None:
    # docs/protocol.md §5.2: a missing required parameter gives 400 ParameterValidationFailure with parameters
    body = json.dumps(
        {
            "code": "BadRequest",
            "subcode": "ParameterValidationFailure",
            "message": "bad",
            "parameters": [{"name": "to", "value": None}, {"name": "subject", "value": "x"}],
            "debugInfo": {"diag": "1"},
        }
    ).encode()
    error = parse_error(400, body, "application/json; charset=utf-8")
    assert error.parameters == (ReasonParameter("to"), ReasonParameter("subject", "x"))
    assert error.debug_info == '{"diag": "1"}'
    assert "parameters: to, subject" in str(error)
    assert not error.is_collision


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "BadRequest"), (408, "ClientTimeout"), (409, "Conflict"), (503, "ServiceUnavailable"), (504, "Timeout")],
)
def test_empty_body_takes_the_code_of_its_status(status: int, code: str) -> None:
    # docs/protocol.md §5.2: proxies may send 4xx/5xx without a UCWA body; the table names the code
    error = parse_error(status, b"", None)
    assert error.code == code
    assert error.subcode is None
    assert not error.from_body
    assert "empty body" in str(error)


@pytest.mark.parametrize("status", [401, 502])
def test_status_outside_the_table_has_no_code(status: int) -> None:
    error = parse_error(status, b"", "text/plain")
    assert error.code is None
    assert error.reason == Reason(None)
    assert str(error).startswith(f"HTTP {status} no UCWA code")


def test_html_from_a_proxy_is_not_parsed_and_not_copied() -> None:
    html = b"<!DOCTYPE html><html><body>Gateway Timeout. Authorization: Bearer sekrit-token</body></html>"
    error = parse_error(504, html, "text/html; charset=utf-8")
    assert error.code == "Timeout"
    assert not error.from_body
    assert "sekrit" not in str(error)
    assert "sekrit" not in repr(error)
    assert "text/html" in str(error)


def test_html_without_content_type_is_not_mistaken_for_xml() -> None:
    error = parse_error(500, b"<html><body>oops</body></html>", None)
    assert error.code == "ServiceFailure"
    assert "no UCWA error body" in str(error)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"code":"Conflict","subc', "application/json"),  # truncated JSON
        (b"[1, 2]", "application/json"),
        (b'{"code": 5}', "application/json"),
        (b"<reason xmlns", "application/xml"),  # truncated XML
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><reason>&a;</reason>', "application/xml"),
        (f'<events xmlns="{NS}"/>'.encode(), "application/xml"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b'{"message": "no code"}', "application/json"),
    ],
)
def test_unreadable_error_bodies_fall_back_to_the_status(body: bytes, content_type: str) -> None:
    error = parse_error(409, body, content_type)
    assert error.status == 409
    assert error.code == "Conflict"
    assert not error.from_body
    assert not error.is_collision  # no subcode could be read


def test_body_without_content_type_is_sniffed() -> None:
    assert parse_error(409, b'  {"code":"Conflict","subcode":"AlreadyExists"}', None).is_collision
    assert parse_error(409, CONFLICT_XML, None).is_collision


def test_oversized_body_is_not_read() -> None:
    body = b"{" + b" " * MAX_ERROR_BODY + b"}"
    error = parse_error(500, body, "application/json")
    assert error.code == "ServiceFailure"
    assert "not read" in str(error)


def test_codes_compare_ignoring_case() -> None:
    error = parse_error(409, b'{"code":"conflict","subcode":"alreadyexists"}', "application/json")
    assert error.is_collision
    assert error.error_code is ErrorCode.CONFLICT


def test_special_replies_of_the_event_channel() -> None:
    # docs/protocol.md §2.2: 409 PGetReplaced, 404 ApplicationNotFound
    replaced = parse_error(409, b'{"code":"Conflict","subcode":"PGetReplaced"}', "application/json")
    assert replaced.is_pget_replaced
    assert not replaced.is_collision
    gone = parse_error(404, b'{"code":"NotFound","subcode":"ApplicationNotFound"}', "application/json")
    assert gone.is_application_not_found
    assert not parse_error(404, b"", None).is_application_not_found


def test_unknown_code_is_kept_verbatim() -> None:
    error = parse_error(400, b'{"code":"Exploded","subcode":"Kaboom"}', "application/json")
    assert (error.code, error.subcode) == ("Exploded", "Kaboom")
    assert error.error_code is None
    assert error.reason.undocumented


def test_reason_drives_the_machines() -> None:
    # an invitation's create POST refused: Failed with the HTTP error's reason
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="startMessaging", operation_id="op", to="sip:b@x")
    error = parse_error(403, b'{"code":"Forbidden","subcode":"FederationRequired"}', "application/json")
    invitation.request_failed(now=1.0, reason=error.reason)
    assert invitation.state is InvitationState.FAILED
    assert invitation.outcome is not None
    assert invitation.outcome.reason == Reason("Forbidden", "FederationRequired")
    # a renegotiation offer refused 409 Conflict/AlreadyExists: the collision (docs/protocol.md §4)
    renegotiation = Renegotiation()
    renegotiation.offer(now=0.0, href="renegotiations", operation_id="op", sdp="v=0")
    collision = parse_error(409, CONFLICT_XML, "application/xml")
    assert collision.is_collision
    renegotiation.request_failed(now=1.0, reason=collision.reason)
    assert renegotiation.state is RenegotiationState.COLLIDED


@given(st.integers(min_value=100, max_value=599), st.binary(max_size=200), st.none() | st.text(max_size=40))
def test_never_raises(status: int, body: bytes, content_type: str | None) -> None:
    error = parse_error(status, body, content_type)
    assert error.status == status
    assert isinstance(str(error), str)


@given(
    st.integers(min_value=400, max_value=599),
    st.dictionaries(st.sampled_from(["code", "subcode", "message", "parameters", "debugInfo", "x"]),
                    st.none() | st.text(max_size=5) | st.integers() | st.lists(st.integers(), max_size=2)),
)
def test_never_raises_on_json_objects(status: int, document: dict[str, object]) -> None:
    error = parse_error(status, json.dumps(document).encode(), "application/json")
    assert error.status == status


def test_swapped_arguments_do_not_raise() -> None:
    error = parse_error(409, "application/json", CONFLICT_JSON)  # type: ignore[arg-type]
    assert error.is_collision


@pytest.mark.parametrize(
    ("status", "body"),
    [
        # docs/protocol.md §5.2, resource-specific synchronous errors (seed 002 GET rows, seed 000 POST rows)
        (404, b'{"code":"NotFound"}'),
        (400, b'{"code":"BadRequest","subcode":"ParameterValidationFailure","parameters":[{"name":"to"}]}'),
        (410, b'{"code":"Gone"}'),
        (500, b'{"code":"ServiceFailure","subcode":"InvalidExchangeServerVersion"}'),
        (500, b'{"code":"ServiceFailure","subcode":"CallbackChannelError"}'),
        (409, b'{"code":"Conflict","subcode":"TooManyGroups"}'),
        (410, b'{"code":"Gone","subcode":"CannotRedirect"}'),
        (404, b""),  # a proxy's empty 404 reads as NotFound with no subcode, which the GET table lists
    ],
)
def test_documented_synchronous_errors_are_documented(status: int, body: bytes) -> None:
    reason = parse_error(status, body, "application/json").reason
    assert reason.status == status
    assert not reason.undocumented
    assert reason.documented_sync is not None


def test_a_pair_documented_only_asynchronously_is_undocumented_as_a_synchronous_error() -> None:
    # Forbidden/FederationRequired is in the asynchronous table (§5.1) but in no synchronous one (§5.2)
    reason = parse_error(403, b'{"code":"Forbidden","subcode":"FederationRequired"}', "application/json").reason
    assert reason.undocumented
    assert reason == Reason("Forbidden", "FederationRequired")  # equality ignores the status
