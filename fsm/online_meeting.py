"""The online meeting join: the joiner's side of ``joinOnlineMeeting``, through the lobby.

Theory of operation
-------------------
The joiner POSTs ``joinOnlineMeeting`` and the server creates an
onlineMeetingInvitation (OMI). On the wire the OMI says ``Connecting`` from its
``started`` until its ``completed``, including the whole time the user waits
in the lobby (seed 003, docs/protocol.md §3): the lobby is not an OMI state. It
shows elsewhere, as a conversation ``updated`` with state ``InLobby``, or as
the local participant's ``inLobby`` = true. This machine merges those three
sources into one lifecycle.

States. ``Connecting``, ``Connected``, ``Cancelled`` and ``Failed`` are OMI
wire states (their values are the wire names). The rest are local: ``idle``,
``sending`` (POST sent, neither the 201 nor ``started`` seen), ``in_lobby``,
``admitted`` (the local participant was added to the roster but the
``completed`` has not arrived), ``cancelling`` (our ``cancel`` POST is in
flight: leave the lobby or abort the join), ``cancel_answered`` and
``cancel_crossed`` (the cancel race, below), ``hanging_up`` and ``hung_up``
(leaving a meeting we were connected to).

Joining stage. ``Connecting`` < ``in_lobby`` < ``admitted`` is a one-way
ladder, kept in :attr:`OnlineMeetingJoin.stage` even while a cancel is in
flight, so that a refused cancel returns to where the join had got to (a
roster add seen during ``cancelling`` or ``cancel_answered`` is not
forgotten). Lobby signals never demote: ``inLobby`` false while in the lobby
keeps ``in_lobby`` (only the roster add admits), and a lobby signal after the
roster add keeps ``admitted``.

Completion follows :mod:`fsm.outcome`, except that a joiner cannot be
"declined": Connected -> ``Connected``, Cancelled -> ``Cancelled``, Declined
and Failed -> ``Failed`` with the reason given (rejection from the lobby,
Informational/Ended, a full lobby...). With neither status nor final state the
machine stays and asks for a GET. An OMI ``updated`` whose embedded state is
final ends the join the same way (the current UCWA documentation lists no
``completed`` for the OMI, docs/protocol.md §2.3), from every state
``completed`` ends it from, lobby deadline and cancel race included; that
outcome has no status and no reason code until a later ``completed`` that
agrees fills them in (:func:`fsm.outcome.fill_in`), and it is final only then
or once :data:`fsm.outcome.FINAL_GRACE` has passed
(:meth:`OnlineMeetingJoin.outcome_is_final`). An OMI ``started`` or
``updated`` with no resource asks for a GET: the OMI's links gate ``cancel``.
``completed`` Success only happens once the participant is in the roster
(seed 003), so both orders of ``roster_added`` and ``completed`` end in
``Connected``. Aggregation may drop ``started`` (a
``completed`` straight from ``sending`` is accepted) and ``started`` may beat
the 201 (``created``): both orders land in ``Connecting``.

The cancel race, as in :mod:`fsm.invitation`: if ``completed`` says Success
while our cancel is unsettled, we were admitted before the cancel took
effect, and must leave with the ``cancel`` link again. That hang-up and the
cancel POST the same link and their responses name no request, so the
hang-up is only asked for once the cancel's own response is in:

- the cancel's 204 first: ``cancelling`` -> ``cancel_answered``, which
  takes events as ``cancelling`` does (the stage still climbs) and where
  ``completed`` decides the same way, lobby deadline included; a Success
  moves to ``hanging_up`` and returns the hang-up at once;
- the Success first: ``cancelling`` -> ``cancel_crossed``, outcome Success
  and no action; the cancel's 204, or its refusal (the join had connected),
  moves to ``hanging_up`` and returns the hang-up, with the link kept in
  :attr:`OnlineMeetingJoin.hang_up_link`. Events meanwhile are absorbed.
  The hang-up's link is the end's own ``cancel`` link, else the one before
  it, else the one the cancel POSTed (:attr:`OnlineMeetingJoin.cancel_link`).

The next response is then the hang-up's: 204 -> ``hung_up``, a refusal ->
``Connected``. A response in ``cancel_answered`` answers nothing we sent and is
refused. ``Connected`` is success but not a dead end: ``cancel`` hangs up.

Lobby deadline (app-side, [U]: the server's own lobby timeout is not
documented). The app sets :attr:`OnlineMeetingJoin.lobby_deadline` (at
``send`` or with :meth:`OnlineMeetingJoin.set_lobby_deadline`) on its own
clock. :meth:`OnlineMeetingJoin.lobby_timeout` is refused with
:class:`~fsm.errors.NotDue` before it. It is accepted in ``Connecting`` as
well as ``in_lobby``, because the ``InLobby`` signal travels on other
resources and an app may never route it here. On expiry:

- with a ``cancel`` link in the latest OMI representation: ``cancelling`` and
  a POST ``cancel``. Whatever failure ``completed`` then reports (Canceled
  included), the outcome is ``Failed`` with reason ``LocalFailure/Timeout``
  (the server's own reason is kept in the message and the history), whether
  the cancel's 204 came first or not. If the admission crossed the leave
  (``completed`` Success), it is the cancel race above. A refused cancel
  returns to the stage and forgets the timeout.
- without the link (recorded outgoing OMIs carry only ``conversation``,
  docs/protocol.md §1.6): nothing can be sent on the OMI, so the machine gives up
  locally at once, ``Failed`` with ``LocalFailure/Timeout``; the app is
  expected to leave through the conversation. Later events are absorbed.

Once ended (or connected), late events, including responses to our requests,
are recorded in the history (marked absorbed) and change nothing, except that
a ``completed`` fills in an outcome seen without status, as above.

Correlation is the caller's job: the adapter routes to this model the OMI
events, the updates of the OMI's conversation, and the events of the local
participant only.

Why this module is one piece (about 700 lines, over the 500 the adapters keep
to): as :mod:`fsm.invitation`, it is one machine whose header, literal table and
model class (its methods are the table's triggers) are read against each other.
"""

