"""``callfsm demo``: every machine's scenarios run, and each ends where the docs say."""

from __future__ import annotations

import io

import pytest

from adapters.cli import demo_scenarios, main
from adapters.cli.demo import play
from fsm import MACHINES

# title -> the state its documents say it ends in (wire names where they exist)
EXPECTED_END = {
    "seed 002: started, updated, completed samples (no embedded resource)": "Connected",
    "outgoing audio/video answered, then hung up": "hung_up",
    "docs/protocol.md §2.4 SendAnIM: completed Success, embedded Connected": "Connected",
    "S3 messaging completed with no status: embedded state decides": "Connected",
    "incoming audio/video declined locally (CallDeclineReason Local)": "Declined",
    "incoming audio/video accepted": "Connected",
    "outgoing phone audio: team ring, forwarded, timed out": "Failed",
    "outgoing declined by the callee": "Declined",
    "callee busy: a failure that is neither declined nor cancelled": "Failed",
    "cancelled before the answer": "Cancelled",
    "the cancel race: the answer crosses our cancel": "hung_up",
    "incoming call missed: completed with no started": "Failed",
    "create POST refused: 400 ParameterValidationFailure": "Failed",
    "incoming call forwarded": "Failed",
    "service failure: media negotiation timed out": "Failed",
    "join through the lobby, admitted (seed 003)": "Connected",
    "rejected from the lobby": "Failed",
    "meeting ended while waiting (Informational/Ended)": "Failed",
    "our lobby deadline passed: leave": "Failed",
    "left the lobby before admission": "Cancelled",
    "admitted, then left the meeting": "hung_up",
    "the cancel race: admitted as our cancel arrives": "hung_up",
    "leader admits a lobby participant": "admitted",
    "leader rejects a lobby participant": "rejected",
    "participant leaves the lobby": "left_lobby",
    "incoming offer dismissed: InsufficientBandwidth (seed 001)": "dismissed",
    "incoming offer answered": "answered",
    "incoming offer not answered before its deadline": "dismissed",
    "our offer answered by the remote": "completed",
    "our offer collides: 409 AlreadyExists": "collided",
    "our offer rejected by the remote": "rejected",
    "our offer refused: 500 CallbackChannelError": "failed",
    "our offer unanswered before its deadline": "expired",
    "cancel a scheduled series: 200 (seed 004)": "cancelled",
    "a held series needs type=1": "cancelled",
    "401 keeps the series; the retry succeeds": "cancelled",
    "cancel two sub-meetings, then the series ends": "ended",
}


@pytest.mark.parametrize("scenario", demo_scenarios.all_scenarios(), ids=lambda s: s.title)
def test_scenario_ends_where_documented(scenario: demo_scenarios.Scenario) -> None:
    model = scenario.make()
    scenario.steps(model)
    assert model.state.value == EXPECTED_END[scenario.title]  # type: ignore[attr-defined]


def test_every_scenario_has_an_expectation() -> None:
    assert {s.title for s in demo_scenarios.all_scenarios()} == set(EXPECTED_END)


def test_demo_reaches_every_state_of_every_machine() -> None:
    out = io.StringIO()
    reached = play(list(MACHINES), out)
    for name, definition in MACHINES.items():
        assert reached[name] == {s.value for s in definition.states}, name
    text = out.getvalue()
    assert "from" in text
    assert "trigger" in text
    assert "reason" in text
    assert "RemoteFailure/Declined" in text  # reasons are printed


def test_demo_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--offline", "renegotiation"]) == 0
    assert "InsufficientBandwidth" in capsys.readouterr().out
    assert main(["demo", "no_such_machine"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown machine" in err
    assert "Traceback" not in err
