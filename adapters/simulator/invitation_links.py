"""The user's link POSTs on an invitation: cancel, accept (three ways), decline, forward, and hanging up.

Each POST fires the shadow's local trigger first; a machine that refuses it
(wrong state, link absent) makes the POST a 409 and nothing happens.
Otherwise the POST gets 204, the shadow hears ``request_succeeded``, and the
invitation ends or connects through :class:`~.remote_party.RemoteParty`, as
if the remote side had acted. Separate from creating invitations
(:mod:`.invitations`): this is the client-facing validation of each verb's
input, and it is the bulk of the invitation code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from adapters.simulator.conversations import Conversations, bind_conversation
from adapters.simulator.core import WorldCore
from adapters.simulator.messaging import Messaging
from adapters.simulator.profiles import Phase
from adapters.simulator.records import CS, ET, IS, MS, Application, Conversation, InvitationRecord
from adapters.simulator.remote_party import RemoteParty
from adapters.simulator.render import InputError, is_sdp, parse_input, prop, text_prop
from adapters.simulator.replies import NO_CONTENT, Reply, SimRequest, _conflict, _invalid, ucwa_error
from adapters.simulator.script import AnswerOnCancel
from adapters.wire.events import representation_of
from fsm.errors import CallFsmError, LinkMissing
from fsm.invitation import Invitation
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState
from fsm.reasons import CallDeclineReason, Reason
from fsm.wire import Direction

log = logging.getLogger("callfsm.simulator")


class InvitationLinks:
    """The handlers of an invitation's links and of a connected conversation's ``terminate``."""

    def __init__(
        self, core: WorldCore, conversations: Conversations, messaging: Messaging, remote: RemoteParty
    ) -> None:
        self.core = core
        self.conversations = conversations
        self.messaging = messaging
        self.remote = remote

    def _local(self, record: InvitationRecord, trigger: Callable[[], object]) -> Reply | None:
        """Fire a shadow's local trigger; a refusal is the 409 the client gets."""
        try:
            try:
                trigger()
            except LinkMissing:
                # the client may know the link from a GET (a started was aggregated away):
                # learn the resource as a client does after a GET, then try once more
                document = record.render()
                shadow = record.shadow
                now = self.core.clock.now()
                shadow.updated(now=now, href=record.href, representation=representation_of(document))
                trigger()
        except CallFsmError as exc:
            return _conflict(str(exc))
        return None

    def post(self, app: Application, record: InvitationRecord, verb: str, request: SimRequest) -> Reply:
        now = self.core.clock.now()
        if not any(verb in record.profile.offers(record.kind, record.direction, phase) for phase in Phase):
            # a verb this resource never has on this server: as if the URL did not exist
            return ucwa_error(404, "NotFound", None, f"this {record.kind.value} has no {verb} link on this server")
        if record.links().get(verb) != request.path:
            return _conflict(f"the invitation offers no {verb} link here now (state {record.wire_state.value})")
        shadow = record.shadow
        try:
            props = parse_input(b"" if is_sdp(request.content_type) else request.body, request.content_type)
        except InputError as exc:
            return ucwa_error(400, "BadRequest", None, str(exc))
        if verb == "cancel":
            refused = self._local(record, lambda: shadow.cancel(now=now))
            if refused is not None:
                return refused
            # the server answers its own cancel before anything else happens: cancel_answered, so an
            # answer now (the cancel race) leaves the shadow hanging_up, as a client that took the 204 first
            shadow.request_succeeded(now=now)
            if isinstance(record.plan, AnswerOnCancel):
                log.info("the remote answered %s as the cancel arrived", record.href)
                self.remote.answer(app, record)
            else:
                self.remote.fail(app, record, Reason("LocalFailure", "Canceled", "cancelled by the user"))
            return NO_CONTENT
        assert isinstance(shadow, Invitation)
        if verb in ("accept", "acceptWithAnswer", "acceptWithPhoneAudio"):
            return self._accept(app, record, shadow, verb, request)
        if verb == "decline":
            raw = text_prop(props, "reason")
            decline_reason = None
            if raw is not None:
                decline_reason = next((r for r in CallDeclineReason if r.value.lower() == raw.lower()), None)
                if decline_reason is None:
                    return _invalid("reason", f"{raw!r} is not a CallDeclineReason")
            refused = self._local(record, lambda: shadow.decline(now=now, reason=decline_reason))
            if refused is not None:
                return refused
            shadow.request_succeeded(now=now)
            shown = "no reason" if decline_reason is None else decline_reason.value
            self.remote.fail(app, record, Reason("LocalFailure", "Declined", f"declined by the user ({shown})"))
            return NO_CONTENT
        # forward: ms:rtc:saas:forward marks `to` as not required (docs/protocol.md §1.5)
        to = prop(props, "to")
        if to is not None and (not isinstance(to, str) or not to):
            return _invalid("to", "to is a SIP URI when given")
        refused = self._local(record, lambda: shadow.forward(now=now, to=to))
        if refused is not None:
            return refused
        shadow.request_succeeded(now=now)
        where = "" if to is None else f" to {to}"
        self.remote.fail(app, record, Reason("Informational", "Redirected", f"forwarded{where}"))
        return NO_CONTENT

    def _accept(
        self, app: Application, record: InvitationRecord, shadow: Invitation, verb: str, request: SimRequest
    ) -> Reply:
        """``accept``, ``acceptWithAnswer`` (SDP, ``sessionContext``) or ``acceptWithPhoneAudio`` (no body)."""
        now = self.core.clock.now()
        trigger: Callable[[], object]
        if verb == "acceptWithAnswer":
            context = request.query.get("sessionContext")
            if not context or len(context) > 50:
                return _invalid("sessionContext", "sessionContext is required, at most 50 characters")
            if not is_sdp(request.content_type) or not request.body.strip():
                return ucwa_error(415, "UnsupportedMediaType", None, "acceptWithAnswer takes an application/sdp body")
            answer = request.body.decode("utf-8", "replace")

            def trigger() -> object:
                return shadow.accept(now=now, answer_sdp=answer, session_context=context)
        elif verb == "acceptWithPhoneAudio":
            # the machines' explicit trigger where they have it; an older machine's accept() chose this link
            by_phone = getattr(shadow, "accept_with_phone_audio", shadow.accept)

            def trigger() -> object:
                return by_phone(now=now)
        else:

            def trigger() -> object:
                return shadow.accept(now=now)

        refused = self._local(record, trigger)
        if refused is not None:
            return refused
        shadow.request_succeeded(now=now)
        self.remote.answer(app, record)
        if record.message is not None:
            self.messaging.message_event(app, record.conversation, Direction.INCOMING, record.message)
        return NO_CONTENT

    def terminate(self, app: Application, conv: Conversation, modality_name: str | None, request: SimRequest) -> Reply:
        """Hang up a connected call, or leave a connected meeting (the connected invitation's cancel link)."""
        now = self.core.clock.now()
        record = conv.invitation
        if record is None or record.phase is not Phase.CONNECTED:
            return _conflict("nothing is connected here")
        shadow = record.shadow
        # hanging_up: the cancel race, where the answer crossed the cancel and the shadow awaits the hang-up
        hanging_up = shadow.state in (IS.HANGING_UP, OnlineMeetingState.HANGING_UP)
        if not hanging_up:
            refused = self._local(record, lambda: shadow.cancel(now=now))
            if refused is not None:
                return refused
        shadow.request_succeeded(now=now)
        record.phase = Phase.ENDED
        for modality in conv.modalities.values():
            if modality.state is not MS.DISCONNECTED:
                modality.state = MS.DISCONNECTED
                self.conversations.modality_event(app, conv, modality)
        conv.state = CS.DISCONNECTED
        apply = None
        if isinstance(shadow, OnlineMeetingJoin):
            apply = bind_conversation(shadow, now, CS.DISCONNECTED)
        self.conversations.conversation_event(app, conv, ET.UPDATED, apply)
        log.info("%s hung up", record.href)
        return NO_CONTENT
