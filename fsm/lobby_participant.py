"""The lobby participant: the meeting leader's view of one participant waiting in the lobby.

Theory of operation
-------------------
A leader (organizer or presenter) sees lobby members as participants in the
conversation's ``lobby`` view (docs/protocol.md §3, leader-side view):

- the participant is ``added`` with ``in: lobby`` [C], then ``updated`` [C];
- on admit, or when the participant leaves, it is ``deleted`` with
  ``in: lobby`` [C]; on reject the same is [I];
- an admitted participant then appears in the roster: ``added`` with no
  ``in`` [C] (trigger ``roster_added``).

The leader acts with the participant's ``admit`` and ``reject`` links (POST,
no body, 204). They exist only if the meeting has a lobby and this user may
act, so each action is gated by the latest representation
(:class:`~fsm.errors.LinkMissing` otherwise). A synchronous refusal (500
CallbackChannelError, 409 AlreadyExists/TooManyGroups/None, 410
CannotRedirect) returns the participant to ``waiting``, and the leader may try
again; the reason is kept in :attr:`LobbyParticipant.last_failure`.

The 204 says little: the lobby and roster events decide. While our admit is in
flight, a lobby ``deleted`` or a roster add means ``admitted``. While our
reject is in flight, a lobby ``deleted`` means ``rejected`` [I], but a roster
add means another leader admitted the participant first: ``admitted``. With
nothing of ours in flight, a lobby ``deleted`` means the participant left
(gave up, timed out, or was rejected by another leader; the lobby view cannot
tell these apart): ``left_lobby``; a roster add means another leader admitted
them: ``admitted``.

Known ambiguity [U]: ``deleted`` from the lobby looks the same for "admitted"
and "left". While our admit is in flight it is read as the admission (the
roster add that follows confirms it; ``admitted`` absorbs it).

``added`` or ``updated`` on an unknown participant (``idle``) both start the
machine: after a ``resume`` of the event channel an app may first hear of a
lobby member through an ``updated``. The three outcomes are terminal and absorb
late events (recorded in the history, changing nothing).

Routing is the caller's job: lobby events (``in: lobby``) go to ``added`` /
``updated`` / ``deleted``, the roster ``added`` of the same person to
``roster_added``.
"""

from __future__ import annotations

from enum import Enum

from attrs import define, field

from fsm.actions import NO_ACTIONS, Actions, PostLink
from fsm.engine import MachineDefinition, Transition, build_table
from fsm.errors import LinkMissing
from fsm.model import FsmModel
from fsm.reasons import Reason
from fsm.wire import Representation


class LobbyParticipantState(Enum):
    IDLE = "idle"
    WAITING = "waiting"
    ADMITTING = "admitting"
    REJECTING = "rejecting"
    ADMITTED = "admitted"
    REJECTED = "rejected"
    LEFT_LOBBY = "left_lobby"


class LobbyParticipantTrigger(Enum):
    # local: the leader decides; each returns the POST to perform
    ADMIT = "admit"
    REJECT = "reject"
    # remote: lobby and roster events, responses to our requests
    ADDED = "added"
    UPDATED = "updated"
    DELETED = "deleted"
    ROSTER_ADDED = "roster_added"
    REQUEST_SUCCEEDED = "request_succeeded"
    REQUEST_FAILED = "request_failed"


S = LobbyParticipantState
T = LobbyParticipantTrigger

PENDING = (S.ADMITTING, S.REJECTING)
ENDED = (S.ADMITTED, S.REJECTED, S.LEFT_LOBBY)
_REMOTE = (T.ADDED, T.UPDATED, T.DELETED, T.ROSTER_ADDED, T.REQUEST_SUCCEEDED, T.REQUEST_FAILED)

TABLE: tuple[Transition[S, T], ...] = build_table(
    [
        Transition(S.IDLE, T.ADDED, S.WAITING, note="added in: lobby"),
        Transition(S.IDLE, T.UPDATED, S.WAITING, note="its added was missed"),
    ],
    [
        Transition(S.WAITING, T.ADDED, S.WAITING),
        Transition(S.WAITING, T.UPDATED, S.WAITING),
        Transition(S.WAITING, T.ADMIT, S.ADMITTING, note="link admit"),
        Transition(S.WAITING, T.REJECT, S.REJECTING, note="link reject"),
        Transition(S.WAITING, T.DELETED, S.LEFT_LOBBY, note="left, timed out, or another leader acted"),
        Transition(S.WAITING, T.ROSTER_ADDED, S.ADMITTED, note="admitted by another leader"),
    ],
    # -- a POST of ours is in flight; lobby and roster events decide
    *(
        [
            Transition(x, T.ADDED, x),
            Transition(x, T.UPDATED, x),
            Transition(x, T.REQUEST_SUCCEEDED, x, note="204: wait for the lobby event"),
            Transition(x, T.REQUEST_FAILED, S.WAITING, note="refused: may retry"),
        ]
        for x in PENDING
    ),
    [
        Transition(S.ADMITTING, T.DELETED, S.ADMITTED, note="deleted from the lobby"),
        Transition(S.ADMITTING, T.ROSTER_ADDED, S.ADMITTED, note="in the roster"),
        Transition(S.REJECTING, T.DELETED, S.REJECTED, note="deleted from the lobby"),
        Transition(S.REJECTING, T.ROSTER_ADDED, S.ADMITTED, note="another leader admitted first"),
    ],
    # -- ended: late events are recorded and change nothing
    *([Transition(end, t, end, absorb=True) for t in _REMOTE] for end in ENDED),
)

