"""What the world holds per resource: applications, conversations, modalities, participants, invitations,
renegotiations and Huawei series, each with its shadow machine where it has one (:mod:`adapters.simulator.state`)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Final

from attrs import define, field

from adapters.simulator.events import EventChannel, Sender
from adapters.simulator.lifetime import EXPIRED_SUBCODE, Liveness
from adapters.simulator.profiles import (
    DEFAULT_PROFILE,
    PROFILES,
    Layout,
    Phase,
    Profile,
)
from adapters.simulator.render import data_uri, text_data_uri
from adapters.simulator.replies import Document, Reply, SimRequest, ucwa_error
from adapters.simulator.script import (
    Plan,
)
from adapters.wire.events import EventType
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.lobby_participant import LobbyParticipant
from fsm.meeting_series import ConferenceState, MeetingSeries
from fsm.online_meeting import ConversationState, OnlineMeetingJoin
from fsm.outcome import CompletionStatus
from fsm.reasons import Reason
from fsm.renegotiation import Renegotiation
from fsm.wire import Direction

log = logging.getLogger("callfsm.simulator")



# -- records ---------------------------------------------------------------------------------------


class ModalityState(Enum):
    """A modality's ``state`` (docs/protocol.md §1.1 describes it by examples only: these three)."""

    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    DISCONNECTED = "Disconnected"


class SessionState(Enum):
    """``audioVideoSession`` state (docs/protocol.md §1.1)."""

    ESTABLISHING = "Establishing"
    ESTABLISHED = "Established"


IS = InvitationState
CS = ConversationState
ET = EventType
MS = ModalityState


@define(eq=False)
class Participant:
    href: str
    conversation_href: str
    name: str
    uri: str
    rel: str = "participant"
    local: bool = False
    in_lobby: bool = False
    #: The user may admit or reject this lobby member (links ``admit``/``reject``).
    actionable: bool = False
    shadow: LobbyParticipant | None = None

    def render(self) -> Document:
        links: Document = {"self": {"href": self.href}, "conversation": {"href": self.conversation_href}}
        if self.in_lobby and self.actionable:
            links["admit"] = {"href": f"{self.href}/admit"}
            links["reject"] = {"href": f"{self.href}/reject"}
        return {
            "rel": self.rel,
            "name": self.name,
            "uri": self.uri,
            "local": self.local,
            "inLobby": self.in_lobby,
            "_links": links,
        }


@define(eq=False)
class Modality:
    name: str
    href: str
    conversation_href: str
    state: ModalityState = ModalityState.DISCONNECTED

    @property
    def session_href(self) -> str:
        return f"{self.href}/audioVideoSession"

    @property
    def messages_href(self) -> str:
        return f"{self.href}/messages"

    def render(self) -> Document:
        links: Document = {"self": {"href": self.href}, "conversation": {"href": self.conversation_href}}
        if self.name == "audioVideo" and self.state is MS.CONNECTED:
            links["audioVideoSession"] = {"href": self.session_href}
        if self.name == "messaging" and self.state is MS.CONNECTED:
            # the ReceiveAnIM sample's connected messaging modality (docs/protocol.md §1.6)
            links["sendMessage"] = {"href": self.messages_href}
            links["stopMessaging"] = {"href": f"{self.href}/terminate"}
        return {"rel": self.name, "state": self.state.value, "_links": links}

    def render_session(self) -> Document:
        return {
            "rel": "audioVideoSession",
            "state": (SessionState.ESTABLISHED if self.state is MS.CONNECTED else SessionState.ESTABLISHING).value,
            "_links": {
                "self": {"href": self.session_href},
                "renegotiations": {"href": f"{self.session_href}/renegotiations"},
                "audioVideo": {"href": self.href},
                "conversation": {"href": self.conversation_href},
            },
        }


