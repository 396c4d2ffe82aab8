"""Bytes in and out of the simulator: JSON and XML resources, events, errors, input bodies.

Theory of operation
-------------------
The simulator builds every resource and every event-channel answer as a dict
in the JSON shape (``rel``, properties, ``_links``, ``_embedded``; docs/protocol.md
6). This module writes that dict as JSON, or as UCWA XML when the client's
``Accept`` asks for XML, so both formats say the same thing by construction:

- a resource is ``<resource rel href>`` with ``<link>``, ``<property>``,
  ``<propertyList>`` and nested ``<resource>`` children (an embedded resource
  carries its embedding key as its ``rel``, as the docs' XML sample writes
  ``<resource rel="from">``); booleans are ``True``/``False`` as in the
  samples;
- an event answer is ``<events href>`` with its ``<link>``\\ s and one
  ``<sender>`` per sender entry; each event is an element named after its
  type with ``rel``/``href`` (and ``status``) attributes, an ``<in rel href/>``
  child, a ``<reason>`` child and the embedded ``<resource>``;
- an error is ``{"code", "subcode", "message"}`` or ``<reason>``.

The content type answered mirrors the one asked for: ``application/json``,
``application/vnd.microsoft.com.ucwa+json``, ``application/xml`` or
``application/vnd.microsoft.com.ucwa+xml`` (JSON when ``Accept`` names none).

Request bodies: JSON objects, or UCWA ``<input>`` documents (read with
defusedxml through :mod:`adapters.wire.xml`); property names are matched without
regard to case, because clients write ``UserAgent`` where the docs write
``userAgent``.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

from attrs import frozen

from adapters.wire import xml as uxml

JSON_TYPE: Final = "application/json"
UCWA_JSON_TYPE: Final = "application/vnd.microsoft.com.ucwa+json"
XML_TYPE: Final = "application/xml"
UCWA_XML_TYPE: Final = "application/vnd.microsoft.com.ucwa+xml"
SDP_TYPE: Final = "application/sdp"

Document = dict[str, Any]


@frozen
class Format:
    """How to write an answer: ``xml`` or not, and the content type to send."""

    xml: bool
    content_type: str


def negotiate(accept: str | None) -> Format:
    """The answer format for an ``Accept`` header (JSON unless XML is asked for and JSON is not)."""
    wanted = [part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")]
    for media in wanted:
        if media == UCWA_JSON_TYPE:
            return Format(False, UCWA_JSON_TYPE)
        if media in (JSON_TYPE, "*/*", "application/*"):
            return Format(False, JSON_TYPE)
        if media == UCWA_XML_TYPE:
            return Format(True, UCWA_XML_TYPE)
        if media in (XML_TYPE, "text/xml"):
            return Format(True, XML_TYPE)
    return Format(False, JSON_TYPE)


def text_data_uri(text: str) -> str:
    """A URL-encoded ``text/plain`` data: URI, as the ReceiveAnIM sample writes ``message`` (``Hi+Tosh%0d%0a``)."""
    return "data:text/plain;charset=utf-8," + urllib.parse.quote_plus(text)


def data_uri(mime: str, text: str) -> str:
    """An RFC 2397 ``data:`` URI with a base64 body (as the docs' samples write ``mediaOffer``)."""
    return f"data:{mime};base64,{base64.b64encode(text.encode('utf-8')).decode('ascii')}"


# -- JSON -----------------------------------------------------------------------------------


def json_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_document(
    code: str, subcode: str | None = None, message: str | None = None, parameters: tuple[str, ...] = ()
) -> Document:
    document: Document = {"code": code}
    if subcode is not None:
        document["subcode"] = subcode
    if message is not None:
        document["message"] = message
    if parameters:
        document["parameters"] = [{"name": name} for name in parameters]
    return document


# -- XML ------------------------------------------------------------------------------------

_DECLARATION: Final = '<?xml version="1.0" encoding="utf-8"?>'


def _attr(value: str, what: str) -> str:
    return uxml.escape_text(value, what=what, attribute=True)


def _text(value: str, what: str) -> str:
    return uxml.escape_text(value, what=what)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _links_xml(links: Mapping[str, Any], out: list[str], *, skip_self: bool) -> None:
    for rel, value in links.items():
        if skip_self and rel == "self":
            continue
        for link in value if isinstance(value, list) else [value]:
            if not isinstance(link, Mapping) or not isinstance(link.get("href"), str):
                continue
            title = f' title="{_attr(link["title"], "title")}"' if isinstance(link.get("title"), str) else ""
            out.append(f'<link rel="{_attr(rel, "rel")}" href="{_attr(link["href"], "href")}"{title}/>')


def _resource_xml(document: Mapping[str, Any], rel: str | None, out: list[str], *, root: bool) -> None:
    own_rel = rel if rel is not None else str(document.get("rel", ""))
    links = document.get("_links")
    links = links if isinstance(links, Mapping) else {}
    self_link = links.get("self")
    href = self_link.get("href") if isinstance(self_link, Mapping) else None
    attrs = f' rel="{_attr(own_rel, "rel")}"'
    if isinstance(href, str):
        attrs += f' href="{_attr(href, "href")}"'
    if root:
        attrs += f' xmlns="{uxml.UCWA_NS}"'
    out.append(f"<resource{attrs}>")
    _links_xml(links, out, skip_self=True)
    for name, value in document.items():
        if name in ("rel", "_links", "_embedded"):
            continue
        what = f"property {name!r}"
        if value is None:
            out.append(f'<property name="{_attr(name, "name")}"/>')
        elif isinstance(value, list):
            items = "".join(f"<item>{_text(_scalar(v), what)}</item>" for v in value if not isinstance(v, dict))
            out.append(f'<propertyList name="{_attr(name, "name")}">{items}</propertyList>')
        elif isinstance(value, dict):
            continue  # no nested plain objects in UCWA resources
        else:
            out.append(f'<property name="{_attr(name, "name")}">{_text(_scalar(value), what)}</property>')
    embedded = document.get("_embedded")
    if isinstance(embedded, Mapping):
        for key, value in embedded.items():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Mapping):
                    _resource_xml(item, key, out, root=False)
    out.append("</resource>")