from __future__ import annotations

import math
from enum import Enum

from attrs import define, field

from fsm.actions import NO_ACTIONS, Actions, FetchResource, PostLink, Properties, PropertyValue, StartOperation
from fsm.engine import MachineDefinition, Transition, build_table
from fsm.errors import InvalidInput, LinkMissing, NotDue
from fsm.invitation import Importance, check_lengths, importance_value
from fsm.model import FsmModel
from fsm.outcome import Completion, Outcome, classify_completion, fill_in, final_completion, is_final, settle_by
from fsm.reasons import ErrorCode, Reason
from fsm.wire import Link, Representation, WireEnum


class OnlineMeetingState(Enum):
    IDLE = "idle"
    SENDING = "sending"
    CONNECTING = "Connecting"
    IN_LOBBY = "in_lobby"
    ADMITTED = "admitted"
    CANCELLING = "cancelling"
    #: Our cancel's 204 came; its ``completed`` has not (the cancel race: see the module doc).
    CANCEL_ANSWERED = "cancel_answered"
    #: ``completed`` Success came while our cancel was in flight: the hang-up waits for its response.
    CANCEL_CROSSED = "cancel_crossed"
    CONNECTED = "Connected"
    HANGING_UP = "hanging_up"
    HUNG_UP = "hung_up"
    CANCELLED = "Cancelled"
    FAILED = "Failed"


class OnlineMeetingTrigger(Enum):
    # local: the app decides; each returns the actions to perform
    SEND = "send"
    CANCEL = "cancel"
    LOBBY_TIMEOUT = "lobby_timeout"
    # remote: responses to our requests, and events from the channel
    CREATED = "created"
    STARTED = "started"
    UPDATED = "updated"
    CONVERSATION_UPDATED = "conversation_updated"
    PARTICIPANT_UPDATED = "participant_updated"
    ROSTER_ADDED = "roster_added"
    REQUEST_SUCCEEDED = "request_succeeded"
    REQUEST_FAILED = "request_failed"
    COMPLETED = "completed"


class ConversationState(WireEnum):
    """UCWA ``ConversationState`` (docs/protocol.md §1.1): what a conversation ``updated`` carries."""

    INCOMING = "Incoming"
    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    CONFERENCING = "Conferencing"
    CONFERENCED = "Conferenced"
    IN_LOBBY = "InLobby"
    DISCONNECTING = "Disconnecting"
    DISCONNECTED = "Disconnected"


