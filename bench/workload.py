"""The work every figure is measured on: callfsm's side, payloads and event streams.

Theory of operation
-------------------
The trigger path is the one the issue names: an outgoing audio/video
invitation that is sent, started (Connecting), updated (Alerting) and
completed (Success, embedded state Connected). Payloads for the timing loops
are built before the clock starts and shared by the batch, so the timed part
is the trigger calls alone.

A *live* invitation (memory and population figures) is built the way an app
would hold it: its own operation id and href strings, a fresh parsed
representation per event (as a parser produces one per response), and a
six-step history: send, created, started, updated, updated, completed. It is
then Connected, i.e. a call in progress. An *ended* call goes on with cancel
(hang up) and the 204: hung_up, terminal.

Event-channel bodies (JSON and XML, docs/protocol.md §2.2, 2.4 and 6) carry incoming
audio/video invitations: started (Connecting, with accept/decline/cancel
links), updated (Alerting), completed (Success, embedded Connected). Both
formats describe the same events, so the JSON floor can be run on the same
stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any
from xml.sax.saxutils import quoteattr

from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.outcome import Completion
from fsm.wire import Link, Representation

S = InvitationState

APP = "/ucwa/oauth/v1/applications/1037461"
START_HREF = f"{APP}/communication/startAudioVideo"
CALLEE = "sip:bob@contoso.com"
UCWA_NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"

#: Guard branches of the path, in the order of :data:`bench.peers.PATH_TRIGGERS`.
PATH_BRANCHES: tuple[Enum | None, ...] = (None, S.CONNECTING, S.ALERTING, Completion.CONNECTED)


def operation_id(n: int) -> str:
    """A 36-character id shaped like the GUIDs UCWA clients send."""
    return f"{n:08x}-7d1c-4b8e-9f0a-{n:012x}"


def invitation_href(n: int) -> str:
    return f"{APP}/communication/audioVideoInvitations/{operation_id(n)}"


@dataclass(frozen=True)
class PathPayload:
    """The shared payloads of one timed batch."""

    href: str
    operation_id: str
    connecting: Representation
    alerting: Representation
    connected: Representation

    @classmethod
    def build(cls) -> PathPayload:
        href = invitation_href(0)
        op = operation_id(0)
        links = (Link("cancel", f"{href}/cancel"),)

        def rep(state: str) -> Representation:
            return Representation(state=state, direction="Outgoing", operation_id=op, links=links)

        return cls(href, op, rep("Connecting"), rep("Alerting"), rep("Connected"))


class CallFsm:
    """callfsm's side of every comparison, shaped like :class:`bench.peers.Reference`."""

    name = "callfsm"

    def __init__(self) -> None:
        self.payload = PathPayload.build()

    def new(self) -> Invitation:
        return Invitation(kind=InvitationKind.AUDIO_VIDEO)

    def path(self, models: Sequence[Invitation], branches: Sequence[Enum | None] = PATH_BRANCHES) -> None:
        p = self.payload
        href, op, connecting, alerting, connected = p.href, p.operation_id, p.connecting, p.alerting, p.connected
        now = 1000.0
        for m in models:
            m.send(now=now, href=START_HREF, operation_id=op, to=CALLEE)
            m.started(now=now, href=href, representation=connecting)
            m.updated(now=now, href=href, representation=alerting)
            m.completed(now=now, status="Success", representation=connected)


def live_invitation(n: int, now: float) -> Invitation:
    """A connected invitation with its own strings, representation and a six-step history."""
    op = operation_id(n)
    href = invitation_href(n)
    inv = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    inv.send(now=now, href=START_HREF, operation_id=op, to=CALLEE)
    inv.created(now=now + 0.05, href=href)
    for at, state, trigger in (
        (now + 0.1, "Connecting", inv.started),
        (now + 0.9, "Alerting", inv.updated),
        (now + 1.4, "Alerting", inv.updated),
    ):
        rep = Representation(
            state=state, direction="Outgoing", operation_id=op, links=(Link("cancel", f"{href}/cancel"),)
        )
        trigger(now=at, href=href, representation=rep)
    rep = Representation(
        state="Connected", direction="Outgoing", operation_id=op, links=(Link("cancel", f"{href}/cancel"),)
    )
    inv.completed(now=now + 6.0, status="Success", representation=rep)
    return inv