@define(eq=False)
class Conversation:
    ident: int
    href: str
    thread_id: str
    local: Participant
    subject: str | None = None
    state: ConversationState = ConversationState.CONNECTING
    meeting_uri: str | None = None
    modalities: dict[str, Modality] = field(factory=dict)
    roster: dict[str, Participant] = field(factory=dict)
    lobby: dict[str, Participant] = field(factory=dict)
    invitation: InvitationRecord | None = None
    renegotiations: list[RenegotiationRecord] = field(factory=list)
    participant_ids: Iterator[int] = field(factory=lambda: itertools.count(2))
    message_ids: Iterator[int] = field(factory=lambda: itertools.count(1))
    #: The href of its ``addParticipant`` link (the profile's layout).
    add_participant_href: str = ""

    @property
    def is_meeting(self) -> bool:
        return self.meeting_uri is not None

    def new_participant_href(self) -> str:
        return f"{self.href}/participants/{next(self.participant_ids)}"

    def render(self) -> Document:
        links: Document = {
            "self": {"href": self.href},
            "participants": {"href": f"{self.href}/participants"},
            "localParticipant": {"href": self.local.href},
            "addParticipant": {"href": self.add_participant_href or f"{self.href}/addParticipant"},
        }
        for name, modality in self.modalities.items():
            links[name] = {"href": modality.href}
        if self.is_meeting:
            links["lobby"] = {"href": f"{self.href}/lobby"}
        document: Document = {
            "rel": "conversation",
            "state": self.state.value,
            "threadId": self.thread_id,
            "_links": links,
        }
        if self.subject is not None:
            document["subject"] = self.subject
        if self.meeting_uri is not None:
            document["onlineMeetingUri"] = self.meeting_uri
        return document

    def render_lobby(self) -> Document:
        return {
            "rel": "lobby",
            "_links": {
                "self": {"href": f"{self.href}/lobby"},
                "participant": [{"href": p.href} for p in self.lobby.values()],
            },
        }

    def render_participants(self) -> Document:
        return {
            "rel": "participants",
            "_links": {
                "self": {"href": f"{self.href}/participants"},
                "participant": [{"href": p.href} for p in (self.local, *self.roster.values())],
            },
        }


_MODALITY_OF: Final = {InvitationKind.AUDIO_VIDEO: "audioVideo", InvitationKind.MESSAGING: "messaging"}


@define(eq=False)
class InvitationRecord:
    ident: int
    href: str
    kind: InvitationKind
    direction: Direction
    conversation: Conversation
    shadow: Invitation | OnlineMeetingJoin
    #: The sender of the invitation (``from``): the user for outgoing ones.
    sender: Participant
    #: ``to`` (or ``onlineMeetingUri`` for a join).
    target: str
    operation_id: str | None = None
    subject: str | None = None
    importance: str = "Normal"
    extra: dict[str, str] = field(factory=dict)
    wire_state: InvitationState = InvitationState.CONNECTING
    phase: Phase = Phase.RINGING
    plan: Plan | None = None
    timers: list[int] = field(factory=list)
    media_offer: str | None = None
    #: The participant an addParticipant invited, once in the roster.
    invitee: Participant | None = None
    #: The incoming messaging invitation's first text (its ``message`` data: link).
    message: str | None = None
    profile: Profile = PROFILES[DEFAULT_PROFILE]

    @property
    def modality(self) -> Modality | None:
        name = _MODALITY_OF.get(self.kind)
        return None if name is None else self.conversation.modalities.get(name)

    def links(self, phase: Phase | None = None) -> dict[str, str]:
        """The links the profile's table offers now (bare rels), with their hrefs."""
        phase = self.phase if phase is None else phase
        out = {"conversation": self.conversation.href}
        for rel in self.profile.offers(self.kind, self.direction, phase):
            href = self._href_of(rel, phase)
            if href is not None:
                out[rel] = href
        return out

    def _href_of(self, rel: str, phase: Phase) -> str | None:
        modality = self.modality
        if rel in _MODALITY_OF.values():
            return None if modality is None else modality.href
        if rel == "cancel" and phase is Phase.CONNECTED:
            # a connected call's cancel terminates its modality, a meeting's its conversation (recorded traffic)
            if self.kind is InvitationKind.ONLINE_MEETING:
                return f"{self.conversation.href}/terminate"
            return None if modality is None else f"{modality.href}/terminate"
        if rel == "mediaOffer":
            return self.media_offer
        if rel == "message":
            return None if self.message is None else text_data_uri(self.message)
        if rel == "participant":
            return None if self.invitee is None else self.invitee.href
        return f"{self.href}/{rel}"

    def render(self, *, state: InvitationState | None = None, phase: Phase | None = None) -> Document:
        links: Document = {"self": {"href": self.href}}
        for rel, href in self.links(phase).items():
            links[rel] = {"href": href}
        links["from"] = {"href": self.sender.href}
        document: Document = {
            "rel": self.kind.value,
            "direction": self.direction.value,
            "importance": self.importance,
            "state": (self.wire_state if state is None else state).value,
            "threadId": self.conversation.thread_id,
        }
        if self.kind is InvitationKind.ONLINE_MEETING:
            document["onlineMeetingUri"] = self.target
        else:
            document["to"] = self.target
        if self.operation_id is not None:
            document["operationId"] = self.operation_id
        if self.subject is not None:
            document["subject"] = self.subject
        document.update(self.extra)
        document["_links"] = links
        document["_embedded"] = {"from": self.sender.render()}
        return document


