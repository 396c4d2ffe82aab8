"""UCWA XML in and out: defusedxml for parsing, hand-written bytes for output.

Theory of operation
-------------------
Everything that reads XML from the wire goes through :func:`parse_xml`, which
uses ``defusedxml`` with every guard on: a document type declaration, an
entity declaration (billion laughs, quadratic blowup) or an external entity
is refused before anything is expanded, and the refusal is an
:class:`XmlError`, never a half-parsed tree. ``xml.etree`` is imported for
its types only.

UCWA XML (docs/protocol.md §6) says the same things as UCWA JSON with
elements instead of keys. :func:`resource_to_dict` turns a ``<resource>``
into the JSON shape (``rel``, ``_links``, properties, ``_embedded``) so that
one function downstream reads both formats:

- ``<resource rel href>``: ``rel`` and the ``self`` link;
- ``<link rel href [title]/>``: ``_links[rel]``; a rel seen twice becomes a list
  (XML cannot tell a one-element list from a single link, so neither can we);
- ``<property name>text</property>``: ``name: text``; an empty element is ``None``;
- ``<propertyList name><item>..</item></propertyList>``: ``name: [..]``;
- a nested ``<resource rel>``: ``_embedded[rel]`` (a list when repeated).

XML has no value types: every property stays a string (``True`` stays
``"True"``). [U] Converting booleans would guess wrong for a subject that
happens to read ``True``; the machines only read strings anyway.

The namespace is ``http://schemas.microsoft.com/rtc/2012/03/ucwa``. One page
of the docs writes it with ``https``; both are accepted, and so are
un-namespaced elements, because a receiver that refused them would gain
nothing. Output always uses the ``http`` form of :data:`UCWA_NS`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import defusedxml
import defusedxml.ElementTree as SafeET

from fsm.errors import CallFsmError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

#: The UCWA namespace, as every output document writes it.
UCWA_NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
#: Namespaces accepted on input ("" is no namespace at all).
ACCEPTED_NAMESPACES = frozenset({UCWA_NS, "https://schemas.microsoft.com/rtc/2012/03/ucwa", ""})

#: Nested ``<resource>`` elements deeper than this are refused: real resources
#: nest two or three levels, and the walk is recursive.
MAX_DEPTH = 32


class XmlError(CallFsmError, ValueError):
    """An XML body could not be read: malformed, refused as dangerous, or not UCWA."""

    def __init__(self, what: str, why: str, *, refused: bool = False) -> None:
        self.what = what
        self.why = why
        #: True when defusedxml refused the document (entities, DTD, external references).
        self.refused = refused
        super().__init__(f"{what}: {why}")


def parse_xml(body: bytes, *, what: str) -> Element:
    """Parse untrusted bytes with defusedxml; raise :class:`XmlError` on any failure.

    ``what`` names the document in the error message (``"event response"``).
    """
    try:
        return SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise XmlError(
            what,
            "a document type declaration is not allowed (refused by defusedxml: entity expansion"
            " and external entities are declared there)",
            refused=True,
        ) from None
    except defusedxml.EntitiesForbidden as exc:
        raise XmlError(
            what, f"entity declaration {exc.name!r} refused by defusedxml (entity expansion)", refused=True
        ) from None
    except defusedxml.ExternalReferenceForbidden:
        raise XmlError(what, "external reference refused by defusedxml", refused=True) from None
    except defusedxml.DefusedXmlException as exc:
        raise XmlError(what, f"refused by defusedxml: {exc}", refused=True) from None
    except SafeET.ParseError as exc:
        raise XmlError(what, f"not well-formed XML ({exc})") from None
    except (ValueError, UnicodeError, LookupError, RecursionError) as exc:
        # LookupError: expat asks the codecs registry for the encoding the declaration names
        raise XmlError(what, f"not readable as XML ({type(exc).__name__})") from None


def split_tag(tag: str) -> tuple[str, str]:
    """``{ns}local`` -> ``(ns, local)``; an un-namespaced tag has ``ns == ""``."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def local_name(element: Element) -> str | None:
    """The element's local name when it is in an accepted namespace, else ``None``."""
    tag = element.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return None
    return _accepted_local_name(tag)


@functools.lru_cache(maxsize=512)
def _accepted_local_name(tag: str) -> str | None:
    # asked for every element, and a document repeats a handful of tags: remembered (bounded)
    ns, local = split_tag(tag)
    return local if ns in ACCEPTED_NAMESPACES else None


def children(element: Element) -> Iterable[tuple[str | None, Element]]:
    """``(local name or None, child)`` for every child element."""
    for child in element:
        yield local_name(child), child


def text_of(element: Element) -> str | None:
    """The element's text, or ``None`` when it is empty (``<message/>``)."""
    text = element.text
    return text if text else None


def add_repeated(target: dict[str, object], key: str, value: object) -> None:
    """Set ``key``; a second value turns it into a list, as JSON writes repeated rels."""
    if key not in target:
        target[key] = value
        return
    existing = target[key]
    if isinstance(existing, list):
        existing.append(value)
    else:
        target[key] = [existing, value]


