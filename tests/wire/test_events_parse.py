"""Event-channel parsing: documented samples in JSON and XML, and bad input of every kind.

Expected values come from the samples themselves (tests/samples/README.md
says where each one is from) and from docs/protocol.md sections 2.2, 2.4 and 6.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.wire.events import (
    MAX_EVENTS_BODY,
    EventLink,
    EventParseError,
    EventsResponse,
    EventType,
    ReasonBody,
    ReasonParameter,
    ResourceParseError,
    parse_events,
    parse_resource,
    representation_of,
)
from fsm.reasons import Reason
from fsm.wire import Link

SAMPLES = Path(__file__).parent.parent / "samples"
JSON = "application/json"
UCWA_JSON = "application/vnd.microsoft.com.ucwa+json"
TAP_JSON = 'application/json; type="application/vnd.microsoft.com.ucwa+json"; charset=utf-8'
UCWA_XML = "application/vnd.microsoft.com.ucwa+xml"
NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"

PAIRS = sorted(p.stem for p in SAMPLES.glob("*.json"))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def doc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(sample(name))
    return loaded


def as_body(document: object) -> bytes:
    return json.dumps(document).encode("utf-8")


# -- documented samples --------------------------------------------------------------------


@pytest.mark.parametrize("stem", PAIRS)
def test_each_sample_parses_to_the_same_values_in_json_and_xml(stem: str) -> None:
    from_json = parse_events(sample(f"{stem}.json"), JSON)
    from_xml = parse_events(sample(f"{stem}.xml"), UCWA_XML)
    assert from_json == from_xml
    assert from_json.events, "every sample carries at least one event"


def test_seed_002_started_sample() -> None:
    response = parse_events(sample("seed002_started.json"), TAP_JSON)
    base = "http://sample:80/ucwa/v1/applications/appId/events?ack=37"
    assert response.self_href == base
    assert response.next_href == base  # the seed's self and next are equal
    assert response.resume_href is None
    assert response.resync_href is None
    (sender,) = response.senders
    assert (sender.rel, sender.href) == ("ms:rtc:saas:communication", "communication")
    (event,) = sender.events
    assert event.link == EventLink("ms:rtc:saas:audioVideoInvitation", "communication/invitations/137")
    assert event.link.name == "audioVideoInvitation"
    assert event.type == "started"
    assert event.event_type is EventType.STARTED
    assert event.known
    assert event.status is None
    assert event.reason is None
    assert event.embedded is None
    assert event.in_ is None
    assert response.unknown == ()


def test_seed_003_updated_keeps_self_and_next_as_given() -> None:
    # docs/protocol.md §2.4: self ack=11, next ack=21; next is never derived from self
    response = parse_events(sample("seed003_updated.json"), UCWA_JSON)
    assert response.self_href is not None
    assert response.self_href.endswith("ack=11")
    assert response.next_href is not None
    assert response.next_href.endswith("ack=21")
    assert response.continuation == response.next_href


def test_send_an_im_completed_carries_its_embedded_resource() -> None:
    response = parse_events(sample("sendanim_completed.xml"), UCWA_XML)
    (event,) = response.events
    assert event.status == "Success"
    assert event.event_type is EventType.COMPLETED
    assert event.operation_id == "5028e824-..."
    representation = event.representation()
    assert representation is not None
    assert representation.state == "Connected"
    assert representation.direction == "Outgoing"
    assert representation.operation_id == "5028e824-..."
    assert representation.links == (Link("self", "..."),)


def test_lobby_sample_has_its_in_link() -> None:
    (event,) = parse_events(sample("lobby_added.xml"), UCWA_XML).events
    assert event.in_ == EventLink("lobby", ".../conversations/137/lobby")
    assert event.event_type is EventType.ADDED


def test_saas_failure_reason_with_null_message() -> None:
    (event,) = parse_events(sample("saas_prompt_failure.json"), TAP_JSON).events
    assert event.status == "Failure"
    assert event.reason == ReasonBody(code="Informational", subcode="PromptsStopped", message=None)
    assert event.reason.to_reason() == Reason("Informational", "PromptsStopped", None)
    assert event.in_ is not None
    assert event.in_.name == "audioVideoFlow"


def test_s1_eventchannel_sample_pair() -> None:
    response = parse_events(sample("s1_eventchannel.xml"), "application/xml")
    assert [s.rel for s in response.senders] == ["communication", "me"]
    assert [e.type for e in response.events] == ["updated", "updated", "added", "added", "added"]
    resource = response.events[0].resource
    assert resource is not None
    assert resource["supportedModalities"] == ["Messaging"]
    assert resource["etag"] == "2943169141"
    links = representation_of(resource).links
    assert Link("startMessaging", "/ucwa/oauth/v1/applications/102/communication/messagingInvitations") in links
    assert len(links) == 5  # self + 4


# -- content types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [JSON, UCWA_JSON, TAP_JSON, "Application/JSON", "application/json;charset=UTF-8"],
)
def test_json_content_types(content_type: str) -> None:
    assert parse_events(sample("seed002_started.json"), content_type).events


@pytest.mark.parametrize("content_type", ["application/xml", UCWA_XML, "text/xml; charset=utf-8"])
def test_xml_content_types(content_type: str) -> None:
    assert parse_events(sample("seed002_started.xml"), content_type).events


@pytest.mark.parametrize("content_type", ["text/html", "", "application/octet-stream", 'multipart/related; type="x"'])
def test_unsupported_content_type_is_a_clear_error(content_type: str) -> None:
    with pytest.raises(EventParseError, match="Content-Type: unsupported content type"):
        parse_events(sample("seed002_started.json"), content_type)


def test_charset_other_than_utf8_is_honoured() -> None:
    body = json.dumps(doc("seed002_started.json"), ensure_ascii=False).encode("utf-16")
    assert parse_events(body, "application/json; charset=utf-16").events


def test_unknown_charset_is_a_clear_error() -> None:
    with pytest.raises(EventParseError, match="unknown charset"):
        parse_events(sample("seed002_started.json"), "application/json; charset=klingon")


# -- size limit ------------------------------------------------------------------------------


def test_ten_megabyte_body_is_refused_before_parsing() -> None:
    # Parsed, this would fail as "nested too deeply" at "$"; the size check comes first.
    body = b"[" * (10 * 1024 * 1024)
    with pytest.raises(EventParseError) as caught:
        parse_events(body, JSON)
    assert caught.value.where == "body"
    assert caught.value.why.startswith("10485760 bytes, above the MAX_EVENTS_BODY limit of 4194304 bytes")


def test_limit_is_four_mebibytes_and_inclusive() -> None:
    assert MAX_EVENTS_BODY == 4 * 1024 * 1024
    core = sample("seed002_started.json").strip()
    at_limit = core + b" " * (MAX_EVENTS_BODY - len(core))
    assert len(at_limit) == MAX_EVENTS_BODY
    assert parse_events(at_limit, JSON).events
    with pytest.raises(EventParseError, match="above the MAX_EVENTS_BODY limit"):
        parse_events(at_limit + b" ", JSON)


# -- truncated and malformed bodies ------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 10, 100, -1, -2])
def test_truncated_json_is_a_clear_error(cut: int) -> None:
    body = sample("seed002_completed.json").strip()[:cut]
    with pytest.raises(EventParseError, match=r"event response: \$: not valid JSON"):
        parse_events(body, JSON)


def test_truncated_json_at_the_end_says_so() -> None:
    body = sample("seed002_completed.json").strip()[:-1]
    with pytest.raises(EventParseError, match="truncated"):
        parse_events(body, JSON)


@given(st.data())
def test_every_proper_prefix_of_a_sample_is_refused(data: st.DataObject) -> None:
    # a prefix of a top-level object never closes it, so it is never valid JSON
    name = data.draw(st.sampled_from([f"{p}.json" for p in PAIRS]))
    body = sample(name).strip()
    cut = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    with pytest.raises(EventParseError):
        parse_events(body[:cut], JSON)


def test_truncated_xml_is_a_clear_error() -> None:
    body = sample("sendanim_completed.xml")[:-30]
    with pytest.raises(EventParseError, match="not well-formed XML"):
        parse_events(body, UCWA_XML)


def test_xml_with_another_root_is_refused() -> None:
    body = f'<resource xmlns="{NS}" rel="x" href="y"/>'.encode()
    with pytest.raises(EventParseError, match="not a UCWA <events>"):
        parse_events(body, UCWA_XML)


def mutate(path: tuple[object, ...], value: object) -> bytes:
    document: Any = doc("sendanim_completed.json")
    target = document
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return as_body(document)


DELETE = object()
EVENT = ("sender", 0, "events", 0)


@pytest.mark.parametrize(
    ("path", "value", "where", "why"),
    [
        (("_links",), [{"rel": "next", "href": "x"}], "$._links", "expected an object (rel -> link), got an array"),
        (("_links", "next"), "x", "$._links.next", "expected an object, got a string"),
        (("_links", "next", "href"), 7, "$._links.next.href", "expected a string, got a number"),
        (("sender",), "communication", "$.sender", "expected an array of senders, got a string"),
        (("sender", 0), ["x"], "$.sender[0]", "expected a sender object, got an array"),
        (("sender", 0, "href"), DELETE, "$.sender[0].href", "missing"),
        (("sender", 0, "events"), {"a": 1}, "$.sender[0].events", "expected an array of events"),
        (EVENT, "started", "$.sender[0].events[0]", "expected an event object, got a string"),
        ((*EVENT, "link"), DELETE, "$.sender[0].events[0].link", "missing"),
        ((*EVENT, "link"), "http://x", "$.sender[0].events[0].link", "expected an object, got a string"),
        ((*EVENT, "link", "href"), 60, "$.sender[0].events[0].link.href", "expected a string, got a number"),
        ((*EVENT, "link", "rel"), DELETE, "$.sender[0].events[0].link.rel", "required field missing"),
        ((*EVENT, "type"), DELETE, "$.sender[0].events[0].type", "missing"),
        ((*EVENT, "type"), ["completed"], "$.sender[0].events[0].type", "expected a string, got an array"),
        ((*EVENT, "status"), True, "$.sender[0].events[0].status", "expected a string, got a boolean"),
        ((*EVENT, "_embedded"), [], "$.sender[0].events[0]._embedded", "expected an object"),
        ((*EVENT, "reason"), "Declined", "$.sender[0].events[0].reason", "expected an object, got a string"),
        ((*EVENT, "reason"), {"code": 1}, "$.sender[0].events[0].reason.code", "expected a string, got a number"),
        ((*EVENT, "reason"), {"parameters": 3}, "$.sender[0].events[0].reason.parameters", "expected an array or an"),
        ((*EVENT, "link", "title"), [], "$.sender[0].events[0].link.title", "expected a string, got an array"),
        ((*EVENT, "in"), {"rel": "lobby"}, "$.sender[0].events[0].in.href", "required field missing"),
        (("baseuri",), 5, "$.baseuri", "expected a string, got a number"),
    ],
)
def test_wrong_types_are_errors_with_their_path(path: tuple[object, ...], value: object, where: str, why: str) -> None:
    with pytest.raises(EventParseError) as caught:
        parse_events(mutate(path, value), JSON)
    assert caught.value.where == where
    assert why in caught.value.why
    assert str(caught.value).startswith(f"event response: {where}: ")


def test_root_that_is_not_an_object() -> None:
    with pytest.raises(EventParseError, match=r"\$: expected an object, got an array"):
        parse_events(b"[]", JSON)


def test_error_after_the_links_carries_them_so_the_loop_can_go_on() -> None:
    with pytest.raises(EventParseError) as caught:
        parse_events(mutate(("sender",), "oops"), JSON)
    assert caught.value.next_href == ".../events?ack=6"


def test_missing_links_is_an_error_for_the_pget_loop() -> None:
    body = mutate(("_links",), DELETE)
    with pytest.raises(EventParseError, match=r"\$\._links: missing"):
        parse_events(body, JSON)


def test_missing_links_is_accepted_for_a_webhook_post() -> None:
    response = parse_events(mutate(("_links",), DELETE), TAP_JSON, require_links=False)
    assert response.next_href is None
    assert len(response.events) == 1


def test_links_without_a_continuation_is_an_error() -> None:
    body = mutate(("_links",), {"self": {"href": "s"}})
    with pytest.raises(EventParseError, match="no next, resume or resync"):
        parse_events(body, JSON)


def test_resync_only_response() -> None:
    # docs/protocol.md §2.2: a wrong ack gets a response with a single resync link
    response = parse_events(as_body({"_links": {"resync": {"href": "e?ack=3"}}}), JSON)
    assert response.resync_href == "e?ack=3"
    assert response.next_href is None
    assert response.continuation == "e?ack=3"
    assert response.senders == ()


def test_resume_replaces_next() -> None:
    body = as_body({"_links": {"self": {"href": "e?ack=9"}, "resume": {"href": "e?ack=10"}}, "sender": []})
    response = parse_events(body, JSON)
    assert response.resume_href == "e?ack=10"
    assert response.continuation == "e?ack=10"


# -- dangerous XML ---------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE events [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<events xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa" href="e?ack=1">
 <link rel="next" href="e?ack=2"/>
 <sender rel="communication" href="c"><started rel="audioVideoInvitation" href="&lol9;"/></sender>
</events>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE events [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<events xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa" href="e?ack=1">
 <link rel="next" href="e?ack=2"/>
 <sender rel="communication" href="c"><started rel="audioVideoInvitation" href="&xxe;"/></sender>
</events>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE events SYSTEM "http://127.0.0.1:9/evil.dtd">
<events xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa" href="e?ack=1"><link rel="next" href="n"/></events>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD], ids=["bomb", "entity", "dtd"])
def test_dangerous_xml_is_refused_by_defusedxml(body: bytes) -> None:
    with pytest.raises(EventParseError, match="refused by defusedxml") as caught:
        parse_events(body, UCWA_XML)
    assert caught.value.where == "<events>"
    assert "passwd" not in str(caught.value)


# -- unknown but well-formed input is kept and reported ------------------------------------------


def test_unknown_event_type_is_kept_not_raised() -> None:
    response = parse_events(mutate((*EVENT, "type"), "exploded"), JSON)
    (event,) = response.events
    assert not event.known
    assert event.event_type is None
    assert event.type == "exploded"
    assert any("unknown event type 'exploded'" in line for line in response.unknown)


def test_event_type_is_read_ignoring_case() -> None:
    (event,) = parse_events(mutate((*EVENT, "type"), "Completed"), JSON).events
    assert event.known
    assert event.event_type is EventType.COMPLETED


def test_unknown_rel_and_fields_are_reported() -> None:
    document: Any = doc("sendanim_completed.json")
    document["extra"] = 1
    document["_links"]["weird"] = {"href": "w"}
    document["sender"][0]["events"][0]["link"]["rel"] = "hologramInvitation"
    document["sender"][0]["events"][0]["colour"] = "blue"
    response = parse_events(as_body(document), JSON)
    assert len(response.events) == 1
    assert response.unknown == (
        "$._links: unknown rel 'weird' ignored",
        "$.sender[0].events[0].link: unknown rel 'hologramInvitation'",
        "$.sender[0].events[0]: unknown field 'colour' ignored",
        "$: unknown field 'extra' ignored",
    )


@pytest.mark.parametrize("status", ["Success", "success", "SUCCESS", "Failure", "failure"])
def test_documented_status_in_any_case_is_not_reported(status: str) -> None:
    response = parse_events(mutate((*EVENT, "status"), status), JSON)
    assert response.events[0].status == status  # kept verbatim
    assert response.events[0].completion_status is not None
    assert response.unknown == ()


def test_missing_status_is_none() -> None:
    response = parse_events(mutate((*EVENT, "status"), DELETE), JSON)
    assert response.events[0].status is None
    assert response.unknown == ()


def test_unknown_status_and_reason_code_are_reported() -> None:
    document: Any = doc("sendanim_completed.json")
    event = document["sender"][0]["events"][0]
    event["status"] = "Partial"
    event["reason"] = {"code": "Exploded", "subcode": "Kaboom", "message": "m", "debugInfo": {"x": 1}}
    response = parse_events(as_body(document), JSON)
    (parsed,) = response.events
    assert parsed.reason == ReasonBody("Exploded", "Kaboom", "m", debug_info='{"x": 1}')
    assert "$.sender[0].events[0].status: unknown status 'Partial' (neither Success nor Failure)" in response.unknown
    assert "$.sender[0].events[0].reason.code: unknown code 'Exploded'" in response.unknown


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([{"name": "subject", "value": "x" * 3}], (ReasonParameter("subject", "xxx"),)),
        (["to", "subject"], (ReasonParameter("to"), ReasonParameter("subject"))),
        ({"subject": 251}, (ReasonParameter("subject", "251"),)),
        (None, ()),
    ],
)
def test_reason_parameters_shapes(raw: object, expected: tuple[ReasonParameter, ...]) -> None:
    reason_object = {"code": "BadRequest", "subcode": "ParameterValidationFailure", "parameters": raw}
    body = mutate((*EVENT, "reason"), reason_object)
    reason = parse_events(body, JSON).events[0].reason
    assert reason is not None
    assert reason.parameters == expected


def test_unknown_xml_elements_are_reported() -> None:
    body = f"""<events xmlns="{NS}" href="e?ack=1"><link rel="next" href="e?ack=2"/><gadget/>
    <sender rel="communication" href="c"><started rel="audioVideoInvitation" href="i" colour="red">
    <widget/></started></sender></events>""".encode()
    response = parse_events(body, UCWA_XML)
    assert len(response.events) == 1
    # in document order: <gadget> comes before the sender
    assert response.unknown == (
        f"<events>: unknown element <{{{NS}}}gadget> ignored",
        "<events>/sender[0]/started[0]: unknown attribute 'colour' ignored",
        f"<events>/sender[0]/started[0]: unknown element <{{{NS}}}widget> ignored",
    )


def test_xml_without_namespace_reads_like_namespaced() -> None:
    namespaced = sample("sendanim_completed.xml")
    bare = namespaced.replace(f' xmlns="{NS}"'.encode(), b"")
    assert bare != namespaced
    assert parse_events(bare, "application/xml") == parse_events(namespaced, "application/xml")


def test_xml_status_as_child_element() -> None:
    # [U] no XML sample shows status: the attribute and a <status> child are both read
    body = f"""<events xmlns="{NS}" href="e?ack=1"><link rel="next" href="n"/><sender rel="c" href="c">
    <completed rel="messagingInvitation" href="i"><status>Failure</status>
    <reason><code>RemoteFailure</code><subcode>Declined</subcode><parameters><property name="to">x</property>
    </parameters></reason></completed></sender></events>""".encode()
    (event,) = parse_events(body, UCWA_XML).events
    assert event.status == "Failure"
    assert event.reason == ReasonBody("RemoteFailure", "Declined", parameters=(ReasonParameter("to", "x"),))


# -- representations -------------------------------------------------------------------------


def test_link_rel_with_an_array_gives_several_links() -> None:
    resource = {
        "state": "Connecting",
        "_links": {"self": {"href": "s"}, "participant": [{"href": "p1"}, {"href": "p2", "title": "B"}]},
    }
    expected = (Link("self", "s"), Link("participant", "p1"), Link("participant", "p2"))
    assert representation_of(resource).links == expected


def test_representation_tolerates_wrong_types() -> None:
    representation = representation_of({"state": 3, "direction": None, "_links": {"a": "x", "b": [1, {"href": 2}]}})
    assert representation.state is None
    assert representation.links == ()


XML_RESOURCE = f"""<resource rel="audioVideoInvitation" href=".../invitations/507" xmlns="{NS}">
  <link rel="mediaOffer" href="data:application/sdp;base64,base64-encoded-sdp" />
  <link rel="cancel" href=".../invitations/665/cancel" />
  <property name="direction">Incoming</property>
  <property name="state">Connecting</property>
  <resource rel="from" href=".../participants/196"><property name="inLobby">True</property></resource>
