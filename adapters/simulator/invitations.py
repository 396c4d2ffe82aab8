"""Creating invitations: the user's outgoing ones (calls, messaging, joins, added participants) and incoming calls.

A create POST builds the invitation's shadow (:class:`~fsm.invitation.Invitation`
or :class:`~fsm.online_meeting.OnlineMeetingJoin`) and fires its ``send``, opens
the conversation, emits ``started`` then the conversation's ``added`` (the
ReceiveAnIM sample's order), answers 201 (the shadow's ``created``) and hands
the invitation to its remote party's plan (:mod:`.remote_party`). An incoming
call is the same from the other side, started by the script. The links of the
invitation and of its conversation are registered here, where both are
created; their handlers live in :mod:`.invitation_links`, :mod:`.messaging`
and :mod:`.renegotiations`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from adapters.simulator.conversations import Conversations
from adapters.simulator.core import WorldCore, bind
from adapters.simulator.faults import FaultKind
from adapters.simulator.invitation_links import InvitationLinks
from adapters.simulator.messaging import Messaging
from adapters.simulator.records import (
    _MODALITY_OF,
    CS,
    ET,
    Application,
    Conversation,
    InvitationRecord,
    Participant,
    _event,
)
from adapters.simulator.remote_party import RemoteParty
from adapters.simulator.render import InputError, data_uri, parse_input, text_prop
from adapters.simulator.renegotiations import Renegotiations
from adapters.simulator.replies import Document, Hold, Reply, SimRequest, _invalid, ucwa_error
from adapters.simulator.script import DEFAULT_SDP, IncomingCall
from adapters.wire.events import representation_of
from fsm.errors import InvalidInput
from fsm.invitation import Invitation, InvitationKind
from fsm.online_meeting import ConversationState, OnlineMeetingJoin
from fsm.reasons import Reason
from fsm.wire import Direction

log = logging.getLogger("callfsm.simulator")


class Invitations:
    """Creates invitations and their conversations, and registers the links that act on them."""

    def __init__(
        self,
        core: WorldCore,
        conversations: Conversations,
        messaging: Messaging,
        renegotiations: Renegotiations,
        remote: RemoteParty,
    ) -> None:
        self.core = core
        self.conversations = conversations
        self.messaging = messaging
        self.renegotiations = renegotiations
        self.remote = remote
        self.links = InvitationLinks(core, conversations, messaging, remote)

    # -- outgoing ----------------------------------------------------------------------------------------

    def create(
        self, app: Application, kind: InvitationKind, conversation: Conversation | None, request: SimRequest
    ) -> Reply:
        core = self.core
        now = core.clock.now()
        try:
            props = parse_input(request.body, request.content_type)
        except InputError as exc:
            return ucwa_error(400, "BadRequest", None, str(exc))
        target_name = "onlineMeetingUri" if kind is InvitationKind.ONLINE_MEETING else "to"
        target = text_prop(props, target_name)
        if not target:
            return _invalid(target_name, f"{target_name} is required")
        ident = next(app.ids)
        operation_id = text_prop(props, "operationId") or f"sim-op-{app.ident}-{ident}"
        subject = text_prop(props, "subject")
        importance = text_prop(props, "importance") or "Normal"
        extra = {n: v for n in ("sessionContext", "anonymousDisplayName") if (v := text_prop(props, n)) is not None}
        href = self._href(app, kind, ident)
        create_href = request.path
        shadow: Invitation | OnlineMeetingJoin
        try:
            if kind is InvitationKind.ONLINE_MEETING:
                shadow = OnlineMeetingJoin()
                shadow.send(
                    now=now,
                    href=create_href,
                    operation_id=operation_id,
                    online_meeting_uri=target,
                    subject=subject,
                    importance=importance,
                    extra={k: v for k, v in extra.items() if k != "anonymousDisplayName"},
                    anonymous_display_name=extra.get("anonymousDisplayName"),
                )
            else:
                shadow = Invitation(kind=kind)
                shadow.send(
                    now=now,
                    href=create_href,
                    operation_id=operation_id,
                    to=target,
                    subject=subject,
                    importance=importance,
                    extra=dict(extra),
                )
        except InvalidInput as exc:
            return _invalid(exc.field, exc.why)
        new_conversation = conversation is None
        if conversation is None:
            conversation = self._open_conversation(
                app,
                subject=subject,
                state=CS.CONNECTING,
                meeting_uri=target if kind is InvitationKind.ONLINE_MEETING else None,
                modality=_MODALITY_OF.get(kind),
            )
        record = InvitationRecord(
            ident,
            href,
            kind,
            Direction.OUTGOING,
            conversation,
            shadow,
            conversation.local,
            target,
            operation_id,
            subject,
            importance,
            extra,
            profile=core.profile,
        )
        if kind is not InvitationKind.PARTICIPANT:
            conversation.invitation = record
        self._register(app, record)
        document = record.render()
        # the invitation's started before its conversation's added, as in the ReceiveAnIM sample
        core.emit(
            app,
            ("communication", app.communication),
            _event(kind.value, href, ET.STARTED, embedded=document),
            _bind_started(shadow, now, href, document),
            droppable=True,
        )
        if new_conversation:
            self.conversations.conversation_event(app, conversation, ET.ADDED)
        core.flush()
        hold = None
        if core.faults.happens(FaultKind.EARLY_EVENTS) and app.channel.queue:
            hold = Hold(app.ident, app.channel.queue[-1].seq, now + core.config.faults.early_events_wait)
            log.info("fault: the 201 for %s waits for its started to be delivered", href)
        shadow.created(now=now, href=href)
        self.remote.begin_plan(app, record, self.remote.take_plan(kind))
        return Reply(201, headers=(("location", href),), hold=hold)

    def add_participant(self, app: Application, request: SimRequest) -> Reply:
        """The layout's one ``addParticipant`` collection, whose query names the conversation."""
        wanted = request.query.get("conversation")
        conv = next((c for c in app.conversations if str(c.ident) == wanted), None)
        if conv is None:
            return _invalid("conversation", "the conversation query parameter names no conversation")
        return self.create(app, InvitationKind.PARTICIPANT, conv, request)

    @staticmethod
    def _href(app: Application, kind: InvitationKind, ident: int) -> str:
        return app.path(f"{app.layout.invitations.format(kind=kind.value)}/{ident}")

    def _register(self, app: Application, record: InvitationRecord) -> None:
        app.resources[record.href] = record.render
        for verb in ("cancel", "accept", "acceptWithAnswer", "acceptWithPhoneAudio", "decline", "forward"):
            app.actions[f"{record.href}/{verb}"] = bind(self.links.post, app, record, verb)

    def _open_conversation(
        self,
        app: Application,
        *,
        subject: str | None,
        state: ConversationState,
        meeting_uri: str | None,
        modality: str | None,
    ) -> Conversation:
        """A new conversation with its links: hanging up, renegotiating, messaging, adding a participant."""
        conv = self.conversations.new_conversation(
            app, subject=subject, state=state, meeting_uri=meeting_uri, modality=modality
        )
        if meeting_uri is not None:
            app.actions[f"{conv.href}/terminate"] = bind(self.links.terminate, app, conv, None)
        for name, mod in conv.modalities.items():
            app.actions[f"{mod.href}/terminate"] = bind(self.links.terminate, app, conv, name)
            if name == "audioVideo":
                app.actions[f"{mod.session_href}/renegotiations"] = bind(self.renegotiations.offer, app, conv, mod)
            if name == "messaging":
                app.actions[mod.messages_href] = bind(self.messaging.send_message, app, conv, mod)
        if "?" not in app.layout.add_participant:
            app.actions[conv.add_participant_href] = bind(self.create, app, InvitationKind.PARTICIPANT, conv)
        return conv

    # -- incoming ----------------------------------------------------------------------------------------

    def incoming_call(self, app: Application, call: IncomingCall) -> None:
        if app.gone:
            return
        core = self.core
        now = core.clock.now()
        modality = _MODALITY_OF[call.kind]
        conv = self._open_conversation(
            app, subject=call.subject, state=CS.INCOMING, meeting_uri=None, modality=modality
        )
        caller = Participant(conv.new_participant_href(), conv.href, call.name, call.uri)
        conv.roster[caller.href] = caller
        app.resources[caller.href] = caller.render
        ident = next(app.ids)
        href = self._href(app, call.kind, ident)
        shadow = Invitation(kind=call.kind)
        user_uri = core.user[1]
        record = InvitationRecord(
            ident,
            href,
            call.kind,
            Direction.INCOMING,
            conv,
            shadow,
            caller,
            user_uri,
            subject=call.subject,
            message=call.message,
            profile=core.profile,
        )
        if call.kind is InvitationKind.AUDIO_VIDEO:
            record.media_offer = data_uri("application/sdp", DEFAULT_SDP)
        conv.invitation = record
        self._register(app, record)
        document = record.render()
        # started, then the conversation's added: the ReceiveAnIM sample's order
        core.emit(
            app,
            ("communication", app.communication),
            _event(call.kind.value, href, ET.STARTED, embedded=document),
            _bind_started(shadow, now, href, document),
        )
        self.conversations.conversation_event(app, conv, ET.ADDED)
        log.info("incoming %s from %s: %s", call.kind.value, call.uri, href)
        if call.ring_for is not None:
            reason = Reason("Informational", "Missed", "nobody answered")
            record.timers.append(core.after(call.ring_for, bind(self.remote.fail, app, record, reason)))


def _bind_started(
    shadow: Invitation | OnlineMeetingJoin, now: float, href: str, document: Document
) -> Callable[[], object]:
    return lambda: shadow.started(now=now, href=href, representation=representation_of(document))
