"""The sans-IO request layer: actions to request descriptions, responses to triggers.

Expected values come from the seeds (000 cancel, 001 dismiss, 004 Huawei
DELETE) and docs/protocol.md §1.5, 4, 5.2, 6, 7.1; nothing is copied from the code.
"""

from __future__ import annotations

import json
import pickle
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.wire.requests import (
    Created,
    Failed,
    HttpResponse,
    RequestError,
    Secret,
    Succeeded,
    Unexpected,
    apply_response,
    build_request,
    classify_response,
    huawei_request,
)
from fsm.actions import DeleteSeries, DeleteSubMeetings, FetchResource, PostLink, PostRenegotiation, StartOperation
from fsm.errors import InvalidInput
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.reasons import CallDeclineReason, ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation, RenegotiationState
from fsm.wire import Link, Representation

BASE = "https://fe1.contoso.com:443/ucwa/v1/applications/192/"
TOKEN = "cwt=PHNhbWw6QXNzZXJ0aW9uIHhtbG5"
UCWA_NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"


def outgoing() -> tuple[Invitation, StartOperation]:
    inv = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    (action,) = inv.send(
        now=0.0, href="communication/startAudioVideo", operation_id="op-42", to="sip:bob@contoso.com", subject="Hi"
    )
    assert isinstance(action, StartOperation)
    return inv, action


def ringing_outgoing() -> Invitation:
    inv, _ = outgoing()
    inv.created(now=1.0, href="communication/invitations/665")
    inv.started(
        now=1.1,
        href="communication/invitations/665",
        representation=Representation(
            state="Connecting", direction="Outgoing", links=[Link("cancel", "communication/invitations/665/cancel")]
        ),
    )
    return inv


def incoming() -> Invitation:
    inv = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    inv.started(
        now=1.0,
        href="communication/invitations/507",
        representation=Representation(
            state="Connecting",
            direction="Incoming",
            links=[Link("accept", "invitations/507/accept"), Link("decline", "invitations/507/decline")],
        ),
    )
    return inv


# -- requests -----------------------------------------------------------------------------------


def test_create_post_is_json_with_operation_id_and_bearer_token() -> None:
    _, action = outgoing()
    request = build_request(action, base_url=BASE, token=TOKEN)
    assert request.method == "POST"
    assert request.url == "https://fe1.contoso.com:443/ucwa/v1/applications/192/communication/startAudioVideo"
    assert request.header("Authorization") == Secret(f"Bearer {TOKEN}")
    assert dict(request.wire_headers())["Authorization"] == f"Bearer {TOKEN}"
    assert request.header("Content-Type") == "application/json"
    assert request.body is not None
    # docs/protocol.md §1.5: startAudioVideo takes operationId, to, subject...
    assert json.loads(request.body) == {"operationId": "op-42", "to": "sip:bob@contoso.com", "subject": "Hi"}


def test_cancel_posts_the_link_with_no_body() -> None:
    (action,) = ringing_outgoing().cancel(now=2.0)
    request = build_request(action, base_url=BASE, token=TOKEN)
    # seed 000: POST .../communication/invitations/665/cancel, request body None
    assert (request.method, request.url) == ("POST", BASE + "communication/invitations/665/cancel")
    assert request.body == b""
    assert request.header("Content-Type") is None


def test_decline_reason_in_json() -> None:
    (action,) = incoming().decline(now=2.0, reason=CallDeclineReason.LOCAL)
    request = build_request(action, base_url=BASE, token=TOKEN)
    assert request.body is not None
    assert json.loads(request.body) == {"reason": "Local"}


def test_dismiss_xml_body_is_seed_001_exactly() -> None:
    action = PostLink("dismiss", "communication/conversations/137/audioVideo/audioVideoSession/renegotiations/"
                      "audioVideoRenegotiation/dismiss", (("reason", ReNegotiationDeclineReason.UNKNOWN.value),))
    request = build_request(action, base_url=BASE, token=TOKEN, body_format="xml")
    expected = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<input xmlns="{UCWA_NS}">'
        '<property name="reason">Unknown</property>'
        "</input>"
    ).encode()
    assert request.body == expected
    assert len(expected) == 149  # the seed's Content-Length
    assert request.header("Content-Type") == "application/xml"
    assert request.header("Accept") == "application/vnd.microsoft.com.ucwa+xml"


