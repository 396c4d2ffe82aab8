"""Request bodies: seed 001's dismiss bodies byte for byte, every action's body, lengths, escaping."""

from __future__ import annotations

import json

import defusedxml.ElementTree as SafeET
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.wire.bodies import Body, BodyError, query_params, render, render_properties
from fsm.actions import PostLink, PostRenegotiation, StartOperation
from fsm.errors import InvalidInput
from fsm.invitation import Invitation, InvitationKind
from fsm.reasons import CallDeclineReason, ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation
from fsm.wire import Direction, Link, Representation

NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"

# Seed 001, XML request: the document as the page prints it, one element per line...
SEED_001_XML_AS_PRINTED = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">\n'
    '<property name="reason">Unknown</property>\n'
    "</input>"
)
# ...and its header: "Content-Length: 149". The printed lines add up to 149
# bytes only without the line breaks (152 with them), so the wire form has none.
SEED_001_XML_CONTENT_LENGTH = 149
# Seed 001, JSON request: printed as '{\n"reason" : "InsufficientBandwidth"\n}', "Content-Length: 34":
# 34 is the compact form's length, so the spaces and breaks are display only.
SEED_001_JSON_CONTENT_LENGTH = 34


def test_seed_001_xml_dismiss_body_exactly() -> None:
    body = render(PostLink("dismiss", ".../dismiss", (("reason", "Unknown"),)), "xml")
    assert body is not None
    assert body.content_type == "application/xml"
    assert body.content == SEED_001_XML_AS_PRINTED.replace("\n", "").encode("utf-8")
    assert len(body.content) == SEED_001_XML_CONTENT_LENGTH


def test_seed_001_xml_dismiss_has_the_same_elements_namespace_and_values() -> None:
    body = render(PostLink("dismiss", ".../dismiss", (("reason", "Unknown"),)), "xml")
    assert body is not None
    ours = SafeET.fromstring(body.content)
    theirs = SafeET.fromstring(SEED_001_XML_AS_PRINTED.encode())

    def shape(element: object) -> list[tuple[str, dict[str, str], str]]:
        return [(e.tag, dict(e.attrib), (e.text or "").strip()) for e in element.iter()]  # type: ignore[attr-defined]

    assert shape(ours) == shape(theirs)
    assert ours.tag == f"{{{NS}}}input"


def test_seed_001_json_dismiss_body() -> None:
    body = render(PostLink("dismiss", ".../dismiss", (("reason", "InsufficientBandwidth"),)), "json")
    assert body == Body("application/json", b'{"reason":"InsufficientBandwidth"}')
    assert len(body.content) == SEED_001_JSON_CONTENT_LENGTH
    assert json.loads(body.content) == {"reason": "InsufficientBandwidth"}


def test_renegotiation_dismiss_action_renders_the_seed_body() -> None:
    dismiss = Link("dismiss", "https://fe1.contoso.com/.../audioVideoRenegotiation/dismiss")
    model = Renegotiation()
    model.started(
        now=0.0,
        representation=Representation(direction=Direction.INCOMING.value, links=(dismiss, Link("answer", "a"))),
    )
    (action,) = model.dismiss(now=1.0, reason=ReNegotiationDeclineReason.UNKNOWN)
    assert isinstance(action, PostLink)
    body = render(action, "xml")
    assert body is not None
    assert len(body.content) == SEED_001_XML_CONTENT_LENGTH


