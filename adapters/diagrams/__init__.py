"""Diagrams of the machines: Graphviz DOT, Mermaid, and SVG/PNG pictures.

Theory of operation
-------------------
Everything is read from a :class:`~fsm.engine.MachineDefinition` (its states,
its table, its terminal states and local triggers), never from a machine
module's code, so a machine added to :data:`fsm.MACHINES` is drawn as it is.
The one editorial input is :data:`_SPLITS`: which states of a dense machine
make up each part (:func:`views`), named by the machine's own state enums.

Views. A picture must read at page width (A4 at 100%: at most 1,200 px). A
machine too dense for that is drawn in parts as well as whole (the full view,
kept for reference): the invitation's progress, completion and cancel race
with hang-up, say. A part draws the rows that leave its focus states (those
its filter keeps); a state such a row leads to whose own rows another part
draws is a stub, drawn dashed with that part's name, and stubs reached the
same way share one node. A state no part names goes to the first part, so a
state another engineer adds to a table is always drawn somewhere.

A table drawn row by row is spaghetti (the invitation machine has about 200
rows), so :func:`plan` first reduces it to what a reader needs, the way
statecharts do, and :func:`to_dot` and :func:`to_mermaid` both draw that plan:

1. Absorbed rows (``absorb=True``) are not drawn; the legend says that ended
   states absorb late events.
2. States that behave alike share a box: two non-terminal states are alike
   when they have the same drawn rows (trigger, guard, note) to alike states
   (the coarsest such partition, found by refinement; the initial state stays
   apart). The invitation's four ringing states are one box, three of its four
   pending states another.
3. Terminal states that are unsuccessful ends share a box titled
   "unsuccessful ends" (:func:`is_failure`; the rule is at
   :data:`SUCCESS_WORDS`).
4. A trigger that takes one state to EVERY state of a box, depending on its
   payload (``completed`` to Declined, Cancelled or Failed), is one arrow to
   the box, its guards merged, each whole: their common words once, then each
   one's rest (``Failure: Declined | Canceled | other reason``). A trigger that EVERY state of a
   box fires to the same place with the same guard is one arrow from the box.
5. Moves that stay where they are (a state to itself, or between the states of
   one box) are not arrows: they are listed under the state's name, or in the
   box's title, like the internal transitions of a UML state.
6. When three or more states or boxes share an arrow or a stay (same trigger,
   guard and destination), an outer box is drawn around them and the arrow
   leaves from it once (a statechart superstate); inside it, a smaller set
   that shares more gets a box of its own (three levels at most).
7. What is left is collapsed per (from, to, local or remote): one arrow, one
   line per guard, triggers that share a guard on the same line.

In DOT an arrow's label is a node of its own on the way (in the innermost box
holding both ends): dot routes arrows around nodes, but not reliably around
other arrows' labels, and a label must never be crossed. Labels are cut into
short lines so that they do not widen the picture; the legend is part of the
title, so it takes no width of its own.

Local triggers (the app calls them) are solid blue arrows, remote ones (from
the wire) dashed; Mermaid cannot style one arrow, so there local triggers
carry a ``▶`` (Graphviz's bundled fonts have no such glyph). Boxes are
clusters in DOT and composite states in Mermaid. Terminal states have a
double border (Mermaid: an arrow to ``[*]``), and the initial state an arrow
from a start point.

A live model (anything with ``.state`` and ``.history`` of
:class:`~fsm.engine.Step`) is drawn on the same plan: its current state
highlighted, the states it went through tinted, and its history as numbered
arrows (DOT) or a numbered note (Mermaid).

Output is deterministic: everything follows enum order or table order, never
the order of a set or a hash, so the same machines give byte-identical DOT
and Mermaid. Pictures need a Graphviz layout engine: the ``dot`` program when
it is on PATH, else the pip-installed ``graphviz-pure`` program (the same bytes
on every platform, fonts bundled), else the ``pygraphviz`` wheel (which bundles
libgvc and the dot layout plugin). With none, :func:`render` raises
:class:`RendererUnavailable`; DOT and Mermaid need none.
"""

from __future__ import annotations

import html
import importlib
import os
import shutil
import subprocess
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import graphviz  # type: ignore[import-untyped]
from attrs import frozen

from fsm.engine import MachineDefinition, Step, Transition
from fsm.invitation import InvitationState
from fsm.online_meeting import OnlineMeetingState
from fsm.registry import MACHINES
from fsm.renegotiation import RenegotiationState

#: Every format, in the order files are written; ``dot`` and ``mmd`` need no renderer.
FORMATS: tuple[str, ...] = ("dot", "mmd", "svg", "png")
#: Formats drawn by a Graphviz layout engine.
PICTURE_FORMATS: tuple[str, ...] = ("svg", "png")

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

LOCAL_MARK = "▶"
WITHIN_TITLE = "within this box:"
ABSORB_NOTE = "ended states absorb late events (recorded, not drawn)"
FAILED_TITLE = "unsuccessful ends"

RANKDIR = "TB"
#: An arrow's label is cut into lines of about this many characters, so it does not widen the picture.
LABEL_WIDTH = 24
TITLE_WIDTH = 90
STAY_WIDTH = 32
_FONT = "Helvetica"
_LOCAL_COLOR = "#1c4f9c"
_REMOTE_COLOR = "#5c5f66"
_PATH_COLOR = "#d9480f"
_CURRENT_FILL = "#ffe066"
_VISITED_FILL = "#ffe8cc"
_FAILED_FILL = "#ffe3e3"
_FAILED_BOX = "#fff5f5"
_FAILED_LINE = "#c92a2a"
_ALIKE_BOX = "#f1f5fb"
_SUPER_BOX = "#fbfbf8"
_TERMINAL_FILL = "#e9ecef"


