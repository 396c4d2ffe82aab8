"""Running a client plan: the sync and the awaited driver send what the plan yields and hand it each answer.

A plan (``adapters.ucwa.client_plans``) is how both UCWA clients share everything but the sending: a failure
to send must reach the plan where it yielded, as if the plan had sent the request itself, so that a plan
that catches it (the client's dispatch of an event's actions logs an ``OriginError`` and goes on) goes on,
and one that does not lets it out unchanged. The expected transcripts below are written from that rule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.ucwa.client_plans import arun_plan, run_plan


class SendFailed(Exception):
    pass


def answering(item: str) -> str:
    """The stand-in for a sender: answers an item by upper-casing it, and cannot send one that starts with ``!``."""
    if item.startswith("!"):
        raise SendFailed(item)
    return item.upper()


async def answering_later(item: str) -> str:
    await asyncio.sleep(0)
    return answering(item)


def tolerant(items: list[str]) -> Generator[str, str, list[str]]:
    """Sends each item; a failure to send is noted and the plan goes on."""
    seen: list[str] = []
    for item in items:
        try:
            seen.append((yield item))
        except SendFailed as error:
            seen.append(f"failed {error}")
    return seen


def both(plan_items: list[str]) -> tuple[list[str], list[str]]:
    sync = run_plan(tolerant(plan_items), answering)
    awaited = asyncio.run(arun_plan(tolerant(plan_items), answering_later))
    return sync, awaited


def test_each_answer_reaches_the_plan_and_its_result_is_returned() -> None:
    assert both(["a", "b"]) == (["A", "B"], ["A", "B"])


def test_a_plan_that_yields_nothing_returns_at_once() -> None:
    assert both([]) == ([], [])


def test_a_failure_to_send_reaches_the_plan_where_it_yielded_and_the_plan_goes_on() -> None:
    # the failure is the plan's to handle: it notes it, then sends the next item
    expected = ["A", "failed !b", "C"]
    assert both(["a", "!b", "c"]) == (expected, expected)


def test_a_failure_the_plan_does_not_catch_leaves_the_driver_unchanged_after_the_plan_cleaned_up() -> None:
    closed: list[str] = []
    failure = SendFailed("!x")

    def strict() -> Generator[str, str, None]:
        try:
            yield "a"
            yield "!x"
            yield "never sent"
        finally:
            closed.append("closed")

    def send(item: str) -> str:
        if item == "!x":
            raise failure
        assert item != "never sent"
        return item

    async def send_later(item: str) -> str:
        return send(item)

    with pytest.raises(SendFailed) as sync:
        run_plan(strict(), send)
    with pytest.raises(SendFailed) as awaited:
        asyncio.run(arun_plan(strict(), send_later))
    assert sync.value is failure
    assert awaited.value is failure
    assert closed == ["closed", "closed"]


@given(st.lists(st.text(alphabet="ab!", min_size=1, max_size=3), max_size=8))
def test_both_drivers_give_the_transcript_the_rule_says(items: list[str]) -> None:
    # written from the rule, not from a driver: an item starting with "!" fails, any other is upper-cased
    expected = [f"failed {item}" if item.startswith("!") else item.upper() for item in items]
    assert both(items) == (expected, expected)
