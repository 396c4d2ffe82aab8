"""Survivors of ``make mutate`` in fsm/snapshot.py: the bounds at their exact edges, deep inside a snapshot.

The bounds are the [U] choices written in fsm/snapshot.py's docstring, typed
here again: any text at most 16 KiB (16384 characters), at most 512 links in
one representation, at most 4096 history steps; ``operationId`` at most 50
(docs/protocol.md §1.3). A bound is kept when a value at the bound restores
and one past it is refused, wherever the value sits. A refusal names where
the bad value is (the machine, the field), so that a log line is enough.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from fsm import snapshot as model_snapshot
from fsm.errors import SnapshotError
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.meeting_series import MeetingSeries
from fsm.reasons import Reason
from fsm.wire import Link, Representation

TEXT_LIMIT = 16 * 1024
LINKS_LIMIT = 512
HISTORY_LIMIT = 4096

INV = "/ucwa/v1/applications/1/communication/invitations/7"
START = "/ucwa/v1/applications/1/communication/startAudioVideo"


def _alerting() -> Invitation:
    call = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    call.send(now=0.0, href=START, operation_id="op-1", to="sip:bob@contoso.com")
    call.created(now=0.2, href=INV)
    call.updated(now=1.0, representation=Representation(state="Alerting", links=(Link("cancel", f"{INV}/cancel"),)))
    return call


def _declined() -> Invitation:
    call = _alerting()
    call.completed(now=3.0, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    return call


def _data(call: Invitation) -> dict[str, Any]:
    return copy.deepcopy(model_snapshot.snapshot(call))


def _refused(snapshot: object) -> str:
    with pytest.raises(SnapshotError) as caught:
        model_snapshot.restore(snapshot)
    message = str(caught.value)
    assert message  # a refusal says something
    return message


def test_a_link_href_at_the_text_bound_restores_and_one_past_it_is_refused_naming_the_link() -> None:
    # the href sits three levels down: model -> representation -> links[0] -> href
    snap = _data(_alerting())
    snap["model"]["representation"]["links"][0]["href"] = "h" * TEXT_LIMIT
    restored = model_snapshot.restore(copy.deepcopy(snap))
    assert isinstance(restored, Invitation)
    assert restored.representation.links[0].href == "h" * TEXT_LIMIT
    snap["model"]["representation"]["links"][0]["href"] = "h" * (TEXT_LIMIT + 1)
    message = _refused(snap)
    assert message.startswith("invitation")
    assert "links[0]" in message
    assert "href" in message


def test_a_second_link_too_long_is_found_too() -> None:
    snap = _data(_alerting())
    links = snap["model"]["representation"]["links"]
    links.append({"rel": "x" * (TEXT_LIMIT + 1), "href": f"{INV}/x"})
    assert "links[1]" in _refused(snap)


def test_a_reason_text_deep_in_the_outcome_is_bounded() -> None:
    snap = _data(_declined())
    snap["model"]["outcome"]["reason"]["message"] = "m" * TEXT_LIMIT
    model_snapshot.restore(copy.deepcopy(snap))
    snap["model"]["outcome"]["reason"]["message"] = "m" * (TEXT_LIMIT + 1)
    message = _refused(snap)
    assert "outcome" in message
    assert "reason" in message


def test_an_href_at_the_text_bound_restores() -> None:
    snap = _data(_alerting())
    snap["model"]["href"] = "h" * TEXT_LIMIT
    model_snapshot.restore(copy.deepcopy(snap))
    snap["model"]["href"] = "h" * (TEXT_LIMIT + 1)
    assert "href" in _refused(snap)


def test_links_at_the_bound_restore_and_one_more_is_refused() -> None:
    snap = _data(_alerting())
    snap["model"]["representation"]["links"] = [{"rel": f"r{i}", "href": f"{INV}/{i}"} for i in range(LINKS_LIMIT)]
    restored = model_snapshot.restore(copy.deepcopy(snap))
    assert isinstance(restored, Invitation)
    assert len(restored.representation.links) == LINKS_LIMIT
    snap["model"]["representation"]["links"].append({"rel": "one-more", "href": f"{INV}/more"})
    message = _refused(snap)
    assert "links" in message
    assert str(LINKS_LIMIT + 1) in message


def test_a_history_reason_at_the_text_bound_restores_and_one_past_it_is_refused_naming_the_step() -> None:
    snap = _data(_alerting())
    snap["model"]["history"][2][3] = "r" * TEXT_LIMIT
    model_snapshot.restore(copy.deepcopy(snap))
    snap["model"]["history"][2][3] = "r" * (TEXT_LIMIT + 1)
    message = _refused(snap)
    assert message.startswith("invitation")
    assert "history[2]" in message


def test_a_history_exactly_at_its_bound_is_not_refused_for_its_length() -> None:
    # Alerting --updated--> Alerting: a ringing call told again that it rings (docs/protocol.md §2.2: events
    # may repeat); 4093 of those after the three steps that reach Alerting make 4096 steps, the bound
    call = _alerting()
    for number in range(HISTORY_LIMIT - len(call.history)):
        call.updated(now=2.0 + number, representation=Representation(state="Alerting"))
    assert len(call.history) == HISTORY_LIMIT
    restored = model_snapshot.restore(_data(call))
    assert len(restored.history) == HISTORY_LIMIT
    snap = _data(call)
    snap["model"]["history"].append(snap["model"]["history"][-1])
    message = _refused(snap)
    assert str(HISTORY_LIMIT + 1) in message


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("idle", ("history[1]",)),  # not an array
        (["idle", "send", "sending", None], ("history[1]",)),  # four fields, not five
        (["idle", 1, "sending", None, 0.0], ("history[1]",)),  # a trigger that is no name
        (["idle", "send", "sending", 7, 0.0], ("history[1]",)),  # a reason that is no text
        (["idle", "send", "sending", None, True], ("history[1]",)),  # true is no clock reading
        (["idle", "send", "sending", None, "0.0"], ("history[1]",)),  # nor is a string
        (["idle", "send", "sending", None, 10**400], ("history[1]",)),  # nor an int no float can hold
    ],
)
def test_a_malformed_history_row_is_refused_naming_the_machine_and_the_row(row: object, words: tuple[str]) -> None:
    snap = _data(_alerting())
    snap["model"]["history"][1] = row
    message = _refused(snap)
    assert message.startswith("invitation")
    for word in words:
        assert word in message


def test_a_step_that_is_no_row_of_the_table_is_shown_in_the_refusal() -> None:
    # an idle call cannot jump to Connected on a send: the table has no such row
    snap = _data(_alerting())
    snap["model"]["history"][0] = ["idle", "send", "Connected", None, 0.0]
    message = _refused(snap)
    assert "idle" in message
    assert "send" in message
    assert "Connected" in message


def test_a_declined_call_whose_outcome_says_it_succeeded_says_so() -> None:
    snap = _data(_declined())
    snap["model"]["outcome"]["success"] = True
    assert "succeeded" in _refused(snap)


def test_an_operation_id_past_its_documented_limit_names_the_field() -> None:
    snap = _data(_alerting())
    snap["model"]["operation_id"] = "o" * 51
    message = _refused(snap)
    assert message.startswith("invitation")
    assert "operation_id" in message
    assert "51" in message


def test_a_snapshot_without_a_history_restores_with_none() -> None:
    # the history is what the model did; a snapshot of a model that did nothing may leave it out
    snap = _data(Invitation(kind=InvitationKind.MESSAGING))
    del snap["model"]["history"]
    restored = model_snapshot.restore(snap)
    assert isinstance(restored, Invitation)
    assert restored.history == []
    assert restored.state is InvitationState.IDLE


@pytest.mark.parametrize("machine", [["invitation"], 7, None, {"name": "invitation"}])
def test_a_machine_that_is_no_name_is_refused_as_unknown(machine: object) -> None:
    snap = _data(_alerting())
    snap["machine"] = machine
    assert "machine" in _refused(snap)


def test_refusals_before_the_model_is_read_say_which_snapshot() -> None:
    snap = _data(_alerting())
    snap["version"] = 0
    assert "snapshot" in _refused(snap)
    snap = _data(_alerting())
    snap["model"] = "not an object"
    assert _refused(snap).startswith("invitation")
    snap = _data(_alerting())
    del snap["model"]["history"]
    snap["model"]["state"] = ["Alerting"]
    assert _refused(snap).startswith("invitation")


@pytest.mark.parametrize(("value", "shown"), [("soon", "string"), (True, "boolean"), (float("inf"), "inf")])
def test_a_time_that_is_no_finite_number_is_refused_naming_the_field_and_what_was_there(
    value: object, shown: str
) -> None:
    # final_at is a reading of the caller's clock: a number, and a finite one
    snap = _data(_declined())
    snap["model"]["final_at"] = value
    message = _refused(snap)
    assert "final_at" in message
    assert shown in message


@pytest.mark.parametrize(("value", "shown"), [("401", "string"), (True, "boolean"), (401.0, "number")])
def test_an_http_status_that_is_no_integer_is_refused_naming_the_field(value: object, shown: str) -> None:
    # a refused Huawei request keeps its HTTP status: an integer (RFC 9110 §15), not text, a flag or a float
    series = MeetingSeries(conference_id="914083136")
    series.cancel(now=1.0)
    series.cancel_failed(now=2.0, status=401)
    snap = copy.deepcopy(model_snapshot.snapshot(series))
    snap["model"]["last_error"]["status"] = value
    message = _refused(snap)
    assert "status" in message
    assert shown in message


@pytest.mark.parametrize("version", ["1", True, 1.0, None])
def test_a_version_that_is_no_integer_is_refused(version: object) -> None:
    snap = _data(_alerting())
    snap["version"] = version
    assert "version" in _refused(snap)


def test_loads_of_something_that_is_no_text_names_what_it_got() -> None:
    with pytest.raises(SnapshotError) as caught:
        model_snapshot.loads(5)  # type: ignore[arg-type]
    assert "int" in str(caught.value)


def test_a_connected_call_whose_outcome_says_it_failed_says_so() -> None:
    call = _alerting()
    call.completed(now=3.0, status="Success")
    snap = _data(call)
    snap["model"]["outcome"] = {"success": False, "status": "Failure", "reason": None}
    assert "failed" in _refused(snap)


# -- what a refusal shows of the bad value, and the text dumps writes ----------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "shown"),
    [
        ((), "not rows", "string"),  # the history itself
        ((1,), "idle", "string"),  # a row
        ((1, 3), 7, "number"),  # a row's reason
        ((1, 4), "0.0", "string"),  # a row's time
    ],
)
def test_a_malformed_history_says_what_it_found_instead(path: tuple[int, ...], value: object, shown: str) -> None:
    # "a log line is enough": the refusal names the JSON kind that was there, taken from the value put there
    snap = _data(_alerting())
    if not path:
        snap["model"]["history"] = value
    elif len(path) == 1:
        snap["model"]["history"][path[0]] = value
    else:
        snap["model"]["history"][path[0]][path[1]] = value
    assert shown in _refused(snap)


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [("href", 7, "number"), ("href", b"/bytes", "bytes")],
)
def test_a_field_of_the_wrong_kind_says_what_it_found(field: str, value: object, shown: str) -> None:
    # restore takes Python data from any loader, so the value may be no JSON kind at all (bytes)
    snap = _data(_alerting())
    snap["model"][field] = value
    message = _refused(snap)
    assert field in message
    assert shown in message


def test_a_flag_of_the_wrong_kind_says_what_it_found() -> None:
    snap = _data(_declined())
    snap["model"]["outcome"]["success"] = "yes"
    message = _refused(snap)
    assert "success" in message
    assert "string" in message


def test_a_state_that_is_not_one_of_the_machines_says_which_enumeration_it_expected() -> None:
    snap = _data(_alerting())
    del snap["model"]["history"]
    snap["model"]["state"] = "Ringing"  # not one of InvitationState (docs/protocol.md §1.1)
    message = _refused(snap)
    assert "state" in message
    assert InvitationState.__name__ in message


def test_a_connected_call_whose_outcome_says_it_failed_uses_the_word() -> None:
    call = _alerting()
    call.completed(now=3.0, status="Success")
    snap = _data(call)
    snap["model"]["outcome"] = {"success": False, "status": "Failure", "reason": None}
    assert re.search(r"\bfailed\b", _refused(snap))


def _keys_in_order(text: str) -> list[list[str]]:
    found: list[list[str]] = []

    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        found.append([key for key, _ in pairs])
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return found


def test_dumps_writes_every_object_with_its_keys_sorted() -> None:
    # snapshots are stored and diffed as text: the same model must give the same text whatever order the
    # fields are declared in, so dumps writes the canonical form, every object's keys sorted
    text = model_snapshot.dumps(_declined())
    objects = _keys_in_order(text)
    assert len(objects) > 3  # the envelope, the model, the representation, the outcome...
    for keys in objects:
        assert keys == sorted(keys)
    assert model_snapshot.loads(text) == _declined()
