"""``callfsm replay`` as a stream (issues 13 and 14): linear reading, bounded memory, hostile files, --jobs, orjson.

No wall-clock assertion: linearity is checked on counted operations (the
characters the reader scans for line numbers, the text the decoder is handed)
and on traced memory.
"""

from __future__ import annotations

import gc
import io
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.cli import replay as cli_replay
from adapters.cli.replay import write_json
from adapters.routing import dispatcher
from adapters.routing.replay import Replay, ReplayInputError, iter_records, read_records, replay
from adapters.wire import events, recording

SAMPLES = Path(__file__).parent.parent / "samples"
APP = "/ucwa/oauth/v1/applications/7"


def call_events(app: str, n: int) -> list[dict[str, Any]]:
    """An incoming audio/video call: started (Connecting), updated (Alerting), completed Success (Connected).

    docs/protocol.md §1.1 and §9.1: an incoming invitation starts Connecting or Alerting, and a
    completed with status Success ends it Connected (not terminal: it can still be hung up).
    """
    href = f"{app}/communication/audioVideoInvitations/{n}"
    links = {"self": {"href": href}, "accept": {"href": f"{href}/accept"}}

    def event(type_: str, state: str, **extra: Any) -> dict[str, Any]:
        resource = {"direction": "Incoming", "state": state, "_links": links, "rel": "audioVideoInvitation"}
        return {"link": {"rel": "audioVideoInvitation", "href": href}, "type": type_,
                "_embedded": {"audioVideoInvitation": resource}, **extra}  # fmt: skip

    ended = event("completed", "Connected", status="Success")
    return [event("started", "Connecting"), event("updated", "Alerting"), ended]


def response(app: str, events: list[dict[str, Any]], ack: int) -> dict[str, Any]:
    return {
        "_links": {"self": {"href": f"{app}/events?ack={ack}"}, "next": {"href": f"{app}/events?ack={ack + 1}"}},
        "sender": [{"rel": "communication", "href": f"{app}/communication", "events": events}],
    }


def jsonl(app: str, calls: int) -> bytes:
    """One response per call (its three events), one line each."""
    return b"".join(json.dumps(response(app, call_events(app, n), n)).encode() + b"\n" for n in range(calls))


# -- linear reading ------------------------------------------------------------------------


def scanned_for_lines(monkeypatch: pytest.MonkeyPatch, data: bytes) -> tuple[int, int, int]:
    """Replay-read ``data`` (an array); (records, characters scanned for newlines, text handed to the decoder)."""
    counts = {"newlines": 0, "decoder": 0}
    newlines = recording._newlines
    raw_decode = json.JSONDecoder.raw_decode

    def counting_newlines(text: str, start: int, end: int) -> int:
        counts["newlines"] += end - start
        return newlines(text, start, end)

    def counting_decode(self: json.JSONDecoder, s: str, idx: int = 0) -> tuple[Any, int]:
        counts["decoder"] += len(s) - idx
        return raw_decode(self, s, idx)

    monkeypatch.setattr(recording, "_newlines", counting_newlines)
    monkeypatch.setattr(json.JSONDecoder, "raw_decode", counting_decode)
    records = sum(1 for _ in iter_records(io.BytesIO(data), "big.json"))
    monkeypatch.undo()
    return records, counts["newlines"], counts["decoder"]


def array_of(elements: int) -> bytes:
    # the smallest events document, one per line: "[\n" + "{...},\n" * n + "]"
    return b"[\n" + b",\n".join([b'{"sender": []}'] * elements) + b"\n]\n"


def test_an_array_is_read_in_time_linear_in_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 13: 200k vs 50k elements at most 5x. The old reader counted the newlines from the
    # start of the text for each element (quadratic: 16x here); each character is now counted
    # once, and the decoder is handed a window of bounded size, not the rest of the file.
    small, large = array_of(50_000), array_of(200_000)
    n_small, lines_small, text_small = scanned_for_lines(monkeypatch, small)
    n_large, lines_large, text_large = scanned_for_lines(monkeypatch, large)
    assert (n_small, n_large) == (50_000, 200_000)
    assert lines_small <= len(small)
    assert lines_large <= len(large)
    assert lines_large / lines_small <= 5
    assert text_large / text_small <= 5


def test_an_array_is_read_in_bounded_memory() -> None:
    # The old reader held the whole text and every record: memory grew with the file. Reading
    # 4x the elements must not take more than a little over the same peak (a window + one record).
    def peak(data: bytes) -> int:
        tracemalloc.start()
        try:
            for _ in iter_records(io.BytesIO(data), "big.json"):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = array_of(20_000), array_of(80_000)
    assert peak(large) < peak(small) * 1.5 + 64 * 1024


