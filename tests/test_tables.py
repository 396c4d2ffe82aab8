"""Every (state, trigger) pair of every machine, at the engine level.

Legal pairs land where the table says; illegal pairs raise the typed error and
leave the state unchanged. Also: the import-time validation refuses broken tables.
"""

from __future__ import annotations

import enum
import itertools
from typing import Any

import pytest

from fsm import MACHINES, InvalidTrigger
from fsm.engine import MachineDefinition, Transition
from fsm.errors import DefinitionError
from fsm.invitation import InvitationState, InvitationTrigger
from fsm.online_meeting import OnlineMeetingState, OnlineMeetingTrigger
from fsm.outcome import Completion


class Bare:
    """A model with nothing but a state: what the shared engine drives."""

    __slots__ = ("state",)

    def __init__(self, state: enum.Enum) -> None:
        self.state = state


def all_pairs() -> list[tuple[str, Any, Any]]:
    return [
        (name, state, trigger)
        for name, definition in MACHINES.items()
        for state, trigger in itertools.product(definition.states, definition.triggers)
    ]


@pytest.mark.parametrize(("name", "state", "trigger"), all_pairs(), ids=lambda v: getattr(v, "value", v))
def test_every_pair(name: str, state: enum.Enum, trigger: enum.Enum) -> None:
    definition = MACHINES[name]
    rows = definition.rows(state, trigger)
    if not rows:
        model = Bare(state)
        with pytest.raises(InvalidTrigger) as info:
            definition.select(state, trigger, None)
        assert info.value.machine == name
        assert info.value.state is state
        assert info.value.trigger is trigger
        assert state.value in str(info.value)
        assert trigger.value in str(info.value)
        assert model.state is state
        return
    for row in rows:
        model = Bare(state)
        chosen = definition.select(state, trigger, row.when)
        assert chosen is row
        definition.fire(model, chosen)
        assert model.state is row.dest


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_guarded_pairs_refuse_unknown_branch(name: str) -> None:
    definition = MACHINES[name]

    class Other(enum.Enum):
        NOPE = "nope"

    for (state, trigger), rows in _guarded(definition):
        with pytest.raises(InvalidTrigger):
            definition.select(state, trigger, Other.NOPE)
        assert rows


def _guarded(definition: MachineDefinition[Any, Any]) -> list[tuple[tuple[Any, Any], tuple[Any, ...]]]:
    out = []
    for state, trigger in itertools.product(definition.states, definition.triggers):
        rows = definition.rows(state, trigger)
        if rows and rows[0].when is not None:
            out.append(((state, trigger), rows))
    return out


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_terminal_states_have_no_way_out(name: str) -> None:
    definition = MACHINES[name]
    for row in definition.table:
        if row.source in definition.terminal:
            assert row.dest is row.source


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_every_state_reachable_and_introspection(name: str) -> None:
    definition = MACHINES[name]
    assert definition.reachable_from(definition.initial) == set(definition.states)
    assert definition.name == name
    assert definition.summary
    assert definition.local_triggers <= set(definition.triggers)
    assert len(definition.transitions) == len(definition.table)


# -- the cancel race, pair by pair -----------------------------------------------------------
#
# Written out by hand from the rule, not read from the tables: the cancel and the hang-up POST the same
# link and a response does not say which request it answers, so the hang-up is only sent once the
# cancel's own response is in. (state, trigger) -> {guard branch: (dest, absorbed)}; a pair not listed
# is illegal. A stay that is not absorbed takes the event in (links, stage); an absorbed one ignores it.

IS, IT, C = InvitationState, InvitationTrigger, Completion
OS, OT = OnlineMeetingState, OnlineMeetingTrigger
Expected = dict[tuple[enum.Enum, enum.Enum], dict[Any, tuple[enum.Enum, bool]]]
INVITATION_PROGRESS = (IS.CONNECTING, IS.ALERTING, IS.TEAM_RING, IS.FORWARDED)
MEETING_STAGES = (OS.CONNECTING, OS.IN_LOBBY, OS.ADMITTED)


def _stay(state: enum.Enum, triggers: tuple[enum.Enum, ...], *, absorb: bool) -> Expected:
    return {(state, t): {None: (state, absorb)} for t in triggers}


