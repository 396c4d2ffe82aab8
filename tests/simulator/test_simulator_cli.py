"""Scenario files, their schema, ``callfsm simulate``, and the pytest fixture as a user sees it."""

from __future__ import annotations

import inspect
import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from ucwa_doc_client import DocClient, embedded, is_event, replay_all

from adapters.cli import main
from adapters.simulator import ScenarioError, SimulatorConfig, load_scenario, parse_scenario, serve
from adapters.simulator.script import SCENARIO_STEPS

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "adapters" / "simulator" / "scenario.schema.json"
EXAMPLE = ROOT / "adapters" / "simulator" / "example-scenario.yaml"

YAML_SCENARIO = """\
seed: 3
user: {name: Ada Example, uri: "sip:ada@contoso.com"}
steps:
  - decline: {code: RemoteFailure, subcode: Busy}
  - answer_after: {delay: 0.01}
  - series: {conference_id: "42", held: true}
"""


# -- scenario files ----------------------------------------------------------------------------


def test_yaml_and_json_scenarios_are_the_same_thing(tmp_path: Path) -> None:
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text(YAML_SCENARIO)
    json_file = tmp_path / "s.json"
    json_file.write_text(
        json.dumps(
            {
                "seed": 3,
                "user": {"name": "Ada Example", "uri": "sip:ada@contoso.com"},
                "steps": [
                    {"decline": {"code": "RemoteFailure", "subcode": "Busy"}},
                    {"answer_after": {"delay": 0.01}},
                    {"series": {"conference_id": "42", "held": True}},
                ],
            }
        )
    )
    assert load_scenario(yaml_file) == load_scenario(json_file)
    assert load_scenario(EXAMPLE).seed == 7  # the documented example loads


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"steps": [{"ring_forever": {}}]}, r"\$\.steps\[0\]: unknown step 'ring_forever'"),
        (
            {"steps": [{"answer_after": {"delai": 1}}]},
            r"\$\.steps\[0\]\.answer_after: answer_after has no argument 'delai'",
        ),
        ({"steps": [{"answer_after": {"delay": -1}}]}, r"steps\[0\] \(answer_after\): .*>= 0"),
        ({"steps": [{"fail": {"code": "RemoteFailure", "subcode": "Nope"}}]}, r"steps\[0\] \(fail\): .*catalogue"),
        ({"steps": [{"answer_after": {}, "busy": {}}]}, r"exactly one key"),
        ({"faults": {"duplicate": 2}}, r"\$\.faults: .*0 to 1"),
        ({"steeps": []}, r"unknown key 'steeps'"),
        ({"profile": "lync2010"}, r"\$\.profile: one of ucwa, online, saas"),
        ({"events": "inline"}, r"\$\.events: one of embedded, links"),
    ],
)
def test_bad_scenarios_say_where(document: object, where: str) -> None:
    with pytest.raises(ScenarioError, match=where):
        parse_scenario(document)


def test_a_bare_step_name_uses_the_defaults() -> None:
    scenario = parse_scenario({"steps": ["answer_on_cancel", {"busy": None}]})
    assert [s.name for s in scenario.steps] == ["answer_on_cancel", "busy"]


def test_the_schema_matches_the_script() -> None:
    schema = json.loads(SCHEMA.read_text())
    steps = schema["$defs"]["steps"]
    assert set(steps) == set(SCENARIO_STEPS)
    for name, method in SCENARIO_STEPS.items():
        params = {p for p in inspect.signature(method).parameters if p != "self"}
        assert set(steps[name]["properties"]) == params, name
        required = {
            p.name
            for p in inspect.signature(method).parameters.values()
            if p.name != "self" and p.default is inspect.Parameter.empty
        }
        assert set(steps[name].get("required", [])) == required, name
    fault_names = set(schema["properties"]["faults"]["properties"])
    assert fault_names == set(inspect.signature(SimulatorConfig().faults.__class__).parameters)