def end_call(inv: Invitation, now: float) -> None:
    """Hang a connected invitation up and take the 204: it ends in hung_up."""
    inv.cancel(now=now)
    inv.request_succeeded(now=now + 0.02)


# -- event-channel streams ---------------------------------------------------------


@dataclass(frozen=True)
class WireEvent:
    """One invitation event, format-neutral."""

    href: str
    type: str
    state: str
    status: str | None
    operation_id: str
    links: tuple[tuple[str, str], ...]


def call_events(n: int) -> list[WireEvent]:
    """started, updated and completed of incoming invitation ``n``."""
    href = f"{APP}/communication/audioVideoInvitations/in-{n:08x}"
    op = operation_id(n)
    ringing = (("accept", f"{href}/accept"), ("decline", f"{href}/decline"), ("cancel", f"{href}/cancel"))
    return [
        WireEvent(href, "started", "Connecting", None, op, ringing),
        WireEvent(href, "updated", "Alerting", None, op, ringing),
        WireEvent(href, "completed", "Connected", "Success", op, (("cancel", f"{href}/cancel"),)),
    ]


def interleaved_events(calls: int, start: int = 0) -> list[WireEvent]:
    """The events of ``calls`` overlapping invitations, in a plausible arrival order.

    Calls overlap in groups of four: four start, four are updated, four
    complete, so a response carries events for several resources.
    """
    out: list[WireEvent] = []
    for group in range(start, start + calls, 4):
        members = [call_events(n) for n in range(group, min(group + 4, start + calls))]
        for step in range(3):
            out.extend(events[step] for events in members)
    return out


def _json_event(ev: WireEvent) -> dict[str, Any]:
    body: dict[str, Any] = {"link": {"rel": "audioVideoInvitation", "href": ev.href}, "type": ev.type}
    if ev.status is not None:
        body["status"] = ev.status
    body["_embedded"] = {
        "audioVideoInvitation": {
            "direction": "Incoming",
            "importance": "Normal",
            "state": ev.state,
            "operationId": ev.operation_id,
            "_links": {"self": {"href": ev.href}, **{rel: {"href": href} for rel, href in ev.links}},
            "rel": "audioVideoInvitation",
        }
    }
    return body


def json_response(events: Sequence[WireEvent], ack: int) -> bytes:
    doc = {
        "_links": {"self": {"href": f"{APP}/events?ack={ack}"}, "next": {"href": f"{APP}/events?ack={ack + 1}"}},
        "sender": [
            {"rel": "communication", "href": f"{APP}/communication", "events": [_json_event(e) for e in events]}
        ],
    }
    return json.dumps(doc).encode()


def _xml_event(ev: WireEvent) -> str:
    links = "".join(f"<link rel={quoteattr(rel)} href={quoteattr(href)}/>" for rel, href in ev.links)
    status = f'<property name="status">{ev.status}</property>' if ev.status is not None else ""
    return (
        f'<{ev.type} rel="audioVideoInvitation" href={quoteattr(ev.href)}>{status}'
        f'<resource rel="audioVideoInvitation" href={quoteattr(ev.href)}>{links}'
        f'<property name="direction">Incoming</property><property name="importance">Normal</property>'
        f'<property name="state">{ev.state}</property>'
        f'<property name="operationId">{ev.operation_id}</property></resource></{ev.type}>'
    )


def xml_response(events: Sequence[WireEvent], ack: int) -> bytes:
    body = "".join(_xml_event(e) for e in events)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>'
        f'<events href="{APP}/events?ack={ack}" xmlns="{UCWA_NS}">'
        f'<link rel="next" href="{APP}/events?ack={ack + 1}"/>'
        f'<sender rel="communication" href="{APP}/communication">{body}</sender></events>'
    ).encode()


def responses(events: Sequence[WireEvent], per_response: int, fmt: str) -> list[bytes]:
    make = json_response if fmt == "json" else xml_response
    return [make(events[i : i + per_response], ack=1 + i // per_response) for i in range(0, len(events), per_response)]


def chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
