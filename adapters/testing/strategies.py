"""Hypothesis strategies for event streams: valid walks of every machine, and malformed bodies.

Theory of operation
-------------------
This module is for tests (callfsm's and its users'): it imports Hypothesis at
the top, so install ``callfsm[test]`` to use it.

A *walk* is a random walk over one machine's table, taking only the rows
whose trigger the server causes through the event channel (``started``,
``updated``, ``completed``, lobby ``added``/``deleted``...). Each row taken
becomes one wire event whose payload makes the machine pick exactly that row:
a progress row's guard branch (``Alerting``) becomes the embedded ``state``; a
completion branch becomes ``status`` + ``reason`` (and sometimes the final
embedded state); a lobby signal becomes ``InLobby`` or ``inLobby``. The walk
records the state after each event as the table says, so a test can compare
what its code ended in with :attr:`EventWalk.final_state`. Every event embeds
its resource (with the links a server would put there) and a distinct
``etag``, so no two events of a walk are exact copies that a de-duplicating
consumer could drop.

Where each machine's walk starts and how a consumer finds it:

============================  =========================================================
``invitation``                an incoming invitation (audioVideo, messaging,
                              onlineMeeting, phoneAudio): its first event is
                              ``started`` and a bare :class:`~adapters.routing.dispatcher.Dispatcher`
                              creates the model. ``outgoing=True``: the app sent it
                              (any kind but onlineMeeting, whose outgoing form is a
                              join; walk starts in ``sending``; track the model by
                              :attr:`EventWalk.operation_id`, or replay with
                              :mod:`adapters.routing.replay`, which adopts outgoing resources).
``online_meeting``            the joiner's view of an OMI the app created (always
                              outgoing, starts in ``sending``): OMI events, the
                              conversation's ``InLobby``, the local participant's
                              ``inLobby`` and roster ``added``. The first event is an
                              OMI event (it names the conversation).
``lobby_participant``         a leader's view of one lobby member: ``added`` /
                              ``updated`` / ``deleted`` ``in: lobby`` and the roster
                              ``added``; a bare Dispatcher creates the model.
``renegotiation``             incoming (a bare Dispatcher creates it; only repeated
                              ``started`` can follow, the rest is the app's answer)
                              or outgoing (starts in ``offering``: answered or
                              rejected by ``updated``/``completed``); drawn unless
                              ``outgoing`` is given.
``meeting_series``            Huawei has no event channel: the walk is a list of
                              trigger calls ``{"trigger": name, "kwargs": {...}}``
                              over the whole table (the app's DELETEs and Huawei's
                              answers, status + error body, included). Apply them
                              with :func:`call_trigger`.
============================  =========================================================

:func:`responses_for` wraps events into event-channel responses (``self`` and
``next`` links whose ``ack`` increases, not always by one; consecutive events
of one sender share a sender entry). :func:`random_stream` builds one long
interleaved stream of many walks from a seed, without Hypothesis' engine (for
bulk replays and demos). :func:`malformed_responses` draws bodies that
:func:`~adapters.wire.events.parse_events` must reject with
:class:`~adapters.wire.events.EventParseError`, or accept while reporting what it
did not understand in :attr:`~adapters.wire.events.EventsResponse.unknown`.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any, Final, Protocol, TypeVar

import hypothesis.strategies as st
from attrs import define, field, frozen

from adapters.wire.events import KNOWN_RELS, EventType
from fsm.engine import MachineDefinition, Transition
from fsm.invitation import INVITATION, KIND_RULES, InvitationKind, InvitationState, InvitationTrigger
from fsm.lobby_participant import LOBBY_PARTICIPANT, LobbyParticipantTrigger
from fsm.meeting_series import (
    MEETING_SERIES,
    CancelMode,
    ConferenceState,
    MeetingSeriesState,
    MeetingSeriesTrigger,
    Observation,
)
from fsm.model import FsmModel
from fsm.online_meeting import (
    ONLINE_MEETING,
    ConversationState,
    LobbySignal,
    OnlineMeetingState,
    OnlineMeetingTrigger,
)
from fsm.outcome import Completion, CompletionStatus
from fsm.reasons import CATALOGUE, ErrorCode
from fsm.registry import MACHINES
from fsm.renegotiation import RENEGOTIATION, RenegotiationState, RenegotiationTrigger
from fsm.wire import SAAS_PREFIX, Direction, bare_rel

#: The application every generated href lives under.
APP: Final = "/ucwa/oauth/v1/applications/1"
#: The machines whose resources have events on the UCWA channel.
CHANNEL_MACHINES: Final = ("invitation", "online_meeting", "lobby_participant", "renegotiation")
#: Longest walk :func:`event_walks` draws by default.
MAX_EVENTS: Final = 12

X = TypeVar("X")

# Reason subcodes (not state names) that decide a completion: docs/protocol.md §1.1 and 5.1.
_CANCELED: Final = "Canceled"
_DECLINED: Final = "Declined"
_INCOMING_KINDS: Final = tuple(k for k in InvitationKind if KIND_RULES[k].can_be_incoming)
#: An outgoing onlineMeetingInvitation is a join: the online_meeting machine's, not the invitation's.
_OUTGOING_KINDS: Final = tuple(k for k in InvitationKind if k is not InvitationKind.ONLINE_MEETING)


class _Choices(Protocol):
    """Where a walk's randomness comes from: Hypothesis' ``draw``, or a seeded ``random.Random``."""

    def pick(self, options: Sequence[X]) -> X: ...

    def number(self, low: int, high: int) -> int: ...

    def coin(self) -> bool: ...


class _DrawChoices:
    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def pick(self, options: Sequence[X]) -> X:
        return self._draw(st.sampled_from(options))

    def number(self, low: int, high: int) -> int:
        return self._draw(st.integers(low, high))

    def coin(self) -> bool:
        return self._draw(st.booleans())


class _RandomChoices:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def pick(self, options: Sequence[X]) -> X:
        return options[self._rng.randrange(len(options))]

    def number(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)

    def coin(self) -> bool:
        return self._rng.random() < 0.5


# -- walks --------------------------------------------------------------------------------


@define
class EventWalk:
    """One resource driven along its machine by wire events (or, for meeting_series, trigger calls)."""

    machine: str
    #: The resource, as its events name it (``""`` for meeting_series: its conference id is ``conference_id``).
    href: str
    #: The operation id the resource's representation carries (outgoing resources: the app's own).
    operation_id: str | None
    #: Whether the app created the resource (its model must exist before the first event).
    outgoing: bool
    #: The state the walk starts from: the initial state, or where the app's create left it.
    start: Enum
    #: Event dicts in delivery order; for meeting_series, ``{"trigger", "kwargs"}`` calls.
    events: list[dict[str, Any]]
    #: The state after each event, as the table says.
    states: list[Enum]
    #: The events wrapped into event-channel responses (empty for meeting_series).
    responses: list[dict[str, Any]] = field(factory=list)
    #: meeting_series only: the series' ``conferenceID``.
    conference_id: str | None = None

    @property
    def final_state(self) -> Enum:
        return self.states[-1] if self.states else self.start

    def prefix(self, count: int) -> EventWalk:
        """The first ``count`` events (a prefix of a walk is a walk); responses are not kept."""
        return EventWalk(
            self.machine,
            self.href,
            self.operation_id,
            self.outgoing,
            self.start,
            self.events[:count],
            self.states[:count],
            conference_id=self.conference_id,
        )


class _Walker:
    """Builds one walk: which rows are eligible, and the wire event for each."""

    definition: MachineDefinition[Any, Any]

    def __init__(self, choices: _Choices, serial: int) -> None:
        self.c = choices
        self.serial = serial
        self.count = 0
        self.prefix = choices.pick(("", SAAS_PREFIX))
        self.conversation = f"{APP}/communication/conversations/{serial}"
        self.href = ""
        self.operation_id: str | None = None
        self.outgoing = False
        self.start: Enum = self.definition.initial

    def rel(self, name: str) -> str:
        return self.prefix + name

    def eligible(self, state: Enum, first: bool) -> list[Transition[Any, Any]]:
        raise NotImplementedError

    def emit(self, row: Transition[Any, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def etag(self) -> str:
        self.count += 1
        return f"{self.serial}.{self.count}"

    def run(self, length: int) -> EventWalk:
        state = self.start
        events: list[dict[str, Any]] = []
        states: list[Enum] = []
        for number in range(length):
            rows = self.eligible(state, number == 0)
            if not rows:
                break
            row = self.c.pick(rows)
            events.append(self.emit(row))
            state = row.dest
            states.append(state)
        return EventWalk(self.definition.name, self.href, self.operation_id, self.outgoing, self.start, events, states)

    # -- shared wire pieces ----------------------------------------------------------

    def event(
        self,
        rel: str,
        href: str,
        type_: EventType,
        resource: dict[str, Any] | None,
        *,
        status: str | None = None,
        reason: dict[str, Any] | None = None,
        in_: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"link": {"rel": rel, "href": href}}
        if in_ is not None:
            out["in"] = {"rel": in_[0], "href": in_[1]}
        if status is not None:
            out["status"] = status
        if reason is not None:
            out["reason"] = reason
        if resource is not None:
            out["_embedded"] = {rel: {"rel": rel, "etag": self.etag(), **resource}}
        out["type"] = type_.value
        return out

    def links(self, **rels: str) -> dict[str, dict[str, str]]:
        return {"self": {"href": self.href}, **{self.rel(name): {"href": href} for name, href in rels.items()}}

    def completion(self, completion: Completion) -> tuple[str | None, dict[str, Any] | None, str | None]:
        """``status``, ``reason`` and embedded ``state`` that classify as ``completion`` (docs/protocol.md §9 #2)."""
        if completion is Completion.UNDETERMINED:
            return None, None, None
        final = completion.value if self.c.coin() else None
        if completion is Completion.CONNECTED:
            return CompletionStatus.SUCCESS.value, None, final
        pairs = _REASONS[completion]
        code, subcode = self.c.pick(pairs)
        reason = None if code is None else {"code": code, "subcode": subcode, "message": "generated"}
        return CompletionStatus.FAILURE.value, reason, final


def _catalogue_pairs(keep: Callable[[str], bool]) -> tuple[tuple[str | None, str | None], ...]:
    return tuple((row.code.value, row.subcode) for row in CATALOGUE if keep(row.subcode.lower()))


_REASONS: Final[Mapping[Completion, tuple[tuple[str | None, str | None], ...]]] = {
    Completion.DECLINED: _catalogue_pairs(lambda sub: sub == _DECLINED.lower()),
    Completion.CANCELLED: _catalogue_pairs(lambda sub: sub == _CANCELED.lower()),
    Completion.FAILED: (
        *_catalogue_pairs(lambda sub: sub not in (_DECLINED.lower(), _CANCELED.lower())),
        # tolerated: a subcode outside the catalogue, and a failure that carries no reason
        (ErrorCode.SERVICE_FAILURE.value, "SomethingNew"),
        (None, None),
    ),
}


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


#: Huawei refusals: (status, error_code, error_msg) as docs/protocol.md §7.3 lists them; 401 often has no body.
_HUAWEI_ERRORS: Final = (
    (400, "MMC.111072065", "CONF_NOT_FOUND_OR_AUTH_FAILED"),
    (401, None, None),
    (403, "MMC.111070002", "insufficient permissions"),
    (500, "MMC.111070003", "system processing failure"),
)
_CONFERENCE_STATES: Final[Mapping[Observation, tuple[str, ...]]] = {
    Observation.NOT_HELD: (ConferenceState.SCHEDULE.value, ConferenceState.CREATING.value),
    Observation.HELD: (ConferenceState.CREATED.value,),
    Observation.CLOSED: (ConferenceState.DESTROYED.value,),
    Observation.UNKNOWN: ("Paused", "", "Scheduled!"),
}


class _SeriesWalker(_Walker):
    """Trigger calls over the whole meeting_series table (it has no event channel)."""

    definition = MEETING_SERIES

    def __init__(self, choices: _Choices, serial: int) -> None:
        super().__init__(choices, serial)
        self.conference_id = f"9{serial:08d}"
        self.held = False
        self.pending: list[str] = []
        self.subs = 0

    def eligible(self, state: Enum, first: bool) -> list[Transition[Any, Any]]:
        T = MeetingSeriesTrigger
        rows = []
        for row in self.definition.table:
            if row.source is not state:
                continue
            if row.trigger is T.CANCEL_FAILED and not row.absorb:
                # the machine picks the branch from what it saw: held or not
                wanted = MeetingSeriesState.HELD if self.held else MeetingSeriesState.SCHEDULED
                if row.when is not wanted:
                    continue
            if row.trigger in (T.SUB_CANCEL_SUCCEEDED, T.SUB_CANCEL_FAILED) and not row.absorb and not self.pending:
                continue
            rows.append(row)
        return rows

    def emit(self, row: Transition[Any, Any]) -> dict[str, Any]:
        T = MeetingSeriesTrigger
        kwargs: dict[str, Any] = {}
        trigger = row.trigger
        if trigger is T.CANCEL:
            kwargs["cancel_ongoing"] = row.when is CancelMode.ONGOING
        elif trigger is T.CANCEL_SUB_MEETINGS:
            fresh = [f"sub-{self.serial}-{self.subs + i}" for i in range(self.c.number(1, 3))]
            self.subs += len(fresh)
            self.pending.extend(fresh)
            kwargs["ids"] = fresh
        elif trigger is T.CONFERENCE_STATE_OBSERVED:
            branch = row.when if isinstance(row.when, Observation) else self.c.pick(tuple(Observation))
            kwargs["conference_state"] = self.c.pick(_CONFERENCE_STATES[branch])
            if branch is Observation.HELD and not row.absorb:
                self.held = True
        elif trigger in (T.SUB_CANCEL_SUCCEEDED, T.SUB_CANCEL_FAILED):
            if row.absorb or not self.pending:
                ids = [f"sub-{self.serial}-late"]
            else:
                ids = self.pending[: self.c.number(1, len(self.pending))]
                self.pending = self.pending[len(ids) :]
            kwargs["ids"] = ids
        if trigger in (T.CANCEL_FAILED, T.SUB_CANCEL_FAILED):
            status, code, message = self.c.pick(_HUAWEI_ERRORS)
            kwargs.update(status=status, error_code=code, error_msg=message)
        return {"trigger": trigger.value, "kwargs": kwargs}

    def run(self, length: int) -> EventWalk:
        walk = super().run(length)
        walk.conference_id = self.conference_id
        return walk


def _walker(machine: str, choices: _Choices, serial: int, outgoing: bool | None) -> _Walker:
    if machine not in MACHINES:
        raise ValueError(f"unknown machine {machine!r}; known: {', '.join(MACHINES)}")
    if machine == INVITATION.name:
        return _InvitationWalker(choices, serial, bool(outgoing))
    if machine == RENEGOTIATION.name:
        return _RenegotiationWalker(choices, serial, choices.coin() if outgoing is None else outgoing)
    if outgoing is not None:
        raise ValueError(f"{machine}: the direction is fixed ({'outgoing' if machine == 'online_meeting' else 'n/a'})")
    if machine == ONLINE_MEETING.name:
        return _OnlineMeetingWalker(choices, serial)
    if machine == LOBBY_PARTICIPANT.name:
        return _LobbyWalker(choices, serial)
    return _SeriesWalker(choices, serial)


# -- responses ---------------------------------------------------------------------------


def _sender(event: Mapping[str, Any]) -> tuple[str, str]:
    """The sender a server would file this event under (docs/protocol.md §2.3)."""
    link = event["link"]
    rel, href = str(link["rel"]), str(link["href"])
    prefix = SAAS_PREFIX if rel.startswith(SAAS_PREFIX) else ""
    if bare_rel(rel) in ("participant", "localParticipant"):
        return prefix + "conversation", href.split("/participants/", 1)[0]
    return prefix + "communication", f"{APP}/communication"


#: ``ack`` steps between responses: mostly one, sometimes more (docs/protocol.md §2.4: self 11, next 21).
_ACK_STEPS: Final = (1, 1, 1, 2, 3, 10)


def _wrap(events: Sequence[Mapping[str, Any]], choices: _Choices, first_ack: int = 1) -> list[dict[str, Any]]:
    responses: list[dict[str, Any]] = []
    ack = first_ack
    index = 0
    while index < len(events):
        chunk = events[index : index + choices.number(1, min(4, len(events) - index))]
        index += len(chunk)
        senders: list[dict[str, Any]] = []
        for event in chunk:
            rel, href = _sender(event)
            if senders and (senders[-1]["rel"], senders[-1]["href"]) == (rel, href):
                senders[-1]["events"].append(dict(event))
            else:
                senders.append({"rel": rel, "href": href, "events": [dict(event)]})
        step = choices.pick(_ACK_STEPS)
        links = {"self": {"href": f"{APP}/events?ack={ack}"}, "next": {"href": f"{APP}/events?ack={ack + step}"}}
        responses.append({"_links": links, "sender": senders})
        ack += step
    return responses


@st.composite
def responses_for(draw: st.DrawFn, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Wrap ``events`` (in order) into event-channel responses, 1 to 4 events each.

    Each response has ``_links.self`` and ``_links.next``; the next response's
    ``self`` is the previous ``next``, and ``ack`` grows by 1, 2, 3 or 10. The
    sender of each event is derived from its rel (participants: their
    conversation; everything else: ``communication``).
    """
    first = draw(st.integers(1, 1000))
    return _wrap(events, _DrawChoices(draw), first)


@st.composite
def event_walks(
    draw: st.DrawFn, machine: str, *, outgoing: bool | None = None, max_events: int = MAX_EVENTS
) -> EventWalk:
    """One walk of ``machine`` (see the module doc for where each machine starts), with its responses."""
    if max_events < 1:
        raise ValueError(f"max_events must be 1 or more, not {max_events}")
    choices = _DrawChoices(draw)
    serial = draw(st.integers(1, 10**6))
    walk = _walker(machine, choices, serial, outgoing).run(choices.number(1, max_events))
    if machine != MEETING_SERIES.name:
        walk.responses = _wrap(walk.events, choices, choices.number(1, 1000))
    return walk


def event_sequences(
    machine: str, *, outgoing: bool | None = None, max_events: int = MAX_EVENTS
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Events-response documents (dicts for ``json.dumps``) driving one resource of ``machine`` validly.

    For ``meeting_series`` (no event channel) the list holds trigger calls
    ``{"trigger": name, "kwargs": {...}}`` instead: see :func:`call_trigger`.
    """
    if machine == MEETING_SERIES.name:
        return event_walks(machine, outgoing=outgoing, max_events=max_events).map(lambda walk: walk.events)
    return event_walks(machine, outgoing=outgoing, max_events=max_events).map(lambda walk: walk.responses)


def call_trigger(model: FsmModel, call: Mapping[str, Any], *, now: float) -> object:
    """Apply one meeting_series trigger call (``{"trigger", "kwargs"}``) to ``model``."""
    method: Callable[..., object] = getattr(model, str(call["trigger"]))
    return method(now=now, **call["kwargs"])


@frozen
class RandomStream:
    """Many walks interleaved into one event stream (each walk's own order kept)."""

    responses: list[dict[str, Any]]
    walks: list[EventWalk]

    @property
    def events(self) -> int:
        return sum(len(walk.events) for walk in self.walks)


def random_stream(seed: int, *, events: int = 2000, max_events: int = MAX_EVENTS) -> RandomStream:
    """A deterministic stream of exactly ``events`` events from walks of every channel machine.

    Outgoing invitations and renegotiations and every online meeting join are
    the app's own: replay the stream with :mod:`adapters.routing.replay` (which adopts
    them) or track their models first.
    """
    if events < 1:
        raise ValueError(f"events must be 1 or more, not {events}")
    rng = random.Random(seed)
    choices = _RandomChoices(rng)
    walks: list[EventWalk] = []
    total = 0
    while total < events:
        machine = choices.pick(CHANNEL_MACHINES)
        outgoing = choices.coin() if machine in (INVITATION.name, RENEGOTIATION.name) else None
        walk = _walker(machine, choices, len(walks) + 1, outgoing).run(choices.number(1, max_events))
        walk = walk.prefix(min(len(walk.events), events - total))
        if walk.events:
            walks.append(walk)
            total += len(walk.events)
    queues = [list(walk.events) for walk in walks]
    order: list[dict[str, Any]] = []
    live = [i for i, queue in enumerate(queues) if queue]
    cursor = [0] * len(queues)
    # a few walks at a time, as a real application has a few calls in flight
    window = 8
    while live:
        i = live[rng.randrange(min(window, len(live)))]
        order.append(queues[i][cursor[i]])
        cursor[i] += 1
        if cursor[i] == len(queues[i]):
            live.remove(i)
    return RandomStream(_wrap(order, choices), walks)


# -- malformed bodies ----------------------------------------------------------------------

_HUGE: Final = "\x00huge\x00"
_BAD_TEXT: Final = "BADUTF8HERE"
#: Invalid UTF-8 (a lone continuation byte, a bad second byte, an overlong form, a cut
#: sequence, a five-byte form). Encoded surrogates (``\xed\xa0\x80``) are left out: parse_events
#: accepts them today, as ``json.loads`` decodes bytes with ``surrogatepass``.
_INVALID_UTF8: Final = (b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xe2\x82", b"\xf8\x88\x80\x80\x80")
#: Numbers far outside anything a field means: a 5000-digit integer, floats past the double range.
_HUGE_NUMBERS: Final = ("9" * 5000, "1" + "0" * 400, "1e999", "-1e999", "123456789012345678901234567890")

_Path = tuple[str | int, ...]
_EVENT: Final[_Path] = ("sender", 0, "events", 0)
#: Where a wrong type must be refused: (path, the wrong values to try there).
_NOT_OBJECT: Final = (["a"], "x", 7, True)
_NOT_STRING: Final = (7, 1.5, ["a"], {"a": 1}, True, None)
_NOT_LIST: Final = ({"a": 1}, "x", 7)
_WRONG_TYPES: Final[tuple[tuple[_Path, tuple[Any, ...]], ...]] = (
    (("_links",), _NOT_OBJECT),
    (("_links", "next"), (*_NOT_OBJECT, None)),
    (("_links", "next", "href"), _NOT_STRING),
    (("sender",), _NOT_LIST),
    (("sender", 0), (*_NOT_OBJECT, None)),
    (("sender", 0, "rel"), _NOT_STRING),
    (("sender", 0, "href"), _NOT_STRING),
    (("sender", 0, "events"), _NOT_LIST),
    (_EVENT, (*_NOT_OBJECT, None)),
    ((*_EVENT, "link"), (*_NOT_OBJECT, None)),
    ((*_EVENT, "link", "href"), _NOT_STRING),
    ((*_EVENT, "link", "rel"), _NOT_STRING),
    ((*_EVENT, "type"), _NOT_STRING),
    ((*_EVENT, "status"), (7, ["Success"], {"a": 1}, True)),
    ((*_EVENT, "reason"), ("Busy", 7, ["a"])),
    ((*_EVENT, "_embedded"), (["a"], "x", 7)),
)
_STRING_FIELDS: Final[tuple[_Path, ...]] = (
    ("_links", "next", "href"),
    ("sender", 0, "rel"),
    ("sender", 0, "href"),
    (*_EVENT, "link", "href"),
    (*_EVENT, "type"),
)


def _set(doc: Any, path: _Path, value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode("ascii")


def _known_type(text: str) -> bool:
    return EventType.parse(text) is not None


@st.composite
def malformed_responses(draw: st.DrawFn) -> bytes:
    """A JSON event-channel body that :func:`~adapters.wire.events.parse_events` must refuse or report.

    Drawn from a valid response of a random walk, then broken one way:
    truncated; a wrong type where the shape is fixed; the continuation links
    missing; an unknown event type or rel (accepted, reported in ``unknown``);
    a huge number, where a string belongs or in an extra field; invalid UTF-8
    inside a string. Parse with ``require_links=True`` (the P-GET default).
    """
    walk = draw(event_walks(draw(st.sampled_from(CHANNEL_MACHINES)), max_events=3))
    doc: dict[str, Any] = json.loads(json.dumps(walk.responses[0]))
    how = draw(st.sampled_from(("truncated", "wrong type", "no links", "unknown type", "unknown rel", "huge", "utf8")))
    if how == "truncated":
        body = _dump(doc)
        # a proper prefix of an object's text never closes the object
        return body[: draw(st.integers(0, len(body) - 1))]
    if how == "wrong type":
        path, values = draw(st.sampled_from(_WRONG_TYPES))
        _set(doc, path, draw(st.sampled_from(values)))
        return _dump(doc)
    if how == "no links":
        if draw(st.booleans()):
            del doc["_links"]
        else:
            doc["_links"] = {"self": doc["_links"]["self"]}
        return _dump(doc)
    if how == "unknown type":
        text = draw(st.text(string.ascii_letters + string.digits, min_size=1, max_size=12))
        _set(doc, (*_EVENT, "type"), text if not _known_type(text) else text + "ish")
        return _dump(doc)
    if how == "unknown rel":
        text = draw(st.text(string.ascii_letters, min_size=1, max_size=12))
        rel = text if text not in KNOWN_RELS else text + "Thing"
        _set(doc, (*_EVENT, "link", "rel"), draw(st.sampled_from(("", SAAS_PREFIX))) + rel)
        return _dump(doc)
    if how == "huge":
        where = draw(st.sampled_from((*_STRING_FIELDS, ("huge",))))
        _set(doc, where, _HUGE)
        number = draw(st.sampled_from(_HUGE_NUMBERS)).encode("ascii")
        return _dump(doc).replace(_dump(_HUGE), number)
    where = draw(st.sampled_from(_STRING_FIELDS))
    _set(doc, where, _BAD_TEXT)
    return _dump(doc).replace(_BAD_TEXT.encode("ascii"), draw(st.sampled_from(_INVALID_UTF8)))


__all__ = [
    "APP",
    "CHANNEL_MACHINES",
    "EventWalk",
    "RandomStream",
    "call_trigger",
    "event_sequences",
    "event_walks",
    "malformed_responses",
    "random_stream",
    "responses_for",
]
