"""The renegotiation machine and AudioVideoSession's one-at-a-time rule, stateful.

Random runs checked against :class:`Reference`, plain data built on the hand-written ``EXPECTED``
table of renegotiation_reference.py plus links, deadlines and directions.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from renegotiation_reference import (
    ANSWER,
    COLLISION,
    DISMISS,
    EXPECTED,
    LINKS_BY_REL,
    OFFER_DEADLINE,
    OTHER_ERRORS,
    RENEGOTIATIONS,
    SDP,
    SUCCESSES,
    TERMINAL,
    D,
    S,
    T,
    incoming_rep,
    outgoing_rep,
    reach,
)

from fsm import (
    Direction,
    InvalidInput,
    InvalidTrigger,
    LinkMissing,
    NotDue,
    PostLink,
    PostRenegotiation,
    Reason,
    Representation,
)
from fsm.actions import Actions
from fsm.renegotiation import (
    AudioVideoSession,
    Renegotiation,
    RenegotiationInFlight,
)

# -- stateful model test ---------------------------------------------------------------------

directions = st.sampled_from(["Incoming", "Outgoing", "incoming", None])
link_sets = st.frozensets(st.sampled_from(sorted(LINKS_BY_REL)))
reasons = st.sampled_from([COLLISION, Reason("CONFLICT", "alreadyExists"), *OTHER_ERRORS])
decline_reasons = st.one_of(st.none(), st.sampled_from(list(D)))
delays = st.floats(min_value=0.0, max_value=20.0, allow_nan=False)


class Reference:
    """The expected behaviour as plain data: EXPECTED above plus links, deadlines and directions."""

    def __init__(self) -> None:
        self.state = S.IDLE
        self.links: frozenset[str] = frozenset()
        self.deadline: float | None = None
        self.direction: str | None = None
        self.dismissed_by_expiry = False
        self.last_error: Reason | None = None

    def case_of_started(self, direction: str | None, links: frozenset[str]) -> str:
        if direction is None:
            direction = self.direction or ("Incoming" if "answer" in links else "Outgoing")
        return "started_in" if direction.lower() == "incoming" else "started_out"

    def can_expire(self) -> bool:
        return (self.state, "expire") in EXPECTED

    def expire_dest(self) -> S:
        if self.state is S.REMOTE_OFFERED and "dismiss" not in self.links:
            return S.EXPIRED
        return EXPECTED[(self.state, "expire")]


class RenegotiationMachine(RuleBasedStateMachine):
    @initialize(start=st.sampled_from(list(S)))
    def start(self, start: S) -> None:
        # Runs begin in any state (through reach()), so that short runs cover every state's triggers.
        self.model = reach(start)
        self.ref = Reference()
        self.ref.state = start
        ours = start in (S.OFFERING, S.OFFERED, S.COMPLETED, S.REJECTED, S.COLLIDED, S.FAILED, S.EXPIRED)
        if start is not S.IDLE:
            self.ref.direction = "Outgoing" if ours else "Incoming"
            self.ref.deadline = OFFER_DEADLINE if ours else 20.0
            self.ref.links = frozenset() if ours else frozenset({"answer", "dismiss"})
        self.ref.last_error = {S.COLLIDED: COLLISION, S.FAILED: OTHER_ERRORS[0]}.get(start)
        self.now = 2.0
        self.ended_in: S | None = None

    # -- helpers

    def tick(self, delay: float) -> float:
        self.now += delay
        return self.now

    def refused(self, fire: Callable[[], object], error: type[Exception]) -> None:
        before = copy.deepcopy(self.model)
        with pytest.raises(error):
            fire()
        assert self.model == before

    def landed(self, source: S, expected: S) -> None:
        assert self.model.state is expected, (source, expected, self.model.state)
        if source not in TERMINAL:
            self.ref.state = expected

    # -- local triggers

    @rule(operation_id=st.sampled_from(["op-1", "", "x" * 51]), delay=delays, wait=st.none() | delays)
    def offer(self, operation_id: str, delay: float, wait: float | None) -> None:
        now = self.tick(delay)
        deadline = None if wait is None else now + wait

        def fire() -> Actions:
            return self.model.offer(now=now, href=RENEGOTIATIONS, operation_id=operation_id, sdp=SDP, deadline=deadline)

        if (self.ref.state, "offer") not in EXPECTED:
            self.refused(fire, InvalidTrigger)
        elif not 1 <= len(operation_id) <= 50:
            self.refused(fire, InvalidInput)
        else:
            assert fire() == (PostRenegotiation(RENEGOTIATIONS, operation_id, SDP),)
            self.landed(S.IDLE, S.OFFERING)
            self.ref.deadline, self.ref.direction = deadline, "Outgoing"

    @rule(delay=delays)
    def answer(self, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if (source, "answer") not in EXPECTED:
            self.refused(lambda: self.model.answer(now=now), InvalidTrigger)
        elif "answer" not in self.ref.links:
            self.refused(lambda: self.model.answer(now=now), LinkMissing)
        else:
            assert self.model.answer(now=now) == (PostLink(ANSWER.rel, ANSWER.href),)
            self.landed(source, EXPECTED[(source, "answer")])

    @rule(reason=decline_reasons, delay=delays)
    def dismiss(self, reason: D | None, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if (source, "dismiss") not in EXPECTED:
            self.refused(lambda: self.model.dismiss(now=now, reason=reason), InvalidTrigger)
        elif "dismiss" not in self.ref.links:
            self.refused(lambda: self.model.dismiss(now=now, reason=reason), LinkMissing)
        else:
            body = () if reason is None else (("reason", reason.value),)
            assert self.model.dismiss(now=now, reason=reason) == (PostLink(DISMISS.rel, DISMISS.href, body),)
            self.landed(source, EXPECTED[(source, "dismiss")])
            self.ref.dismissed_by_expiry = False

    @rule(delay=delays)
    def expire(self, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if not self.ref.can_expire():
            self.refused(lambda: self.model.expire(now=now), InvalidTrigger)
            return
        if self.ref.deadline is None or now < self.ref.deadline:
            assert not self.model.due(now)
            self.refused(lambda: self.model.expire(now=now), NotDue)
            return
        assert self.model.due(now)
        actions = self.model.expire(now=now)
        dest = self.ref.expire_dest()
        if dest is S.DISMISSING:
            assert actions == (PostLink(DISMISS.rel, DISMISS.href, (("reason", "Unknown"),)),)
            self.ref.dismissed_by_expiry = True
        else:
            assert actions == ()
        self.landed(source, dest)

    # -- remote triggers

    @rule(answered=st.booleans(), links=link_sets, delay=delays)
    def created(self, answered: bool, links: frozenset[str], delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        rep = Representation(direction="Outgoing", links=[LINKS_BY_REL[r] for r in sorted(links)])
        case = "created_answered" if answered else "created"

        def fire() -> Actions:
            return self.model.created(now=now, representation=rep, media_answer="data:,a" if answered else None)

        if (source, case) not in EXPECTED:
            self.refused(fire, InvalidTrigger)
            return
        assert fire() == ()
        self.landed(source, EXPECTED[(source, case)])
        if source not in TERMINAL:
            self.ref.links = links

    @rule(direction=directions, links=link_sets, delay=delays, wait=st.none() | delays)
    def started(self, direction: str | None, links: frozenset[str], delay: float, wait: float | None) -> None:
        now = self.tick(delay)
        source = self.ref.state
        deadline = None if wait is None else now + wait
        rep = Representation(direction=direction, links=[LINKS_BY_REL[r] for r in sorted(links)])
        case = self.ref.case_of_started(direction, links)

        def fire() -> Actions:
            return self.model.started(now=now, representation=rep, deadline=deadline)

        if (source, case) not in EXPECTED:
            self.refused(fire, InvalidTrigger)
            return
        assert fire() == ()
        self.landed(source, EXPECTED[(source, case)])
        if source not in TERMINAL:
            self.ref.links = links
        if source is S.IDLE:
            self.ref.deadline, self.ref.direction = deadline, "Incoming"

    @rule(delay=delays)
    def remote_answered(self, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if (source, "remote_answered") not in EXPECTED:
            self.refused(lambda: self.model.remote_answered(now=now), InvalidTrigger)
            return
        self.model.remote_answered(now=now)
        self.landed(source, EXPECTED[(source, "remote_answered")])

    @rule(reason=st.none() | reasons, delay=delays)
    def remote_rejected(self, reason: Reason | None, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if (source, "remote_rejected") not in EXPECTED:
            self.refused(lambda: self.model.remote_rejected(now=now, reason=reason), InvalidTrigger)
            return
        self.model.remote_rejected(now=now, reason=reason)
        self.landed(source, EXPECTED[(source, "remote_rejected")])
        if source not in TERMINAL and reason is not None:
            assert self.model.outcome is not None
            assert self.model.outcome.reason == reason

    @rule(delay=delays)
    def request_succeeded(self, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        if (source, "request_succeeded") not in EXPECTED:
            self.refused(lambda: self.model.request_succeeded(now=now), InvalidTrigger)
            return
        self.model.request_succeeded(now=now)
        self.landed(source, EXPECTED[(source, "request_succeeded")])
        if source not in TERMINAL:
            self.ref.last_error = None
        if source is S.DISMISSING:
            outcome = self.model.outcome
            assert outcome is not None
            assert outcome.reason is not None
            expected_subcode = "Timeout" if self.ref.dismissed_by_expiry else "Declined"
            assert outcome.reason.subcode_is(expected_subcode)

    @rule(reason=reasons, delay=delays)
    def request_failed(self, reason: Reason, delay: float) -> None:
        now = self.tick(delay)
        source = self.ref.state
        collision = reason.code is not None and reason.code.lower() == "conflict" and reason.subcode is not None
        collision = collision and (reason.subcode or "").lower() == "alreadyexists"
        case = "failed_collision" if collision else "failed_other"
        if (source, case) not in EXPECTED:
            self.refused(lambda: self.model.request_failed(now=now, reason=reason), InvalidTrigger)
            return
        self.model.request_failed(now=now, reason=reason)
        self.landed(source, EXPECTED[(source, case)])
        if source not in TERMINAL:
            self.ref.last_error = reason
            if self.model.state in TERMINAL:
                assert self.model.outcome is not None
                assert self.model.outcome.reason == reason

    # -- invariants

    @invariant()
    def agrees_with_reference(self) -> None:
        note(f"state {self.model.state.value}, ref {self.ref.state.value}, links {sorted(self.ref.links)}")
        assert self.model.state is self.ref.state
        expected_links = {LINKS_BY_REL[r] for r in self.ref.links}
        assert {link for link in self.model.representation.links if link.rel in LINKS_BY_REL} == expected_links

    @invariant()
    def last_error_is_the_latest_refusal(self) -> None:
        assert self.model.last_error == self.ref.last_error

    @invariant()
    def at_most_one_terminal_outcome(self) -> None:
        entries = [s for s in self.model.history if s.source not in TERMINAL and s.dest in TERMINAL]
        assert len(entries) <= 1
        assert (self.model.outcome is not None) is (self.model.state in TERMINAL)

    @invariant()
    def a_failure_always_has_its_reason(self) -> None:
        outcome = self.model.outcome
        if outcome is not None:
            assert outcome.success is (self.model.state in SUCCESSES)
            if not outcome.success:
                assert outcome.reason is not None
        for step in self.model.history:
            if step.trigger in (T.REQUEST_FAILED, T.REMOTE_REJECTED):
                assert step.reason

    @invariant()
    def nothing_leaves_a_terminal_state(self) -> None:
        if self.ended_in is not None:
            assert self.model.state is self.ended_in
        elif self.model.state in TERMINAL:
            self.ended_in = self.model.state

    @invariant()
    def deadline_only_where_it_can_fire(self) -> None:
        expected = self.ref.deadline if self.ref.can_expire() else None
        assert self.model.next_deadline == expected


TestRenegotiationStateful = RenegotiationMachine.TestCase
# A run ends in a terminal state within a dozen steps, after which it only replays late events:
# many short runs explore more paths than the profile's few long ones.
TestRenegotiationStateful.settings = settings(
    settings.default, max_examples=max(300, settings.default.max_examples), stateful_step_count=20
)


# -- the session's one-at-a-time rule, stateful ------------------------------------------------


class SessionMachine(RuleBasedStateMachine):
    """Whatever the order of offers, incoming offers and endings: never two in flight."""

    @initialize()
    def start(self) -> None:
        self.session = AudioVideoSession()
        self.owned: list[Renegotiation] = []  # the session's own, one after the other
        self.victims: list[Renegotiation] = []  # incoming offers dismissed for glare
        self.now = 0.0

    @rule()
    def offer(self) -> None:
        self.now += 1.0
        busy = self.session.in_flight
        if busy is not None:
            with pytest.raises(RenegotiationInFlight):
                self.session.offer(now=self.now, href=RENEGOTIATIONS, operation_id="op", sdp=SDP)
            assert self.session.in_flight is busy
            return
        model, _ = self.session.offer(now=self.now, href=RENEGOTIATIONS, operation_id="op", sdp=SDP)
        self.owned.append(model)

    @rule()
    def incoming(self) -> None:
        self.now += 1.0
        busy = self.session.in_flight
        rep = incoming_rep("answer", "dismiss")
        if busy is not None and busy.direction is not Direction.OUTGOING:
            with pytest.raises(RenegotiationInFlight):
                self.session.incoming(now=self.now, representation=rep)
            return
        model, actions = self.session.incoming(now=self.now, representation=rep)
        if busy is not None:
            assert actions == (PostLink(DISMISS.rel, DISMISS.href, (("reason", "Conflict"),)),)
            assert self.session.current is busy
            self.victims.append(model)
        else:
            assert actions == ()
            assert self.session.current is model
            self.owned.append(model)

    @rule(pick=st.integers(min_value=0, max_value=10))
    def advance_one(self, pick: int) -> None:
        live = [m for m in self.owned + self.victims if not m.is_terminal]
        if not live:
            return
        m = live[pick % len(live)]
        self.now += 1.0
        if m.state is S.OFFERING:
            m.created(now=self.now, representation=outgoing_rep())
        elif m.state is S.OFFERED:
            m.remote_answered(now=self.now)
        elif m.state is S.REMOTE_OFFERED:
            m.answer(now=self.now)
        else:
            m.request_succeeded(now=self.now)

    @invariant()
    def at_most_one_in_flight(self) -> None:
        live = [m for m in self.owned if not m.is_terminal]
        assert len(live) <= 1
        assert self.session.in_flight is (live[0] if live else None)
        assert all(m.state in (S.DISMISSING, S.DISMISSED) for m in self.victims)


TestSessionStateful = SessionMachine.TestCase
