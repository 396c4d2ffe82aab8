"""cattrs for the leaf records of an event response: links and reasons, with a strict string hook.

A wrong type in a link or a reason is an error that names its JSON path instead of a silent ``str()``
conversion; ``reason.parameters`` and ``debugInfo``, which have no documented shape, are read
tolerantly. The converter is apart from the walk because a UCWA error body's reason
(:mod:`adapters.wire.ucwa_errors`) is structured by it too, through :func:`parse_reason_object`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypeVar

import cattrs
from cattrs.gen import make_dict_structure_fn, override

from adapters.wire.event_model import ReasonBody, ReasonParameter
from adapters.wire.parse_errors import ParseError, _Fail
from fsm.wire import json_kind

_converter = cattrs.Converter(forbid_extra_keys=False)


class _ShapeError(ValueError):
    """Raised by the structure hooks: its message is already the clear one."""


def _strict_str(value: object, _: object) -> str:
    if not isinstance(value, str):
        raise _ShapeError(f"expected a string, got {json_kind(value)}")
    return value


def _param_value(value: object) -> str | None:
    """Text kept as it is; any other JSON value as its canonical JSON text (no documented shape to check)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _opaque_text(value: object, _: object) -> str | None:
    """``debugInfo``: read like a parameter's value (the cattrs hook's signature)."""
    return _param_value(value)


def _parameters(value: object, _: object) -> tuple[ReasonParameter, ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return tuple(ReasonParameter(str(k), _param_value(v)) for k, v in value.items())
    if isinstance(value, list):
        out: list[ReasonParameter] = []
        for item in value:
            if isinstance(item, str):
                out.append(ReasonParameter(item))
            elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
                out.append(ReasonParameter(item["name"], _param_value(item.get("value"))))
            else:
                raise _ShapeError(f"a parameter must be a name or a {{name, value}} object, got {json_kind(item)}")
        return tuple(out)
    raise _ShapeError(f"expected an array or an object, got {json_kind(value)}")


_converter.register_structure_hook(str, _strict_str)
_converter.register_structure_hook(
    ReasonBody,
    make_dict_structure_fn(
        ReasonBody,
        _converter,
        debug_info=override(rename="debugInfo", struct_hook=_opaque_text),
        parameters=override(struct_hook=_parameters),
    ),
)

R = TypeVar("R")


def _structure(raw: object, cls: type[R], path: str) -> R:
    """cattrs, with its errors turned into a message that names the path."""
    if not isinstance(raw, Mapping):
        raise _Fail(path, f"expected an object, got {json_kind(raw)}")
    try:
        return _converter.structure(raw, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            first = cattrs.transform_error(exc, path=path, format_exception=_format)[0]
            why, _, where = first.rpartition(" @ ")
            raise _Fail(where or path, why or first) from None
        raise _Fail(path, str(exc)) from None


def _format(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, _ShapeError):
        return str(exc)
    # cattrs says "invalid value for type, expected str | None"; keep it, minus the jargon
    return cattrs.v.format_exception(exc, type_).replace("invalid value for type, ", "wrong type, ")


def parse_reason_object(raw: object, path: str = "$") -> ReasonBody:
    """A ``reason`` object (JSON shape) as a :class:`ReasonBody`; raises :class:`ParseError`."""
    try:
        return _structure(raw, ReasonBody, path)
    except _Fail as fail:
        raise ParseError("reason", fail.where, fail.why) from None
