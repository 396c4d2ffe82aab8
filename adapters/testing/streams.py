"""Walks as Hypothesis strategies and as seeded streams: the public ways to get events of a machine.

:func:`event_walks` draws one walk with its responses, :func:`event_sequences` only its documents,
:func:`random_stream` interleaves many walks from a seed without Hypothesis' engine, and
:func:`call_trigger` applies a meeting_series call. ``_walker`` picks the machine's walker. Apart from
the malformed bodies, which are drawn from these walks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any, Final

import hypothesis.strategies as st
from attrs import frozen

from adapters.testing.channel_responses import _wrap
from adapters.testing.channel_walkers import (
    _InvitationWalker,
    _LobbyWalker,
    _OnlineMeetingWalker,
    _RenegotiationWalker,
)
from adapters.testing.choices import _Choices, _DrawChoices, _RandomChoices
from adapters.testing.series_walker import _SeriesWalker
from adapters.testing.walks import EventWalk, _Walker
from fsm.invitation import INVITATION
from fsm.lobby_participant import LOBBY_PARTICIPANT
from fsm.meeting_series import MEETING_SERIES
from fsm.model import FsmModel
from fsm.online_meeting import ONLINE_MEETING
from fsm.registry import MACHINES
from fsm.renegotiation import RENEGOTIATION

#: The machines whose resources have events on the UCWA channel.
CHANNEL_MACHINES: Final = ("invitation", "online_meeting", "lobby_participant", "renegotiation")
#: Longest walk :func:`event_walks` draws by default.
MAX_EVENTS: Final = 12


def _walker(machine: str, choices: _Choices, serial: int, outgoing: bool | None) -> _Walker:
    if machine not in MACHINES:
        raise ValueError(f"unknown machine {machine!r}; known: {', '.join(MACHINES)}")
    if machine == INVITATION.name:
        return _InvitationWalker(choices, serial, bool(outgoing))
    if machine == RENEGOTIATION.name:
        return _RenegotiationWalker(choices, serial, choices.coin() if outgoing is None else outgoing)
    if outgoing is not None:
        raise ValueError(f"{machine}: the direction is fixed ({'outgoing' if machine == 'online_meeting' else 'n/a'})")
    if machine == ONLINE_MEETING.name:
        return _OnlineMeetingWalker(choices, serial)
    if machine == LOBBY_PARTICIPANT.name:
        return _LobbyWalker(choices, serial)
    return _SeriesWalker(choices, serial)


@st.composite
def event_walks(
    draw: st.DrawFn, machine: str, *, outgoing: bool | None = None, max_events: int = MAX_EVENTS
) -> EventWalk:
    """One walk of ``machine`` (see the module doc for where each machine starts), with its responses."""
    if max_events < 1:
        raise ValueError(f"max_events must be 1 or more, not {max_events}")
    choices = _DrawChoices(draw)
    serial = draw(st.integers(1, 10**6))
    walk = _walker(machine, choices, serial, outgoing).run(choices.number(1, max_events))
    if machine != MEETING_SERIES.name:
        walk.responses = _wrap(walk.events, choices, choices.number(1, 1000))
    return walk


def event_sequences(
    machine: str, *, outgoing: bool | None = None, max_events: int = MAX_EVENTS
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Events-response documents (dicts for ``json.dumps``) driving one resource of ``machine`` validly.

    For ``meeting_series`` (no event channel) the list holds trigger calls
    ``{"trigger": name, "kwargs": {...}}`` instead: see :func:`call_trigger`.
    """
    if machine == MEETING_SERIES.name:
        return event_walks(machine, outgoing=outgoing, max_events=max_events).map(lambda walk: walk.events)
    return event_walks(machine, outgoing=outgoing, max_events=max_events).map(lambda walk: walk.responses)


def call_trigger(model: FsmModel, call: Mapping[str, Any], *, now: float) -> object:
    """Apply one meeting_series trigger call (``{"trigger", "kwargs"}``) to ``model``."""
    method: Callable[..., object] = getattr(model, str(call["trigger"]))
    return method(now=now, **call["kwargs"])


@frozen
class RandomStream:
    """Many walks interleaved into one event stream (each walk's own order kept)."""

    responses: list[dict[str, Any]]
    walks: list[EventWalk]

    @property
    def events(self) -> int:
        return sum(len(walk.events) for walk in self.walks)


def random_stream(seed: int, *, events: int = 2000, max_events: int = MAX_EVENTS) -> RandomStream:
    """A deterministic stream of exactly ``events`` events from walks of every channel machine.

    Outgoing invitations and renegotiations and every online meeting join are
    the app's own: replay the stream with :mod:`adapters.routing.replay` (which adopts
    them) or track their models first.
    """
    if events < 1:
        raise ValueError(f"events must be 1 or more, not {events}")
    rng = random.Random(seed)
    choices = _RandomChoices(rng)
    walks: list[EventWalk] = []
    total = 0
    while total < events:
        machine = choices.pick(CHANNEL_MACHINES)
        outgoing = choices.coin() if machine in (INVITATION.name, RENEGOTIATION.name) else None
        walk = _walker(machine, choices, len(walks) + 1, outgoing).run(choices.number(1, max_events))
        walk = walk.prefix(min(len(walk.events), events - total))
        if walk.events:
            walks.append(walk)
            total += len(walk.events)
    queues = [list(walk.events) for walk in walks]
    order: list[dict[str, Any]] = []
    live = [i for i, queue in enumerate(queues) if queue]
    cursor = [0] * len(queues)
    # a few walks at a time, as a real application has a few calls in flight
    window = 8
    while live:
        i = live[rng.randrange(min(window, len(live)))]
        order.append(queues[i][cursor[i]])
        cursor[i] += 1
        if cursor[i] == len(queues[i]):
            live.remove(i)
    return RandomStream(_wrap(order, choices), walks)

