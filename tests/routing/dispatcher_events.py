"""Events and responses for the dispatcher's tests, built the way the wire has them, and the hrefs they name.

Every response goes through :func:`adapters.wire.events.parse_events` first, as on the wire.
Shared by ``test_dispatcher*.py``; a plain module rather than fixtures because the tests call
these with different arguments many times each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapters.wire.events import EventsResponse, parse_events
from fsm.model import FsmModel

SAMPLES = Path(__file__).parent.parent / "samples"
JSON = "application/json"
_ack = iter(range(1000, 10**9))


def sample(name: str) -> EventsResponse:
    content_type = JSON if name.endswith(".json") else "application/xml"
    return parse_events((SAMPLES / name).read_bytes(), content_type)


def event(
    rel: str,
    href: str,
    type_: str,
    *,
    status: str | None = None,
    embedded: dict[str, Any] | None = None,
    reason: dict[str, Any] | None = None,
    in_: tuple[str, str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"link": {"rel": rel, "href": href}, "type": type_}
    if status is not None:
        out["status"] = status
    if embedded is not None:
        out["_embedded"] = {rel: {"rel": rel, **embedded}}
    if reason is not None:
        out["reason"] = reason
    if in_ is not None:
        out["in"] = {"rel": in_[0], "href": in_[1]}
    return out


def response(*events: dict[str, Any], sender: str = "communication") -> EventsResponse:
    ack = next(_ack)
    document = {
        "_links": {"self": {"href": f"/app/events?ack={ack}"}, "next": {"href": f"/app/events?ack={ack + 1}"}},
        "sender": [{"rel": sender, "href": f"/app/{sender}", "events": list(events)}],
    }
    return parse_events(json.dumps(document).encode(), JSON)


def links(**rels: str) -> dict[str, Any]:
    return {"_links": {rel: {"href": href} for rel, href in rels.items()}}


def state_of(model: FsmModel) -> object:
    # not narrowed by mypy between triggers, unlike ``model.state``
    return model.state  # type: ignore[attr-defined]


def snapshot(model: FsmModel) -> tuple[object, int]:
    return model.state, len(model.history)  # type: ignore[attr-defined]


INV = "/app/communication/invitations/1"
OMI = "/app/communication/onlineMeetingInvitations/9"
CONV = "/app/communication/conversations/5"
RENEG = "/app/conversations/5/audioVideo/audioVideoSession/renegotiations/audioVideoRenegotiation"
SESSION = "/app/conversations/5/audioVideo/audioVideoSession"


def incoming(state: str = "Connecting", **extra: Any) -> dict[str, Any]:
    return {"state": state, "direction": "Incoming", **links(accept=f"{INV}/accept", decline=f"{INV}/decline"), **extra}


def remote_offer(**extra: Any) -> dict[str, Any]:
    return {
        "direction": "Incoming",
        **links(
            answer=f"{RENEG}/answer",
            dismiss=f"{RENEG}/dismiss",
            audioVideoSession=SESSION,
            mediaOffer="data:application/sdp;base64,dj0w",
        ),
        **extra,
    }
