"""A bad scenario file is refused in one line that says where (its JSON path) and why.

The paths are the ones the simulator has always printed (adapters/simulator/README.md,
"Scenario files"), now read from cattrs' validation errors:

- ``$``, ``$.seed``, ``$.user.name``, ``$.faults.duplicate``: the document's own
  fields, at their JSON path;
- ``$.steps[i]``: the shape or the name of the i-th step (counted from 0);
- ``$.steps[i].<step>``: the keys of its arguments (unknown or missing);
- ``steps[i] (<step>)``: the value of one of its arguments, named in the
  message, the same form a Script call reports when the scenario is dry-run.

Each expected message below is written from the document in the test: which
entry is wrong, and what the schema (or the step's documented call) says.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.simulator import ScenarioError, load_scenario, parse_scenario

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "adapters" / "simulator" / "scenario.schema.json").read_text()
)


def refusal(document: object) -> str:
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(document)
    message = str(refused.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # the document itself
        ([], "$: a scenario is an object with a 'steps' list, got []"),
        ({"steeps": []}, "$: unknown key 'steeps'; known: "),
        ({"seed": "7"}, "$.seed: an integer, got '7'"),
        ({"seed": True}, "$.seed: an integer, got True"),
        ({"description": 5}, "$.description: a string, got 5"),
        ({"profile": "lync2010"}, "$.profile: one of ucwa, online, saas, got 'lync2010'"),
        ({"events": "inline"}, "$.events: one of embedded, links, got 'inline'"),
        ({"completion": "never"}, "$.completion: one of event, updated, got 'never'"),
        ({"user": "ada"}, "$.user: an object with 'name' and/or 'uri', got 'ada'"),
        ({"user": {"name": ""}}, "$.user.name: a non-empty string, got ''"),
        ({"user": {"uri": 5}}, "$.user.uri: a non-empty string, got 5"),
        ({"user": {"email": "a@b"}}, "$.user: unknown key 'email'; known: name, uri"),
        ({"faults": [0.1]}, "$.faults: an object of fault rates, got [0.1]"),
        ({"faults": {"duplicate": "often"}}, "$.faults.duplicate: a number, got 'often'"),
        ({"faults": {"duplicate": 2}}, "$.faults: fault rate duplicate must be a number from 0 to 1, got 2"),
        ({"faults": {"typo": 0.1}}, "$.faults: unknown key 'typo'; known: application_not_found, delay, "),
        # a step's shape and name
        ({"steps": {"busy": None}}, "$.steps: a list of steps, got {'busy': None}"),
        ({"steps": ["busy", 5]}, "$.steps[1]: a step is an object with exactly one key, the step's name"),
        ({"steps": ["busy", "busy", {}]}, "$.steps[2]: a step is an object with exactly one key"),
        ({"steps": [{"busy": None, "decline": None}]}, "$.steps[0]: a step is an object with exactly one key"),
        ({"steps": ["busy", {"ring_forever": {}}]}, "$.steps[1]: unknown step 'ring_forever'; known: answer_after, "),
        ({"steps": [{"__class__": {}}]}, "$.steps[0]: unknown step '__class__'"),
        # the keys of a step's arguments
        ({"steps": [{"busy": 5}]}, "$.steps[0].busy: the arguments are an object (or null)"),
        (
            {"steps": ["busy", {"answer_after": {"delai": 1}}]},
            "$.steps[1].answer_after: answer_after has no argument 'delai'; it takes delay, kind",
        ),
        (
            {"steps": [{"expire_application": {"now": True}}]},
            "$.steps[0].expire_application: expire_application has no argument 'now'; it takes none",
        ),
        ({"steps": ["forward"]}, "$.steps[0].forward: forward: missing a required argument: 'to'"),
        (
            {"steps": [{"incoming_message": None}]},
            "$.steps[0].incoming_message: incoming_message: missing a required argument: 'text'",
        ),
        # the value of an argument
        (
            {"steps": ["busy", {"answer_after": {"delay": -1}}]},
            "steps[1] (answer_after): delay must be a finite number of seconds >= 0, got -1",
        ),
        ({"steps": [{"answer_after": {"delay": "1"}}]}, "steps[0] (answer_after): delay must be a number, got '1'"),
        ({"steps": [{"busy": {"after": True}}]}, "steps[0] (busy): after must be a number, got True"),
        ({"steps": [{"busy": {"after": 10**400}}]}, "steps[0] (busy): after must be a finite number of seconds >= 0"),
        ({"steps": [{"busy": {"kind": "video"}}]}, "steps[0] (busy): unknown invitation kind 'video'"),
        ({"steps": [{"decline": {"code": "Nope"}}]}, "steps[0] (decline): unknown reason code 'Nope'"),
        (
            {"steps": [{"decline": {"subcode": ""}}]},
            "steps[0] (decline): subcode must be a non-empty string or null, got ''",
        ),
        ({"steps": [{"decline": {"message": 5}}]}, "steps[0] (decline): message must be a string, got 5"),
        (
            {"steps": [{"series": {"conference_id": "1", "held": "yes"}}]},
            "steps[0] (series): held must be true or false, got 'yes'",
        ),
        (
            {"steps": [{"series": {"conference_id": "1", "sub_meetings": "abc"}}]},
            "steps[0] (series): sub_meetings must be a list of strings, got 'abc'",
        ),
        (
            {"steps": [{"series": {"conference_id": "1", "sub_meetings": ["a", ""]}}]},
            "steps[0] (series): sub_meetings[1] must be a non-empty string, got ''",
        ),
        (
            {"steps": [{"series": {"conference_id": "1", "sub_meetings": ["a", 2]}}]},
            "steps[0] (series): sub_meetings[1] must be a string, got 2",
        ),
        ({"steps": [{"fault_next": {"fault": "slow"}}]}, "steps[0] (fault_next): fault must be one of duplicate, "),
        ({"steps": [{"fail_next": {"times": 0}}]}, "steps[0] (fail_next): times must be an integer >= 1, got 0"),
        ({"steps": [{"fail_next": {"times": 1.5}}]}, "steps[0] (fail_next): times must be an integer, got 1.5"),
        (
            {"steps": [{"incoming_message": {"text": "x" * 65537}}]},
            "steps[0] (incoming_message): a message has at most 65536 characters",
        ),
        # what only the step's Script call knows, said the same way when the file is read
        (
            {"steps": ["busy", {"fail": {"code": "RemoteFailure", "subcode": "Nope"}}]},
            "steps[1] (fail): (RemoteFailure, Nope) is not in the documented reason catalogue",
        ),
        (
            {"steps": [{"incoming_call": {"kind": "audioVideo", "message": "hi"}}]},
            "steps[0] (incoming_call): message is the text of a messaging invitation",
        ),
    ],
)
def test_a_bad_scenario_is_refused_where_it_is_wrong(document: object, expected: str) -> None:
    assert refusal(document).startswith(expected)


def test_an_unknown_argument_names_what_the_step_takes_as_the_schema_lists_it() -> None:
    takes = ", ".join(sorted(SCHEMA["$defs"]["steps"]["decline"]["properties"]))
    expected = f"$.steps[0].decline: decline has no argument 'cod'; it takes {takes}"
    assert refusal({"steps": [{"decline": {"cod": "RemoteFailure"}}]}) == expected


def test_an_unknown_top_level_key_names_every_known_one_as_the_schema_lists_them() -> None:
    known = ", ".join(sorted(SCHEMA["properties"]))
    assert refusal({"steps": [], "steeps": []}) == f"$: unknown key 'steeps'; known: {known}"


def test_the_first_problem_is_said_and_the_others_counted() -> None:
    # three problems: the seed, step 0's delay, step 2's name; the first in document order is said
    document = {"seed": "x", "steps": [{"answer_after": {"delay": -1}}, "busy", "ring"]}
    assert refusal(document) == "$.seed: an integer, got 'x' (and 2 more)"


def test_an_unknown_top_level_key_is_said_before_anything_else() -> None:
    # a misspelt key is the likeliest cause of the other problems (a default where a value was meant)
    message = refusal({"seed": "x", "stepz": ["busy"]})
    assert message.startswith("$: unknown key 'stepz'")
    assert message.endswith("(and 1 more)")


def test_many_bad_steps_are_still_one_short_line() -> None:
    message = refusal({"steps": [{"answer_after": {"delay": -1}}] * 10_000})
    assert message.startswith("steps[0] (answer_after): delay must be")
    assert message.endswith("(and 9999 more)")
    assert len(message) < 200


@pytest.mark.parametrize(
    "text",
    [
        "{1: 2, x: 3, null: 4, 2.5: 5}",  # keys of four types: sorted() cannot order them
        "steps:\n  - {1: null}",  # a step named by a number
        "steps:\n  - answer_after: {1: 2, delay: 0}",
        "steps:\n  - null",
        "user: {name: [a, b]}",
    ],
)
def test_odd_yaml_keys_and_values_are_refused_not_crashed_on(text: str, tmp_path: Path) -> None:
    file = tmp_path / "odd.yaml"
    file.write_text(text)
    with pytest.raises(ScenarioError, match=rf"^{re.escape(str(file))}: (\$|steps)"):
        load_scenario(file)


def test_a_file_s_error_names_the_file_then_the_path(tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text("steps:\n  - answer_after: {delay: 0.5}\n  - decline: {code: Nope}\n")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(file)
    assert str(refused.value).startswith(f"{file}: steps[1] (decline): unknown reason code 'Nope'")


def test_a_valid_file_gives_every_argument_with_its_default(tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text("steps:\n  - busy\n  - series: {conference_id: '42', sub_meetings: [s1]}\n")
    scenario = load_scenario(file)
    # defaults from the schema's busy and series: after 0 (no wait), no kind, not held, no subject
    arguments: list[dict[str, Any]] = [dict(s.arguments) for s in scenario.steps]
    assert arguments == [
        {"after": 0.0, "kind": None},
        {"conference_id": "42", "held": False, "sub_meetings": ["s1"], "subject": None},
    ]
    assert yaml.safe_load(file.read_text())["steps"][0] == "busy"


@pytest.mark.parametrize(
    "document",
    [
        {"steps": [{"fail": {"code": "BadRequest", "subcode": "two\nlines"}}]},  # said by the Script call
        {"steps": [{"decline": {"code": "Bad\nRequest"}}]},  # said by a validator
        {"steps": [{"ring\u2028forever": None}]},  # a Unicode line separator in a step's name
    ],
)
def test_a_line_break_in_a_value_does_not_break_the_message(document: object) -> None:
    message = refusal(document)
    assert not any(c in message for c in "\n\r\u2028")
    assert "\\n" in message or "\\u2028" in message  # escaped as Python writes it, so still visible


LONG = "x" * 100_000


@pytest.mark.parametrize(
    "document",
    [
        {LONG: 1},
        {"steps": [{LONG: None}]},
        {"steps": [{"busy": {LONG: 1}}]},
        {"seed": LONG},
        {"steps": [{"decline": {"code": LONG}}]},
        {"steps": [{"decline": {"subcode": 5, "message": LONG}}]},
        {"steps": [{"fail": {"code": "RemoteFailure", "subcode": LONG}}]},
        {"steps": [{"answer_after": {"kind": LONG}}]},
        {"steps": [{"fault_next": {"fault": LONG}}]},
        {"steps": [{"forward": {"to": "sip:x", "answer_after": [LONG]}}]},
    ],
)
def test_a_huge_value_is_quoted_cut_short(document: object) -> None:
    # the simulator bounds what it reads; what it prints about it is bounded too
    assert len(refusal(document)) < 600
