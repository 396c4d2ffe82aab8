"""The renegotiation machine: one audio/video renegotiation, offered by us or by the remote.

Theory of operation
-------------------
An ``audioVideoRenegotiation`` has no ``state`` property and only ever shows up
in the event channel as ``started`` (docs/protocol.md §4, 2.3): no ``updated``, no
``completed``. Its lifecycle is therefore inferred [I] from the requests the
app sends and their responses:

- Incoming offer: ``started`` with direction ``Incoming`` and the links
  ``answer`` / ``dismiss`` puts an ``idle`` model in ``remote_offered``. The app
  POSTs ``answer`` (no body) or ``dismiss`` (optional ``reason``, a
  :class:`~fsm.reasons.ReNegotiationDeclineReason`, seed 001); the 204 ends it
  in ``answered`` / ``dismissed``. A refused answer or dismiss goes back to
  ``remote_offered`` with the error in ``last_error``, so the app may retry.
- Local offer: ``offer`` asks for POST ``renegotiations?operationId=...`` with
  the SDP (``offering``). The 201 carries the renegotiation as its body
  (``created`` -> ``offered``); the ``started`` event may beat the 201 and
  leads to the same state. The remote's answer is seen later (``remote_answered``:
  a ``mediaAnswer`` appeared -> ``completed``) or it is refused
  (``remote_rejected`` -> ``rejected``). A 409 Conflict/AlreadyExists is glare:
  another renegotiation is in progress (``collided``); any other refusal is
  ``failed``.

Deadlines. The caller passes an absolute ``deadline`` on its own clock with
``offer`` (or ``started``); ``due(now)`` and :attr:`Renegotiation.next_deadline`
tell a scheduler when to fire ``expire``, which raises
:class:`~fsm.errors.NotDue` before the deadline. Our unanswered offer expires
(``expired``: nothing is sent, the API has no way to withdraw an offer). An
incoming offer left unanswered is dismissed with reason ``Unknown`` ("no
response code given") and ends ``dismissed`` once the 204 arrives: the remote
is told rather than left waiting; only when the representation has no
``dismiss`` link does it go straight to ``expired``. A request in flight
(``answering``, ``dismissing``) has no deadline: its response decides.

Late events. Once ended, a model records later remote events in its history
(marked absorbed) and changes nothing, as the invitation does: a 201 arriving
after the answer, a duplicate ``started``, an answer after our deadline.

Outcome. ``completed`` and ``answered`` succeed. Every other end is a failure
with a reason: the wire's for ``rejected`` / ``collided`` / ``failed``;
``LocalFailure/Declined`` for our own dismissal (the catalogue's "declined by
the local user", docs/protocol.md §5.1) and ``LocalFailure/Timeout`` for an expiry
(dismissal by expiry included).

One at a time. :class:`AudioVideoSession` enforces the API's "at most one
renegotiation in progress per audio/video session" locally: a second local
offer is refused with :class:`RenegotiationInFlight`; an incoming offer that
arrives while our own is in flight (glare seen from our side) gets its own
model, which is immediately dismissed with reason ``Conflict`` ("client not
ready to process it"). That is the defined glare outcome: our offer stays in
flight, theirs is dismissed.
"""

from __future__ import annotations

import math
from enum import Enum

from attrs import define, field

from fsm.actions import NO_ACTIONS, Actions, PostLink, PostRenegotiation
from fsm.engine import MachineDefinition, Transition, build_table
from fsm.errors import InvalidInput, InvalidTrigger, LinkMissing, NotDue
from fsm.model import FsmModel
from fsm.outcome import Outcome
from fsm.reasons import ErrorCode, Reason, ReNegotiationDeclineReason
from fsm.wire import Direction, Link, Representation


class RenegotiationState(Enum):
    IDLE = "idle"
    OFFERING = "offering"
    OFFERED = "offered"
    REMOTE_OFFERED = "remote_offered"
    ANSWERING = "answering"
    DISMISSING = "dismissing"
    ANSWERED = "answered"
    DISMISSED = "dismissed"
    COMPLETED = "completed"
    REJECTED = "rejected"
    COLLIDED = "collided"
    FAILED = "failed"
    EXPIRED = "expired"


class RenegotiationTrigger(Enum):
    # local: the app (or its timer) decides; each returns the actions to perform
    OFFER = "offer"
    ANSWER = "answer"
    DISMISS = "dismiss"
    EXPIRE = "expire"
    # remote: responses to our requests, and what the channel shows
    CREATED = "created"
    STARTED = "started"
    REMOTE_ANSWERED = "remote_answered"
    REMOTE_REJECTED = "remote_rejected"
    REQUEST_SUCCEEDED = "request_succeeded"
    REQUEST_FAILED = "request_failed"


