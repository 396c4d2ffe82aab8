"""The exported Hypothesis strategies: valid walks replay cleanly, malformed bodies never crash the parser.

The README example is kept here verbatim (:data:`README_EXAMPLE`) and run, so it stays true.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.routing.dispatcher import Dispatcher
from adapters.routing.replay import Replay
from adapters.testing.strategies import (
    CHANNEL_MACHINES,
    EventWalk,
    call_trigger,
    event_sequences,
    event_walks,
    malformed_responses,
    random_stream,
    responses_for,
)
from adapters.wire.events import EventParseError, parse_events
from fsm.invitation import InvitationState
from fsm.lobby_participant import LobbyParticipantState
from fsm.meeting_series import MeetingSeries, MeetingSeriesTrigger
from fsm.online_meeting import OnlineMeetingState
from fsm.registry import MACHINES
from fsm.renegotiation import RenegotiationState

JSON = "application/json"

README_EXAMPLE = """\
import json
from hypothesis import given
from adapters.routing.dispatcher import Dispatcher
from adapters.wire.events import parse_events
from adapters.testing.strategies import event_sequences

@given(event_sequences("invitation"))
def test_every_valid_invitation_stream_is_accepted(responses):
    dispatcher = Dispatcher()
    for now, response in enumerate(responses):
        parsed = parse_events(json.dumps(response).encode(), "application/json")
        assert not dispatcher.feed(parsed, now=float(now)).violations
    assert len(dispatcher.models) == 1  # the incoming invitation
