"""The plan every diagram draws: boxes of alike states, unsuccessful ends, a readable invitation, stable bytes.

A small machine's reduction is worked out by hand; the real machines' boxes of
unsuccessful ends are checked against a rule written down here, read back
from their DOT.
"""

from __future__ import annotations

import os
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from diagram_reading import parse_dot

from adapters import diagrams
from fsm import (
    MACHINES,
    LobbyParticipantState,
    MeetingSeriesState,
    OnlineMeetingState,
    RenegotiationState,
)
from fsm.engine import MachineDefinition, Transition

ROOT = Path(__file__).resolve().parents[2]


# -- a small machine whose reduction is worked out by hand ----------------------------


class TinyState(Enum):
    START = "start"
    LEFT = "left"
    RIGHT = "right"
    DONE = "done"
    REJECTED = "rejected"


class TinyTrigger(Enum):
    GO = "go"
    FINISH = "finish"
    REFUSE = "refuse"
    POKE = "poke"


def tiny() -> MachineDefinition[TinyState, TinyTrigger]:
    s, t = TinyState, TinyTrigger
    return MachineDefinition(
        name="tiny",
        summary="A test machine.",
        states=s,
        triggers=t,
        initial=s.START,
        terminal=frozenset({s.DONE, s.REJECTED}),
        local_triggers=frozenset({t.GO}),
        table=(
            Transition(s.START, t.GO, s.LEFT, when=s.LEFT, note="to the left"),
            Transition(s.START, t.GO, s.RIGHT, when=s.RIGHT, note="to the right"),
            Transition(s.LEFT, t.FINISH, s.DONE),
            Transition(s.RIGHT, t.FINISH, s.DONE),
            Transition(s.LEFT, t.REFUSE, s.REJECTED, note="no"),
            Transition(s.RIGHT, t.REFUSE, s.REJECTED, note="no"),
            Transition(s.LEFT, t.POKE, s.LEFT),
            Transition(s.RIGHT, t.POKE, s.RIGHT),
            Transition(s.DONE, t.POKE, s.DONE, absorb=True),
            Transition(s.REJECTED, t.POKE, s.REJECTED, absorb=True),
        ),
    )


def test_tiny_machine_reduces_to_one_box_and_three_arrows() -> None:
    # LEFT and RIGHT do the same things to the same places: one box. GO reaches
    # both, by guard: one arrow to the box, guards merged on their common words,
    # each one's rest kept whole.
    # FINISH and REFUSE leave both the same way: one arrow each from the box.
    # POKE stays put in each: listed in the box. REJECTED's name says failure.
    drawing = diagrams.plan(tiny())
    boxes = {g.key: g.members for g in drawing.groups}
    assert boxes == {"alike1": (TinyState.LEFT, TinyState.RIGHT), "failed": (TinyState.REJECTED,)}
    arcs = {(_name(a.tail), _name(a.head), a.local, a.lines) for a in drawing.arcs}
    assert arcs == {
        ("start", "alike1", True, ("go [to the left | right]",)),
        ("alike1", "done", False, ("finish",)),
        ("alike1", "failed", False, ("refuse [no]",)),
    }
    assert [(_name(s.where), s.lines) for s in drawing.stays] == [("alike1", ("poke",))]
    assert drawing.absorbed == 2


def _name(endpoint: Any) -> str:
    return endpoint.key if isinstance(endpoint, diagrams.Group) else str(endpoint.value)


def test_invitation_failed_outcomes_share_a_box_and_hung_up_is_not_one() -> None:
    # docs/protocol.md §1.1/§1.7: Declined, Cancelled and Failed are completions with
    # status Failure; hung_up is the end of a call that did connect.
    dot = parse_dot(diagrams.to_dot(MACHINES["invitation"]))
    failed = {n for n, inside in dot.clusters.items() if "cluster_failed" in inside}
    assert failed == {"DECLINED", "CANCELLED", "FAILED"}
    assert "cluster_failed" not in dot.clusters["HUNG_UP"]


# The rule (diagrams/README.md): an end is successful when what the machine is
# for happened there; every other end is unsuccessful, whoever chose it.
UNSUCCESSFUL = {
    # a joiner that did not get in; hung_up follows a join that connected
    OnlineMeetingState: ({OnlineMeetingState.CANCELLED, OnlineMeetingState.FAILED}, {OnlineMeetingState.HUNG_UP}),
    # admitted is the point of the lobby; rejected, or gone without being admitted, is not
    LobbyParticipantState: (
        {LobbyParticipantState.REJECTED, LobbyParticipantState.LEFT_LOBBY},
        {LobbyParticipantState.ADMITTED},
    ),
    # the new media applies only when answered (ours: completed); a dismissed
    # or collided offer changes nothing, like a rejected or expired one
    RenegotiationState: (
        {
            RenegotiationState.DISMISSED,
            RenegotiationState.COLLIDED,
            RenegotiationState.REJECTED,
            RenegotiationState.FAILED,
            RenegotiationState.EXPIRED,
        },
        {RenegotiationState.ANSWERED, RenegotiationState.COMPLETED},
    ),
    # a series that ran its course ended; a cancelled one did not
    MeetingSeriesState: ({MeetingSeriesState.CANCELLED}, {MeetingSeriesState.ENDED}),
}


@pytest.mark.parametrize("states", list(UNSUCCESSFUL), ids=lambda e: e.__name__)
def test_every_unsuccessful_end_is_in_the_group(states: type[Enum]) -> None:
    (definition,) = [d for d in MACHINES.values() if d.states is states]
    failed, succeeded = UNSUCCESSFUL[states]
    dot = parse_dot(diagrams.to_dot(definition))
    grouped = {n for n, inside in dot.clusters.items() if "cluster_failed" in inside}
    assert {s.name for s in failed} <= grouped
    assert not {s.name for s in succeeded} & grouped


def test_invitation_diagram_stays_readable() -> None:
    # ~200 rows: without boxes and collapsing there would be one arrow per row.
    definition = MACHINES["invitation"]
    drawn_rows = sum(1 for row in definition.table if not row.absorb)
    assert drawn_rows > 150
    assert len(diagrams.plan(definition).arcs) <= 25


def test_dot_and_mermaid_do_not_depend_on_hash_order() -> None:
    # Two interpreters with different string-hash seeds must print the same bytes.
    script = (
        "import sys\nfrom fsm import MACHINES\nfrom adapters import diagrams\n"
        "for d in MACHINES.values():\n"
        "    sys.stdout.write(diagrams.to_dot(d) + diagrams.to_mermaid(d))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, check=True, timeout=120
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    for definition in MACHINES.values():
        assert diagrams.to_dot(definition) == diagrams.to_dot(definition)
