"""Hypothesis strategies for event streams: valid walks of every machine, and malformed bodies.

Theory of operation
-------------------
This module is for tests (callfsm's and its users'): it imports Hypothesis at
the top, so install ``callfsm[test]`` to use it.

A *walk* is a random walk over one machine's table, taking only the rows
whose trigger the server causes through the event channel (``started``,
``updated``, ``completed``, lobby ``added``/``deleted``...). Each row taken
becomes one wire event whose payload makes the machine pick exactly that row:
a progress row's guard branch (``Alerting``) becomes the embedded ``state``; a
completion branch becomes ``status`` + ``reason`` (and sometimes the final
embedded state); a lobby signal becomes ``InLobby`` or ``inLobby``. The walk
records the state after each event as the table says, so a test can compare
what its code ended in with :attr:`EventWalk.final_state`. Every event embeds
its resource (with the links a server would put there) and a distinct
``etag``, so no two events of a walk are exact copies that a de-duplicating
consumer could drop.

Where each machine's walk starts and how a consumer finds it:

============================  =========================================================
``invitation``                an incoming invitation (audioVideo, messaging,
                              onlineMeeting, phoneAudio): its first event is
                              ``started`` and a bare :class:`~adapters.routing.dispatcher.Dispatcher`
                              creates the model. ``outgoing=True``: the app sent it
                              (any kind but onlineMeeting, whose outgoing form is a
                              join; walk starts in ``sending``; track the model by
                              :attr:`EventWalk.operation_id`, or replay with
                              :mod:`adapters.routing.replay`, which adopts outgoing resources).
``online_meeting``            the joiner's view of an OMI the app created (always
                              outgoing, starts in ``sending``): OMI events, the
                              conversation's ``InLobby``, the local participant's
                              ``inLobby`` and roster ``added``. The first event is an
                              OMI event (it names the conversation).
``lobby_participant``         a leader's view of one lobby member: ``added`` /
                              ``updated`` / ``deleted`` ``in: lobby`` and the roster
                              ``added``; a bare Dispatcher creates the model.
``renegotiation``             incoming (a bare Dispatcher creates it; only repeated
                              ``started`` can follow, the rest is the app's answer)
                              or outgoing (starts in ``offering``: answered or
                              rejected by ``updated``/``completed``); drawn unless
                              ``outgoing`` is given.
``meeting_series``            Huawei has no event channel: the walk is a list of
                              trigger calls ``{"trigger": name, "kwargs": {...}}``
                              over the whole table (the app's DELETEs and Huawei's
                              answers, status + error body, included). Apply them
                              with :func:`call_trigger`.
============================  =========================================================

:func:`responses_for` wraps events into event-channel responses (``self`` and
``next`` links whose ``ack`` increases, not always by one; consecutive events
of one sender share a sender entry). :func:`random_stream` builds one long
interleaved stream of many walks from a seed, without Hypothesis' engine (for
bulk replays and demos). :func:`malformed_responses` draws bodies that
:func:`~adapters.wire.events.parse_events` must reject with
:class:`~adapters.wire.events.EventParseError`, or accept while reporting what it
did not understand in :attr:`~adapters.wire.events.EventsResponse.unknown`.

Modules. Import from this one: it re-exports every public name it has had. Behind it,
:mod:`adapters.testing.walks` holds :class:`EventWalk` and the walker base,
:mod:`adapters.testing.channel_walkers` the four UCWA channel machines' walkers,
:mod:`adapters.testing.series_walker` meeting_series', :mod:`adapters.testing.choices`
where their randomness comes from, :mod:`adapters.testing.channel_responses` the wrapping
into responses, :mod:`adapters.testing.streams` the walk strategies and :func:`random_stream`,
and :mod:`adapters.testing.malformed` the malformed bodies.
"""

from __future__ import annotations

from adapters.testing.channel_responses import responses_for
from adapters.testing.malformed import malformed_responses
from adapters.testing.streams import (
    CHANNEL_MACHINES,
    MAX_EVENTS,
    RandomStream,
    call_trigger,
    event_sequences,
    event_walks,
    random_stream,
)
from adapters.testing.walks import APP, EventWalk

__all__ = [
    "APP",
    "CHANNEL_MACHINES",
    "MAX_EVENTS",
    "EventWalk",
    "RandomStream",
    "call_trigger",
    "event_sequences",
    "event_walks",
    "malformed_responses",
    "random_stream",
    "responses_for",
]
