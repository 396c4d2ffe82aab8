"""Snapshot and restore of live models, through cattrs and JSON.

Theory of operation
-------------------
A snapshot is plain data::

    {"format": "callfsm.snapshot", "version": 1, "machine": "invitation", "model": {...}}

The model is unstructured by cattrs field by field (enums by value), with its
history as ``[source, trigger, dest, reason, at]`` rows and its pending
deadlines included. Restoring checks the format, the version and the machine
name first, so a snapshot from another format or a newer version is refused
with a :class:`~fsm.errors.SnapshotError` that says which, not with a
traceback from deep inside cattrs.

Versions. A snapshot older than :data:`VERSION` is upgraded one step at a
time by :data:`MIGRATIONS` (``MIGRATIONS[n]`` turns a version ``n`` model dict
into a version ``n + 1`` one); a missing step, or a step that fails, is a
:class:`~fsm.errors.SnapshotError` naming both versions. A newer snapshot is
refused: this code cannot know what the newer fields mean.

Strict structuring. A snapshot may come from a file someone edited or from
another program, so restoring never converts: a string field must hold a
string (cattrs would turn ``5`` into ``"5"``), a boolean a boolean (``"yes"``
is not ``True``), a record an object, a tuple an array, a deadline a finite
number, and a field the model does not have is refused. Whatever the input,
:func:`restore` and :func:`loads` return a model or raise
:class:`~fsm.errors.SnapshotError`; nothing else escapes (deep nesting and
5000-digit numbers included).

Validation. A snapshot that fits the model's types may still describe a
model no trigger sequence could have made; restoring refuses it with a
:class:`~fsm.errors.SnapshotError` saying what is wrong:

- the history is a chain (each step starts where the one before ended), every
  step is a row of the machine's table, and it ends in the model's ``state``;
- a model that settled (an invitation or a join Connected, hanging up or ended,
  any machine in a terminal state) carries an outcome, and the outcome agrees
  with the state (Connected succeeded; Declined, Cancelled, Failed did not);
- every time (history ``at``, deadlines) is a finite number;
- ``operation_id`` holds at most 50 characters, the documented limit of
  ``operationId`` (docs/protocol.md §1.3); any other text at most
  :data:`MAX_TEXT` characters, links at most :data:`MAX_LINKS` per
  representation, the history at most :data:`MAX_HISTORY` steps. These three
  bounds are [U] choices (the documentation sets none): each is far above
  what a live call reaches, and keeps a hostile snapshot from costing memory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Final, get_args, get_origin

import attrs
from cattrs import Converter, transform_error
from cattrs.errors import BaseValidationError, ClassValidationError
from cattrs.gen import make_dict_structure_fn
from cattrs.v import format_exception

from fsm.engine import Step
from fsm.errors import SnapshotError
from fsm.invitation import MAX_LENGTHS, InvitationState
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingState
from fsm.registry import MODELS
from fsm.wire import json_kind

FORMAT = "callfsm.snapshot"
VERSION = 1

#: version -> function that upgrades a snapshot's ``model`` dict from that version
#: to the next one. Version 1 is the first: nothing to upgrade yet.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

converter = Converter(forbid_extra_keys=True)

#: Most steps a restored history may hold. A call's own steps number in the tens; [U] choice.
MAX_HISTORY: Final = 4096
#: Most characters any other text field may hold (hrefs, reasons, messages); [U] choice.
MAX_TEXT: Final = 16 * 1024
#: Most links one representation may carry; the documented link tables have at most ~20 (§1.4); [U] choice.
MAX_LINKS: Final = 512
#: The documented maximum length of ``operationId`` (docs/protocol.md §1.3).
MAX_OPERATION_ID: Final = MAX_LENGTHS["operationId"]

#: States reached only once the operation settled: the model must carry an outcome saying whether it
#: succeeded. Terminal states of every machine are added to these; the value is the outcome's ``success``
#: (``None``: either). Keyed by enum members, so a renamed state breaks this table loudly.
_SETTLED: Final[Mapping[str, Mapping[Enum, bool | None]]] = {
    "invitation": {
        InvitationState.CONNECTED: True,
        InvitationState.CANCEL_CROSSED: True,
        InvitationState.HANGING_UP: True,
        InvitationState.HUNG_UP: True,
        InvitationState.DECLINED: False,
        InvitationState.CANCELLED: False,
        InvitationState.FAILED: False,
    },
    "online_meeting": {
        OnlineMeetingState.CONNECTED: True,
        OnlineMeetingState.CANCEL_CROSSED: True,
        OnlineMeetingState.HANGING_UP: True,
        OnlineMeetingState.HUNG_UP: True,
        OnlineMeetingState.CANCELLED: False,
        OnlineMeetingState.FAILED: False,
    },
}




def _format(exc: BaseException, type_: type | None) -> str:
    # our hooks' messages already say what was wrong ("expected a string, got a number")
    if isinstance(exc, TypeError | ValueError) and str(exc).startswith("expected"):
        return str(exc)
    return format_exception(exc, type_)


def _strict_str(value: object, _: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {json_kind(value)}")
    return value


def _strict_bool(value: object, _: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {json_kind(value)}")
    return value


def _strict_int(value: object, _: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {json_kind(value)}")
    return value


def _finite_float(value: object, _: object) -> float:
    # every float a model holds is a time on the caller's clock, and the triggers refuse
    # non-finite deadlines: a restored model must not hold one either
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {json_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _is_tuple(type_: Any) -> bool:
    return get_origin(type_) is tuple


def _tuple_hook(type_: Any) -> Callable[[object, Any], tuple[Any, ...]]:
    args = get_args(type_)
    item = args[0] if args else Any

    def structure(value: object, _: Any) -> tuple[Any, ...]:
        # cattrs would iterate a string into a tuple of characters
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected an array, got {json_kind(value)}")
        return tuple(converter.structure(entry, item) for entry in value)

    return structure


def _record_hook(cls: type[Any]) -> Callable[[object, Any], Any]:
    inner = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True)

    def structure(value: object, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object for {cls.__name__}, got {json_kind(value)}")
        return inner(value, cls)

    return structure


converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(float, _finite_float)
converter.register_structure_hook_factory(_is_tuple, _tuple_hook)
converter.register_structure_hook_factory(attrs.has, _record_hook)


def snapshot(model: FsmModel) -> dict[str, Any]:
    """The model as JSON-ready data."""
    data: dict[str, Any] = converter.unstructure(model)
    data["history"] = [
        [step.source.value, step.trigger.value, step.dest.value, step.reason, step.at] for step in model.history
    ]
    return {"format": FORMAT, "version": VERSION, "machine": model.machine, "model": data}


def check_version(data: Mapping[str, Any], *, what: str, current: int) -> int:
    """The snapshot's version, refused with a clear :class:`SnapshotError` unless 1 <= version <= ``current``."""
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SnapshotError(f"{what} has no valid version: {version!r} (expected an integer from 1)")
    if version > current:
        raise SnapshotError(
            f"{what} version {version} is newer than this callfsm understands ({current}): "
            "restore it with the callfsm that wrote it, or a newer one"
        )
    return version


