"""The fuzz suite's inputs: well-formed-but-odd and malformed event documents, JSON and XML.

Built by mutating valid documents (the walks of :mod:`adapters.testing.strategies`): a key
dropped, a value of another type put in its place, bytes spliced in, the body truncated, odd
vocabulary, and XML trees with odd nesting and namespaces; with the content types tried and the
settings every fuzz test runs with. Shared by the ``test_fuzz_*.py`` files, and importable from
anywhere below ``tests/`` (``conftest.py`` puts that folder on ``sys.path``).
"""

from __future__ import annotations

import json
import string
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from adapters.testing.strategies import CHANNEL_MACHINES, event_walks, malformed_responses
from adapters.wire.xml import UCWA_NS

JSON_TYPES = (
    "application/json",
    "application/vnd.microsoft.com.ucwa+json",
    'application/json; type="application/vnd.microsoft.com.ucwa+json"; charset=utf-8',
    "application/json; charset=utf-16",
    "application/json; charset=latin-1",
    "application/json; charset=bogus-8",
)
XML_TYPES = ("application/xml", "text/xml", "application/vnd.microsoft.com.ucwa+xml")
ODD_TYPES = ("", "text/html", "application/octet-stream", "application/problem+json", "multipart/mixed; boundary=x")
CLIENT_URL = "https://fe1.contoso.com/ucwa/oauth/v1/applications/1"

fuzz_settings = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# -- strategies: JSON ----------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["Success", "Failure", "started", "completed", "Incoming", "Outgoing", "Connected", "", "lobby"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.extend(paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out.extend(paths(value, (*prefix, index)))
    return out


