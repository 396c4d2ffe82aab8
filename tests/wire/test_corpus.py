"""The hostile corpus: every file in tests/corpus meets the outcome its MANIFEST.json entry states.

Like RFC 4475's torture messages for SIP, each file attacks one thing (deep
nesting, huge numbers, duplicate keys, bad UTF-8, entity expansion, external
entities, an oversized body, wrong types, unknown vocabulary...). Its
manifest entry names the parser it is fed to, what it attacks, and the
outcome, in one of two forms:

- ``refused: <text>``: the parser raises its one documented error and the
  message contains ``<text>``;
- ``accepted: <check>; <check>...``: the parser returns, and every check holds
  (the checks are listed in :data:`CHECKS`; an unknown one fails the test, so
  the manifest cannot claim what nothing verifies).

A file without an entry, or an entry without a file, fails the test. Inputs
too big to commit (a body over a size limit) are generated here; their files
are short markers saying so. An entry with ``xfail`` names a known bug in a
file outside this suite's reach; the test is then a strict xfail, which fails
as soon as the bug is fixed, so the mark cannot outlive it.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.huawei import AppIdCredentials, HuaweiAuth, HuaweiAuthError, parse_huawei_error
from adapters.routing import restart
from adapters.routing.dispatcher import Dispatcher
from adapters.routing.replay import Replay, ReplayInputError, read_records
from adapters.simulator.script import Scenario, ScenarioError, load_scenario
from adapters.wire.events import (
    MAX_EVENTS_BODY,
    MAX_RESOURCE_BODY,
    EventParseError,
    EventsResponse,
    ResourceParseError,
    parse_events,
    parse_resource,
)
from adapters.wire.requests import HttpResponse
from adapters.wire.ucwa_errors import MAX_ERROR_BODY, UcwaError, parse_error
from fsm import snapshot
from fsm.actions import FetchResource
from fsm.errors import SnapshotError
from fsm.model import FsmModel

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
MANIFEST = CORPUS / "MANIFEST.json"
CLIENT_URL = "https://fe1.contoso.com/ucwa/v1/applications/app1"
ENTRY_KEYS = {
    "parser",
    "content_type",
    "attacks",
    "expect",
    "status",
    "xfail",
    "not_in_message",
    "generate",
    "max_message",
}


def manifest() -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = json.loads(MANIFEST.read_text(encoding="utf-8"))["files"]
    return files


ENTRIES = manifest()


def test_every_corpus_file_has_a_manifest_entry_and_every_entry_a_file() -> None:
    on_disk = {p.name for p in CORPUS.iterdir() if p.is_file() and p.name != MANIFEST.name}
    assert on_disk - set(ENTRIES) == set(), "corpus files without a MANIFEST.json entry"
    assert set(ENTRIES) - on_disk == set(), "MANIFEST.json entries without a file"


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_manifest_entry_is_complete(name: str) -> None:
    entry = ENTRIES[name]
    assert set(entry) <= ENTRY_KEYS
    assert entry["parser"] in PARSERS
    assert entry["attacks"].strip()
    assert re.match(r"^(refused|accepted): \S", entry["expect"])


# -- feeding each parser ----------------------------------------------------------------------------


class Result:
    """What a parser returned, for the ``accepted:`` checks."""

    def __init__(self, value: Any, *, body: bytes, entry: dict[str, Any]) -> None:
        self.value = value
        self.body = body
        self.entry = entry


def generated(entry: dict[str, Any]) -> bytes:
    """The oversized bodies: a valid start, padded with spaces past the limit."""
    limits = {"events": MAX_EVENTS_BODY, "resource": MAX_RESOURCE_BODY, "ucwa-error": MAX_ERROR_BODY}
    size = limits[entry["parser"]] + 1 if entry["generate"] == "limit + 1" else int(entry["generate"])
    head = b'{"_links": {"next": {"href": "/e?ack=2"}}, "code": "BadRequest", "pad": "'
    return head + b" " * (size - len(head) - 2) + b'"}'


def body_of(name: str, entry: dict[str, Any]) -> bytes:
    if "generate" in entry:
        return generated(entry)
    return (CORPUS / name).read_bytes()


def run_events(body: bytes, entry: dict[str, Any]) -> Any:
    return parse_events(body, entry["content_type"])


def run_resource(body: bytes, entry: dict[str, Any]) -> Any:
    return parse_resource(body, entry["content_type"])


def run_ucwa_error(body: bytes, entry: dict[str, Any]) -> Any:
    return parse_error(entry["status"], body, entry["content_type"])


def run_huawei_error(body: bytes, entry: dict[str, Any]) -> Any:
    return parse_huawei_error(HttpResponse(entry["status"], (("content-type", "application/json"),), body))


def run_huawei_auth(body: bytes, entry: dict[str, Any]) -> Any:
    auth = HuaweiAuth(AppIdCredentials("corpus-app", "corpus-key"))
    return auth.accept(HttpResponse(200, (("content-type", "application/json"),), body), 1_700_000_000.0)


def run_replay(body: bytes, entry: dict[str, Any]) -> Any:
    return read_records(body, "corpus")


def run_snapshot(body: bytes, entry: dict[str, Any]) -> Any:
    return snapshot.loads(body)


def run_client_snapshot(body: bytes, entry: dict[str, Any]) -> Any:
    return restart.load(body, url=CLIENT_URL, now=10.0, wall=1_700_000_000.0)


def run_scenario(body: bytes, entry: dict[str, Any]) -> Any:
    # load_scenario reads a path, and the suffix says JSON or YAML
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / entry["_name"]
        path.write_bytes(body)
        return load_scenario(path)


#: parser name -> (how to run it, the one error type it documents, or None: it never raises)
PARSERS: dict[str, tuple[Callable[[bytes, dict[str, Any]], Any], type[Exception] | None]] = {
    "events": (run_events, EventParseError),
    "resource": (run_resource, ResourceParseError),
    "ucwa-error": (run_ucwa_error, None),
    "huawei-error": (run_huawei_error, None),
    "huawei-auth": (run_huawei_auth, HuaweiAuthError),
    "replay": (run_replay, ReplayInputError),
    "snapshot": (run_snapshot, SnapshotError),
    "client-snapshot": (run_client_snapshot, SnapshotError),
    "scenario": (run_scenario, ScenarioError),
}


# -- the accepted: checks ----------------------------------------------------------------------------


def _replayed(result: Result) -> Replay:
    """The events fed through the machines, as an application would (outgoing resources adopted)."""
    run = Replay()
    run.feed(result.body, result.entry["content_type"])
    return run


def check_unknown(result: Result, text: str) -> None:
    assert isinstance(result.value, EventsResponse)
    assert any(text in line for line in result.value.unknown), result.value.unknown


def check_events(result: Result, text: str) -> None:
    assert isinstance(result.value, EventsResponse)
    assert len(result.value.events) == int(text)


def check_next(result: Result, text: str) -> None:
    assert isinstance(result.value, EventsResponse)
    assert result.value.next_href == text


def check_state(result: Result, text: str) -> None:
    """``state HREF STATE [STATUS CODE SUBCODE]``: the machine's state (wire name) and failed outcome."""
    href, state, *outcome = text.split(" ")
    report = _replayed(result).report()
    (resource,) = [r for r in report.resources if r.href == href]
    assert resource.state == state
    if outcome:
        assert resource.outcome is not None
        assert [resource.outcome.status, resource.outcome.code, resource.outcome.subcode] == outcome


