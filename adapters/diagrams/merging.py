"""The reductions that turn a table's rows into fewer arrows: merged guards, arrows to and from a
whole box, and superstates around states that share an arrow (steps 4 to 6 of the theory of
operation in :mod:`adapters.diagrams`).

Each works on :class:`~adapters.diagrams.shapes._Atom` lists and returns a new one; separate
from :func:`~adapters.diagrams.plan.plan`, which decides the boxes and calls them in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from adapters.diagrams.shapes import Endpoint, Group, _Atom, _contains, _key
from fsm.engine import MachineDefinition


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