@pytest.mark.parametrize(
    "action",
    [
        PostLink("accept", "a"),
        PostLink("cancel", "c"),
        PostLink("ms:rtc:saas:decline", "d"),
        PostLink("admit", "ad"),
        PostLink("reject", "r"),
        PostLink("answer", "an"),
        PostLink("dismiss", "di"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_actions_without_properties_have_no_body(action: PostLink, fmt: str) -> None:
    assert render(action, fmt) is None  # type: ignore[arg-type]
    assert query_params(action) == ()


def test_decline_with_a_reason() -> None:
    invitation = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    invitation.started(
        now=0.0,
        representation=Representation(state="Connecting", direction="Incoming", links=(Link("decline", "dl"),)),
    )
    (action,) = invitation.decline(now=1.0, reason=CallDeclineReason.GLOBAL)
    assert isinstance(action, PostLink)
    assert render(action, "json") == Body("application/json", b'{"reason":"Global"}')
    xml = render(action, "xml")
    assert xml is not None
    assert xml.content.endswith(b'<property name="reason">Global</property></input>')


def test_start_operation_puts_the_operation_id_first() -> None:
    properties = (("to", "sip:b@x"), ("subject", "Hi"), ("joinAudioMuted", True))
    action = StartOperation("startMessaging", "m", "op-1", properties)
    body = render(action, "json")
    assert body is not None
    assert list(json.loads(body.content).items()) == [
        ("operationId", "op-1"),
        ("to", "sip:b@x"),
        ("subject", "Hi"),
        ("joinAudioMuted", True),
    ]
    xml = render(action, "xml")
    assert xml is not None
    root = SafeET.fromstring(xml.content)
    assert [(p.get("name"), p.text) for p in root] == [
        ("operationId", "op-1"),
        ("to", "sip:b@x"),
        ("subject", "Hi"),
        ("joinAudioMuted", "True"),  # docs/protocol.md §6: XML samples write booleans True/False
    ]


def test_invitation_send_action_renders() -> None:
    invitation = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    (action,) = invitation.send(now=0.0, href="startAudioVideo", operation_id="op", to="sip:a@b", subject="s")
    assert isinstance(action, StartOperation)
    body = render(action, "json")
    assert body is not None
    assert json.loads(body.content) == {"operationId": "op", "to": "sip:a@b", "subject": "s"}


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("operationId", 50),
        ("subject", 250),
        ("sessionContext", 50),
        ("anonymousDisplayName", 250),
        ("callbackUrl", 1024),
    ],
)
def test_max_lengths_are_checked_before_rendering(name: str, limit: int) -> None:
    # docs/protocol.md §1.3 and issue 3: the maxima; at the limit is fine, one more is refused
    def action(length: int) -> StartOperation:
        if name == "operationId":
            return StartOperation("joinOnlineMeeting", "j", "o" * length)
        return StartOperation("joinOnlineMeeting", "j", "op", ((name, "x" * length),))

    assert render(action(limit), "json") is not None
    with pytest.raises(InvalidInput, match=f"invalid {name}: {limit + 1} characters, the maximum is {limit}"):
        render(action(limit + 1), "xml")


def test_sdp_answer_goes_as_sdp_with_its_session_context_in_the_query() -> None:
    action = PostLink("acceptWithAnswer", "aw", (("sessionContext", "ctx-1"),), sdp="v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n")
    assert render(action, "xml") == Body("application/sdp", b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n")
    assert query_params(action) == (("sessionContext", "ctx-1"),)


def test_accept_with_answer_and_provisional_answer_carry_both_query_parameters() -> None:
    # docs/protocol.md §1.5: raw SDP; query sessionContext (required, <= 50) and processedOfferId (<= 100)
    for rel, call in (("acceptWithAnswer", "accept_with_answer"), ("sendProvisionalAnswer", "send_provisional_answer")):
        invitation = Invitation(kind=InvitationKind.AUDIO_VIDEO)
        links = [Link("acceptWithAnswer", "/i/awa"), Link("sendProvisionalAnswer", "/i/spa")]
        invitation.started(now=0.0, href="/i", representation=Representation("Connecting", "Incoming", None, links))
        (action,) = getattr(invitation, call)(now=1.0, sdp="v=0\r\n", session_context="ctx", processed_offer_id="o-1")
        assert isinstance(action, PostLink)
        assert action.rel == rel
        assert render(action, "json") == Body("application/sdp", b"v=0\r\n")
        assert query_params(action) == (("sessionContext", "ctx"), ("processedOfferId", "o-1"))
    # an action built by hand cannot send an over-long processedOfferId either
    built = PostLink("acceptWithAnswer", "/i/awa", (("sessionContext", "c"), ("processedOfferId", "x" * 101)), sdp="v")
    with pytest.raises(InvalidInput, match="processedOfferId"):
        render(built)
    render(PostLink("acceptWithAnswer", "/i/awa", (("processedOfferId", "x" * 100),), sdp="v"))


def test_a_create_without_an_operation_id_sends_none() -> None:
    # UCWA marks operationId optional on its creates (docs/protocol.md §1.5)
    action = StartOperation("startMessaging", "m", None, (("to", "sip:b@x"),))
    body = render(action, "json")
    assert body is not None
    assert json.loads(body.content) == {"to": "sip:b@x"}
    xml = render(action, "xml")
    assert xml is not None
    assert [p.get("name") for p in SafeET.fromstring(xml.content)] == ["to"]


def test_renegotiation_offer_is_sdp_with_its_operation_id_in_the_query() -> None:
    action = PostRenegotiation("renegotiations", "op-9", "v=0\r\n")
    assert render(action, "json") == Body("application/sdp", b"v=0\r\n")
    assert query_params(action) == (("operationId", "op-9"),)
    with pytest.raises(InvalidInput, match="operationId"):
        render(PostRenegotiation("renegotiations", "x" * 51, "v=0\r\n"))
    with pytest.raises(InvalidInput, match="required"):
        query_params(PostRenegotiation("renegotiations", "", "v=0\r\n"))


def test_xml_escapes_markup() -> None:
    body = render_properties({"subject": 'a<b>&"c"'}, "xml")
    assert b"<property name=\"subject\">a&lt;b&gt;&amp;&quot;c&quot;</property>" in body.content
    assert SafeET.fromstring(body.content)[0].text == 'a<b>&"c"'


def test_xml_refuses_characters_it_cannot_carry() -> None:
    with pytest.raises(BodyError, match="U\\+0000"):
        render_properties({"subject": "a\x00b"}, "xml")


def test_unknown_format_and_value_types_are_refused() -> None:
    with pytest.raises(BodyError, match="unknown body format 'yaml'"):
        render_properties({"a": "b"}, "yaml")
    with pytest.raises(BodyError, match="not a string, number or boolean"):
        render_properties({"a": 1.5}, "json")


xml_text = st.text(
    st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters="".join(chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD)) + "\ufffe\uffff",
    ),
    max_size=40,
)


@given(st.dictionaries(xml_text, xml_text, max_size=4))
def test_xml_bodies_read_back_exactly(properties: dict[str, str]) -> None:
    body = render_properties(properties, "xml")
    root = SafeET.fromstring(body.content)
    assert {p.get("name"): (p.text or "") for p in root} == properties


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=30) | st.booleans() | st.integers(), max_size=4))
def test_json_bodies_read_back_exactly(properties: dict[str, str | bool | int]) -> None:
    body = render_properties(properties, "json")
    assert json.loads(body.content) == properties
