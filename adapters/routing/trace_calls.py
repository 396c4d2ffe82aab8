"""A call record's arguments: read back from what a trigger returned, and turned into a trigger call again.

The writer (:mod:`adapters.routing.trace`) sees a local trigger's effect, not its call, so it
rebuilds the arguments from the actions and the model (:func:`call_args`; the trace module's doc,
"Arguments of a call", says what is found where); replay turns them back into the trigger's typed
keywords (:func:`call_kwargs`, :func:`local_trigger`). Both directions are here so they stay each
other's inverse.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any

from adapters.routing.trace_format import ModelRef, _why, converter
from fsm.actions import Actions
from fsm.model import FsmModel


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _jsonable(value: object) -> Any:
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def call_args(model: FsmModel, trigger: str, actions: Actions) -> dict[str, Any]:
    """The trigger's arguments (``now`` aside) as far as its actions and the model keep them (module doc)."""
    method = getattr(type(model), trigger, None)
    if method is None:
        return {}
    action = actions[0] if actions else None
    properties: dict[str, Any] = dict(getattr(action, "properties", ()) or ())
    rules = getattr(model, "rules", None)
    args: dict[str, Any] = {}
    for name, param in inspect.signature(method).parameters.items():
        if name in ("self", "now") or param.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        if action is not None and name in ("href", "operation_id", "sdp") and hasattr(action, name):
            value = getattr(action, name)
        elif name == "to" and rules is not None and rules.target_property in properties:
            value = properties[rules.target_property]
        elif _camel(name) in properties:
            value = properties[_camel(name)]
        elif name in ("deadline", "lobby_deadline"):
            value = getattr(model, name, None)
        else:
            continue
        if value is not None and value != param.default:
            args[name] = _jsonable(value)
    return args


def local_trigger(model: FsmModel, name: str) -> typing.Callable[..., Actions]:
    """``model``'s local trigger ``name`` (a call in a trace may name no other); ``ValueError`` otherwise."""
    local = {str(t.value) for t in model.DEFINITION.local_triggers}
    if name not in local:
        raise ValueError(f"{name!r} is not a local trigger of {model.machine} (those: {', '.join(sorted(local))})")
    return typing.cast(typing.Callable[..., Actions], getattr(model, name))


def call_kwargs(model: FsmModel, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """A call's JSON arguments as the trigger's typed keywords (enums back from their values); a value that
    does not fit its parameter's type is a ``ValueError``, so the trigger never sees it."""
    method = getattr(type(model), name)
    hints = typing.get_type_hints(method)
    required = [
        p.name
        for p in inspect.signature(method).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty and p.name != "now"
    ]
    missing = [p for p in required if p not in args]
    if missing:
        raise ValueError(f"{model.machine}.{name} needs {', '.join(missing)}, which the call does not give")
    out: dict[str, Any] = {}
    for key, value in args.items():
        if key == "now" or key not in hints:
            raise ValueError(f"{model.machine}.{name} takes no argument {key!r}")
        if type(value) in (str, int, float, bool) and type(value) in (typing.get_args(hints[key]) or (hints[key],)):
            out[key] = value  # a plain value the parameter takes as it is (``importance`` by its wire name)
            continue
        try:
            out[key] = converter.structure(value, hints[key])
        except Exception as exc:
            why = f"{key}={value!r} does not fit {hints[key]}: {_why(exc)}"
            raise ValueError(f"{model.machine}.{name}: {why}") from None
    return out


def model_ref(model: FsmModel) -> ModelRef:
    kind = getattr(model, "kind", None)
    href = getattr(model, "href", None)
    operation_id = getattr(model, "operation_id", None)
    return ModelRef(
        model.machine,
        href if isinstance(href, str) else None,
        operation_id if isinstance(operation_id, str) else None,
        kind.value if isinstance(kind, Enum) else None,
    )


__all__ = ["call_args", "call_kwargs", "local_trigger", "model_ref"]
