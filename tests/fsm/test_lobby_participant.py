"""The lobby participant (the leader's side of the lobby).

Expected values come from docs/protocol.md §3 (leader-side view: ``added``
with ``in: lobby`` then ``updated``; ``deleted`` from the lobby on admit or
leave [C], on reject [I]; an admitted participant is then ``added`` to the
roster; ``admit`` / ``reject`` are body-less POSTs whose links exist only when
the user may act; errors 500/409/410) and from :class:`Ref`, a reference model
in plain strings and dicts that does not read fsm/lobby_participant.py's table.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from fsm.actions import Actions, PostLink
from fsm.errors import InvalidTrigger, LinkMissing
from fsm.lobby_participant import (
    LOBBY_PARTICIPANT,
    LobbyParticipant,
    LobbyParticipantState,
    LobbyParticipantTrigger,
)
from fsm.reasons import Reason
from fsm.snapshot import dumps, loads, restore, snapshot
from fsm.wire import Link, Representation

S = LobbyParticipantState

LOBBY_HREF = "/ucwa/v1/applications/1/communication/conversations/137/participants/196"
ROSTER_HREF = "/ucwa/v1/applications/1/communication/conversations/137/participants/196r"
ADMIT = Link("ms:rtc:saas:admit", f"{LOBBY_HREF}/admit")
REJECT = Link("reject", f"{LOBBY_HREF}/reject")  # UCWA spelling: rels are compared without the prefix
LINKS = {"admit": ADMIT, "reject": REJECT}
#: The synchronous errors admit and reject may answer (docs/protocol.md §3).
SYNC_ERRORS = [
    Reason("ServiceFailure", "CallbackChannelError"),
    Reason("Conflict", "AlreadyExists"),
    Reason("Conflict", "TooManyGroups"),
    Reason("Conflict", "None"),
    Reason("Gone", "CannotRedirect"),
]

# -- the reference -------------------------------------------------------------

ENDED = {"admitted", "rejected", "left_lobby"}
REFUSED, NO_LINK = "refused", "no link"
ERRORS = {REFUSED: InvalidTrigger, NO_LINK: LinkMissing}
#: (state, remote event) -> next state, for the states where something happens;
#: pending POSTs wait for the lobby or roster event, a 204 alone settles nothing.
MOVES: dict[tuple[str, str], str] = {
    ("idle", "added"): "waiting",
    ("idle", "updated"): "waiting",
    ("waiting", "added"): "waiting",
    ("waiting", "updated"): "waiting",
    ("waiting", "deleted"): "left_lobby",
    ("waiting", "roster_added"): "admitted",
    ("admitting", "added"): "admitting",
    ("admitting", "updated"): "admitting",
    ("admitting", "deleted"): "admitted",
    ("admitting", "roster_added"): "admitted",
    ("admitting", "request_succeeded"): "admitting",
    ("admitting", "request_failed"): "waiting",
    ("rejecting", "added"): "rejecting",
    ("rejecting", "updated"): "rejecting",
    ("rejecting", "deleted"): "rejected",
    ("rejecting", "roster_added"): "admitted",  # another leader admitted first
    ("rejecting", "request_succeeded"): "rejecting",
    ("rejecting", "request_failed"): "waiting",
}


@dataclass
class Ev:
    trigger: str
    links: frozenset[str] | None = None  # rels of the participant representation; None: none given
    reason: Reason | None = None
    name: str | None = None

    def kwargs(self) -> dict[str, Any]:
        rep = None if self.links is None else Representation(links=[LINKS[r] for r in sorted(self.links)])
        return {
            "added": {"href": LOBBY_HREF, "representation": rep, "display_name": self.name},
            "updated": {"href": LOBBY_HREF, "representation": rep, "display_name": self.name},
            "roster_added": {"href": ROSTER_HREF},
            "request_failed": {"reason": self.reason},
        }.get(self.trigger, {})


@dataclass
class Ref:
    state: str = "idle"
    links: frozenset[str] = frozenset()
    last_failure: Reason | None = None
    name: str | None = None
    post: str | None = None  # the href the last call should have POSTed

    def step(self, ev: Ev) -> str:
        self.post = None
        if ev.trigger in ("admit", "reject"):
            if self.state != "waiting":
                return REFUSED
            if ev.trigger not in self.links:
                return NO_LINK
            self.post = LINKS[ev.trigger].href
            self.state = "admitting" if ev.trigger == "admit" else "rejecting"
            return self.state
        if self.state in ENDED:
            return self.state
        dest = MOVES.get((self.state, ev.trigger))
        if dest is None:
            return REFUSED
        if ev.links is not None:
            self.links = ev.links
        if ev.name is not None:
            self.name = ev.name
        if ev.trigger == "request_failed":
            self.last_failure = ev.reason
        self.state = dest
        return dest


def call(model: LobbyParticipant, ev: Ev, now: float) -> Actions:
    result: Actions = getattr(model, ev.trigger)(now=now, **ev.kwargs())
    return result


def fire(model: LobbyParticipant, ref: Ref, ev: Ev, now: float) -> None:
    before = copy.deepcopy(model)
    expected = ref.step(ev)
    if expected in ERRORS:
        with pytest.raises(InvalidTrigger) as info:
            call(model, ev, now)
        assert type(info.value) is ERRORS[expected]
        assert (info.value.machine, info.value.state) == ("lobby_participant", before.state)
        assert info.value.trigger is LobbyParticipantTrigger(ev.trigger)
        assert model == before
        return
    actions = call(model, ev, now)
    assert model.state.value == expected
    step = model.history[-1]
    assert len(model.history) == len(before.history) + 1
    assert (step.source, step.trigger.value, step.dest.value, step.at) == (before.state, ev.trigger, expected, now)
    if ref.post is None:
        assert actions == ()
    else:
        # an action only for a link the latest representation carried, POSTed as the server wrote it, no body
        link = before.representation.link(ev.trigger)
        assert link is not None
        assert actions == (PostLink(link.rel, ref.post),)
        assert actions[0].body() == {}
    assert model.last_failure == ref.last_failure
    assert model.display_name == ref.name
    assert model.is_terminal == (expected in ENDED)


def drive(path: list[Ev]) -> tuple[LobbyParticipant, Ref]:
    model, ref = LobbyParticipant(), Ref()
    for i, ev in enumerate(path):
        fire(model, ref, ev, float(i))
    return model, ref


# -- every (state, trigger) pair --------------------------------------------------------

BOTH = frozenset({"admit", "reject"})
WAITING = [Ev("added", links=BOTH, name="Bob")]
SETUPS: dict[str, list[Ev]] = {
    "idle": [],
    "waiting": WAITING,
    "waiting, no links (user may not act)": [Ev("added", links=frozenset())],
    "waiting, admit only": [Ev("added"), Ev("updated", links=frozenset({"admit"}))],
    "admitting": [*WAITING, Ev("admit")],
    "rejecting": [*WAITING, Ev("reject")],
    "admitted": [*WAITING, Ev("admit"), Ev("request_succeeded"), Ev("deleted")],
    "rejected": [*WAITING, Ev("reject"), Ev("request_succeeded"), Ev("deleted")],
    "left_lobby": [*WAITING, Ev("deleted")],
}
PROBES = [
    Ev("admit"),
    Ev("reject"),
    Ev("added", links=BOTH, name="Bob Smith"),
    Ev("updated", links=frozenset()),
    Ev("updated"),
    Ev("deleted"),
    Ev("roster_added"),
    Ev("request_succeeded"),
    Ev("request_failed", reason=Reason("Conflict", "AlreadyExists")),
]


@pytest.mark.parametrize(
    ("setup", "probe"),
    list(itertools.product(SETUPS, PROBES)),
    ids=[f"{s}-{p.trigger}-{i}" for s, (i, p) in itertools.product(SETUPS, enumerate(PROBES))],
)
def test_every_state_and_trigger(setup: str, probe: Ev) -> None:
    model, ref = drive(SETUPS[setup])
    fire(model, ref, probe, 10.0)


def test_the_probes_cover_every_state_and_trigger() -> None:
    assert {drive(path)[0].state for path in SETUPS.values()} == set(S)
    assert {LobbyParticipantTrigger(p.trigger) for p in PROBES} == set(LobbyParticipantTrigger)


@pytest.mark.parametrize("setup", list(SETUPS))
def test_table_index_matches_reference_legality(setup: str) -> None:
    model, ref = drive(SETUPS[setup])
    for probe in PROBES:
        verdict = copy.deepcopy(ref).step(probe)
        in_table = LOBBY_PARTICIPANT.allows(model.state, LobbyParticipantTrigger(probe.trigger))
        assert in_table == (verdict != REFUSED), (setup, probe)


# -- documented scenarios ---------------------------------------------------------------


def in_lobby(links: tuple[Link, ...] = (ADMIT, REJECT)) -> LobbyParticipant:
    """``added`` with ``in: lobby`` (docs/protocol.md §2.4 sample), then ``updated`` with the action links."""
    p = LobbyParticipant()
    p.added(now=0.0, href=LOBBY_HREF)
    p.updated(now=0.5, representation=Representation(links=links), display_name="Bob")
    assert p.state is S.WAITING
    return p


def test_leader_admits() -> None:
    p = in_lobby()
    assert p.admit(now=1.0) == (PostLink(ADMIT.rel, ADMIT.href),)
    assert p.state is S.ADMITTING
    p.request_succeeded(now=1.1)  # 204
    assert p.state is S.ADMITTING
    p.deleted(now=1.2)  # deleted from the lobby on admit [C]
    assert p.state is S.ADMITTED
    p.roster_added(now=1.3, href=ROSTER_HREF)  # then added to the roster; already admitted
    assert p.state is S.ADMITTED
    assert p.history[-1].source is S.ADMITTED
    assert p.display_name == "Bob"


def test_roster_add_before_the_lobby_delete_also_admits() -> None:
    p = in_lobby()
    p.admit(now=1.0)
    p.roster_added(now=1.1, href=ROSTER_HREF)
    assert p.state is S.ADMITTED
    assert p.roster_href == ROSTER_HREF
    p.deleted(now=1.2)
    assert p.state is S.ADMITTED


def test_leader_rejects() -> None:
    p = in_lobby()
    assert p.reject(now=1.0) == (PostLink(REJECT.rel, REJECT.href),)
    p.request_succeeded(now=1.1)
    p.deleted(now=1.2)  # on reject the lobby delete is [I]
    assert p.state is S.REJECTED
    assert p.is_terminal


def test_participant_leaves_the_lobby() -> None:
    p = in_lobby()
    p.deleted(now=5.0)
    assert p.state is S.LEFT_LOBBY
    with pytest.raises(InvalidTrigger):
        p.admit(now=6.0)


def test_admitted_by_another_leader() -> None:
    p = in_lobby()
    p.roster_added(now=3.0, href=ROSTER_HREF)
    assert p.state is S.ADMITTED
    p.deleted(now=3.1)  # the lobby delete that goes with it changes nothing
    assert p.state is S.ADMITTED


def test_reject_crossed_by_another_leaders_admit() -> None:
    p = in_lobby()
    p.reject(now=1.0)
    p.roster_added(now=1.1)
    assert p.state is S.ADMITTED


@pytest.mark.parametrize("reason", SYNC_ERRORS, ids=str)
def test_refused_admit_returns_to_waiting_and_may_be_retried(reason: Reason) -> None:
    p = in_lobby()
    p.admit(now=1.0)
    p.request_failed(now=1.1, reason=reason)
    assert p.state is S.WAITING
    assert p.last_failure == reason
    assert p.admit(now=2.0) == (PostLink(ADMIT.rel, ADMIT.href),)


def test_no_admit_link_means_the_user_may_not_act() -> None:
    p = in_lobby(links=())
    before = copy.deepcopy(p)
    with pytest.raises(LinkMissing) as info:
        p.admit(now=1.0)
    assert info.value.rels == ("admit",)
    with pytest.raises(LinkMissing):
        p.reject(now=1.0)
    assert p == before


def test_links_follow_the_latest_representation() -> None:
    p = in_lobby()
    p.updated(now=1.0, representation=Representation(links=[REJECT]))
    with pytest.raises(LinkMissing):
        p.admit(now=2.0)
    assert p.reject(now=2.0) == (PostLink(REJECT.rel, REJECT.href),)


def test_first_heard_of_through_an_update() -> None:
    p = LobbyParticipant()
    p.updated(now=0.0, href=LOBBY_HREF, representation=Representation(links=[ADMIT]))
    assert p.state is S.WAITING
    assert p.href == LOBBY_HREF


def test_late_events_after_the_end_are_recorded_and_change_nothing() -> None:
    p = in_lobby()
    p.deleted(now=1.0)
    p.updated(now=2.0, representation=Representation(links=[ADMIT]), display_name="Someone else")
    p.roster_added(now=3.0)
    p.request_failed(now=4.0, reason=Reason("Conflict", "None"))
    assert p.state is S.LEFT_LOBBY
    assert p.display_name == "Bob"
    assert p.last_failure is None
    assert [step.dest for step in p.history[-3:]] == [S.LEFT_LOBBY] * 3


# -- snapshots ------------------------------------------------------------------------


@pytest.mark.parametrize("setup", list(SETUPS))
def test_snapshot_round_trip(setup: str) -> None:
    model, _ = drive(SETUPS[setup])
    assert loads(dumps(model)) == model
    data = snapshot(model)
    assert data["machine"] == "lobby_participant"
    assert restore(data) == model


# -- stateful ---------------------------------------------------------------------------

LIVE = precondition(lambda self: not self.model.is_terminal)
OVER = precondition(lambda self: self.model.is_terminal)
link_sets = st.none() | st.frozensets(st.sampled_from(["admit", "reject"]))


class LobbyParticipantMachine(RuleBasedStateMachine):
    """Rules named after the triggers; once a participant is settled, late events hit it, then another arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.next_participant()

    def next_participant(self) -> None:
        self.model = LobbyParticipant()
        self.ref = Ref()
        self.ended_in: S | None = None

    def fire(self, ev: Ev) -> None:
        self.now += 1.0
        note(f"{self.model.state.value}: {ev}")
        fire(self.model, self.ref, ev, self.now)

    @initialize(links=link_sets)
    def arrive(self, links: frozenset[str] | None) -> None:
        self.fire(Ev("added", links=links))

    @LIVE
    @rule()
    def admit(self) -> None:
        self.fire(Ev("admit"))

    @LIVE
    @rule()
    def reject(self) -> None:
        self.fire(Ev("reject"))

    @LIVE
    @rule(links=link_sets, name=st.none() | st.sampled_from(["Bob", "Eve"]))
    def added(self, links: frozenset[str] | None, name: str | None) -> None:
        self.fire(Ev("added", links=links, name=name))

    @LIVE
    @rule(links=link_sets, name=st.none() | st.sampled_from(["Bob", "Eve"]))
    def updated(self, links: frozenset[str] | None, name: str | None) -> None:
        self.fire(Ev("updated", links=links, name=name))

    @LIVE
    @rule()
    def deleted(self) -> None:
        self.fire(Ev("deleted"))

    @LIVE
    @rule()
    def roster_added(self) -> None:
        self.fire(Ev("roster_added"))

    @LIVE
    @rule()
    def request_succeeded(self) -> None:
        self.fire(Ev("request_succeeded"))

    @LIVE
    @rule(reason=st.sampled_from(SYNC_ERRORS))
    def request_failed(self, reason: Reason) -> None:
        self.fire(Ev("request_failed", reason=reason))

    @OVER
    @rule(trigger=st.sampled_from(sorted({t for _, t in MOVES})))
    def late_event(self, trigger: str) -> None:
        self.fire(Ev(trigger, links=frozenset({"admit"}), reason=Reason("Conflict", "None"), name="Late"))

    @OVER
    @rule(links=link_sets)
    def next_in_lobby(self, links: frozenset[str] | None) -> None:
        self.next_participant()
        self.fire(Ev("added", links=links))

    @invariant()
    def at_most_one_terminal_outcome(self) -> None:
        """Nothing leaves a terminal state: the first outcome is the only one."""
        if self.ended_in is not None:
            assert self.model.state is self.ended_in
        elif self.model.is_terminal:
            self.ended_in = self.model.state

    @invariant()
    def a_refused_request_keeps_its_reason(self) -> None:
        failures = [s for s in self.model.history if s.trigger is LobbyParticipantTrigger.REQUEST_FAILED]
        applied = [s for s in failures if s.source in (S.ADMITTING, S.REJECTING)]
        if applied:
            assert self.model.last_failure is not None
            assert applied[-1].reason == str(self.model.last_failure)
        else:
            assert self.model.last_failure is None

    @invariant()
    def snapshot_round_trips(self) -> None:
        assert loads(dumps(self.model)) == self.model


TestLobbyParticipantMachine = LobbyParticipantMachine.TestCase
TestLobbyParticipantMachine.settings = settings(
    settings.default, max_examples=max(150, settings.default.max_examples), stateful_step_count=30
)