class AnswerSeen(Enum):
    """Guard of ``created``: does the 201 body already carry the remote's answer? [U]"""

    PENDING = "no mediaAnswer"
    ANSWERED = "mediaAnswer present"


class Refusal(Enum):
    """Guard of ``request_failed`` on our offer."""

    COLLISION = "Conflict/AlreadyExists"
    OTHER = "other error"


class ExpiryPath(Enum):
    """Guard of ``expire`` on an incoming offer."""

    DISMISS = "dismiss link present"
    GIVE_UP = "no dismiss link"


#: Property name -> maximum length (docs/protocol.md §4: operationId <= 50).
OPERATION_ID_MAX = 50

S = RenegotiationState
T = RenegotiationTrigger

TERMINAL = frozenset({S.ANSWERED, S.DISMISSED, S.COMPLETED, S.REJECTED, S.COLLIDED, S.FAILED, S.EXPIRED})
#: Remote triggers that an ended renegotiation records and ignores.
_LATE_EVENTS = (T.CREATED, T.STARTED, T.REMOTE_ANSWERED, T.REMOTE_REJECTED, T.REQUEST_SUCCEEDED, T.REQUEST_FAILED)

TABLE: tuple[Transition[S, T], ...] = build_table(
    # -- nothing known yet: we offer, or the remote's offer is announced
    [
        Transition(S.IDLE, T.OFFER, S.OFFERING, note="POST renegotiations (SDP)"),
        Transition(S.IDLE, T.STARTED, S.REMOTE_OFFERED, when=Direction.INCOMING, note="direction Incoming"),
    ],
    # -- our POST is in flight: the 201 and started may come in either order
    [
        Transition(S.OFFERING, T.CREATED, S.OFFERED, when=AnswerSeen.PENDING, note="201"),
        Transition(S.OFFERING, T.CREATED, S.COMPLETED, when=AnswerSeen.ANSWERED, note="201 carries mediaAnswer"),
        Transition(S.OFFERING, T.STARTED, S.OFFERED, when=Direction.OUTGOING, note="started beat the 201"),
        Transition(S.OFFERING, T.REMOTE_ANSWERED, S.COMPLETED, note="answer beat the 201"),
        Transition(S.OFFERING, T.REMOTE_REJECTED, S.REJECTED, note="refusal beat the 201"),
        Transition(S.OFFERING, T.REQUEST_FAILED, S.COLLIDED, when=Refusal.COLLISION, note="409 Conflict/AlreadyExists"),
        Transition(S.OFFERING, T.REQUEST_FAILED, S.FAILED, when=Refusal.OTHER, note="POST refused"),
        Transition(S.OFFERING, T.EXPIRE, S.EXPIRED, note="deadline passed"),
    ],
    # -- our offer is out, waiting for the remote
    [
        Transition(S.OFFERED, T.CREATED, S.OFFERED, when=AnswerSeen.PENDING, note="201 after started"),
        Transition(S.OFFERED, T.CREATED, S.COMPLETED, when=AnswerSeen.ANSWERED, note="201 carries mediaAnswer"),
        Transition(S.OFFERED, T.STARTED, S.OFFERED, when=Direction.OUTGOING, note="started after the 201"),
        Transition(S.OFFERED, T.REMOTE_ANSWERED, S.COMPLETED, note="mediaAnswer present"),
        Transition(S.OFFERED, T.REMOTE_REJECTED, S.REJECTED),
        Transition(S.OFFERED, T.EXPIRE, S.EXPIRED, note="deadline passed"),
    ],
    # -- the remote's offer waits for our answer
    [
        Transition(S.REMOTE_OFFERED, T.ANSWER, S.ANSWERING, note="link answer"),
        Transition(S.REMOTE_OFFERED, T.DISMISS, S.DISMISSING, note="link dismiss"),
        Transition(S.REMOTE_OFFERED, T.EXPIRE, S.DISMISSING, when=ExpiryPath.DISMISS, note="dismiss: Unknown"),
        Transition(S.REMOTE_OFFERED, T.EXPIRE, S.EXPIRED, when=ExpiryPath.GIVE_UP, note="no dismiss link"),
        Transition(S.REMOTE_OFFERED, T.STARTED, S.REMOTE_OFFERED, when=Direction.INCOMING, note="repeated"),
    ],
    # -- our answer or dismissal is in flight; its 204 ends it, a refusal allows a retry
    [
        Transition(S.ANSWERING, T.REQUEST_SUCCEEDED, S.ANSWERED, note="204"),
        Transition(S.ANSWERING, T.REQUEST_FAILED, S.REMOTE_OFFERED, note="answer refused: retry"),
        Transition(S.ANSWERING, T.STARTED, S.ANSWERING, when=Direction.INCOMING, note="repeated"),
        Transition(S.DISMISSING, T.REQUEST_SUCCEEDED, S.DISMISSED, note="204"),
        Transition(S.DISMISSING, T.REQUEST_FAILED, S.REMOTE_OFFERED, note="dismiss refused: retry"),
        Transition(S.DISMISSING, T.STARTED, S.DISMISSING, when=Direction.INCOMING, note="repeated"),
    ],
    # -- ended: late events are recorded and change nothing
    *([Transition(end, t, end, absorb=True) for t in _LATE_EVENTS] for end in sorted(TERMINAL, key=lambda s: s.value)),
)