def test_a_scenario_drives_the_remote_party(tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text(YAML_SCENARIO)
    config = SimulatorConfig(pget_timeout=2.0).use_scenario(load_scenario(file))
    assert config.seed == 3
    with serve(config) as sim:
        client = DocClient(sim.base_url, sim.token)
        app = client.create_application()
        assert app["_embedded"]["me"]["uri"] == "sip:ada@contoso.com"
        start = client.link(client.communication, "startAudioVideo")
        first = client.post(start, {"operationId": "a", "to": "sip:bob@contoso.com"}).headers["location"]
        busy = client.wait_event(is_event("audioVideoInvitation", "completed", first))
        assert busy["reason"]["subcode"] == "Busy"  # step 1
        second = client.post(start, {"operationId": "b", "to": "sip:bob@contoso.com"}).headers["location"]
        answered = client.wait_event(is_event("audioVideoInvitation", "completed", second))
        assert embedded(answered)["state"] == "Connected"  # step 2
        refused = httpx.delete(
            sim.base_url + "/v1/mmc/management/cycleconferences",
            params={"conferenceID": "42"},
            headers={"X-Access-Token": sim.huawei_token},
        )
        assert refused.status_code == 403  # step 3: held, no type=1
        assert replay_all(sim.events_sent) == []
        out = sim.write_events(tmp_path / "stream.jsonl")
        assert [json.loads(line) for line in out.read_text().splitlines()] == sim.events_sent
        client.close()


# -- callfsm simulate ----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["10.1.2.3", "0.0.0.0", "example.com"])
def test_simulate_refuses_a_non_loopback_host(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--host", host, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "loopback" in err


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        # the Trusted Application API documents completed for every invitation (docs/protocol.md §2.3)
        (["--profile", "saas", "--completion", "updated"], "does not apply"),
        # callbacks exist only in the Trusted Application API (docs/protocol.md §2.1)
        (["--callback-url", "http://127.0.0.1:9/cb"], "no callbacks"),
        # the simulator never sends anything off the machine
        (["--profile", "saas", "--callback-url", "http://example.com/cb"], "not loopback"),
    ],
)
def test_simulate_refuses_switches_that_do_not_apply(
    arguments: list[str], why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--port", "0", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert why in err


def test_a_scenario_names_its_server() -> None:
    scenario = parse_scenario({"profile": "online", "events": "links", "steps": []})
    config = SimulatorConfig().use_scenario(scenario)
    assert (config.profile.value, config.events.value, config.completion.value) == ("online", "links", "event")
    with pytest.raises(ValueError, match="does not apply"):
        SimulatorConfig(profile="saas").use_scenario(parse_scenario({"completion": "updated"}))


def test_simulate_refuses_a_bad_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - ring_forever: {}\n")
    assert main(["simulate", "--port", "0", "--scenario", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "steps[0]" in err


def _read_line(stream: object, deadline: float) -> str:
    assert hasattr(stream, "readline")
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            return str(stream.readline())
    raise AssertionError("callfsm simulate printed nothing")


def test_simulate_serves_and_logs_without_tokens(tmp_path: Path) -> None:
    token = "cwt=VERY-SECRET-TOKEN-31337"
    scenario = tmp_path / "s.yaml"
    scenario.write_text("steps:\n  - answer_after: {delay: 0.01}\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adapters.cli",
            "simulate",
            "--port",
            "0",
            "--token",
            token,
            "--scenario",
            str(scenario),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        banner = _read_line(process.stderr, time.monotonic() + 20)
        match = re.search(r"http://127\.0\.0\.1:(\d+)", banner)
        assert match, banner
        base = f"http://127.0.0.1:{match.group(1)}"
        for _ in range(200):
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        client = DocClient(base, token)
        client.create_application()
        start = client.link(client.communication, "startAudioVideo")
        location = client.post(start, {"operationId": "cli-1", "to": "sip:bob@contoso.com"}).headers["location"]
        client.wait_event(is_event("audioVideoInvitation", "completed", location))
        assert DocClient(base, "cwt=wrong").http.get(client.events_href).status_code == 401
        client.close()
    finally:
        process.terminate()
        _, err = process.communicate(timeout=15)
    log = banner + err
    assert "POST /ucwa/v1/applications -> 201" in log
    assert re.search(r"event app=101 group=\d+ communication completed audioVideoInvitation \S+ status=Success", log)
    assert "VERY-SECRET-TOKEN" not in log


# -- the fixture, as a user's test suite uses it ------------------------------------------------------


def test_the_fixture_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_user="""
        import httpx
        import pytest

        def test_call(ucwa_simulator):
            sim = ucwa_simulator
            http = httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer " + sim.token})
            app = http.post(sim.applications_url, json={"UserAgent": "u", "EndpointId": "e", "Culture": "en-US"}).json()
            sim.script.decline("RemoteFailure", "Declined")
            start = app["_embedded"]["communication"]["_links"]["startAudioVideo"]["href"]
            assert http.post(start, json={"to": "sip:bob@contoso.com", "operationId": "u1"}).status_code == 201
            href = app["_links"]["events"]["href"]
            seen = []
            while not any(e["type"] == "completed" for e in seen):
                answer = http.get(href).json()
                href = answer["_links"]["next"]["href"]
                seen += [e for s in answer.get("sender", []) for e in s["events"]]
            completed = [e for e in seen if e["type"] == "completed"]
            assert completed[0]["reason"]["subcode"] == "Declined"
            assert len(sim.events_sent) >= 2
            http.close()

        @pytest.mark.ucwa_simulator(seed=5, pget_timeout=0.5)
        def test_marker(ucwa_simulator):
            assert ucwa_simulator.world.config.seed == 5
            assert ucwa_simulator.world.config.pget_timeout == 0.5
            assert ucwa_simulator.base_url.startswith("http://127.0.0.1:")
        """
    )
    # the plugin comes from the package's pytest11 entry point, as in a user's suite
    result = pytester.runpytest_inprocess("--strict-markers", "-q")
    result.assert_outcomes(passed=2)
