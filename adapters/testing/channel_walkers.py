"""The walkers of the machines whose resources have events on the UCWA channel.

``invitation``, ``online_meeting``, ``lobby_participant`` and ``renegotiation``: each takes only the
rows whose trigger the server causes through the event channel and turns each row into the wire event
that makes the machine pick exactly that row (where each walk starts is in the
:mod:`adapters.testing.strategies` table). Apart from the Huawei walker, which emits trigger calls
instead of events.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final

from adapters.testing.choices import _Choices
from adapters.testing.walks import _REASONS, APP, _Walker
from adapters.wire.events import EventType
from fsm.engine import Transition
from fsm.invitation import INVITATION, KIND_RULES, InvitationKind, InvitationState, InvitationTrigger
from fsm.lobby_participant import LOBBY_PARTICIPANT, LobbyParticipantTrigger
from fsm.online_meeting import (
    ONLINE_MEETING,
    ConversationState,
    LobbySignal,
    OnlineMeetingState,
    OnlineMeetingTrigger,
)
from fsm.outcome import Completion, CompletionStatus
from fsm.renegotiation import RENEGOTIATION, RenegotiationState, RenegotiationTrigger
from fsm.wire import Direction

_INCOMING_KINDS: Final = tuple(k for k in InvitationKind if KIND_RULES[k].can_be_incoming)
#: An outgoing onlineMeetingInvitation is a join: the online_meeting machine's, not the invitation's.
_OUTGOING_KINDS: Final = tuple(k for k in InvitationKind if k is not InvitationKind.ONLINE_MEETING)


class _InvitationWalker(_Walker):
    definition = INVITATION
    CHANNEL: Final = {
        InvitationTrigger.STARTED: EventType.STARTED,
        InvitationTrigger.UPDATED: EventType.UPDATED,
        InvitationTrigger.COMPLETED: EventType.COMPLETED,
    }
    PROGRESS: Final = (
        InvitationState.CONNECTING,
        InvitationState.ALERTING,
        InvitationState.TEAM_RING,
        InvitationState.FORWARDED,
    )

    def __init__(self, choices: _Choices, serial: int, outgoing: bool) -> None:
        super().__init__(choices, serial)
        self.outgoing = outgoing
        self.kind = choices.pick(_OUTGOING_KINDS if outgoing else _INCOMING_KINDS)
        self.href = f"{APP}/communication/invitations/{serial}"
        self.operation_id = f"op-{serial}"
        if outgoing:
            self.start = InvitationState.SENDING

    def eligible(self, state: Enum, first: bool) -> list[Transition[Any, Any]]:
        rows = [r for r in self.definition.table if r.source is state and r.trigger in self.CHANNEL]
        if first and not self.outgoing:
            # only a started creates an incoming invitation
            rows = [r for r in rows if r.trigger is InvitationTrigger.STARTED]
        return rows

    def resource(self, state: str | None, dest: Enum) -> dict[str, Any]:
        direction = Direction.OUTGOING if self.outgoing else Direction.INCOMING
        out: dict[str, Any] = {"direction": direction.value, "operationId": self.operation_id}
        if state is not None:
            out["state"] = state
        modality = f"{self.conversation}/{self.kind.value}"
        links: dict[str, str] = {"conversation": self.conversation}
        if dest in self.PROGRESS or dest in (InvitationState.IDLE, InvitationState.SENDING):
            if self.outgoing:
                links["cancel"] = f"{self.href}/cancel"
            else:
                for rel in KIND_RULES[self.kind].accept_rels[:1]:
                    links[rel] = f"{self.href}/{rel}"
                links["decline"] = f"{self.href}/decline"
                if self.c.coin():
                    links["forward"] = f"{self.href}/forward"
        elif dest is InvitationState.CONNECTED:
            links["cancel"] = f"{modality}/terminate"
        out["_links"] = self.links(**links)
        return out

    def emit(self, row: Transition[Any, Any]) -> dict[str, Any]:
        kind = self.CHANNEL[row.trigger]
        rel = self.rel(self.kind.value)
        if kind is EventType.COMPLETED:
            completion = row.when if isinstance(row.when, Completion) else self.c.pick(tuple(Completion))
            status, reason, final = self.completion(completion)
            return self.event(rel, self.href, kind, self.resource(final, row.dest), status=status, reason=reason)
        if isinstance(row.when, Completion) and row.when is not Completion.UNDETERMINED:
            # an updated to a final state ends the invitation: the state says it, there is no status
            return self.event(rel, self.href, kind, self.resource(row.when.value, row.dest))
        progress = row.when if isinstance(row.when, InvitationState) else self.c.pick(self.PROGRESS)
        return self.event(rel, self.href, kind, self.resource(progress.value, row.dest))


class _OnlineMeetingWalker(_Walker):
    definition = ONLINE_MEETING
    OMI: Final = {
        OnlineMeetingTrigger.STARTED: EventType.STARTED,
        OnlineMeetingTrigger.UPDATED: EventType.UPDATED,
        OnlineMeetingTrigger.COMPLETED: EventType.COMPLETED,
    }
    OTHERS: Final = (
        OnlineMeetingTrigger.CONVERSATION_UPDATED,
        OnlineMeetingTrigger.PARTICIPANT_UPDATED,
        OnlineMeetingTrigger.ROSTER_ADDED,
    )

    def __init__(self, choices: _Choices, serial: int) -> None:
        super().__init__(choices, serial)
        self.outgoing = True
        self.start = OnlineMeetingState.SENDING
        self.href = f"{APP}/communication/onlineMeetingInvitations/{serial}"
        self.operation_id = f"op-{serial}"
        self.me = f"{self.conversation}/participants/me-{serial}"

    def eligible(self, state: Enum, first: bool) -> list[Transition[Any, Any]]:
        # the first event must be the OMI's: it names the conversation the others are found by
        wanted = set(self.OMI) if first else {*self.OMI, *self.OTHERS}
        return [r for r in self.definition.table if r.source is state and r.trigger in wanted]

    def emit(self, row: Transition[Any, Any]) -> dict[str, Any]:
        trigger = row.trigger
        if trigger in self.OMI:
            status = reason = final = None
            if trigger is OnlineMeetingTrigger.COMPLETED:
                completion = row.when if isinstance(row.when, Completion) else self.c.pick(tuple(Completion))
                status, reason, final = self.completion(completion)
            state = final if trigger is OnlineMeetingTrigger.COMPLETED else OnlineMeetingState.CONNECTING.value
            if isinstance(row.when, Completion) and row.when is not Completion.UNDETERMINED and final is None:
                state = row.when.value  # an OMI updated to a final state ends the join
            resource: dict[str, Any] = {"direction": Direction.OUTGOING.value, "operationId": self.operation_id}
            if state is not None:
                resource["state"] = state
            links = {"conversation": self.conversation}
            if self.c.coin():
                links["cancel"] = f"{self.href}/cancel"
            resource["_links"] = self.links(**links)
            rel = self.rel(InvitationKind.ONLINE_MEETING.value)
            return self.event(rel, self.href, self.OMI[trigger], resource, status=status, reason=reason)
        signal = row.when if isinstance(row.when, LobbySignal) else self.c.pick(tuple(LobbySignal))
        if trigger is OnlineMeetingTrigger.CONVERSATION_UPDATED:
            others = tuple(s for s in ConversationState if s is not ConversationState.IN_LOBBY)
            conversation = ConversationState.IN_LOBBY if signal is LobbySignal.IN_LOBBY else self.c.pick(others)
            body: dict[str, Any] = {"state": conversation.value, "_links": {"self": {"href": self.conversation}}}
            return self.event(self.rel("conversation"), self.conversation, EventType.UPDATED, body)
        me: dict[str, Any] = {"name": "Me", "_links": {"self": {"href": self.me}}}
        if trigger is OnlineMeetingTrigger.PARTICIPANT_UPDATED:
            in_lobby = signal is LobbySignal.IN_LOBBY
            body = {**me, "inLobby": in_lobby} if in_lobby or self.c.coin() else me
            return self.event(self.rel("localParticipant"), self.me, EventType.UPDATED, body)
        return self.event(self.rel("localParticipant"), self.me, EventType.ADDED, me)


class _LobbyWalker(_Walker):
    definition = LOBBY_PARTICIPANT
    LOBBY: Final = {
        LobbyParticipantTrigger.ADDED: EventType.ADDED,
        LobbyParticipantTrigger.UPDATED: EventType.UPDATED,
        LobbyParticipantTrigger.DELETED: EventType.DELETED,
    }

    def __init__(self, choices: _Choices, serial: int) -> None:
        super().__init__(choices, serial)
        self.href = f"{self.conversation}/participants/{serial}"
        self.lobby = f"{self.conversation}/lobby"
        self.name = choices.pick(("Ann", "Bo", "Chandra", "Dmitri"))

    def eligible(self, state: Enum, first: bool) -> list[Transition[Any, Any]]:
        wanted = {*self.LOBBY, LobbyParticipantTrigger.ROSTER_ADDED}
        return [r for r in self.definition.table if r.source is state and r.trigger in wanted]

    def emit(self, row: Transition[Any, Any]) -> dict[str, Any]:
        rel = self.rel("participant")
        if row.trigger is LobbyParticipantTrigger.ROSTER_ADDED:
            body = {"name": self.name, "inLobby": False, "_links": self.links()}
            return self.event(rel, self.href, EventType.ADDED, body)
        in_lobby = row.trigger is not LobbyParticipantTrigger.DELETED
        links = self.links(admit=f"{self.href}/admit", reject=f"{self.href}/reject") if in_lobby else self.links()
        body = {"name": self.name, "inLobby": in_lobby, "_links": links}
        return self.event(rel, self.href, self.LOBBY[row.trigger], body, in_=(self.rel("lobby"), self.lobby))


class _RenegotiationWalker(_Walker):
    definition = RENEGOTIATION
    CHANNEL: Final = (
        RenegotiationTrigger.STARTED,
        RenegotiationTrigger.REMOTE_ANSWERED,
        RenegotiationTrigger.REMOTE_REJECTED,
    )

    def __init__(self, choices: _Choices, serial: int, outgoing: bool) -> None:
        super().__init__(choices, serial)
        self.outgoing = outgoing
        self.session = f"{self.conversation}/audioVideo/audioVideoSession"
        self.href = f"{self.session}/renegotiations/{serial}"
        self.operation_id = f"op-{serial}"
        if outgoing:
            self.start = RenegotiationState.OFFERING

    def eligible(self, state: Enum, first: bool) -> list[Transition[Any, Any]]:
        return [r for r in self.definition.table if r.source is state and r.trigger in self.CHANNEL]

    def resource(self, *, answered: bool) -> dict[str, Any]:
        direction = Direction.OUTGOING if self.outgoing else Direction.INCOMING
        links = {
            "mediaOffer": "data:application/sdp;base64,dj0wDQo=",
            "audioVideoSession": self.session,
            "conversation": self.conversation,
        }
        if not self.outgoing:
            links.update(answer=f"{self.href}/answer", dismiss=f"{self.href}/dismiss")
        if answered:
            links["mediaAnswer"] = "data:application/sdp;base64,dj0wDQo="
        return {"direction": direction.value, "operationId": self.operation_id, "_links": self.links(**links)}

    def emit(self, row: Transition[Any, Any]) -> dict[str, Any]:
        rel = self.rel("audioVideoRenegotiation")
        if row.trigger is RenegotiationTrigger.STARTED:
            return self.event(rel, self.href, EventType.STARTED, self.resource(answered=False))
        if row.trigger is RenegotiationTrigger.REMOTE_ANSWERED:
            kind = self.c.pick((EventType.UPDATED, EventType.COMPLETED))
            status = CompletionStatus.SUCCESS.value if kind is EventType.COMPLETED else None
            return self.event(rel, self.href, kind, self.resource(answered=True), status=status)
        code, subcode = self.c.pick(_REASONS[Completion.FAILED])
        reason = None if code is None else {"code": code, "subcode": subcode}
        return self.event(
            rel,
            self.href,
            EventType.COMPLETED,
            self.resource(answered=False),
            status=CompletionStatus.FAILURE.value,
            reason=reason,
        )

