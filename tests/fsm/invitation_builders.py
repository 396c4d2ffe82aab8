"""Invitations the invitation tests start from, built through the public triggers only.

Shared by the ``test_invitation*.py`` files (pytest puts this folder on ``sys.path``, as it does
for every test folder without ``__init__.py``): an incoming SaaS audio/video invitation in
Connecting with its recorded links, an outgoing one past its 201, and the view of a model that a
refused trigger must leave unchanged.
"""

from __future__ import annotations

from fsm import (
    Invitation,
    InvitationKind,
    InvitationState,
    Link,
    Representation,
)

S = InvitationState
K = InvitationKind

# Links of an incoming SaaS audio/video invitation in Connecting (docs/protocol.md §1.6, S3 traffic).
INCOMING_AV_LINKS = (
    Link("ms:rtc:saas:accept", "/inv/1/accept"),
    Link("ms:rtc:saas:decline", "/inv/1/decline"),
    Link("ms:rtc:saas:forward", "/inv/1/forward"),
    Link("ms:rtc:saas:acceptAndBridgeAudioVideo", "/inv/1/bridge"),
    Link("ms:rtc:saas:audioVideo", "/conv/1/audioVideo"),
    Link("ms:rtc:saas:conversation", "/conv/1"),
)


def incoming(kind: K = K.AUDIO_VIDEO, links: tuple[Link, ...] = INCOMING_AV_LINKS) -> Invitation:
    inv = Invitation(kind=kind)
    inv.started(
        now=1.0, href="/inv/1", representation=Representation(state="Connecting", direction="Incoming", links=links)
    )
    return inv


def outgoing(kind: K = K.AUDIO_VIDEO) -> Invitation:
    inv = Invitation(kind=kind)
    inv.send(now=0.0, href="/communication/start", operation_id="op-1", to="sip:bob@contoso.com")
    inv.created(now=0.5, href="/inv/9")
    inv.started(
        now=0.6,
        href="/inv/9",
        representation=Representation(
            state="Connecting",
            direction="Outgoing",
            links=[Link("cancel", "/inv/9/cancel"), Link("conversation", "/c")],
        ),
    )
    return inv


def frozen_view(inv: Invitation) -> tuple[object, ...]:
    return (inv.state, list(inv.history), inv.outcome, inv.representation, inv.href)
