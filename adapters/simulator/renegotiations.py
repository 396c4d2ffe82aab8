"""Audio/video renegotiations: the user's offer and the remote's reply, the remote's offer and the user's answer.

Each renegotiation has a :class:`~fsm.renegotiation.Renegotiation` shadow.
Separate from the invitations because a renegotiation lives inside a
connected call's session and has its own machine, its own links and its own
scripted replies (:meth:`World.add_renegotiation_reply`).
"""

from __future__ import annotations

import logging

from adapters.simulator.core import WorldCore, bind
from adapters.simulator.profiles import Phase
from adapters.simulator.records import ET, Application, Conversation, Modality, RenegotiationRecord, _event
from adapters.simulator.render import InputError, is_sdp, parse_input, text_prop
from adapters.simulator.replies import NO_CONTENT, BodyKind, Reply, SimRequest, _conflict, _invalid, ucwa_error
from adapters.simulator.script import DEFAULT_SDP, IncomingRenegotiation, RenegotiationReply, reason_of
from adapters.wire.events import representation_of
from fsm.errors import CallFsmError, InvalidInput
from fsm.invitation import InvitationKind
from fsm.outcome import CompletionStatus
from fsm.reasons import ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation
from fsm.wire import Direction

log = logging.getLogger("callfsm.simulator")


class Renegotiations:
    """The renegotiations of the connected calls (each conversation holds its own)."""

    def __init__(self, core: WorldCore) -> None:
        self.core = core

    @staticmethod
    def _in_flight(conv: Conversation) -> bool:
        return any(not r.shadow.is_terminal for r in conv.renegotiations)

    def connected_call(self) -> tuple[Application, Conversation] | None:
        """Where an incoming renegotiation goes: the newest connected audio/video call."""
        for app in self.core.live_apps():
            for conv in reversed(app.conversations):
                rec = conv.invitation
                if rec is not None and rec.kind is InvitationKind.AUDIO_VIDEO and rec.phase is Phase.CONNECTED:
                    return app, conv
        return None

    # -- the remote's offer ---------------------------------------------------------------------------

    def incoming(self, target: tuple[Application, Conversation], happening: IncomingRenegotiation) -> None:
        app, conv = target
        record = conv.invitation
        modality = conv.modalities.get("audioVideo")
        if app.gone or record is None or record.phase is not Phase.CONNECTED or modality is None:
            self.core.waiting.append(happening)
            return
        if self._in_flight(conv):
            # at most one renegotiation at a time (docs/protocol.md §4): try again shortly
            self.core.after(0.05, bind(self.incoming, target, happening))
            return
        now = self.core.clock.now()
        ident = next(app.ids)
        href = f"{modality.session_href}/renegotiations/{ident}"
        reneg = RenegotiationRecord(
            ident, href, Direction.INCOMING, modality, f"sim-reneg-{app.ident}-{ident}", happening.sdp, Renegotiation()
        )
        conv.renegotiations.append(reneg)
        app.actions[f"{href}/answer"] = bind(self._post, app, reneg, "answer")
        app.actions[f"{href}/dismiss"] = bind(self._post, app, reneg, "dismiss")
        document = reneg.render()
        offer = document["_links"]["mediaOffer"]["href"]

        def apply() -> None:
            reneg.shadow.started(now=now, representation=representation_of(document), href=href, media_offer=offer)

        self.core.emit(
            app,
            ("communication", app.communication),
            _event("audioVideoRenegotiation", href, ET.STARTED, embedded=document),
            apply,
        )

    def _post(self, app: Application, reneg: RenegotiationRecord, verb: str, request: SimRequest) -> Reply:
        now = self.core.clock.now()
        if not reneg.offered or reneg.direction is not Direction.INCOMING:
            return _conflict(f"the renegotiation offers no {verb} link now")
        shadow = reneg.shadow
        try:
            if verb == "answer":
                shadow.answer(now=now)
            else:
                try:
                    props = parse_input(request.body, request.content_type)
                except InputError as exc:
                    return ucwa_error(400, "BadRequest", None, str(exc))
                raw = text_prop(props, "reason")
                reason = None
                if raw is not None:
                    reason = next((r for r in ReNegotiationDeclineReason if r.value.lower() == raw.lower()), None)
                    if reason is None:
                        return _invalid("reason", f"{raw!r} is not a ReNegotiationDeclineReason")
                shadow.dismiss(now=now, reason=reason)
        except CallFsmError as exc:
            return _conflict(str(exc))
        shadow.request_succeeded(now=now)
        reneg.offered = False
        log.info("renegotiation %s: %s", reneg.href, verb)
        return NO_CONTENT

    # -- the user's offer -------------------------------------------------------------------------------

    def offer(self, app: Application, conv: Conversation, modality: Modality, request: SimRequest) -> Reply:
        now = self.core.clock.now()
        record = conv.invitation
        if record is None or record.phase is not Phase.CONNECTED:
            return _conflict("the audio/video session is not established")
        operation_id = request.query.get("operationId")
        if not operation_id or len(operation_id) > 50:
            return _invalid("operationId", "operationId is required, at most 50 characters")
        if request.body.strip() and not is_sdp(request.content_type):
            return ucwa_error(415, "UnsupportedMediaType", None, "a renegotiation offer is application/sdp")
        if self._in_flight(conv):
            return ucwa_error(409, "Conflict", "AlreadyExists", "another renegotiation is in progress")
        ident = next(app.ids)
        href = f"{modality.session_href}/renegotiations/{ident}"
        sdp = request.body.decode("utf-8", "replace") or DEFAULT_SDP
        shadow = Renegotiation()
        try:
            shadow.offer(now=now, href=request.path, operation_id=operation_id, sdp=sdp)
        except InvalidInput as exc:
            return _invalid(exc.field, exc.why)
        reneg = RenegotiationRecord(ident, href, Direction.OUTGOING, modality, operation_id, sdp, shadow)
        conv.renegotiations.append(reneg)
        document = reneg.render()

        def started() -> None:
            shadow.started(now=now, representation=representation_of(document), href=href)

        self.core.emit(
            app,
            ("communication", app.communication),
            _event("audioVideoRenegotiation", href, ET.STARTED, embedded=document),
            started,
        )
        shadow.created(now=now, representation=representation_of(document), href=href)
        replies = self.core.renegotiation_replies
        reply = replies.popleft() if replies else RenegotiationReply(True, self.core.config.default_answer_delay)
        self.core.after(reply.after, bind(self._remote_reply, app, reneg, reply))
        return Reply(201, BodyKind.RESOURCE, document, (("location", href),))

    def _remote_reply(self, app: Application, reneg: RenegotiationRecord, reply: RenegotiationReply) -> None:
        if reneg.shadow.is_terminal:
            return
        now = self.core.clock.now()
        shadow = reneg.shadow
        if reply.answer:
            reneg.answer = DEFAULT_SDP
            document = reneg.render()
            answer = document["_links"]["mediaAnswer"]["href"]
            self.core.emit(
                app,
                ("communication", app.communication),
                _event("audioVideoRenegotiation", reneg.href, ET.UPDATED, embedded=document),
                lambda: shadow.remote_answered(now=now, media_answer=answer),
            )
            return
        reason = reason_of(reply.code, reply.subcode, "the remote refused the offer")
        self.core.emit(
            app,
            ("communication", app.communication),
            _event(
                "audioVideoRenegotiation",
                reneg.href,
                ET.COMPLETED,
                embedded=reneg.render(),
                status=CompletionStatus.FAILURE,
                reason=reason,
            ),
            lambda: shadow.remote_rejected(now=now, reason=reason),
        )
