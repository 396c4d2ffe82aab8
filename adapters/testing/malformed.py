"""Malformed event-channel bodies: what :func:`~adapters.wire.events.parse_events` must refuse or report.

Each body is a valid response of a random walk broken one way (truncated, a wrong type where the
shape is fixed, the continuation links missing, an unknown type or rel, a huge number, invalid
UTF-8). Apart from the walks because it breaks their output and needs nothing of their insides.
"""

from __future__ import annotations

import json
import string
from typing import Any, Final

import hypothesis.strategies as st

from adapters.testing.streams import CHANNEL_MACHINES, event_walks
from adapters.wire.events import KNOWN_RELS, EventType
from fsm.wire import SAAS_PREFIX

_HUGE: Final = "\x00huge\x00"
_BAD_TEXT: Final = "BADUTF8HERE"
#: Invalid UTF-8 (a lone continuation byte, a bad second byte, an overlong form, a cut
#: sequence, a five-byte form). Encoded surrogates (``\xed\xa0\x80``) are left out: parse_events
#: accepts them today, as ``json.loads`` decodes bytes with ``surrogatepass``.
_INVALID_UTF8: Final = (b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xe2\x82", b"\xf8\x88\x80\x80\x80")
#: Numbers far outside anything a field means: a 5000-digit integer, floats past the double range.
_HUGE_NUMBERS: Final = ("9" * 5000, "1" + "0" * 400, "1e999", "-1e999", "123456789012345678901234567890")

_Path = tuple[str | int, ...]
_EVENT: Final[_Path] = ("sender", 0, "events", 0)
#: Where a wrong type must be refused: (path, the wrong values to try there).
_NOT_OBJECT: Final = (["a"], "x", 7, True)
_NOT_STRING: Final = (7, 1.5, ["a"], {"a": 1}, True, None)
_NOT_LIST: Final = ({"a": 1}, "x", 7)
_WRONG_TYPES: Final[tuple[tuple[_Path, tuple[Any, ...]], ...]] = (
    (("_links",), _NOT_OBJECT),
    (("_links", "next"), (*_NOT_OBJECT, None)),
    (("_links", "next", "href"), _NOT_STRING),
    (("sender",), _NOT_LIST),
    (("sender", 0), (*_NOT_OBJECT, None)),
    (("sender", 0, "rel"), _NOT_STRING),
    (("sender", 0, "href"), _NOT_STRING),
    (("sender", 0, "events"), _NOT_LIST),
    (_EVENT, (*_NOT_OBJECT, None)),
    ((*_EVENT, "link"), (*_NOT_OBJECT, None)),
    ((*_EVENT, "link", "href"), _NOT_STRING),
    ((*_EVENT, "link", "rel"), _NOT_STRING),
    ((*_EVENT, "type"), _NOT_STRING),
    ((*_EVENT, "status"), (7, ["Success"], {"a": 1}, True)),
    ((*_EVENT, "reason"), ("Busy", 7, ["a"])),
    ((*_EVENT, "_embedded"), (["a"], "x", 7)),
)
_STRING_FIELDS: Final[tuple[_Path, ...]] = (
    ("_links", "next", "href"),
    ("sender", 0, "rel"),
    ("sender", 0, "href"),
    (*_EVENT, "link", "href"),
    (*_EVENT, "type"),
)


def _set(doc: Any, path: _Path, value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode("ascii")


def _known_type(text: str) -> bool:
    return EventType.parse(text) is not None


@st.composite
def malformed_responses(draw: st.DrawFn) -> bytes:
    """A JSON event-channel body that :func:`~adapters.wire.events.parse_events` must refuse or report.

    Drawn from a valid response of a random walk, then broken one way:
    truncated; a wrong type where the shape is fixed; the continuation links
    missing; an unknown event type or rel (accepted, reported in ``unknown``);
    a huge number, where a string belongs or in an extra field; invalid UTF-8
    inside a string. Parse with ``require_links=True`` (the P-GET default).
    """
    walk = draw(event_walks(draw(st.sampled_from(CHANNEL_MACHINES)), max_events=3))
    doc: dict[str, Any] = json.loads(json.dumps(walk.responses[0]))
    how = draw(st.sampled_from(("truncated", "wrong type", "no links", "unknown type", "unknown rel", "huge", "utf8")))
    if how == "truncated":
        body = _dump(doc)
        # a proper prefix of an object's text never closes the object
        return body[: draw(st.integers(0, len(body) - 1))]
    if how == "wrong type":
        path, values = draw(st.sampled_from(_WRONG_TYPES))
        _set(doc, path, draw(st.sampled_from(values)))
        return _dump(doc)
    if how == "no links":
        if draw(st.booleans()):
            del doc["_links"]
        else:
            doc["_links"] = {"self": doc["_links"]["self"]}
        return _dump(doc)
    if how == "unknown type":
        text = draw(st.text(string.ascii_letters + string.digits, min_size=1, max_size=12))
        _set(doc, (*_EVENT, "type"), text if not _known_type(text) else text + "ish")
        return _dump(doc)
    if how == "unknown rel":
        text = draw(st.text(string.ascii_letters, min_size=1, max_size=12))
        rel = text if text not in KNOWN_RELS else text + "Thing"
        _set(doc, (*_EVENT, "link", "rel"), draw(st.sampled_from(("", SAAS_PREFIX))) + rel)
        return _dump(doc)
    if how == "huge":
        where = draw(st.sampled_from((*_STRING_FIELDS, ("huge",))))
        _set(doc, where, _HUGE)
        number = draw(st.sampled_from(_HUGE_NUMBERS)).encode("ascii")
        return _dump(doc).replace(_dump(_HUGE), number)
    where = draw(st.sampled_from(_STRING_FIELDS))
    _set(doc, where, _BAD_TEXT)
    return _dump(doc).replace(_BAD_TEXT.encode("ascii"), draw(st.sampled_from(_INVALID_UTF8)))

