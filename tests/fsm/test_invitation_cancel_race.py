"""The invitation machine: the cancel race and hang-up.

A cancel and the hang-up POST the same link and their responses do not say which request they
answer; each ordering of cancel, 204 and completed is written out with where it must land.
Expected values come from docs/protocol.md (§1.1-§1.7) and the S3 traffic.
"""

from __future__ import annotations

import pytest
from invitation_builders import S, outgoing

from fsm import (
    FetchResource,
    InvalidTrigger,
    Invitation,
    Link,
    PostLink,
    Reason,
    Representation,
)
from fsm.actions import Actions
from fsm.snapshot import dumps, loads, restore, snapshot

# -- the cancel race and hang-up ----------------------------------------------------------


def test_cancel_then_canceled_ends_cancelled() -> None:
    inv = outgoing()
    assert inv.cancel(now=1) == (PostLink("cancel", "/inv/9/cancel"),)
    inv.request_succeeded(now=1.1)
    inv.completed(now=2, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert inv.state is S.CANCELLED


TERMINATE = Link("cancel", "/conv/1/audioVideo/terminate")  # S3: cancel href after Connected


def answered(inv: Invitation, now: float, links: tuple[Link, ...] = (TERMINATE,)) -> Actions:
    """``completed`` Success with the Connected invitation (its cancel link now terminates the modality)."""
    return inv.completed(now=now, status="Success", representation=Representation(state="Connected", links=links))


def test_cancel_race_success_crosses_the_cancel_then_its_204_sends_the_hang_up() -> None:
    # (a) the Success overtakes the cancel's 204: the two responses would look alike, so the hang-up
    # waits for the cancel's; it is request_succeeded that asks for it, not completed
    inv = outgoing()
    assert inv.cancel(now=1) == (PostLink("cancel", "/inv/9/cancel"),)
    assert answered(inv, 2) == ()
    assert inv.state is S.CANCEL_CROSSED
    assert inv.outcome is not None
    assert inv.outcome.success
    assert inv.request_succeeded(now=3) == (PostLink("cancel", "/conv/1/audioVideo/terminate"),)  # the cancel's
    assert inv.state is S.HANGING_UP
    assert inv.request_succeeded(now=4) == ()  # the hang-up's
    assert inv.state is S.HUNG_UP
    assert inv.is_terminal
    assert inv.outcome.success  # it did connect, then we hung up
    assert [(step.source, step.dest) for step in inv.history[-4:]] == [
        (S.CONNECTING, S.CANCELLING),
        (S.CANCELLING, S.CANCEL_CROSSED),
        (S.CANCEL_CROSSED, S.HANGING_UP),
        (S.HANGING_UP, S.HUNG_UP),
    ]


def test_cancel_race_hang_up_refused_after_the_late_204_stays_connected() -> None:
    # (b) the soak's cancel-204 gap: the late 204 is the cancel's, so the refusal is the hang-up's
    inv = outgoing()
    inv.cancel(now=1)
    answered(inv, 2)
    inv.request_succeeded(now=3)
    assert inv.request_failed(now=4, reason=Reason("ServiceFailure", "None")) == ()
    assert inv.state is S.CONNECTED  # not hung_up: the server's call is still connected
    assert inv.outcome is not None
    assert (inv.outcome.success, inv.outcome.status) == (True, "Success")
    assert inv.cancel(now=5) == (PostLink("cancel", "/conv/1/audioVideo/terminate"),)  # hang up again


def test_cancel_204_first_then_success_hangs_up_at_once() -> None:
    # (c) the cancel's 204 came first: nothing is in flight, so completed asks for the hang-up itself
    inv = outgoing()
    inv.cancel(now=1)
    assert inv.request_succeeded(now=1.1) == ()
    assert inv.state is S.CANCEL_ANSWERED
    assert answered(inv, 2) == (PostLink("cancel", "/conv/1/audioVideo/terminate"),)
    assert inv.state is S.HANGING_UP
    assert inv.outcome is not None
    assert inv.outcome.success
    inv.request_succeeded(now=3)
    assert inv.state is S.HUNG_UP


def test_success_crossed_then_the_cancel_refused_hangs_up() -> None:
    # (d) the server refused the cancel because the call had connected: hang up all the same
    inv = outgoing()
    inv.cancel(now=1)
    answered(inv, 2)
    actions = inv.request_failed(now=3, reason=Reason("Conflict", "None"))
    assert actions == (PostLink("cancel", "/conv/1/audioVideo/terminate"),)
    assert inv.state is S.HANGING_UP
    assert inv.outcome is not None
    assert inv.outcome.success
    inv.request_succeeded(now=4)
    assert inv.state is S.HUNG_UP


@pytest.mark.parametrize(
    ("status", "reason"),
    [("Failure", Reason("LocalFailure", "Canceled")), ("Failure", Reason("RemoteFailure", "Canceled")), (None, None)],
)
def test_cancel_204_then_canceled_ends_cancelled(status: str | None, reason: Reason | None) -> None:
    # (e) the plain cancel: its 204, then completed Failure/Canceled (or only the embedded state)
    inv = outgoing()
    inv.cancel(now=1)
    inv.request_succeeded(now=1.1)
    assert inv.completed(now=2, status=status, reason=reason, representation=Representation(state="Cancelled")) == ()
    assert inv.state is S.CANCELLED
    assert inv.outcome is not None
    assert not inv.outcome.success


def test_cancel_race_without_new_link_reuses_the_cancel_link() -> None:
    crossed = outgoing()
    crossed.cancel(now=1)
    assert crossed.completed(now=2, status="Success") == ()
    assert crossed.request_succeeded(now=3) == (PostLink("cancel", "/inv/9/cancel"),)
    answered_first = outgoing()
    answered_first.cancel(now=1)
    answered_first.request_succeeded(now=1.1)
    assert answered(answered_first, 2, links=()) == (PostLink("cancel", "/inv/9/cancel"),)


def test_cancel_crossed_keeps_its_link_through_a_snapshot() -> None:
    inv = outgoing()
    inv.cancel(now=1)
    inv.completed(now=2, status="Success", representation=Representation(state="Connected"))  # no link in it
    back = loads(dumps(inv))
    assert back == inv
    assert isinstance(back, Invitation)
    assert back.state is S.CANCEL_CROSSED
    assert back.request_succeeded(now=3) == (PostLink("cancel", "/inv/9/cancel"),)
    assert back.hang_up_link is None  # handed over to the action
    # a snapshot from before the field existed has no such key: it restores with the default
    older = snapshot(outgoing())
    del older["model"]["hang_up_link"]
    assert restore(older) == outgoing()


def test_cancel_race_states_absorb_channel_events_or_wait_through_them() -> None:
    crossed = outgoing()
    crossed.cancel(now=1)
    answered(crossed, 2)
    outcome, rep = crossed.outcome, crossed.representation
    crossed.updated(now=2.1, representation=Representation(state="Alerting", links=[Link("cancel", "/other")]))
    crossed.completed(now=2.2, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    crossed.started(now=2.3)
    assert (crossed.state, crossed.outcome, crossed.representation) == (S.CANCEL_CROSSED, outcome, rep)
    assert all(step.source is step.dest is S.CANCEL_CROSSED for step in crossed.history[-3:])
    assert crossed.request_succeeded(now=3) == (PostLink("cancel", "/conv/1/audioVideo/terminate"),)

    waiting = outgoing()
    waiting.cancel(now=1)
    waiting.request_succeeded(now=1.1)
    waiting.updated(now=1.2, representation=Representation(state="Alerting", links=[TERMINATE]))
    assert waiting.state is S.CANCEL_ANSWERED
    assert waiting.progress is S.ALERTING  # learned: the event was not absorbed
    assert waiting.completed(now=2) == (FetchResource("/inv/9", "completed carried neither status nor state"),)
    assert waiting.state is S.CANCEL_ANSWERED


@pytest.mark.parametrize("state", ["answered", "crossed"])
def test_cancel_race_states_refuse_another_cancel_and_unexpected_responses(state: str) -> None:
    inv = outgoing()
    inv.cancel(now=1)
    if state == "answered":
        inv.request_succeeded(now=1.1)
        # nothing of ours is in flight: a response answers nothing we sent
        with pytest.raises(InvalidTrigger):
            inv.request_succeeded(now=2)
        with pytest.raises(InvalidTrigger):
            inv.request_failed(now=2, reason=Reason("Conflict", "None"))
        assert inv.state is S.CANCEL_ANSWERED
    else:
        answered(inv, 2)
    before = (inv.state, len(inv.history))
    with pytest.raises(InvalidTrigger):
        inv.cancel(now=3)
    assert (inv.state, len(inv.history)) == before


def test_connected_is_not_a_dead_end() -> None:
    inv = outgoing()
    inv.completed(
        now=2, status="Success", representation=Representation(state="Connected", links=[Link("cancel", "/term")])
    )
    assert inv.state is S.CONNECTED
    assert not inv.is_terminal
    assert inv.cancel(now=3) == (PostLink("cancel", "/term"),)
    inv.request_failed(now=4, reason=Reason("ServiceFailure", "CallbackChannelError"))
    assert inv.state is S.CONNECTED
    inv.cancel(now=5)
    inv.request_succeeded(now=6)
    assert inv.state is S.HUNG_UP
