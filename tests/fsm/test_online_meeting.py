"""The online meeting join (joiner's side, through the lobby): every (state, trigger) pair.

Expected values come from seed 003 and docs/protocol.md §3 (OMI stays
Connecting in the lobby; the lobby shows as conversation ``InLobby`` or
participant ``inLobby``; completed Success only once in the roster; rejection,
lobby timeout and meeting end complete with Failure and a reason), and from
the brief's choices written down in :class:`online_meeting_reference.Ref`, a reference model in plain
strings and dicts that does not read fsm/online_meeting.py's table. The documented scenarios, the
rest of the wire and the stateful runs have their own ``test_online_meeting_*.py`` files.
"""

from __future__ import annotations

import copy
import itertools

import pytest
from online_meeting_reference import (
    CANCEL_CROSSED,
    COMPLETIONS,
    DEADLINE,
    OMI,
    REFUSED,
    SEND,
    SETUPS,
    Ev,
    conversation,
    drive,
    fire,
    participant,
    representation,
)

from fsm.errors import InvalidTrigger
from fsm.online_meeting import (
    ONLINE_MEETING,
    OnlineMeetingState,
    OnlineMeetingTrigger,
)
from fsm.reasons import Reason

#: An OMI updated to each final state, from every setup: where the join lands, written out by hand from
#: the rules (docs/protocol.md §2.3: the current docs list no completed for the OMI, so a final updated ends
#: the join as a completed would; a joiner is never declined; after our lobby-deadline cancel every failure
#: is the timeout's; Connected while our cancel is unsettled is the cancel race; ended states absorb).
_ENDS = {"Connected": "Connected", "Cancelled": "Cancelled", "Declined": "Failed", "Failed": "Failed"}
_RACE = {**_ENDS, "Connected": CANCEL_CROSSED}
_RACE_ANSWERED = {**_ENDS, "Connected": "hanging_up"}
_TIMED_OUT = {"Connected": CANCEL_CROSSED, "Cancelled": "Failed", "Declined": "Failed", "Failed": "Failed"}
UPDATED_TO_FINAL: dict[str, dict[str, str] | None] = {
    "idle": None,  # refused: nothing was sent, nothing started
    "sending": _ENDS,
    "Connecting": _ENDS,
    "Connecting, no cancel link": _ENDS,
    "in_lobby": _ENDS,
    "in_lobby, no cancel link": _ENDS,
    "in_lobby, no deadline": _ENDS,
    "admitted": _ENDS,
    "cancelling": _RACE,
    "cancelling after the lobby deadline": _TIMED_OUT,
    "cancelling, admitted meanwhile": _RACE,
    "cancel_answered": _RACE_ANSWERED,
    "cancel_answered after the lobby deadline": {**_TIMED_OUT, "Connected": "hanging_up"},
    "cancel_answered, admitted meanwhile": _RACE_ANSWERED,
    **{
        absorbing: {final: absorbing.split(",")[0] for final in _ENDS}
        for absorbing in (
            "cancel_crossed",
            "cancel_crossed, no link in the completed",
            "Connected",
            "hanging_up",
            "hung_up",
            "Cancelled",
            "Failed",
        )
    },
    "Failed, join refused": dict.fromkeys(_ENDS, "Failed"),
}


@pytest.mark.parametrize("setup", sorted(SETUPS))
@pytest.mark.parametrize("final", sorted(_ENDS))
def test_an_omi_updated_to_a_final_state_from_every_setup(setup: str, final: str) -> None:
    assert set(UPDATED_TO_FINAL) == set(SETUPS)
    model, _ = drive(SETUPS[setup])
    expected = UPDATED_TO_FINAL[setup]
    if expected is None:
        with pytest.raises(InvalidTrigger):
            model.updated(now=100.0, href=OMI, representation=representation(True, state=final))
        return
    model.updated(now=100.0, href=OMI, representation=representation(True, state=final))
    assert model.state.value == expected[final]


PROBES: list[Ev] = [
    SEND,
    Ev("cancel"),
    Ev("lobby_timeout", at=DEADLINE - 0.5),
    Ev("lobby_timeout", at=DEADLINE),
    Ev("created"),
    Ev("started", link=True),
    Ev("updated", link=False),
    Ev("updated"),
    conversation("InLobby"),
    conversation("inlobby"),
    conversation("Conferenced"),
    conversation(None),
    participant(True),
    participant(False),
    participant(None),
    Ev("roster_added"),
    Ev("request_succeeded"),
    Ev("request_failed", reason=Reason("Conflict", "AlreadyExists")),
    *[Ev("completed", completion=name, link=True) for name in COMPLETIONS],
    Ev("completed", completion="success"),
]


@pytest.mark.parametrize(
    ("setup", "probe"),
    list(itertools.product(SETUPS, PROBES)),
    ids=[f"{s}-{p.trigger}-{i}" for s, (i, p) in itertools.product(SETUPS, enumerate(PROBES))],
)
def test_every_state_and_trigger(setup: str, probe: Ev) -> None:
    """Legal calls land where the reference says, with its actions and outcome; refused ones change nothing."""
    model, ref = drive(SETUPS[setup])
    fire(model, ref, probe, 50.0)


def test_the_probes_cover_every_state_and_trigger() -> None:
    reached = {drive(path)[0].state for path in SETUPS.values()}
    assert reached == set(OnlineMeetingState)
    assert {OnlineMeetingTrigger(p.trigger) for p in PROBES} == set(OnlineMeetingTrigger)


@pytest.mark.parametrize("setup", list(SETUPS))
def test_table_index_matches_reference_legality(setup: str) -> None:
    """A pair is in the table exactly when the reference does not refuse it outright."""
    model, ref = drive(SETUPS[setup])
    for probe in PROBES:
        replay = copy.deepcopy(ref)
        verdict = replay.step(probe, probe.at if probe.at is not None else 50.0)
        in_table = ONLINE_MEETING.allows(model.state, OnlineMeetingTrigger(probe.trigger))
        assert in_table == (verdict != REFUSED), (setup, probe)
