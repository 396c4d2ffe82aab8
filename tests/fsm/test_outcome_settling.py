"""fsm.outcome's final-outcome rules, function by function (issue 12, "Final outcomes").

An end seen without status (a GET, or an ``updated`` to a final state: docs/protocol.md
§1.7, §2.3) is provisional: a later ``completed`` that agrees fills in its status and
reason, and it is final at once when a ``completed`` gave it. The grace is the README's
10 seconds of the caller's clock.
"""

from __future__ import annotations

import pytest

from fsm.outcome import Completion, Outcome, fill_in, is_final, settle_by
from fsm.reasons import Reason

DECLINED_REASON = Reason("RemoteFailure", "Declined", "Outgoing invitation declined.")  # seed 002's table


def provisional_declined() -> Outcome:
    return Outcome.without_status(Completion.DECLINED, "updated")


def test_no_outcome_has_no_deadline() -> None:
    assert settle_by(None, 5.0) is None


def test_an_outcome_a_completed_gave_is_final_at_once() -> None:
    given = Outcome.of(Completion.DECLINED, "Failure", DECLINED_REASON)
    assert settle_by(given, 5.0) is None
    assert is_final(given, None, 5.0)


def test_an_end_without_status_waits_ten_seconds() -> None:
    deadline = settle_by(provisional_declined(), 5.0)
    assert deadline == 15.0
    assert not is_final(provisional_declined(), deadline, 14.9)
    assert is_final(provisional_declined(), deadline, 15.0)


def test_nothing_fills_in_no_outcome() -> None:
    assert fill_in(None, Completion.DECLINED, "Failure", DECLINED_REASON, agrees_with_state=True) is None


def test_an_outcome_with_its_status_is_not_filled_in_again() -> None:
    given = Outcome.of(Completion.FAILED, "Failure", Reason("ServiceFailure", "Timeout"))
    assert fill_in(given, Completion.DECLINED, "Failure", DECLINED_REASON, agrees_with_state=True) is None


def test_a_completed_without_status_fills_in_nothing() -> None:
    # §9 #2: a completed whose only word is its embedded state says nothing new
    assert fill_in(provisional_declined(), Completion.DECLINED, None, None, agrees_with_state=True) is None


def test_an_agreeing_completed_fills_in_status_and_reason() -> None:
    filled = fill_in(provisional_declined(), Completion.DECLINED, "Failure", DECLINED_REASON, agrees_with_state=True)
    assert filled is not None
    assert (filled.success, filled.status, filled.reason) == (False, "Failure", DECLINED_REASON)
    assert settle_by(filled, 20.0) is None  # and it is final at once


@pytest.mark.parametrize(
    ("completion", "agrees"),
    [(Completion.CONNECTED, True), (Completion.FAILED, False)],
    ids=["success against a decline", "another failure state"],
)
def test_a_disagreeing_completed_fills_in_nothing(completion: Completion, agrees: bool) -> None:
    assert fill_in(provisional_declined(), completion, "Failure", DECLINED_REASON, agrees_with_state=agrees) is None


def test_an_agreeing_success_fills_in_its_status() -> None:
    # an updated to Connected, then completed Success (the SendAnIM sample's status): still a success
    seen = Outcome.without_status(Completion.CONNECTED, "updated")
    filled = fill_in(seen, Completion.CONNECTED, "Success", None, agrees_with_state=True)
    assert filled is not None
    assert (filled.success, filled.status) == (True, "Success")
