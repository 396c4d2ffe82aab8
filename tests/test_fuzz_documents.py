"""Fuzzing what is read back from files: recorded traces, snapshots and scenarios.

Each reader's contract, as its module documents it:

- :func:`adapters.routing.replay.read_records`: Records, or ReplayInputError; then
  :meth:`adapters.routing.replay.Replay.feed` never raises (violations are reported);
- :func:`fsm.snapshot.loads`: a model, or SnapshotError;
- :func:`adapters.routing.restart.load`: a ClientState, or SnapshotError;
- :func:`adapters.simulator.script.load_scenario` and ``parse_scenario``: a
  Scenario, or ScenarioError.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from fuzz_strategies import CLIENT_URL, fuzz_settings, json_values, mutated_bytes, mutated_doc, scalars, valid_docs
from hypothesis import given
from hypothesis import strategies as st

from adapters.routing import restart
from adapters.routing.dispatcher import Dispatcher
from adapters.routing.replay import Record, Replay, ReplayInputError, read_records
from adapters.simulator import script
from adapters.simulator.script import Scenario, ScenarioError
from adapters.testing.strategies import random_stream
from fsm import snapshot
from fsm.errors import SnapshotError
from fsm.model import FsmModel


@st.composite
def replay_inputs(draw: st.DrawFn) -> bytes:
    docs = [
        draw(st.one_of(valid_docs(), valid_docs().flatmap(mutated_doc), json_values))
        for _ in range(draw(st.integers(1, 3)))
    ]
    layout = draw(st.sampled_from(["lines", "array", "records", "raw"]))
    if layout == "array":
        text = json.dumps(docs, indent=draw(st.sampled_from([None, 1])))
    elif layout == "records":
        text = "\n".join(json.dumps({"t": draw(scalars), "response": d}) for d in docs)
    elif layout == "raw":
        text = "\n".join(json.dumps({"response": json.dumps(d)}) for d in docs)
    else:
        text = "\n".join(json.dumps(d) for d in docs)
    body = text.encode()
    return draw(st.just(body) | mutated_bytes(body))


@fuzz_settings
@given(data=replay_inputs())
def test_replay_input_gives_records_or_replay_input_error_and_replay_never_raises(data: bytes) -> None:
    try:
        records = read_records(data, "fuzz.jsonl")
    except ReplayInputError as exc:
        message = str(exc)
        records = None
    if records is None:
        assert message.startswith("fuzz.jsonl")  # names the file (and the line)
        return
    assert all(isinstance(record, Record) for record in records)
    run = Replay()
    for record in records:
        run.feed_record(record)
    report = run.report()
    json.dumps(report.to_json())
    assert report.responses == len(records)


@functools.cache
def live_models() -> list[FsmModel]:
    """One model of every machine in a few states: what snapshots are made of."""
    stream = random_stream(7, events=60)
    run = Replay()
    for doc in stream.responses:
        run.feed(json.dumps(doc).encode())
    return list(run.dispatcher.models)


@fuzz_settings
# deferred: built when the test runs, not when pytest collects (bench's memory baseline must see cold caches)
@given(model=st.deferred(lambda: st.sampled_from(live_models())), data=st.data())
def test_model_snapshots_load_or_raise_snapshot_error(model: FsmModel, data: st.DataObject) -> None:
    doc = snapshot.snapshot(model)
    text = json.dumps(data.draw(mutated_doc(doc)) if data.draw(st.booleans()) else doc).encode()
    if data.draw(st.booleans()):
        text = data.draw(mutated_bytes(text))
    try:
        back = snapshot.loads(text)
    except SnapshotError:
        return
    assert isinstance(back, FsmModel)
    # what loads once loads again, to the same model
    assert snapshot.loads(snapshot.dumps(back)) == back


@functools.cache
def client_snapshot() -> dict[str, Any]:
    run = Replay(base_url=CLIENT_URL)
    for doc in random_stream(11, events=40).responses:
        run.feed(json.dumps(doc).encode())
    return restart.take(CLIENT_URL, f"{CLIENT_URL}/events?ack=9", run.dispatcher, now=5.0, wall=1000.0)


@fuzz_settings
@given(data=st.data())
def test_client_snapshots_load_or_raise_snapshot_error(data: st.DataObject) -> None:
    text = json.dumps(data.draw(mutated_doc(client_snapshot()))).encode()
    if data.draw(st.booleans()):
        text = data.draw(mutated_bytes(text))
    try:
        state = restart.load(text, url=CLIENT_URL, now=data.draw(st.floats(-1e6, 1e6)), wall=1000.0)
    except SnapshotError:
        return
    assert isinstance(state, restart.ClientState)
    restart.install(state, Dispatcher(base_url=CLIENT_URL))


# -- scenario files (the simulator's) -------------------------------------------------------------------------

EXAMPLE_SCENARIO = Path(script.__file__).with_name("example-scenario.yaml")
EXAMPLE_TEXT = EXAMPLE_SCENARIO.read_bytes()
EXAMPLE_DOC = yaml.safe_load(EXAMPLE_TEXT)


def check_scenario(scenario: object) -> None:
    assert isinstance(scenario, Scenario)
    for step in scenario.steps:
        assert step.name in script.SCENARIO_STEPS
        assert isinstance(step.arguments, Mapping)
    assert scenario.seed is None or type(scenario.seed) is int


@fuzz_settings
@given(doc=mutated_doc(EXAMPLE_DOC))
def test_scenario_documents_give_a_scenario_or_scenario_error(doc: Any) -> None:
    try:
        scenario = script.parse_scenario(doc)
    except ScenarioError:
        return
    check_scenario(scenario)


@fuzz_settings
@given(
    text=mutated_bytes(EXAMPLE_TEXT) | mutated_bytes(json.dumps(EXAMPLE_DOC).encode()),
    suffix=st.sampled_from([".yaml", ".yml", ".json"]),
)
def test_scenario_files_give_a_scenario_or_scenario_error(text: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(text)
        try:
            scenario = script.load_scenario(path)
        except ScenarioError as exc:
            scenario, message = None, str(exc)
    if scenario is None:
        assert message.startswith(str(path))  # names the file
        return
    check_scenario(scenario)
