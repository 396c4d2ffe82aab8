"""Fuzzing the wire parsers: typed values or the one documented error, nothing else.

Each parser's contract, as its module documents it:

- :func:`adapters.wire.events.parse_events`: EventsResponse, or EventParseError;
- :func:`adapters.wire.events.parse_resource`: a dict, or ResourceParseError;
- :func:`adapters.wire.ucwa_errors.parse_error`: UcwaError, never raises;
- :func:`adapters.huawei.parse_huawei_error`: HuaweiError, never raises;
- :meth:`adapters.huawei.HuaweiAuth.accept`: AccessToken, or HuaweiAuthError.

The inputs are fuzz_strategies.py's; "typed values" is checked field by field (fuzz_checks.py).
The other ``test_fuzz_*.py`` files fuzz the stored documents and the machines behind the channel.
"""

from __future__ import annotations

import json
import math
import string
from typing import Any

from fuzz_checks import is_opt_str, parse_or_refuse
from fuzz_strategies import (
    JSON_TYPES,
    NAMESPACES,
    ODD_TYPES,
    XML_TYPES,
    fuzz_settings,
    json_bodies,
    json_values,
    mutated_bytes,
    scalars,
    valid_docs,
    xml_bodies,
    xml_from_doc,
)
from hypothesis import given
from hypothesis import strategies as st

from adapters.huawei import AccessToken, AppIdCredentials, HuaweiAuth, HuaweiAuthError, parse_huawei_error
from adapters.wire.events import (
    ResourceParseError,
    parse_resource,
)
from adapters.wire.requests import HttpResponse
from adapters.wire.ucwa_errors import UcwaError, parse_error
from fsm.meeting_series import HuaweiError

# -- the parsers ----------------------------------------------------------------------------------------------


@fuzz_settings
@given(body=json_bodies(), content_type=st.sampled_from(JSON_TYPES), require_links=st.booleans())
def test_json_event_bodies_give_typed_values_or_event_parse_error(
    body: bytes, content_type: str, require_links: bool
) -> None:
    parse_or_refuse(body, content_type, require_links=require_links)


@fuzz_settings
@given(body=xml_bodies(), content_type=st.sampled_from(XML_TYPES))
def test_xml_event_bodies_give_typed_values_or_event_parse_error(body: bytes, content_type: str) -> None:
    parse_or_refuse(body, content_type, require_links=False)


@fuzz_settings
@given(doc=valid_docs())
def test_a_valid_document_reads_the_same_in_json_and_in_xml(doc: dict[str, Any]) -> None:
    """The XML rendering of a walk carries the same events: the two readers agree (well-formed input)."""
    from_json = parse_or_refuse(json.dumps(doc).encode(), "application/json")
    from_xml = parse_or_refuse(xml_from_doc(doc), "application/xml")
    assert from_json is not None
    assert from_xml is not None
    assert [(e.link.href, e.type, e.status) for e in from_xml.events] == [
        (e.link.href, e.type, e.status) for e in from_json.events
    ]
    assert from_xml.next_href == from_json.next_href


@fuzz_settings
@given(body=json_bodies() | xml_bodies(), content_type=st.sampled_from(JSON_TYPES + XML_TYPES + ODD_TYPES))
def test_resource_bodies_give_a_dict_or_resource_parse_error(body: bytes, content_type: str) -> None:
    try:
        resource = parse_resource(body, content_type)
    except ResourceParseError:
        return
    assert isinstance(resource, dict)
    assert all(isinstance(key, str) for key in resource)


def error_documents() -> st.SearchStrategy[bytes]:
    fields = st.fixed_dictionaries(
        {},
        optional={
            "code": scalars,
            "subcode": scalars,
            "message": scalars,
            "debugInfo": json_values,
            "parameters": json_values,
            "link": json_values,
        },
    )
    xml_reason = st.builds(
        lambda code, sub, ns: (
            f'<reason xmlns="{ns}"><code>{code}</code><subcode>{sub}</subcode>'
            '<parameters><property name="p">v</property></parameters></reason>'
        ).encode(),
        st.text(string.ascii_letters, max_size=8),
        st.text(string.ascii_letters, max_size=8),
        st.sampled_from(NAMESPACES),
    )
    html = st.sampled_from([b"<html><body>Bad Gateway</body></html>", b"<!DOCTYPE html><p>x", b"", b"   ", b"\xff\xfe"])
    documents = (
        fields.map(lambda d: json.dumps(d).encode())
        | xml_reason
        | html
        | json_values.map(lambda v: json.dumps(v).encode())
    )
    return documents.flatmap(lambda body: st.just(body) | mutated_bytes(body))


@fuzz_settings
@given(
    status=st.integers(100, 599),
    body=error_documents(),
    content_type=st.sampled_from(JSON_TYPES + XML_TYPES + ODD_TYPES) | st.none(),
)
def test_ucwa_error_bodies_never_raise(status: int, body: bytes, content_type: str | None) -> None:
    error = parse_error(status, body, content_type)
    assert isinstance(error, UcwaError)
    assert error.status == status
    for value in (error.code, error.subcode, error.message, error.debug_info, error.note):
        assert is_opt_str(value)
    assert isinstance(error.reason.code, str | None)
    str(error)
    repr(error)


huawei_bodies = st.one_of(
    st.fixed_dictionaries({}, optional={"error_code": scalars, "error_msg": scalars, "extra": json_values}).map(
        lambda d: json.dumps(d).encode()
    ),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
).flatmap(lambda body: st.just(body) | mutated_bytes(body))


@fuzz_settings
@given(status=st.integers(100, 599), body=huawei_bodies)
def test_huawei_error_bodies_never_raise(status: int, body: bytes) -> None:
    error = parse_huawei_error(HttpResponse(status, (("content-type", "application/json"),), body))
    assert isinstance(error, HuaweiError)
    assert is_opt_str(error.error_code)
    assert is_opt_str(error.error_msg)


# [U] documented only as "Unix seconds": numbers past 1e300 and infinities are the known
# bug pinned in tests/corpus (huawei_auth_*_expiry.json); here they stay in range
times = st.one_of(
    st.none(), st.integers(-(10**12), 10**12), st.floats(-1e300, 1e300), st.text(max_size=5), st.booleans()
)
auth_answers = st.fixed_dictionaries(
    {}, optional={"accessToken": scalars, "expireTime": times, "validPeriod": times, "user": json_values}
).map(lambda d: json.dumps(d).encode())


@fuzz_settings
@given(body=auth_answers | st.binary(max_size=30), now=st.floats(0, 2e9))
def test_huawei_auth_answers_give_a_token_or_huawei_auth_error(body: bytes, now: float) -> None:
    auth = HuaweiAuth(AppIdCredentials("fuzz-app", "fuzz-key"))
    try:
        token = auth.accept(HttpResponse(200, (), body), now)
    except HuaweiAuthError:
        assert auth.token is None
        return
    assert isinstance(token, AccessToken)
    assert isinstance(token.value.reveal(), str)
    assert math.isfinite(token.expires_at)