"""


def test_readme_example_runs_and_is_short() -> None:
    assert len(README_EXAMPLE.splitlines()) < 15
    namespace: dict[str, Any] = {}
    exec(compile(README_EXAMPLE, "README example", "exec"), namespace)
    namespace["test_every_valid_invitation_stream_is_accepted"]()


def expected_state(walk: EventWalk) -> str:
    definition = MACHINES[walk.machine]
    return definition.wire_name(walk.final_state) or str(walk.final_state.value)


# -- valid walks -----------------------------------------------------------------------------


@pytest.mark.parametrize("machine", CHANNEL_MACHINES)
@given(data=st.data())
def test_walks_replay_with_no_violation_and_end_where_the_table_says(machine: str, data: st.DataObject) -> None:
    walk = data.draw(event_walks(machine))
    run = Replay()
    for response in walk.responses:
        body = json.dumps(response).encode()
        assert parse_events(body, JSON).unknown == ()  # nothing a parser would not understand
        run.feed(body)
    report = run.report()
    assert report.violations == ()
    assert report.not_applied == ()
    assert report.duplicates == 0
    [resource] = report.resources
    assert (resource.machine, resource.href, resource.state) == (machine, walk.href, expected_state(walk))
    assert report.events == len(walk.events)


@pytest.mark.parametrize(
    ("machine", "outgoing"), [("invitation", None), ("lobby_participant", None), ("renegotiation", False)]
)
@given(data=st.data())
def test_walks_that_a_bare_dispatcher_creates(machine: str, outgoing: bool | None, data: st.DataObject) -> None:
    walk = data.draw(event_walks(machine, outgoing=outgoing))
    dispatcher = Dispatcher()
    for now, response in enumerate(walk.responses):
        result = dispatcher.feed(parse_events(json.dumps(response).encode(), JSON), now=float(now))
        assert result.violations == ()
        assert result.unknown == ()
    model = dispatcher.model_for(walk.href)
    assert model is not None
    assert model.state is walk.final_state  # type: ignore[attr-defined]


@given(event_walks("meeting_series"))
def test_series_walks_are_trigger_calls_the_model_accepts(walk: EventWalk) -> None:
    assert walk.conference_id is not None
    model = MeetingSeries(conference_id=walk.conference_id)
    for now, (call, state) in enumerate(zip(walk.events, walk.states, strict=True)):
        assert MeetingSeriesTrigger(call["trigger"]) in MeetingSeriesTrigger
        call_trigger(model, call, now=float(now))
        assert model.state is state


@given(event_sequences("meeting_series"))
def test_series_sequences_are_json_ready_calls(calls: list[dict[str, Any]]) -> None:
    assert json.loads(json.dumps(calls)) == calls
    assert all(set(call) == {"trigger", "kwargs"} for call in calls)


def test_a_long_stream_reaches_every_state_the_channel_alone_can_reach() -> None:
    # From the docs, what events alone (no request of the app's) can bring about:
    # - an invitation: the eight wire states (docs/protocol.md §1.1);
    # - a join: Connecting, the lobby (InLobby), the roster add, and completed's outcomes (section 3);
    # - a lobby member: waiting, then admitted (roster add) or gone from the lobby (leader view);
    #   rejected needs our own reject;
    # - a renegotiation: the remote's offer waits (remote_offered); ours is offered, then
    #   answered (completed) or refused (rejected) (section 4).
    wanted = {
        "invitation": {s.value for s in InvitationState if s.value[0].isupper()},
        "online_meeting": {
            s.value
            for s in (
                OnlineMeetingState.CONNECTING,
                OnlineMeetingState.IN_LOBBY,
                OnlineMeetingState.ADMITTED,
                OnlineMeetingState.CONNECTED,
                OnlineMeetingState.CANCELLED,
                OnlineMeetingState.FAILED,
            )
        },
        "lobby_participant": {
            s.value
            for s in (LobbyParticipantState.WAITING, LobbyParticipantState.ADMITTED, LobbyParticipantState.LEFT_LOBBY)
        },
        "renegotiation": {
            s.value
            for s in (
                RenegotiationState.REMOTE_OFFERED,
                RenegotiationState.OFFERED,
                RenegotiationState.COMPLETED,
                RenegotiationState.REJECTED,
            )
        },
    }
    assert len(wanted["invitation"]) == 8
    seen: dict[str, set[str]] = {machine: set() for machine in wanted}
    for walk in random_stream(11, events=3000).walks:
        seen[walk.machine].update(str(state.value) for state in walk.states)
    for machine, states in wanted.items():
        assert states <= seen[machine], (machine, states - seen[machine])


def test_random_stream_is_deterministic_and_exact() -> None:
    first, second = random_stream(5, events=300), random_stream(5, events=300)
    assert first.responses == second.responses
    assert first.events == 300
    assert sum(len(s["events"]) for r in first.responses for s in r["sender"]) == 300
    assert random_stream(6, events=300).responses != first.responses
    with pytest.raises(ValueError, match="events must be 1 or more"):
        random_stream(5, events=0)


# -- responses -------------------------------------------------------------------------------


def ack(response: dict[str, Any], rel: str) -> int:
    return int(response["_links"][rel]["href"].rsplit("=", 1)[1])


@given(data=st.data())
def test_responses_for_keeps_the_events_in_order_and_chains_the_acks(data: st.DataObject) -> None:
    walk = data.draw(event_walks(data.draw(st.sampled_from(CHANNEL_MACHINES))))
    responses = data.draw(responses_for(walk.events))
    assert [e for r in responses for s in r["sender"] for e in s["events"]] == walk.events
    for response in responses:
        assert ack(response, "next") > ack(response, "self")
        assert 1 <= sum(len(s["events"]) for s in response["sender"]) <= 4
        parsed = parse_events(json.dumps(response).encode(), JSON)
        assert parsed.unknown == ()
        for sender in response["sender"]:
            for event in sender["events"]:
                # a participant's events come from its conversation (docs/protocol.md §2.3)
                if event["link"]["rel"].endswith("articipant"):
                    assert event["link"]["href"].startswith(sender["href"] + "/participants/")
    for before, after in itertools.pairwise(responses):
        assert ack(after, "self") == ack(before, "next")


def test_ack_steps_are_not_always_one() -> None:
    steps = {ack(r, "next") - ack(r, "self") for r in random_stream(3, events=200).responses}
    assert 1 in steps
    assert steps - {1}


# -- malformed bodies ------------------------------------------------------------------------


@given(malformed_responses())
def test_malformed_bodies_are_rejected_or_reported_never_a_crash(body: bytes) -> None:
    try:
        parsed = parse_events(body, JSON)
    except EventParseError:
        return
    assert parsed.unknown, body[:200]
    Dispatcher().feed(parsed, now=0.0)


def test_a_5000_digit_number_is_refused_or_reported_not_a_crash() -> None:
    # json refuses integers over 4300 digits with a bare ValueError (CPython's int limit)
    body = b'{"_links":{"next":{"href":"/e?ack=2"}},"sender":[],"n":' + b"9" * 5000 + b"}"
    try:
        parsed = parse_events(body, JSON)
    except EventParseError:
        return
    assert parsed.unknown
