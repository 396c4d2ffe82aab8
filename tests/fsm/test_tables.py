"""Every (state, trigger) pair of every machine, at the engine level.

Legal pairs land where the table says; illegal pairs raise the typed error and
leave the state unchanged. The invitation's every pair is also checked against
a table written out by hand below, from the rules of docs/protocol.md §1 and
fsm/invitation.py's theory of operation, never read from the table under test.
Terminal states are checked both ways from hand-written lists. Also: the
import-time validation refuses broken tables.
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


def _completed(
    state: enum.Enum, success: enum.Enum, ends: dict[Completion, enum.Enum], trigger: str = "completed"
) -> Expected:
    """``completed`` (or ``updated``, whose branch is its embedded state) from ``state``; UNDETERMINED stays."""
    branches: dict[Any, tuple[enum.Enum, bool]] = {c: (dest, False) for c, dest in ends.items()}
    return {
        (state, _trigger(state, trigger)): {
            **branches,
            C.CONNECTED: (success, False),
            C.UNDETERMINED: (state, False),
        }
    }


def _trigger(state: enum.Enum, name: str) -> enum.Enum:
    return (IT if isinstance(state, InvitationState) else OT)(name)


INVITATION_ENDS = {C.DECLINED: IS.DECLINED, C.CANCELLED: IS.CANCELLED, C.FAILED: IS.FAILED}
INVITATION_RACE: Expected = {
    # the cancel in flight: its 204 is kept, a Success waits for it; an updated to a final state is an end too
    **_stay(IS.CANCELLING, (IT.CREATED, IT.STARTED), absorb=False),
    **_completed(IS.CANCELLING, IS.CANCEL_CROSSED, INVITATION_ENDS, "updated"),
    (IS.CANCELLING, IT.REQUEST_SUCCEEDED): {None: (IS.CANCEL_ANSWERED, False)},
    (IS.CANCELLING, IT.REQUEST_FAILED): {p: (p, False) for p in INVITATION_PROGRESS},
    **_completed(IS.CANCELLING, IS.CANCEL_CROSSED, INVITATION_ENDS),
    # the 204 came: nothing in flight, a Success hangs up at once; no response is due
    **_stay(IS.CANCEL_ANSWERED, (IT.CREATED, IT.STARTED), absorb=False),
    **_completed(IS.CANCEL_ANSWERED, IS.HANGING_UP, INVITATION_ENDS, "updated"),
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
#: Events a cancel in flight takes in without moving: all but the OMI's updated, whose final state is an end.
MEETING_WAITS = tuple(t for t in MEETING_EVENTS if t is not OT.UPDATED)
MEETING_RACE: Expected = {
    **_stay(OS.CANCELLING, MEETING_WAITS, absorb=False),
    **_completed(OS.CANCELLING, OS.CANCEL_CROSSED, MEETING_ENDS, "updated"),
    (OS.CANCELLING, OT.REQUEST_SUCCEEDED): {None: (OS.CANCEL_ANSWERED, False)},
    (OS.CANCELLING, OT.REQUEST_FAILED): {stage: (stage, False) for stage in MEETING_STAGES},
    **_completed(OS.CANCELLING, OS.CANCEL_CROSSED, MEETING_ENDS),
    **_stay(OS.CANCEL_ANSWERED, MEETING_WAITS, absorb=False),
    **_completed(OS.CANCEL_ANSWERED, OS.HANGING_UP, MEETING_ENDS, "updated"),
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


# -- the invitation, every (state, trigger) pair, written out by hand -------------------------------
#
# From the rules, not from fsm/invitation.py's table:
# - progress events (started, updated) move between the four wire progress states as the embedded state
#   says (branch: the progress state); updated to a final state (branch: the Completion) ends the
#   invitation, since the current UCWA docs list no completed for most invitations (docs/protocol.md §2.3);
# - completed ends it from every state before the end, even idle; with neither status nor final state
#   (UNDETERMINED) it stays and asks for a GET;
# - links gate local actions, which are taken only while ringing; UCWA audio/video accepts only through
#   acceptWithAnswer / acceptWithPhoneAudio (§1.4), each its own trigger; sendProvisionalAnswer (early
#   media) does not accept, but it is a request in flight (answering_early);
# - a request in flight (accepting, declining, forwarding, cancelling, answering_early) waits: its 204 says
#   nothing (the cancel's is kept: cancel_answered; the early answer's returns to ringing), a refusal returns
#   to the progress state; only an end moves it otherwise. A ringing invitation takes no response;
# - the cancel race as in INVITATION_RACE; Connected can still hang up (cancel); ended states absorb.

IS_PROGRESS_BRANCHES: dict[Any, tuple[enum.Enum, bool]] = {
    IS.CONNECTING: (IS.CONNECTING, False),
    IS.ALERTING: (IS.ALERTING, False),
    IS.TEAM_RING: (IS.TEAM_RING, False),
    IS.FORWARDED: (IS.FORWARDED, False),
}
IS_FINAL_BRANCHES: dict[Any, tuple[enum.Enum, bool]] = {
    C.CONNECTED: (IS.CONNECTED, False),
    C.DECLINED: (IS.DECLINED, False),
    C.CANCELLED: (IS.CANCELLED, False),
    C.FAILED: (IS.FAILED, False),
}


def _ends_from(state: InvitationState, *, success: InvitationState = IS.CONNECTED) -> dict[Any, tuple[Any, bool]]:
    """An end from ``state``: the four finals (Success to ``success``), UNDETERMINED staying put."""
    return {**IS_FINAL_BRANCHES, C.CONNECTED: (success, False), C.UNDETERMINED: (state, False)}


def _one(dest: InvitationState, absorb: bool = False) -> dict[Any, tuple[Any, bool]]:
    return {None: (dest, absorb)}


def _before_the_end(state: InvitationState) -> Expected:
    """idle, sending and the four ringing states: progress, and the end by updated or completed."""
    return {
        (state, IT.STARTED): dict(IS_PROGRESS_BRANCHES),
        (state, IT.UPDATED): {**IS_PROGRESS_BRANCHES, **IS_FINAL_BRANCHES},
        (state, IT.COMPLETED): _ends_from(state),
    }


def _ringing(p: InvitationState) -> Expected:
    return {
        **_before_the_end(p),
        (p, IT.CREATED): _one(p),
        (p, IT.ACCEPT): _one(IS.ACCEPTING),
        (p, IT.ACCEPT_WITH_ANSWER): _one(IS.ACCEPTING),
        (p, IT.ACCEPT_WITH_PHONE_AUDIO): _one(IS.ACCEPTING),
        (p, IT.ACCEPT_AND_BRIDGE): _one(IS.ACCEPTING),
        (p, IT.DECLINE): _one(IS.DECLINING),
        (p, IT.FORWARD): _one(IS.FORWARDING),
        (p, IT.CANCEL): _one(IS.CANCELLING),
        (p, IT.SEND_PROVISIONAL_ANSWER): _one(IS.ANSWERING_EARLY),
    }


def _pending(x: InvitationState) -> Expected:
    success = IS.CANCEL_CROSSED if x is IS.CANCELLING else IS.CONNECTED
    return {
        (x, IT.CREATED): _one(x),
        (x, IT.STARTED): _one(x),
        (x, IT.UPDATED): _ends_from(x, success=success),
        (x, IT.COMPLETED): _ends_from(x, success=success),
        (x, IT.REQUEST_SUCCEEDED): (
            dict(IS_PROGRESS_BRANCHES)
            if x is IS.ANSWERING_EARLY
            else _one(IS.CANCEL_ANSWERED if x is IS.CANCELLING else x)
        ),
        (x, IT.REQUEST_FAILED): dict(IS_PROGRESS_BRANCHES),
    }


def _absorbing(state: InvitationState, *, responses: bool) -> Expected:
    channel = (IT.CREATED, IT.STARTED, IT.UPDATED, IT.COMPLETED)
    triggers = (*channel, IT.REQUEST_SUCCEEDED, IT.REQUEST_FAILED) if responses else channel
    return {(state, t): _one(state, absorb=True) for t in triggers}


INVITATION_EVERY_PAIR: Expected = {
    (IS.IDLE, IT.SEND): _one(IS.SENDING),
    **_before_the_end(IS.IDLE),
    (IS.SENDING, IT.CREATED): _one(IS.CONNECTING),
    (IS.SENDING, IT.REQUEST_FAILED): _one(IS.FAILED),
    **_before_the_end(IS.SENDING),
    **_ringing(IS.CONNECTING),
    **_ringing(IS.ALERTING),
    **_ringing(IS.TEAM_RING),
    **_ringing(IS.FORWARDED),
    **_pending(IS.ACCEPTING),
    **_pending(IS.DECLINING),
    **_pending(IS.FORWARDING),
    **_pending(IS.CANCELLING),
    **_pending(IS.ANSWERING_EARLY),
    (IS.CANCEL_ANSWERED, IT.CREATED): _one(IS.CANCEL_ANSWERED),
    (IS.CANCEL_ANSWERED, IT.STARTED): _one(IS.CANCEL_ANSWERED),
    (IS.CANCEL_ANSWERED, IT.UPDATED): _ends_from(IS.CANCEL_ANSWERED, success=IS.HANGING_UP),
    (IS.CANCEL_ANSWERED, IT.COMPLETED): _ends_from(IS.CANCEL_ANSWERED, success=IS.HANGING_UP),
    **_absorbing(IS.CANCEL_CROSSED, responses=False),
    (IS.CANCEL_CROSSED, IT.REQUEST_SUCCEEDED): _one(IS.HANGING_UP),
    (IS.CANCEL_CROSSED, IT.REQUEST_FAILED): _one(IS.HANGING_UP),
    **_absorbing(IS.CONNECTED, responses=True),
    (IS.CONNECTED, IT.CANCEL): _one(IS.HANGING_UP),
    **_absorbing(IS.HANGING_UP, responses=False),
    (IS.HANGING_UP, IT.REQUEST_SUCCEEDED): _one(IS.HUNG_UP),
    (IS.HANGING_UP, IT.REQUEST_FAILED): _one(IS.CONNECTED),
    **_absorbing(IS.HUNG_UP, responses=True),
    **_absorbing(IS.DECLINED, responses=True),
    **_absorbing(IS.CANCELLED, responses=True),
    **_absorbing(IS.FAILED, responses=True),
}


@pytest.mark.parametrize(
    ("state", "trigger"),
    list(itertools.product(InvitationState, InvitationTrigger)),
    ids=lambda v: getattr(v, "value", v),
)
def test_invitation_every_pair_against_the_hand_written_table(
    state: InvitationState, trigger: InvitationTrigger
) -> None:
    """Each (state, trigger) has exactly the branches, destinations and absorption written above; a pair not
    listed is illegal: it raises the typed error and the model is left where it was."""
    definition = MACHINES["invitation"]
    expected = INVITATION_EVERY_PAIR.get((state, trigger), {})
    got = {row.when: (row.dest, row.absorb) for row in definition.rows(state, trigger)}
    assert got == expected
    for branch, (dest, _) in expected.items():
        model = Bare(state)
        definition.fire(model, definition.select(state, trigger, branch))
        assert model.state is dest
    if not expected:
        with pytest.raises(InvalidTrigger):
            definition.select(state, trigger, None)


def test_the_hand_written_invitation_table_names_every_state_and_trigger() -> None:
    # a state or trigger the hand table forgot would pass the pair test above only as "illegal everywhere"
    assert {s for s, _ in INVITATION_EVERY_PAIR} == set(InvitationState)
    assert {t for _, t in INVITATION_EVERY_PAIR} == set(InvitationTrigger)


# -- terminal states, both ways, from hand-written lists ---------------------------------------------

TERMINAL: dict[str, set[Any]] = {
    "invitation": {IS.HUNG_UP, IS.DECLINED, IS.CANCELLED, IS.FAILED},
    "online_meeting": {OS.HUNG_UP, OS.CANCELLED, OS.FAILED},
}
NOT_TERMINAL: dict[str, set[Any]] = {
    "invitation": {
        IS.IDLE,
        IS.SENDING,
        IS.CONNECTING,
        IS.ALERTING,
        IS.TEAM_RING,
        IS.FORWARDED,
        IS.ACCEPTING,
        IS.DECLINING,
        IS.FORWARDING,
        IS.CANCELLING,
        IS.ANSWERING_EARLY,
        IS.CANCEL_ANSWERED,
        IS.CANCEL_CROSSED,
        # success, but not a dead end: cancel hangs up the modality
        IS.CONNECTED,
        IS.HANGING_UP,
    },
    "online_meeting": {
        OS.IDLE,
        OS.SENDING,
        OS.CONNECTING,
        OS.IN_LOBBY,
        OS.ADMITTED,
        OS.CANCELLING,
        OS.CANCEL_ANSWERED,
        OS.CANCEL_CROSSED,
        OS.CONNECTED,
        OS.HANGING_UP,
    },
}


@pytest.mark.parametrize("name", sorted(TERMINAL))
def test_terminal_states_both_ways(name: str) -> None:
    definition = MACHINES[name]
    assert TERMINAL[name] | NOT_TERMINAL[name] == set(definition.states)
    assert set(definition.terminal) == TERMINAL[name]
    for state in TERMINAL[name]:
        assert all(row.dest is state for row in definition.table if row.source is state), state
        assert definition.reachable_from(state) == {state}
    for state in NOT_TERMINAL[name]:
        assert any(row.dest is not state for row in definition.table if row.source is state), state
        # a way out, and from there eventually an end: no state traps a live call forever
        assert definition.reachable_from(state) & TERMINAL[name], state


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
