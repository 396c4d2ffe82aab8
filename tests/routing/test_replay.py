"""``callfsm replay``: documented samples, an injected illegal event, exit codes, the JSON shape.

Expected final states come from the docs (docs/protocol.md), reasoned in each test,
never from running the replay.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.routing.replay import Record, Replay, ReplayInputError, read_records, replay
from adapters.testing.strategies import random_stream
from fsm.registry import MACHINES

SAMPLES = Path(__file__).parent.parent / "samples"
APP = "/ucwa/oauth/v1/applications/9"
INVITATION = f"{APP}/communication/invitations/1"
CONVERSATION = f"{APP}/communication/conversations/1"
RENEGOTIATION = f"{CONVERSATION}/audioVideo/audioVideoSession/renegotiations/1"


def sample(*names: str) -> list[Record]:
    return [record for name in names for record in read_records((SAMPLES / name).read_bytes(), name)]


def resources(records: list[Record]) -> list[dict[str, Any]]:
    return replay(records).to_json()["resources"]  # type: ignore[no-any-return]


# -- documented samples ---------------------------------------------------------------------


def test_seed_002_started_updated_completed_stays_connecting_without_a_status() -> None:
    # started with no embedded resource: an invitation the app did not create, first state
    # Connecting (docs/protocol.md §1.1); the updated says nothing new; the completed carries neither
    # status nor state, so the stream cannot tell the outcome (9.2: GET it): still Connecting.
    report = replay(sample("seed002_started.json", "seed002_updated.json", "seed002_completed.json"))
    assert report.to_json() == {
        "resources": [
            {
                "href": "communication/invitations/137",
                "rel": "ms:rtc:saas:audioVideoInvitation",
                "machine": "invitation",
                "state": "Connecting",
                "outcome": None,
            }
        ],
        "violations": [],
        "events": 3,
    }


def test_seed_003_online_meeting_invitation_is_connecting_throughout() -> None:
    # seed 003: the OMI says Connecting from started until completed (lobby included)
    assert resources(sample("seed003_started.json", "seed003_updated.json")) == [
        {
            "href": "communication/invitations/414",
            "rel": "ms:rtc:saas:onlineMeetingInvitation",
            "machine": "invitation",
            "state": "Connecting",
            "outcome": None,
        }
    ]


def test_send_an_im_completed_alone_is_the_apps_outgoing_invitation_connected() -> None:
    # S1 SendAnIM: status Success with embedded state Connected; direction Outgoing, so the
    # app sent it (its started was aggregated away, docs/protocol.md §2.2): adopted, then Connected.
    assert resources(sample("sendanim_completed.json")) == [
        {
            "href": ".../communication/messagingInvitations/60c",
            "rel": "messagingInvitation",
            "machine": "invitation",
            "state": "Connected",
            "outcome": None,
        }
    ]


def test_without_adoption_the_outgoing_invitation_is_only_reported_as_not_applied() -> None:
    report = replay(sample("sendanim_completed.json"), adopt=False)
    assert report.resources == ()
    assert [(n.response, n.event, n.rel) for n in report.not_applied] == [(0, 0, "messagingInvitation")]


def test_lobby_sample_is_a_waiting_participant_and_other_samples_drive_no_machine() -> None:
    # lobby_ref.md: added with in: lobby -> a participant waiting to be admitted. The
    # communication/me/presence/note/location events and the SaaS prompt belong to no machine.
    report = replay(sample("lobby_added.json", "s1_eventchannel.json", "saas_prompt_failure.json"))
    assert [(r.machine, r.href, r.state) for r in report.resources] == [
        ("lobby_participant", ".../conversations/137/participants/196", "waiting")
    ]
    assert report.violations == ()
    assert report.events == 1 + 5 + 1
    assert len(report.not_applied) == 6


@pytest.mark.parametrize(
    "names",
    [
        ("seed002_started", "seed002_updated", "seed002_completed"),
        ("seed003_started", "seed003_updated"),
        ("sendanim_completed",),
        ("lobby_added",),
        ("ucwa_av_started",),
    ],
)
def test_xml_samples_as_raw_bodies_replay_like_their_json_forms(names: tuple[str, ...]) -> None:
    as_json = sample(*(f"{n}.json" for n in names))
    lines = [json.dumps({"response": (SAMPLES / f"{n}.xml").read_text(encoding="utf-8")}) for n in names]
    as_xml = read_records("\n".join(lines), "xml.jsonl")
    assert as_xml[0].content_type == "application/xml"
    assert replay(as_xml).to_json() == replay(as_json).to_json()


# -- an injected illegal event ----------------------------------------------------------------


def document(*events: dict[str, Any], ack: int) -> dict[str, Any]:
    return {
        "_links": {"self": {"href": f"{APP}/events?ack={ack}"}, "next": {"href": f"{APP}/events?ack={ack + 1}"}},
        "sender": [{"rel": "communication", "href": f"{APP}/communication", "events": list(events)}],
    }


def av_event(type_: str, **extra: Any) -> dict[str, Any]:
    resource = {"rel": "audioVideoInvitation", "direction": "Incoming", **extra.pop("resource", {})}
    return {"link": {"rel": "audioVideoInvitation", "href": INVITATION}, "type": type_,
            "_embedded": {"audioVideoInvitation": resource}, **extra}  # fmt: skip


def renegotiation_event(type_: str, *links: str, direction: str = "Incoming") -> dict[str, Any]:
    own = {name: {"href": f"{RENEGOTIATION}/{name}"} for name in links}
    resource = {"rel": "audioVideoRenegotiation", "direction": direction, "_links": own}
    return {"link": {"rel": "audioVideoRenegotiation", "href": RENEGOTIATION}, "type": type_,
            "_embedded": {"audioVideoRenegotiation": resource}}  # fmt: skip


def illegal_stream() -> list[dict[str, Any]]:
    """An incoming call, an incoming renegotiation, and then an answer to that renegotiation's own offer.

    A renegotiation offered by the remote is answered by us (POST answer), never by a
    later event carrying a mediaAnswer: that updated is illegal in remote_offered
    (docs/protocol.md §4). Everything else is ordinary and must still be checked after it.
    """
    return [
        document(av_event("started", resource={"state": "Alerting"}), ack=1),
        document(renegotiation_event("started", "answer", "dismiss", "mediaOffer"), ack=2),
        document(
            av_event("updated", resource={"state": "Connecting"}),
            renegotiation_event("updated", "mediaAnswer"),
            ack=3,
        ),
        document(
            av_event("completed", status="Failure", reason={"code": "RemoteFailure", "subcode": "Declined"}), ack=4
        ),
    ]


def write_jsonl(path: Path, documents: list[Any]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return path


def test_injected_illegal_event_is_exactly_one_violation_and_the_rest_is_still_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = write_jsonl(tmp_path / "stream.jsonl", illegal_stream())
    assert main(["replay", "--json", str(stream)]) == 1
    out = json.loads(capsys.readouterr().out)
    [violation] = out["violations"]
    assert {k: violation[k] for k in ("response", "event", "href", "state", "type")} == {
        "response": 2,
        "event": 1,
        "href": RENEGOTIATION,
        "state": "remote_offered",
        "type": "updated",
    }
    assert "renegotiation" in violation["message"]
    # the invitation after the violation: Failure with subcode Declined -> Declined (docs/protocol.md §9, trap 1)
    assert out["resources"] == [
        {
            "href": INVITATION,
            "rel": "audioVideoInvitation",
            "machine": "invitation",
            "state": "Declined",
            "outcome": {"status": "Failure", "code": "RemoteFailure", "subcode": "Declined"},
        },
        {
            "href": RENEGOTIATION,
            "rel": "audioVideoRenegotiation",
            "machine": "renegotiation",
            "state": "remote_offered",
            "outcome": None,
        },
    ]
    assert out["events"] == 5


def test_outgoing_started_on_an_incoming_renegotiation_is_refused() -> None:
    # the same renegotiation cannot be both the remote's offer and ours
    run = Replay()
    run.feed(json.dumps(document(renegotiation_event("started", "answer", "dismiss"), ack=1)).encode())
    refused = run.feed(json.dumps(document(renegotiation_event("started", direction="Outgoing"), ack=2)).encode())
    assert [(v.response, v.event, v.state, v.type, v.machine) for v in refused] == [
        (1, 0, "remote_offered", "started", "renegotiation")
    ]


def test_text_output_names_the_violation_with_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = write_jsonl(tmp_path / "stream.jsonl", illegal_stream())
    assert main(["replay", str(stream)]) == 1
    out = capsys.readouterr().out
    assert f"response 2 ({stream}:3), event 1: {RENEGOTIATION} in state remote_offered, event updated" in out
    assert "status=Failure code=RemoteFailure subcode=Declined" in out
    assert "1 violation" in out


def test_a_corrupt_body_is_a_violation_and_later_responses_are_still_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = illegal_stream()
    corrupt = {"t": 2.5, "response": json.dumps(good[0])[:-7]}  # cut mid-document
    stream = write_jsonl(tmp_path / "s.jsonl", [good[0], corrupt, good[3]])
    assert main(["replay", "--json", str(stream)]) == 1
    out = json.loads(capsys.readouterr().out)
    [violation] = out["violations"]
    assert (violation["response"], violation["event"], violation["href"], violation["type"]) == (1, None, None, None)
    assert "not valid JSON" in violation["message"]
    assert out["resources"][0]["state"] == "Declined"
    assert out["events"] == 2


# -- exit codes and input ---------------------------------------------------------------------


def test_exit_0_and_text_for_the_samples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(SAMPLES / "ucwa_av_started.json"), str(SAMPLES / "lobby_added.json")]) == 0
    out = capsys.readouterr().out
    assert "2 resources" in out
    assert "0 violations" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"_links": {"next": {"href": "x"}}, "sender": []}\n{"sender": [\n', "s.jsonl:2: not JSON"),
        ("42\n", "s.jsonl:1: not an events document"),
        ('{"_links": {}, "sender": []}\n["a"]\n', "s.jsonl:2: not an events document"),
        ('{"foo": 1}\n', "s.jsonl:1: not an events document"),
        ('{"t": "soon", "response": {"sender": []}}\n', "s.jsonl:1: t must be a finite number"),
        ('{"t": 1, "response": 5}\n', "s.jsonl:1: response must be"),
        ("\n\n", "s.jsonl: empty"),
        ('{"sender": []}\n{"n": ' + "9" * 5000 + "}\n", "s.jsonl:2: not JSON"),
    ],
)
def test_exit_2_on_unreadable_input_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.jsonl").write_text(content, encoding="utf-8")
    assert main(["replay", "s.jsonl"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"callfsm replay: {expected}")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err


def test_exit_2_on_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(["replay", str(SAMPLES / "lobby_added.json"), str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"callfsm replay: {missing}: cannot read: No such file or directory\n"
    assert captured.out == ""


def test_invalid_utf8_in_the_file_is_exit_2_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"sender": []}\n{"sender": [], "x": "\xff"}\n')
    assert main(["replay", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"callfsm replay: {path}:2: not UTF-8")


@pytest.mark.parametrize("binary", [True, False])
def test_stdin_dash(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], binary: bool) -> None:
    text = "".join(json.dumps(d) + "\n" for d in illegal_stream())
    stdin = io.TextIOWrapper(io.BytesIO(text.encode())) if binary else io.StringIO(text)
    monkeypatch.setattr("sys.stdin", stdin)
    assert main(["replay", "--json", "-"]) == 1
    assert json.loads(capsys.readouterr().out)["violations"][0]["response"] == 2


def test_json_array_and_json_lines_and_several_files_are_one_stream(tmp_path: Path) -> None:
    documents = illegal_stream()
    array = tmp_path / "a.json"
    array.write_text(json.dumps(documents, indent=2), encoding="utf-8")
    as_array = read_records(array.read_bytes(), "a.json")
    starts = [int(str(r.source).rsplit(":", 1)[1]) for r in as_array]
    assert starts[0] == 2  # indent=2: the first element opens on line 2
    assert starts == sorted(set(starts))
    split = [
        *read_records("".join(json.dumps(d) + "\n" for d in documents[:2]), "one"),
        *read_records("".join(json.dumps(d) + "\n" for d in documents[2:]), "two"),
    ]
    assert replay(as_array).to_json() == replay(split).to_json()
    assert replay(split).violations[0].source == "two:1"
    assert replay(split).violations[0].response == 2


def test_array_elements_know_their_lines() -> None:
    text = '[\n  {"sender": []},\n\n  {"_links": {}}\n]\n'
    assert [r.source for r in read_records(text, "f")] == ["f:2", "f:4"]


def test_t_is_the_time_given_to_the_machines() -> None:
    record = {"t": 12.5, "response": document(av_event("started", resource={"state": "Connecting"}), ack=1)}
    run = Replay()
    run.feed_record(read_records(json.dumps(record), "t.jsonl")[0])
    run.feed(json.dumps(document(av_event("updated", resource={"state": "Alerting"}), ack=2)).encode())
    [model] = run.dispatcher.models
    # the first response at its t; the second, without one, at its index (1)
    assert [step.at for step in model.history] == [12.5, 1.0]


def test_reading_rejects_what_is_not_a_recording() -> None:
    with pytest.raises(ReplayInputError, match=r"^x:1: not an events document"):
        read_records('"just a string"', "x")


# -- a generated stream ------------------------------------------------------------------------


def test_generated_stream_of_2000_events_replays_with_no_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = random_stream(2024, events=2000)
    # every third response carries a time, as a recorder with a clock would write it
    lines = [{"t": 100.0 + i, "response": r} if i % 3 == 0 else r for i, r in enumerate(stream.responses)]
    path = write_jsonl(tmp_path / "gen.jsonl", lines)
    assert main(["replay", "--json", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["violations"] == []
    assert out["events"] == 2000
    by_href = {r["href"]: r for r in out["resources"]}
    assert len(by_href) == len(stream.walks)
    for walk in stream.walks:
        definition = MACHINES[walk.machine]
        expected = definition.wire_name(walk.final_state) or walk.final_state.value
        assert (by_href[walk.href]["machine"], by_href[walk.href]["state"]) == (walk.machine, expected), walk