</resource>""".encode()


def test_domain_section_6_xml_resource() -> None:
    resource = parse_resource(XML_RESOURCE, UCWA_XML)
    assert resource["rel"] == "audioVideoInvitation"
    assert resource["_embedded"] == {
        "from": {"rel": "from", "inLobby": "True", "_links": {"self": {"href": ".../participants/196"}}}
    }
    representation = representation_of(resource)
    assert representation.state == "Connecting"
    assert representation.direction == "Incoming"
    assert representation.link("cancel") == Link("cancel", ".../invitations/665/cancel")
    assert representation.link("self") == Link("self", ".../invitations/507")


def test_xml_and_json_resource_read_the_same() -> None:
    as_json = {
        "rel": "audioVideoInvitation",
        "direction": "Incoming",
        "state": "Connecting",
        "_links": {
            "self": {"href": ".../invitations/507"},
            "mediaOffer": {"href": "data:application/sdp;base64,base64-encoded-sdp"},
            "cancel": {"href": ".../invitations/665/cancel"},
        },
        "_embedded": {"from": {"rel": "from", "inLobby": "True", "_links": {"self": {"href": ".../participants/196"}}}},
    }
    assert parse_resource(as_body(as_json), UCWA_JSON) == parse_resource(XML_RESOURCE, UCWA_XML)


@pytest.mark.parametrize(
    ("body", "content_type", "why"),
    [
        (b"[1]", JSON, "expected an object"),
        (b"{", JSON, "not valid JSON"),
        (b"<events/>", UCWA_XML, "not a UCWA <resource>"),
        (b"x", "text/plain", "unsupported content type"),
        (BILLION_LAUGHS, UCWA_XML, "refused by defusedxml"),
    ],
)
def test_bad_resource_bodies(body: bytes, content_type: str, why: str) -> None:
    with pytest.raises(ResourceParseError, match=why):
        parse_resource(body, content_type)


# -- fuzzing: only EventParseError, ever ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["_links", "sender", "events", "link", "href", "rel", "type", "status", "reason", "in", "x"]),
        children,
        max_size=5,
    ),
    max_leaves=30,
)


@given(json_values)
def test_any_json_document_gives_a_response_or_an_event_parse_error(value: object) -> None:
    try:
        response = parse_events(as_body(value), JSON, require_links=False)
    except EventParseError:
        return
    assert isinstance(response, EventsResponse)


@given(st.binary(max_size=300), st.sampled_from([JSON, UCWA_XML]))
def test_any_bytes_give_a_response_or_an_event_parse_error(body: bytes, content_type: str) -> None:
    with contextlib.suppress(EventParseError):
        parse_events(body, content_type)