def test_dismiss_json_body_is_seed_001() -> None:
    action = PostLink("dismiss", "x/dismiss", (("reason", "InsufficientBandwidth"),))
    request = build_request(action, base_url=BASE, token=TOKEN)
    assert request.body is not None
    assert len(request.body) == 34  # the seed's Content-Length for {"reason":"InsufficientBandwidth"}
    assert json.loads(request.body) == {"reason": "InsufficientBandwidth"}


def test_accept_with_answer_sends_sdp_and_session_context_in_the_query() -> None:
    action = PostLink("acceptWithAnswer", "invitations/507/acceptWithAnswer", (("sessionContext", "ctx-1"),), sdp="v=0")
    request = build_request(action, base_url=BASE, token=TOKEN)
    assert request.header("Content-Type") == "application/sdp"
    assert request.body == b"v=0"
    assert dict(parse_qsl(urlsplit(request.url).query)) == {"sessionContext": "ctx-1"}


def test_renegotiation_offer_posts_sdp_with_operation_id_query() -> None:
    action = PostRenegotiation("conversations/137/audioVideo/audioVideoSession/renegotiations", "op-7", "v=0\r\n")
    request = build_request(action, base_url=BASE, token=TOKEN)
    parts = urlsplit(request.url)
    assert parts.path.endswith("/audioVideoSession/renegotiations")
    assert dict(parse_qsl(parts.query)) == {"operationId": "op-7"}
    assert (request.header("Content-Type"), request.body) == ("application/sdp", b"v=0\r\n")


def test_fetch_is_a_get() -> None:
    request = build_request(FetchResource("communication/invitations/9", "why"), base_url=BASE, token=TOKEN)
    assert (request.method, request.body) == ("GET", None)


def test_an_href_keeps_its_own_query_byte_for_byte() -> None:
    action = PostLink("cancel", "https://fe1.contoso.com/x/terminate?endpointId=sip%3Aa%40b&key=a%2Bb")
    assert build_request(action, base_url=BASE, token=TOKEN).url == action.href


def test_huawei_delete_series_headers() -> None:
    request = build_request(DeleteSeries("984697426", cancel_ongoing=True), base_url="https://api.example", token="tk")
    parts = urlsplit(request.url)
    assert (request.method, parts.path) == ("DELETE", "/v1/mmc/management/cycleconferences")
    assert dict(parse_qsl(parts.query)) == {"conferenceID": "984697426", "type": "1"}
    names = {name.lower() for name, _ in request.headers}
    assert "x-access-token" in names
    # seed 004: deprecated, never sent; and no bearer token on Huawei
    assert names.isdisjoint({"x-authorization-type", "x-site-id", "useruuid", "authorization"})
    assert "userUUID" not in request.url


def test_huawei_plain_cancel_has_no_type() -> None:
    request = huawei_request(DeleteSeries("1"), base_url="https://api.example", access_token=Secret("t"))
    assert dict(parse_qsl(urlsplit(request.url).query)) == {"conferenceID": "1"}


def test_huawei_sub_meetings_body() -> None:
    action = DeleteSubMeetings("984697426", ("uuid-1", "uuid-2"))
    request = build_request(action, base_url="https://api.example", token="tk")
    assert urlsplit(request.url).path == "/v1/mmc/management/conferences/cyclesubconf"
    assert request.body is not None
    assert json.loads(request.body) == {"cycleSubConfIDs": ["uuid-1", "uuid-2"]}


def test_huawei_needs_a_token() -> None:
    with pytest.raises(RequestError, match="access token"):
        build_request(DeleteSeries("1"), base_url="https://api.example", token=None)


def test_an_over_long_value_in_a_hand_built_action_is_refused_before_any_request() -> None:
    action = StartOperation("startAudioVideo", "communication/startAudioVideo", "x" * 51, (("to", "sip:a@b"),))
    with pytest.raises(InvalidInput, match="operationId"):
        build_request(action, base_url=BASE, token=TOKEN)


# -- secrets --------------------------------------------------------------------------------------


