"""What a trace must not show: credential headers, credential members of JSON bodies, oversized bodies.

Apart from the writer (:mod:`adapters.routing.trace`) because it is the part a security review reads:
every rule that blanks a value is here, none in the writing or threading code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Final

from adapters.wire.requests import Secret

REDACTED: Final = "***"
SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "x-access-token", "cookie", "set-cookie"})
#: JSON member names whose values are credentials (Huawei's ``accessToken``, ``appKey``, ``signature``...).
SECRET_MEMBER: Final = re.compile(r"token|secret|password|signature|appkey|app_key|credential", re.IGNORECASE)
#: How deep a JSON body is searched for credential members (bodies are a few levels deep).
MAX_REDACT_DEPTH: Final = 32

def redact_headers(headers: Sequence[tuple[str, str | Secret]]) -> list[tuple[str, str]]:
    return [(k, REDACTED if k.lower() in SECRET_HEADERS or isinstance(v, Secret) else v) for k, v in headers]


def _redact_members(value: Any, depth: int = 0) -> tuple[Any, bool]:
    if depth > MAX_REDACT_DEPTH:
        return value, False
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and SECRET_MEMBER.search(key) and item not in (None, ""):
                out[key], changed = REDACTED, True
            else:
                out[key], inner = _redact_members(item, depth + 1)
                changed = changed or inner
        return out, changed
    if isinstance(value, list):
        items = [_redact_members(item, depth + 1) for item in value]
        return [i for i, _ in items], any(c for _, c in items)
    return value, False


def _body_text(body: bytes | None, content_type: str, limit: int) -> tuple[str | None, int]:
    """The body as text (UTF-8, credential members redacted), or ``None`` above ``limit``; and its size."""
    if body is None:
        return None, 0
    size = len(body)
    if size > limit:
        return None, size
    text = body.decode("utf-8", "replace")
    looks_json = "json" in content_type.lower() or (not content_type and text.lstrip()[:1] in ("{", "["))
    if looks_json and text.strip():
        try:
            value, changed = _redact_members(json.loads(text))
        except (ValueError, RecursionError):
            return text, size
        if changed:
            return json.dumps(value, ensure_ascii=False), size
    return text, size


__all__ = ["MAX_REDACT_DEPTH", "REDACTED", "SECRET_HEADERS", "SECRET_MEMBER", "redact_headers"]