class LiveModel(Protocol):
    """What a drawing reads from a live model."""

    @property
    def state(self) -> Any: ...

    @property
    def history(self) -> Sequence[Step[Any, Any]]: ...


class RendererUnavailable(Exception):
    """No Graphviz layout engine is installed: SVG and PNG cannot be made."""


# -- the plan: what is drawn ----------------------------------------------------------


@frozen
class Group:
    """A box: alike states, failed outcomes, or a superstate around boxes and states."""

    #: ``alike<n>``, ``failed`` or ``super``.
    key: str
    #: What is drawn directly inside: states, and boxes for a superstate.
    children: tuple[Enum | Group, ...]

    @property
    def failed(self) -> bool:
        return self.key == "failed"

    @property
    def members(self) -> tuple[Enum, ...]:
        """Every state inside, nested boxes included."""
        out: list[Enum] = []
        for child in self.children:
            out.extend(child.members if isinstance(child, Group) else (child,))
        return tuple(out)


Endpoint = Enum | Group


@frozen
class Arc:
    """One arrow; each label line stands for one or more table rows."""

    tail: Endpoint
    head: Endpoint
    local: bool
    lines: tuple[str, ...]


@frozen
class Stay:
    """Moves that stay in a state or a box: listed under its name or in its title."""

    where: Endpoint
    local: bool
    lines: tuple[str, ...]


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


@frozen
class _Atom:
    """One trigger with its guard, from an endpoint to an endpoint (the same one: a stay)."""

    tail: Endpoint
    head: Endpoint
    trigger: Enum
    local: bool
    guard: str


# -- views: a dense machine drawn in parts --------------------------------------------

#: The name of the view that draws every row: kept for reference, in ``<machine>.<fmt>``.
FULL = "full"


@frozen
class View:
    """A part of a machine drawn on its own: the rows that leave ``focus`` states, those selected.

    A state such a row leads to but whose own rows are drawn elsewhere is a
    stub: drawn dashed, with the name of the view that draws it.
    """

    name: str
    title: str
    focus: frozenset[Enum]
    #: Only rows into these states (``None``: into any state) ...
    into: frozenset[Enum] | None = None
    #: ... and never rows into these.
    not_into: frozenset[Enum] = frozenset()
    #: Graphviz's rankdir: ``LR`` when the rows all lead one way, to ends.
    rankdir: str = RANKDIR

    def rows(self, definition: MachineDefinition[Any, Any]) -> tuple[Transition[Any, Any], ...]:
        return tuple(
            row
            for row in definition.table
            if row.source in self.focus
            and (self.into is None or row.dest in self.into)
            and row.dest not in self.not_into
        )


def _moving(definition: MachineDefinition[Any, Any]) -> frozenset[Enum]:
    return frozenset(s for s in definition.states if s not in definition.terminal)


@frozen
class _CancelRace:
    """A call-like machine: progress, completion, and the cancel race with hang-up."""

    race: frozenset[Enum]
    #: Non-terminal states that end the progress: reached by completion, left only through the race.
    settled: frozenset[Enum]

    def parts(self, definition: MachineDefinition[Any, Any]) -> tuple[View, ...]:
        ends = frozenset(definition.terminal) | self.settled
        # Every state not named goes to progress, so a state added to the table is drawn somewhere.
        before = _moving(definition) - self.race - self.settled
        return (
            View("progress", "progress: every move before the outcome", before, not_into=ends),
            View("completion", "completion: how each state before the outcome ends", before, into=ends, rankdir="LR"),
            View("cancel-race", "the cancel race with hang-up", self.race | self.settled),
        )


@frozen
class _TwoSides:
    """A machine with two ways through: ours (every state not named) and theirs."""

    theirs: frozenset[Enum]

    def parts(self, definition: MachineDefinition[Any, Any]) -> tuple[View, ...]:
        return (
            View("ours", "our offer", _moving(definition) - self.theirs),
            View("theirs", "the remote's offer", self.theirs),
        )


_I = InvitationState
_O = OnlineMeetingState
_R = RenegotiationState
#: Machines too dense for one picture at page width, by their state enum.
_SPLITS: Mapping[type[Enum], _CancelRace | _TwoSides] = {
    _I: _CancelRace(
        race=frozenset({_I.CANCELLING, _I.CANCEL_ANSWERED, _I.CANCEL_CROSSED, _I.HANGING_UP}),
        settled=frozenset({_I.CONNECTED}),
    ),
    _O: _CancelRace(
        race=frozenset({_O.CANCELLING, _O.CANCEL_ANSWERED, _O.CANCEL_CROSSED, _O.HANGING_UP}),
        settled=frozenset({_O.CONNECTED}),
    ),
    _R: _TwoSides(theirs=frozenset({_R.REMOTE_OFFERED, _R.ANSWERING, _R.DISMISSING})),
}


def full_view(definition: MachineDefinition[Any, Any]) -> View:
    return View(FULL, "every transition", frozenset(_states(definition)))


def views(definition: MachineDefinition[Any, Any]) -> tuple[View, ...]:
    """The views drawn of ``definition``: the full one first, then its parts when it is split."""
    split = _SPLITS.get(definition.states)
    return (full_view(definition), *(split.parts(definition) if split is not None else ()))


def view_named(definition: MachineDefinition[Any, Any], name: str) -> View | None:
    return next((view for view in views(definition) if view.name == name), None)


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


def _states(definition: MachineDefinition[Any, Any]) -> list[Enum]:
    """The states in enum order."""
    return list(definition.states.__members__.values())


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


