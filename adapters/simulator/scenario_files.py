"""Scenario files: a JSON or YAML document of Script calls, read, checked and applied.

Reading a file is its own job, apart from the calls
(:mod:`adapters.simulator.scenario_script`) and the document's grammar
(:mod:`adapters.simulator.scenario_document`): YAML without aliases, one-line
errors that name the file and the JSON path, and a dry run of every step when
the file is read rather than when a server starts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from attrs import frozen
from cattrs.errors import BaseValidationError

from adapters.simulator.faults import FaultConfig, FaultKind
from adapters.simulator.scenario_document import ScenarioDocument, User, converter
from adapters.simulator.scenario_errors import ScenarioError, one_line, scenario_error
from adapters.simulator.scenario_remote import Happening, RenegotiationReply, ScriptedPlan
from adapters.simulator.scenario_script import Script
from adapters.simulator.scenario_steps import Step


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
                raise ScenarioError(f"steps[{index}] ({step.name}): {one_line(str(exc))}") from None


def parse_scenario(document: object) -> Scenario:
    """A scenario from its JSON-shaped document (see ``scenario.schema.json``), structured by cattrs."""
    try:
        parsed = converter.structure(document, ScenarioDocument)
    except (BaseValidationError, ValueError, TypeError) as exc:
        raise scenario_error(exc) from None
    user = parsed.user or User()
    scenario = Scenario(
        parsed.steps,
        parsed.seed,
        parsed.faults,
        user.name,
        user.uri,
        profile=None if parsed.profile is None else parsed.profile.value,
        events=None if parsed.events is None else parsed.events.value,
        completion=None if parsed.completion is None else parsed.completion.value,
    )
    scenario.apply(Script(_DryRun()))  # what only the Script call checks, checked now rather than when a server starts
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
