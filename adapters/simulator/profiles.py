"""Server profiles: which server the simulator plays, as data.

Theory of operation
-------------------
A :class:`Profile` is everything that differs between the three servers the
simulator can play; the World reads it and never branches on a profile name:

- ``root``: where applications are created;
- ``layout``: the hrefs of the application's links and of the invitations
  (paths below the application);
- ``rel_prefix``: ``ms:rtc:saas:`` for the Trusted Application API, added to
  every rel on the way out (the World works on bare rels, as the machines do);
- ``links``: per invitation kind, direction and phase, the links the
  resource offers (docs/protocol.md §1.4 lists them per resource, §1.6 per
  state); a link outside that row is never served, and a POST to it is 404/409;
- ``push``: events go to the application's callback URL instead of a P-GET
  (Trusted Application API, docs/protocol.md §2.1);
- ``documents_completed``: the invitation kinds whose current documentation
  lists a ``completed`` event (docs/protocol.md §2.3); with
  ``--completion updated`` the others end with an ``updated`` only.

Two switches apply to every profile: :class:`EventShape` (resource embedded in
events, or links only) and :class:`Completion` (``completed`` event, or
``updated`` to a final state). Sources for every entry: ``README.md`` next to
this module.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Mapping
from enum import Enum
from typing import Final

from attrs import evolve, frozen

from fsm.invitation import InvitationKind
from fsm.wire import SAAS_PREFIX, Direction


class ProfileName(Enum):
    UCWA = "ucwa"
    ONLINE = "online"
    SAAS = "saas"


class EventShape(Enum):
    """``embedded``: the SDK recordings' shape; ``links``: the documentation samples' (no ``_embedded``)."""

    EMBEDDED = "embedded"
    LINKS = "links"


class Completion(Enum):
    """``event``: a ``completed`` event ends an invitation; ``updated``: an ``updated`` to a final state does."""

    EVENT = "event"
    UPDATED = "updated"


class Phase(Enum):
    """Which links an invitation offers: while it rings, once connected, once over."""

    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"


@frozen
class Layout:
    """Paths below the application (no leading slash); ``{kind}`` is the invitation rel."""

    make_me_available: str
    start_audio_video: str
    start_messaging: str
    join_online_meeting: str
    #: The collection an invitation's href is in.
    invitations: str
    #: ``addParticipant``: a conversation's own link (``{conversation}`` = its path), or a shared
    #: collection with ``?conversation={ident}`` (the Online samples).
    add_participant: str
    #: The rel of the audio/video creating link: UCWA's ``startAudioVideo``, the Trusted Application
    #: API's ``startAudio`` (``ms:rtc:saas:startAudio``, docs/protocol.md §1.2).
    start_audio_video_rel: str = "startAudioVideo"


#: Links per (kind, direction, phase), bare rels. "cancel" of a connected call is the modality's
#: terminate; "mediaOffer" and "message" are data: links, served only when there is an offer / a text.
LinkTable = Mapping[tuple[InvitationKind, Direction, Phase], tuple[str, ...]]

AV, MSG, OMI, PI = (
    InvitationKind.AUDIO_VIDEO,
    InvitationKind.MESSAGING,
    InvitationKind.ONLINE_MEETING,
    InvitationKind.PARTICIPANT,
)
IN, OUT = Direction.INCOMING, Direction.OUTGOING
RINGING, CONNECTED = Phase.RINGING, Phase.CONNECTED

#: UCWA 2.0 (on-premises and Online share the reference pages: docs/protocol.md §1.4, §1.6).
UCWA_LINKS: Final[LinkTable] = {
    (AV, IN, RINGING): ("acceptWithAnswer", "acceptWithPhoneAudio", "decline", "mediaOffer", "audioVideo"),
    (AV, OUT, RINGING): ("cancel", "audioVideo"),
    (AV, IN, CONNECTED): ("cancel", "audioVideo"),
    (AV, OUT, CONNECTED): ("cancel", "audioVideo"),
    (MSG, IN, RINGING): ("accept", "decline", "messaging", "message"),
    (MSG, OUT, RINGING): ("cancel", "messaging"),
    (MSG, IN, CONNECTED): ("cancel", "messaging", "message"),
    (MSG, OUT, CONNECTED): ("cancel", "messaging"),
    (OMI, OUT, RINGING): ("cancel",),
    (OMI, OUT, CONNECTED): ("cancel",),
    (PI, OUT, RINGING): ("cancel",),
    (PI, OUT, CONNECTED): ("participant",),
    # over: what the resource still points at (no action link)
    **{(AV, d, Phase.ENDED): ("audioVideo",) for d in (IN, OUT)},
    **{(MSG, d, Phase.ENDED): ("messaging",) for d in (IN, OUT)},
    (PI, OUT, Phase.ENDED): ("participant",),
}

#: Trusted Application API (docs/protocol.md §1.4 SaaS rows; §1.6 recorded incoming AV).
SAAS_LINKS: Final[LinkTable] = {
    **UCWA_LINKS,
    (AV, IN, RINGING): ("accept", "decline", "forward", "mediaOffer", "audioVideo"),
}

UCWA_LAYOUT: Final = Layout(
    make_me_available="communication/makeMeAvailable",
    start_audio_video="communication/startAudioVideo",
    start_messaging="communication/startMessaging",
    join_online_meeting="communication/joinOnlineMeeting",
    invitations="communication/invitations",
    add_participant="{conversation}/addParticipant",
)

#: The Trusted Application API: UCWA's paths, its own name for the audio call's creating link.
SAAS_LAYOUT: Final = evolve(UCWA_LAYOUT, start_audio_video_rel="startAudio")

#: The Online task samples (CreateAnApplication, SendAnIM, ReceiveAnIM).
ONLINE_LAYOUT: Final = Layout(
    make_me_available="me/makeMeAvailable",
    start_audio_video="communication/audioVideoInvitations",
    start_messaging="communication/messagingInvitations",
    join_online_meeting="communication/onlineMeetingInvitations",
    invitations="communication/{kind}s",
    add_participant="communication/participantInvitations?conversation={ident}",
)

#: The invitation kinds the simulator serves.
SIMULATED_KINDS: Final = frozenset({AV, MSG, OMI, PI})
#: Kinds whose current UCWA reference lists no ``completed`` (docs/protocol.md §2.3).
UCWA_COMPLETED: Final = frozenset({MSG})
#: The Trusted Application API documents ``completed`` for every invitation it has (§2.3).
SAAS_COMPLETED: Final = SIMULATED_KINDS


@frozen
class Profile:
    name: ProfileName
    #: Where applications are created (POST).
    root: str
    layout: Layout
    links: LinkTable
    rel_prefix: str = ""
    #: Events are POSTed to the callback URL (no P-GET is needed).
    push: bool = False
    documents_completed: frozenset[InvitationKind] = UCWA_COMPLETED

    def rel(self, bare: str) -> str:
        return self.rel_prefix + bare if bare != "self" else bare

    @property
    def completion_switch_applies(self) -> bool:
        """Some simulated kind has no documented ``completed`` here, so ``--completion updated`` changes something."""
        return bool(SIMULATED_KINDS - self.documents_completed)

    def offers(self, kind: InvitationKind, direction: Direction, phase: Phase) -> tuple[str, ...]:
        return self.links.get((kind, direction, phase), ())


PROFILES: Final[Mapping[ProfileName, Profile]] = {
    ProfileName.UCWA: Profile(ProfileName.UCWA, "/ucwa/v1/applications", UCWA_LAYOUT, UCWA_LINKS),
    ProfileName.ONLINE: Profile(ProfileName.ONLINE, "/ucwa/oauth/v1/applications", ONLINE_LAYOUT, UCWA_LINKS),
    ProfileName.SAAS: Profile(
        ProfileName.SAAS,
        "/platformservice/v1/applications",
        SAAS_LAYOUT,
        SAAS_LINKS,
        rel_prefix=SAAS_PREFIX,
        push=True,
        documents_completed=SAAS_COMPLETED,
    ),
}

#: The default: on-premises UCWA 2.0, whose reference pages every other profile builds on (README).
DEFAULT_PROFILE: Final = ProfileName.UCWA


def profile_of(name: str | ProfileName) -> Profile:
    """The profile named ``name`` (``ucwa``, ``online``, ``saas``); ValueError names the known ones."""
    if isinstance(name, ProfileName):
        return PROFILES[name]
    for member in ProfileName:
        if member.value == name:
            return PROFILES[member]
    raise ValueError(f"unknown profile {name!r}; known: {', '.join(m.value for m in ProfileName)}")


def check_callback_url(url: str) -> str:
    """``url`` if it is http(s) on a loopback host; ValueError otherwise."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"callback URL {url!r} is not an http(s) URL")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(
                f"callback URL host {host!r} is not loopback: the simulator only calls 127.0.0.1, ::1 or localhost"
            )
    if len(url) > 1024:
        raise ValueError("a callback URL has at most 1024 characters (docs/protocol.md §1.3)")
    return url