@define(eq=False)
class RenegotiationRecord:
    ident: int
    href: str
    direction: Direction
    modality: Modality
    operation_id: str
    offer: str
    shadow: Renegotiation
    answer: str | None = None
    offered: bool = True

    def render(self) -> Document:
        links: Document = {
            "self": {"href": self.href},
            "mediaOffer": {"href": data_uri("application/sdp", self.offer)},
            "audioVideoSession": {"href": self.modality.session_href},
            "conversation": {"href": self.modality.conversation_href},
        }
        if self.answer is not None:
            links["mediaAnswer"] = {"href": data_uri("application/sdp", self.answer)}
        if self.direction is Direction.INCOMING and self.offered:
            links["answer"] = {"href": f"{self.href}/answer"}
            links["dismiss"] = {"href": f"{self.href}/dismiss"}
        return {
            "rel": "audioVideoRenegotiation",
            "direction": self.direction.value,
            "operationId": self.operation_id,
            "_links": links,
        }


@define(eq=False)
class SeriesRecord:
    conference_id: str
    shadow: MeetingSeries
    subject: str | None = None
    #: Sub-meeting UUID -> ``Schedule`` or ``Created`` (held); cancelled ones are removed.
    sub_meetings: dict[str, ConferenceState] = field(factory=dict)