class LobbySignal(Enum):
    """Guard branch of ``conversation_updated`` / ``participant_updated``."""

    IN_LOBBY = "in the lobby"
    NOT_IN_LOBBY = "not in the lobby"


class LobbyExit(Enum):
    """Guard branch of ``lobby_timeout``: can we tell the server we are leaving?"""

    LEAVE = "cancel link present"
    GIVE_UP = "no cancel link"


S = OnlineMeetingState
T = OnlineMeetingTrigger
C = Completion
L = LobbySignal

#: The joining ladder, in order; a cancel refused returns to the stage reached.
STAGES = (S.CONNECTING, S.IN_LOBBY, S.ADMITTED)
_COMPLETION_DEST = {C.CONNECTED: S.CONNECTED, C.CANCELLED: S.CANCELLED, C.DECLINED: S.FAILED, C.FAILED: S.FAILED}
_COMPLETION_NOTE = {
    C.CONNECTED: "Success",
    C.CANCELLED: "Failure: Canceled",
    C.DECLINED: "Failure: Declined (a joiner is not declined: failed)",
    C.FAILED: "Failure: rejected, ended, other reason",
}
_LOBBY_TRIGGERS: tuple[T, ...] = (T.CONVERSATION_UPDATED, T.PARTICIPANT_UPDATED)
#: Remote triggers that a cancel not yet completed records and waits through (the stage still climbs).
_EVENTS_WHILE_CANCELLING: tuple[T, ...] = (
    T.CREATED,
    T.STARTED,
    *_LOBBY_TRIGGERS,
    T.ROSTER_ADDED,
)
#: Where our cancel is sent and ``completed`` has not come: its failures follow the lobby deadline.
_CANCEL_UNSETTLED = (S.CANCELLING, S.CANCEL_ANSWERED)
#: Remote triggers that a connected or ended join records and ignores.
_LATE_EVENTS: tuple[T, ...] = (
    T.CREATED,
    T.STARTED,
    T.UPDATED,
    *_LOBBY_TRIGGERS,
    T.ROSTER_ADDED,
    T.COMPLETED,
    T.REQUEST_SUCCEEDED,
    T.REQUEST_FAILED,
)
_EVENTS_WHILE_HANGING_UP: tuple[T, ...] = tuple(
    t for t in _LATE_EVENTS if t not in (T.REQUEST_SUCCEEDED, T.REQUEST_FAILED)
)


#: Where a Success that crossed our cancel leads, by what is still in flight (see the module doc).
_CROSSED_NOTE = {
    S.CANCEL_CROSSED: "Success crossed the cancel: hang up after its response",
    S.HANGING_UP: "Success crossed the cancel: hang up",
}


def _completion_rows(
    source: S, *, crossed: S | None = None, trigger: T = T.COMPLETED, stay: S | None = None
) -> list[Transition[S, T]]:
    """``completed`` (or an OMI ``updated``, whose branch is its embedded state) from ``source``.

    ``crossed``: where a Success goes when it crossed our cancel. ``stay``:
    where ``updated`` with a state that is not final goes (``source`` by default).
    """
    completed = trigger is T.COMPLETED
    rows = [
        Transition(source, trigger, dest, when=c, note=_COMPLETION_NOTE[c] if completed else f"state {c.value}")
        for c, dest in _COMPLETION_DEST.items()
        if not (crossed is not None and c in (C.CONNECTED, C.FAILED))
    ]
    if crossed is not None:
        # after a lobby timeout the model classifies every failure as Failed (see lobby_timeout)
        note = f"{_COMPLETION_NOTE[C.FAILED] if completed else 'state Failed'}; any failure after the lobby deadline"
        rows.append(Transition(source, trigger, S.FAILED, when=C.FAILED, note=note))
        rows.append(Transition(source, trigger, crossed, when=C.CONNECTED, note=_CROSSED_NOTE[crossed]))
    undetermined = "no status, no state: GET it" if completed else "not final: links only"
    rows.append(Transition(source, trigger, stay or source, when=C.UNDETERMINED, note=undetermined))
    return rows


