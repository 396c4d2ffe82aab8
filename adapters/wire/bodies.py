"""Request bodies for the machines' actions: JSON, XML ``<input>``, or SDP.

Theory of operation
-------------------
A machine's action names the properties to send (:mod:`fsm.actions`); this
module writes them in the format the app chose:

- JSON: one compact object, properties in the action's order
  (``{"reason":"InsufficientBandwidth"}``, ``Content-Type: application/json``);
- XML: ``<input xmlns=UCWA><property name="..">..</property></input>``
  (``Content-Type: application/xml``), byte for byte as seed 001's dismiss
  sample: its ``Content-Length: 149`` is the document with no line breaks
  (see :func:`adapters.wire.xml.input_document`); booleans are written ``True`` /
  ``False`` as in the docs' XML samples;
- an SDP offer or answer is sent as is, ``Content-Type: application/sdp``.
  The link's other properties (``sessionContext``, ``processedOfferId``) and a renegotiation's
  ``operationId`` go in the query string (:func:`query_params`), not the body.

An action with nothing to send has no body (:func:`render` returns ``None``):
``accept``, ``cancel``, ``admit``, ``reject``, ``answer``, and ``decline`` or
``dismiss`` without a reason.

Lengths are checked again here (``operationId`` 50, ``subject`` 250,
``sessionContext`` 50, ``processedOfferId`` 100, ``anonymousDisplayName`` 250,
``callbackUrl`` 1024: :data:`fsm.invitation.MAX_LENGTHS`), so an action built
by hand cannot send an over-long value either: :class:`fsm.errors.InvalidInput`,
nothing rendered. A create sent without an operation id (UCWA marks it
optional) has no ``operationId`` property at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final, Literal, NamedTuple

from adapters.wire import xml as uxml
from fsm.actions import PostLink, PostRenegotiation, PropertyValue, StartOperation
from fsm.errors import CallFsmError, InvalidInput
from fsm.invitation import MAX_LENGTHS, check_lengths

BodyFormat = Literal["json", "xml"]

JSON_CONTENT_TYPE: Final = "application/json"
XML_CONTENT_TYPE: Final = "application/xml"
SDP_CONTENT_TYPE: Final = "application/sdp"

#: The machine name used in length errors raised here.
_WHO = "request"


class Body(NamedTuple):
    """A request body and its ``Content-Type`` (unpacks as ``content_type, content``)."""

    content_type: str
    content: bytes


class BodyError(CallFsmError, ValueError):
    """A body cannot be written (unknown format, a value the format cannot carry)."""


def _json_value(name: str, value: object) -> PropertyValue:
    if isinstance(value, bool | int | str):
        return value
    raise BodyError(f"property {name!r}: {type(value).__name__} is not a string, number or boolean")


def _xml_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | str):
        return str(value)
    raise BodyError(f"property {name!r}: {type(value).__name__} is not a string, number or boolean")


def render_properties(properties: Mapping[str, object], body_format: str = "json") -> Body:
    """``properties`` as a JSON object or an XML ``<input>``, with its content type."""
    if body_format == "json":
        document = {name: _json_value(name, value) for name, value in properties.items()}
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        return Body(JSON_CONTENT_TYPE, text.encode("utf-8"))
    if body_format == "xml":
        values = {name: _xml_value(name, value) for name, value in properties.items()}
        try:
            return Body(XML_CONTENT_TYPE, uxml.input_document(values))
        except uxml.XmlError as exc:
            raise BodyError(str(exc)) from None
    raise BodyError(f"unknown body format {body_format!r}: use 'json' or 'xml'")


def render(action: PostLink | StartOperation | PostRenegotiation, fmt: BodyFormat = "json") -> Body | None:
    """The body of ``action``'s request, or ``None`` when it sends none."""
    if isinstance(action, PostRenegotiation):
        _check_operation_id(action.operation_id)
        return Body(SDP_CONTENT_TYPE, action.sdp.encode("utf-8"))
    if isinstance(action, StartOperation):
        properties = action.body()
        check_lengths(_WHO, properties)
        return render_properties(properties, fmt)
    if isinstance(action, PostLink):
        properties = action.body()
        check_lengths(_WHO, properties)
        if action.sdp is not None:
            return Body(SDP_CONTENT_TYPE, action.sdp.encode("utf-8"))
        if not properties:
            return None
        return render_properties(properties, fmt)
    raise BodyError(f"{type(action).__name__} has no UCWA request body")


def query_params(action: PostLink | StartOperation | PostRenegotiation) -> tuple[tuple[str, str], ...]:
    """What ``action`` sends in the query string (to append to the link's href, which is kept as is)."""
    if isinstance(action, PostRenegotiation):
        _check_operation_id(action.operation_id)
        return (("operationId", action.operation_id),)
    if isinstance(action, PostLink) and action.sdp is not None:
        return tuple((name, _xml_value(name, value).lower() if isinstance(value, bool) else str(value))
                     for name, value in action.properties)
    return ()


def _check_operation_id(operation_id: str) -> None:
    if not operation_id:
        raise InvalidInput(_WHO, "operationId", "an operation id is required")
    limit = MAX_LENGTHS["operationId"]
    if len(operation_id) > limit:
        raise InvalidInput(_WHO, "operationId", f"{len(operation_id)} characters, the maximum is {limit}")
