"""Shortest paths and the transition cover of a toy machine whose answers are known by reasoning:
table order decides ties, a dead-end row gets a path of its own, depth limits cut where they say.
"""

from __future__ import annotations

import enum

import pytest
from paths_reference import TOY_TABLE, Br, St, Tr, toy

from fsm import InvalidTrigger
from fsm.engine import MachineDefinition, Transition
from fsm.paths import (
    Path,
    PathMismatch,
    PathStep,
    describe,
    describe_path,
    replay_path,
    shortest_paths,
    transition_cover,
    uncovered_rows,
)

# -- a toy machine whose answers are known by reasoning ------------------------


def test_toy_shortest_paths_follow_table_order() -> None:
    definition = toy()
    paths = shortest_paths(definition)
    assert paths[St.A].steps == ()
    assert paths[St.B].steps == (PathStep(Tr.GO, None, St.A, St.B),)
    # C is one step away by A's STOP/ONE, two steps by B's STOP: the one step wins
    assert paths[St.C].steps == (PathStep(Tr.STOP, Br.ONE, St.A, St.C),)
    assert paths[St.D].steps == (PathStep(Tr.STOP, Br.TWO, St.A, St.D),)
    assert paths[St.C].triggers == (Tr.STOP,)
    assert describe(paths[St.B].steps + paths[St.C].steps) == "go -> stop[one]"


def test_toy_ties_go_to_the_first_row_in_table_order() -> None:
    class Two(enum.Enum):
        A = "a"
        B = "b"

    def make(first: Tr) -> MachineDefinition[Two, Tr]:
        second = Tr.STOP if first is Tr.GO else Tr.GO
        return MachineDefinition(
            name="tie",
            summary="tie",
            states=Two,
            triggers=Tr,
            initial=Two.A,
            terminal=frozenset({Two.B}),
            local_triggers=frozenset(),
            table=(Transition(Two.A, first, Two.B), Transition(Two.A, second, Two.B)),
        )

    assert shortest_paths(make(Tr.GO))[Two.B].triggers == (Tr.GO,)
    assert shortest_paths(make(Tr.STOP))[Two.B].triggers == (Tr.STOP,)


def test_toy_cover_is_one_short_path_per_row_off_the_shortest_paths() -> None:
    definition = toy()
    go, stop = Tr.GO, Tr.STOP
    a_b = PathStep(go, None, St.A, St.B)
    a_c = PathStep(stop, Br.ONE, St.A, St.C)
    a_d = PathStep(stop, Br.TWO, St.A, St.D)
    # Worked by hand. Shortest ways: B by A-GO, C by A-STOP/ONE, D by A-STOP/TWO
    # (one step each). The four rows leaving B, C and D are on no shortest way,
    # so each gets its own path: the way to its source, then the row. Those
    # paths cross the three rows leaving A, which need no path of their own.
    # Listed in table order of the row each path is for.
    assert transition_cover(definition) == [
        Path(St.A, (a_b, PathStep(go, None, St.B, St.A))),
        Path(St.A, (a_b, PathStep(stop, None, St.B, St.C))),
        Path(St.A, (a_c, PathStep(go, None, St.C, St.C))),
        Path(St.A, (a_d, PathStep(go, None, St.D, St.D))),
    ]


def test_toy_cover_gives_a_dead_end_row_a_path_of_its_own() -> None:
    # Without the absorbed rows nothing leaves C or D: A-STOP/ONE and A-STOP/TWO
    # are crossed by no longer path, so each is a one-step path of its own.
    definition = toy(TOY_TABLE[:5])
    stop_one = PathStep(Tr.STOP, Br.ONE, St.A, St.C)
    stop_two = PathStep(Tr.STOP, Br.TWO, St.A, St.D)
    a_b = PathStep(Tr.GO, None, St.A, St.B)
    assert transition_cover(definition) == [
        Path(St.A, (a_b, PathStep(Tr.GO, None, St.B, St.A))),
        Path(St.A, (stop_one,)),
        Path(St.A, (stop_two,)),
        Path(St.A, (a_b, PathStep(Tr.STOP, None, St.B, St.C))),
    ]


def test_toy_cover_of_a_chain_is_its_shortest_paths() -> None:
    # a -go-> b -go-> c -stop-> d, with a shortcut a -stop-> c: the shortest
    # way to c is the shortcut (one step), so b's go to c is off it and gets a
    # path; c's stop rides on the shortcut; a-go-b is crossed by b's path.
    table = (
        Transition(St.A, Tr.GO, St.B),
        Transition(St.B, Tr.GO, St.C),
        Transition(St.C, Tr.STOP, St.D),
        Transition(St.A, Tr.STOP, St.C),
    )
    definition = MachineDefinition(
        name="chain",
        summary="chain",
        states=St,
        triggers=Tr,
        initial=St.A,
        terminal=frozenset({St.D}),
        local_triggers=frozenset(),
        table=table,
    )
    cover = transition_cover(definition)
    assert [describe_path(path) for path in cover] == ["a -go-> b -go-> c", "a -stop-> c -stop-> d"]


def test_toy_depth_limits() -> None:
    definition = toy()
    # B, C and D are one step away: their rows need two steps
    assert uncovered_rows(definition, 1) == TOY_TABLE[1:2] + TOY_TABLE[4:]
    assert len(transition_cover(definition, 1)) == 3
    assert uncovered_rows(definition, 2) == ()
    assert uncovered_rows(definition, 0) == TOY_TABLE
    assert transition_cover(definition, 0) == []
    assert set(shortest_paths(definition, 0)) == {St.A}


def test_replay_refuses_a_wrong_path() -> None:
    definition = toy()
    wrong_dest = Path(St.A, (PathStep(Tr.GO, None, St.A, St.C),))
    with pytest.raises(PathMismatch, match="land in 'c'"):
        replay_path(definition, wrong_dest)
    wrong_source = Path(St.A, (PathStep(Tr.GO, None, St.B, St.A),))
    with pytest.raises(PathMismatch, match="start in 'b'"):
        replay_path(definition, wrong_source)
    illegal = Path(St.C, (PathStep(Tr.STOP, None, St.C, St.C),))
    with pytest.raises(InvalidTrigger):
        replay_path(definition, illegal)
    assert replay_path(definition, Path(St.D)) is St.D