RENEGOTIATION: MachineDefinition[S, T] = MachineDefinition(
    name="renegotiation",
    summary="An audio/video renegotiation, our SDP offer or the remote's, from the offer to its answer, "
    "dismissal, collision or expiry.",
    states=S,
    triggers=T,
    initial=S.IDLE,
    terminal=TERMINAL,
    local_triggers=frozenset({T.OFFER, T.ANSWER, T.DISMISS, T.EXPIRE}),
    table=TABLE,
    # the resource has no state property: no state has a wire name
    wire_names={},
)

#: Our own states while our offer is in flight (used to recognise glare).
OUR_OFFER_IN_FLIGHT = frozenset({S.OFFERING, S.OFFERED})

_EXPIRY_REASON = Reason(ErrorCode.LOCAL_FAILURE.value, "Timeout", "no answer before the deadline")


def is_collision(reason: Reason) -> bool:
    """A 409 Conflict/AlreadyExists: another renegotiation is already in progress."""
    return reason.error_code is ErrorCode.CONFLICT and reason.subcode_is("AlreadyExists")


@define(slots=True, kw_only=True, eq=True)
class Renegotiation(FsmModel):
    """One live renegotiation. Every trigger takes ``now``, the caller's clock."""

    DEFINITION = RENEGOTIATION

    state: RenegotiationState = RenegotiationState.IDLE
    href: str | None = None
    operation_id: str | None = None
    direction: Direction | None = None
    representation: Representation = field(factory=Representation)
    #: ``mediaOffer`` / ``mediaAnswer`` (data: URIs or SDP, as the adapter gives them).
    media_offer: str | None = None
    media_answer: str | None = None
    #: The reason sent with the latest dismiss.
    decline_reason: ReNegotiationDeclineReason | None = None
    #: Absolute time (caller's clock) after which ``expire`` may fire.
    deadline: float | None = None
    #: The latest refused request's reason (kept even when a retry is possible).
    last_error: Reason | None = None
    outcome: Outcome | None = None

    # -- deadlines -----------------------------------------------------------------

    @property
    def next_deadline(self) -> float | None:
        """The deadline, while the current state can expire; ``None`` otherwise."""
        if self.deadline is None or not self.DEFINITION.allows(self.state, T.EXPIRE):
            return None
        return self.deadline

    def due(self, now: float) -> bool:
        deadline = self.next_deadline
        return deadline is not None and now >= deadline

    # -- local triggers ------------------------------------------------------------

    def offer(self, *, now: float, href: str, operation_id: str, sdp: str, deadline: float | None = None) -> Actions:
        """Offer new media: POST ``href`` (the session's ``renegotiations`` link) with ``sdp``."""
        self._check(T.OFFER)
        if not operation_id:
            raise InvalidInput(self.machine, "operationId", "an operation id is required")
        if len(operation_id) > OPERATION_ID_MAX:
            raise InvalidInput(
                self.machine, "operationId", f"{len(operation_id)} characters, the maximum is {OPERATION_ID_MAX}"
            )
        _check_deadline(self.machine, deadline)
        self._move(T.OFFER, now)
        self.direction = Direction.OUTGOING
        self.operation_id = operation_id
        self.media_offer = sdp
        self.deadline = deadline
        return (PostRenegotiation(href, operation_id, sdp),)

    def answer(self, *, now: float) -> Actions:
        """Accept the remote's offer: POST ``answer`` (no body, docs/protocol.md §4)."""
        self._check(T.ANSWER)
        link = self._link(T.ANSWER, "answer")
        self._move(T.ANSWER, now)
        return (PostLink(link.rel, link.href),)

    def dismiss(self, *, now: float, reason: ReNegotiationDeclineReason | None = None) -> Actions:
        """Refuse the remote's offer: POST ``dismiss``, with ``{"reason": ...}`` when given (seed 001)."""
        self._check(T.DISMISS)
        link = self._link(T.DISMISS, "dismiss")
        self._move(T.DISMISS, now, reason=None if reason is None else f"dismiss: {reason.value}")
        self.decline_reason = reason
        return (PostLink(link.rel, link.href, () if reason is None else (("reason", reason.value),)),)

    def expire(self, *, now: float) -> Actions:
        """The deadline passed: give up our offer, or dismiss theirs with ``Unknown``."""
        link = self.representation.link("dismiss")
        branch = ExpiryPath.DISMISS if link is not None else ExpiryPath.GIVE_UP
        self._check(T.EXPIRE, branch)
        if not self.due(now):
            why = "no deadline is set" if self.deadline is None else f"the deadline is {self.deadline}, now is {now}"
            raise NotDue(self.machine, self.state, T.EXPIRE, why)
        row = self._move(T.EXPIRE, now, branch=branch, reason="deadline passed")
        if row.dest is S.DISMISSING and link is not None:
            self.decline_reason = ReNegotiationDeclineReason.UNKNOWN
            return (PostLink(link.rel, link.href, (("reason", ReNegotiationDeclineReason.UNKNOWN.value),)),)
        self.outcome = Outcome(success=False, status=None, reason=_EXPIRY_REASON)
        return NO_ACTIONS

    # -- responses to our requests ---------------------------------------------------

    def created(
        self,
        *,
        now: float,
        representation: Representation,
        href: str | None = None,
        media_answer: str | None = None,
    ) -> Actions:
        """Our offer's POST answered 201, with the renegotiation as its body."""
        branch = AnswerSeen.ANSWERED if media_answer is not None else AnswerSeen.PENDING
        row = self._move(T.CREATED, now, branch=branch)
        if row.absorb:
            return NO_ACTIONS
        self._learn(href, representation)
        if media_answer is not None:
            self.media_answer = media_answer
        if row.dest is S.COMPLETED:
            self.outcome = Outcome(success=True, status=None)
        return NO_ACTIONS

    def request_succeeded(self, *, now: float) -> Actions:
        """The 204 of ``answer`` or ``dismiss``."""
        source = self.state
        row = self._move(T.REQUEST_SUCCEEDED, now)
        if row.absorb:
            return NO_ACTIONS
        self.last_error = None
        if row.dest is S.ANSWERED:
            self.outcome = Outcome(success=True, status=None)
        elif row.dest is S.DISMISSED:
            self.outcome = Outcome(success=False, status=None, reason=self._dismissal_reason(source))
        return NO_ACTIONS

    def request_failed(self, *, now: float, reason: Reason) -> Actions:
        """A request we sent was refused synchronously (the HTTP error's code/subcode)."""
        branch = Refusal.COLLISION if is_collision(reason) else Refusal.OTHER
        row = self._move(T.REQUEST_FAILED, now, branch=branch, reason=str(reason))
        if row.absorb:
            return NO_ACTIONS
        self.last_error = reason
        if row.dest in TERMINAL:
            self.outcome = Outcome(success=False, status=None, reason=reason)
        return NO_ACTIONS

    # -- what the channel shows ------------------------------------------------------

    def started(
        self,
        *,
        now: float,
        representation: Representation,
        href: str | None = None,
        media_offer: str | None = None,
        deadline: float | None = None,
    ) -> Actions:
        """``started``: an incoming offer (from ``idle``) or our own offer announced.

        ``deadline`` applies to an incoming offer only (when to dismiss it). A
        representation without ``direction`` [U] is taken as ours when we
        offered, else as incoming when it carries an ``answer`` link.
        """
        direction = Direction.parse(representation.direction)
        if direction is None:
            if self.direction is not None:
                direction = self.direction
            else:
                direction = Direction.INCOMING if representation.has("answer") else Direction.OUTGOING
        if self.state is S.IDLE:
            _check_deadline(self.machine, deadline)
        source = self.state
        row = self._move(T.STARTED, now, branch=direction, reason=f"direction {direction.value}")
        if row.absorb:
            return NO_ACTIONS
        self._learn(href, representation)
        self.direction = direction
        if media_offer is not None and direction is Direction.INCOMING:
            self.media_offer = media_offer
        if source is S.IDLE:
            self.deadline = deadline
        return NO_ACTIONS

    def remote_answered(self, *, now: float, media_answer: str | None = None) -> Actions:
        """A later update shows the remote's ``mediaAnswer`` to our offer [I]."""
        row = self._move(T.REMOTE_ANSWERED, now)
        if not row.absorb:
            self.media_answer = media_answer
            self.outcome = Outcome(success=True, status=None)
        return NO_ACTIONS

    def remote_rejected(self, *, now: float, reason: Reason | None = None) -> Actions:
        """The remote refused our offer [I]; with no reason, one saying so is recorded."""
        recorded = reason if reason is not None else Reason.absent("the remote refused the offer")
        row = self._move(T.REMOTE_REJECTED, now, reason=str(recorded))
        if not row.absorb:
            self.outcome = Outcome(success=False, status=None, reason=recorded)
        return NO_ACTIONS

    # -- helpers -----------------------------------------------------------------

    def _learn(self, href: str | None, representation: Representation) -> None:
        if href is not None and self.href is None:
            self.href = href
        self.representation = representation
        if representation.operation_id is not None and self.operation_id is None:
            self.operation_id = representation.operation_id

    def _link(self, trigger: RenegotiationTrigger, rel: str) -> Link:
        link = self.representation.link(rel)
        if link is None:
            raise LinkMissing(self.machine, self.state, trigger, (rel,))
        return link

    def _dismissal_reason(self, source: RenegotiationState) -> Reason:
        # The step that entered ``source`` says whether the app or the deadline dismissed.
        entry = next((s for s in reversed(self.history) if s.dest is source and s.source is not source), None)
        if entry is not None and entry.trigger is T.EXPIRE:
            return _EXPIRY_REASON
        shown = "no reason given" if self.decline_reason is None else self.decline_reason.value
        return Reason(ErrorCode.LOCAL_FAILURE.value, "Declined", f"dismissed: {shown}")


