"""How a machine's literal table meets the ``transitions`` engine.

Theory of operation
-------------------
Each machine module declares its states and triggers as enums and its
transitions as a tuple of :class:`Transition` values. :class:`MachineDefinition`
validates that table when the module is imported and builds ONE
``transitions.Machine`` from it, shared by every live model of that kind.

Models are never registered with that Machine (``model=None``; no
``add_model``). A model is a small slotted attrs object with a ``state``
attribute, and a trigger drives it through ``machine.events[name].trigger(model)``.
This is the pattern of transitions' own FAQ: creating a model costs the same
with 100 or 100,000 live models, the Machine holds no reference to any model,
and an ended call's model is garbage as soon as the app drops it. (``add_model``
scans a list of every model ever added and keeps them all alive.)

Guards are data, not code: a transition may carry a ``when`` branch value. The
model method classifies the trigger's payload into one branch (for example
"this ``completed`` event means Declined") and the engine picks the transition
whose ``when`` is that branch. Transitions on the same (state, trigger) pair
have distinct ``when`` values, so their guards exclude each other by
construction; the import-time check enforces it.

A transition marked ``absorb`` is recorded in the history but changes nothing:
that is how an ended invitation swallows late events from the channel.

Before firing, the definition checks the pair against its own index, so a
refusal is a typed :class:`~fsm.errors.InvalidTrigger` that names the machine,
the state and the trigger, and the model is untouched.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from attrs import field, frozen
from transitions import Machine

from fsm.errors import DefinitionError, InvalidTrigger

if TYPE_CHECKING:
    from transitions.core import Event

S = TypeVar("S", bound=Enum)
T = TypeVar("T", bound=Enum)


@frozen
class Transition(Generic[S, T]):
    """One row of a transition table."""

    #: The state the row applies to.
    source: S
    #: The trigger that fires it.
    trigger: T
    #: The state the model lands in.
    dest: S
    #: Guard branch: the row applies only when the trigger's payload was
    #: classified as this value. ``None`` means unguarded.
    when: Enum | None = None
    #: Recorded in the history, but the payload is not applied.
    absorb: bool = False
    #: Short text for diagrams: the guard or the reason class.
    note: str = ""


@frozen
class Step(Generic[S, T]):
    """One entry of a model's history."""

    source: S
    trigger: T
    dest: S
    #: Why, in words: a reason code/subcode, a decline reason, a guard branch.
    reason: str | None
    #: The time the caller passed in with the trigger (its own clock).
    at: float


def _branch_condition(branch: Enum) -> Callable[[Any], bool]:
    def condition(event_data: Any) -> bool:
        return bool(event_data.kwargs.get("branch") is branch)

    condition.__name__ = f"when_{branch.name.lower()}"
    return condition