def _lobby_rows(source: S) -> list[Transition[S, T]]:
    """Lobby signals: they move a join that is not yet in the lobby, and never demote."""
    rows: list[Transition[S, T]] = []
    for t in _LOBBY_TRIGGERS:
        if source in (S.SENDING, S.CONNECTING):
            rows.append(Transition(source, t, S.IN_LOBBY, when=L.IN_LOBBY, note="InLobby / inLobby=true"))
            rows.append(Transition(source, t, source, when=L.NOT_IN_LOBBY, note="other state: keep"))
        else:
            rows.append(Transition(source, t, source, note="keep"))
    return rows


TABLE: tuple[Transition[S, T], ...] = build_table(
    [Transition(S.IDLE, T.SEND, S.SENDING, note="POST joinOnlineMeeting")],
    # -- POST sent: the 201, started, the lobby and even completed may come first
    [
        Transition(S.SENDING, T.CREATED, S.CONNECTING, note="201 Location"),
        Transition(S.SENDING, T.STARTED, S.CONNECTING, note="started beat the 201"),
        *_completion_rows(S.SENDING, trigger=T.UPDATED, stay=S.CONNECTING),  # not final: started aggregated away
        *_lobby_rows(S.SENDING),
        Transition(S.SENDING, T.ROSTER_ADDED, S.ADMITTED, note="no lobby, or its events aggregated away"),
        Transition(S.SENDING, T.REQUEST_FAILED, S.FAILED, note="join POST refused"),
        *_completion_rows(S.SENDING),
    ],
    # -- joining: Connecting on the wire all along
    *(
        [
            *[Transition(stage, t, stage) for t in (T.CREATED, T.STARTED)],
            *_completion_rows(stage, trigger=T.UPDATED),
            *_lobby_rows(stage),
            Transition(stage, T.ROSTER_ADDED, S.ADMITTED, note="local participant in the roster"),
            *_completion_rows(stage),
            Transition(stage, T.CANCEL, S.CANCELLING, note="link cancel"),
        ]
        for stage in STAGES
    ),
    *(
        [
            Transition(stage, T.LOBBY_TIMEOUT, S.CANCELLING, when=LobbyExit.LEAVE, note="deadline: link cancel"),
            Transition(stage, T.LOBBY_TIMEOUT, S.FAILED, when=LobbyExit.GIVE_UP, note="deadline, no link: give up"),
        ]
        for stage in (S.CONNECTING, S.IN_LOBBY)
    ),
    # -- our cancel is in flight; completed decides, but its 204 is kept: no hang-up while it is in flight
    [
        *[Transition(S.CANCELLING, t, S.CANCELLING) for t in _EVENTS_WHILE_CANCELLING],
        *_completion_rows(S.CANCELLING, crossed=S.CANCEL_CROSSED, trigger=T.UPDATED),
        Transition(S.CANCELLING, T.REQUEST_SUCCEEDED, S.CANCEL_ANSWERED, note="the cancel's 204"),
        *[
            Transition(S.CANCELLING, T.REQUEST_FAILED, stage, when=stage, note=f"cancel refused: back to {stage.value}")
            for stage in STAGES
        ],
        *_completion_rows(S.CANCELLING, crossed=S.CANCEL_CROSSED),
    ],
    # -- the cancel race (module doc): the cancel's 204 first, or the Success first
    [
        *[Transition(S.CANCEL_ANSWERED, t, S.CANCEL_ANSWERED) for t in _EVENTS_WHILE_CANCELLING],
        *_completion_rows(S.CANCEL_ANSWERED, crossed=S.HANGING_UP, trigger=T.UPDATED),
        *_completion_rows(S.CANCEL_ANSWERED, crossed=S.HANGING_UP),
        Transition(S.CANCEL_CROSSED, T.REQUEST_SUCCEEDED, S.HANGING_UP, note="the cancel's 204: hang up"),
        Transition(S.CANCEL_CROSSED, T.REQUEST_FAILED, S.HANGING_UP, note="cancel refused, connected: hang up"),
        *[Transition(S.CANCEL_CROSSED, t, S.CANCEL_CROSSED, absorb=True) for t in _EVENTS_WHILE_HANGING_UP],
    ],
    # -- connected: success, but the cancel link can still leave the meeting
    [
        Transition(S.CONNECTED, T.CANCEL, S.HANGING_UP, note="link cancel: hang up"),
        *[Transition(S.CONNECTED, t, S.CONNECTED, absorb=True) for t in _LATE_EVENTS],
        Transition(S.HANGING_UP, T.REQUEST_SUCCEEDED, S.HUNG_UP),
        Transition(S.HANGING_UP, T.REQUEST_FAILED, S.CONNECTED, note="hang-up refused"),
        *[Transition(S.HANGING_UP, t, S.HANGING_UP, absorb=True) for t in _EVENTS_WHILE_HANGING_UP],
    ],
    # -- ended: late events are recorded and change nothing
    *([Transition(end, t, end, absorb=True) for t in _LATE_EVENTS] for end in (S.HUNG_UP, S.CANCELLED, S.FAILED)),
)