def _completed(state: enum.Enum, success: enum.Enum, ends: dict[Completion, enum.Enum]) -> Expected:
    branches: dict[Any, tuple[enum.Enum, bool]] = {c: (dest, False) for c, dest in ends.items()}
    return {
        (state, _trigger(state, "completed")): {
            **branches,
            C.CONNECTED: (success, False),
            C.UNDETERMINED: (state, False),
        }
    }


def _trigger(state: enum.Enum, name: str) -> enum.Enum:
    return (IT if isinstance(state, InvitationState) else OT)(name)


INVITATION_ENDS = {C.DECLINED: IS.DECLINED, C.CANCELLED: IS.CANCELLED, C.FAILED: IS.FAILED}
INVITATION_RACE: Expected = {
    # the cancel in flight: its 204 is kept, a Success waits for it
    **_stay(IS.CANCELLING, (IT.CREATED, IT.STARTED, IT.UPDATED), absorb=False),
    (IS.CANCELLING, IT.REQUEST_SUCCEEDED): {None: (IS.CANCEL_ANSWERED, False)},
    (IS.CANCELLING, IT.REQUEST_FAILED): {p: (p, False) for p in INVITATION_PROGRESS},
    **_completed(IS.CANCELLING, IS.CANCEL_CROSSED, INVITATION_ENDS),
    # the 204 came: nothing in flight, a Success hangs up at once; no response is due
    **_stay(IS.CANCEL_ANSWERED, (IT.CREATED, IT.STARTED, IT.UPDATED), absorb=False),
    **_completed(IS.CANCEL_ANSWERED, IS.HANGING_UP, INVITATION_ENDS),
    # the Success came first: the cancel's response, whatever it is, sends the hang-up
    **_stay(IS.CANCEL_CROSSED, (IT.CREATED, IT.STARTED, IT.UPDATED, IT.COMPLETED), absorb=True),
    (IS.CANCEL_CROSSED, IT.REQUEST_SUCCEEDED): {None: (IS.HANGING_UP, False)},
    (IS.CANCEL_CROSSED, IT.REQUEST_FAILED): {None: (IS.HANGING_UP, False)},
    # the hang-up in flight
    **_stay(IS.HANGING_UP, (IT.CREATED, IT.STARTED, IT.UPDATED, IT.COMPLETED), absorb=True),
    (IS.HANGING_UP, IT.REQUEST_SUCCEEDED): {None: (IS.HUNG_UP, False)},
    (IS.HANGING_UP, IT.REQUEST_FAILED): {None: (IS.CONNECTED, False)},
}

MEETING_EVENTS = (OT.CREATED, OT.STARTED, OT.UPDATED, OT.CONVERSATION_UPDATED, OT.PARTICIPANT_UPDATED, OT.ROSTER_ADDED)
MEETING_ENDS = {C.DECLINED: OS.FAILED, C.CANCELLED: OS.CANCELLED, C.FAILED: OS.FAILED}
MEETING_RACE: Expected = {
    **_stay(OS.CANCELLING, MEETING_EVENTS, absorb=False),
    (OS.CANCELLING, OT.REQUEST_SUCCEEDED): {None: (OS.CANCEL_ANSWERED, False)},
    (OS.CANCELLING, OT.REQUEST_FAILED): {stage: (stage, False) for stage in MEETING_STAGES},
    **_completed(OS.CANCELLING, OS.CANCEL_CROSSED, MEETING_ENDS),
    **_stay(OS.CANCEL_ANSWERED, MEETING_EVENTS, absorb=False),
    **_completed(OS.CANCEL_ANSWERED, OS.HANGING_UP, MEETING_ENDS),
    **_stay(OS.CANCEL_CROSSED, (*MEETING_EVENTS, OT.COMPLETED), absorb=True),
    (OS.CANCEL_CROSSED, OT.REQUEST_SUCCEEDED): {None: (OS.HANGING_UP, False)},
    (OS.CANCEL_CROSSED, OT.REQUEST_FAILED): {None: (OS.HANGING_UP, False)},
    **_stay(OS.HANGING_UP, (*MEETING_EVENTS, OT.COMPLETED), absorb=True),
    (OS.HANGING_UP, OT.REQUEST_SUCCEEDED): {None: (OS.HUNG_UP, False)},
    (OS.HANGING_UP, OT.REQUEST_FAILED): {None: (OS.CONNECTED, False)},
}
RACE = {"invitation": INVITATION_RACE, "online_meeting": MEETING_RACE}