def check_fetch(result: Result, text: str) -> None:
    """The machines ask to GET ``text`` (the event could not tell the outcome)."""
    assert isinstance(result.value, EventsResponse)
    dispatched = Dispatcher().feed(result.value, 0.0)
    assert [a.href for a in dispatched.actions if isinstance(a, FetchResource)] == [text]


def _dash(value: str | None) -> str:
    return "-" if value is None else value


def check_error(result: Result, text: str) -> None:
    error = result.value
    assert isinstance(error, UcwaError)
    assert f"{_dash(error.code)} {_dash(error.subcode)}" == text
    hidden = result.entry.get("not_in_message")
    if hidden:
        assert hidden not in str(error)
        assert hidden not in repr(error)


def check_huawei(result: Result, text: str) -> None:
    error = result.value
    assert f"{_dash(error.error_code)} {_dash(error.error_msg)}" == text


def check_token(result: Result, text: str) -> None:
    assert text == "expiry finite"
    assert math.isfinite(result.value.expires_at)


def check_records(result: Result, text: str) -> None:
    assert len(result.value) == int(text)


def check_violation(result: Result, text: str) -> None:
    run = Replay()
    for record in result.value:
        run.feed_record(record)
    assert any(text in v.message for v in run.report().violations)


def check_steps(result: Result, text: str) -> None:
    assert isinstance(result.value, Scenario)
    assert len(result.value.steps) == int(text)


def check_model(result: Result, text: str) -> None:
    machine, state = text.split(" ")
    value = result.value
    model: FsmModel = value if isinstance(value, FsmModel) else value.models[0].model
    assert model.machine == machine
    assert model.state.value == state  # type: ignore[attr-defined]


CHECKS: dict[str, Callable[[Result, str], None]] = {
    "unknown has": check_unknown,
    "events": check_events,
    "next": check_next,
    "state": check_state,
    "fetch": check_fetch,
    "error": check_error,
    "huawei": check_huawei,
    "token": check_token,
    "records": check_records,
    "violation": check_violation,
    "model": check_model,
    "steps": check_steps,
}


def verify(name: str, entry: dict[str, Any]) -> None:
    run, error_type = PARSERS[entry["parser"]]
    body = body_of(name, entry)
    entry = {**entry, "_name": name}
    verdict, _, detail = entry["expect"].partition(": ")
    if verdict == "refused":
        assert error_type is not None, f"{entry['parser']} documents no refusal"
        with pytest.raises(error_type) as refused:
            run(body, entry)
        assert detail in str(refused.value)
        # an error message is read by people and logs: it must not grow with the input
        assert len(str(refused.value)) <= entry.get("max_message", 64 * 1024)
        return
    result = Result(run(body, entry), body=body, entry=entry)
    for check in detail.split("; "):
        key = next((k for k in sorted(CHECKS, key=len, reverse=True) if check.startswith(k + " ")), None)
        assert key is not None, f"unknown check {check!r} in MANIFEST.json"
        CHECKS[key](result, check[len(key) + 1 :])


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_corpus_file_meets_its_expected_outcome(name: str) -> None:
    entry = ENTRIES[name]
    if "xfail" in entry:
        try:
            verify(name, entry)
        except Exception as exc:
            pytest.xfail(f"{entry['xfail']} ({type(exc).__name__})")
        pytest.fail(f"{name} now meets its expected outcome: remove its xfail from MANIFEST.json")
    verify(name, entry)