def test_secret_never_shows_itself() -> None:
    secret = Secret(TOKEN)
    assert repr(secret) == str(secret) == f"{secret}" == "Secret('***')"
    assert TOKEN not in repr(build_request(FetchResource("a", "b"), base_url=BASE, token=secret))
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_response_repr_leaves_the_body_out() -> None:
    response = HttpResponse(200, (("content-type", "application/json"),), b'{"accessToken":"sekrit"}')
    assert "sekrit" not in repr(response)


@given(
    props=st.dictionaries(
        st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12).filter(lambda k: k not in {"operationId"}),
        st.text(max_size=30) | st.booleans() | st.integers(-5, 5),
        max_size=4,
    )
)
def test_json_body_round_trips_and_never_carries_the_token(props: dict[str, str | bool | int]) -> None:
    action = PostLink("forward", "invitations/1/forward", tuple(props.items()))
    request = build_request(action, base_url=BASE, token=TOKEN)
    assert TOKEN.encode() not in (request.body or b"")
    assert json.loads(request.body or b"{}") == props


# -- responses -------------------------------------------------------------------------------------


def response(status: int, body: bytes = b"", content_type: str = "", location: str | None = None) -> HttpResponse:
    headers = [("content-type", content_type)] if content_type else []
    if location is not None:
        headers.append(("location", location))
    return HttpResponse(status, tuple(headers), body)


def test_201_with_location_is_created() -> None:
    inv, action = outgoing()
    applied = apply_response(inv, action, response(201, location="/ucwa/v1/applications/192/invitations/665"), now=1.0)
    assert isinstance(applied.outcome, Created)
    assert inv.state is InvitationState.CONNECTING
    assert inv.href == "/ucwa/v1/applications/192/invitations/665"


def test_201_without_location_drives_nothing() -> None:
    inv, action = outgoing()
    applied = apply_response(inv, action, response(201), now=1.0)
    assert isinstance(applied.outcome, Unexpected)
    assert inv.state is InvitationState.SENDING


def test_204_is_request_succeeded() -> None:
    inv = ringing_outgoing()
    (action,) = inv.cancel(now=2.0)
    applied = apply_response(inv, action, response(204), now=2.1)
    assert isinstance(applied.outcome, Succeeded)
    # the 204 says nothing of the outcome; completed decides (docs/protocol.md §1.5)
    assert inv.state is InvitationState.CANCEL_ANSWERED
    assert inv.history[-1].trigger.value == "request_succeeded"


@pytest.mark.parametrize(
    ("status", "body"),
    [(204, b""), (409, b'{"code":"Conflict","subcode":"None","message":"the call is connected"}')],
)
def test_the_cancel_response_after_a_crossed_success_returns_the_hang_up(status: int, body: bytes) -> None:
    # the cancel race: completed Success came while the cancel was in flight, so the machine asked for
    # nothing; the cancel's response, accepted or refused, is what brings the hang-up, for the adapter to send
    inv = ringing_outgoing()
    (action,) = inv.cancel(now=2.0)
    terminate = Link("cancel", "communication/conversations/1/audioVideo/terminate")
    connected = Representation("Connected", links=[terminate])
    assert inv.completed(now=2.05, status="Success", representation=connected) == ()
    assert inv.state is InvitationState.CANCEL_CROSSED
    applied = apply_response(inv, action, response(status, body, "application/json"), now=2.1)
    assert applied.violation is None
    assert applied.actions == (PostLink("cancel", terminate.href),)
    assert inv.state is InvitationState.HANGING_UP
    (hang_up,) = applied.actions
    assert apply_response(inv, hang_up, response(204), now=2.2).actions == ()
    assert inv.state is InvitationState.HUNG_UP


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"code":"Conflict","subcode":"AlreadyExists","message":"x"}', "application/json"),
        (
            f'<reason xmlns="{UCWA_NS}"><code>Conflict</code><subcode>AlreadyExists</subcode>'
            "<message>x</message></reason>".encode(),
            "application/vnd.microsoft.com.ucwa+xml",
        ),
    ],
)
def test_sync_error_is_typed_and_fails_the_request(body: bytes, content_type: str) -> None:
    inv = ringing_outgoing()
    (action,) = inv.cancel(now=2.0)
    applied = apply_response(inv, action, response(409, body, content_type), now=2.1)
    error = applied.error
    assert error is not None
    assert (error.status, error.code, error.subcode) == (409, "Conflict", "AlreadyExists")
    # a refused cancel goes back to where the invitation was ringing
    assert inv.state is InvitationState.CONNECTING
    assert inv.history[-1].reason is not None
    assert "AlreadyExists" in inv.history[-1].reason


