"""Survivors of ``make mutate`` in fsm/paths.py: a depth bound cuts paths, never the search.

fsm/paths.py: ``max_depth`` bounds the number of steps of every path. So a
bounded search must find exactly the states the unbounded one finds within
that many steps, and a one-step path can only take a row that leaves the
initial state. A replay refused at its first step says "step 1".
"""

from __future__ import annotations

from typing import Any

import pytest

from fsm.engine import MachineDefinition
from fsm.invitation import INVITATION, InvitationState, InvitationTrigger
from fsm.meeting_series import MEETING_SERIES
from fsm.paths import Path, PathMismatch, PathStep, replay_path, shortest_paths, transition_cover, uncovered_rows

DEFINITIONS = [INVITATION, MEETING_SERIES]


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.name)
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_bounded_search_finds_every_state_the_unbounded_one_finds_within_the_bound(
    definition: MachineDefinition[Any, Any], depth: int
) -> None:
    everything = shortest_paths(definition)
    bounded = shortest_paths(definition, max_depth=depth)
    within = {state for state, path in everything.items() if len(path.steps) <= depth}
    assert set(bounded) == within


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.name)
def test_one_step_covers_only_the_rows_leaving_the_initial_state(definition: MachineDefinition[Any, Any]) -> None:
    first = {row for row in definition.table if row.source is definition.initial}
    assert set(definition.table) - set(uncovered_rows(definition, max_depth=1)) == first
    paths = transition_cover(definition, max_depth=1)
    assert all(len(path.steps) == 1 for path in paths)
    assert len(paths) == len(first)


def test_a_replay_that_starts_elsewhere_names_its_first_step() -> None:
    row = INVITATION.select(InvitationState.CONNECTING, InvitationTrigger.ACCEPT, None)
    path = Path(InvitationState.IDLE, (PathStep.of(row),))
    with pytest.raises(PathMismatch) as caught:
        replay_path(INVITATION, path)
    assert "step 1" in str(caught.value)
    assert "invitation" in str(caught.value)


@pytest.mark.parametrize("search", [shortest_paths, uncovered_rows, transition_cover])
def test_a_negative_depth_is_refused(search: Any) -> None:
    # a path has 0 or more steps: no path is -1 steps long
    with pytest.raises(ValueError, match="-1"):
        search(INVITATION, max_depth=-1)