def _check_deadline(machine: str, deadline: float | None) -> None:
    if deadline is not None and not math.isfinite(deadline):
        raise InvalidInput(machine, "deadline", f"{deadline} is not a finite time")


class RenegotiationInFlight(InvalidTrigger):
    """A second renegotiation while one is in progress (at most one per audio/video session).

    Names the machine ``renegotiation``, the in-flight renegotiation's state and
    the refused trigger; :attr:`in_flight` is that renegotiation.
    """

    def __init__(self, in_flight: Renegotiation, trigger: RenegotiationTrigger) -> None:
        self.in_flight = in_flight
        super().__init__(
            RENEGOTIATION.name,
            in_flight.state,
            trigger,
            "another renegotiation is in progress on this audio/video session (at most one at a time)",
        )


@define(slots=True, kw_only=True, eq=False)
class AudioVideoSession:
    """The renegotiations of one audio/video session: at most one in flight.

    Not a machine: it owns the current :class:`Renegotiation` and decides, before
    any request is sent, whether a new one may start.
    """

    #: The latest renegotiation this session started or accepted (``None`` at first).
    current: Renegotiation | None = None

    @property
    def in_flight(self) -> Renegotiation | None:
        """The current renegotiation while it has not ended."""
        if self.current is None or self.current.is_terminal:
            return None
        return self.current

    def offer(
        self, *, now: float, href: str, operation_id: str, sdp: str, deadline: float | None = None
    ) -> tuple[Renegotiation, Actions]:
        """Start our own renegotiation, refused with :class:`RenegotiationInFlight` when one is in flight."""
        busy = self.in_flight
        if busy is not None:
            raise RenegotiationInFlight(busy, T.OFFER)
        model = Renegotiation()
        actions = model.offer(now=now, href=href, operation_id=operation_id, sdp=sdp, deadline=deadline)
        self.current = model
        return model, actions

    def incoming(
        self,
        *,
        now: float,
        representation: Representation,
        href: str | None = None,
        media_offer: str | None = None,
        deadline: float | None = None,
    ) -> tuple[Renegotiation, Actions]:
        """A ``started`` for a new incoming renegotiation: a new model, plus the glare rule.

        While our own offer is in flight, the incoming one is created and
        immediately dismissed with ``Conflict``; its model (in ``dismissing``) is
        returned with that action, so the 204 can be routed to it, and our offer
        stays current. While another incoming renegotiation is in flight, the
        server broke its own one-at-a-time rule (or this is a repeated
        ``started`` that belongs to that model): refused with
        :class:`RenegotiationInFlight`.
        """
        busy = self.in_flight
        if busy is not None and busy.state not in OUR_OFFER_IN_FLIGHT:
            raise RenegotiationInFlight(busy, T.STARTED)
        model = Renegotiation()
        model.started(now=now, representation=representation, href=href, media_offer=media_offer, deadline=deadline)
        if busy is not None:
            return model, model.dismiss(now=now, reason=ReNegotiationDeclineReason.CONFLICT)
        self.current = model
        return model, NO_ACTIONS
