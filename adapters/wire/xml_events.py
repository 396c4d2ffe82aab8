"""An XML event response (root ``<events>``) turned into the JSON shape, for the one walk to read.

Events are elements named by their type (docs/protocol.md §2.2 and 6); their resources go through
:mod:`adapters.wire.xml`. What does not fit the shape is noted in ``unknown`` and left out. Apart from
the walk so that JSON and XML share one reader: a document and its XML translation give equal values
by construction.
"""

from __future__ import annotations

from typing import Any

from adapters.wire import xml as uxml
from adapters.wire.parse_errors import _Fail


def _xml_events(body: bytes, unknown: list[str]) -> dict[str, object]:
    root = uxml.parse_xml(body, what="event response")
    if uxml.local_name(root) != "events":
        raise _Fail("<events>", f"the root element is <{root.tag}>, not a UCWA <events>")
    doc: dict[str, object] = {}
    links: dict[str, object] = {}
    href = root.get("href")
    if href is not None:
        links["self"] = {"href": href}
    senders: list[object] = []
    for name, child in uxml.children(root):
        if name == "link" and child.get("rel"):
            links[child.get("rel", "")] = uxml.link_to_dict(child)
        elif name == "sender":
            senders.append(_xml_sender(child, f"<events>/sender[{len(senders)}]", unknown))
        elif name == "property" and child.get("name") == "baseuri":
            doc["baseuri"] = uxml.text_of(child)
        else:
            unknown.append(f"<events>: unknown element <{child.tag}> ignored")
    if links:
        doc["_links"] = links
    if senders:
        doc["sender"] = senders
    return doc


def _attrs(element: Any, names: tuple[str, ...]) -> dict[str, object]:
    return {name: element.get(name) for name in names if element.get(name) is not None}


def _xml_sender(element: Any, where: str, unknown: list[str]) -> dict[str, object]:
    out = _attrs(element, ("rel", "href", "title"))
    events: list[object] = []
    for name, child in uxml.children(element):
        if name is None:
            unknown.append(f"{where}: element <{child.tag}> in a foreign namespace ignored")
            continue
        events.append(_xml_event(name, child, f"{where}/{name}[{len(events)}]", unknown))
    out["events"] = events
    return out


def _xml_event(name: str, element: Any, where: str, unknown: list[str]) -> dict[str, object]:
    out: dict[str, object] = {"type": name, "link": _attrs(element, ("rel", "href", "title"))}
    status = element.get("status")
    if status is not None:
        out["status"] = status
    for attr in element.attrib:
        if attr not in ("rel", "href", "title", "status"):
            unknown.append(f"{where}: unknown attribute {attr!r} ignored")
    embedded: dict[str, object] = {}
    for child_name, child in uxml.children(element):
        if child_name == "resource":
            rel = child.get("rel") or element.get("rel") or ""
            uxml.add_repeated(embedded, rel, uxml.resource_to_dict(child, unknown=unknown, where=f"{where}/resource"))
        elif child_name == "reason":
            out["reason"] = uxml.fields_to_dict(child, unknown=unknown, where=f"{where}/reason")
        elif child_name == "in":
            out["in"] = _attrs(child, ("rel", "href", "title"))
        elif child_name == "status":
            out["status"] = uxml.text_of(child)
        else:
            unknown.append(f"{where}: unknown element <{child.tag}> ignored")
    if embedded:
        out["_embedded"] = embedded
    return out
