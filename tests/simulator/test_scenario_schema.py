"""``scenario.schema.json`` and the attrs classes that structure scenario files say the same thing.

The expected side is always the schema file, read as JSON; the code side is
``attrs.fields`` of the document's classes and what the cattrs converter
accepts when probed with values the schema allows or forbids. A field added,
renamed, made optional or given another default on one side only fails here,
and so does a range, an enum or a length the code does not enforce.

The schema is read by ``jsonschema`` (Draft 2020-12, the schema's own
``$schema``). A keyword that validator would not enforce (a misspelt one is
an annotation to it) fails a test here, so that no rule in the file is
silently ignored.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import attrs
import jsonschema
import pytest
import yaml
from cattrs.errors import BaseValidationError
from hypothesis import assume, given
from hypothesis import strategies as st

from adapters.simulator import ScenarioError, SimulatorConfig, load_scenario, parse_scenario
from adapters.simulator.scenario_document import ScenarioDocument, User, converter
from adapters.simulator.scenario_script import SCENARIO_STEPS
from adapters.simulator.scenario_steps import STEP_ARGUMENTS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "adapters" / "simulator" / "scenario.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
STEP_DEFS: dict[str, Any] = SCHEMA["$defs"]["steps"]


# -- the schema, read by jsonschema ---------------------------------------------------------------------------

_ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default"}
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """A node with its ``$ref`` (a local JSON pointer) merged in, the node's own keys winning."""
    if "$ref" not in node:
        return node
    target: Any = SCHEMA
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}


def schema_errors(value: object) -> list[str]:
    """What the schema says is wrong with ``value``: an empty list when it is valid."""
    return [f"{error.json_path}: {error.message}" for error in VALIDATOR.iter_errors(value)]


def _keywords(node: Mapping[str, Any], seen: set[str] | None = None) -> set[str]:
    """Every keyword of every subschema reachable from ``node`` (through ``$ref`` too)."""
    seen = set() if seen is None else seen
    found = set(node)
    children: list[Any] = [*node.get("properties", {}).values(), *node.get("oneOf", []), *node.get("anyOf", [])]
    children += [node[key] for key in ("items", "additionalProperties") if isinstance(node.get(key), dict)]
    ref = node.get("$ref")
    if ref is not None and ref not in seen:
        seen.add(ref)
        target: Any = SCHEMA
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        children.append(target)
    for child in children:
        found |= _keywords(child, seen)
    return found


def test_the_schema_is_a_schema_and_every_keyword_in_it_is_enforced() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    ignored = _keywords(SCHEMA) - set(jsonschema.Draft202012Validator.VALIDATORS) - _ANNOTATIONS
    assert not ignored, f"keywords the validator would not enforce: {ignored}"


def test_the_validator_can_fail() -> None:
    # the validator itself, on what the schema plainly says
    assert schema_errors({"steps": ["busy"]}) == []
    assert schema_errors({"steeps": []})
    assert schema_errors({"steps": [{"answer_after": {"delay": -1}}]})
    assert schema_errors({"steps": [{"forward": {}}]})
    assert schema_errors({"steps": ["forward"]})  # not among the bare names: it needs a 'to'
    assert schema_errors({"faults": {"duplicate": 2}})
    assert schema_errors({"profile": "lync2010"})


# -- the code side, as JSON types -----------------------------------------------------------------------------


def json_types(type_: Any) -> set[str]:
    """The JSON types a field of this Python type holds (``X | None`` adds null)."""
    if get_origin(type_) in (Union, types.UnionType):
        return set().union(*(json_types(arg) for arg in get_args(type_)))
    if type_ is type(None):
        return {"null"}
    if get_origin(type_) is tuple:
        return {"array"}
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        return {"string"}
    if attrs.has(type_):
        return {"object"}
    base = getattr(type_, "__supertype__", type_)  # a NewType of str is a string
    return {bool: {"boolean"}, int: {"integer"}, float: {"number"}, str: {"string"}}[base]


def fields_of(cls: type[Any]) -> dict[str, attrs.Attribute[Any]]:
    return {f.name: f for f in attrs.fields(attrs.resolve_types(cls))}


def accepted(cls: type[Any], arguments: dict[str, Any]) -> bool:
    try:
        converter.structure(arguments, cls)
    except (BaseValidationError, ValueError, TypeError):
        return False
    return True


