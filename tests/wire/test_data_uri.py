"""RFC 2397 ``data:`` URIs in content links (docs/protocol.md §6): decoded, bounded, a bad one kept and reported.

Expected bytes come from RFC 2397's own examples, from the docs' samples, or
from encoding a known text with the standard library in the test itself.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.wire.data_uri import KEEP_HREF, MAX_DATA_BYTES, BadDataUri, DataUri, content_links, decode
from adapters.wire.events import parse_events, parse_resource

NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
SDP_B64 = base64.b64encode(SDP.encode()).decode()


def decoded(href: str) -> DataUri:
    result = decode(href)
    assert isinstance(result, DataUri), result
    return result


def test_rfc_2397_brief_note() -> None:
    # RFC 2397 §4: "data:,A%20brief%20note"; no media type means text/plain;charset=US-ASCII (§2)
    uri = decoded("data:,A%20brief%20note")
    assert (uri.media_type, uri.parameters, uri.data, uri.base64) == ("text/plain", (), b"A brief note", False)
    assert uri.charset == "US-ASCII"
    assert uri.text() == "A brief note"


def test_rfc_2397_greek_charset() -> None:
    # RFC 2397 §4: "data:text/plain;charset=iso-8859-7,%be%d3%be"; in ISO 8859-7, BE is Ύ and D3 is Σ
    uri = decoded("data:text/plain;charset=iso-8859-7,%be%d3%be")
    assert uri.data == b"\xbe\xd3\xbe"
    assert uri.parameters == (("charset", "iso-8859-7"),)
    assert uri.text() == "\u038e\u03a3\u038e"


def test_base64_sdp_as_in_the_docs_samples() -> None:
    uri = decoded(f"data:application/sdp;base64,{SDP_B64}")
    assert uri.media_type == "application/sdp"
    assert uri.base64
    assert uri.data == SDP.encode()
    assert uri.text() == SDP  # not text/plain: read as UTF-8


def test_plain_as_in_recorded_saas_traffic() -> None:
    # docs/protocol.md §6: S3 traffic has a plain data:foo/foo,Text
    uri = decoded("data:foo/foo,Text")
    assert (uri.media_type, uri.data, uri.base64) == ("foo/foo", b"Text", False)


def test_url_encoded_text_and_url_encoded_base64() -> None:
    # the page says URL-encoded: percent-escapes in plain data, and a base64 payload whose +, / and = are escaped
    assert decoded("data:text/plain;charset=utf-8,Hello%2C%20world%21").text() == "Hello, world!"
    assert base64.b64encode(b"\xfb\xff") == b"+/8="
    assert decoded("data:application/octet-stream;base64,%2B%2F8%3D").data == b"\xfb\xff"


def test_base64_with_line_breaks_or_without_padding() -> None:
    folded = "\r\n".join(SDP_B64[i : i + 16] for i in range(0, len(SDP_B64), 16))
    assert decoded(f"data:application/sdp;base64,{folded}").data == SDP.encode()
    assert decoded("data:;base64,dj0").data == b"v="  # "dj0=" with its padding left out


def test_case_of_the_scheme_type_and_base64_marker() -> None:
    uri = decoded(f"DATA:Application/SDP;BASE64,{SDP_B64}")
    assert (uri.media_type, uri.data) == ("application/sdp", SDP.encode())


@pytest.mark.parametrize(
    ("href", "why"),
    [
        ("data:application/sdp;base64,base64-encoded-sdp", "bad base64"),  # the docs' own placeholder (§6)
        ("data:application/sdp;base64", "no comma"),
        ("https://fe1.contoso.com/ucwa/v1/x", "not a data: URI"),
        ("data:sdp;base64,AAAA", "not type/subtype"),
        ("data:text/plain;charset,abc", "not name=value"),
        ("data:,\ud800", "bad percent-encoding"),  # a lone surrogate cannot be turned into bytes
        ("data:;base64,A", "bad base64"),  # one character is no base64 quantum
    ],
)
def test_bad_uris_are_kept_and_say_why(href: str, why: str) -> None:
    result = decode(href)
    assert isinstance(result, BadDataUri)
    assert result.href == href
    assert why in result.why


def test_wrong_type_is_reported_not_raised() -> None:
    result = decode(42)
    assert isinstance(result, BadDataUri)
    assert "not int" in result.why


def test_size_is_bounded_before_decoding() -> None:
    big = "A" * (MAX_DATA_BYTES * 2)
    for href in (f"data:;base64,{big}", f"data:,{big}"):
        result = decode(href)
        assert isinstance(result, BadDataUri)
        assert f"more than {MAX_DATA_BYTES} bytes" in result.why
        assert len(result.href) == KEEP_HREF  # the report keeps a recognisable head, not 512 KiB
    assert isinstance(decode("data:,12345", limit=4), BadDataUri)
    assert decoded("data:,1234").data == b"1234"
    assert isinstance(decode("data:,1234", limit=4), DataUri)


def test_oversized_payload_is_never_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    # the bound is checked on the text's length first, so a huge href costs no decoding at all
    import adapters.wire.data_uri as module

    def refuse(*_: object, **__: object) -> bytes:
        raise AssertionError("decoded an oversized payload")

    monkeypatch.setattr(module.base64, "b64decode", refuse)
    monkeypatch.setattr(module, "unquote_to_bytes", refuse)
    for href in ("data:;base64," + "A" * 8, "data:," + "A" * 6):
        result = decode(href, limit=5)
        assert isinstance(result, BadDataUri)
        assert "more than 5 bytes" in result.why


def test_undecodable_text_gives_none_not_an_error() -> None:
    assert decoded("data:text/plain;charset=utf-8,%ff").text() is None
    assert decoded("data:text/plain;charset=no-such-charset,abc").text() is None


@given(st.text(max_size=300))
def test_decode_never_raises(href: str) -> None:
    for candidate in (href, "data:" + href, "data:;base64," + href):
        assert isinstance(decode(candidate), DataUri | BadDataUri)


@given(st.binary(max_size=500))
def test_round_trips_base64_and_percent_encoding(data: bytes) -> None:
    assert decoded("data:application/octet-stream;base64," + base64.b64encode(data).decode()).data == data
    assert decoded("data:application/octet-stream," + quote_from_bytes(data)).data == data


# -- where the docs say they appear -----------------------------------------------------------------

def test_content_links_of_a_resource() -> None:
    resource = {
        "_links": {
            "self": {"href": "/inv/1"},
            "mediaOffer": {"href": f"data:application/sdp;base64,{SDP_B64}"},
            "ms:rtc:saas:customContent": {"href": "data:text/plain;charset=utf-8,%7B%22a%22%3A1%7D"},
            "ms:rtc:saas:message": {"href": "data:application/sdp;base64,base64-encoded-sdp"},
            "mediaAnswer": {"href": "/renegotiations/1/mediaAnswer"},  # an ordinary link: GET it, nothing to decode
            "cancel": {"href": "data:,not content"},  # not a content rel
        }
    }
    found = content_links(resource)
    assert set(found) == {"mediaOffer", "ms:rtc:saas:customContent", "ms:rtc:saas:message"}
    offer = found["mediaOffer"]
    assert isinstance(offer, DataUri)
    assert offer.data == SDP.encode()
    custom = found["ms:rtc:saas:customContent"]
    assert isinstance(custom, DataUri)
    assert json.loads(custom.data) == {"a": 1}
    assert isinstance(found["ms:rtc:saas:message"], BadDataUri)


def test_content_links_tolerate_odd_shapes() -> None:
    assert content_links({}) == {}
    assert content_links({"_links": []}) == {}
    found = content_links({"_links": {"message": [{"href": "data:,hi"}, {"href": "data:,again"}], "mediaOffer": 5}})
    assert isinstance(found["message"], DataUri)
    assert found["message"].data == b"hi"
    assert isinstance(found["mediaOffer"], BadDataUri)


def test_an_event_gives_its_decoded_media_offer() -> None:
    # an incoming renegotiation started with its offer embedded (docs/protocol.md §4: mediaOffer is a data: link)
    body = {
        "_links": {"self": {"href": "e?ack=1"}, "next": {"href": "e?ack=2"}},
        "sender": [
            {
                "rel": "communication",
                "href": "/communication",
                "events": [
                    {
                        "link": {"rel": "audioVideoRenegotiation", "href": "/reneg/1"},
                        "type": "started",
                        "_embedded": {
                            "audioVideoRenegotiation": {
                                "direction": "Incoming",
                                "_links": {
                                    "self": {"href": "/reneg/1"},
                                    "mediaOffer": {"href": f"data:application/sdp;base64,{SDP_B64}"},
                                },
                            }
                        },
                    },
                    {"link": {"rel": "audioVideoInvitation", "href": "/inv/2"}, "type": "updated"},
                ],
            }
        ],
    }
    started, bare = parse_events(json.dumps(body).encode(), "application/json").events
    offer = started.content["mediaOffer"]
    assert isinstance(offer, DataUri)
    assert offer.text() == SDP
    assert bare.content == {}  # nothing embedded: nothing to decode, no error


def test_the_docs_xml_sample_keeps_its_placeholder_offer_as_bad() -> None:
    # docs/protocol.md §6 XML sample: its mediaOffer is the placeholder "base64-encoded-sdp"
    xml = f"""<resource rel="audioVideoInvitation" href=".../invitations/507" xmlns="{NS}">
  <link rel="mediaOffer" href="data:application/sdp;base64,base64-encoded-sdp" />
  <link rel="customContent" href="data:text/plain;base64,{base64.b64encode(b"hi there").decode()}" />
  <property name="state">Connecting</property>
</resource>""".encode()
    found = content_links(parse_resource(xml, "application/vnd.microsoft.com.ucwa+xml"))
    bad = found["mediaOffer"]
    assert isinstance(bad, BadDataUri)
    assert bad.href == "data:application/sdp;base64,base64-encoded-sdp"
    custom = found["customContent"]
    assert isinstance(custom, DataUri)
    assert custom.text() == "hi there"
