"""The invitation machine: the create POST (its body, documented maximum lengths and values),
the history a model keeps, and snapshots.

Expected values come from docs/protocol.md (§1.1, §1.5, §9) and the seeds.
"""

from __future__ import annotations

import pytest
from invitation_builders import K, S, incoming, outgoing

from fsm import (
    CallDeclineReason,
    InvalidInput,
    Invitation,
    Reason,
    SnapshotError,
    StartOperation,
)
from fsm.invitation import Importance
from fsm.snapshot import dumps, loads, restore, snapshot

# -- send and max lengths -------------------------------------------------------------------


def test_send_builds_the_create_post() -> None:
    inv = Invitation(kind=K.ONLINE_MEETING)
    (action,) = inv.send(now=0, href="/communication/joinOnlineMeeting", operation_id="op", to="sip:meet", subject="s")
    assert action == StartOperation(
        "joinOnlineMeeting",
        "/communication/joinOnlineMeeting",
        "op",
        (("onlineMeetingUri", "sip:meet"), ("subject", "s")),
    )
    assert action.body() == {"operationId": "op", "onlineMeetingUri": "sip:meet", "subject": "s"}


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("operationId", 50),
        ("subject", 250),
        ("sessionContext", 50),
        ("anonymousDisplayName", 250),
        ("callbackUrl", 1024),
    ],
)
def test_max_lengths_refused_before_anything_is_decided(field: str, limit: int) -> None:
    inv = Invitation(kind=K.AUDIO_VIDEO)
    ok = "x" * limit
    too_long = "x" * (limit + 1)
    operation_id = too_long if field == "operationId" else "op"
    subject = too_long if field == "subject" else None
    extra = {field: too_long} if field not in {"operationId", "subject"} else {}
    with pytest.raises(InvalidInput, match=field):
        inv.send(now=0, href="/s", operation_id=operation_id, to="sip:x", subject=subject, extra=extra)
    assert inv.state is S.IDLE
    assert inv.history == []
    # exactly at the limit is fine
    Invitation(kind=K.AUDIO_VIDEO).send(
        now=0,
        href="/s",
        operation_id=ok if field == "operationId" else "op",
        to="sip:x",
        subject=ok if field == "subject" else None,
        extra={field: ok} if field not in {"operationId", "subject"} else {},
    )


def test_operation_id_is_optional_as_ucwa_documents_it() -> None:
    inv = Invitation(kind=K.MESSAGING)
    (action,) = inv.send(now=0, href="/communication/startMessaging", to="sip:x")
    assert isinstance(action, StartOperation)
    assert action.operation_id is None
    assert action.body() == {"to": "sip:x"}  # no operationId key at all
    assert inv.state is S.SENDING


def test_saas_add_participant_requires_an_operation_id() -> None:
    # docs/protocol.md §1.5: the Trusted Application API's addParticipant makes operationId required
    inv = Invitation(kind=K.PARTICIPANT)
    with pytest.raises(InvalidInput, match="operationId"):
        inv.send(now=0, href="/conv/addParticipant", to="sip:x", saas=True)
    assert inv.state is S.IDLE
    (action,) = inv.send(now=0, href="/conv/addParticipant", to="sip:x", saas=True, operation_id="op")
    assert isinstance(action, StartOperation)
    assert action.operation_id == "op"
    # UCWA's does not
    Invitation(kind=K.PARTICIPANT).send(now=0, href="/conv/addParticipant", to="sip:x")


@pytest.mark.parametrize(
    ("given", "sent"),
    [(Importance.URGENT, "Urgent"), ("Emergency", "Emergency"), ("normal", "Normal"), ("URGENT", "Urgent")],
)
def test_importance_takes_its_documented_values(given: Importance | str, sent: str) -> None:
    (action,) = Invitation(kind=K.MESSAGING).send(now=0, href="/s", to="sip:x", importance=given)
    assert isinstance(action, StartOperation)
    assert action.body()["importance"] == sent


@pytest.mark.parametrize("given", ["High", "", "Normal!", "Low"])
def test_importance_refuses_anything_else_before_anything_moves(given: str) -> None:
    # docs/protocol.md §1.1: Normal, Urgent, Emergency
    inv = Invitation(kind=K.MESSAGING)
    with pytest.raises(InvalidInput, match="importance"):
        inv.send(now=0, href="/s", to="sip:x", importance=given)
    assert inv.state is S.IDLE
    assert inv.history == []


def test_send_requires_a_target() -> None:
    with pytest.raises(InvalidInput, match="target"):
        Invitation(kind=K.MESSAGING).send(now=0, href="/s", operation_id="op")


# -- history and snapshots ----------------------------------------------------------------------


def test_history_records_from_trigger_to_reason_and_time() -> None:
    inv = incoming()
    inv.decline(now=7.5, reason=CallDeclineReason.LOCAL)
    inv.completed(now=8.0, status="Failure", reason=Reason("LocalFailure", "Declined", "declined here"))
    last = inv.history[-1]
    assert (last.source, last.dest, last.at) == (S.DECLINING, S.DECLINED, 8.0)
    assert last.reason is not None
    assert "LocalFailure/Declined" in last.reason
    assert inv.history[-2].reason == "decline: Local"


def test_snapshot_round_trip_equal_model() -> None:
    inv = outgoing()
    inv.cancel(now=1)
    inv.completed(now=2, status="Failure", reason=Reason("LocalFailure", "Canceled", "m"))
    text = dumps(inv)
    back = loads(text)
    assert back == inv
    assert snapshot(back) == snapshot(inv)


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.update(version=99), "newer"),
        (lambda d: d.update(format="other"), "not a callfsm snapshot"),
        (lambda d: d.update(machine="nope"), "unknown machine"),
        (lambda d: d["model"].update(state="Ringing"), "malformed|does not fit"),
        (lambda d: d["model"].update(history=[["idle", "explode", "sending", None, 0.0]]), "malformed|does not fit"),
    ],
)
def test_bad_snapshots_are_refused_clearly(mutate: object, words: str) -> None:
    data = snapshot(outgoing())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(SnapshotError, match=words):
        restore(data)


def test_snapshot_of_garbage_text() -> None:
    with pytest.raises(SnapshotError, match="not JSON"):
        loads("{nope")