def migrate(
    body: dict[str, Any],
    version: int,
    current: int,
    migrations: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]],
    *,
    what: str,
) -> dict[str, Any]:
    """Upgrade ``body`` from ``version`` to ``current`` one step at a time; a missing or failing step is refused."""
    for old in range(version, current):
        step = migrations.get(old)
        if step is None:
            raise SnapshotError(
                f"{what} version {version} is older than this callfsm ({current}) and cannot be upgraded: "
                f"no migration from version {old} to {old + 1}"
            )
        try:
            body = step(dict(body))
        except SnapshotError:
            raise
        except Exception as exc:  # a migration reads data it did not write: any failure is the snapshot's
            raise SnapshotError(
                f"{what} version {version} could not be upgraded from version {old} to {old + 1}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(body, dict):
            raise SnapshotError(f"{what}: the migration from version {old} did not give an object")
    return body


def _history(rows: object, cls: type[FsmModel], machine: str) -> list[Step[Any, Any]]:
    if not isinstance(rows, list):
        raise SnapshotError(f"{machine} snapshot is malformed: history is {json_kind(rows)}, not an array")
    if len(rows) > MAX_HISTORY:
        raise SnapshotError(f"{machine} snapshot: history has {len(rows)} steps, more than {MAX_HISTORY}")
    definition = cls.DEFINITION
    out: list[Step[Any, Any]] = []
    for number, row in enumerate(rows):
        where = f"{machine} snapshot is malformed: history[{number}]"
        if not isinstance(row, list) or len(row) != 5:
            raise SnapshotError(f"{where} must be [source, trigger, dest, reason, at], got {json_kind(row)}")
        source, trigger, dest, reason, at = row
        if not all(isinstance(name, str) for name in (source, trigger, dest)):
            raise SnapshotError(f"{where}: source, trigger and dest must be strings")
        if reason is not None and not isinstance(reason, str):
            raise SnapshotError(f"{where}: reason must be a string or null, got {json_kind(reason)}")
        if isinstance(at, bool) or not isinstance(at, int | float):
            raise SnapshotError(f"{where}: at must be a number, got {json_kind(at)}")
        try:
            finite = math.isfinite(at)
        except OverflowError:  # an int no float can hold
            finite = False
        if not finite:
            raise SnapshotError(f"{where}: at must be a finite time, got {at!r}")
        if reason is not None and len(reason) > MAX_TEXT:
            raise SnapshotError(f"{where}: reason longer than {MAX_TEXT} characters")
        try:
            states, triggers = definition.states, definition.triggers
            step = Step(states(source), triggers(trigger), states(dest), reason, float(at))
        except (ValueError, OverflowError) as exc:
            raise SnapshotError(f"{where}: {exc}") from None
        out.append(step)
    return out


def restore(data: Any) -> FsmModel:
    """Rebuild a model from :func:`snapshot` output; raises :class:`SnapshotError` only."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SnapshotError(f"not a callfsm snapshot (expected format {FORMAT!r})")
    version = check_version(data, what="snapshot", current=VERSION)
    machine = data.get("machine")
    cls = MODELS.get(machine) if isinstance(machine, str) else None
    if cls is None:
        raise SnapshotError(f"snapshot names an unknown machine: {machine!r} (known: {sorted(MODELS)})")
    body = data.get("model")
    if not isinstance(body, dict):
        raise SnapshotError(f"{machine} snapshot has no model object")
    body = migrate(dict(body), version, VERSION, MIGRATIONS, what=f"{machine} snapshot")
    history = _history(body.pop("history", []), cls, cls.DEFINITION.name)
    try:
        model = converter.structure(body, cls)
    except (BaseValidationError, ClassValidationError) as exc:
        why = "; ".join(transform_error(exc, format_exception=_format))
        raise SnapshotError(f"{machine} snapshot does not fit the model: {why}") from None
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        raise SnapshotError(f"{machine} snapshot is malformed: {type(exc).__name__}: {exc}") from None
    model.history = history
    _validate(model)
    return model


def _validate(model: FsmModel) -> None:
    """Refuse a model whose fields contradict each other or exceed the documented limits."""
    machine = model.machine
    definition = model.DEFINITION
    state = model.state  # type: ignore[attr-defined]
    rows = {(row.source, row.trigger, row.dest) for row in definition.table}
    previous = None
    for number, step in enumerate(model.history):
        where = f"{machine} snapshot: history[{number}]"
        if (step.source, step.trigger, step.dest) not in rows:
            move = f"{step.source.value} --{step.trigger.value}--> {step.dest.value}"
            raise SnapshotError(f"{where}: {move} is no transition of the table")
        if previous is not None and step.source is not previous:
            raise SnapshotError(f"{where} starts in {step.source.value}, but the step before ended in {previous.value}")
        previous = step.dest
    if previous is not None and previous is not state:
        raise SnapshotError(f"{machine} snapshot: state is {state.value}, but the history ends in {previous.value}")
    if hasattr(model, "outcome"):
        settled: dict[Enum, bool | None] = dict.fromkeys(definition.terminal)
        settled.update(_SETTLED.get(machine, {}))
        outcome = model.outcome
        if state in settled:
            if outcome is None:
                raise SnapshotError(f"{machine} snapshot: state {state.value} has no outcome (it settled)")
            wanted = settled[state]
            if wanted is not None and outcome.success is not wanted:
                verdict = "succeeded" if outcome.success else "failed"
                raise SnapshotError(f"{machine} snapshot: state {state.value}, but the outcome says it {verdict}")
    for name in ("operation_id",):
        value = getattr(model, name, None)
        if isinstance(value, str) and len(value) > MAX_OPERATION_ID:
            raise SnapshotError(
                f"{machine} snapshot: operation_id has {len(value)} characters, more than the documented "
                f"{MAX_OPERATION_ID} (operationId)"
            )
    _check_texts(model, machine, 0)


def _check_texts(value: object, where: str, depth: int) -> None:
    """Every string inside ``value`` within :data:`MAX_TEXT`, every links tuple within :data:`MAX_LINKS`."""
    if depth > 16:  # models are a few records deep; the converter already refused deeper input
        return
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise SnapshotError(f"{where}: {len(value)} characters, more than {MAX_TEXT}")
        return
    if isinstance(value, Enum | bool | int | float) or value is None:
        return
    cls: Any = type(value)
    if attrs.has(cls):
        for attribute in attrs.fields(cls):
            if attribute.name == "history":
                continue  # checked row by row
            item = getattr(value, attribute.name)
            here = f"{where}.{attribute.name}"
            if attribute.name == "operation_id" and isinstance(item, str) and len(item) > MAX_OPERATION_ID:
                raise SnapshotError(
                    f"{here}: {len(item)} characters, more than the documented {MAX_OPERATION_ID} (operationId)"
                )
            if attribute.name == "links" and isinstance(item, tuple) and len(item) > MAX_LINKS:
                raise SnapshotError(f"{here}: {len(item)} links, more than {MAX_LINKS}")
            _check_texts(item, here, depth + 1)
        return
    if isinstance(value, list | tuple):
        for number, item in enumerate(value):
            _check_texts(item, f"{where}[{number}]", depth + 1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_texts(key, where, depth + 1)
            _check_texts(item, f"{where}.{key}", depth + 1)


def dumps(model: FsmModel) -> str:
    return json.dumps(snapshot(model), sort_keys=True)


def loads(text: str | bytes) -> FsmModel:
    """A model from :func:`dumps` text; raises :class:`SnapshotError` only."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        # ValueError also covers CPython's limit on integer digits
        raise SnapshotError(f"snapshot is not JSON: {exc}") from None
    except RecursionError:
        raise SnapshotError("snapshot is not JSON this reader accepts: nested too deeply") from None
    except TypeError as exc:
        raise SnapshotError(f"snapshot must be text or bytes, not {type(text).__name__}") from exc
    return restore(data)
