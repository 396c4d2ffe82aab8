"""The far end of each invitation: the scripted plan that answers, declines, forwards or lets it ring out.

An outgoing invitation (or a join) rings until its plan's timer fires
(:class:`~adapters.simulator.script.Answer`, ``Decline``, ``Forward``,
``NoAnswer``...); an incoming one ends when the user acts or it rings out.
What is here is how a ringing invitation ends, with the events its shadow
hears: ``completed`` (or an ``updated`` where the profile lists none), the
conversation's and modality's ``updated``, a join's lobby and roster. It is
separate from creating invitations (:mod:`.invitations`) and from the user's
link POSTs (:mod:`.invitation_links`), which both end an invitation through
these same steps.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.simulator.conversations import Conversations, bind_conversation
from adapters.simulator.core import WorldCore, bind
from adapters.simulator.profiles import Completion, Phase
from adapters.simulator.records import CS, ET, IS, MS, Application, InvitationRecord, Participant, _event, _final_state
from adapters.simulator.replies import Document
from adapters.simulator.script import (
    Admit,
    Answer,
    AnswerOnCancel,
    Decline,
    Fail,
    Forward,
    NoAnswer,
    Plan,
    Reject,
    reason_of,
)
from adapters.wire.events import representation_of
from fsm.invitation import Invitation, InvitationKind
from fsm.online_meeting import OnlineMeetingJoin
from fsm.outcome import CompletionStatus
from fsm.reasons import Reason


class RemoteParty:
    """Plays the remote side of every invitation; ``release`` runs the happenings a connection unblocks."""

    def __init__(self, core: WorldCore, conversations: Conversations, release: Callable[[], None]) -> None:
        self.core = core
        self.conversations = conversations
        self._release = release

    def take_plan(self, kind: InvitationKind) -> Plan:
        for scripted in self.core.plans:
            if scripted.applies_to(kind):
                self.core.plans.remove(scripted)
                return scripted.plan
        delay = self.core.config.default_answer_delay
        return Admit(delay) if kind is InvitationKind.ONLINE_MEETING else Answer(delay)

    def begin_plan(self, app: Application, record: InvitationRecord, plan: Plan) -> None:
        record.plan = plan
        join = record.kind is InvitationKind.ONLINE_MEETING
        if join and isinstance(plan, Admit | Reject | NoAnswer | AnswerOnCancel):
            self._enter_lobby(app, record)
        ring_timeout = self.core.config.ring_timeout
        timer: tuple[float, Callable[[], None]]
        if isinstance(plan, Answer | Admit):
            timer = (plan.after, bind(self.answer, app, record))
        elif isinstance(plan, Decline | Fail | Reject):
            timer = (plan.after, bind(self.fail, app, record, reason_of(plan.code, plan.subcode, plan.message)))
        elif isinstance(plan, NoAnswer):
            reason = reason_of(plan.code, plan.subcode, plan.message or "no answer before the timeout")
            timer = (plan.timeout if plan.timeout is not None else ring_timeout, bind(self.fail, app, record, reason))
        elif isinstance(plan, Forward):
            timer = (plan.after, bind(self._forwarded, app, record, plan))
        else:
            reason = reason_of("RemoteFailure", "Timeout", "no answer before the timeout")
            timer = (ring_timeout, bind(self.fail, app, record, reason))
        record.timers.append(self.core.after(*timer))

    def _enter_lobby(self, app: Application, record: InvitationRecord) -> None:
        conv = record.conversation
        conv.state = CS.IN_LOBBY
        conv.local.in_lobby = True
        shadow = record.shadow
        assert isinstance(shadow, OnlineMeetingJoin)
        apply = bind_conversation(shadow, self.core.clock.now(), CS.IN_LOBBY)
        self.conversations.conversation_event(app, conv, ET.UPDATED, apply)

    def answer(self, app: Application, record: InvitationRecord) -> None:
        """The remote side answers (or the meeting admits the user)."""
        if record.phase is not Phase.RINGING or record.shadow.is_terminal:
            return
        self.core.cancel_timers(record)
        now = self.core.clock.now()
        conv = record.conversation
        conversations = self.conversations
        if record.kind is InvitationKind.ONLINE_MEETING:
            shadow = record.shadow
            assert isinstance(shadow, OnlineMeetingJoin)
            conv.local.in_lobby = False
            conv.roster[conv.local.href] = conv.local
            local_href = conv.local.href
            self.core.emit(
                app,
                ("conversation", conv.href),
                _event("localParticipant", local_href, ET.ADDED, embedded=conv.local.render()),
                lambda: shadow.roster_added(now=now, href=local_href),
            )
            conv.state = CS.CONFERENCED
            conversations.conversation_event(app, conv, ET.UPDATED, bind_conversation(shadow, now, CS.CONFERENCED))
        elif record.kind is InvitationKind.PARTICIPANT:
            invitee = Participant(conv.new_participant_href(), conv.href, record.target, record.target)
            conv.roster[invitee.href] = invitee
            record.invitee = invitee
            app.resources[invitee.href] = invitee.render
            self.core.emit(
                app,
                ("conversation", conv.href),
                _event("participant", invitee.href, ET.ADDED, embedded=invitee.render()),
            )
        else:
            modality = record.modality
            if modality is not None:
                modality.state = MS.CONNECTED
                conversations.modality_event(app, conv, modality)
            conv.state = CS.CONNECTED
            conversations.conversation_event(app, conv, ET.UPDATED)
        if self._complete(app, record, None):
            self._release()

    def fail(self, app: Application, record: InvitationRecord, reason: Reason) -> None:
        if record.phase is not Phase.RINGING or record.shadow.is_terminal:
            return
        self.core.cancel_timers(record)
        self._complete(app, record, reason)
        self._end_conversation(app, record)

    def _complete(self, app: Application, record: InvitationRecord, reason: Reason | None) -> bool:
        now = self.core.clock.now()
        state = IS.CONNECTED if reason is None else _final_state(reason, record.kind)
        phase = Phase.CONNECTED if reason is None else Phase.ENDED
        document = record.render(state=state, phase=phase)
        status = CompletionStatus.SUCCESS if reason is None else CompletionStatus.FAILURE
        shadow = record.shadow

        def apply() -> None:
            shadow.completed(
                now=now,
                status=status.value,
                reason=reason,
                representation=representation_of(document),
                href=record.href,
            )

        config, profile = self.core.config, self.core.profile
        if config.completion is Completion.UPDATED and record.kind not in profile.documents_completed:
            # the current reference lists no completed for this kind: the final state comes as an updated
            # (its reason has no place there); the shadow still ends, as the server knows it did
            event = _event(record.kind.value, record.href, ET.UPDATED, embedded=document)
        else:
            event = _event(
                record.kind.value, record.href, ET.COMPLETED, embedded=document, status=status, reason=reason
            )
        if not self.core.emit(app, ("communication", app.communication), event, apply):
            return False
        record.wire_state = state
        record.phase = phase
        return True

    def _end_conversation(self, app: Application, record: InvitationRecord) -> None:
        conv = record.conversation
        if record.kind is InvitationKind.PARTICIPANT:
            return
        modality = record.modality
        if modality is not None and modality.state is not MS.DISCONNECTED:
            modality.state = MS.DISCONNECTED
            self.conversations.modality_event(app, conv, modality)
        conv.state = CS.DISCONNECTED
        apply = None
        if isinstance(record.shadow, OnlineMeetingJoin):
            apply = bind_conversation(record.shadow, self.core.clock.now(), CS.DISCONNECTED)
        self.conversations.conversation_event(app, conv, ET.UPDATED, apply)

    def _forwarded(self, app: Application, record: InvitationRecord, plan: Forward) -> None:
        if record.phase is not Phase.RINGING or record.shadow.is_terminal:
            return
        now = self.core.clock.now()
        document = record.render(state=IS.FORWARDED)
        shadow = record.shadow
        if self.core.emit(
            app,
            ("communication", app.communication),
            _event(record.kind.value, record.href, ET.UPDATED, embedded=document),
            _bind_updated(shadow, now, record.href, document),
        ):
            record.wire_state = IS.FORWARDED
        if plan.answer_after is not None:
            record.timers.append(self.core.after(plan.answer_after, bind(self.answer, app, record)))
        else:
            reason = reason_of("RemoteFailure", "Timeout", "no answer before the timeout")
            record.timers.append(self.core.after(self.core.config.ring_timeout, bind(self.fail, app, record, reason)))


def _bind_updated(
    shadow: Invitation | OnlineMeetingJoin, now: float, href: str, document: Document
) -> Callable[[], object]:
    return lambda: shadow.updated(now=now, href=href, representation=representation_of(document))
