"""The plan of a diagram, which both DOT and Mermaid draw: boxes, arrows, stays, views, a live model's path.

The rules are the theory of operation in :mod:`adapters.diagrams`; one plan, so the two formats cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, Protocol

from attrs import frozen

from fsm.engine import MachineDefinition, Step, Transition
from fsm.invitation import InvitationState
from fsm.online_meeting import OnlineMeetingState
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


def drawn_in(definition: MachineDefinition[Any, Any], state: Enum) -> str:
    """The first view past the full one whose rows leave ``state``."""
    return next((v.name for v in views(definition)[1:] if state in v.focus), FULL)


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
