"""DOT: every state is a node, every row is drawn, no arrow claims a row the table does not have.

Every non-absorbed row (source, trigger, dest) of every machine must be on an
arrow that leaves the source (or a box holding it) and reaches the dest (or a
box holding it), or listed as a move that stays in the state or in a box
holding both ends. Local triggers must be on solid arrows, remote ones on
dashed arrows.
"""

from __future__ import annotations

from typing import Any

import pytest
from diagram_reading import VIEW_CASES, _attrs, _dot_arrows, _lines, _triggers, _view, drawn_rows, parse_dot

from adapters import diagrams
from fsm import MACHINES
from fsm.engine import Transition


@pytest.mark.parametrize("name", list(MACHINES))
def test_dot_nodes_are_the_states_and_every_row_is_drawn(name: str) -> None:
    definition = MACHINES[name]
    dot = parse_dot(diagrams.to_dot(definition))
    assert {n for n in dot.clusters if not n.startswith("__")} == {s.name for s in definition.states}
    assert drawn_rows(definition, dot) == {row for row in definition.table if not row.absorb}


@pytest.mark.parametrize("name", [n for n, d in MACHINES.items() if len(diagrams.views(d)) > 1])
def test_the_parts_of_a_split_machine_draw_every_row_between_them(name: str) -> None:
    definition = MACHINES[name]
    parts = diagrams.views(definition)[1:]
    drawn: set[Transition[Any, Any]] = set()
    for view in parts:
        drawn |= drawn_rows(definition, parse_dot(diagrams.to_dot(definition, view=view)))
    assert drawn == {row for row in definition.table if not row.absorb}


@pytest.mark.parametrize(("name", "view_name"), VIEW_CASES)
def test_dot_arrows_claim_nothing_the_table_does_not_say(name: str, view_name: str) -> None:
    # Legend: an arrow from a box leaves every state in it; an arrow to a box
    # reaches one of its states. So each tail state has the trigger to some head
    # state, and each head state is reached from some tail state.
    definition = MACHINES[name]
    rows = {(r.source.name, r.trigger.value, r.dest.name) for r in definition.table if not r.absorb}
    states = {s.name for s in definition.states}
    dot = parse_dot(diagrams.to_dot(definition, view=_view(name, view_name)))
    for tail_nodes, head_nodes, attrs in _dot_arrows(dot):
        tails, heads = tail_nodes & states, head_nodes & states
        assert tails
        assert heads
        for line in _lines(attrs["label"]):
            for trigger in _triggers(line):
                for tail in tails:
                    assert any((tail, trigger, h) in rows for h in heads), (tail, trigger, heads)
                for head in heads:
                    assert any((t, trigger, head) in rows for t in tails), (tails, trigger, head)


@pytest.mark.parametrize(("name", "view_name"), VIEW_CASES)
def test_every_guard_is_whole(name: str, view_name: str) -> None:
    # A guard used to be cut to its first words and "…" when rows shared an
    # arrow ("[state …]"). Each row's guard must now be readable on its line:
    # its own words all there (merged guards keep every one's rest).
    definition = MACHINES[name]
    view = _view(name, view_name)
    dot_source = diagrams.to_dot(definition, view=view)
    mermaid = diagrams.to_mermaid(definition, view=view)
    assert "…" not in dot_source
    assert "…" not in mermaid
    dot = parse_dot(dot_source)
    labels = [line for _t, _h, attrs in _dot_arrows(dot) for line in _lines(attrs["label"])]
    labels += [line for attrs in dot.node_attrs.values() for line in _lines(_attrs(attrs).get("label", ""))]
    for row in drawn_rows(definition, dot):
        guard = row.note or (row.when.value if row.when is not None else "")
        if not guard:
            continue
        lines = [line for line in labels if row.trigger.value in _triggers(line)]
        words = [w.strip("[]:;,()") for w in guard.split()]
        assert any(all(w in line for w in words) for line in lines), (row, lines)


@pytest.mark.parametrize("name", list(MACHINES))
def test_dot_marks_terminal_states_the_initial_state_and_absorption(name: str) -> None:
    definition = MACHINES[name]
    source = diagrams.to_dot(definition)
    dot = parse_dot(source)
    for state in definition.states:
        double = "peripheries=2" in dot.node_attrs[state.name]
        assert double == (state in definition.terminal), state
    assert ("__start", definition.initial.name) in {(t, h) for t, h, _ in dot.edges}
    absorbs = any(row.absorb for row in definition.table)
    assert ("absorb late events" in source) == absorbs
