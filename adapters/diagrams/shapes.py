"""The pieces a plan is made of: boxes (:class:`Group`), arrows (:class:`Arc`), stays (:class:`Stay`).

Also the unit the reductions work on, :class:`_Atom` (one trigger with its
guard between two endpoints), and the small queries over boxes that the
plan, the reductions and both formats use. Separate so that the reductions
(:mod:`.merging`) and the plan can both build on them without importing
each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

from attrs import frozen

from fsm.engine import MachineDefinition


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
class _Atom:
    """One trigger with its guard, from an endpoint to an endpoint (the same one: a stay)."""

    tail: Endpoint
    head: Endpoint
    trigger: Enum
    local: bool
    guard: str


def _states(definition: MachineDefinition[Any, Any]) -> list[Enum]:
    """The states in enum order."""
    return list(definition.states.__members__.values())


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
