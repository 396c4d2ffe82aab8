"""Snapshot and restore of live models, through cattrs and JSON.

A snapshot is plain data::

    {"format": "callfsm.snapshot", "version": 1, "machine": "invitation", "model": {...}}

The model is unstructured by cattrs field by field (enums by value), with its
history as ``[source, trigger, dest, reason, at]`` rows and its pending
deadlines included. Restoring checks the format, the version and the machine
name first, so a snapshot from another format or a newer version is refused
with a :class:`~fsm.errors.SnapshotError` that says which, not with a
traceback from deep inside cattrs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cattrs import Converter, transform_error
from cattrs.errors import BaseValidationError, ClassValidationError

from fsm.engine import Step
from fsm.errors import SnapshotError
from fsm.model import FsmModel
from fsm.registry import MODELS

FORMAT = "callfsm.snapshot"
VERSION = 1

#: version -> function that upgrades a snapshot's ``model`` dict from that version
#: to the next one. Version 1 is the first: nothing to upgrade yet.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

converter = Converter()


def snapshot(model: FsmModel) -> dict[str, Any]:
    """The model as JSON-ready data."""
    data: dict[str, Any] = converter.unstructure(model)
    data["history"] = [
        [step.source.value, step.trigger.value, step.dest.value, step.reason, step.at] for step in model.history
    ]
    return {"format": FORMAT, "version": VERSION, "machine": model.machine, "model": data}


def restore(data: Any) -> FsmModel:
    """Rebuild a model from :func:`snapshot` output; raises :class:`SnapshotError`."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SnapshotError(f"not a callfsm snapshot (expected format {FORMAT!r})")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise SnapshotError(f"snapshot has no valid version: {version!r}")
    if version > VERSION:
        raise SnapshotError(f"snapshot version {version} is newer than this callfsm understands ({VERSION})")
    machine = data.get("machine")
    cls = MODELS.get(machine) if isinstance(machine, str) else None
    if cls is None:
        raise SnapshotError(f"snapshot names an unknown machine: {machine!r} (known: {sorted(MODELS)})")
    body = data.get("model")
    if not isinstance(body, dict):
        raise SnapshotError(f"{machine} snapshot has no model object")
    body = dict(body)
    for old in range(version, VERSION):
        body = MIGRATIONS[old](body)
    definition = cls.DEFINITION
    try:
        rows = body.pop("history", [])
        history = [
            Step(definition.states(src), definition.triggers(trig), definition.states(dst), reason, float(at))
            for src, trig, dst, reason, at in rows
        ]
        model = converter.structure(body, cls)
    except (BaseValidationError, ClassValidationError) as exc:
        raise SnapshotError(f"{machine} snapshot does not fit the model: {'; '.join(transform_error(exc))}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise SnapshotError(f"{machine} snapshot is malformed: {exc}") from None
    model.history = history
    return model


def dumps(model: FsmModel) -> str:
    return json.dumps(snapshot(model), sort_keys=True)


def loads(text: str | bytes) -> FsmModel:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"snapshot is not JSON: {exc}") from None
    return restore(data)