def _merge_guards(guards: Sequence[str]) -> str:
    """One guard for several rows, every one whole: their common words once, then each one's rest.

    ``state Connecting`` and ``state Alerting`` give ``state Connecting | Alerting``.
    """
    unique = list(dict.fromkeys(guards))
    if len(unique) == 1:
        return unique[0]
    if "" in unique:
        return ""
    prefix = unique[0]
    for other in unique[1:]:
        while not other.startswith(prefix):
            prefix = prefix[:-1]
    cut = max(prefix.rfind(" "), prefix.rfind(":") + 1)
    prefix = prefix[:cut].rstrip()
    rests = [guard[len(prefix) :].strip() for guard in unique]
    if len(prefix) < 3 or not all(rests):
        return " | ".join(unique)
    return f"{prefix} {' | '.join(rests)}"


def _label_lines(atoms: Iterable[_Atom]) -> tuple[str, ...]:
    """Triggers sharing a guard go on one line: ``started, updated [state …]``."""
    by_guard: dict[str, list[str]] = {}
    for atom in atoms:
        names = by_guard.setdefault(atom.guard, [])
        if atom.trigger.value not in names:
            names.append(str(atom.trigger.value))
    return tuple(f"{', '.join(names)} [{guard}]" if guard else ", ".join(names) for guard, names in by_guard.items())


def _key(endpoint: Endpoint) -> Any:
    return endpoint.key if isinstance(endpoint, Group) else endpoint


def _nested(groups: Sequence[Group]) -> list[Group]:
    """``groups`` and the boxes inside them, outer ones first."""
    out: list[Group] = []
    pending = list(groups)
    while pending:
        group = pending.pop(0)
        out.append(group)
        pending.extend(c for c in group.children if isinstance(c, Group))
    return out


def _contains(group: Group, endpoint: Endpoint) -> bool:
    if isinstance(endpoint, Group):
        return endpoint is group or any(isinstance(c, Group) and _contains(c, endpoint) for c in group.children)
    return endpoint in group.members


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


def _merge_stay_guards(atoms: list[_Atom]) -> list[_Atom]:
    """Stays of a box on one trigger (``state Connecting``, ``state Alerting``...) become one line."""
    guards: dict[tuple[Any, Enum, bool], list[str]] = {}
    for atom in atoms:
        if atom.tail == atom.head:
            guards.setdefault((_key(atom.tail), atom.trigger, atom.local), []).append(atom.guard)
    out: list[_Atom] = []
    done: set[tuple[Any, Enum, bool]] = set()
    for atom in atoms:
        key = (_key(atom.tail), atom.trigger, atom.local)
        if atom.tail != atom.head:
            out.append(atom)
        elif key not in done:
            done.add(key)
            out.append(_Atom(atom.tail, atom.head, atom.trigger, atom.local, _merge_guards(guards[key])))
    return out


def _merge_heads(atoms: list[_Atom], box: Group) -> list[_Atom]:
    """A trigger that takes one tail to every state of ``box``: one atom to the box."""
    members = set(box.members)
    heads: dict[tuple[Any, Enum, bool], list[_Atom]] = {}
    for atom in atoms:
        if atom.tail != atom.head and _contains(box, atom.head) and not _contains(box, atom.tail):
            heads.setdefault((_key(atom.tail), atom.trigger, atom.local), []).append(atom)
    replace: dict[int, _Atom | None] = {}
    for same in heads.values():
        reached = {s for a in same for s in (a.head.members if isinstance(a.head, Group) else (a.head,))}
        if reached == members:
            first = same[0]
            replace.update((id(a), None) for a in same)
            guard = _merge_guards([a.guard for a in same])
            replace[id(first)] = _Atom(first.tail, box, first.trigger, first.local, guard)
    return _replaced(atoms, replace)


def _merge_tails(atoms: list[_Atom], box: Group) -> list[_Atom]:
    """A trigger that every state of ``box`` fires to one place with one guard: one atom from the box."""
    members = set(box.members)
    tails: dict[tuple[Any, Enum, bool, str], list[_Atom]] = {}
    for atom in atoms:
        if isinstance(atom.tail, Enum) and atom.tail in members and atom.tail != atom.head:
            tails.setdefault((_key(atom.head), atom.trigger, atom.local, atom.guard), []).append(atom)
    replace: dict[int, _Atom | None] = {}
    for same in tails.values():
        if {a.tail for a in same} == members:
            first = same[0]
            replace.update((id(a), None) for a in same)
            replace[id(first)] = _Atom(box, first.head, first.trigger, first.local, first.guard)
    return _replaced(atoms, replace)


def _replaced(atoms: list[_Atom], replace: Mapping[int, _Atom | None]) -> list[_Atom]:
    out: list[_Atom] = []
    for atom in atoms:
        new = replace.get(id(atom), atom)
        if new is not None:
            out.append(new)
    return out


def _superstates(
    definition: MachineDefinition[Any, Any], atoms: list[_Atom], top: list[Endpoint]
) -> tuple[list[_Atom], list[Endpoint]]:
    """Box the top-level states and boxes that share arrows; then, inside, a smaller set that shares more."""
    candidates = [e for e in top if (not e.failed if isinstance(e, Group) else e not in definition.terminal)]
    limit = len(candidates) + 1
    levels: list[list[Endpoint]] = []
    while len(levels) < 3:
        best = _shared_tails(atoms, candidates, limit)
        if best is None:
            break
        atoms = _merge_into_superstate(atoms, Group(f"super{len(levels) + 1}", tuple(best)))
        levels.append(best)
        candidates, limit = best, len(best)
    if not levels:
        return atoms, top
    position = {_key(e): n for n, e in enumerate(top)}
    final: dict[str, Group] = {}
    inner: Group | None = None
    for depth in reversed(range(len(levels))):
        children: list[Endpoint] = [e for e in levels[depth] if depth + 1 == len(levels) or e not in levels[depth + 1]]
        key = f"super{depth + 1}"
        children.sort(key=lambda e: position[_key(e)])
        if inner is not None:
            children.append(inner)
        inner = final[key] = Group(key, tuple(children))
    assert inner is not None

    def resolve(endpoint: Endpoint) -> Endpoint:
        return final.get(endpoint.key, endpoint) if isinstance(endpoint, Group) else endpoint

    atoms = [_Atom(resolve(a.tail), resolve(a.head), a.trigger, a.local, a.guard) for a in atoms]
    return atoms, [e for e in top if e not in levels[0]] + [inner]


