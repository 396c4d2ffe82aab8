"""Content types, and bytes decoded into a JSON document: the first step of reading any body.

:func:`media_type` and :func:`body_format` read a ``Content-Type``; ``_load_json`` decodes JSON in its
declared charset strictly (no lone surrogates) and turns every failure (truncated, bad text, nested
too deeply, a huge integer) into a ``_Fail`` that says what was wrong. The size check is here too: it
is the one thing done before decoding. Apart from the event walk because resource bodies are decoded
the same way, and UCWA error bodies (:mod:`adapters.wire.ucwa_errors`) read their content type with it.
"""

from __future__ import annotations

import codecs
import functools
import json
from typing import Any, Final

from adapters.wire.parse_errors import _Fail

JSON_TYPES: Final = frozenset({"application/json", "application/vnd.microsoft.com.ucwa+json"})
XML_TYPES: Final = frozenset({"application/xml", "text/xml", "application/vnd.microsoft.com.ucwa+xml"})


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type into its lower-cased media type and its parameters.

    ``'application/json; type="x"; charset=utf-8'`` -> ``("application/json", {"type": "x", "charset": "utf-8"})``.
    """
    if not content_type:
        return "", {}
    head, *params = content_type.split(";")
    out: dict[str, str] = {}
    for param in params:
        key, sep, value = param.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip().strip('"')
    return head.strip().lower(), out


def body_format(content_type: str | None) -> str | None:
    """``"json"``, ``"xml"`` or ``None`` for a Content-Type."""
    kind, _ = media_type(content_type)
    if kind in JSON_TYPES or kind.endswith("+json"):
        return "json"
    if kind in XML_TYPES or kind.endswith("+xml"):
        return "xml"
    return None


@functools.lru_cache(maxsize=64)
def _reading(content_type: str | None) -> tuple[str | None, str | None]:
    """``(body_format, charset)`` of a Content-Type, remembered: a channel sends the same one every time."""
    return body_format(content_type), media_type(content_type)[1].get("charset")


def _load_json(body: bytes, charset: str | None) -> Any:
    try:
        if charset and codecs.lookup(charset).name not in ("utf-8", "utf-16", "utf-32"):
            return json.loads(body.decode(charset))
        # decode strictly ourselves: json.loads(bytes) lets lone surrogates through
        return json.loads(body.decode(json.detect_encoding(body)))
    except LookupError:
        raise _Fail("Content-Type", f"unknown charset {charset!r}") from None
    except json.JSONDecodeError as exc:
        ended = exc.pos >= len(exc.doc.rstrip()) - 1
        hint = " (the body ends early: truncated?)" if ended else ""
        raise _Fail("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}") from None
    except UnicodeDecodeError as exc:
        raise _Fail("$", f"not valid text in its charset: {exc.reason} at byte {exc.start}") from None
    except RecursionError:
        raise _Fail("$", "nested too deeply") from None
    except ValueError as exc:  # CPython's int-digit limit raises it outside JSONDecodeError
        raise _Fail("$", f"not valid JSON: {exc}") from None


def _check_size(body: bytes, limit: int, what: str) -> _Fail | None:
    if len(body) > limit:
        mib = limit / (1024 * 1024)
        return _Fail("body", f"{len(body)} bytes, above the {what} limit of {limit} bytes ({mib:g} MiB)")
    return None