def test_reading_an_array_leaves_no_reference_cycles() -> None:
    # The replay command runs the cyclic GC rarely (gc.freeze and a high threshold), so anything the
    # reader leaves in a cycle lives on. A decode error kept with its traceback or its context (json's
    # StopIteration) did: each held the 64 KiB buffer it was raised on, and a 1e6-element array
    # peaked at 155 MB RSS instead of 27 MB. Reading creates no cycle at all now, so the collector
    # finds nothing; before, about three objects per buffer boundary (602 on these 4 MB).
    element = b'{"sender": [], "_links": {"self": {"href": "/events?ack=1&pad=' + b"x" * 120 + b'"}}}'
    data = b"[" + b",".join([element] * 20_000) + b"]"  # one line: every element crosses from one read to the next
    gc.collect()
    gc.disable()
    try:
        assert sum(1 for _ in iter_records(io.BytesIO(data), "a.json")) == 20_000
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_array_elements_keep_their_lines_across_buffer_boundaries() -> None:
    # elements far beyond the first read (64 KiB) still name the line they start on
    data = array_of(30_000)
    sources = [r.source for r in iter_records(io.BytesIO(data), "a.json")]
    assert sources[0] == "a.json:2"
    assert sources[-1] == "a.json:30001"


def test_memory_per_ended_call_is_at_most_2_kb() -> None:
    # Issue 13/14: replaying 40k completed calls holds at most 2 KB per ended call over 10k. Here
    # 1,000 vs 4,000 calls (the same growth per call, smaller): traced live bytes of the replay
    # after all its calls ended, before the report, bounded caches emptied.
    def live_after(calls: int) -> int:
        data = jsonl(APP, calls)
        tracemalloc.start()
        try:
            run = Replay()
            base = tracemalloc.get_traced_memory()[0]
            for record in iter_records(io.BytesIO(data), "calls.jsonl"):
                run.feed_record(record)
            assert run.events == 3 * calls
            assert not run.violations
            # the parser's and dispatcher's href-keyed caches are bounded (4,096 entries): not per call
            events._LINKS.clear()
            events._EVENT_LINKS.clear()
            dispatcher._href_key.cache_clear()
            return tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()

    per_call = (live_after(4_000) - live_after(1_000)) / 3_000
    assert per_call <= 2048, per_call


def late_events(app: str, n: int) -> list[dict[str, Any]]:
    """What may still come for call ``n`` after its completed: a copy, a changed state, another completion."""
    started, updated, completed = call_events(app, n)
    other = {**completed, "status": "Failure", "reason": {"code": "RemoteFailure", "subcode": "Declined"}}
    return [completed, {**updated, "_embedded": {}}, other, started, {**updated, "type": "deleted"}]


@pytest.mark.parametrize("seed", [5, 77])
def test_releasing_settled_models_changes_no_verdict(seed: int) -> None:
    # A settled model keeps routing late events; only what no absorbed event reads is released. The
    # same recordings with and without the release must give the same report in every field:
    # generated streams of every machine, and calls hit by late events after their end.
    from adapters.testing.strategies import random_stream

    stream = random_stream(seed, events=800)
    generated = "".join(json.dumps(r) + "\n" for r in stream.responses).encode()
    late = jsonl(APP, 6) + b"".join(
        json.dumps(response(APP, late_events(APP, n), 100 + n)).encode() + b"\n" for n in range(6)
    )

    def both(data: bytes) -> list[Any]:
        reports = []
        for release in (True, False):
            run = Replay(release=release)
            for record in read_records(data, "r.jsonl"):
                run.feed_record(record)
            reports.append(run.report())
        return reports

    released, kept = both(generated)
    assert released == kept
    released, kept = both(late)
    assert released == kept
    # the late events did reach the ended calls: the exact copies of each call's completed and
    # started are dropped (two per call), and ``deleted`` means nothing to an invitation
    assert released.duplicates == 2 * 6
    assert [n.type for n in released.not_applied] == ["deleted"] * 6


# -- hostile and broken files ------------------------------------------------------------