LOBBY_PARTICIPANT: MachineDefinition[S, T] = MachineDefinition(
    name="lobby_participant",
    summary="A leader's view of one participant waiting in a meeting lobby, until admitted, rejected or gone.",
    states=S,
    triggers=T,
    initial=S.IDLE,
    terminal=frozenset(ENDED),
    local_triggers=frozenset({T.ADMIT, T.REJECT}),
    table=TABLE,
)

ADMIT_REL = "admit"
REJECT_REL = "reject"


@define(slots=True, kw_only=True, eq=True)
class LobbyParticipant(FsmModel):
    """One lobby participant, as a leader sees it. Every trigger takes ``now``, the caller's clock."""

    DEFINITION = LOBBY_PARTICIPANT

    state: LobbyParticipantState = LobbyParticipantState.IDLE
    #: The participant resource in the lobby.
    href: str | None = None
    #: The latest participant representation: its links gate ``admit`` and ``reject``.
    representation: Representation = field(factory=Representation)
    display_name: str | None = None
    #: The participant's roster href, once added there.
    roster_href: str | None = None
    #: Why the last admit or reject was refused.
    last_failure: Reason | None = None

    # -- local triggers ------------------------------------------------------------

    def admit(self, *, now: float) -> Actions:
        """Admit the participant: POST its ``admit`` link, no body."""
        return self._act(T.ADMIT, ADMIT_REL, now)

    def reject(self, *, now: float) -> Actions:
        """Refuse the participant: POST its ``reject`` link, no body."""
        return self._act(T.REJECT, REJECT_REL, now)

    # -- events from the channel -------------------------------------------------

    def added(
        self,
        *,
        now: float,
        href: str,
        representation: Representation | None = None,
        display_name: str | None = None,
    ) -> Actions:
        """The participant was ``added`` to the lobby (``in: lobby``)."""
        row = self._move(T.ADDED, now, reason="added to the lobby")
        if not row.absorb:
            if self.href is None:
                self.href = href
            self._learn(representation, display_name)
        return NO_ACTIONS

    def updated(
        self,
        *,
        now: float,
        href: str | None = None,
        representation: Representation | None = None,
        display_name: str | None = None,
    ) -> Actions:
        """The lobby participant was ``updated``; its links may have changed."""
        row = self._move(T.UPDATED, now)
        if not row.absorb:
            if self.href is None:
                self.href = href
            self._learn(representation, display_name)
        return NO_ACTIONS

    def deleted(self, *, now: float) -> Actions:
        """The participant was ``deleted`` from the lobby (``in: lobby``)."""
        self._move(T.DELETED, now, reason="deleted from the lobby")
        return NO_ACTIONS

    def roster_added(self, *, now: float, href: str | None = None) -> Actions:
        """The participant was ``added`` to the roster (no ``in``)."""
        row = self._move(T.ROSTER_ADDED, now, reason="added to the roster")
        if not row.absorb and href is not None:
            self.roster_href = href
        return NO_ACTIONS

    # -- responses to our requests ---------------------------------------------------

    def request_succeeded(self, *, now: float) -> Actions:
        self._move(T.REQUEST_SUCCEEDED, now)
        return NO_ACTIONS

    def request_failed(self, *, now: float, reason: Reason) -> Actions:
        """Our admit or reject was refused synchronously (the HTTP error's code/subcode)."""
        row = self._move(T.REQUEST_FAILED, now, reason=str(reason))
        if not row.absorb:
            self.last_failure = reason
        return NO_ACTIONS

    # -- helpers -----------------------------------------------------------------

    def _act(self, trigger: LobbyParticipantTrigger, rel: str, now: float) -> Actions:
        self._check(trigger)
        link = self.representation.link(rel)
        if link is None:
            raise LinkMissing(self.machine, self.state, trigger, (rel,))
        self._move(trigger, now)
        return (PostLink(link.rel, link.href),)

    def _learn(self, representation: Representation | None, display_name: str | None) -> None:
        if representation is not None:
            self.representation = representation
        if display_name is not None:
            self.display_name = display_name