def _shared_tails(atoms: list[_Atom], candidates: list[Endpoint], limit: int) -> list[Endpoint] | None:
    """The largest set of ``candidates`` (at least three, fewer than ``limit``) sharing an arrow or a stay."""
    eligible = {_key(e) for e in candidates}
    tails: dict[tuple[Any, Enum, bool, str], list[Endpoint]] = {}
    for atom in atoms:
        if _key(atom.tail) not in eligible:
            continue
        head = "self" if atom.tail == atom.head else _key(atom.head)
        same = tails.setdefault((head, atom.trigger, atom.local, atom.guard), [])
        if atom.tail not in same:
            same.append(atom.tail)
    best: list[Endpoint] = []
    for (head, _trigger, _local, _guard), same in tails.items():
        if len(best) < len(same) < limit and head not in {_key(e) for e in same}:
            best = same
    return best if len(best) >= 3 else None


def _merge_into_superstate(atoms: list[_Atom], superstate: Group) -> list[_Atom]:
    """Arrows and stays that every child of the superstate has: drawn once, from it."""
    children = {_key(c) for c in superstate.children}
    tails: dict[tuple[Any, Enum, bool, str], list[_Atom]] = {}
    for atom in atoms:
        if _key(atom.tail) in children:
            head = "self" if atom.tail == atom.head else _key(atom.head)
            tails.setdefault((head, atom.trigger, atom.local, atom.guard), []).append(atom)
    replace: dict[int, _Atom | None] = {}
    for (head, _trigger, _local, _guard), same in tails.items():
        if {_key(a.tail) for a in same} == children:
            first = same[0]
            replace.update((id(a), None) for a in same)
            target = superstate if head == "self" else first.head
            replace[id(first)] = _Atom(superstate, target, first.trigger, first.local, first.guard)
    return _replaced(atoms, replace)


# -- live models -----------------------------------------------------------------------


@frozen
class _Path:
    current: Enum | None
    #: States the model went through, in order of first visit.
    visited: tuple[Enum, ...]
    #: (from, to, numbered steps) per pair, in order of first step.
    moves: tuple[tuple[Enum, Enum, tuple[str, ...]], ...]


def _path(model: LiveModel | None) -> _Path:
    if model is None:
        return _Path(None, (), ())
    visited: list[Enum] = []
    moves: dict[tuple[Enum, Enum], list[str]] = {}
    for number, step in enumerate(model.history, start=1):
        for state in (step.source, step.dest):
            if state not in visited:
                visited.append(state)
        moves.setdefault((step.source, step.dest), []).append(f"{number}. {step.trigger.value}")
    return _Path(model.state, tuple(visited), tuple((a, b, tuple(steps)) for (a, b), steps in moves.items()))


# -- DOT ------------------------------------------------------------------------------


def _dot_id(endpoint: Enum | str) -> str:
    return endpoint if isinstance(endpoint, str) else endpoint.name


def _dot_lines(lines: Iterable[str]) -> str:
    # Graphviz's \l ends a left-justified line.
    return "".join(f"{line}\\l" for line in lines)


def _dot_stay_rows(stays: Sequence[tuple[str, bool]]) -> str:
    """HTML rows, local triggers in the local arrows' colour."""
    rows = []
    for line, local in stays:
        text = "<BR/>".join(html.escape(part) for part in _wrap(line, STAY_WIDTH))
        rows.append(f'<FONT COLOR="{_LOCAL_COLOR}">{text}</FONT>' if local else text)
    return "<BR/>".join(rows)


def _dot_node_label(state: Enum, stays: Sequence[tuple[str, bool]]) -> str:
    if not stays:
        return str(state.value)
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        f"<TR><TD>{html.escape(str(state.value))}</TD></TR><HR/>"
        f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT POINT-SIZE="9">{_dot_stay_rows(stays)}</FONT></TD></TR>'
        "</TABLE>>"
    )


def to_dot(definition: MachineDefinition[Any, Any], *, model: LiveModel | None = None, view: View | None = None) -> str:
    """The machine (or one ``view`` of it) as Graphviz DOT source (needs no Graphviz program)."""
    drawing = plan(definition, view)
    path = _path(model)
    title = definition.name
    if drawing.view.name != FULL:
        title += f", {drawing.view.title}"
    if path.current is not None:
        title += f": a live model, now in {path.current.value}"
    dot = graphviz.Digraph(
        name=definition.name,
        graph_attr={
            "label": _dot_title(title, definition.summary, legend_lines(drawing)),
            "labelloc": "t",
            "labeljust": "l",
            "fontname": _FONT,
            "fontsize": "12",
            "rankdir": drawing.view.rankdir,
            "compound": "true",
            "newrank": "true",
            "nodesep": "0.2",
            "ranksep": "0.55",
            "pad": "0.3",
        },
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": "white",
            "color": "#343a40",
            "fontname": _FONT,
            "fontsize": "12",
        },
        edge_attr={"fontname": _FONT, "fontsize": "9", "arrowsize": "0.7"},
    )
    starts = definition.initial in drawing.view.focus
    if starts:
        dot.node("__start", label="", shape="point", width="0.16", style="filled", fillcolor="black")
    for endpoint in _in_reading_order(drawing, drawing.top):
        _dot_endpoint(dot, endpoint, drawing, path)
    if starts:
        dot.edge("__start", _dot_id(definition.initial))
    _dot_arcs(dot, drawing)
    for step_from, step_to, steps in path.moves:
        dot.edge(
            _dot_id(step_from),
            _dot_id(step_to),
            label=_dot_lines(steps),
            color=_PATH_COLOR,
            fontcolor=_PATH_COLOR,
            penwidth="2.5",
            constraint="false",
        )
    source: str = dot.source
    return source