def race_pairs() -> list[tuple[str, Any, Any]]:
    states = {
        "invitation": (IS.CANCELLING, IS.CANCEL_ANSWERED, IS.CANCEL_CROSSED, IS.HANGING_UP),
        "online_meeting": (OS.CANCELLING, OS.CANCEL_ANSWERED, OS.CANCEL_CROSSED, OS.HANGING_UP),
    }
    return [(name, s, t) for name, ss in states.items() for s in ss for t in MACHINES[name].triggers]


@pytest.mark.parametrize(("name", "state", "trigger"), race_pairs(), ids=lambda v: getattr(v, "value", v))
def test_cancel_race_pairs(name: str, state: enum.Enum, trigger: enum.Enum) -> None:
    """Every trigger from the states of the cancel race does what the rule says, and nothing else is legal."""
    definition = MACHINES[name]
    expected = RACE[name].get((state, trigger), {})
    got = {row.when: (row.dest, row.absorb) for row in definition.rows(state, trigger)}
    assert got == expected


def test_the_hang_up_after_the_cancel_is_reachable_only_through_its_response() -> None:
    """No row leaves cancel_crossed for hanging_up but a response to our request (the cancel's)."""
    for name, (crossed, hanging_up) in {
        "invitation": (IS.CANCEL_CROSSED, IS.HANGING_UP),
        "online_meeting": (OS.CANCEL_CROSSED, OS.HANGING_UP),
    }.items():
        definition = MACHINES[name]
        ways = {row.trigger.value for row in definition.table if row.source is crossed and row.dest is hanging_up}
        assert ways == {"request_succeeded", "request_failed"}
        assert crossed not in definition.terminal
        assert {s.value for s in definition.reachable_from(crossed)} >= {hanging_up.value, "hung_up", "Connected"}


class St(enum.Enum):
    A = "a"
    B = "b"
    C = "c"


class Tr(enum.Enum):
    GO = "go"
    STOP = "stop"


class Br(enum.Enum):
    ONE = "one"
    TWO = "two"


def make(table: tuple[Transition[St, Tr], ...], terminal: frozenset[St] = frozenset({St.C})) -> None:
    MachineDefinition(
        name="toy",
        summary="toy",
        states=St,
        triggers=Tr,
        initial=St.A,
        terminal=terminal,
        local_triggers=frozenset(),
        table=table,
    )


def test_validation_accepts_a_good_table() -> None:
    make((Transition(St.A, Tr.GO, St.B), Transition(St.B, Tr.STOP, St.C)))


@pytest.mark.parametrize(
    ("table", "words"),
    [
        # two unguarded rows on one pair: not deterministic
        ((Transition(St.A, Tr.GO, St.B), Transition(St.A, Tr.GO, St.C), Transition(St.B, Tr.STOP, St.C)), "guarded"),
        # the same guard twice: the guards do not exclude each other
        (
            (
                Transition(St.A, Tr.GO, St.B, when=Br.ONE),
                Transition(St.A, Tr.GO, St.C, when=Br.ONE),
                Transition(St.B, Tr.STOP, St.C),
            ),
            "same guard",
        ),
        # C is terminal but has a way out
        ((Transition(St.A, Tr.GO, St.C), Transition(St.C, Tr.STOP, St.B)), "terminal"),
        # B is unreachable
        ((Transition(St.A, Tr.GO, St.C), Transition(St.B, Tr.STOP, St.C)), "unreachable"),
        # STOP is declared but never used
        ((Transition(St.A, Tr.GO, St.B), Transition(St.B, Tr.GO, St.C)), "triggers used by no"),
        # absorb must stay put
        (
            (Transition(St.A, Tr.GO, St.B, absorb=True), Transition(St.A, Tr.STOP, St.C)),
            "absorbs",
        ),
    ],
)
def test_validation_refuses_broken_tables(table: tuple[Transition[St, Tr], ...], words: str) -> None:
    with pytest.raises(DefinitionError, match=words):
        make(table)