def resource_xml(document: Mapping[str, Any]) -> bytes:
    out = [_DECLARATION]
    _resource_xml(document, None, out, root=True)
    return "".join(out).encode("utf-8")


def _event_xml(event: Mapping[str, Any], out: list[str]) -> None:
    kind = str(event["type"])
    link = event["link"]
    attrs = f' rel="{_attr(link["rel"], "rel")}" href="{_attr(link["href"], "href")}"'
    if isinstance(event.get("status"), str):
        attrs += f' status="{_attr(event["status"], "status")}"'
    out.append(f"<{kind}{attrs}>")
    in_ = event.get("in")
    if isinstance(in_, Mapping):
        out.append(f'<in rel="{_attr(in_["rel"], "rel")}" href="{_attr(in_["href"], "href")}"/>')
    reason = event.get("reason")
    if isinstance(reason, Mapping):
        out.append(_reason_body(reason))
    embedded = event.get("_embedded")
    if isinstance(embedded, Mapping):
        for key, value in embedded.items():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Mapping):
                    _resource_xml(item, key, out, root=False)
    out.append(f"</{kind}>")


def events_xml(document: Mapping[str, Any]) -> bytes:
    links = document.get("_links", {})
    self_href = links.get("self", {}).get("href", "")
    out = [_DECLARATION, f'<events href="{_attr(self_href, "href")}" xmlns="{uxml.UCWA_NS}">']
    _links_xml(links, out, skip_self=True)
    for sender in document.get("sender", []):
        out.append(f'<sender rel="{_attr(sender["rel"], "rel")}" href="{_attr(sender["href"], "href")}">')
        for event in sender["events"]:
            _event_xml(event, out)
        out.append("</sender>")
    out.append("</events>")
    return "".join(out).encode("utf-8")


def _reason_body(reason: Mapping[str, Any]) -> str:
    parts = [f'<reason xmlns="{uxml.UCWA_NS}">'] if reason.get("_root") else ["<reason>"]
    for name in ("code", "subcode", "message"):
        value = reason.get(name)
        if isinstance(value, str):
            parts.append(f"<{name}>{_text(value, name)}</{name}>")
    params = reason.get("parameters")
    if isinstance(params, list) and params:
        parts.append("<parameters>")
        for param in params:
            if isinstance(param, Mapping) and isinstance(param.get("name"), str):
                parts.append(f'<property name="{_attr(param["name"], "name")}"/>')
        parts.append("</parameters>")
    parts.append("</reason>")
    return "".join(parts)


def error_xml(document: Mapping[str, Any]) -> bytes:
    return (_DECLARATION + _reason_body({**document, "_root": True})).encode("utf-8")


# -- input ------------------------------------------------------------------------------------


class InputError(ValueError):
    """A request body the simulator cannot read (answered 400)."""


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    media = _media(content_type)
    return media in (JSON_TYPE, UCWA_JSON_TYPE) or media.endswith("+json")


def is_xml(content_type: str | None) -> bool:
    media = _media(content_type)
    return media in (XML_TYPE, UCWA_XML_TYPE, "text/xml") or media.endswith("+xml")


def is_sdp(content_type: str | None) -> bool:
    return _media(content_type) == SDP_TYPE


def parse_input(body: bytes, content_type: str | None) -> dict[str, object]:
    """The properties of a POST body (empty body: none). Keys keep the client's spelling."""
    if not body.strip():
        return {}
    if is_xml(content_type):
        try:
            root = uxml.parse_xml(body, what="input")
        except uxml.XmlError as exc:
            raise InputError(str(exc)) from None
        if uxml.local_name(root) != "input":
            raise InputError("an XML body must be a UCWA <input> document")
        out: dict[str, object] = {}
        for name, child in uxml.children(root):
            prop = child.get("name")
            if prop is None:
                continue
            if name == "property":
                out[prop] = uxml.text_of(child)
            elif name == "propertyList":
                out[prop] = [uxml.text_of(item) for item_name, item in uxml.children(child) if item_name == "item"]
        return out
    if is_json(content_type) or not content_type:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise InputError("the body is not valid JSON") from None
        if not isinstance(document, dict):
            raise InputError("a JSON body must be an object")
        return document
    raise InputError(f"unsupported Content-Type {content_type!r}")


def prop(properties: Mapping[str, object], name: str) -> object:
    """A property by name, ignoring case (``UserAgent`` and ``userAgent`` are one property)."""
    if name in properties:
        return properties[name]
    wanted = name.lower()
    for key, value in properties.items():
        if key.lower() == wanted:
            return value
    return None


def text_prop(properties: Mapping[str, object], name: str) -> str | None:
    value = prop(properties, name)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) else None