def dress(document: object, prefix: str) -> object:
    """``document`` with every rel (``rel`` values, ``_links`` and ``_embedded`` keys) prefixed.

    ``self`` and the event channel's own links (``next``...) keep their names:
    the recorded SaaS traffic writes them bare.
    """
    if not prefix:
        return document
    if isinstance(document, list):
        return [dress(item, prefix) for item in document]
    if not isinstance(document, dict):
        return document
    out: dict[str, object] = {}
    for key, value in document.items():
        if key == "rel" and isinstance(value, str) and not value.startswith(prefix):
            out[key] = prefix + value
        elif key == "_links" and isinstance(value, dict):
            out[key] = {
                (rel if rel in _BARE_LINKS or rel.startswith(prefix) else prefix + rel): link
                for rel, link in value.items()
            }
        elif key == "_embedded" and isinstance(value, dict):
            out[key] = {
                (rel if rel.startswith(prefix) else prefix + rel): dress(item, prefix) for rel, item in value.items()
            }
        else:
            out[key] = dress(value, prefix)
    return out


#: Links that keep their bare names under every profile: ``self`` and the event channel's. The
#: Trusted Application API has no P-GET: ``events`` is the simulator's convenience when no callback URL
#: is set ([U], README), named as UCWA names it.
_BARE_LINKS: Final = frozenset({"self", "events", "next", "resume", "resync"})
