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

Once the index has picked the row, :meth:`MachineDefinition.advance` hands the
engine that row's own ``transitions`` Transition (found once, when the table
is built) and runs its ``execute``: conditions, callbacks, exit/enter and the
state change are transitions' as before. What it no longer repeats is the
Event-level search that the index has already done: finding the model's
State, checking the source, and trying the rows of that source one by one
(a guarded ``updated`` used to evaluate every earlier branch first). The
engine is built here with no machine-level hooks (``prepare_event``,
``finalize_event``, ``on_exception``, queue), so nothing else is skipped; the
build asserts it. The engine's share of a trigger fell by a third (bench/README.md).

For a *plain* row (no prepare/before/after callbacks, no machine-level
callbacks around a state change, and no condition but its branch test, which
is what the index picked it by: every row of the tables here),
:meth:`MachineDefinition.advance` runs transitions' ``_change_state`` (exit,
``set_state``, enter, ``on_final``) instead of the whole ``execute``, whose
remaining work for such a row is three empty callback lists and four
debug-log calls: 13% of an event's ingestion (bench/README.md, issue 14). Any
other row still goes through ``execute``. A plain row is also *silent* when
``_change_state`` itself would call nothing (no ``on_exit`` on its source, no
``on_enter`` on its destination, no ``on_final`` to run): all transitions would
then do is ``setattr(model, "state", dest)``, and that is all ``advance`` does,
without building an EventData (18% of an event in replay). Every row of the
tables here is silent today; the tables are still built, validated and drawn by
transitions, and any callback added to them brings its machinery back.
``tests/fsm/test_engine_plain.py`` checks every row of every machine against
transitions' own ``Event.trigger``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from attrs import field, fields, frozen
from transitions import Machine
from transitions.core import EventData

from fsm.errors import DefinitionError, InvalidTrigger

if TYPE_CHECKING:
    from transitions.core import Event, State
    from transitions.core import Transition as EngineTransition

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


_SET_STEP_SLOTS = tuple(Step.__dict__[a.name].__set__ for a in fields(Step))
_new_object = object.__new__


def _record(source: Any, trigger: Any, dest: Any, reason: str | None, at: float) -> Step[Any, Any]:
    """``Step(source, trigger, dest, reason, at)``, made without attrs' frozen ``__init__``.

    A Step is made on every trigger, and the frozen ``__init__`` sets each slot
    through a bound ``object.__setattr__`` (~0.3 µs, ~3% of a trigger). Setting
    the same five slots through their descriptors gives the same immutable
    object (Step has no validators, converters or post-init).
    """
    step: Step[Any, Any] = _new_object(Step)
    set_source, set_trigger, set_dest, set_reason, set_at = _SET_STEP_SLOTS
    set_source(step, source)
    set_trigger(step, trigger)
    set_dest(step, dest)
    set_reason(step, reason)
    set_at(step, at)
    return step


def _branch_condition(branch: Enum) -> Callable[[Any], bool]:
    def condition(event_data: Any) -> bool:
        return bool(event_data.kwargs.get("branch") is branch)

    condition.__name__ = f"when_{branch.name.lower()}"
    _BRANCH_CONDITIONS.add(condition)
    return condition