def at(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def other_type(value: Any) -> list[Any]:
    """Values of every other JSON type than ``value``'s."""
    candidates: list[Any] = [None, True, 7, 2.5, "x", [], {}, [value], {"href": value}]
    return [c for c in candidates if type(c) is not type(value)]


@st.composite
def mutated_doc(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with one to three structural mutations."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(doc)))
        how = draw(st.sampled_from(["drop", "retype", "replace", "add key", "duplicate", "empty"]))
        if not path:
            if how in ("retype", "replace"):
                doc = draw(st.sampled_from(other_type(doc))) if how == "retype" else draw(json_values)
            continue
        parent, key = at(doc, path[:-1]), path[-1]
        value = parent[key]
        if how == "drop":
            del parent[key]
        elif how == "retype":
            parent[key] = draw(st.sampled_from(other_type(value)))
        elif how == "replace":
            parent[key] = draw(json_values)
        elif how == "add key" and isinstance(value, dict):
            value[draw(st.sampled_from(["href", "rel", "type", "status", "_links", "_embedded", "zz", "in"]))] = draw(
                json_values
            )
        elif how == "duplicate" and isinstance(value, list) and value:
            value.append(json.loads(json.dumps(value[0])))
        elif how == "empty":
            parent[key] = type(value)() if isinstance(value, dict | list | str) else None
    return doc


@st.composite
def mutated_bytes(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` truncated, spliced, cut or with a byte flipped."""
    how = draw(st.sampled_from(["truncate", "splice", "cut", "flip", "repeat"]))
    where = draw(st.integers(0, max(len(body) - 1, 0)))
    if how == "truncate":
        return body[:where]
    if how == "splice":
        junk = draw(
            st.binary(max_size=8) | st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\x00", b'"', b"{", b"]", b"<", b"&"])
        )
        return body[:where] + junk + body[where:]
    if how == "cut":
        return body[:where] + body[where + draw(st.integers(1, 20)) :]
    if how == "flip" and body:
        return body[:where] + bytes([body[where] ^ draw(st.integers(1, 255))]) + body[where + 1 :]
    return body[:where] + body[where : where + 40] * draw(st.integers(2, 4)) + body[where:]


@st.composite
def valid_docs(draw: st.DrawFn) -> dict[str, Any]:
    walk = draw(event_walks(draw(st.sampled_from(CHANNEL_MACHINES)), max_events=4))
    doc: dict[str, Any] = draw(st.sampled_from(walk.responses))
    return doc


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    """Event-channel bodies: mutated documents, mutated bytes, the exported malformed ones, or any JSON."""
    kind = draw(st.sampled_from(["doc", "bytes", "malformed", "any"]))
    if kind == "malformed":
        return draw(malformed_responses())
    if kind == "any":
        return json.dumps(draw(json_values)).encode()
    doc = draw(valid_docs())
    if kind == "doc":
        return json.dumps(draw(mutated_doc(doc))).encode()
    return draw(mutated_bytes(json.dumps(doc).encode()))


# -- strategies: XML ---------------------------------------------------------------------------------------

XML_NAMES = (
    "events",
    "sender",
    "link",
    "resource",
    "property",
    "propertyList",
    "item",
    "started",
    "updated",
    "completed",
    "added",
    "deleted",
    "reason",
    "code",
    "subcode",
    "message",
    "parameters",
    "in",
    "status",
    "mystery",
)
XML_ATTRS = ("rel", "href", "title", "status", "name")
NAMESPACES = (UCWA_NS, "https://schemas.microsoft.com/rtc/2012/03/ucwa", "", "urn:elsewhere")
xml_text = st.text(string.ascii_letters + string.digits + " /:?=&<>\"'", max_size=10)


@st.composite
def xml_element(draw: st.DrawFn, depth: int = 0) -> ET.Element:
    ns = draw(st.sampled_from(NAMESPACES[:3]) if draw(st.integers(0, 9)) else st.sampled_from(NAMESPACES))
    name = draw(st.sampled_from(XML_NAMES))
    element = ET.Element(f"{{{ns}}}{name}" if ns else name)
    for attr in draw(st.lists(st.sampled_from(XML_ATTRS), max_size=3, unique=True)):
        element.set(
            attr, draw(st.sampled_from(["audioVideoInvitation", "/x/1", "next", "Success", "lobby"]) | xml_text)
        )
    if draw(st.booleans()):
        element.text = draw(xml_text)
    if depth < 5:
        for _ in range(draw(st.integers(0, 3))):
            element.append(draw(xml_element(depth + 1)))
    return element


@st.composite
def xml_trees(draw: st.DrawFn) -> bytes:
    """An ``<events>`` root (mostly) with random UCWA-ish content in odd nestings."""
    root = ET.Element(f"{{{UCWA_NS}}}events" if draw(st.integers(0, 5)) else f"{{{UCWA_NS}}}resource")
    if draw(st.booleans()):
        root.set("href", "/e?ack=1")
    next_link = ET.SubElement(root, f"{{{UCWA_NS}}}link")
    next_link.set("rel", draw(st.sampled_from(["next", "resume", "resync", "self", "nope"])))
    next_link.set("href", "/e?ack=2")
    for _ in range(draw(st.integers(0, 3))):
        root.append(draw(xml_element(1)))
    return ET.tostring(root, encoding="utf-8", xml_declaration=draw(st.booleans()))


def xml_from_doc(doc: Mapping[str, Any]) -> bytes:
    """An events document in UCWA XML (docs/protocol.md §6): near-valid input for the XML reader to chew on."""
    root = ET.Element(f"{{{UCWA_NS}}}events")
    for rel, link in (doc.get("_links") or {}).items():
        ET.SubElement(root, f"{{{UCWA_NS}}}link", rel=str(rel), href=str(link.get("href")))
    for sender in doc.get("sender") or []:
        s = ET.SubElement(root, f"{{{UCWA_NS}}}sender", rel=str(sender["rel"]), href=str(sender["href"]))
        for event in sender["events"]:
            e = ET.SubElement(s, f"{{{UCWA_NS}}}{event['type']}", rel=event["link"]["rel"], href=event["link"]["href"])
            if "status" in event:
                e.set("status", str(event["status"]))
            for rel, resource in (event.get("_embedded") or {}).items():
                r = ET.SubElement(e, f"{{{UCWA_NS}}}resource", rel=rel)
                for name, value in resource.items():
                    if name == "_links":
                        for link_rel, link in value.items():
                            ET.SubElement(r, f"{{{UCWA_NS}}}link", rel=link_rel, href=str(link["href"]))
                    elif isinstance(value, str):
                        ET.SubElement(r, f"{{{UCWA_NS}}}property", name=name).text = value
            if isinstance(event.get("reason"), dict):
                reason = ET.SubElement(e, f"{{{UCWA_NS}}}reason")
                for name, value in event["reason"].items():
                    ET.SubElement(reason, f"{{{UCWA_NS}}}{name}").text = str(value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@st.composite
def xml_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["tree", "doc", "mutated doc", "mutated tree"]))
    if kind == "tree":
        return draw(xml_trees())
    if kind == "mutated tree":
        return draw(mutated_bytes(draw(xml_trees())))
    body = xml_from_doc(draw(valid_docs()))
    return body if kind == "doc" else draw(mutated_bytes(body))