#: One value of each JSON type, for probing what a field refuses.
SAMPLES: dict[str, object] = {
    "string": "s",
    "number": 1.5,
    "integer": 2,
    "boolean": True,
    "null": None,
    "array": [],
    "object": {},
}


def valid_value(node: Mapping[str, Any]) -> object:
    """A value the schema node allows, chosen from the node alone."""
    node = _resolve(node)
    if "enum" in node:
        return node["enum"][0]
    kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
    kind = kinds[0]
    if kind in ("number", "integer"):
        return node.get("minimum", 0)
    if kind == "string":
        return "x" * max(node.get("minLength", 0), 1)
    return {"boolean": False, "array": [], "object": {}, "null": None}[kind]


def base_arguments(step: str) -> dict[str, Any]:
    """A step's required arguments with values its schema allows."""
    definition = STEP_DEFS[step]
    return {name: valid_value(definition["properties"][name]) for name in definition.get("required", [])}


# -- steps ----------------------------------------------------------------------------------------------------


def test_the_same_steps_in_the_schema_and_the_code() -> None:
    assert list(STEP_DEFS) == list(STEP_ARGUMENTS)  # the order errors list them in ("known: ...")
    one_of = SCHEMA["properties"]["steps"]["items"]["oneOf"]
    keyed = [next(iter(branch["required"])) for branch in one_of if branch["type"] == "object"]
    assert keyed == list(STEP_DEFS)


@pytest.mark.parametrize("step", list(STEP_DEFS))
def test_a_step_has_the_schemas_arguments(step: str) -> None:
    definition = STEP_DEFS[step]
    fields = fields_of(STEP_ARGUMENTS[step])
    assert set(fields) == set(definition["properties"])
    assert {n for n, f in fields.items() if f.default is attrs.NOTHING} == set(definition.get("required", []))
    assert definition["additionalProperties"] is False
    # null (or the bare name) means "every default": allowed exactly when nothing is required
    nullable = "null" in definition["type"]
    assert nullable == (not definition.get("required"))
    bare = set(SCHEMA["properties"]["steps"]["items"]["oneOf"][-1]["enum"])
    assert (step in bare) == nullable
    assert accepted(STEP_ARGUMENTS[step], base_arguments(step))
    assert not accepted(STEP_ARGUMENTS[step], {**base_arguments(step), "not_in_the_schema": 1})


STEP_PROPERTIES = [(step, name) for step, d in STEP_DEFS.items() for name in d["properties"]]


@pytest.mark.parametrize(("step", "name"), STEP_PROPERTIES, ids=[f"{s}.{n}" for s, n in STEP_PROPERTIES])
def test_an_argument_has_the_schemas_type_and_default(step: str, name: str) -> None:
    node = _resolve(STEP_DEFS[step]["properties"][name])
    field = fields_of(STEP_ARGUMENTS[step])[name]
    schema_types = {node["type"]} if isinstance(node["type"], str) else set(node["type"])
    code_types = json_types(field.type)
    if field.default is None and "null" not in schema_types:
        code_types.discard("null")  # null and absent mean the same: the schema may leave null out
    assert code_types == schema_types
    if "default" in node:
        assert field.default == node["default"]
    if isinstance(field.type, type) and issubclass(field.type, enum.Enum):
        assert [m.value for m in field.type] == node["enum"]


@pytest.mark.parametrize(("step", "name"), STEP_PROPERTIES, ids=[f"{s}.{n}" for s, n in STEP_PROPERTIES])
def test_an_argument_refuses_what_the_schema_refuses(step: str, name: str) -> None:
    node = _resolve(STEP_DEFS[step]["properties"][name])
    cls, base = STEP_ARGUMENTS[step], base_arguments(step)
    field = fields_of(cls)[name]

    def takes(value: object) -> bool:
        return accepted(cls, {**base, name: value})

    assert takes(valid_value(node))
    schema_types = {node["type"]} if isinstance(node["type"], str) else set(node["type"])
    for kind, sample in SAMPLES.items():
        if kind in schema_types or (kind == "integer" and "number" in schema_types):
            continue
        if kind == "null" and field.default is None:
            continue  # null is the default: taken, as the schema leaves it out
        assert not takes(sample), f"{kind} {sample!r}"
    for value in node.get("enum", []):
        assert takes(value)
    if "enum" in node:
        assert not takes("NotInTheSchema")
    if "minimum" in node:
        assert takes(node["minimum"])
        assert not takes(node["minimum"] - (1 if "integer" in schema_types else 0.5))
    if "maximum" in node:
        assert not takes(node["maximum"] + 0.5)
    if "string" in schema_types and "enum" not in node:
        assert takes("") == (node.get("minLength", 0) == 0)
    if "maxLength" in node:
        assert takes("x" * node["maxLength"])
        assert not takes("x" * (node["maxLength"] + 1))
    if "items" in node:
        item = _resolve(node["items"])
        assert takes([valid_value(item)])
        if item.get("minLength"):
            assert not takes([""])


