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