class Zeros(io.RawIOBase):
    """An endless stream of NUL bytes, like /dev/zero."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        buffer[:] = bytes(len(buffer))
        return len(buffer)


def test_an_endless_line_is_refused_at_the_record_limit() -> None:
    with pytest.raises(ReplayInputError, match=r"^zeros:1: a record longer than the limit of 8388608 bytes"):
        next(iter_records(io.BufferedReader(Zeros()), "zeros"))


def one_line_exit_2(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["replay", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err
    return captured.err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # it used to end in a MemoryError traceback and exit 1
    assert "a record longer than the limit" in one_line_exit_2(capsys, "/dev/zero")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # JSON Lines cut in the middle of the last line
        ('{"sender": []}\n{"sender": [{"rel": "communication", "hr', "t:2: not JSON"),
        # an array cut after an element, and in the middle of one
        ('[{"sender": []},\n', "t:2: not JSON"),
        ('[\n{"sender": []},\n{"sender": [', "t:3: not JSON"),
        # raw XML cut before its end tag
        ('<events xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa"><sender', "t:1: an XML response without"),
        # an array followed by something else
        ('[{"sender": []}] {"sender": []}', "t:1: not JSON: data after the end of the array"),
    ],
)
def test_truncated_files_exit_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("t").write_text(content, encoding="utf-8")
    assert one_line_exit_2(capsys, "t").startswith(f"callfsm replay: {expected}")


def test_a_memory_error_while_replaying_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(jsonl(APP, 2))

    def exhausted(self: Replay, record: Any) -> None:
        raise MemoryError

    monkeypatch.setattr(Replay, "feed_record", exhausted)
    assert "out of memory" in one_line_exit_2(capsys, str(path))


# -- raw XML event responses --------------------------------------------------------------


def test_a_file_of_raw_xml_responses_replays_like_their_json_forms(tmp_path: Path) -> None:
    # issue 12: the XML event channel's answers as they came, one document after another
    names = ("seed002_started", "seed002_updated", "seed002_completed")
    path = tmp_path / "channel.xml"
    path.write_bytes(b"\n".join((SAMPLES / f"{n}.xml").read_bytes() for n in names))
    as_xml = list(iter_records(path.open("rb"), "channel.xml"))
    as_json = [r for n in names for r in read_records((SAMPLES / f"{n}.json").read_bytes(), n)]
    assert [r.content_type for r in as_xml] == ["application/xml"] * 3
    assert replay(as_xml).to_json() == replay(as_json).to_json()


# -- output, --jobs, orjson --------------------------------------------------------------


def test_json_output_is_json_dumps_indent_2(tmp_path: Path) -> None:
    # connected calls (no outcome), a declined one (status, code, subcode), one failed without a
    # reason (code and subcode null), a non-ASCII href, and an unreadable response (a violation)
    refusal = {"status": "Failure", "reason": {"code": "RemoteFailure", "subcode": "Declined"}}
    declined = [*call_events(APP, 90)[:2], {**call_events(APP, 90)[2], **refusal}]
    declined[2]["_embedded"]["audioVideoInvitation"]["state"] = "Declined"
    failed = [*call_events(APP, 91)[:1], {**call_events(APP, 91)[2], "status": "Failure", "_embedded": {}}]
    odd = call_events(f'{APP}/é"', 92)
    lines = [json.dumps(response(APP, e, n)).encode() for n, e in enumerate((declined, failed, odd))]
    data = jsonl(APP, 3) + b"\n".join(lines) + b'\n{"t": 1, "response": "not json"}\n'
    report = replay(read_records(data, "x.jsonl"))
    assert len(report.violations) == 1  # the raw body: one unreadable response
    assert {(r.outcome.code, r.outcome.subcode) for r in report.resources if r.outcome} == {
        ("RemoteFailure", "Declined"),
        (None, None),
    }
    out = io.StringIO()
    write_json(report, out)
    assert out.getvalue() == json.dumps(report.to_json(), indent=2) + "\n"


def test_jobs_2_gives_the_output_of_jobs_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # two applications' channels, one file each; the second file has a corrupt response, so that
    # violations' response indexes must be counted across the files as with --jobs 1
    first = tmp_path / "app1.jsonl"
    second = tmp_path / "app2.jsonl"
    first.write_bytes(jsonl(f"{APP}1", 5))
    second.write_bytes(jsonl(f"{APP}2", 4) + b'{"response": "{\\"sender\\": ["}\n' + jsonl(f"{APP}2", 1))
    outputs = []
    for jobs in ("1", "2"):
        assert main(["replay", "--json", "--jobs", jobs, str(first), str(second)]) == 1
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    report = json.loads(outputs[1])
    assert [v["response"] for v in report["violations"]] == [5 + 4]
    assert len(report["resources"]) == 5 + 4
    assert main(["replay", "--jobs", "2", str(first), str(second)]) == 1
    text = capsys.readouterr().out
    assert main(["replay", "--jobs", "1", str(first), str(second)]) == 1
    assert capsys.readouterr().out == text


@pytest.mark.parametrize("jobs", ["2", "3"])
def test_files_shared_between_this_process_and_workers_come_out_in_file_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: str
) -> None:
    # with --jobs 2 this process replays files 0 and 2 and the worker 1 and 3 (3: 0 and 3 here, 1 and 2
    # there); a file with no resource at all sits among them, so an empty rendered part must not
    # leave a stray comma. --jobs 1 (one stream) is the reference.
    files = []
    for n, body in enumerate(
        (jsonl(f"{APP}1", 3), b'{"response": "{\\"sender\\": ["}\n', jsonl(f"{APP}3", 2), jsonl(f"{APP}4", 4))
    ):
        files.append(tmp_path / f"app{n}.jsonl")
        files[-1].write_bytes(body)
    names = [str(f) for f in files]
    assert main(["replay", "--json", "--jobs", "1", *names]) == 1
    expected = capsys.readouterr().out
    assert main(["replay", "--json", "--jobs", jobs, *names]) == 1
    assert capsys.readouterr().out == expected
    assert len(json.loads(expected)["resources"]) == 3 + 2 + 4



def test_an_unreadable_file_in_a_workers_share_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --jobs 2: file 0 is this process's, file 1 the worker's; the worker's error crosses the pipe
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_bytes(jsonl(APP, 2))
    bad.write_bytes(b"not json at all\n")
    assert "bad.jsonl" in one_line_exit_2(capsys, "--json", "--jobs", "2", str(good), str(bad))
    # both unreadable: the first file's error is the one shown, though the worker may meet its own first
    worse = tmp_path / "worse.jsonl"
    worse.write_bytes(b"[1, \n")
    assert "worse.jsonl" in one_line_exit_2(capsys, "--json", "--jobs", "2", str(worse), str(bad))

def _die(name: str, render: bool) -> None:
    os._exit(3)  # a worker killed from outside (the OOM killer, a signal) ends like this


def test_a_worker_that_dies_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(jsonl(APP, 1))
    second.write_bytes(jsonl(APP, 1))
    monkeypatch.setattr(cli_replay, "_replay_one", _die)  # the workers are forked: they see it
    assert "worker process died" in one_line_exit_2(capsys, "--jobs", "2", str(first), str(second))


def test_jobs_refuses_standard_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert "standard input" in one_line_exit_2(capsys, "--jobs", "2", "-", str(SAMPLES / "lobby_added.json"))


#: Lines where orjson and json may disagree, and ordinary ones: each path must give the same.
EDGE_LINES = [
    b'{"sender": [], "n": 1e400}',
    b'{"sender": [], "n": NaN}',
    b'{"sender": [], "n": 123456789012345678901234567890}',
    b'{"sender": [], "s": "\\ud800"}',
    b'{"sender": [], "k": 1, "k": 2}',
    b'{"sender": [], "f": 0.1, "g": -0.0, "u": "\\u00e9\xc3\xa9"}',
    b'{"sender": [], "deep": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    b'{"sender": [}',
    b'{"sender": [], "x": "\xff"}',
]


def read_each(line: bytes) -> tuple[str, Any]:
    try:
        records = read_records(b'{"_links": {}}\n' + line + b"\n", "e.jsonl")
    except ReplayInputError as exc:
        return "error", str(exc)
    document = records[1].document
    return "value", json.dumps(document, sort_keys=True, allow_nan=True) if document is not None else None


@pytest.mark.skipif(recording.orjson is None, reason="the fast extra (orjson) is not installed")
@pytest.mark.parametrize("line", EDGE_LINES)
def test_orjson_and_json_read_the_same_records(monkeypatch: pytest.MonkeyPatch, line: bytes) -> None:
    monkeypatch.setattr(recording, "USE_ORJSON", True)
    fast = read_each(line)
    monkeypatch.setattr(recording, "USE_ORJSON", False)
    assert read_each(line) == fast


@pytest.mark.skipif(recording.orjson is None, reason="the fast extra (orjson) is not installed")
def test_orjson_and_json_replay_a_generated_stream_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.testing.strategies import random_stream

    stream = random_stream(99, events=600)
    data = "".join(json.dumps(r) + "\n" for r in stream.responses).encode()
    reports = []
    for fast in (True, False):
        monkeypatch.setattr(recording, "USE_ORJSON", fast)
        reports.append(replay(read_records(data, "g.jsonl")))
    assert reports[0] == reports[1]
    assert reports[0].events == 600