@define(eq=False)
class Application:
    ident: str
    href: str
    user_agent: str
    endpoint_id: str
    culture: str
    instance_id: str | None
    channel: EventChannel
    last_seen: float
    #: The user it signs in as: (name, uri).
    user: tuple[str, str]
    available: bool = False
    gone: bool = False
    supported_modalities: list[str] = field(factory=list)
    #: Events of the action under way (one group when flushed).
    pending: list[tuple[Sender, Document]] = field(factory=list)
    resources: dict[str, Callable[[], Document]] = field(factory=dict)
    actions: dict[str, Callable[[SimRequest], Reply]] = field(factory=dict)
    conversations: list[Conversation] = field(factory=list)
    ids: Iterator[int] = field(factory=lambda: itertools.count(1))
    conversation_ids: Iterator[int] = field(factory=lambda: itertools.count(1))
    force_resume: bool = False
    #: Digest of the bearer token that created it: only that token reaches it (:meth:`World.owner_of`).
    owner: bytes = b""
    layout: Layout = PROFILES[DEFAULT_PROFILE].layout
    #: Where the events go (Trusted Application API), and the server's base URL for their ``baseuri``.
    callback_url: str | None = None
    base_uri: str = ""
    #: A callback POST is under way (its answer acknowledges the events it carried).
    pushing: bool = False
    #: What keeps it from expiring (lifetime.py), and its ``reportMyActivity`` path (``None``: the server has none).
    liveness: Liveness = field(factory=lambda: Liveness.new(0.0))
    report_my_activity: str | None = None

    def path(self, relative: str) -> str:
        return f"{self.href}/{relative}"

    @property
    def communication(self) -> str:
        return f"{self.href}/communication"

    def render(self) -> Document:
        communication = {
            "rel": "communication",
            "supportedModalities": list(self.supported_modalities),
            "supportedMessageFormats": ["Plain"],
            "_links": {
                "self": {"href": self.communication},
                "conversations": {"href": f"{self.communication}/conversations"},
                self.layout.start_audio_video_rel: {"href": self.path(self.layout.start_audio_video)},
                "startMessaging": {"href": self.path(self.layout.start_messaging)},
                "joinOnlineMeeting": {"href": self.path(self.layout.join_online_meeting)},
            },
        }
        return {
            "rel": "application",
            "culture": self.culture,
            "endpointId": self.endpoint_id,
            "id": self.ident,
            "instanceId": self.instance_id,
            "userAgent": self.user_agent,
            "type": "Browser",
            "_links": {
                "self": {"href": self.href},
                "events": {"href": self.channel.href(1)},
            },
            "_embedded": {
                "me": self.render_me(),
                "people": self.render_people(),
                "communication": communication,
            },
        }

    def render_me(self, links: Document | None = None) -> Document:
        if links is None:
            links = {"self": {"href": f"{self.href}/me"}}
            if not self.available:
                links["makeMeAvailable"] = {"href": self.path(self.layout.make_me_available)}
            if self.report_my_activity is not None:
                # there from the start (MeDashboard); before makeMeAvailable it answers 409 MakeMeAvailableRequired
                links["reportMyActivity"] = {"href": self.path(self.report_my_activity)}
        return {"rel": "me", "name": self.user[0], "uri": self.user[1], "_links": links}

    def render_people(self) -> Document:
        return {"rel": "people", "_links": {"self": {"href": f"{self.href}/people"}}}


def _final_state(reason: Reason, kind: InvitationKind) -> InvitationState:
    if reason.subcode_is("Canceled"):
        return IS.CANCELLED
    if reason.subcode_is("Declined") and kind is not InvitationKind.ONLINE_MEETING:
        return IS.DECLINED
    return IS.FAILED


def _event(
    rel: str,
    href: str,
    kind: EventType,
    *,
    embedded: Document | None = None,
    status: CompletionStatus | None = None,
    reason: Reason | None = None,
    in_: tuple[str, str] | None = None,
) -> Document:
    event: Document = {"link": {"rel": rel, "href": href}}
    if in_ is not None:
        event["in"] = {"rel": in_[0], "href": in_[1]}
    if status is not None:
        event["status"] = status.value
    if reason is not None:
        body: Document = {"code": reason.code}
        if reason.subcode is not None:
            body["subcode"] = reason.subcode
        if reason.message is not None:
            body["message"] = reason.message
        event["reason"] = body
    if embedded is not None:
        event["_embedded"] = {rel: embedded}
    event["type"] = kind.value
    return event





def _gone(app: Application | None) -> Reply:
    """What a request to an application that is no more gets: 410 when inactivity ended it, else 404."""
    if app is not None and app.liveness.expired:
        return ucwa_error(410, "Gone", EXPIRED_SUBCODE, "the application expired after inactivity")
    return ucwa_error(404, "NotFound", "ApplicationNotFound", "the application does not exist")