def test_create_refused_by_a_proxy_without_body_fails_the_invitation() -> None:
    inv, action = outgoing()
    applied = apply_response(inv, action, response(500, b"<html>oops</html>", "text/html"), now=1.0)
    assert applied.error is not None
    # docs/protocol.md §5.2: 500 is ServiceFailure
    assert (applied.error.status, applied.error.code) == (500, "ServiceFailure")
    assert inv.state is InvitationState.FAILED
    assert inv.outcome is not None
    assert not inv.outcome.success


def test_renegotiation_409_already_exists_is_the_collision() -> None:
    reneg = Renegotiation()
    (action,) = reneg.offer(now=0.0, href="session/renegotiations", operation_id="op-1", sdp="v=0")
    applied = apply_response(
        reneg, action, response(409, b'{"code":"Conflict","subcode":"AlreadyExists"}', "application/json"), now=1.0
    )
    assert isinstance(applied.outcome, Failed)
    assert applied.outcome.collision
    assert reneg.state is RenegotiationState.COLLIDED


def test_renegotiation_other_409_is_not_a_collision() -> None:
    reneg = Renegotiation()
    (action,) = reneg.offer(now=0.0, href="session/renegotiations", operation_id="op-1", sdp="v=0")
    applied = apply_response(
        reneg, action, response(409, b'{"code":"Conflict","subcode":"TooManyGroups"}', "application/json"), now=1.0
    )
    assert isinstance(applied.outcome, Failed)
    assert not applied.outcome.collision
    assert reneg.state is RenegotiationState.FAILED


def test_renegotiation_201_carries_the_resource() -> None:
    reneg = Renegotiation()
    (action,) = reneg.offer(now=0.0, href="session/renegotiations", operation_id="op-1", sdp="v=0")
    body = json.dumps(
        {
            "rel": "audioVideoRenegotiation",
            "direction": "Outgoing",
            "operationId": "op-1",
            "_links": {"self": {"href": "session/renegotiations/audioVideoRenegotiation"}},
        }
    ).encode()
    apply_response(reneg, action, response(201, body, "application/json"), now=1.0)
    assert reneg.state is RenegotiationState.OFFERED
    assert reneg.href == "session/renegotiations/audioVideoRenegotiation"


def test_fetch_of_a_final_state_completes_the_invitation() -> None:
    inv = ringing_outgoing()
    inv.completed(now=2.0)  # bare completed: the machine asks for a GET
    assert inv.state is InvitationState.CONNECTING
    body = json.dumps({"state": "Connected", "direction": "Outgoing", "_links": {"self": {"href": "x"}}}).encode()
    fetch = FetchResource(inv.href or "", "bare completed")
    applied = apply_response(inv, fetch, response(200, body, "application/json"), now=3.0)
    assert applied.violation is None
    assert inv.state is InvitationState.CONNECTED


def test_a_refused_trigger_is_reported_not_raised() -> None:
    inv = ringing_outgoing()
    (action,) = inv.cancel(now=2.0)
    inv.completed(now=2.5, status="Failure", reason=None)  # now Failed: the 204 arrives late but is absorbed
    applied = apply_response(inv, action, response(204), now=3.0)
    assert applied.violation is None
    assert inv.state is InvitationState.FAILED
    # a 201 on a connected hang-up path is not in the table: recorded as a violation
    fresh, start = outgoing()
    fresh.created(now=1.0, href="a")
    violating = apply_response(fresh, start, response(200), now=1.5)
    assert violating.violation is not None
    assert fresh.state is InvitationState.CONNECTING


def test_classify_unexpected_3xx() -> None:
    _, action = outgoing()
    assert isinstance(classify_response(action, response(302)), Unexpected)
