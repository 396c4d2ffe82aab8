"""Synchronous UCWA errors: an HTTP status and its body, as one typed exception.

Theory of operation
-------------------
A request refused synchronously answers 4xx/5xx with a UCWA error body
(docs/protocol.md §5.2): JSON ``{"code", "subcode", "message", "parameters",
"debugInfo"}`` or XML ``<reason xmlns=UCWA><code/><subcode/>...</reason>``.
Only ``code`` is required. Proxies and load balancers answer with an empty or
HTML body instead, so :func:`parse_error` never raises: whatever it cannot
read as a UCWA error becomes a :class:`UcwaError` whose code is the one the
docs' table gives for the HTTP status (``HTTP_STATUS_CODE_NAMES``; ``None``
for a status the table lacks, such as 401 or 502).

The body is never copied into the message (a proxy page may echo request
headers, and tokens must not reach logs); only its content type and size are.

:attr:`UcwaError.reason` is what a machine's ``request_failed`` trigger takes;
:attr:`UcwaError.is_collision` tells the renegotiation collision (409
Conflict/AlreadyExists, at most one renegotiation in flight, docs/protocol.md §4).
"""

from __future__ import annotations

import json
from typing import Final

from adapters.wire import xml as uxml
from adapters.wire.events import ParseError, ReasonBody, ReasonParameter, body_format, media_type, parse_reason_object
from fsm.reasons import HTTP_STATUS_CODE_NAMES, ErrorCode, Reason, parse_error_code

#: Error bodies above this size are not parsed (a UCWA error is a few hundred bytes).
MAX_ERROR_BODY: Final = 64 * 1024


def _same(a: str | None, b: str) -> bool:
    return a is not None and a.lower() == b.lower()


class UcwaError(Exception):
    """A synchronous error: HTTP status plus the UCWA code, subcode and message."""

    def __init__(
        self,
        status: int,
        code: str | None,
        subcode: str | None = None,
        message: str | None = None,
        *,
        parameters: tuple[ReasonParameter, ...] = (),
        debug_info: str | None = None,
        from_body: bool = True,
        note: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.subcode = subcode
        self.message = message
        self.parameters = parameters
        self.debug_info = debug_info
        #: False when the body was not a UCWA error and ``code`` comes from the status.
        self.from_body = from_body
        #: Why the body was not used, when it was not.
        self.note = note
        super().__init__(self._text())

    def _text(self) -> str:
        what = self.code or "no UCWA code"
        if self.subcode:
            what = f"{what}/{self.subcode}"
        text = f"HTTP {self.status} {what}"
        if self.message:
            text = f"{text}: {self.message}"
        if self.parameters:
            text = f"{text} (parameters: {', '.join(p.name for p in self.parameters)})"
        if self.note:
            text = f"{text} [{self.note}]"
        return text

    def __repr__(self) -> str:
        return f"UcwaError(status={self.status}, code={self.code!r}, subcode={self.subcode!r})"

    @property
    def reason(self) -> Reason:
        """The reason a machine records for this refusal.

        It carries the HTTP status, so :attr:`Reason.undocumented` looks it up among the
        documented synchronous errors (``fsm.reasons.SYNC_CATALOGUE``, docs/protocol.md §5.2).
        """
        return Reason(code=self.code, subcode=self.subcode, message=self.message, status=self.status)

    @property
    def error_code(self) -> ErrorCode | None:
        return parse_error_code(self.code)

    @property
    def is_collision(self) -> bool:
        """409 Conflict/AlreadyExists: another renegotiation (or the same resource) is already there."""
        return self.status == 409 and _same(self.code, "Conflict") and _same(self.subcode, "AlreadyExists")

    @property
    def is_pget_replaced(self) -> bool:
        """409 PGetReplaced: a newer P-GET released this one (docs/protocol.md §2.2)."""
        return self.status == 409 and _same(self.subcode, "PGetReplaced")

    @property
    def is_application_not_found(self) -> bool:
        """404 ApplicationNotFound: the UCWA application is gone; recreating it is the app's decision."""
        named = _same(self.subcode, "ApplicationNotFound") or _same(self.code, "ApplicationNotFound")
        return self.status == 404 and named


def _from_status(status: int, note: str) -> UcwaError:
    return UcwaError(status, HTTP_STATUS_CODE_NAMES.get(status), from_body=False, note=note)


def _from_reason(status: int, body: ReasonBody) -> UcwaError:
    if body.code is None:
        return UcwaError(
            status,
            HTTP_STATUS_CODE_NAMES.get(status),
            body.subcode,
            body.message,
            parameters=body.parameters,
            debug_info=body.debug_info,
            from_body=False,
            note="error body without a code",
        )
    return UcwaError(
        status, body.code, body.subcode, body.message, parameters=body.parameters, debug_info=body.debug_info
    )


def parse_error(status: int, body: bytes, content_type: str | None) -> UcwaError:
    """The :class:`UcwaError` for a 4xx/5xx response. Never raises.

    JSON is recognised by its content type or, failing that, by a body that
    starts with ``{``; XML likewise with ``<reason``. Anything else (empty,
    HTML, unreadable, too large) gives the status's table code.
    """
    # Never raise, even for arguments of the wrong type (a swapped body and content type).
    if isinstance(body, str) and isinstance(content_type, bytes | bytearray):
        body, content_type = bytes(content_type), body
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    if not isinstance(body, bytes | bytearray | memoryview):
        return _from_status(status, "no body")
    data = bytes(body)
    shown_type = media_type(content_type if isinstance(content_type, str) else None)[0] or "no content type"
    if not data.strip():
        return _from_status(status, f"empty body ({shown_type})")
    if len(data) > MAX_ERROR_BODY:
        return _from_status(status, f"{len(data)}-byte body not read ({shown_type})")
    fmt = body_format(content_type if isinstance(content_type, str) else None)
    head = data.lstrip()[:64]
    if fmt is None:
        if head.startswith(b"{"):
            fmt = "json"
        elif head.startswith(b"<") and b"<html" not in head.lower() and b"<!doctype" not in head.lower():
            fmt = "xml"
    try:
        if fmt == "json":
            return _json_error(status, data, shown_type)
        if fmt == "xml":
            return _xml_error(status, data, shown_type)
    except (ParseError, uxml.XmlError) as exc:
        return _from_status(status, f"unreadable {shown_type} error body: {exc.why}")
    except (ValueError, TypeError, RecursionError) as exc:
        return _from_status(status, f"unreadable {shown_type} error body ({type(exc).__name__})")
    return _from_status(status, f"no UCWA error body ({shown_type}, {len(data)} bytes)")


def _json_error(status: int, data: bytes, shown_type: str) -> UcwaError:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return _from_status(status, f"{shown_type} body is not valid JSON ({type(exc).__name__})")
    if not isinstance(document, dict):
        return _from_status(status, f"{shown_type} body is not a JSON object")
    return _from_reason(status, parse_reason_object(document))


def _xml_error(status: int, data: bytes, shown_type: str) -> UcwaError:
    root = uxml.parse_xml(data, what="error body")
    if uxml.local_name(root) != "reason":
        return _from_status(status, f"{shown_type} body's root is <{root.tag}>, not a UCWA <reason>")
    return _from_reason(status, parse_reason_object(uxml.fields_to_dict(root)))