@frozen(eq=False)
class MachineDefinition(Generic[S, T]):
    """A validated machine: its table, its introspection data, its engine."""

    #: Registry name (``invitation``, ``online_meeting``, ...).
    name: str
    #: One line on what the machine models.
    summary: str
    states: type[S]
    triggers: type[T]
    initial: S
    terminal: frozenset[S]
    #: Triggers the app causes (they return actions); the rest come from the wire.
    local_triggers: frozenset[T]
    table: tuple[Transition[S, T], ...]
    #: The name each state has on the wire, where it has one.
    wire_names: Mapping[S, str] = field(factory=dict)
    _index: dict[tuple[S, T], tuple[Transition[S, T], ...]] = field(init=False)
    _events: dict[T, Event] = field(init=False)
    _engine: Machine = field(init=False)

    def __attrs_post_init__(self) -> None:
        index: dict[tuple[S, T], list[Transition[S, T]]] = {}
        for row in self.table:
            index.setdefault((row.source, row.trigger), []).append(row)
        object.__setattr__(self, "_index", {k: tuple(v) for k, v in index.items()})
        self._validate()
        engine = Machine(
            model=None,
            states=self.states,
            initial=self.initial,
            auto_transitions=False,
            send_event=True,
        )
        for row in self.table:
            engine.add_transition(
                row.trigger.value,
                row.source,
                None if row.absorb else row.dest,  # None: internal, no exit/enter
                conditions=[_branch_condition(row.when)] if row.when is not None else [],
            )
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(
            self, "_events", {t: engine.events[t.value] for t in self.triggers if t.value in engine.events}
        )

    # -- validation ------------------------------------------------------------

    def _validate(self) -> None:
        def fail(why: str) -> DefinitionError:
            return DefinitionError(f"{self.name}: {why}")

        for row in self.table:
            if not isinstance(row.source, self.states) or not isinstance(row.dest, self.states):
                raise fail(f"{row} uses a state that is not a {self.states.__name__}")
            if not isinstance(row.trigger, self.triggers):
                raise fail(f"{row} uses a trigger that is not a {self.triggers.__name__}")
            if row.absorb and row.dest is not row.source:
                raise fail(f"{row} absorbs but does not stay in its state")
        for (state, trigger), rows in self._index.items():
            guarded = [r.when for r in rows if r.when is not None]
            if len(rows) > 1 and len(guarded) != len(rows):
                raise fail(
                    f"({state.value}, {trigger.value}) has {len(rows)} rows but not all are guarded: "
                    "the machine would not be deterministic"
                )
            if len(set(guarded)) != len(guarded):
                raise fail(f"({state.value}, {trigger.value}) has two rows with the same guard branch")
        for row in self.table:
            if row.source in self.terminal and row.dest is not row.source:
                raise fail(f"terminal state {row.source.value} has a way out: {row}")
        reachable = self.reachable_from(self.initial)
        unreachable = [s.value for s in self.states if s not in reachable]
        if unreachable:
            raise fail(f"states unreachable from {self.initial.value}: {unreachable}")
        used = {row.trigger for row in self.table}
        unused = [t.value for t in self.triggers if t not in used]
        if unused:
            raise fail(f"triggers used by no transition: {unused}")
        if not self.terminal:
            raise fail("no terminal state")

    def reachable_from(self, start: S) -> set[S]:
        """States reachable from ``start`` through the table."""
        seen = {start}
        queue = deque([start])
        while queue:
            state = queue.popleft()
            for row in self.table:
                if row.source is state and row.dest not in seen:
                    seen.add(row.dest)
                    queue.append(row.dest)
        return seen

    # -- introspection ---------------------------------------------------------

    @property
    def transitions(self) -> tuple[tuple[S, T, S], ...]:
        """The table as (source, trigger, dest) triples, in table order."""
        return tuple((r.source, r.trigger, r.dest) for r in self.table)

    @property
    def remote_triggers(self) -> frozenset[T]:
        return frozenset(t for t in self.triggers if t not in self.local_triggers)

    def rows(self, state: S, trigger: T) -> tuple[Transition[S, T], ...]:
        """The rows that apply to ``(state, trigger)``; empty when the pair is illegal."""
        return self._index.get((state, trigger), ())

    def allows(self, state: S, trigger: T) -> bool:
        return (state, trigger) in self._index

    def triggers_from(self, state: S) -> tuple[T, ...]:
        return tuple(t for t in self.triggers if (state, t) in self._index)

    def wire_name(self, state: S) -> str | None:
        return self.wire_names.get(state)

    @property
    def engine(self) -> Machine:
        """The shared ``transitions.Machine`` (read-only use: diagrams, checks)."""
        return self._engine

    # -- running ---------------------------------------------------------------

    def select(self, state: S, trigger: T, branch: Enum | None) -> Transition[S, T]:
        """The row that ``trigger`` with ``branch`` takes from ``state``, or raise."""
        rows = self._index.get((state, trigger))
        if rows is None:
            raise InvalidTrigger(self.name, state, trigger)
        if len(rows) == 1 and rows[0].when is None:
            return rows[0]
        for row in rows:
            if row.when is branch:
                return row
        shown = "none" if branch is None else branch.value
        raise InvalidTrigger(self.name, state, trigger, f"no transition for the case '{shown}' from this state")

    def fire(self, model: Any, row: Transition[S, T]) -> None:
        """Run a selected row through the shared transitions engine."""
        if not self._events[row.trigger].trigger(model, branch=row.when):
            # select() already proved the row applies; a refusal here means the
            # engine and the index disagree, which is a bug in this module.
            raise InvalidTrigger(self.name, model.state, row.trigger, "the engine refused the row")


def build_table(*groups: Iterable[Transition[S, T]]) -> tuple[Transition[S, T], ...]:
    """Concatenate table sections (kept as separate literal blocks for reading)."""
    return tuple(row for group in groups for row in group)