def test_a_step_takes_what_its_script_call_takes() -> None:
    # the Script calls are the Python side of the same steps: same names, same defaults
    for step, method in SCENARIO_STEPS.items():
        parameters = {p.name: p.default for p in inspect.signature(method).parameters.values() if p.name != "self"}
        fields = {n: f.default for n, f in fields_of(STEP_ARGUMENTS[step]).items()}
        unset = {n for n, d in parameters.items() if d is inspect.Parameter.empty}
        assert set(fields) == set(parameters), step
        assert {n for n, d in fields.items() if d is attrs.NOTHING} == unset, step
        for n in set(parameters) - unset:
            assert fields[n] == parameters[n], (step, n)


# -- the document ---------------------------------------------------------------------------------------------


def test_the_document_has_the_schemas_fields() -> None:
    top = SCHEMA["properties"]
    assert set(fields_of(ScenarioDocument)) == set(top)
    assert SCHEMA["additionalProperties"] is False
    assert set(fields_of(User)) == set(top["user"]["properties"])
    assert top["user"]["additionalProperties"] is False
    assert set(attrs.fields_dict(SimulatorConfig().faults.__class__)) == set(top["faults"]["properties"])
    for name, field in fields_of(ScenarioDocument).items():
        node = _resolve(top[name])
        code_types = json_types(field.type) - {"null"}  # every top-level key may be left out
        assert code_types == {node["type"]}, name
        union = get_origin(field.type) in (Union, types.UnionType)
        given: Any
        (given,) = [a for a in get_args(field.type) if a is not type(None)] if union else [field.type]
        is_enum = isinstance(given, type) and issubclass(given, enum.Enum)
        assert is_enum == ("enum" in node), name
        if is_enum:
            assert [m.value for m in given] == node["enum"], name


@pytest.mark.parametrize(
    "document",
    [
        {"seed": "7"},
        {"seed": 1.5},
        {"description": 5},
        {"profile": "lync2010"},
        {"events": "inline"},
        {"completion": "never"},
        {"user": {"name": ""}},
        {"user": {"email": "a@b"}},
        {"faults": {"duplicate": 1.5}},
        {"faults": {"duplicate": -0.1}},
        {"faults": {"max_delay": -1}},
        {"faults": {"typo": 0.1}},
        {"steps": {}},
        {"steps": [5]},
        {"steps": [{"busy": None, "decline": None}]},
        {"steps": [{"ring_forever": None}]},
        {"steps": [{"busy": 5}]},
    ],
)
def test_the_document_refuses_what_the_schema_refuses(document: dict[str, Any]) -> None:
    assert schema_errors(document)
    with pytest.raises(ScenarioError, match=r"^\$"):  # said at a JSON path
        parse_scenario(document)


# -- every scenario in the repository -------------------------------------------------------------------------


def _readme_scenarios() -> list[tuple[str, object]]:
    """The YAML blocks of the simulator's README that are scenarios (they have ``steps``)."""
    text = (ROOT / "adapters" / "simulator" / "README.md").read_text()
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    return [(f"README.md yaml block {i}", b) for i, b in enumerate(blocks) if isinstance(b, dict) and "steps" in b]


def _corpus_scenarios() -> list[tuple[str, object]]:
    """The corpus files the manifest says are accepted."""
    manifest = json.loads((ROOT / "tests" / "corpus" / "MANIFEST.json").read_text())
    entries = manifest.get("files", manifest)
    return [
        (name, yaml.safe_load((ROOT / "tests" / "corpus" / name).read_text()))
        for name, entry in entries.items()
        if isinstance(entry, dict) and entry.get("parser") == "scenario" and entry["expect"].startswith("accepted")
    ]


