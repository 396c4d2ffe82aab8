"""The documentation's own samples, run through ``callfsm replay`` as a user would.

Each file in ``samples/`` is one documented scenario: a header (``conformance``:
source URL, profile, event shape, completion mode, what was changed while
transcribing, and the expected end state of every resource with the reasoning
for it) and the event-channel ``responses`` as the page prints them. The test
writes the responses to a JSON array file, runs ``callfsm replay --json`` on it
through the CLI entry point, and compares what the machines say with what the
header says. The expected values were written from the documentation
(docs/protocol.md, cited in each ``why``), never from running the replay.

A sample may also script the application around its events (``app``: the
create POST it sent before the first response and the response after which
its 201 arrived). Replay cannot express a 201, so those samples are also run
through a :class:`~adapters.routing.dispatcher.Dispatcher` the way ``adapters.ucwa.client``
drives one: ``track`` the model before the POST, ``feed`` each response,
``created`` when the 201 names the href.

A sample whose header names ``needs`` describes behaviour issue 11 asks for
and the dispatcher or machines do not have yet; it is a strict xfail, so it
turns into a failure, and a signal, the moment the feature lands.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.routing.dispatcher import Dispatcher
from adapters.wire.events import parse_events
from fsm.actions import FetchResource
from fsm.invitation import Invitation, InvitationKind

SAMPLES = Path(__file__).parent / "samples"
PROFILES = frozenset({"ucwa", "online", "saas"})
EVENT_SHAPES = frozenset({"embedded", "links"})
COMPLETIONS = frozenset({"event", "updated"})
#: What replay reports per resource, and so what a sample may expect.
RESOURCE_KEYS = ("href", "rel", "machine", "state", "outcome")


def load(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def sample_params() -> list[Any]:
    params = []
    for path in sorted(SAMPLES.glob("*.json")):
        needs = load(path)["conformance"].get("needs")
        marks = [pytest.mark.xfail(strict=True, reason=f"needs {needs}, issue 11")] if needs else []
        params.append(pytest.param(path, marks=marks, id=path.stem))
    return params


def run_replay(responses: list[Any], tmp_path: Path) -> tuple[int, dict[str, Any]]:
    stream = tmp_path / "stream.json"
    stream.write_text(json.dumps(responses), encoding="utf-8")
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["replay", "--json", str(stream)])
    return status, json.loads(out.getvalue())


def test_every_sample_has_a_well_formed_header() -> None:
    # A sample that cannot say where it comes from and what it should end in proves nothing.
    paths = sorted(SAMPLES.glob("*.json"))
    assert len(paths) >= 10
    for path in paths:
        document = load(path)
        assert set(document) == {"conformance", "responses"}, path.name
        header = document["conformance"]
        assert header["source"].startswith("https://"), path.name
        assert header["profile"] in PROFILES, path.name
        assert header["events"] in EVENT_SHAPES, path.name
        assert header["completion"] in COMPLETIONS, path.name
        assert path.name.startswith(header["profile"] + "_"), path.name
        assert document["responses"], path.name
        expect = header["expect"]
        assert isinstance(expect["events"], int), path.name
        assert isinstance(expect["violations"], list), path.name
        for resource in expect["resources"]:
            assert set(RESOURCE_KEYS) <= set(resource), path.name
            assert resource["why"].strip(), f"{path.name}: every expected state says why"


def test_event_shape_matches_the_responses() -> None:
    # "links" means no event embeds its resource (the reference pages' samples); "embedded"
    # means at least the invitation events do (the task pages and the SDK recordings).
    for path in sorted(SAMPLES.glob("*.json")):
        document = load(path)
        events = [e for r in document["responses"] for s in r.get("sender", []) for e in s["events"]]
        embedded = [e for e in events if "_embedded" in e]
        if document["conformance"]["events"] == "links":
            assert not embedded, path.name
        else:
            assert embedded, path.name


@pytest.mark.parametrize("path", sample_params())
def test_sample_replays_to_its_documented_end_states(path: Path, tmp_path: Path) -> None:
    document = load(path)
    expect = document["conformance"]["expect"]
    status, report = run_replay(document["responses"], tmp_path)

    assert report["events"] == expect["events"]
    assert [(v["href"], v["type"]) for v in report["violations"]] == [
        (v["href"], v["type"]) for v in expect["violations"]
    ]
    assert status == (1 if expect["violations"] else 0)
    got = [{key: r[key] for key in RESOURCE_KEYS} for r in report["resources"]]
    want = [{key: r[key] for key in RESOURCE_KEYS} for r in expect["resources"]]
    assert got == want


def app_params() -> list[Any]:
    params = []
    for path in sorted(SAMPLES.glob("*.json")):
        header = load(path)["conformance"]
        if "app" not in header:
            continue
        needs = header.get("needs")
        marks = [pytest.mark.xfail(strict=True, reason=f"needs {needs}, issue 11")] if needs else []
        params.append(pytest.param(path, marks=marks, id=path.stem))
    return params


@pytest.mark.parametrize("path", app_params())
def test_sample_with_the_apps_create_reaches_the_apps_own_model(path: Path) -> None:
    document = load(path)
    header = document["conformance"]
    script, expect = header["app"], header["expect"]["app"]
    send = script["send"]
    dispatcher = Dispatcher(grace=float("inf"))
    call = Invitation(kind=InvitationKind(send["kind"]))
    call.send(now=0.0, href=send["href"], operation_id=send["operation_id"], to=send["to"], subject=send["subject"])
    dispatcher.track(call, operation_id=send["operation_id"])
    violations = []
    fetches = []
    for index, response in enumerate(document["responses"]):
        now = float(index + 1)
        parsed = parse_events(json.dumps(response).encode(), "application/json", require_links=False)
        results = [dispatcher.feed(parsed, now=now)]
        if index == script["created_after_response"]:
            # the 201 comes a moment after this page, well inside any hold deadline
            call.created(now=now + 0.1, href=script["location"])
            results.append(dispatcher.created(call, now=now + 0.1, href=script["location"]))
        for result in results:
            violations.extend(result.violations)
            fetches.extend(a.href for a in result.actions if isinstance(a, FetchResource))

    assert [(v.href, v.event_type) for v in violations] == [(v["href"], v["type"]) for v in expect["violations"]]
    invitations = [m for m in dispatcher.models if isinstance(m, Invitation)]
    assert len(invitations) == expect["models"]
    assert invitations[0] is call
    assert call.state.value == expect["state"]
    assert fetches == expect["fetches"]


def test_a_wrong_expectation_is_caught(tmp_path: Path) -> None:
    # The comparison above must be able to fail: the Send an IM sample with its documented
    # end state turned into Failed is not what the replay reports.
    document = load(SAMPLES / "online_send_an_im.json")
    _, report = run_replay(document["responses"], tmp_path)
    wrong = [dict(r, state="Failed") for r in document["conformance"]["expect"]["resources"]]
    assert [r["state"] for r in report["resources"]] != [r["state"] for r in wrong]
