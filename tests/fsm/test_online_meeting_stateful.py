"""The online meeting join, stateful: random runs of every trigger, each call checked against the
hand-written reference :class:`online_meeting_reference.Ref`; once a join has ended, late events
hit it, then a new join starts.
"""

from __future__ import annotations

from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from online_meeting_reference import COMPLETIONS, SETUPS, STAGES, Ev, Ref, S, conversation, fire, participant

from fsm.online_meeting import (
    OnlineMeetingJoin,
)
from fsm.reasons import Reason
from fsm.snapshot import dumps, loads

# -- stateful ---------------------------------------------------------------------------


#: Where a run starts: every setup, and the states where two events race given more room.
START_AT = [
    *[name for name in SETUPS for _ in range(4 if name.startswith("cancel") else 1)],
    "in_lobby",
    "admitted",
]
LIVE = precondition(lambda self: not self.model.is_terminal)
OVER = precondition(lambda self: self.model.is_terminal)

LATE_EVENTS = [
    Ev("created"),
    Ev("started", link=True),
    Ev("updated", link=False),
    conversation("InLobby"),
    participant(True),
    Ev("roster_added"),
    Ev("request_succeeded"),
    Ev("request_failed", reason=Reason("Conflict", "None")),
    Ev("completed", completion="success"),
    Ev("completed", completion="ended"),
]


class OnlineMeetingMachine(RuleBasedStateMachine):
    """Rules named after the triggers; once a join has ended, late events hit it, then a new join starts."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.new_join()

    def new_join(self) -> None:
        self.model = OnlineMeetingJoin()
        self.ref = Ref()
        self.first_outcome: object = None
        self.ended_in: S | None = None

    def fire(self, ev: Ev) -> None:
        self.now = max(self.now + 1.0, ev.at or 0.0)
        note(f"{self.model.state.value} at {self.now}: {ev}")
        fire(self.model, self.ref, ev, self.now)

    def deadline(self, delay: float | None) -> float | None:
        return None if delay is None else self.now + delay

    @initialize(setup=st.sampled_from(START_AT))
    def start(self, setup: str) -> None:
        """Start anywhere a documented path leads, so that deep states get as many steps as shallow ones."""
        for ev in SETUPS[setup]:
            self.fire(ev)

    @LIVE
    @rule(delay=st.none() | st.sampled_from([4.0, 20.0]))
    def send(self, delay: float | None) -> None:
        self.fire(Ev("send", deadline=self.deadline(delay)))

    @LIVE
    @rule()
    def cancel(self) -> None:
        self.fire(Ev("cancel"))

    @LIVE
    @rule(wait=st.sampled_from([0.0, 3.0, 10.0]))
    def lobby_timeout(self, wait: float) -> None:
        self.now += wait
        self.fire(Ev("lobby_timeout"))

    @LIVE
    @rule(delay=st.none() | st.sampled_from([-1.0, 0.0, 5.0, 30.0]))
    def set_lobby_deadline(self, delay: float | None) -> None:
        deadline = self.deadline(delay)
        self.model.set_lobby_deadline(deadline)
        self.ref.deadline = deadline

    @LIVE
    @rule()
    def created(self) -> None:
        self.fire(Ev("created"))

    @LIVE
    @rule(link=st.none() | st.booleans())
    def started(self, link: bool | None) -> None:
        self.fire(Ev("started", link=link))

    @LIVE
    @rule(link=st.none() | st.booleans())
    def updated(self, link: bool | None) -> None:
        self.fire(Ev("updated", link=link))

    @LIVE
    @rule(state=st.sampled_from([None, "InLobby", "INLOBBY", "Connecting", "Conferenced", "Disconnected"]))
    def conversation_updated(self, state: str | None) -> None:
        self.fire(conversation(state))

    @LIVE
    @rule(in_lobby=st.none() | st.booleans())
    def participant_updated(self, in_lobby: bool | None) -> None:
        self.fire(participant(in_lobby))

    @LIVE
    @rule()
    def roster_added(self) -> None:
        self.fire(Ev("roster_added"))

    @LIVE
    @rule()
    def request_succeeded(self) -> None:
        self.fire(Ev("request_succeeded"))

    @LIVE
    @rule(reason=st.sampled_from([Reason("Conflict", "None"), Reason("ServiceFailure", "CallbackChannelError")]))
    def request_failed(self, reason: Reason) -> None:
        self.fire(Ev("request_failed", reason=reason))

    @LIVE
    @rule(completion=st.sampled_from(list(COMPLETIONS)), link=st.none() | st.booleans())
    def completed(self, completion: str, link: bool | None) -> None:
        self.fire(Ev("completed", completion=completion, link=link))

    @OVER
    @rule(ev=st.sampled_from(LATE_EVENTS))
    def late_event(self, ev: Ev) -> None:
        self.fire(ev)

    @OVER
    @rule(delay=st.none() | st.sampled_from([3.0, 8.0]))
    def next_join(self, delay: float | None) -> None:
        self.new_join()
        self.fire(Ev("send", deadline=self.deadline(delay)))

    @invariant()
    def at_most_one_terminal_outcome(self) -> None:
        if self.first_outcome is None:
            self.first_outcome = self.model.outcome
        first, now = self.first_outcome, self.model.outcome
        if first is not None and first.status is None and now is not None and now.status is not None:
            # an outcome seen in a final state alone (a GET, an updated) takes the status and reason of a later
            # completed that agrees with it: the same success, and no reason code given before
            assert now.success == first.success
            assert first.reason is None or first.reason.code is None
            self.first_outcome = now
        assert self.model.outcome == self.first_outcome
        # an outcome exactly once the join is over (connected counts)
        over = self.model.state in (S.CANCEL_CROSSED, S.CONNECTED, S.HANGING_UP) or self.model.is_terminal
        assert (self.model.outcome is not None) == over

    @invariant()
    def failed_outcome_has_its_reason(self) -> None:
        outcome = self.model.outcome
        if outcome is not None and not outcome.success:
            assert outcome.reason is not None

    @invariant()
    def nothing_leaves_a_terminal_state(self) -> None:
        if self.ended_in is not None:
            assert self.model.state is self.ended_in
        elif self.model.is_terminal:
            self.ended_in = self.model.state

    @invariant()
    def stage_matches_state_while_joining(self) -> None:
        if self.model.state.value in STAGES:
            assert self.model.stage is self.model.state
        assert self.model.stage.value == self.ref.stage

    @invariant()
    def snapshot_round_trips(self) -> None:
        assert loads(dumps(self.model)) == self.model


TestOnlineMeetingMachine = OnlineMeetingMachine.TestCase
# The cancel race and the lobby timeout need several specific steps in a row.
TestOnlineMeetingMachine.settings = settings(
    settings.default, max_examples=max(200, settings.default.max_examples), stateful_step_count=40
)
