"""Scenario errors: cattrs' validation errors said in one line, at the document's JSON path.

cattrs reports every problem of a document as a tree of exception groups whose
notes name the attribute or index at each level. A scenario author wants one
line that says where and why, in the shapes the simulator has always used:

- ``$.seed: an integer, got '1'`` for the document's own fields and objects;
- ``$.steps[0]: unknown step 'x'; ...`` for a step's shape or name;
- ``$.steps[0].answer_after: answer_after has no argument 'delai'; it takes
  delay, kind`` for the arguments' keys (unknown or missing);
- ``steps[0] (answer_after): delay must be ...`` for an argument's value, the
  same form a step's Script call reports when the scenario is dry-run.

The first problem in document order is said (an unknown top-level key before
all), followed by how many more there are. Separate from the document's
grammar so that the grammar reads as data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import attrs
from attrs import frozen
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from adapters.simulator.scenario_checks import shown
from adapters.simulator.scenario_document import Expected, StepArgumentsError
from adapters.simulator.scenario_steps import STEP_NAMES


class ScenarioError(ValueError):
    """A scenario file that cannot be used: says where and why, in one line."""


#: Line breaks and other control characters: a value quoted in a message must not break its line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with its control characters escaped as Python would (``\\n``), the rest as given."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


Path = tuple[str | int, ...]


@frozen
class _Problem:
    #: Attribute names and list indexes from the document's root to the value.
    path: Path
    error: BaseException
    #: The attrs class being structured when it happened (the step's arguments, a user...), if any.
    owner: type[Any] | None


def _notes(error: BaseException) -> Path:
    for note in getattr(error, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return (note.name,)
        if isinstance(note, IterableValidationNote):
            return (note.index,)
    return ()


def _problems(error: BaseException, path: Path, owner: type[Any] | None) -> Iterator[_Problem]:
    if isinstance(error, ClassValidationError | IterableValidationError):
        inner_owner = error.cl if isinstance(error, ClassValidationError) else owner
        for sub in error.exceptions:
            yield from _problems(sub, path + _notes(sub), inner_owner)
    else:
        yield _Problem(path, error, owner)


def _json_path(path: Path) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


def _keys(keys: set[Any]) -> list[str]:
    # a YAML mapping may have keys of several types: sorting their reprs never fails
    return sorted(shown(key) for key in keys)


def _say(problem: _Problem) -> str:
    path, error, owner = problem.path, problem.error, problem.owner
    step = STEP_NAMES.get(owner) if owner is not None else None
    if step is not None and len(path) >= 2 and isinstance(path[1], int):
        return _say_in_step(step, path[1], path[2:], error, owner)
    where = _json_path(path)
    if isinstance(error, StepArgumentsError):
        return f"{where}.{error.step}: {error}"
    if isinstance(error, ForbiddenExtraKeysError) and owner is not None:
        known = ", ".join(sorted(f.name for f in attrs.fields(owner)))
        return f"{where}: unknown key {_keys(error.extra_fields)[0]}; known: {known}"
    if isinstance(error, KeyError):
        return f"{where}: missing"
    return f"{where}: {error}"


def _say_in_step(step: str, index: int, inside: Path, error: BaseException, owner: type[Any] | None) -> str:
    if isinstance(error, ForbiddenExtraKeysError) and owner is not None:
        takes = ", ".join(sorted(f.name for f in attrs.fields(owner))) or "none"
        return f"$.steps[{index}].{step}: {step} has no argument {_keys(error.extra_fields)[0]}; it takes {takes}"
    if isinstance(error, KeyError) and inside:
        return f"$.steps[{index}].{step}: {step}: missing a required argument: {inside[0]!r}"
    argument = "".join(f"[{part}]" if isinstance(part, int) else str(part) for part in inside)
    if isinstance(error, Expected) and argument:
        return f"steps[{index}] ({step}): {argument} must be {error}"
    return f"steps[{index}] ({step}): {error}"


def scenario_error(error: BaseException) -> ScenarioError:
    """The first problem cattrs (or a hook) found, said where it is, and how many more there are."""
    problems = list(_problems(error, (), None)) if isinstance(error, BaseValidationError) else []
    if not problems:
        problems = [_Problem((), error, None)]
    first = next((p for p in problems if not p.path and isinstance(p.error, ForbiddenExtraKeysError)), problems[0])
    more = len(problems) - 1
    return ScenarioError(one_line(_say(first)) + (f" (and {more} more)" if more else ""))