REPO_SCENARIOS = [
    ("example-scenario.yaml", yaml.safe_load((ROOT / "adapters" / "simulator" / "example-scenario.yaml").read_text())),
    *_readme_scenarios(),
    *_corpus_scenarios(),
]


def test_the_repository_has_the_scenarios_this_test_expects() -> None:
    # the example, the README's block and the corpus baseline: a lookup that finds none would pass vacuously
    assert len(REPO_SCENARIOS) >= 3


@pytest.mark.parametrize(("name", "document"), REPO_SCENARIOS, ids=[n for n, _ in REPO_SCENARIOS])
def test_every_scenario_in_the_repository_is_valid_both_ways(name: str, document: object) -> None:
    assert schema_errors(document) == []
    scenario = parse_scenario(document)
    assert isinstance(document, dict)
    assert [s.name for s in scenario.steps] == [next(iter(s)) if isinstance(s, dict) else s for s in document["steps"]]


def test_the_example_file_loads() -> None:
    scenario = load_scenario(ROOT / "adapters" / "simulator" / "example-scenario.yaml")
    # the file says: seed 7, the ucwa profile, Ada as the user, six steps
    assert (scenario.seed, scenario.profile, scenario.user_name, len(scenario.steps)) == (7, "ucwa", "Ada Example", 6)


# -- the schema and the code agree on generated documents -----------------------------------------------------


def from_schema(node: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Documents the schema node allows, built from the node alone (long strings and big numbers capped)."""
    node = _resolve(node)
    if "oneOf" in node:
        return st.one_of([from_schema(branch) for branch in node["oneOf"]])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kinds = [node["type"]] if isinstance(node["type"], str) else node["type"]
    return st.one_of([_of_type(kind, node) for kind in kinds])


def _of_type(kind: str, node: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    low, high = node.get("minimum"), node.get("maximum")
    if kind == "integer":
        return st.integers(min_value=low, max_value=high if high is not None else 2**40)
    if kind == "number":
        return st.floats(min_value=low if low is not None else -1e6, max_value=high if high is not None else 1e6)
    if kind == "string":
        return st.text(min_size=node.get("minLength", 0), max_size=min(node.get("maxLength", 12), 12))
    if kind == "array":
        return st.lists(from_schema(node["items"]), max_size=4)
    if kind == "object":
        properties = {name: from_schema(sub) for name, sub in node.get("properties", {}).items()}
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {n: s for n, s in properties.items() if n in required},
            optional={n: s for n, s in properties.items() if n not in required},
        )
    return {"null": st.none(), "boolean": st.booleans()}[kind]


#: What the schema cannot say and a step's Script call refuses when the scenario is dry-run:
#: a (code, subcode) outside the documented catalogue (docs/protocol.md §5.1), a first message
#: on an audio/video call, and a fail_undocumented code of blanks (the schema has no "not blank").
SCRIPT_ONLY = re.compile(
    r"^steps\[\d+\] \((fail|incoming_call|fail_undocumented)\): "
    r"(\(.*\) is not in the documented reason catalogue|message is the text of a messaging invitation"
    r"|code must be a non-empty string)"
)


@given(document=from_schema(SCHEMA))
def test_what_the_schema_allows_the_code_reads(document: dict[str, Any]) -> None:
    assert schema_errors(document) == []
    try:
        parse_scenario(document)
        refusal = None
    except ScenarioError as refused:
        refusal = str(refused)
    assert refusal is None or SCRIPT_ONLY.match(refusal), refusal


def _paths(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _replaced(document: Any, path: tuple[Any, ...], value: object) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


ODD_VALUES = [None, True, -1, 1.5, "", "x", [], {}, 2**70, ["x"], {"x": 1}]


@given(document=from_schema(SCHEMA), data=st.data())
def test_what_the_schema_refuses_the_code_refuses(document: dict[str, Any], data: st.DataObject) -> None:
    paths = _paths(document)
    assume(paths)
    path = data.draw(st.sampled_from(paths))
    value = data.draw(st.sampled_from(ODD_VALUES))
    mutated = _replaced(document, path, value)
    assume(schema_errors(mutated))
    try:
        parse_scenario(mutated)
    except ScenarioError:
        return
    # the one looseness on purpose: null where the schema leaves it out of an optional
    # argument whose default is null (absent and null mean the same)
    assert value is None, (path, value)
