"""``callfsm demo``, live: the adapters' clients against the simulator on 127.0.0.1, then the replay.

The demo runs once per module (about 3 s); the tests read its output, its
event file, and the replay of that file through ``callfsm replay --json``.
Expected end states and reasons come from the docs, cited per entry, never
from the demo's own output.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import Counter
from pathlib import Path

import attrs
import pytest

from adapters.cli import demo_live, main
from adapters.routing.replay import Record, ReplayReport, ReplayViolation, replay
from fsm import MACHINES
from fsm.invitation import InvitationState
from fsm.lobby_participant import LobbyParticipantState
from fsm.meeting_series import MeetingSeriesState
from fsm.online_meeting import OnlineMeetingState
from fsm.renegotiation import RenegotiationState

#: ``[n/total] title ... state (detail) in 0.12 s``
PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (.+?) \.\.\. (\S+)(?: \((.+?)\))? in \d+\.\d+ s$")

# title -> (final state, what the progress line adds), from the docs:
EXPECTED = {
    # docs/protocol.md §1.6-1.7: completed Success -> Connected; the demo then hangs up through the cancel link
    "outgoing audio/video call answered, then hung up": (InvitationState.HUNG_UP.value, None),
    # seed 002 / docs/protocol.md §5.1: the callee declines -> Failure RemoteFailure/Declined, state Declined
    "outgoing audio/video call declined by the callee": (InvitationState.DECLINED.value, "RemoteFailure/Declined"),
    # docs/protocol.md §1.7: Success crosses our cancel: the app must hang up the call it no longer wants
    "the cancel race: the callee answers as our cancel arrives": (InvitationState.HUNG_UP.value, None),
    # seed 003: Connecting in the lobby, Success once admitted
    "online meeting joined through the lobby, admitted": (OnlineMeetingState.CONNECTED.value, None),
    # seed 003 / docs/protocol.md §3: rejected -> Failure; the reason is the simulator's [U] Forbidden/Denied
    "online meeting joined through the lobby, rejected": (OnlineMeetingState.FAILED.value, "Forbidden/Denied"),
    # docs/protocol.md §3, the leader's side: our admit, then the guest is deleted from the lobby -> admitted
    "the leader admits a guest waiting in the lobby": (LobbyParticipantState.ADMITTED.value, "Guest"),
    # seed 001: dismiss with {"reason": "InsufficientBandwidth"} -> 204
    "incoming renegotiation dismissed with InsufficientBandwidth": (
        RenegotiationState.DISMISSED.value,
        "reason InsufficientBandwidth",
    ),
    # seed 004: DELETE cycleconferences -> 200
    "Huawei series cancelled": (MeetingSeriesState.CANCELLED.value, None),
    # seed 004: a held series is refused without type=1 (403), cancelled with it (200)
    "Huawei held series: refused without type=1, cancelled with it": (MeetingSeriesState.CANCELLED.value, None),
}


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _files(tmp_path: Path, events: str = "e.jsonl") -> list[str]:
    """``--events`` and ``--trace`` in ``tmp_path`` (the defaults would write to the working directory)."""
    return ["--events", str(tmp_path / events), "--trace", str(tmp_path / "t.jsonl")]


def _progress(text: str) -> list[re.Match[str]]:
    return [m for m in map(PROGRESS.match, text.splitlines()) if m is not None]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, Path]:
    events = tmp_path_factory.mktemp("demo") / "e.jsonl"
    code, out, err = _cli(["demo", "--events", str(events), "--trace", str(events.with_name("t.jsonl"))])
    return code, out, err, events


def test_the_live_demo_succeeds(demo: tuple[int, str, str, Path]) -> None:
    code, out, err, _ = demo
    assert code == 0, out + err
    assert "http://127.0.0.1:" in out  # loopback only


def test_one_progress_line_per_scenario_ending_where_the_docs_say(demo: tuple[int, str, str, Path]) -> None:
    _, out, _, _ = demo
    lines = _progress(out)
    assert [m.group(3) for m in lines] == list(EXPECTED)
    assert [int(m.group(1)) for m in lines] == list(range(1, len(EXPECTED) + 1))
    assert {int(m.group(2)) for m in lines} == {len(EXPECTED)}
    for match in lines:
        state, detail = EXPECTED[match.group(3)]
        assert (match.group(4), match.group(5)) == (state, detail), match.group(0)
    assert "UNEXPECTED" not in out
    assert "FAILED" not in out


def test_transition_tables_are_printed(demo: tuple[int, str, str, Path]) -> None:
    _, out, _, _ = demo
    # one table per model shown: one per scenario, and the leader's and the renegotiation's also show
    # the join and the call they happen in
    assert out.count("  from ") == len(EXPECTED) + 2
    # issue 2: the demo prints the transitions of all five machines
    shown = {m.group(1) for m in re.finditer(r"^  -- (\w+) ", out, re.MULTILINE)}
    assert shown == set(MACHINES)
    assert "remote_offered  dismiss" in out  # the renegotiation's own step (seed 001)
    assert re.search(r"conference_state_observed +held ", out)  # docs/protocol.md §7.2: Created means held
    assert "without type=1: 403" in out  # seed 004: a held series needs type=1


def test_the_events_file_replays_with_no_violation(demo: tuple[int, str, str, Path]) -> None:
    _, out, _, events = demo
    assert events.exists()
    assert str(events.resolve()) in out  # the demo says where the stream went
    assert "0 violations" in out
    code, replayed, err = _cli(["replay", "--json", str(events)])
    assert code == 0, err
    report = json.loads(replayed)
    assert report["violations"] == []
    assert report["events"] > 0
    found = {(r["rel"], r["state"], json.dumps(r["outcome"], sort_keys=True)) for r in report["resources"]}
    # the server's side of the scenarios (the app's own hang-ups and dismiss are not events)
    declined = {"status": "Failure", "code": "RemoteFailure", "subcode": "Declined"}
    rejected = {"status": "Failure", "code": "Forbidden", "subcode": "Denied"}
    assert ("audioVideoInvitation", "Declined", json.dumps(declined, sort_keys=True)) in found
    assert ("onlineMeetingInvitation", "Failed", json.dumps(rejected, sort_keys=True)) in found
    assert ("onlineMeetingInvitation", "Connected", "null") in found
    # docs/protocol.md §4: an incoming renegotiation only ever shows up as started
    assert ("audioVideoRenegotiation", RenegotiationState.REMOTE_OFFERED.value, "null") in found


def test_machines_narrow_the_live_demo(tmp_path: Path) -> None:
    code, out, err = _cli(["demo", "meeting_series", *_files(tmp_path, "s.jsonl")])
    assert code == 0, out + err
    assert [m.group(3) for m in _progress(out)] == [t for t in EXPECTED if t.startswith("Huawei")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--events", "{tmp}"], "not a file name"),
        (["demo", "--events", "{tmp}/missing/e.jsonl"], "no directory"),
        (["demo", "--offline", "--events", "{tmp}/e.jsonl"], "--offline"),
        (["demo", "--trace", "{tmp}/missing/t.jsonl"], "--trace"),
        (["demo", "--offline", "--trace", "{tmp}/t.jsonl"], "--offline"),
        (["demo", "no_such_machine"], "unknown machine"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, argv: list[str], message: str) -> None:
    code, out, err = _cli([a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2
    assert err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err
    assert "[1/" not in out  # nothing ran
    assert not (tmp_path / "e.jsonl").exists()


def test_a_machine_no_live_scenario_shows_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every machine has a live scenario today; the message is for a machine added without one
    without = tuple(s for s in demo_live.SCENARIOS if "lobby_participant" not in s.machines)
    monkeypatch.setattr(demo_live, "SCENARIOS", without)
    code, out, err = _cli(["demo", "lobby_participant", *_files(tmp_path)])
    assert code == 2
    assert err.count("\n") == 1
    assert "no live scenario" in err
    assert "[1/" not in out
    assert not (tmp_path / "e.jsonl").exists()


def _never_answers(live: demo_live.Live) -> demo_live.Show:
    raise demo_live.DemoError("the server said nothing")


def test_a_scenario_that_fails_is_reported_and_the_next_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    huawei = [s for s in demo_live.SCENARIOS if s.machines == ("meeting_series",)]
    broken = demo_live.LiveScenario(
        "broken", ("meeting_series",), MeetingSeriesState.CANCELLED, _never_answers, ucwa=False
    )
    monkeypatch.setattr(demo_live, "SCENARIOS", (broken, huawei[0]))
    code, out, err = _cli(["demo", "meeting_series", *_files(tmp_path)])
    assert code == 1
    assert "[1/2] broken ... FAILED" in out
    assert "the server said nothing" in out
    assert [m.group(3) for m in _progress(out)] == [huawei[0].title]
    assert "did not end as documented" in err


def test_an_unexpected_end_is_marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (first, *_) = (s for s in demo_live.SCENARIOS if s.machines == ("meeting_series",))
    wrong = attrs.evolve(first, expected=MeetingSeriesState.ENDED)  # the docs would say cancelled
    monkeypatch.setattr(demo_live, "SCENARIOS", (wrong,))
    code, out, _ = _cli(["demo", "meeting_series", *_files(tmp_path)])
    assert code == 1
    assert f"UNEXPECTED, the docs say {MeetingSeriesState.ENDED.value}" in out


def test_a_violation_in_the_replay_fails_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def with_a_violation(records: list[Record]) -> ReplayReport:
        report = replay(records)
        injected = ReplayViolation(0, 0, "/x", "Connected", "started", "injected")
        return attrs.evolve(report, violations=(*report.violations, injected))

    monkeypatch.setattr(demo_live, "replay", with_a_violation)
    code, out, err = _cli(["demo", "meeting_series", *_files(tmp_path)])
    assert code == 1
    assert "1 violation" in out
    assert "1 violation(s) in the replay" in err


# -- the trace: the demo's events and the app's own calls and requests, replayed to the live end states --


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[demo_live.LiveRun, dict[str, str]]:
    """The UCWA scenarios live (states of the models they drove), and ``callfsm replay --json`` of the trace."""
    where = tmp_path_factory.mktemp("trace")
    scenarios = [s for s in demo_live.SCENARIOS if s.ucwa]
    run = demo_live.play_live(io.StringIO(), where / "e.jsonl", scenarios, trace_path=where / "t.jsonl")
    code, replayed, err = _cli(["replay", "--json", str(where / "t.jsonl")])
    assert code == 0, err
    report = json.loads(replayed)
    assert report["violations"] == []
    return run, {r["href"]: r["state"] for r in report["resources"]}


def test_the_trace_replays_to_the_live_end_state_of_every_resource(
    traced: tuple[demo_live.LiveRun, dict[str, str]],
) -> None:
    run, replayed = traced
    live = dict(run.live_states)
    # the UCWA resources the scenarios drive: 3 calls, 3 joins, the guest in the lobby, the call that is
    # renegotiated and its renegotiation (issue 12: "the demo's 9 of 9")
    assert len(live) == 9
    assert replayed == live


def test_the_replayed_end_states_are_those_the_docs_give_each_scenario(
    traced: tuple[demo_live.LiveRun, dict[str, str]],
) -> None:
    _, replayed = traced
    expected = Counter(
        {
            # docs/protocol.md §1.6-1.7: the answered call, the cancel race (our hang-up after the crossed
            # answer) and the renegotiated call are hung up by the app; the leader leaves the meeting
            # through the join's cancel link: hung_up too
            InvitationState.HUNG_UP.value: 4,
            "Declined": 1,  # seed 002: RemoteFailure/Declined
            "Connected": 1,  # seed 003: the join admitted from the lobby
            "Failed": 1,  # seed 003: the join rejected
            LobbyParticipantState.ADMITTED.value: 1,  # §3: our admit, then the guest is deleted from the lobby
            RenegotiationState.DISMISSED.value: 1,  # seed 001: our dismiss answered 204
        }
    )
    # a channel-only replay said Connected, left_lobby and remote_offered for three of them (issue 12)
    assert Counter(replayed.values()) == expected


def test_the_trace_holds_no_token_and_names_its_version(traced: tuple[demo_live.LiveRun, dict[str, str]]) -> None:
    run, _ = traced
    assert run.trace_path is not None
    lines = run.trace_path.read_text(encoding="utf-8").splitlines()
    # docs/trace.md: the first line is the header, version 1
    assert json.loads(lines[0]) == {"format": "callfsm-trace", "version": 1, "role": "client"}
    kinds = {json.loads(line).get("kind") for line in lines[1:]}
    assert kinds == {"events", "call", "request"}
    assert '"Authorization","***"' in "".join(lines)
    assert "Bearer " not in "".join(lines)
