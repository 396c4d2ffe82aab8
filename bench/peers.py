"""The reference implementations the suite measures callfsm against.

Theory of operation
-------------------
Every reference runs the SAME machine: it is generated from callfsm's own
literal table (:data:`fsm.invitation.TABLE`), so states, triggers, guard
branches and absorbing rows are identical, and only the way the table is
executed differs. Each reference exposes the same two things:

* ``new()``: create one model, registration included (what "create" costs);
* ``path(models, branches)``: drive each model through the realistic path
  ``send, started(Connecting), updated(Alerting), completed(Success)``.

The references receive the guard branch already decided (``branch=...``):
that is the least an app using the raw library must compute itself, so the
comparison charges callfsm for everything it does beyond the engine
(payload classification, history, actions, link checks).

* :class:`DictFloor` - a hand-written dict transition table and a slotted
  object: the floor for pure Python.
* :class:`RawTransitions` - the issue's row: one shared
  ``transitions.Machine`` with ``add_model``, ``auto_transitions=False`` and
  ``model_override=True`` (the model declares typed trigger stubs, which
  ``add_model`` replaces by bound partials). ``Machine.models`` is a list, so
  ``add_model`` is a linear scan; :func:`RawTransitions.fill` registers a
  large population through an identity-set membership test instead (the
  work-around of transitions #146), which produces exactly the objects
  ``add_model`` produces, so memory can be measured at 100,000 models without
  paying the quadratic fill. transitions' "Skip binding" warnings are
  silenced (the reference only gets faster: ~10 µs per LogRecord).
* :class:`PythonStateMachine` - python-statemachine (3.x), one machine per
  model (``model=obj``), guards as ``cond`` callables.
* :class:`Automat` - automat's ``TypeMachineBuilder``. It has no guards: each
  (trigger, branch) pair becomes its own input, which is how automat's docs
  say to branch.
* :class:`IngestFloor` - ``json.loads`` + dict-table dispatch of event-channel
  bodies: the floor of the ingestion figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from typing import Any, Protocol

from fsm.invitation import INVITATION, TABLE, InvitationState, InvitationTrigger

S = InvitationState
T = InvitationTrigger

#: The realistic path every reference runs, as (trigger, branch) pairs.
#: ``started`` and ``updated`` are guarded by the progress state the event
#: carries, ``completed`` by its completion class; ``send`` is unguarded.
PATH_TRIGGERS: tuple[T, ...] = (T.SEND, T.STARTED, T.UPDATED, T.COMPLETED)


class Reference(Protocol):
    name: str

    def new(self) -> Any: ...

    def path(self, models: Sequence[Any], branches: Sequence[Enum | None]) -> None: ...


def _rows_by_pair() -> dict[tuple[S, T], list[Any]]:
    rows: dict[tuple[S, T], list[Any]] = {}
    for row in TABLE:
        rows.setdefault((row.source, row.trigger), []).append(row)
    return rows


# -- the floor -------------------------------------------------------------------


class FloorInvitation:
    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = S.IDLE


class DictFloor:
    """``{(state, trigger): dest}``, or ``{branch: dest}`` for guarded pairs."""

    name = "dict-table floor"

    def __init__(self) -> None:
        table: dict[tuple[S, T], Any] = {}
        for pair, rows in _rows_by_pair().items():
            if len(rows) == 1 and rows[0].when is None:
                table[pair] = rows[0].dest
            else:
                table[pair] = {row.when: row.dest for row in rows}
        self.table = table

    def new(self) -> FloorInvitation:
        return FloorInvitation()

    def fire(self, model: FloorInvitation, trigger: T, branch: Enum | None) -> None:
        dest = self.table.get((model.state, trigger))
        if dest is None:
            raise ValueError(f"{trigger} not allowed from {model.state}")
        if type(dest) is dict:
            dest = dest[branch]
        model.state = dest

    def path(self, models: Sequence[FloorInvitation], branches: Sequence[Enum | None]) -> None:
        fire = self.fire
        b_send, b_started, b_updated, b_completed = branches
        for m in models:
            fire(m, T.SEND, b_send)
            fire(m, T.STARTED, b_started)
            fire(m, T.UPDATED, b_updated)
            fire(m, T.COMPLETED, b_completed)


# -- raw transitions, shared Machine ------------------------------------------------


def _branch_condition(branch: Enum) -> Callable[[Any], bool]:
    # The same guard form as callfsm's engine, so both run identical conditions.
    def condition(event_data: Any) -> bool:
        return bool(event_data.kwargs.get("branch") is branch)

    return condition


def _stub(name: str) -> Callable[..., bool]:
    def stub(self: Any, *args: Any, **kwargs: Any) -> bool:
        raise RuntimeError(f"{name}: the model is not registered with a Machine")

    stub.__name__ = stub.__qualname__ = name
    return stub


#: The model declares its trigger methods (typed stubs), as an app does so that
#: mypy sees them; with ``model_override=True`` ``add_model`` binds exactly those.
RAW_STUB_NAMES: tuple[str, ...] = tuple(t.value for t in T)

#: A model with the typed stubs that ``add_model`` replaces by bound partials.
RawInvitation: type = type(
    "RawInvitation",
    (),
    {"__doc__": "Typed trigger stubs, for model_override=True.", **{n: _stub(n) for n in RAW_STUB_NAMES}},
)


class _IdentityMembership:
    """Stands in for ``Machine.models`` during :meth:`RawTransitions.fill`.

    ``in`` is a set lookup by identity (the work-around of transitions #146);
    ``append`` goes to the real list, which is put back afterwards, so the
    Machine ends up with exactly the list that ``add_model`` would have built.
    """

    def __init__(self, backing: list[Any]) -> None:
        self.backing = backing
        self.ids = {id(x) for x in backing}

    def append(self, item: Any) -> None:
        self.ids.add(id(item))
        self.backing.append(item)

    def __contains__(self, item: object) -> bool:
        return id(item) in self.ids


class RawTransitions:
    """One shared ``transitions.Machine``: add_model, auto_transitions=False, model_override=True."""

    name = "raw transitions, shared Machine"

    def __init__(self) -> None:
        import logging

        from transitions import Machine

        # add_model logs a warning for every name it does not bind (is_<state>,
        # may_<trigger>, ...: 30 per model here), and a LogRecord costs ~10 µs.
        # An app would silence that logger rather than pay for it, so we do too:
        # it only makes the reference faster. (callfsm never logs at WARNING.)
        logging.getLogger("transitions.core").setLevel(logging.ERROR)
        machine = Machine(
            model=None,
            states=S,
            initial=INVITATION.initial,
            auto_transitions=False,
            model_override=True,
            send_event=True,
        )
        for row in TABLE:
            machine.add_transition(
                row.trigger.value,
                row.source,
                None if row.absorb else row.dest,
                conditions=[_branch_condition(row.when)] if row.when is not None else [],
            )
        self.machine = machine

    def new(self) -> Any:
        model = RawInvitation()
        self.machine.add_model(model)
        return model

    def fill(self, count: int) -> list[Any]:
        """Register ``count`` models as add_model would, without the list scan; returns them."""
        machine: Any = self.machine
        backing = machine.models
        machine.models = _IdentityMembership(backing)
        made = []
        try:
            for _ in range(count):
                model = RawInvitation()
                machine.add_model(model)
                made.append(model)
        finally:
            machine.models = backing
        return made

    def reset(self, models: Iterable[Any]) -> None:
        for model in models:
            self.machine.set_state(S.IDLE, model)

    def path(self, models: Sequence[Any], branches: Sequence[Enum | None]) -> None:
        b_send, b_started, b_updated, b_completed = branches
        for m in models:
            m.send(branch=b_send)
            m.started(branch=b_started)
            m.updated(branch=b_updated)
            m.completed(branch=b_completed)

    def drive(self, model: Any, trigger: T, branch: Enum | None) -> None:
        getattr(model, trigger.value)(branch=branch)


# -- python-statemachine ----------------------------------------------------------


class PsmInvitation:
    """The plain domain object python-statemachine writes its state into."""

    def __init__(self) -> None:
        self.state: Any = None


class PythonStateMachine:
    """python-statemachine: one StateMachine per model, guards as ``cond`` callables."""

    name = "python-statemachine"

    def __init__(self) -> None:
        from statemachine import State, StateMachine

        states = {s: State(s.value, value=s, initial=s is INVITATION.initial) for s in S}
        attrs: dict[str, Any] = {f"st_{s.name.lower()}": states[s] for s in S}
        events: dict[T, Any] = {}
        for row in TABLE:
            source, dest = states[row.source], states[row.dest]
            cond: list[Callable[..., bool]] = []
            if row.when is not None:
                cond = [self._condition(row.when)]
            edge = source.to.itself(internal=True, cond=cond) if row.absorb else source.to(dest, cond=cond)  # type: ignore[no-untyped-call]
            events[row.trigger] = edge if row.trigger not in events else events[row.trigger] | edge
        # ``send`` is a StateMachine method: events get a prefix.
        for trigger, edges in events.items():
            attrs[f"ev_{trigger.value}"] = edges
        self.cls: Any = type("PsmInvitationMachine", (StateMachine,), attrs)

    @staticmethod
    def _condition(branch: Enum) -> Callable[..., bool]:
        # python-statemachine injects the trigger's keyword arguments by name.
        def condition(*args: Any, **kwargs: Any) -> bool:
            return kwargs.get("branch") is branch

        return condition

    def new(self) -> Any:
        return self.cls(model=PsmInvitation())

    def path(self, models: Sequence[Any], branches: Sequence[Enum | None]) -> None:
        b_send, b_started, b_updated, b_completed = branches
        for m in models:
            m.ev_send(branch=b_send)
            m.ev_started(branch=b_started)
            m.ev_updated(branch=b_updated)
            m.ev_completed(branch=b_completed)

    def reset(self, models: Iterable[Any]) -> None:
        # The machine reads its state from the model's field on every event.
        for machine in models:
            machine.model.state = INVITATION.initial


# -- automat ---------------------------------------------------------------------


def _input_name(trigger: T, branch: Enum | None) -> str:
    return trigger.value if branch is None else f"{trigger.value}__{branch.name.lower()}"


class AutomatCore:
    __slots__ = ()


class Automat:
    """automat ``TypeMachineBuilder``: one input per (trigger, branch), no guards."""

    name = "automat TypeMachine"

    def __init__(self) -> None:
        from automat import TypeMachineBuilder

        names = sorted({_input_name(row.trigger, row.when) for row in TABLE})
        protocol = type("InvitationInputs", (Protocol,), {n: stub_named(n) for n in names})
        builder = TypeMachineBuilder(protocol, AutomatCore)
        # The first state built is the initial one.
        order = [INVITATION.initial, *[s for s in S if s is not INVITATION.initial]]
        states = {s: builder.state(s.value) for s in order}
        for row in TABLE:
            method = getattr(protocol, _input_name(row.trigger, row.when))
            edge = states[row.source].upon(method)
            (edge.loop() if row.absorb else edge.to(states[row.dest])).returns(None)
        self.factory = builder.build()
        self.protocol = protocol

    def new(self) -> Any:
        return self.factory(AutomatCore())

    def path(self, models: Sequence[Any], branches: Sequence[Enum | None]) -> None:
        send, started, updated, completed = (_input_name(t, b) for t, b in zip(PATH_TRIGGERS, branches, strict=True))
        for m in models:
            getattr(m, send)()
            getattr(m, started)()
            getattr(m, updated)()
            getattr(m, completed)()


def stub_named(name: str) -> Callable[[Any], None]:
    def stub(self: Any) -> None: ...

    stub.__name__ = stub.__qualname__ = name
    return stub


# -- ingestion floor -----------------------------------------------------------------


class FloorCall:
    __slots__ = ("history", "state")

    def __init__(self) -> None:
        self.state = INVITATION.initial
        self.history: list[tuple[Any, ...]] = []


class IngestFloor:
    """``json.loads`` + dict-table dispatch: the floor of event ingestion.

    Routes each event by its link href (creating a model for an unknown one),
    turns the event type into a trigger and the embedded state (or the status)
    into the guard branch, applies the dict-table transition and records a
    history tuple. No validation, no typed values, no error handling.
    """

    name = "json.loads + dict floor"

    def __init__(self) -> None:
        from fsm.outcome import Completion

        self.table = DictFloor().table
        self.calls: dict[str, FloorCall] = {}
        self.types = {"started": T.STARTED, "updated": T.UPDATED, "completed": T.COMPLETED}
        self.progress = {s.value.lower(): s for s in (S.CONNECTING, S.ALERTING, S.TEAM_RING, S.FORWARDED)}
        self.final = {c.value.lower(): c for c in Completion if c is not Completion.UNDETERMINED}
        self.success = Completion.CONNECTED
        self.failure = Completion.FAILED
        self.undetermined = Completion.UNDETERMINED

    def feed(self, body: bytes, now: float) -> int:
        import json

        doc = json.loads(body)
        applied = 0
        for sender in doc["sender"]:
            for event in sender["events"]:
                trigger = self.types.get(event["type"])
                if trigger is None:
                    continue
                href = event["link"]["href"]
                state = None
                for resource in event.get("_embedded", {}).values():
                    state = resource.get("state")
                call = self.calls.get(href)
                if call is None:
                    call = self.calls[href] = FloorCall()
                branch: Enum | None
                if trigger is T.COMPLETED:
                    branch = self.final.get(state.lower()) if state else None
                    if branch is None:
                        status = event.get("status")
                        branch = (
                            self.success
                            if status == "Success"
                            else self.failure
                            if status == "Failure"
                            else self.undetermined
                        )
                else:
                    branch = self.progress.get(state.lower()) if state else None
                dest = self.table.get((call.state, trigger))
                if dest is None:
                    continue
                if type(dest) is dict:
                    dest = dest.get(branch)
                    if dest is None:
                        continue
                call.history.append((call.state, trigger, dest, now))
                call.state = dest
                applied += 1
        return applied
