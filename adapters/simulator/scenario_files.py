"""Scenario files: a JSON or YAML document of Script calls, read, checked and applied.

Separate from :mod:`adapters.simulator.scenario_script` because reading a file
is its own job: bounded YAML (no aliases), one-line errors that name the file
and the JSON path, and a dry run of every step when the file is read rather
than when a server starts.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml
from attrs import frozen

from adapters.simulator.faults import FaultConfig, FaultKind
from adapters.simulator.profiles import Completion, EventShape, ProfileName
from adapters.simulator.scenario_remote import Happening, RenegotiationReply, ScriptedPlan
from adapters.simulator.scenario_script import SCENARIO_STEPS, Script

# -- scenario files -----------------------------------------------------------------------------------


class ScenarioError(ValueError):
    """A scenario file that cannot be used: says where and why, in one line."""


@frozen
class Step:
    name: str
    arguments: Mapping[str, Any]


@frozen
class Scenario:
    """A parsed scenario: optional seed, faults, user, and the steps in order."""

    steps: tuple[Step, ...] = ()
    seed: int | None = None
    faults: FaultConfig | None = None
    user_name: str | None = None
    user_uri: str | None = None
    #: ``profile``, ``events``, ``completion``: the server the scenario was written for.
    profile: str | None = None
    events: str | None = None
    completion: str | None = None

    def apply(self, script: Script) -> None:
        """Run the steps as Script calls, in order."""
        for index, step in enumerate(self.steps):
            try:
                getattr(script, step.name)(**step.arguments)
            except (TypeError, ValueError) as exc:
                raise ScenarioError(f"steps[{index}] ({step.name}): {exc}") from None


#: Top-level switches and their allowed values (profiles.py).
_SWITCHES: Final[Mapping[str, tuple[str, ...]]] = {
    "profile": tuple(m.value for m in ProfileName),
    "events": tuple(m.value for m in EventShape),
    "completion": tuple(m.value for m in Completion),
}
_TOP_KEYS: Final = frozenset({"seed", "faults", "user", "steps", "description", *_SWITCHES})


def _check_arguments(name: str, arguments: Mapping[str, Any], where: str) -> None:
    signature = inspect.signature(SCENARIO_STEPS[name])
    params = {p for p in signature.parameters if p != "self"}
    unknown = sorted(set(arguments) - params)
    if unknown:
        raise ScenarioError(
            f"{where}: {name} has no argument {unknown[0]!r}; it takes {', '.join(sorted(params)) or 'none'}"
        )
    try:
        signature.bind(None, **arguments)
    except TypeError as exc:
        raise ScenarioError(f"{where}: {name}: {exc}") from None


def parse_scenario(document: object) -> Scenario:
    """A scenario from its JSON-shaped document (see ``scenario.schema.json``)."""
    if not isinstance(document, dict):
        raise ScenarioError("$: a scenario is an object with a 'steps' list")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise ScenarioError(f"$: unknown key {unknown[0]!r}; known: {', '.join(sorted(_TOP_KEYS))}")
    seed = document.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ScenarioError(f"$.seed: an integer, got {seed!r}")
    faults = None
    if document.get("faults") is not None:
        raw = document["faults"]
        if not isinstance(raw, dict):
            raise ScenarioError("$.faults: an object of fault rates")
        try:
            faults = FaultConfig.from_mapping(raw)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"$.faults: {exc}") from None
    user_name = user_uri = None
    if document.get("user") is not None:
        user = document["user"]
        if not isinstance(user, dict) or set(user) - {"name", "uri"}:
            raise ScenarioError("$.user: an object with 'name' and/or 'uri'")
        user_name, user_uri = user.get("name"), user.get("uri")
        for key, value in (("name", user_name), ("uri", user_uri)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ScenarioError(f"$.user.{key}: a non-empty string")
    switches: dict[str, str | None] = {}
    for key, allowed in _SWITCHES.items():
        value = document.get(key)
        if value is not None and value not in allowed:
            raise ScenarioError(f"$.{key}: one of {', '.join(allowed)}, got {value!r}")
        switches[key] = value
    raw_steps = document.get("steps", [])
    if not isinstance(raw_steps, list):
        raise ScenarioError("$.steps: a list of steps")
    steps: list[Step] = []
    for index, given in enumerate(raw_steps):
        where = f"$.steps[{index}]"
        raw_step = {given: None} if isinstance(given, str) else given
        if not isinstance(raw_step, dict) or len(raw_step) != 1:
            raise ScenarioError(f"{where}: a step is an object with exactly one key, the step's name")
        ((name, arguments),) = raw_step.items()
        if name not in SCENARIO_STEPS:
            raise ScenarioError(f"{where}: unknown step {name!r}; known: {', '.join(SCENARIO_STEPS)}")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise ScenarioError(f"{where}.{name}: the arguments are an object (or null)")
        _check_arguments(name, arguments, f"{where}.{name}")
        steps.append(Step(name, dict(arguments)))
    scenario = Scenario(tuple(steps), seed, faults, user_name, user_uri, **switches)
    scenario.apply(Script(_DryRun()))  # every argument checked now, not when a server starts
    return scenario


class _DryRun:
    """A script target that accepts everything: :func:`parse_scenario` checks the steps' arguments with it."""

    def add_plan(self, plan: ScriptedPlan) -> None:
        pass

    def add_renegotiation_reply(self, reply: RenegotiationReply) -> None:
        pass

    def add_happening(self, happening: Happening) -> None:
        pass

    def add_series(self, conference_id: str, *, held: bool, sub_meetings: Sequence[str], subject: str | None) -> None:
        pass

    def hold_series(self, conference_id: str, sub_meeting: str | None) -> None:
        pass

    def expire_applications(self) -> None:
        pass

    def force_fault(self, kind: FaultKind, times: int) -> None:
        pass


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without anchors and aliases: six nested aliases in 600 bytes are a million values."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a scenario", mark)
        return super().compose_node(parent, index)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file: ``.json`` as JSON, anything else as YAML (a JSON document is valid YAML)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{file}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        document = json.loads(text) if file.suffix.lower() == ".json" else yaml.load(text, Loader=_NoAliasLoader)
    except RecursionError:
        raise ScenarioError(f"{file}: nested too deeply") from None
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError(
            f"{file}: not valid {'JSON' if file.suffix.lower() == '.json' else 'YAML'}: {first}"
        ) from None
    try:
        return parse_scenario(document)
    except ScenarioError as exc:
        raise ScenarioError(f"{file}: {exc}") from None