def link_to_dict(element: Element) -> dict[str, object]:
    """``<link rel href title/>`` (or any element with those attributes) -> ``{"href", "title"?}``."""
    out: dict[str, object] = {}
    href = element.get("href")
    if href is not None:
        out["href"] = href
    title = element.get("title")
    if title is not None:
        out["title"] = title
    return out


def resource_to_dict(
    element: Element, *, unknown: list[str] | None = None, where: str = "resource"
) -> dict[str, object]:
    """A ``<resource>`` element in the JSON shape (see the module docstring).

    Elements that are not part of the resource format are left out and, when
    ``unknown`` is given, described there (``where`` prefixes the description).
    Raises :class:`XmlError` only for nesting deeper than :data:`MAX_DEPTH`.
    """
    return _resource(element, unknown, where, 0)


def _resource(element: Element, unknown: list[str] | None, where: str, depth: int) -> dict[str, object]:
    if depth > MAX_DEPTH:
        raise XmlError(where, f"resources nested deeper than {MAX_DEPTH} levels")
    out: dict[str, object] = {}
    links: dict[str, object] = {}
    embedded: dict[str, object] = {}
    rel = element.get("rel")
    if rel is not None:
        out["rel"] = rel
    href = element.get("href")
    if href is not None:
        links["self"] = {"href": href}
    for name, child in children(element):
        if name == "link":
            child_rel = child.get("rel")
            if child_rel is None:
                _note(unknown, f"{where}: <link> without rel ignored")
                continue
            add_repeated(links, child_rel, link_to_dict(child))
        elif name == "property":
            prop = child.get("name")
            if prop is None:
                _note(unknown, f"{where}: <property> without name ignored")
                continue
            add_repeated(out, prop, text_of(child))
        elif name == "propertyList":
            prop = child.get("name")
            if prop is None:
                _note(unknown, f"{where}: <propertyList> without name ignored")
                continue
            out[prop] = [text_of(item) for item_name, item in children(child) if item_name == "item"]
        elif name == "resource":
            child_rel = child.get("rel") or ""
            add_repeated(embedded, child_rel, _resource(child, unknown, f"{where}/resource[{child_rel}]", depth + 1))
        else:
            _note(unknown, f"{where}: unknown element <{_shown(child)}> ignored")
    if links:
        out["_links"] = links
    if embedded:
        out["_embedded"] = embedded
    return out


def fields_to_dict(element: Element, *, unknown: list[str] | None = None, where: str = "element") -> dict[str, object]:
    """Simple child elements (``<code>BadRequest</code>``) -> ``{"code": "BadRequest"}``.

    Used for ``<reason>``. ``<parameters>`` becomes a list of ``{"name", "value"}``
    from its ``<property name>`` children ([U]: the docs name the element, not its content).
    """
    out: dict[str, object] = {}
    for name, child in children(element):
        if name is None:
            _note(unknown, f"{where}: element <{_shown(child)}> in a foreign namespace ignored")
        elif name == "parameters":
            out["parameters"] = [
                {"name": item.get("name") or item_name or "", "value": text_of(item)}
                for item_name, item in children(child)
            ]
        elif name == "link":
            out["link"] = link_to_dict(child)
        else:
            out[name] = text_of(child)
    return out


def _shown(element: Element) -> str:
    return element.tag if isinstance(element.tag, str) else "?"


def _note(unknown: list[str] | None, text: str) -> None:
    if unknown is not None:
        unknown.append(text)


# -- output ----------------------------------------------------------------------

_XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'


def _allowed_xml_char(code: int) -> bool:
    # XML 1.0 section 2.2 Char production
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def escape_text(text: str, *, what: str, attribute: bool = False) -> str:
    """Escape character data or a double-quoted attribute value; refuse what XML 1.0 cannot carry.

    ``\r`` is written as a character reference, because a parser turns a
    literal one into ``\n``; in attributes ``\n`` and ``\t`` too, because a
    parser turns them into spaces. So every value reads back exactly.
    """
    for ch in text:
        if not _allowed_xml_char(ord(ch)):
            raise XmlError(what, f"contains U+{ord(ch):04X}, which XML 1.0 cannot carry")
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    out = out.replace("\r", "&#13;")
    if attribute:
        out = out.replace("\n", "&#10;").replace("\t", "&#9;")
    return out


def input_document(properties: Mapping[str, str]) -> bytes:
    """A UCWA ``<input>`` body, byte for byte as the docs' samples send it.

    No whitespace between elements: the dismiss sample of seed 001 prints its
    lines separately, but its ``Content-Length: 149`` counts the document with
    no line breaks (with ``\\n`` it would be 152), as the JSON sample's 34
    counts ``{"reason":"InsufficientBandwidth"}`` without its display spaces.
    """
    parts = [_XML_DECLARATION, f'<input xmlns="{UCWA_NS}">']
    for name, value in properties.items():
        parts.append(
            f'<property name="{escape_text(name, what=f"property name {name!r}", attribute=True)}">'
            f"{escape_text(value, what=f'property {name!r}')}</property>"
        )
    parts.append("</input>")
    return "".join(parts).encode("utf-8")