#: The conditions made by :func:`_branch_condition` (what :func:`_plain` may leave to the index).
_BRANCH_CONDITIONS: set[Callable[[Any], bool]] = set()


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
    #: (state name, trigger name) -> one entry per row, in table order: the row,
    #: and the engine objects that run it (source State, Event, transitions'
    #: Transition). Keyed by member names because a str caches its hash while
    #: an Enum's ``__hash__`` is Python code: two calls per lookup were ~3% of
    #: a trigger. :meth:`_pick` checks identity, so another enum's member with
    #: the same name never matches.
    _compiled: dict[tuple[str, str], tuple[_Compiled[S, T], ...]] = field(init=False)

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
        compiled: dict[tuple[str, str], list[_Compiled[S, T]]] = {}
        for row in self.table:
            engine.add_transition(
                row.trigger.value,
                row.source,
                None if row.absorb else row.dest,  # None: internal, no exit/enter
                conditions=[_branch_condition(row.when)] if row.when is not None else [],
            )
            source = engine.get_state(row.source)
            event = engine.events[row.trigger.value]
            # add_transition appends one Transition per source: this row's is the last one
            transition = event.transitions[source.name][-1]
            compiled.setdefault((row.source.name, row.trigger.name), []).append(
                (row, source, event, transition, _mode(engine, transition))
            )
        # advance() runs a Transition directly: that is only the same as Event.trigger
        # while the machine has no hooks of its own and no queue.
        hooks = (engine.prepare_event, engine.finalize_event, engine.on_exception)
        if any(hooks) or engine.has_queue:
            raise DefinitionError(f"{self.name}: the shared engine must have no machine-level hooks")
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_compiled", {k: tuple(v) for k, v in compiled.items()})
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

    def _pick(self, state: S, trigger: T, branch: Enum | None) -> _Compiled[S, T]:
        """The compiled entry of the row that ``trigger`` with ``branch`` takes from ``state``, or raise."""
        entries = self._compiled.get((state._name_, trigger._name_))
        if entries is None or entries[0][0].source is not state or entries[0][0].trigger is not trigger:
            raise InvalidTrigger(self.name, state, trigger)
        if len(entries) == 1 and entries[0][0].when is None:
            return entries[0]
        for entry in entries:
            if entry[0].when is branch:
                return entry
        shown = "none" if branch is None else branch.value
        raise InvalidTrigger(self.name, state, trigger, f"no transition for the case '{shown}' from this state")

    def select(self, state: S, trigger: T, branch: Enum | None) -> Transition[S, T]:
        """The row that ``trigger`` with ``branch`` takes from ``state``, or raise."""
        return self._pick(state, trigger, branch)[0]

    def advance(self, model: Any, state: S, trigger: T, branch: Enum | None) -> Transition[S, T]:
        """:meth:`select` the row for the model's ``state`` and run it; raises before any change.

        ``state`` must be the model's current state (the caller read it already).
        Returns the row that ran.
        """
        row, source, event, transition, mode = self._pick(state, trigger, branch)
        if mode is _SILENT:
            # All that transitions would do for this row is ``setattr(model, "state", dest)``
            # (see _mode); its EventData and the callback walk around it were 18% of an event.
            if transition.dest:
                model.state = row.dest
            return row
        event_data = EventData(source, event, self._engine, model, (), {"branch": row.when})
        event_data.transition = transition
        if mode is _PLAIN:
            # All that Transition.execute would do for a row with no callbacks of its own: its one
            # condition (``branch is row.when``) is what _pick just matched, and without callbacks
            # only the state change is left, run by transitions (exit, set_state, enter, on_final).
            # execute's wrapping (three empty callback lists, four debug-log calls) was 13% of an
            # event's ingestion (bench/README.md).
            if transition.dest:
                transition._change_state(event_data)
        elif not transition.execute(event_data):
            raise InvalidTrigger(self.name, state, trigger, "the engine refused the row")
        event_data.result = True
        return row

    def fire(self, model: Any, row: Transition[S, T]) -> None:
        """Run a selected row through the shared transitions engine (its own ``Event.trigger``)."""
        if (model.state, row.trigger) not in self._index:
            # transitions would raise its own MachineError: the refusal is ours to type
            raise InvalidTrigger(self.name, model.state, row.trigger)
        if not self._events[row.trigger].trigger(model, branch=row.when):
            # select() already proved the row applies; a refusal here means the
            # engine and the index disagree, which is a bug in this module.
            raise InvalidTrigger(self.name, model.state, row.trigger, "the engine refused the row")


#: One compiled row: the row, its source State, its Event, its transitions Transition, and how
#: :meth:`MachineDefinition.advance` runs it (see :func:`_mode`).
_Compiled = tuple[Transition[S, T], "State", "Event", "EngineTransition", str]

#: How a compiled row runs: through ``Transition.execute``; through ``_change_state`` only (plain);
#: or, when transitions' state change itself would run no callback, as the one assignment it makes.
_EXECUTE, _PLAIN, _SILENT = "execute", "plain", "silent"


def _mode(engine: Machine, transition: EngineTransition) -> str:
    """How :meth:`MachineDefinition.advance` may run ``transition`` and end as transitions would.

    Silent: plain, and ``_change_state`` would call no callback either: the source
    State has no ``on_exit``, the destination no ``on_enter``, and it is not a final
    state with machine ``on_final`` callbacks. Then all it does besides logging is
    ``setattr(model, engine.model_attribute, dest)``.
    """
    if not _plain(engine, transition):
        return _EXECUTE
    if transition.dest is None:
        return _SILENT  # an internal row: no exit, no enter, no state change
    source, dest = engine.get_state(transition.source), engine.get_state(transition.dest)
    quiet = not source.on_exit and not dest.on_enter and not (dest.final and engine.on_final)
    return _SILENT if quiet and engine.model_attribute == "state" else _PLAIN


def _plain(engine: Machine, transition: EngineTransition) -> bool:
    """Whether ``transition`` has no callbacks, nor the machine any around a state change.

    Then its ``execute`` amounts to its conditions and ``_change_state``. The
    conditions :func:`_branch_condition` adds only test the branch that
    :meth:`MachineDefinition._pick` selects rows by; any other condition makes
    the row not plain.
    """
    ours = all(c.func in _BRANCH_CONDITIONS and c.target is True for c in transition.conditions)
    hooks = (transition.prepare, transition.before, transition.after)
    return ours and not any(hooks) and not engine.before_state_change and not engine.after_state_change


def build_table(*groups: Iterable[Transition[S, T]]) -> tuple[Transition[S, T], ...]:
    """Concatenate table sections (kept as separate literal blocks for reading)."""
    return tuple(row for group in groups for row in group)
