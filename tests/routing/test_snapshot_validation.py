"""A snapshot that fits the model's types but no trigger sequence could have made is refused.

Each case starts from a snapshot the library wrote for a real call, edits one
thing, and expects :class:`fsm.errors.SnapshotError` naming what is wrong.
Why each edit is wrong, from the documentation and the machine's rules:

- a call is Connected only after the server said so (a ``completed`` Success,
  docs/protocol.md §1.7), and the model records that as its outcome; a history
  is the list of steps the model took, so it ends where the model is;
- Declined is an unsuccessful end (§1.7: Failure with subcode Declined);
- times are readings of the caller's clock: NaN or infinity is no reading;
- ``operationId`` has at most 50 characters (§1.3);
- a history of a million steps is no call anyone made; the bound is a choice
  written in fsm/snapshot.py, and 1e6 is far above it.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from adapters.routing import restart
from fsm import snapshot as model_snapshot
from fsm.errors import SnapshotError
from fsm.invitation import Invitation, InvitationKind
from fsm.reasons import Reason
from fsm.renegotiation import Renegotiation
from fsm.wire import Link, Representation

INV = "/ucwa/v1/applications/1/communication/invitations/7"
START = "/ucwa/v1/applications/1/communication/startAudioVideo"


def alerting() -> Invitation:
    call = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    call.send(now=0.0, href=START, operation_id="op-1", to="sip:bob@contoso.com")
    call.created(now=0.2, href=INV)
    call.updated(now=1.0, representation=Representation(state="Alerting", links=(Link("cancel", f"{INV}/cancel"),)))
    return call


def connected() -> Invitation:
    call = alerting()
    call.completed(now=3.0, status="Success")
    return call


def declined() -> Invitation:
    call = alerting()
    call.completed(now=3.0, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    return call


def data(call: Any) -> dict[str, Any]:
    return copy.deepcopy(model_snapshot.snapshot(call))


def refused(snapshot: dict[str, Any], *words: str) -> str:
    with pytest.raises(SnapshotError) as caught:
        model_snapshot.restore(snapshot)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return message


def test_the_snapshots_edited_below_restore_as_they_are() -> None:
    # the starting points are valid: each refusal below comes from the one edit
    for call in (alerting(), connected(), declined()):
        assert model_snapshot.loads(model_snapshot.dumps(call)) == call


def test_connected_with_no_outcome_and_a_history_ending_in_alerting_is_refused() -> None:
    snap = data(alerting())
    snap["model"]["state"] = "Connected"
    refused(snap, "Connected", "Alerting")


def test_connected_with_no_outcome_is_refused_even_with_a_history_that_ends_there() -> None:
    snap = data(connected())
    snap["model"]["outcome"] = None
    refused(snap, "Connected", "outcome")


def test_a_declined_call_whose_outcome_says_it_succeeded_is_refused() -> None:
    snap = data(declined())
    snap["model"]["outcome"] = {"success": True, "status": "Success", "reason": None}
    refused(snap, "Declined", "succeeded")


def test_a_history_with_a_gap_is_refused() -> None:
    snap = data(connected())
    del snap["model"]["history"][1]  # sending -> (created) -> Connecting removed: the next step starts elsewhere
    refused(snap, "history[1]")


def test_a_history_step_that_is_no_row_of_the_table_is_refused() -> None:
    snap = data(connected())
    # nothing leaves a terminal state, so Declined -> Connected by `updated` is no row of any table
    snap["model"]["history"].append(["Declined", "updated", "Connected", None, 4.0])
    refused(snap, "no transition")


@pytest.mark.parametrize("at", [math.nan, math.inf, -math.inf, 10**400], ids=["nan", "inf", "-inf", "1e400"])
def test_a_history_time_that_is_no_clock_reading_is_refused(at: float) -> None:
    snap = data(connected())
    snap["model"]["history"][0][4] = at
    refused(snap, "history[0]", "finite")


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_time_in_json_text_is_refused(text: str) -> None:
    rows = json.dumps(data(connected())).replace('"Connecting", null, 0.2', f'"Connecting", null, {text}')
    assert text in rows
    with pytest.raises(SnapshotError):
        model_snapshot.loads(rows)


def test_a_non_finite_deadline_is_refused() -> None:
    offer = Renegotiation()
    snap = data(offer)
    snap["model"]["deadline"] = float("nan")
    refused(snap, "deadline")


def test_operation_id_keeps_its_documented_limit_of_50_characters() -> None:
    snap = data(connected())
    snap["model"]["operation_id"] = "o" * 50
    model_snapshot.restore(copy.deepcopy(snap))  # at the limit: fine
    snap["model"]["operation_id"] = "o" * 51
    refused(snap, "operation_id", "50")
    snap["model"]["operation_id"] = "o" * 10_000
    refused(snap, "operation_id")


def test_an_operation_id_past_the_limit_inside_the_representation_is_refused() -> None:
    snap = data(connected())
    snap["model"]["representation"]["operation_id"] = "o" * 51
    refused(snap, "operation_id")


def test_a_history_of_a_million_steps_is_refused() -> None:
    snap = data(connected())
    row = snap["model"]["history"][-1]
    snap["model"]["history"] = [row] * 1_000_000
    refused(snap, "history", "1000000")


def test_an_absurdly_long_href_is_refused() -> None:
    snap = data(connected())
    snap["model"]["href"] = INV + "x" * 1_000_000
    refused(snap, "href")


def test_a_client_snapshot_with_a_contradictory_model_is_refused_the_same_way() -> None:
    from adapters.routing.dispatcher import Dispatcher

    dispatcher = Dispatcher()
    dispatcher.track(alerting())
    app = "https://fe1.contoso.com/ucwa/v1/applications/1"
    client = restart.take(app, f"{app}/events?ack=1", dispatcher, now=10.0, wall=1000.0)
    client["models"][0]["model"]["model"]["state"] = "Connected"
    with pytest.raises(SnapshotError) as caught:
        restart.load(client, url=app, now=10.0, wall=1000.0)
    assert "models[0]" in str(caught.value)
    assert "Alerting" in str(caught.value)