def _dot_endpoint(target: Any, endpoint: Endpoint, drawing: Plan, path: _Path) -> None:
    definition = drawing.definition
    if isinstance(endpoint, Enum):
        attrs: dict[str, str] = {}
        if endpoint in definition.terminal:
            attrs["peripheries"] = "2"
            attrs["fillcolor"] = _FAILED_FILL if is_failure(definition, endpoint) else _TERMINAL_FILL
        if endpoint in path.visited:
            attrs["fillcolor"] = _VISITED_FILL
        if endpoint is path.current:
            attrs.update(fillcolor=_CURRENT_FILL, penwidth="3", color=_PATH_COLOR)
        if endpoint in drawing.stubs:
            attrs.update(style="rounded,dashed", color=_REMOTE_COLOR)
            label = _dot_stub_label(str(endpoint.value), _drawn_in(definition, endpoint))
        else:
            label = _dot_node_label(endpoint, drawing.stays_of(endpoint))
        target.node(_dot_id(endpoint), label=label, **attrs)
        return
    if endpoint.key.startswith("stub"):
        # One node for alike states a part only points at: a row of them would set its width.
        names = "\n".join(str(s.value) for s in endpoint.members)
        target.node(
            f"__{endpoint.key}",
            label=_dot_stub_label(names, _drawn_in(definition, endpoint.members[0])),
            comment=" ".join(_dot_id(s) for s in endpoint.members),
            style="rounded,dashed",
            color=_REMOTE_COLOR,
        )
        return
    with target.subgraph(name=f"cluster_{endpoint.key}") as box:
        if endpoint.failed:
            # The title at the bottom: arrows come in from above, and would cross it at the top.
            box.attr(label=FAILED_TITLE, fillcolor=_FAILED_BOX, color=_FAILED_LINE, fontsize="11", labelloc="b")
        elif endpoint.key.startswith("stub"):
            box.attr(label="", fillcolor="white", color="#adb5bd")
        elif endpoint.key.startswith("super"):
            box.attr(label="", fillcolor=_SUPER_BOX, color="#adb5bd", penwidth="1.5")
        else:
            box.attr(label="", fillcolor=_ALIKE_BOX, color="#868e96")
        box.attr(style="rounded,filled", labeljust="l", fontname=_FONT)
        if not endpoint.key.startswith("super"):
            # Alike states side by side: arrows to and from the box then meet one border.
            box.attr(rank="same")
        stays = drawing.stays_of(endpoint)
        if stays:
            # A node of its own, not the box's title: arrows come in where a title would be.
            box.node(
                f"__stays_{endpoint.key}",
                label=(
                    '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
                    f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT POINT-SIZE="9">{WITHIN_TITLE}<BR/>'
                    f"{_dot_stay_rows(stays)}</FONT></TD></TR></TABLE>>"
                ),
                shape="plaintext",
                style="",
                fontsize="9",
                width="0",
                height="0",
            )
        for child in _in_reading_order(drawing, endpoint.children):
            _dot_endpoint(box, child, drawing, path)
        if stays and endpoint.key.startswith("super"):
            # Beside the box's first state: left free, the note takes a rank of its own.
            first = min(endpoint.members, key=_states(definition).index)
            with box.subgraph() as row:
                row.attr(rank="same")
                row.node(f"__stays_{endpoint.key}")
                row.node(_dot_id(first))


def _in_reading_order(drawing: Plan, endpoints: Sequence[Endpoint]) -> Sequence[Endpoint]:
    # Left to right, dot stacks what shares a rank from the bottom up: declared
    # the other way round, a column reads in enum order from the top.
    return endpoints[::-1] if drawing.view.rankdir == "LR" else endpoints


def _drawn_in(definition: MachineDefinition[Any, Any], state: Enum) -> str:
    """The first view past the full one whose rows leave ``state``."""
    return next((v.name for v in views(definition)[1:] if state in v.focus), FULL)


def _dot_stub_label(names: str, where: str) -> str:
    lines = "<BR/>".join(html.escape(name) for name in names.splitlines())
    return f'<{lines}<BR/><FONT POINT-SIZE="9" COLOR="{_REMOTE_COLOR}">drawn in: {html.escape(where)}</FONT>>'


def _wrap(line: str, width: int) -> list[str]:
    """``line`` cut at spaces into lines of about ``width`` characters, the later ones indented."""
    words = line.split(" ")
    out = [words[0]]
    for word in words[1:]:
        if len(out[-1]) + 1 + len(word) > width:
            out.append("   " + word)
        else:
            out[-1] += " " + word
    return out


def _dot_label(lines: Iterable[str]) -> str:
    # Two spaces first: dot puts a label right against its own arrow.
    return _dot_lines(f"  {part}" for line in lines for part in _wrap(line, LABEL_WIDTH))


