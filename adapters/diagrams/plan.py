"""The plan of a diagram, which both DOT and Mermaid draw: which states share a box, and the arrows and stays left.

The rules are the theory of operation in :mod:`adapters.diagrams`; one plan, so the two formats cannot disagree.
:func:`plan` finds the boxes (alike states, unsuccessful ends, stubs) and runs the reductions of
:mod:`.merging` in order. What a plan is made of is in :mod:`.shapes`, the parts of a dense machine in
:mod:`.views`, a live model's path in :mod:`.live` and the look in :mod:`.style`; their public names
are re-exported here, where they were first defined.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any

from attrs import frozen

from adapters.diagrams.live import LiveModel
from adapters.diagrams.merging import _merge_heads, _merge_stay_guards, _merge_tails, _superstates
from adapters.diagrams.shapes import Arc, Endpoint, Group, Stay, _Atom, _key, _nested, _states
from adapters.diagrams.style import (
    ABSORB_NOTE,
    FAILED_TITLE,
    FORMATS,
    LABEL_WIDTH,
    LOCAL_MARK,
    PICTURE_FORMATS,
    RANKDIR,
    STAY_WIDTH,
    TITLE_WIDTH,
    WITHIN_TITLE,
)
from adapters.diagrams.views import FULL, View, drawn_in, full_view, view_named, views
from fsm.engine import MachineDefinition, Transition

__all__ = [
    "ABSORB_NOTE",
    "FAILED_TITLE",
    "FORMATS",
    "FULL",
    "LABEL_WIDTH",
    "LOCAL_MARK",
    "PICTURE_FORMATS",
    "RANKDIR",
    "STAY_WIDTH",
    "SUCCESS_WORDS",
    "TITLE_WIDTH",
    "WITHIN_TITLE",
    "Arc",
    "Endpoint",
    "Group",
    "LiveModel",
    "Plan",
    "Stay",
    "View",
    "drawn_in",
    "full_view",
    "is_failure",
    "plan",
    "view_named",
    "views",
]

#: Words that make a terminal state a successful end. The rule, from meaning:
#: an end is successful when what the machine is for happened there (the call
#: or the join connected, and was hung up later; the participant was admitted;
#: the renegotiation was answered or completed; the series ran its course).
#: Every other end is unsuccessful, whoever chose it: declined, cancelled,
#: rejected, dismissed, collided, expired, failed, or gone from the lobby
#: without being admitted. [U] A definition does not say which of its ends
#: succeeded, so the state's name is the hint, and a new end is unsuccessful
#: until its name says otherwise.
SUCCESS_WORDS: tuple[str, ...] = ("admit", "answer", "complet", "connect", "done", "ended", "hung", "succe")


@frozen
class Plan:
    """What :func:`to_dot` and :func:`to_mermaid` draw."""

    definition: MachineDefinition[Any, Any]
    view: View
    #: States drawn because a row leads to them, whose own rows another view draws.
    stubs: frozenset[Enum]
    #: What is drawn at the top level, in enum order of each one's first state.
    top: tuple[Endpoint, ...]
    arcs: tuple[Arc, ...]
    stays: tuple[Stay, ...]
    #: How many table rows are absorbed (recorded, not drawn).
    absorbed: int

    @property
    def groups(self) -> tuple[Group, ...]:
        """Every box, outer ones first."""
        return tuple(_nested([e for e in self.top if isinstance(e, Group)]))

    def stays_of(self, endpoint: Endpoint) -> tuple[tuple[str, bool], ...]:
        """(line, local) for each move that stays in ``endpoint``."""
        return tuple((line, stay.local) for stay in self.stays if stay.where == endpoint for line in stay.lines)


def is_failure(definition: MachineDefinition[Any, Any], state: Enum) -> bool:
    """A terminal state that is an unsuccessful end (see :data:`SUCCESS_WORDS` for the rule)."""
    if state not in definition.terminal:
        return False
    words = f"{state.name} {state.value}".lower()
    return not any(word in words for word in SUCCESS_WORDS)


def _guard(row: Transition[Any, Any]) -> str:
    if row.note:
        return row.note
    if row.when is not None:
        return str(row.when.value)
    return ""


def _alike_blocks(
    definition: MachineDefinition[Any, Any],
    rows: Sequence[Transition[Any, Any]] | None = None,
    among: Iterable[Enum] | None = None,
) -> list[list[Enum]]:
    """The coarsest partition of the non-terminal states (``among`` them) into alike states; blocks of two or more.

    Alike by ``rows`` (by default, the whole table).
    """
    keep = set(_states(definition) if among is None else among)
    states = [state for state in _states(definition) if state in keep]
    block: dict[Enum, int] = {}
    for state in states:
        apart = state in definition.terminal or state is definition.initial
        block[state] = len(block) + 1 if apart else 0
    drawn = [row for row in (definition.table if rows is None else rows) if not row.absorb and row.dest in keep]
    while True:
        ids: dict[tuple[int, frozenset[tuple[Any, ...]]], int] = {}
        refined: dict[Enum, int] = {}
        for state in states:
            signature = frozenset(
                (row.trigger, row.when, row.note, block[row.dest]) for row in drawn if row.source is state
            )
            refined[state] = ids.setdefault((block[state], signature), len(ids))
        # Refinement only splits blocks, so an unchanged count means a fixed point.
        if len(ids) == len(set(block.values())):
            break
        block = refined
    blocks: dict[int, list[Enum]] = {}
    for state in states:
        if state not in definition.terminal and state is not definition.initial:
            blocks.setdefault(block[state], []).append(state)
    return [members for members in blocks.values() if len(members) > 1]


def _label_lines(atoms: Iterable[_Atom]) -> tuple[str, ...]:
    """Triggers sharing a guard go on one line: ``started, updated [state …]``."""
    by_guard: dict[str, list[str]] = {}
    for atom in atoms:
        names = by_guard.setdefault(atom.guard, [])
        if atom.trigger.value not in names:
            names.append(str(atom.trigger.value))
    return tuple(f"{', '.join(names)} [{guard}]" if guard else ", ".join(names) for guard, names in by_guard.items())


def plan(definition: MachineDefinition[Any, Any], view: View | None = None) -> Plan:
    """Reduce the table (the ``view``'s rows, by default all) to boxes and arrows (see the module docstring)."""
    view = view or full_view(definition)
    rows = view.rows(definition)
    # A part shows the states its rows join; the full view shows every state.
    shown = set(view.focus) if view.name == FULL else {row.source for row in rows}
    shown |= {row.dest for row in rows}
    stubs = frozenset(s for s in shown if s not in view.focus and s not in definition.terminal)
    drawn = [s for s in _states(definition) if s in shown and s not in stubs]
    blocks = _alike_blocks(definition, rows, drawn)
    # Stubs have no rows here: they share a box when the same triggers lead to them.
    stub_blocks: dict[frozenset[tuple[Enum, Enum]], list[Enum]] = {}
    for stub in sorted(stubs, key=_states(definition).index):
        into = frozenset((row.source, row.trigger) for row in rows if row.dest is stub)
        stub_blocks.setdefault(into, []).append(stub)
    boxes = [Group(f"alike{n}", tuple(members)) for n, members in enumerate(blocks, start=1)]
    shared = [m for m in stub_blocks.values() if len(m) > 1]
    boxes += [Group(f"stub{n}", tuple(m)) for n, m in enumerate(shared, start=1)]
    failed = tuple(s for s in definition.states if s in shown and is_failure(definition, s))
    if failed:
        boxes.append(Group("failed", failed))
    box_of = {state: box for box in boxes for state in box.children if isinstance(state, Enum)}

    atoms: list[_Atom] = []
    absorbed = 0
    for row in rows:
        if row.absorb:
            absorbed += 1
            continue
        local = row.trigger in definition.local_triggers
        box = box_of.get(row.source)
        if box is not None and not box.failed and box_of.get(row.dest) is box:
            atoms.append(_Atom(box, box, row.trigger, local, _guard(row)))
        else:
            atoms.append(_Atom(row.source, row.dest, row.trigger, local, _guard(row)))
    for box in boxes:
        atoms = _merge_heads(atoms, box)
    for box in boxes:
        if not box.failed:
            atoms = _merge_tails(atoms, box)

    top: list[Endpoint] = [s for s in definition.states if s in shown and s not in box_of]
    top.extend(boxes)
    atoms, top = _superstates(definition, atoms, top)
    supers = [g for g in _nested([e for e in top if isinstance(e, Group)]) if g.key.startswith("super")]
    # Innermost first: an arrow to all of an inner box, then perhaps to all of the outer one.
    for box in reversed(supers):
        atoms = _merge_heads(atoms, box)
    order = {state: n for n, state in enumerate(_states(definition))}
    top.sort(key=lambda e: order[e.members[0] if isinstance(e, Group) else e])

    arcs: dict[tuple[Any, Any, bool], list[_Atom]] = {}
    stays: dict[tuple[Any, bool], list[_Atom]] = {}
    for atom in _merge_stay_guards(atoms):
        if atom.tail == atom.head:
            stays.setdefault((_key(atom.tail), atom.local), []).append(atom)
        else:
            arcs.setdefault((_key(atom.tail), _key(atom.head), atom.local), []).append(atom)
    return Plan(
        definition=definition,
        view=view,
        stubs=stubs,
        top=tuple(top),
        arcs=tuple(Arc(same[0].tail, same[0].head, same[0].local, _label_lines(same)) for same in arcs.values()),
        stays=tuple(Stay(same[0].tail, same[0].local, _label_lines(same)) for same in stays.values()),
        absorbed=absorbed,
    )
