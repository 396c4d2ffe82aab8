"""The scenario document's grammar: attrs classes and the strict cattrs converter that structures them.

:class:`ScenarioDocument` is the top-level object of ``scenario.schema.json``;
its ``steps`` are one-key objects (or bare names) whose arguments are the
classes of :mod:`adapters.simulator.scenario_steps`. The converter runs with
``detailed_validation`` and ``forbid_extra_keys`` and never converts a value
into another type: cattrs would take ``"1"`` for a number, ``"yes"`` for a
boolean and iterate ``"abc"`` into three sub-meetings, where a scenario must
refuse them. Its errors become one-line :class:`ScenarioError` messages with
the document's JSON path in :mod:`adapters.simulator.scenario_errors`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, NewType

import attrs
import cattrs
from attrs import frozen
from cattrs.gen import make_dict_structure_fn

from adapters.simulator.faults import FaultConfig
from adapters.simulator.profiles import Completion, EventShape, ProfileName
from adapters.simulator.scenario_checks import shown
from adapters.simulator.scenario_steps import STEP_ARGUMENTS, Step

#: A string with at least one character (the schema's ``minLength: 1``).
NonEmpty = NewType("NonEmpty", str)


@frozen
class User:
    name: NonEmpty | None = None
    uri: NonEmpty | None = None


@frozen
class ScenarioDocument:
    """A scenario file's top-level object, in the order its fields are checked (and errors reported)."""

    seed: int | None = None
    faults: FaultConfig | None = None
    user: User | None = None
    profile: ProfileName | None = None
    events: EventShape | None = None
    completion: Completion | None = None
    steps: tuple[Step, ...] = ()
    description: str | None = None


class Expected(ValueError):
    """A value of the wrong kind: ``what`` it should have been, and what it was."""

    def __init__(self, what: str, got: object) -> None:
        super().__init__(f"{what}, got {shown(got)}")
        self.what = what
        self.got = got


class StepArgumentsError(ValueError):
    """A step whose arguments are not an object; the message is said at ``$.steps[i].<step>``."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


#: What a class's value must be, said when it is not an object at all.
_OBJECTS: dict[type[Any], str] = {
    ScenarioDocument: "a scenario is an object with a 'steps' list",
    User: "an object with 'name' and/or 'uri'",
    FaultConfig: "an object of fault rates",
}

converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)


def _exactly(kind: type[Any], what: str) -> Callable[[object, Any], Any]:
    def hook(value: object, _: Any) -> Any:
        if type(value) is not kind:
            raise Expected(what, value)
        return value

    return hook


def _number(value: object, _: Any) -> object:
    # kept as given (an int no float can hold stays an int): the validators say "finite, >= 0"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Expected("a number", value)
    return value


def _nonempty(value: object, _: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Expected("a non-empty string", value)
    return value


def _enum_hook(cls: type[enum.Enum]) -> Callable[[object, Any], enum.Enum]:
    values = {member.value: member for member in cls}

    def hook(value: object, _: Any) -> enum.Enum:
        if isinstance(value, str) and value in values:
            return values[value]
        raise Expected(f"one of {', '.join(values)}", value)

    return hook


def _object_hook(cls: type[Any]) -> Callable[[object, Any], Any]:
    inner = make_dict_structure_fn(cls, converter)
    what = _OBJECTS.get(cls, "an object")

    def hook(value: object, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise Expected(what, value)
        return inner(value, cls)

    return hook


def _list_only(type_: Any, what: str) -> Callable[[object, Any], Any]:
    inner = converter.get_structure_hook(type_)

    def hook(value: object, _: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise Expected(what, value)
        return inner(value, type_)

    return hook


def _step(value: object, _: Any) -> Step:
    """A step: ``{name: arguments}``, ``{name: null}`` or the bare ``name``."""
    given = {value: None} if isinstance(value, str) else value
    if not isinstance(given, Mapping) or len(given) != 1:
        raise ValueError("a step is an object with exactly one key, the step's name")
    ((name, arguments),) = given.items()
    cls = STEP_ARGUMENTS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown step {shown(name)}; known: {', '.join(STEP_ARGUMENTS)}")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise StepArgumentsError(name, "the arguments are an object (or null)")
    call = converter.structure(arguments, cls)
    return Step(name, converter.unstructure(call))


converter.register_structure_hook(str, _exactly(str, "a string"))
converter.register_structure_hook(int, _exactly(int, "an integer"))
converter.register_structure_hook(bool, _exactly(bool, "true or false"))
converter.register_structure_hook(float, _number)
converter.register_structure_hook(NonEmpty, _nonempty)
converter.register_structure_hook_factory(lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _enum_hook)
converter.register_structure_hook_factory(attrs.has, _object_hook)
converter.register_structure_hook(Step, _step)


def _is(expected: Any) -> Callable[[Any], bool]:
    return lambda type_: bool(type_ == expected)


for _type, _what in ((tuple[Step, ...], "a list of steps"), (tuple[str, ...], "a list of strings")):
    converter.register_structure_hook_func(_is(_type), _list_only(_type, _what))