def _dot_arcs(dot: Any, drawing: Plan) -> None:
    """Every arrow, its label a node of its own on the way.

    Dot routes arrows around nodes but not reliably around other arrows'
    labels; a label that is a node is never crossed.
    """
    fans: dict[tuple[Any, bool, tuple[str, ...]], list[Arc]] = {}
    for arc in drawing.arcs:
        fans.setdefault((_key(arc.head), arc.local, arc.lines), []).append(arc)
    count = 0
    for number, ((_head, local, lines), same) in enumerate(fans.items(), start=1):
        color = _LOCAL_COLOR if local else _REMOTE_COLOR
        style = {"color": color, "style": "bold" if local else "dashed"}
        head = same[0].head
        tails: list[Endpoint | str] = [arc.tail for arc in same]
        # Inside the innermost box holding both ends, so the arrow stays in it.
        inside = _container(drawing, [arc.tail for arc in same] + [head])
        if len(same) >= 3:
            # The same label into the same place from several states: the arrows meet
            # at a junction and the label is written once, after it.
            junction = f"__join{number}"
            _in_boxes(dot, inside).node(junction, label="", shape="point", width="0.05", color=color)
            for tail in tails:
                _dot_edge(dot, tail, junction, arrowhead="none", **style)
            tails = [junction]
        for tail in tails:
            count += 1
            label = f"__label{count}"
            _in_boxes(dot, inside).node(
                label,
                label=_dot_label(lines),
                shape="plaintext",
                style="",
                fontsize="9",
                fontcolor=_LOCAL_COLOR if local else "#343a40",
                width="0",
                height="0",
                margin="0.02,0.01",
            )
            _dot_edge(dot, tail, label, arrowhead="none", **style)
            _dot_edge(dot, label, head, **style)


def _container(drawing: Plan, endpoints: Sequence[Endpoint]) -> list[Group]:
    """The boxes, outermost first, that hold every one of ``endpoints`` (a box holds itself not)."""
    chains = []
    for endpoint in endpoints:
        chain: list[Group] = []
        level: Sequence[Endpoint] = drawing.top
        while True:
            box = next(
                (g for g in level if isinstance(g, Group) and g != endpoint and _contains(g, endpoint)),
                None,
            )
            if box is None:
                break
            chain.append(box)
            level = box.children
        chains.append(chain)
    common: list[Group] = []
    for boxes in zip(*chains, strict=False):
        if any(box != boxes[0] for box in boxes):
            break
        common.append(boxes[0])
    return common


class _Boxes:
    """Adds a node inside nested clusters: DOT merges a subgraph named again into the first one."""

    def __init__(self, dot: Any, path: Sequence[Group]) -> None:
        self.dot, self.path = dot, path

    def node(self, name: str, **attrs: str) -> None:
        def add(target: Any, rest: Sequence[Group]) -> None:
            if not rest:
                target.node(name, **attrs)
                return
            with target.subgraph(name=f"cluster_{rest[0].key}") as box:
                add(box, rest[1:])

        add(self.dot, self.path)


def _in_boxes(dot: Any, path: Sequence[Group]) -> _Boxes:
    return _Boxes(dot, path)


def _dot_edge(dot: Any, tail: Endpoint | str, head: Endpoint | str, **attrs: str) -> None:
    if isinstance(tail, Group):
        attrs["ltail"] = f"cluster_{tail.key}"
        tail = _representative(tail)
    if isinstance(head, Group) and head.key.startswith("stub"):
        head = f"__{head.key}"  # drawn as one node
    elif isinstance(head, Group):
        attrs["lhead"] = f"cluster_{head.key}"
        head = _representative(head)
    dot.edge(_dot_id(tail), _dot_id(head), **attrs)