ONLINE_MEETING: MachineDefinition[S, T] = MachineDefinition(
    name="online_meeting",
    summary="Joining an online meeting through joinOnlineMeeting, across the lobby, to admission, "
    "rejection, timeout or cancel, and leaving it.",
    states=S,
    triggers=T,
    initial=S.IDLE,
    terminal=frozenset({S.HUNG_UP, S.CANCELLED, S.FAILED}),
    local_triggers=frozenset({T.SEND, T.CANCEL, T.LOBBY_TIMEOUT}),
    table=TABLE,
    wire_names={s: s.value for s in (S.CONNECTING, S.CONNECTED, S.CANCELLED, S.FAILED)},
)

CANCEL_REL = "cancel"


def lobby_timeout_reason(detail: str) -> Reason:
    """The reason of a join given up at the app's lobby deadline (catalogued for every resource)."""
    return Reason(ErrorCode.LOCAL_FAILURE.value, "Timeout", detail)


@define(slots=True, kw_only=True, eq=True)
class OnlineMeetingJoin(FsmModel):
    """One join of an online meeting. Every trigger takes ``now``, the caller's clock."""

    DEFINITION = ONLINE_MEETING

    state: OnlineMeetingState = OnlineMeetingState.IDLE
    #: The OMI, from the 201's ``Location`` or the first event that names it.
    href: str | None = None
    operation_id: str | None = None
    online_meeting_uri: str | None = None
    #: The latest OMI representation: its links gate ``cancel``.
    representation: Representation = field(factory=Representation)
    #: How far the join has got (``Connecting``, ``in_lobby``, ``admitted``); see the module doc.
    stage: OnlineMeetingState = OnlineMeetingState.CONNECTING
    #: The conversation state last reported, as the wire wrote it.
    conversation_state: str | None = None
    #: The local participant's roster href, once added.
    participant_href: str | None = None
    #: App-side deadline for admission, on the caller's clock; ``None``: wait forever.
    lobby_deadline: float | None = None
    #: The cancel in flight was sent because the lobby deadline passed.
    timed_out: bool = False
    outcome: Outcome | None = None
    #: When a provisional outcome (no status, no reason code yet) becomes final, on the caller's clock;
    #: ``None``: final as soon as set (:func:`fsm.outcome.settle_by`).
    final_at: float | None = None
    #: In ``cancel_crossed``: the link to hang up with once the cancel's response comes.
    hang_up_link: Link | None = None
    #: The link our last cancel POSTed: the hang-up's last resort in the cancel race when no
    #: representation since carries a cancel link (else the model would wait in ``hanging_up``
    #: with nothing sent). A refusal of that hang-up returns it to ``Connected``.
    cancel_link: Link | None = None

    # -- local triggers ------------------------------------------------------------

    def send(
        self,
        *,
        now: float,
        href: str,
        online_meeting_uri: str,
        operation_id: str | None = None,
        subject: str | None = None,
        anonymous_display_name: str | None = None,
        importance: Importance | str | None = None,
        thread_id: str | None = None,
        lobby_deadline: float | None = None,
        extra: dict[str, PropertyValue] | None = None,
    ) -> Actions:
        """POST ``joinOnlineMeeting`` (``href``); lengths are checked before anything is decided.

        ``anonymous_display_name`` is for anonymous users only (seed 003).
        ``extra`` carries further properties (SaaS ``localParticipantDisplayName``...).
        ``operation_id`` is optional, as the documentation marks it (docs/protocol.md
        §1.5); ``importance`` takes only an :class:`~fsm.invitation.Importance`.
        """
        self._check(T.SEND)
        if operation_id is not None and not operation_id:
            raise InvalidInput(self.machine, "operationId", "an operation id, when given, is not empty")
        if not online_meeting_uri:
            raise InvalidInput(self.machine, "onlineMeetingUri", "the meeting URI is required")
        properties: dict[str, PropertyValue] = {} if operation_id is None else {"operationId": operation_id}
        properties["onlineMeetingUri"] = online_meeting_uri
        for name, value in (
            ("subject", subject),
            ("anonymousDisplayName", anonymous_display_name),
            ("importance", importance_value(self.machine, importance)),
            ("threadId", thread_id),
        ):
            if value is not None:
                properties[name] = value
        properties.update(extra or {})
        check_lengths(self.machine, properties)
        self._check_deadline(lobby_deadline)
        self._move(T.SEND, now)
        self.operation_id = operation_id
        self.online_meeting_uri = online_meeting_uri
        if lobby_deadline is not None:
            self.lobby_deadline = lobby_deadline
        body: Properties = tuple((k, v) for k, v in properties.items() if k != "operationId")
        return (StartOperation("joinOnlineMeeting", href, operation_id, body),)

    def cancel(self, *, now: float) -> Actions:
        """Leave the lobby or abort the join; once connected, leave the meeting."""
        self._check(T.CANCEL)
        link = self._cancel_link(T.CANCEL)
        self._move(T.CANCEL, now)
        self.cancel_link = link
        return (PostLink(link.rel, link.href),)

    def lobby_timeout(self, *, now: float) -> Actions:
        """The app's lobby deadline passed: leave if the server lets us, else give up."""
        self._check(T.LOBBY_TIMEOUT, LobbyExit.LEAVE)
        deadline = self.lobby_deadline
        if deadline is None:
            raise NotDue(self.machine, self.state, T.LOBBY_TIMEOUT, "no lobby deadline is set")
        if now < deadline:
            raise NotDue(self.machine, self.state, T.LOBBY_TIMEOUT, f"the lobby deadline is {deadline - now:g} away")
        link = self.representation.link(CANCEL_REL)
        if link is None:
            self._move(T.LOBBY_TIMEOUT, now, branch=LobbyExit.GIVE_UP, reason="LocalFailure/Timeout")
            self.outcome = Outcome(
                success=False,
                status=None,
                reason=lobby_timeout_reason("lobby deadline passed; no cancel link, given up locally"),
            )
            return NO_ACTIONS
        self._move(T.LOBBY_TIMEOUT, now, branch=LobbyExit.LEAVE, reason="lobby deadline passed: leaving")
        self.timed_out = True
        self.cancel_link = link
        return (PostLink(link.rel, link.href),)

    def set_lobby_deadline(self, deadline: float | None) -> None:
        """Set or clear the lobby deadline (not a trigger: no history entry)."""
        self._check_deadline(deadline)
        self.lobby_deadline = deadline

    def lobby_timeout_due(self, now: float) -> bool:
        """Whether :meth:`lobby_timeout` would be accepted at ``now``."""
        return (
            self.DEFINITION.allows(self.state, T.LOBBY_TIMEOUT)
            and self.lobby_deadline is not None
            and now >= self.lobby_deadline
        )

    # -- responses to our requests ---------------------------------------------------

    def created(self, *, now: float, href: str) -> Actions:
        """The join POST answered 201 with ``Location: href``."""
        row = self._move(T.CREATED, now)
        if not row.absorb and self.href is None:
            self.href = href
        return NO_ACTIONS

    def request_succeeded(self, *, now: float) -> Actions:
        """A request we sent answered 2xx; after a crossed Success, the cancel's: now hang up."""
        source = self.state
        self._move(T.REQUEST_SUCCEEDED, now)
        return self._hang_up_after_cancel(source)

    def request_failed(self, *, now: float, reason: Reason) -> Actions:
        """A request we sent was refused synchronously (the HTTP error's code/subcode)."""
        source = self.state
        row = self._move(T.REQUEST_FAILED, now, branch=self.stage, reason=str(reason))
        if row.absorb:
            return NO_ACTIONS
        if row.dest is S.FAILED:
            self._set_outcome(Outcome(success=False, status=None, reason=reason), now, settled=True)
        if source is S.CANCELLING:
            # the join goes on; a deadline that already passed may fire again
            self.timed_out = False
        return self._hang_up_after_cancel(source)

    # -- events from the channel -------------------------------------------------

    def started(self, *, now: float, href: str | None = None, representation: Representation | None = None) -> Actions:
        return self._omi_event(T.STARTED, now, href, representation)

    def updated(self, *, now: float, href: str | None = None, representation: Representation | None = None) -> Actions:
        """An OMI ``updated``: its links may change; a final embedded state ends the join (no ``completed`` needed)."""
        return self._omi_event(T.UPDATED, now, href, representation)

    def conversation_updated(self, *, now: float, state: str | None) -> Actions:
        """The OMI's conversation was updated; ``InLobby`` (any case) means waiting in the lobby."""
        in_lobby = ConversationState.parse(state) is ConversationState.IN_LOBBY
        return self._lobby_signal(T.CONVERSATION_UPDATED, now, in_lobby, state, state)

    def participant_updated(self, *, now: float, in_lobby: bool | None) -> Actions:
        """The local participant was updated; ``inLobby`` as given (``None``: not given)."""
        shown = "inLobby unknown" if in_lobby is None else f"inLobby={str(in_lobby).lower()}"
        return self._lobby_signal(T.PARTICIPANT_UPDATED, now, in_lobby is True, shown, None)

    def roster_added(self, *, now: float, href: str | None = None) -> Actions:
        """The local participant was ``added`` to the roster (no ``in``): admitted."""
        row = self._move(T.ROSTER_ADDED, now, reason="added to the roster")
        if not row.absorb:
            self._advance(S.ADMITTED)
            if href is not None:
                self.participant_href = href
        return NO_ACTIONS

    def completed(
        self,
        *,
        now: float,
        status: str | None = None,
        reason: Reason | None = None,
        representation: Representation | None = None,
        href: str | None = None,
    ) -> Actions:
        embedded = representation.state if representation is not None else None
        completion = classify_completion(status, reason, embedded)
        timed_out = self._timed_out_failure(completion)
        branch = C.FAILED if timed_out else completion
        source = self.state
        row = self._move(
            T.COMPLETED,
            now,
            branch=branch,
            reason=str(reason) if reason is not None else (status or embedded),
        )
        if row.absorb:
            filled = fill_in(
                self.outcome,
                completion,
                status,
                reason,
                agrees_with_state=completion is not C.UNDETERMINED and _COMPLETION_DEST[completion] is self.state,
            )
            if filled is not None and self.final_at is not None:  # a settled outcome stays as it is
                self._set_outcome(filled, now)
            return NO_ACTIONS
        previous = self.representation
        self._learn(href, representation)
        if completion is C.UNDETERMINED:
            target = self.href or href
            return (FetchResource(target, "completed carried neither status nor state"),) if target else NO_ACTIONS
        if timed_out:
            said = "no reason" if reason is None else str(reason)
            outcome = Outcome(
                success=False,
                status=status,
                reason=lobby_timeout_reason(f"lobby deadline passed, left the lobby; the server said: {said}"),
            )
        else:
            outcome = Outcome.of(completion, status, reason)
        return self._ended(source, row.dest, outcome, previous, now)

    # -- final outcomes ------------------------------------------------------------

    def outcome_is_final(self, now: float) -> bool:
        """Whether the outcome is final at ``now`` (:mod:`fsm.outcome`, "Final outcomes").

        A ``completed`` with a status, or a refusal, makes it final at once; an
        end seen without status (a GET, an ``updated``) becomes final when a
        ``completed`` fills it in or :data:`~fsm.outcome.FINAL_GRACE` seconds
        later, whichever comes first.
        """
        return is_final(self.outcome, self.final_at, now)

    def _set_outcome(self, outcome: Outcome, now: float, *, settled: bool = False) -> None:
        """``settled``: nothing can add to it (a synchronous refusal: no resource, so no ``completed``)."""
        self.outcome = outcome
        self.final_at = None if settled else settle_by(outcome, now)

    # -- helpers -----------------------------------------------------------------

    def _hang_up_after_cancel(self, source: OnlineMeetingState) -> Actions:
        """After a response from ``cancel_crossed`` (the cancel's): the hang-up, now that nothing is in flight."""
        if source is not S.CANCEL_CROSSED:
            return NO_ACTIONS
        link, self.hang_up_link = self.hang_up_link, None
        return NO_ACTIONS if link is None else (PostLink(link.rel, link.href),)

    def _timed_out_failure(self, completion: Completion) -> bool:
        """After our lobby-deadline cancel, every failure is the timeout's (branch ``Failed``)."""
        return self.state in _CANCEL_UNSETTLED and self.timed_out and completion not in (C.CONNECTED, C.UNDETERMINED)

    def _ended(
        self,
        source: OnlineMeetingState,
        dest: OnlineMeetingState,
        outcome: Outcome,
        previous: Representation,
        now: float,
    ) -> Actions:
        """The join ended (``completed``, or the OMI ``updated`` to a final state): its outcome, and the cancel race."""
        self._set_outcome(outcome, now)
        if source in _CANCEL_UNSETTLED and dest in (S.CANCEL_CROSSED, S.HANGING_UP):
            # the cancel race: the end usually carries the cancel (terminate) link; if not, the one we used
            link = self.representation.link(CANCEL_REL) or previous.link(CANCEL_REL) or self.cancel_link
            if dest is S.CANCEL_CROSSED:
                # our cancel is still in flight, and its response would pass for the hang-up's: wait for it
                self.hang_up_link = link
            elif link is not None:
                return (PostLink(link.rel, link.href),)
        return NO_ACTIONS

    def _omi_event(
        self, trigger: OnlineMeetingTrigger, now: float, href: str | None, representation: Representation | None
    ) -> Actions:
        wire = None if representation is None else representation.state
        final = final_completion(wire) if trigger is T.UPDATED else None
        # started is unguarded; updated's branch is its embedded state, final or not
        timed_out = final is not None and self._timed_out_failure(final)
        branch = None if trigger is not T.UPDATED else C.FAILED if timed_out else (final or C.UNDETERMINED)
        source = self.state
        row = self._move(trigger, now, branch=branch, reason=wire)
        if row.absorb:
            return NO_ACTIONS
        previous = self.representation
        self._learn(href, representation)
        if final is not None:
            if timed_out:
                outcome = Outcome(
                    success=False,
                    status=None,
                    reason=lobby_timeout_reason(f"lobby deadline passed, left the lobby; the OMI said {final.value}"),
                )
            else:
                outcome = Outcome.without_status(final, "updated")
            return self._ended(source, row.dest, outcome, previous, now)
        if representation is None:
            # the OMI's links gate cancel, and an event with no resource may have changed them: read it
            target = self.href or href
            if target is not None:
                return (FetchResource(target, f"{trigger.value} carried no resource: its links may have changed"),)
        return NO_ACTIONS

    def _lobby_signal(
        self, trigger: OnlineMeetingTrigger, now: float, in_lobby: bool, shown: str | None, conversation: str | None
    ) -> Actions:
        signal = L.IN_LOBBY if in_lobby else L.NOT_IN_LOBBY
        row = self._move(trigger, now, branch=signal, reason=shown)
        if row.absorb:
            return NO_ACTIONS
        if conversation is not None:
            self.conversation_state = conversation
        if in_lobby:
            self._advance(S.IN_LOBBY)
        return NO_ACTIONS

    def _advance(self, stage: OnlineMeetingState) -> None:
        if STAGES.index(stage) > STAGES.index(self.stage):
            self.stage = stage

    def _learn(self, href: str | None, representation: Representation | None) -> None:
        if href is not None and self.href is None:
            self.href = href
        if representation is None:
            return
        self.representation = representation
        if representation.operation_id is not None and self.operation_id is None:
            self.operation_id = representation.operation_id

    def _cancel_link(self, trigger: OnlineMeetingTrigger) -> Link:
        link = self.representation.link(CANCEL_REL)
        if link is None:
            raise LinkMissing(self.machine, self.state, trigger, (CANCEL_REL,))
        return link

    def _check_deadline(self, deadline: float | None) -> None:
        if deadline is not None and not math.isfinite(deadline):
            raise InvalidInput(self.machine, "lobby_deadline", f"{deadline!r} is not a finite time")
