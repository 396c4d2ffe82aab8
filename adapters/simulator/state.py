"""The simulator's world: applications, conversations, invitations, lobbies, renegotiations, series.

Theory of operation
-------------------
:class:`World` is the whole server-side state, guarded by one lock. The HTTP
layer (:mod:`adapters.simulator.app`) turns each request into a
:class:`SimRequest`, calls one World method and writes the :class:`Reply`;
the script (:mod:`adapters.simulator.script`) and the clock add scheduled
steps. Nothing here does I/O.

The server's view runs on the same machines as the client's. Every invitation,
join, lobby participant, renegotiation and Huawei series the simulator serves
has a *shadow* model from :mod:`fsm` (an :class:`~fsm.invitation.Invitation`,
an :class:`~fsm.online_meeting.OnlineMeetingJoin`, a
:class:`~fsm.lobby_participant.LobbyParticipant`, a
:class:`~fsm.renegotiation.Renegotiation`, a
:class:`~fsm.meeting_series.MeetingSeries`) standing for an ideal client of
that resource:

- a client's link POST fires the shadow's local trigger first (``cancel``,
  ``accept``, ``admit``...); if the machine refuses it (wrong state, link
  absent), the POST is refused with 409 and nothing happens; otherwise it gets
  204 and the shadow hears ``request_succeeded``;
- every event about one of these resources is applied to its shadow *before*
  it is queued, with exactly the embedded representation the client will
  get. An event the machine would refuse is never sent: it is recorded in
  :attr:`WorldCore.refusals` and logged as an error (a bug of the simulator);
- the create POST's 201 is the shadow's ``created``.

So every event stream the simulator emits is one the machines accept, and
the replay tests check it again from the outside.

Modules. The configuration and clocks are :mod:`adapters.simulator.config`;
requests, replies and error bodies :mod:`adapters.simulator.replies`; the
per-resource records (applications, conversations, invitations, participants,
renegotiations, series) :mod:`adapters.simulator.records`. The World is a
façade that takes the lock for each public call and hands it to one
component, each holding one resource's rules and all sharing one
:class:`~adapters.simulator.core.WorldCore` (the clock, the scheduled steps,
the applications, the way out of events):

- :mod:`.applications`: creating, finding and routing to an application
  (tokens, expiry, lifetime rules, ``makeMeAvailable``);
- :mod:`.invitations`: creating invitations and their conversations, incoming
  calls; :mod:`.remote_party`: the remote side's plan (answer, decline,
  forward, ring out, a join's lobby); :mod:`.invitation_links`: the user's
  link POSTs (cancel, accept, decline, forward, terminate);
- :mod:`.conversations` and :mod:`.messaging`: conversations, modalities and
  messages;
- :mod:`.renegotiations`: audio/video renegotiations, both ways;
- :mod:`.lobby`: a led meeting's lobby (guests admitted, rejected, leaving);
- :mod:`.event_channel`: the P-GET and the pushed callbacks;
- :mod:`.happenings`: the script's incoming calls, messages, renegotiations
  and guests, released when they can happen;
- :mod:`adapters.simulator.huawei`: the Huawei API and its series.

Profiles. Which server is played (root, URL layout, rel prefix, the links
each invitation offers per state, push or P-GET) is the data of
:mod:`adapters.simulator.profiles`; the World works on bare rels and the
profile's prefix and event shape are applied on the way out
(:meth:`WorldCore.out`, :meth:`WorldCore.wire_event`), after the shadow saw the
full event.

Actions and groups. Each entry point (a request, a scheduled step) runs the
due scheduled steps first, then itself; the events it produces form one
group on the application's channel (:mod:`adapters.simulator.events`).

Ids are counters (applications from 101, then conversations, invitations,
participants per application), never random: with the same seed and the same
requests, two runs produce the same hrefs and the same stream.

Choices where the docs are silent ([U]), besides those of the script:

- a link POST the resource does not offer in its current state: 409
  ``Conflict`` (no subcode, "unsupported", the generic 409 of every resource);
  a verb the resource never has: 404;
- the embedded ``state`` of a failed ``completed``: ``Declined`` for subcode
  ``Declined``, ``Cancelled`` for ``Canceled``, ``Failed`` otherwise (a join
  is never ``Declined``);
- the cancel link of a connected call is ``.../audioVideo/terminate`` (or
  ``messaging/terminate``), as in recorded traffic (docs/protocol.md §1.6); a
  connected meeting's is ``.../conversations/{c}/terminate``;
- the user's cancel ends an outgoing invitation with ``LocalFailure/Canceled``,
  a decline with ``LocalFailure/Declined``, a forward with
  ``Informational/Redirected``;
- incoming calls go to the newest application that called
  ``makeMeAvailable``; ``addParticipant`` is a link of each conversation, as in
  UCWA (``.../conversations/{c}/addParticipant``);
- Huawei error bodies where the docs name no code: see
  :data:`adapters.simulator.replies.HUAWEI_ERRORS`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from typing import Final

from adapters.simulator.applications import Applications
from adapters.simulator.config import Clock, SimulatorConfig
from adapters.simulator.conversations import Conversations
from adapters.simulator.core import WorldCore
from adapters.simulator.event_channel import EventChannels
from adapters.simulator.events import Waiter
from adapters.simulator.faults import FaultKind, Faults
from adapters.simulator.happenings import Happenings
from adapters.simulator.huawei import HuaweiCloud
from adapters.simulator.invitations import Invitations
from adapters.simulator.lobby import Lobby
from adapters.simulator.messaging import Messaging
from adapters.simulator.profiles import PROFILES, Profile
from adapters.simulator.records import Application, SeriesRecord
from adapters.simulator.remote_party import RemoteParty
from adapters.simulator.renegotiations import Renegotiations
from adapters.simulator.replies import Document, Reply, SimRequest
from adapters.simulator.script import Happening, RenegotiationReply, Script, ScriptedPlan

#: Where each profile creates applications (docs/protocol.md §2.1; see profiles.py).
UCWA_ROOTS: Final = tuple(profile.root for profile in PROFILES.values())


class World:
    """The server's state; every public method takes the lock and hands the call to one component."""

    def __init__(self, config: SimulatorConfig) -> None:
        core = WorldCore(config)
        self.core = core
        self.conversations = Conversations(core)
        self.messaging = Messaging(core)
        self.renegotiations = Renegotiations(core)
        self.lobby = Lobby(core)
        self.remote = RemoteParty(core, self.conversations, self._release_waiting)
        self.invitations = Invitations(core, self.conversations, self.messaging, self.renegotiations, self.remote)
        self.applications = Applications(core, self.invitations, self._release_waiting)
        self.channels = EventChannels(core, self.applications)
        self.happenings = Happenings(
            core,
            applications=self.applications,
            invitations=self.invitations,
            messaging=self.messaging,
            renegotiations=self.renegotiations,
            lobby=self.lobby,
        )
        self.huawei_cloud = HuaweiCloud(config, core.faults)
        self.script = Script(self)
        if config.scenario is not None:
            config.scenario.apply(self.script)

    def _release_waiting(self) -> None:
        # late-bound: the happenings need the components that call this, so they are built after them
        self.happenings.release()

    # -- what readers of the state use (always under :attr:`lock`) ----------------------------------------

    @property
    def config(self) -> SimulatorConfig:
        return self.core.config

    @property
    def profile(self) -> Profile:
        return self.core.profile

    @property
    def clock(self) -> Clock:
        return self.core.clock

    @property
    def lock(self) -> threading.RLock:
        return self.core.lock

    @property
    def faults(self) -> Faults:
        return self.core.faults

    @property
    def user(self) -> tuple[str, str]:
        return self.core.user

    @property
    def apps(self) -> dict[str, Application]:
        return self.core.apps

    @property
    def plans(self) -> deque[ScriptedPlan]:
        return self.core.plans

    @property
    def renegotiation_replies(self) -> deque[RenegotiationReply]:
        return self.core.renegotiation_replies

    @property
    def waiting(self) -> list[Happening]:
        return self.core.waiting

    @property
    def events_sent(self) -> list[Document]:
        """Every event-channel answer sent (200), in order, as JSON-shaped dicts."""
        return self.core.events_sent

    @property
    def refusals(self) -> list[str]:
        """Events the server's own machines refused (never sent): should stay empty."""
        return self.core.refusals

    @property
    def closed(self) -> bool:
        return self.core.closed

    @property
    def series(self) -> dict[str, SeriesRecord]:
        return self.huawei_cloud.series

    @property
    def huawei_tokens(self) -> dict[str, float]:
        return self.huawei_cloud.tokens

    # -- the clock ------------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Run the scheduled steps that are due (the server's ticker calls this)."""
        with self.core.entry():
            pass

    # -- authentication ------------------------------------------------------------------------------------

    def bearer_ok(self, authorization: str | None) -> bool:
        return self.applications.bearer_ok(authorization)

    def owner_of(self, authorization: str | None) -> bytes:
        """Who sends a request: a digest of its bearer token (the token itself is not kept)."""
        return self.applications.owner_of(authorization)

    # -- script target -------------------------------------------------------------------------------------

    def add_plan(self, plan: ScriptedPlan) -> None:
        with self.core.entry():
            self.core.plans.append(plan)

    def add_renegotiation_reply(self, reply: RenegotiationReply) -> None:
        with self.core.entry():
            self.core.renegotiation_replies.append(reply)

    def add_happening(self, happening: Happening) -> None:
        with self.core.entry():
            self.core.waiting.append(happening)
            self.happenings.release()

    def add_series(self, conference_id: str, *, held: bool, sub_meetings: Sequence[str], subject: str | None) -> None:
        with self.core.entry() as now:
            self.huawei_cloud.add_series(conference_id, held=held, sub_meetings=sub_meetings, subject=subject, now=now)

    def hold_series(self, conference_id: str, sub_meeting: str | None) -> None:
        with self.core.entry() as now:
            self.huawei_cloud.hold_series(conference_id, sub_meeting, now)

    def expire_applications(self) -> None:
        with self.core.entry():
            self.applications.expire_all()

    def force_fault(self, kind: FaultKind, times: int) -> None:
        with self.core.entry():
            self.core.faults.force(kind, times)

    # -- UCWA ----------------------------------------------------------------------------------------------

    def create_application(self, root: str, request: SimRequest) -> Reply:
        with self.core.entry() as now:
            return self.applications.create(root, request, now)

    def ucwa(self, ident: str, request: SimRequest) -> Reply:
        """Any request under an application, except its event channel."""
        with self.core.entry() as now:
            return self.applications.route(ident, request, now)

    # -- the event channel ---------------------------------------------------------------------------------

    def pget_begin(self, ident: str, request: SimRequest) -> Reply | Waiter:
        with self.core.entry() as now:
            return self.channels.begin(ident, request, now)

    def pget_poll(self, ident: str, waiter: Waiter) -> Reply | None:
        with self.core.entry() as now:
            return self.channels.poll(ident, waiter, now)

    def pget_abandon(self, ident: str, waiter: Waiter) -> None:
        with self.core.lock:
            self.channels.abandon(ident, waiter)

    def push_take(self) -> list[tuple[str, str, Document]]:
        """For each application with a callback URL and no POST under way: (app, URL, next answer)."""
        with self.core.entry() as now:
            return self.channels.push_take(now)

    def push_done(self, ident: str, delivered: bool) -> None:
        """The callback POST for ``ident`` answered: 2xx acknowledges its events; anything else retries."""
        with self.core.entry():
            self.channels.push_done(ident, delivered)

    def delivered(self, ident: str, group: int) -> bool:
        with self.core.lock:
            return self.channels.delivered(ident, group)

    def close(self) -> None:
        with self.core.lock:
            self.core.closed = True

    # -- Huawei (adapters/simulator/huawei.py) ------------------------------------------------------------

    def huawei(self, request: SimRequest) -> Reply:
        with self.core.entry() as now:
            return self.huawei_cloud.answer(request, now)
