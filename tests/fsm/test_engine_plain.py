"""The engine's plain path (a row without callbacks runs transitions' ``_change_state`` only) and its
silent path (a row whose state change would call nothing: the assignment alone) end where transitions'
own full path ends, for every row of every machine, and are not taken when a callback exists.

The reference is transitions itself: ``MachineDefinition.fire`` triggers the row through
``Event.trigger`` (search, conditions, callbacks, logging, state change), not the table.
"""

from __future__ import annotations

from enum import Enum
from types import SimpleNamespace
from typing import Any

import pytest
from transitions import Machine

from fsm.engine import _branch_condition, _mode, _plain
from fsm.registry import MACHINES


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_every_row_ends_where_transitions_own_trigger_ends(name: str) -> None:
    definition = MACHINES[name]
    for row in definition.table:
        plain, full = SimpleNamespace(state=row.source), SimpleNamespace(state=row.source)
        definition.advance(plain, row.source, row.trigger, row.when)
        definition.fire(full, row)
        assert plain.state is full.state, row


class Branch(Enum):
    X = "x"


def small_machine(**hooks: Any) -> Machine:
    machine = Machine(model=None, states=["a", "b"], initial="a", auto_transitions=False, send_event=True, **hooks)
    machine.add_transition("go", "a", "b", conditions=[_branch_condition(Branch.X)])
    return machine


def test_a_row_with_callbacks_or_a_machine_with_hooks_is_not_plain() -> None:
    def transition_of(machine: Machine) -> object:
        return machine.events["go"].transitions["a"][-1]

    machine = small_machine()
    assert _plain(machine, transition_of(machine))
    machine.events["go"].transitions["a"][-1].before.append(lambda event: None)
    assert not _plain(machine, transition_of(machine))
    hooked = small_machine(before_state_change=[lambda event: None])
    assert not _plain(hooked, transition_of(hooked))
    foreign = Machine(model=None, states=["a", "b"], initial="a", auto_transitions=False, send_event=True)
    foreign.add_transition("go", "a", "b", conditions=[lambda event: True])
    assert not _plain(foreign, transition_of(foreign))


def test_a_state_change_with_a_callback_is_not_silent() -> None:
    """Silent means transitions' ``_change_state`` would call nothing: any enter, exit or final callback
    on the way makes the row merely plain, and a foreign condition makes it run ``execute``."""

    def transition_of(machine: Machine) -> Any:
        return machine.events["go"].transitions["a"][-1]

    assert _mode(small_machine(), transition_of(small_machine())) == "silent"
    entered = small_machine()
    entered.get_state("b").on_enter.append(lambda event: None)
    assert _mode(entered, transition_of(entered)) == "plain"
    left = small_machine()
    left.get_state("a").on_exit.append(lambda event: None)
    assert _mode(left, transition_of(left)) == "plain"
    final = Machine(
        model=None,
        states=["a", "b"],
        initial="a",
        auto_transitions=False,
        send_event=True,
        on_final=[lambda event: None],
    )
    final.get_state("b").final = True
    final.add_transition("go", "a", "b", conditions=[_branch_condition(Branch.X)])
    assert _mode(final, transition_of(final)) == "plain"
    elsewhere = Machine(
        model=None, states=["a", "b"], initial="a", auto_transitions=False, send_event=True, model_attribute="status"
    )
    elsewhere.add_transition("go", "a", "b", conditions=[_branch_condition(Branch.X)])
    assert _mode(elsewhere, transition_of(elsewhere)) == "plain"
    hooked = small_machine(before_state_change=[lambda event: None])
    assert _mode(hooked, transition_of(hooked)) == "execute"