def _representative(group: Group) -> Enum:
    members = group.members
    return members[(len(members) - 1) // 2]


def legend_lines(drawing: Plan) -> list[str]:
    """What the legend under the title says, one line each."""
    lines = [
        "solid blue arrow: local trigger (the app calls it); dashed grey arrow: remote trigger (from the wire)",
        "trigger [guard or reason]; under a state's name, or in a box: moves that stay there",
        "arrow from a box: from each state in it; to a box: to one of its states, by guard",
        f"double border: terminal state; red box: {FAILED_TITLE}",
    ]
    if drawing.stubs:
        lines.append("dashed state: its own moves are drawn in the view it names")
    if drawing.absorbed:
        lines.append(ABSORB_NOTE)
    return lines


def _dot_title(title: str, summary: str, legend: Sequence[str]) -> str:
    """The title, the summary and the legend as one HTML label: the legend then takes no width of its own."""
    rows = [f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="15">{html.escape(title)}</FONT></TD></TR>']
    rows += [f'<TR><TD ALIGN="LEFT">{html.escape(line)}</TD></TR>' for line in _wrap(summary, TITLE_WIDTH)]
    rows += [
        f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="{_REMOTE_COLOR}">{html.escape(line)}</FONT></TD></TR>'
        for line in legend
    ]
    rows.append('<TR><TD> </TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{"".join(rows)}</TABLE>>'


# -- Mermaid ------------------------------------------------------------------------


def _mermaid_id(endpoint: Endpoint) -> str:
    # Prefixes keep ids clear of Mermaid's keywords (end, state, note, ...).
    if isinstance(endpoint, Group):
        return f"box_{endpoint.key}"
    return f"s_{endpoint.name.lower()}"


def _mermaid_text(text: str) -> str:
    """Text Mermaid shows as written: ``#``, ``;``, ``:`` and quotes as its entity codes."""
    return text.replace("#", "#35;").replace(";", "#59;").replace(":", "#58;").replace('"', "#quot;")


def to_mermaid(
    definition: MachineDefinition[Any, Any], *, model: LiveModel | None = None, view: View | None = None
) -> str:
    """The machine (or one ``view`` of it) as a Mermaid ``stateDiagram-v2`` that GitHub renders.

    Boxes are composite states.
    """
    drawing = plan(definition, view)
    path = _path(model)
    name = definition.name if drawing.view.name == FULL else f"{definition.name}, {drawing.view.title}"
    out = [f"%% {name}: generated by callfsm diagrams, do not edit", "stateDiagram-v2", "    direction TB"]
    for endpoint in drawing.top:
        _mermaid_endpoint(out, endpoint, drawing, "    ")
    shown = [s for e in drawing.top for s in (e.members if isinstance(e, Group) else (e,))]
    if definition.initial in drawing.view.focus:
        out.append(f"    [*] --> {_mermaid_id(definition.initial)}")
    for arc in drawing.arcs:
        text = "<br/>".join(_mermaid_text(_marked(line, arc.local)) for line in arc.lines)
        out.append(f"    {_mermaid_id(arc.tail)} --> {_mermaid_id(arc.head)} : {text}")
    for state in definition.states:
        if state in shown and state in definition.terminal and not is_failure(definition, state):
            out.append(f"    {_mermaid_id(state)} --> [*]")
    notes = [f"{LOCAL_MARK} local trigger: the app calls it", "others come from the wire"]
    if drawing.absorbed:
        notes.append(ABSORB_NOTE)
    first = definition.initial if definition.initial in shown else min(shown, key=_states(definition).index)
    out.append(f"    note left of {_mermaid_id(first)}")
    out.extend(f"        {_mermaid_text(line)}" for line in notes)
    out.append("    end note")
    if path.moves and path.current is not None:
        out.append(f"    note right of {_mermaid_id(path.current)}")
        out.append("        path taken")
        for source, dest, steps in path.moves:
            out.extend(f"        {_mermaid_text(f'{step}: {source.value} → {dest.value}')}" for step in steps)
        out.append("    end note")
    failed = [s for s in definition.states if s in shown and is_failure(definition, s)]
    ends = [s for s in definition.states if s in shown and s in definition.terminal and s not in failed]
    out.append("    classDef terminal stroke-width:3px")
    out.append(f"    classDef failed fill:{_FAILED_FILL},stroke:{_FAILED_LINE},stroke-width:3px")
    if ends:
        out.append(f"    class {','.join(_mermaid_id(s) for s in ends)} terminal")
    if failed:
        out.append(f"    class {','.join(_mermaid_id(s) for s in failed)} failed")
    if path.current is not None:
        out.append(f"    classDef visited fill:{_VISITED_FILL}")
        out.append(f"    classDef current fill:{_CURRENT_FILL},stroke:{_PATH_COLOR},stroke-width:4px")
        before = [s for s in path.visited if s is not path.current]
        if before:
            out.append(f"    class {','.join(_mermaid_id(s) for s in before)} visited")
        out.append(f"    class {_mermaid_id(path.current)} current")
    return "\n".join(out) + "\n"


def _marked(line: str, local: bool) -> str:
    return f"{LOCAL_MARK} {line}" if local else line


def _mermaid_endpoint(out: list[str], endpoint: Endpoint, drawing: Plan, indent: str) -> None:
    stays = drawing.stays_of(endpoint)
    if isinstance(endpoint, Enum):
        name = _mermaid_id(endpoint)
        out.append(f'{indent}state "{_mermaid_text(str(endpoint.value))}" as {name}')
        if endpoint in drawing.stubs:
            out.append(f"{indent}{name} : {_mermaid_text(f'drawn in: {_drawn_in(drawing.definition, endpoint)}')}")
        # Description lines: Mermaid draws them under the name, like a UML state's compartment.
        out.extend(f"{indent}{name} : {_mermaid_text(_marked(line, local))}" for line, local in stays)
        return
    if endpoint.failed:
        title = FAILED_TITLE
    elif stays:
        # One line: Mermaid does not make room for a title of several.
        title = f"{WITHIN_TITLE} {' · '.join(_marked(line, local) for line, local in stays)}"
    else:
        title = " "
    out.append(f'{indent}state "{_mermaid_text(title)}" as {_mermaid_id(endpoint)} {{')
    for child in endpoint.children:
        _mermaid_endpoint(out, child, drawing, indent + "    ")
    if endpoint.failed:
        # The box's own final point: no arrows across the picture to one [*].
        out.extend(f"{indent}    {_mermaid_id(state)} --> [*]" for state in endpoint.members)
    out.append(f"{indent}}}")


# -- pictures -------------------------------------------------------------------------


def renderer() -> str | None:
    """Which layout engine :func:`render` uses: ``dot``, ``graphviz-pure``, ``pygraphviz`` or ``None``."""
    if shutil.which("dot"):
        return "dot"
    if _graphviz_pure() is not None:
        return "graphviz-pure"
    try:
        importlib.import_module("pygraphviz")
    except ImportError:
        return None
    return "pygraphviz"


def _graphviz_pure() -> str | None:
    # pip puts the program next to the interpreter, which may not be on PATH (a venv not activated).
    beside = Path(sysconfig.get_path("scripts")) / "graphviz-pure"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("graphviz-pure")


def render(
    definition: MachineDefinition[Any, Any], fmt: str, *, model: LiveModel | None = None, view: View | None = None
) -> bytes:
    """The machine (or a view) as an SVG or PNG picture; raises :class:`RendererUnavailable` without a layout engine."""
    if fmt not in PICTURE_FORMATS:
        raise ValueError(f"not a picture format: {fmt!r} (use {', '.join(sorted(PICTURE_FORMATS))})")
    return render_source(to_dot(definition, model=model, view=view), fmt)


def render_source(source: str, fmt: str) -> bytes:
    """Lay out DOT ``source`` and draw it as ``fmt`` (svg or png)."""
    engine = renderer()
    if engine in {"dot", "graphviz-pure"}:
        program = shutil.which("dot") if engine == "dot" else _graphviz_pure()
        assert program is not None
        done = subprocess.run(
            [program, f"-T{fmt}"], input=source.encode(), capture_output=True, check=False, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{engine} failed: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout
    if engine == "pygraphviz":
        pygraphviz = importlib.import_module("pygraphviz")
        picture: bytes = pygraphviz.AGraph(string=source).draw(format=fmt, prog="dot")
        return picture
    raise RendererUnavailable(
        "no Graphviz layout engine: install the 'diagrams' extra (pip install 'callfsm[diagrams]', "
        "which brings graphviz-pure) or put Graphviz's dot on PATH; DOT and Mermaid need none"
    )


# -- files ----------------------------------------------------------------------------

README_INTRO = """\
# Diagrams of the machines

Generated from the machines' own definitions (`fsm.MACHINES`) by
`callfsm diagrams --out diagrams --format dot,mmd,svg --readme` (`make diagrams`):
do not edit these files by hand. A test fails when any of them differs from
what the current machines generate.

How to read them:

- An arrow's label is `trigger [guard or reason]`. Solid blue arrows are
  local triggers (the app calls them; ▶ in Mermaid); dashed ones come from
  the wire.
- States that behave alike share a box. An arrow from a box leaves every state
  in it; an arrow to a box reaches one of its states, chosen by the guard
  (`Failure: Declined | Canceled | other reason` lists the guards of the
  states inside, in their order).
- Lines under a state's name, or in a box's title, are triggers that stay
  there (UML internal transitions).
- A double border (Mermaid: an arrow to the end point) marks a terminal state.
  Unsuccessful ends share a red box. The rule: an end is successful when what
  the machine is for happened there (the call or the join connected, and was
  hung up later; the participant was admitted; the renegotiation was answered
  or completed; the series ran its course); every other end is unsuccessful,
  whoever chose it: declined, cancelled, rejected, dismissed, collided,
  expired, failed, or gone from the lobby without being admitted.
- Ended states absorb late events: recorded in the model's history, not drawn.

Views: a machine too dense for one picture at page width (A4 at 100%: at
most 1,200 px wide, a test checks it) is also drawn in parts, each in
`<machine>-<view>.<format>`, while `<machine>.<format>` (the view `full`)
keeps every transition for reference. `invitation` and `online_meeting` have
three parts:

- `progress`: every move before the outcome, from the first request or event
  to the pending states, and the cancel that starts the race;
- `completion`: how each of those states ends (connected, or an unsuccessful
  end);
- `cancel-race`: the cancel race with hang-up, from the cancel to `hung_up`.

`renegotiation` has two: `ours` (our offer) and `theirs` (the remote's offer,
answered or dismissed). A state no part names goes to the first part, so a
state added to a table is always drawn. A dashed state in a part is drawn
there only because an arrow leads to it; its own moves are in the part it
names. `callfsm diagrams --view progress,full` picks views (default: all).
"""


_FORMAT_NAMES = {"dot": "DOT", "mmd": "Mermaid", "svg": "SVG", "png": "PNG"}


def file_stem(name: str, view: View) -> str:
    """``<machine>`` for the full view, ``<machine>-<view>`` for a part."""
    return name if view.name == FULL else f"{name}-{view.name}"


def readme_text(names: Sequence[str], formats: Sequence[str], view_names: Sequence[str] | None = None) -> str:
    """``diagrams/README.md``: each machine's summary, and per view its file links and Mermaid diagram inline.

    A split machine's full view is linked, not inlined: its parts are what reads at page width.
    """
    parts = [README_INTRO]
    for name in names:
        definition = MACHINES[name]
        parts.append(f"## {name}\n\n{definition.summary}\n")
        chosen = _chosen(definition, view_names)
        split = len(views(definition)) > 1
        for view in chosen:
            stem = file_stem(name, view)
            links = [f"[{_FORMAT_NAMES[fmt]}]({stem}.{fmt})" for fmt in FORMATS if fmt in formats]
            if split:
                parts.append(f"### {view.title}\n")
            if links:
                parts.append(f"Files: {' · '.join(links)}\n")
            if not split or view.name != FULL:
                parts.append(f"```mermaid\n{to_mermaid(definition, view=view)}```\n")
    return "\n".join(parts)


def _chosen(definition: MachineDefinition[Any, Any], view_names: Sequence[str] | None) -> list[View]:
    return [view for view in views(definition) if view_names is None or view.name in view_names]


def check_request(formats: Sequence[str], names: Sequence[str], view_names: Sequence[str] | None = None) -> None:
    """Raise :class:`ValueError` naming the first unknown format, machine or view."""
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    for name in names:
        if name not in MACHINES:
            raise ValueError(f"unknown machine {name!r} (known: {', '.join(MACHINES)})")
    if view_names is not None:
        known = list(dict.fromkeys(view.name for name in names for view in views(MACHINES[name])))
        for view_name in view_names:
            if view_name not in known:
                raise ValueError(f"unknown view {view_name!r} for {', '.join(names)} (known: {', '.join(known)})")


def write_all(
    out_dir: str | os.PathLike[str],
    formats: Sequence[str],
    names: Sequence[str],
    *,
    readme: bool = False,
    view_names: Sequence[str] | None = None,
) -> list[Path]:
    """Write ``<stem>.<fmt>`` for each machine, view and format (and ``README.md``); return the paths written.

    ``view_names`` picks views by name (``None``: every view; see
    :func:`views` and :func:`file_stem`). DOT, Mermaid and the README are
    always written. Pictures need a layout engine: without one, everything
    else is written first, then :class:`RendererUnavailable` is raised.
    """
    check_request(formats, names, view_names)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(path: Path, data: bytes) -> None:
        path.write_bytes(data)
        written.append(path)

    for name in names:
        definition = MACHINES[name]
        for view in _chosen(definition, view_names):
            if "dot" in formats:
                put(out / f"{file_stem(name, view)}.dot", to_dot(definition, view=view).encode())
            if "mmd" in formats:
                put(out / f"{file_stem(name, view)}.mmd", to_mermaid(definition, view=view).encode())
    if readme:
        put(out / "README.md", readme_text(names, formats, view_names).encode())
    pictures = [fmt for fmt in FORMATS if fmt in PICTURE_FORMATS and fmt in formats]
    if pictures and renderer() is None:
        render_source("", pictures[0])  # raises RendererUnavailable with the explanation
    for name in names:
        definition = MACHINES[name]
        for view in _chosen(definition, view_names):
            for fmt in pictures:
                put(out / f"{file_stem(name, view)}.{fmt}", render(definition, fmt, view=view))
    return written
