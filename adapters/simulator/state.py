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
  :attr:`World.refusals` and logged as an error (a bug of the simulator);
- the create POST's 201 is the shadow's ``created``.

So every event stream the simulator emits is one the machines accept, and
the replay tests check it again from the outside.

Modules. The configuration and clocks are :mod:`adapters.simulator.config`;
requests, replies and error bodies :mod:`adapters.simulator.replies`; the
per-resource records (applications, conversations, invitations, participants,
renegotiations, series) :mod:`adapters.simulator.records`; the Huawei API
:mod:`adapters.simulator.huawei` (:class:`HuaweiCloud`, which the World calls
under its lock). What is left here is the World: the UCWA resources and their
event channel.

Profiles. Which server is played (root, URL layout, rel prefix, the links
each invitation offers per state, push or P-GET) is the data of
:mod:`adapters.simulator.profiles`; the World works on bare rels and the
profile's prefix and event shape are applied on the way out
(:meth:`World._out`, :meth:`World._wire_event`), after the shadow saw the
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

import contextlib
import copy
import hashlib
import heapq
import hmac
import itertools
import logging
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import attrs

from adapters.simulator.config import SimulatorConfig
from adapters.simulator.events import ChannelError, EventChannel, Sender, Waiter
from adapters.simulator.faults import FaultKind, Faults
from adapters.simulator.huawei import HuaweiCloud
from adapters.simulator.lifetime import EXPIRED_SUBCODE, REPORT_MY_ACTIVITY, Liveness
from adapters.simulator.profiles import (
    PROFILES,
    Completion,
    EventShape,
    Phase,
    dress,
    profile_of,
)
from adapters.simulator.records import (
    _MODALITY_OF,
    CS,
    ET,
    IS,
    MS,
    Application,
    Conversation,
    InvitationRecord,
    Modality,
    Participant,
    RenegotiationRecord,
    SeriesRecord,
    _event,
    _final_state,
    _gone,
)
from adapters.simulator.render import InputError, data_uri, is_sdp, parse_input, prop, text_data_uri, text_prop
from adapters.simulator.replies import (
    NO_CONTENT,
    BodyKind,
    Document,
    Hold,
    Reply,
    SimRequest,
    _conflict,
    _invalid,
    ucwa_error,
)
from adapters.simulator.script import (
    DEFAULT_SDP,
    Admit,
    Answer,
    AnswerOnCancel,
    Decline,
    Fail,
    Forward,
    Happening,
    IncomingCall,
    IncomingMessage,
    IncomingRenegotiation,
    LobbyArrival,
    NoAnswer,
    Plan,
    Reject,
    RenegotiationReply,
    Script,
    ScriptedPlan,
    reason_of,
)
from adapters.wire.events import EventType, representation_of
from fsm.errors import CallFsmError, InvalidInput, LinkMissing
from fsm.invitation import Invitation, InvitationKind
from fsm.lobby_participant import LobbyParticipant
from fsm.meeting_series import ConferenceState, MeetingSeries
from fsm.online_meeting import ConversationState, OnlineMeetingJoin, OnlineMeetingState
from fsm.outcome import CompletionStatus
from fsm.reasons import CallDeclineReason, Reason, ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation
from fsm.wire import Direction

log = logging.getLogger("callfsm.simulator")


#: Where each profile creates applications (docs/protocol.md §2.1; see profiles.py).
UCWA_ROOTS: Final = tuple(profile.root for profile in PROFILES.values())

_BEARER = re.compile(r"^\s*bearer\s+(\S.*?)\s*$", re.IGNORECASE)


class World:
    """The server's state; every public method takes the lock."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.profile = profile_of(config.profile)
        self.clock = config.clock
        self.lock = threading.RLock()
        self.faults = Faults(config.faults, config.seed)
        self.user = (config.user_name, config.user_uri)
        self.apps: dict[str, Application] = {}
        self._app_ids = itertools.count(101)
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_ids = itertools.count(1)
        self._cancelled: set[int] = set()
        self.plans: deque[ScriptedPlan] = deque()
        self.renegotiation_replies: deque[RenegotiationReply] = deque()
        self.waiting: list[Happening] = []
        self.huawei_cloud = HuaweiCloud(config, self.faults)
        self.series = self.huawei_cloud.series
        self.huawei_tokens = self.huawei_cloud.tokens
        #: Every event-channel answer sent (200), in order, as JSON-shaped dicts.
        self.events_sent: list[Document] = []
        #: Events the server's own machines refused (never sent): should stay empty.
        self.refusals: list[str] = []
        self.closed = False
        self.script = Script(self)
        if config.scenario is not None:
            config.scenario.apply(self.script)

    # -- entry, scheduling, groups ------------------------------------------------------------------

    @contextlib.contextmanager
    def _entry(self) -> Iterator[float]:
        with self.lock:
            self._run_due()
            try:
                yield self.clock.now()
            finally:
                self._flush()

    def tick(self) -> None:
        """Run the scheduled steps that are due (the server's ticker calls this)."""
        with self._entry():
            pass

    def _after(self, delay: float, step: Callable[[], None]) -> int:
        ident = next(self._timer_ids)
        heapq.heappush(self._timers, (self.clock.now() + delay, ident, step))
        return ident

    def _cancel_timers(self, record: InvitationRecord) -> None:
        self._cancelled.update(record.timers)
        record.timers.clear()

    def _run_due(self) -> None:
        now = self.clock.now()
        while self._timers and self._timers[0][0] <= now:
            _, ident, step = heapq.heappop(self._timers)
            if ident in self._cancelled:
                self._cancelled.discard(ident)
                continue
            step()
            self._flush()

    def _flush(self) -> None:
        now = self.clock.now()
        for app in self.apps.values():
            if not app.pending:
                continue
            events, app.pending = app.pending, []
            if app.gone:
                continue
            delay = self.faults.delay()
            seq = app.channel.enqueue(events, now + delay)
            for (sender_rel, _), event in events:
                extra = ""
                if "status" in event:
                    extra += f" status={event['status']}"
                if "reason" in event:
                    reason = event["reason"]
                    extra += f" reason={reason.get('code')}/{reason.get('subcode', '')}".rstrip("/")
                embedded: Document = event.get("_embedded") or {}
                first = next(iter(embedded.values()), None)
                state = first.get("state") if isinstance(first, dict) else None
                if state is not None:
                    extra += f" state={state}"
                log.info(
                    "event app=%s group=%d %s %s %s %s%s%s",
                    app.ident,
                    seq,
                    sender_rel,
                    event["type"],
                    event["link"]["rel"],
                    event["link"]["href"],
                    extra,
                    f" (held {delay:.3f}s)" if delay else "",
                )

    def _emit(
        self,
        app: Application,
        sender: Sender,
        event: Document,
        apply: Callable[[], object] | None = None,
        *,
        droppable: bool = False,
    ) -> bool:
        """Queue one event, after its shadow accepted it; returns False when not sent."""
        if app.gone:
            return False
        if droppable and self.faults.happens(FaultKind.DROP_STARTED):
            log.info("fault: %s %s aggregated away (not sent)", event["type"], event["link"]["href"])
            return False
        if apply is not None and not self._apply(apply, event):
            return False
        app.pending.append(self._wire_event(sender, event))
        if self.faults.happens(FaultKind.DUPLICATE) and (apply is None or self._apply(apply, event)):
            log.info("fault: %s %s sent twice", event["type"], event["link"]["href"])
            app.pending.append(self._wire_event(sender, copy.deepcopy(event)))
        return True

    def _apply(self, apply: Callable[[], object], event: Document) -> bool:
        try:
            apply()
        except CallFsmError as exc:
            message = f"not sent: the server's machine refused {event['type']} {event['link']['href']}: {exc}"
            self.refusals.append(message)
            log.error("%s", message)
            return False
        return True

    # -- authentication ------------------------------------------------------------------------------

    def bearer_ok(self, authorization: str | None) -> bool:
        match = _BEARER.match(authorization or "")
        if match is None:
            return False
        if self.config.token is None:
            return True
        # as bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, then a 500)
        return hmac.compare_digest(match.group(1).encode("utf-8"), self.config.token.encode("utf-8"))

    def owner_of(self, authorization: str | None) -> bytes:
        """Who sends a request: a digest of its bearer token (the token itself is not kept)."""
        match = _BEARER.match(authorization or "")
        token = match.group(1) if match is not None else ""
        return hashlib.sha256(token.encode("utf-8")).digest()

    def _new_application_id(self) -> str:
        """A counter (101, 102...) when one token is configured: every client is then the same party, and
        the same seed gives the same hrefs. With any token accepted, clients are different parties, and a
        counter would let one guess another's application: 128 random bits instead. [U] choice."""
        if self.config.token is None:
            return secrets.token_hex(16)
        return str(next(self._app_ids))

    # -- script target ---------------------------------------------------------------------------------

    def add_plan(self, plan: ScriptedPlan) -> None:
        with self._entry():
            self.plans.append(plan)

    def add_renegotiation_reply(self, reply: RenegotiationReply) -> None:
        with self._entry():
            self.renegotiation_replies.append(reply)

    def add_happening(self, happening: Happening) -> None:
        with self._entry():
            self.waiting.append(happening)
            self._release_waiting()

    def add_series(self, conference_id: str, *, held: bool, sub_meetings: Sequence[str], subject: str | None) -> None:
        with self._entry() as now:
            if conference_id in self.series and not self.series[conference_id].shadow.is_terminal:
                raise ValueError(f"series {conference_id} already exists")
            record = SeriesRecord(conference_id, MeetingSeries(conference_id=conference_id), subject)
            record.sub_meetings = {sub: ConferenceState.SCHEDULE for sub in sub_meetings}
            self.series[conference_id] = record
            if held:
                record.shadow.conference_state_observed(now=now, conference_state=ConferenceState.CREATED.value)
                if record.sub_meetings:
                    record.sub_meetings[next(iter(record.sub_meetings))] = ConferenceState.CREATED

    def hold_series(self, conference_id: str, sub_meeting: str | None) -> None:
        with self._entry() as now:
            record = self.series.get(conference_id)
            if record is None:
                raise ValueError(f"no series {conference_id}")
            if sub_meeting is not None:
                if sub_meeting not in record.sub_meetings:
                    raise ValueError(f"series {conference_id} has no sub-meeting {sub_meeting}")
                record.sub_meetings[sub_meeting] = ConferenceState.CREATED
            record.shadow.conference_state_observed(now=now, conference_state=ConferenceState.CREATED.value)

    def expire_applications(self) -> None:
        with self._entry():
            for app in self.apps.values():
                app.gone = True
            log.info("all applications expired (scripted)")

    def force_fault(self, kind: FaultKind, times: int) -> None:
        with self._entry():
            self.faults.force(kind, times)

    # -- happenings --------------------------------------------------------------------------------------

    def _release_waiting(self) -> None:
        """Fire the happenings whose precondition now holds (after their own delay)."""
        still: list[Happening] = []
        for happening in self.waiting:
            if isinstance(happening, IncomingCall):
                app = self._available_app()
                if app is None:
                    still.append(happening)
                    continue
                self._after(happening.after, _bind(self._incoming_call, app, happening))
            elif isinstance(happening, IncomingMessage):
                chat = self._connected_messaging()
                if chat is None:
                    still.append(happening)
                    continue
                self._after(happening.after, _bind(self._incoming_message, chat[0], chat[1], happening))
            elif isinstance(happening, IncomingRenegotiation):
                conv = self._connected_call()
                if conv is None:
                    still.append(happening)
                    continue
                self._after(happening.after, _bind(self._incoming_renegotiation, conv, happening))
            else:
                meeting = self._connected_meeting()
                if meeting is None:
                    still.append(happening)
                    continue
                self._after(happening.after, _bind(self._lobby_arrival, meeting[0], meeting[1], happening))
        self.waiting = still

    def _available_app(self) -> Application | None:
        for app in reversed(list(self.apps.values())):
            if app.available and not app.gone:
                return app
        return None

    def _connected_call(self) -> tuple[Application, Conversation] | None:
        for app in reversed(list(self.apps.values())):
            if app.gone:
                continue
            for conv in reversed(app.conversations):
                rec = conv.invitation
                if rec is not None and rec.kind is InvitationKind.AUDIO_VIDEO and rec.phase is Phase.CONNECTED:
                    return app, conv
        return None

    def _connected_meeting(self) -> tuple[Application, Conversation] | None:
        for app in reversed(list(self.apps.values())):
            if app.gone:
                continue
            for conv in reversed(app.conversations):
                rec = conv.invitation
                if rec is not None and rec.kind is InvitationKind.ONLINE_MEETING and rec.phase is Phase.CONNECTED:
                    return app, conv
        return None

    # -- applications ---------------------------------------------------------------------------------------

    def create_application(self, root: str, request: SimRequest) -> Reply:
        with self._entry() as now:
            if self.faults.happens(FaultKind.SERVER_ERROR):
                return ucwa_error(500, "ServiceFailure", None, "injected fault")
            try:
                props = parse_input(request.body, request.content_type)
            except InputError as exc:
                return ucwa_error(400, "BadRequest", None, str(exc))
            values: dict[str, str] = {}
            missing = []
            for name in ("userAgent", "endpointId", "culture"):
                value = text_prop(props, name)
                if not value:
                    missing.append(name)
                elif len(value) > 100:
                    return _invalid(name, f"{name} has more than 100 characters")
                else:
                    values[name] = value
            if missing:
                return ucwa_error(
                    400, "BadRequest", "ParameterValidationFailure", "required: " + ", ".join(missing), tuple(missing)
                )
            instance = text_prop(props, "instanceId")
            ident = self._new_application_id()
            href = f"{root}/{ident}"
            host = request.headers.get("host", "127.0.0.1")
            app = Application(
                ident,
                href,
                values["userAgent"],
                values["endpointId"],
                values["culture"],
                instance,
                EventChannel(f"{href}/events", self.config.pget_timeout, self.config.coalesce),
                now,
                self.user,
                owner=self.owner_of(request.headers.get("authorization")),
                layout=self.profile.layout,
                callback_url=self.config.callback_url,
                base_uri=f"http://{host}/",
                liveness=Liveness.new(now),
                report_my_activity=REPORT_MY_ACTIVITY[self.profile.name],
            )
            self.apps[ident] = app
            self._register_application(app)
            log.info("application %s created (%s)", ident, app.user_agent)
            return Reply(201, BodyKind.RESOURCE, self._out(app.render()), (("location", href),))

    def _register_application(self, app: Application) -> None:
        comm = app.communication
        app.resources[f"{app.href}/me"] = app.render_me
        app.resources[f"{app.href}/people"] = app.render_people
        app.resources[comm] = lambda: app.render()["_embedded"]["communication"]
        app.resources[f"{comm}/conversations"] = lambda: {
            "rel": "conversations",
            "_links": {
                "self": {"href": f"{comm}/conversations"},
                "conversation": [{"href": c.href} for c in app.conversations],
            },
        }
        layout = app.layout
        app.actions[app.path(layout.make_me_available)] = _bind(self._make_me_available, app)
        if app.report_my_activity is not None:
            app.actions[app.path(app.report_my_activity)] = _bind(self._report_my_activity, app)
        app.actions[app.path(layout.start_audio_video)] = _bind(self._create, app, InvitationKind.AUDIO_VIDEO, None)
        app.actions[app.path(layout.start_messaging)] = _bind(self._create, app, InvitationKind.MESSAGING, None)
        app.actions[app.path(layout.join_online_meeting)] = _bind(
            self._create, app, InvitationKind.ONLINE_MEETING, None
        )
        if "?" in layout.add_participant:
            # one collection for every conversation: the query names the conversation (the Online samples)
            app.actions[app.path(layout.add_participant.split("?", 1)[0])] = _bind(self._add_participant, app)

    def _add_participant(self, app: Application, request: SimRequest) -> Reply:
        wanted = request.query.get("conversation")
        conv = next((c for c in app.conversations if str(c.ident) == wanted), None)
        if conv is None:
            return _invalid("conversation", "the conversation query parameter names no conversation")
        return self._create(app, InvitationKind.PARTICIPANT, conv, request)

    # -- the wire ----------------------------------------------------------------------------------

    def _out(self, document: Document) -> Document:
        """A resource as this profile writes it (its rel prefix)."""
        dressed = dress(document, self.profile.rel_prefix)
        assert isinstance(dressed, dict)
        return dressed

    def _wire_event(self, sender: Sender, event: Document) -> tuple[Sender, Document]:
        """An event as this profile and event shape send it (the shadow saw the full one)."""
        if self.config.events is EventShape.LINKS:
            event = {k: v for k, v in event.items() if k != "_embedded"}
        return (self.profile.rel(sender[0]), sender[1]), self._out(event)

    def _lookup(self, ident: str, now: float, request: SimRequest | None = None) -> Application | Reply:
        app = self.apps.get(ident)
        if app is not None and request is not None:
            sender = self.owner_of(request.headers.get("authorization"))
            if not hmac.compare_digest(sender, app.owner):
                app = None  # another token's application: as if it did not exist, so its id is no oracle
        expiry = self.config.application_expiry
        if app is not None and not app.gone and expiry is not None and now - app.last_seen > expiry:
            app.gone = True
            log.info("application %s expired after %.1fs idle", ident, now - app.last_seen)
        if app is not None:
            self._expired(app, now)
        if app is None or app.gone:
            return _gone(app)
        app.last_seen = now
        return app

    def ucwa(self, ident: str, request: SimRequest) -> Reply:
        """Any request under an application, except its event channel."""
        with self._entry() as now:
            found = self._lookup(ident, now, request)
            if isinstance(found, Reply):
                return found
            app = found
            if self.faults.happens(FaultKind.SERVER_ERROR):
                return ucwa_error(500, "ServiceFailure", None, "injected fault")
            path = request.path.rstrip("/") or request.path
            if path == app.href:
                if request.method == "GET":
                    return Reply(200, BodyKind.RESOURCE, self._out(app.render()))
                if request.method == "DELETE":
                    app.gone = True
                    log.info("application %s deleted", app.ident)
                    return NO_CONTENT
                return ucwa_error(405, "MethodNotAllowed")
            if request.method == "GET" and path in app.resources:
                return Reply(200, BodyKind.RESOURCE, self._out(app.resources[path]()))
            if request.method == "POST" and path in app.actions:
                reply = app.actions[path](request)
                if reply.kind is BodyKind.RESOURCE and reply.document is not None:
                    reply = attrs.evolve(reply, document=self._out(reply.document))
                return reply
            if path in app.resources or path in app.actions:
                return ucwa_error(405, "MethodNotAllowed")
            return ucwa_error(404, "NotFound", None, "the resource does not exist")

    def _make_me_available(self, app: Application, request: SimRequest) -> Reply:
        if app.available:
            return ucwa_error(409, "Conflict", "AlreadyExists", "makeMeAvailable was already called")
        try:
            props = parse_input(request.body, request.content_type)
        except InputError as exc:
            return ucwa_error(400, "BadRequest", None, str(exc))
        modalities = prop(props, "supportedModalities")
        app.supported_modalities = (
            [m for m in modalities if isinstance(m, str)] if isinstance(modalities, list) else ["Messaging"]
        )
        app.available = True
        app.liveness.activity(self.clock.now())
        log.info("application %s is available for incoming invitations", app.ident)
        self._release_waiting()
        return NO_CONTENT

    def _report_my_activity(self, app: Application, request: SimRequest) -> Reply:
        """``reportMyActivity``: no body, 204; 409 MakeMeAvailableRequired before ``makeMeAvailable``."""
        if not app.available:
            return ucwa_error(409, "Conflict", "MakeMeAvailableRequired", "makeMeAvailable was not called yet")
        app.liveness.activity(self.clock.now())
        return NO_CONTENT

    def _expired(self, app: Application, now: float) -> bool:
        """The documented inactivity rules (lifetime.py); an application they end is gone for good."""
        waiter = app.channel.waiter
        in_call = any(c.invitation is not None and c.invitation.phase is not Phase.ENDED for c in app.conversations)
        expired = app.liveness.check(
            now,
            self.config.lifetime,
            parked=waiter is not None and not waiter.done,
            available=app.available and app.report_my_activity is not None,
            in_call=in_call,
        )
        if expired and not app.gone:
            app.gone = True
            log.info("application %s expired: %s", app.ident, EXPIRED_SUBCODE)
        return expired

    # -- the event channel -------------------------------------------------------------------------------

    def pget_begin(self, ident: str, request: SimRequest) -> Reply | Waiter:
        with self._entry() as now:
            found = self._lookup(ident, now, request)
            if isinstance(found, Reply):
                return found
            app = found
            app.liveness.channel(now)  # a new event-channel request: the documented 15 minutes start again
            if self.faults.happens(FaultKind.SERVER_ERROR):
                return ucwa_error(500, "ServiceFailure", None, "injected fault")
            if self.faults.happens(FaultKind.APPLICATION_NOT_FOUND):
                app.gone = True
                log.info("fault: application %s is gone", ident)
                return ucwa_error(404, "NotFound", "ApplicationNotFound", "the application does not exist")
            refused = app.channel.parse_params(request.query)
            if refused is not None:
                return self._channel_error(refused)
            idle = self.config.resume_after_idle
            last = app.channel.last_answer_at
            if idle is not None and last is not None and now - last > idle:
                app.force_resume = True
            ack: int | None = None
            if "ack" in request.query:
                try:
                    ack = int(request.query["ack"])
                except ValueError:
                    ack = -1
            result = app.channel.begin(ack, request.target, now)
            return result if isinstance(result, Waiter) else self._channel_result(app, result)

    def pget_poll(self, ident: str, waiter: Waiter) -> Reply | None:
        with self._entry() as now:
            app = self.apps.get(ident)
            if self.closed:
                waiter.done = True
                return ucwa_error(503, "ServiceUnavailable", None, "the simulator is shutting down")
            if app is not None:
                self._expired(app, now)
            if app is None or app.gone:
                waiter.done = True
                return _gone(app)
            app.last_seen = now
            result = app.channel.poll(waiter, now, _bind(self._resume_decision, app))
            if result is None:
                return None
            return self._channel_result(app, result)

    def pget_abandon(self, ident: str, waiter: Waiter) -> None:
        with self.lock:
            app = self.apps.get(ident)
            if app is not None:
                app.channel.abandon(waiter)

    def _resume_decision(self, app: Application) -> bool:
        forced = app.force_resume
        app.force_resume = False
        return self.faults.happens(FaultKind.RESUME) or forced

    def _channel_result(self, app: Application, result: Document | ChannelError) -> Reply:
        if isinstance(result, ChannelError):
            return self._channel_error(result)
        self.events_sent.append(copy.deepcopy(result))
        links = result["_links"]
        onward = next((rel for rel in ("next", "resume", "resync") if rel in links), "?")
        count = sum(len(s["events"]) for s in result.get("sender", []))
        log.info(
            "answer app=%s %s -> %s %s (%d events)",
            app.ident,
            links["self"]["href"],
            onward,
            links[onward]["href"],
            count,
        )
        return Reply(200, BodyKind.EVENTS, result)

    @staticmethod
    def _channel_error(error: ChannelError) -> Reply:
        return ucwa_error(error.status, error.code, error.subcode, error.message, error.parameters)

    # -- callbacks (Trusted Application API) ------------------------------------------------------------

    def push_take(self) -> list[tuple[str, str, Document]]:
        """For each application with a callback URL and no POST under way: (app, URL, next answer).

        The answer is the one a P-GET would get now, with the top-level
        ``baseuri`` of the SaaS callbacks (docs/protocol.md §2.1); it stays
        unacknowledged until :meth:`push_done` reports the receiver's 2xx.
        """
        out: list[tuple[str, str, Document]] = []
        with self._entry() as now:
            for app in self.apps.values():
                channel = app.channel
                if app.gone or app.callback_url is None or app.pushing:
                    continue
                if channel.outstanding is not None:  # refused last time: the same answer again
                    document = copy.deepcopy(channel.outstanding.document)
                else:
                    head = channel.queue[0] if channel.queue else None
                    if head is None or head.visible_at > now:
                        continue
                    waiter = channel.begin(None, channel.href(channel.expected_ack), now)
                    assert isinstance(waiter, Waiter)
                    answer = channel.poll(waiter, now, lambda: False)
                    assert isinstance(answer, dict)
                    document = answer
                    document["baseuri"] = app.base_uri
                    self.events_sent.append(copy.deepcopy(document))
                document["baseuri"] = app.base_uri
                app.pushing = True
                out.append((app.ident, app.callback_url, document))
        return out

    def push_done(self, ident: str, delivered: bool) -> None:
        """The callback POST for ``ident`` answered: 2xx acknowledges its events; anything else retries."""
        with self._entry():
            app = self.apps.get(ident)
            if app is None:
                return
            app.pushing = False
            sent = app.channel.outstanding
            if delivered and sent is not None:
                app.channel.acked += sent.count
                app.channel.outstanding = None

    def delivered(self, ident: str, group: int) -> bool:
        with self.lock:
            app = self.apps.get(ident)
            return app is None or app.gone or app.channel.delivered_upto >= group

    def close(self) -> None:
        with self.lock:
            self.closed = True

    # -- conversations ------------------------------------------------------------------------------------

    def _new_conversation(
        self,
        app: Application,
        *,
        subject: str | None,
        state: ConversationState,
        meeting_uri: str | None,
        modality: str | None,
    ) -> Conversation:
        ident = next(app.conversation_ids)
        href = f"{app.communication}/conversations/{ident}"
        thread = hashlib.sha1(f"{app.ident}:{ident}".encode(), usedforsecurity=False).hexdigest()[:32]
        local = Participant(
            f"{href}/participants/1", href, self.user[0], self.user[1], rel="localParticipant", local=True
        )
        conv = Conversation(ident, href, thread, local, subject, state, meeting_uri)
        conv.add_participant_href = app.path(
            app.layout.add_participant.format(conversation=href[len(app.href) + 1 :], ident=ident)
        )
        if modality is not None:
            conv.modalities[modality] = Modality(modality, f"{href}/{modality}", href, MS.CONNECTING)
        app.conversations.append(conv)
        app.resources[href] = conv.render
        app.resources[local.href] = local.render
        app.resources[f"{href}/participants"] = conv.render_participants
        if meeting_uri is not None:
            app.resources[f"{href}/lobby"] = conv.render_lobby
            app.actions[f"{href}/terminate"] = _bind(self._terminate, app, conv, None)
        for name, mod in conv.modalities.items():
            app.resources[mod.href] = mod.render
            app.actions[f"{mod.href}/terminate"] = _bind(self._terminate, app, conv, name)
            if name == "audioVideo":
                app.resources[mod.session_href] = mod.render_session
                app.actions[f"{mod.session_href}/renegotiations"] = _bind(self._offer_renegotiation, app, conv, mod)
            if name == "messaging":
                app.actions[mod.messages_href] = _bind(self._send_message, app, conv, mod)
        if "?" not in app.layout.add_participant:
            app.actions[conv.add_participant_href] = _bind(self._create, app, InvitationKind.PARTICIPANT, conv)
        return conv

    def _conversation_event(
        self, app: Application, conv: Conversation, kind: EventType, apply: Callable[[], object] | None = None
    ) -> None:
        self._emit(
            app,
            ("communication", app.communication),
            _event("conversation", conv.href, kind, embedded=conv.render()),
            apply,
        )

    def _modality_event(self, app: Application, conv: Conversation, modality: Modality) -> None:
        self._emit(
            app,
            ("conversation", conv.href),
            _event(modality.name, modality.href, ET.UPDATED, embedded=modality.render()),
        )

    # -- outgoing invitations -----------------------------------------------------------------------------

    def _create(
        self, app: Application, kind: InvitationKind, conversation: Conversation | None, request: SimRequest
    ) -> Reply:
        now = self.clock.now()
        try:
            props = parse_input(request.body, request.content_type)
        except InputError as exc:
            return ucwa_error(400, "BadRequest", None, str(exc))
        target_name = "onlineMeetingUri" if kind is InvitationKind.ONLINE_MEETING else "to"
        target = text_prop(props, target_name)
        if not target:
            return _invalid(target_name, f"{target_name} is required")
        ident = next(app.ids)
        operation_id = text_prop(props, "operationId") or f"sim-op-{app.ident}-{ident}"
        subject = text_prop(props, "subject")
        importance = text_prop(props, "importance") or "Normal"
        extra = {n: v for n in ("sessionContext", "anonymousDisplayName") if (v := text_prop(props, n)) is not None}
        href = self._invitation_href(app, kind, ident)
        create_href = request.path
        shadow: Invitation | OnlineMeetingJoin
        try:
            if kind is InvitationKind.ONLINE_MEETING:
                shadow = OnlineMeetingJoin()
                shadow.send(
                    now=now,
                    href=create_href,
                    operation_id=operation_id,
                    online_meeting_uri=target,
                    subject=subject,
                    importance=importance,
                    extra={k: v for k, v in extra.items() if k != "anonymousDisplayName"},
                    anonymous_display_name=extra.get("anonymousDisplayName"),
                )
            else:
                shadow = Invitation(kind=kind)
                shadow.send(
                    now=now,
                    href=create_href,
                    operation_id=operation_id,
                    to=target,
                    subject=subject,
                    importance=importance,
                    extra=dict(extra),
                )
        except InvalidInput as exc:
            return _invalid(exc.field, exc.why)
        new_conversation = conversation is None
        if conversation is None:
            conversation = self._new_conversation(
                app,
                subject=subject,
                state=CS.CONNECTING,
                meeting_uri=target if kind is InvitationKind.ONLINE_MEETING else None,
                modality=_MODALITY_OF.get(kind),
            )
        record = InvitationRecord(
            ident,
            href,
            kind,
            Direction.OUTGOING,
            conversation,
            shadow,
            conversation.local,
            target,
            operation_id,
            subject,
            importance,
            extra,
            profile=self.profile,
        )
        if kind is not InvitationKind.PARTICIPANT:
            conversation.invitation = record
        self._register_invitation(app, record)
        document = record.render()
        # the invitation's started before its conversation's added, as in the ReceiveAnIM sample
        self._emit(
            app,
            ("communication", app.communication),
            _event(kind.value, href, ET.STARTED, embedded=document),
            _bind_started(shadow, now, href, document),
            droppable=True,
        )
        if new_conversation:
            self._conversation_event(app, conversation, ET.ADDED)
        self._flush()
        hold = None
        if self.faults.happens(FaultKind.EARLY_EVENTS) and app.channel.queue:
            hold = Hold(app.ident, app.channel.queue[-1].seq, now + self.config.faults.early_events_wait)
            log.info("fault: the 201 for %s waits for its started to be delivered", href)
        shadow.created(now=now, href=href)
        self._begin_plan(app, record, self._take_plan(kind))
        return Reply(201, headers=(("location", href),), hold=hold)

    @staticmethod
    def _invitation_href(app: Application, kind: InvitationKind, ident: int) -> str:
        return app.path(f"{app.layout.invitations.format(kind=kind.value)}/{ident}")

    def _register_invitation(self, app: Application, record: InvitationRecord) -> None:
        app.resources[record.href] = record.render
        for verb in ("cancel", "accept", "acceptWithAnswer", "acceptWithPhoneAudio", "decline", "forward"):
            app.actions[f"{record.href}/{verb}"] = _bind(self._invitation_post, app, record, verb)

    def _take_plan(self, kind: InvitationKind) -> Plan:
        for scripted in self.plans:
            if scripted.applies_to(kind):
                self.plans.remove(scripted)
                return scripted.plan
        delay = self.config.default_answer_delay
        return Admit(delay) if kind is InvitationKind.ONLINE_MEETING else Answer(delay)

    def _begin_plan(self, app: Application, record: InvitationRecord, plan: Plan) -> None:
        record.plan = plan
        join = record.kind is InvitationKind.ONLINE_MEETING
        if join and isinstance(plan, Admit | Reject | NoAnswer | AnswerOnCancel):
            self._enter_lobby(app, record)
        timer: tuple[float, Callable[[], None]]
        if isinstance(plan, Answer | Admit):
            timer = (plan.after, _bind(self._answer, app, record))
        elif isinstance(plan, Decline | Fail | Reject):
            timer = (plan.after, _bind(self._fail, app, record, reason_of(plan.code, plan.subcode, plan.message)))
        elif isinstance(plan, NoAnswer):
            reason = reason_of(plan.code, plan.subcode, plan.message or "no answer before the timeout")
            timer = (
                plan.timeout if plan.timeout is not None else self.config.ring_timeout,
                _bind(self._fail, app, record, reason),
            )
        elif isinstance(plan, Forward):
            timer = (plan.after, _bind(self._forwarded, app, record, plan))
        else:
            reason = reason_of("RemoteFailure", "Timeout", "no answer before the timeout")
            timer = (self.config.ring_timeout, _bind(self._fail, app, record, reason))
        record.timers.append(self._after(*timer))

    def _enter_lobby(self, app: Application, record: InvitationRecord) -> None:
        conv = record.conversation
        conv.state = CS.IN_LOBBY
        conv.local.in_lobby = True
        shadow = record.shadow
        assert isinstance(shadow, OnlineMeetingJoin)
        self._conversation_event(app, conv, ET.UPDATED, _bind_conversation(shadow, self.clock.now(), CS.IN_LOBBY))

    def _answer(self, app: Application, record: InvitationRecord) -> None:
        """The remote side answers (or the meeting admits the user)."""
        if record.phase is not Phase.RINGING or record.shadow.is_terminal:
            return
        self._cancel_timers(record)
        now = self.clock.now()
        conv = record.conversation
        if record.kind is InvitationKind.ONLINE_MEETING:
            shadow = record.shadow
            assert isinstance(shadow, OnlineMeetingJoin)
            conv.local.in_lobby = False
            conv.roster[conv.local.href] = conv.local
            self._emit(
                app,
                ("conversation", conv.href),
                _event("localParticipant", conv.local.href, ET.ADDED, embedded=conv.local.render()),
                _bind_roster(shadow, now, conv.local.href),
            )
            conv.state = CS.CONFERENCED
            self._conversation_event(app, conv, ET.UPDATED, _bind_conversation(shadow, now, CS.CONFERENCED))
        elif record.kind is InvitationKind.PARTICIPANT:
            invitee = Participant(conv.new_participant_href(), conv.href, record.target, record.target)
            conv.roster[invitee.href] = invitee
            record.invitee = invitee
            app.resources[invitee.href] = invitee.render
            self._emit(
                app,
                ("conversation", conv.href),
                _event("participant", invitee.href, ET.ADDED, embedded=invitee.render()),
            )
        else:
            modality = record.modality
            if modality is not None:
                modality.state = MS.CONNECTED
                self._modality_event(app, conv, modality)
            conv.state = CS.CONNECTED
            self._conversation_event(app, conv, ET.UPDATED)
        if self._complete(app, record, None):
            self._release_waiting()

    def _fail(self, app: Application, record: InvitationRecord, reason: Reason) -> None:
        if record.phase is not Phase.RINGING or record.shadow.is_terminal:
            return
        self._cancel_timers(record)
        self._complete(app, record, reason)
        self._end_conversation(app, record)

    def _complete(self, app: Application, record: InvitationRecord, reason: Reason | None) -> bool:
        now = self.clock.now()
        state = IS.CONNECTED if reason is None else _final_state(reason, record.kind)
        phase = Phase.CONNECTED if reason is None else Phase.ENDED
        document = record.render(state=state, phase=phase)
        status = CompletionStatus.SUCCESS if reason is None else CompletionStatus.FAILURE
        shadow = record.shadow

        def apply() -> None:
            shadow.completed(
                now=now,
                status=status.value,
                reason=reason,
                representation=representation_of(document),
                href=record.href,
            )

        if self.config.completion is Completion.UPDATED and record.kind not in self.profile.documents_completed:
            # the current reference lists no completed for this kind: the final state comes as an updated
            # (its reason has no place there); the shadow still ends, as the server knows it did
            event = _event(record.kind.value, record.href, ET.UPDATED, embedded=document)
        else:
            event = _event(
                record.kind.value, record.href, ET.COMPLETED, embedded=document, status=status, reason=reason
            )
        if not self._emit(app, ("communication", app.communication), event, apply):
            return False
        record.wire_state = state
        record.phase = phase
        return True

    def _end_conversation(self, app: Application, record: InvitationRecord) -> None:
        conv = record.conversation
        if record.kind is InvitationKind.PARTICIPANT:
            return
        modality = record.modality
        if modality is not None and modality.state is not MS.DISCONNECTED:
            modality.state = MS.DISCONNECTED
            self._modality_event(app, conv, modality)
        conv.state = CS.DISCONNECTED
        apply = None
        if isinstance(record.shadow, OnlineMeetingJoin):
            apply = _bind_conversation(record.shadow, self.clock.now(), CS.DISCONNECTED)
        self._conversation_event(app, conv, ET.UPDATED, apply)

    def _forwarded(self, app: Application, record: InvitationRecord, plan: Forward) -> None:
        if record.phase is not Phase.RINGING or record.shadow.is_terminal:
            return
        now = self.clock.now()
        document = record.render(state=IS.FORWARDED)
        shadow = record.shadow
        if self._emit(
            app,
            ("communication", app.communication),
            _event(record.kind.value, record.href, ET.UPDATED, embedded=document),
            _bind_updated(shadow, now, record.href, document),
        ):
            record.wire_state = IS.FORWARDED
        if plan.answer_after is not None:
            record.timers.append(self._after(plan.answer_after, _bind(self._answer, app, record)))
        else:
            reason = reason_of("RemoteFailure", "Timeout", "no answer before the timeout")
            record.timers.append(self._after(self.config.ring_timeout, _bind(self._fail, app, record, reason)))

    # -- the user's link POSTs on invitations ----------------------------------------------------------

    def _local(self, app: Application, record: InvitationRecord, trigger: Callable[[], object]) -> Reply | None:
        """Fire a shadow's local trigger; a refusal is the 409 the client gets."""
        try:
            try:
                trigger()
            except LinkMissing:
                # the client may know the link from a GET (a started was aggregated away):
                # learn the resource as a client does after a GET, then try once more
                document = record.render()
                shadow = record.shadow
                shadow.updated(now=self.clock.now(), href=record.href, representation=representation_of(document))
                trigger()
        except CallFsmError as exc:
            return _conflict(str(exc))
        return None

    def _invitation_post(self, app: Application, record: InvitationRecord, verb: str, request: SimRequest) -> Reply:
        now = self.clock.now()
        if not any(verb in record.profile.offers(record.kind, record.direction, phase) for phase in Phase):
            # a verb this resource never has on this server: as if the URL did not exist
            return ucwa_error(404, "NotFound", None, f"this {record.kind.value} has no {verb} link on this server")
        if record.links().get(verb) != request.path:
            return _conflict(f"the invitation offers no {verb} link here now (state {record.wire_state.value})")
        shadow = record.shadow
        try:
            props = parse_input(b"" if is_sdp(request.content_type) else request.body, request.content_type)
        except InputError as exc:
            return ucwa_error(400, "BadRequest", None, str(exc))
        if verb == "cancel":
            refused = self._local(app, record, lambda: shadow.cancel(now=now))
            if refused is not None:
                return refused
            # the server answers its own cancel before anything else happens: cancel_answered, so an
            # answer now (the cancel race) leaves the shadow hanging_up, as a client that took the 204 first
            shadow.request_succeeded(now=now)
            if isinstance(record.plan, AnswerOnCancel):
                log.info("the remote answered %s as the cancel arrived", record.href)
                self._answer(app, record)
            else:
                self._fail(app, record, Reason("LocalFailure", "Canceled", "cancelled by the user"))
            return NO_CONTENT
        assert isinstance(shadow, Invitation)
        if verb in ("accept", "acceptWithAnswer", "acceptWithPhoneAudio"):
            return self._accept_post(app, record, shadow, verb, request)
        if verb == "decline":
            raw = text_prop(props, "reason")
            decline_reason = None
            if raw is not None:
                decline_reason = next((r for r in CallDeclineReason if r.value.lower() == raw.lower()), None)
                if decline_reason is None:
                    return _invalid("reason", f"{raw!r} is not a CallDeclineReason")
            refused = self._local(app, record, lambda: shadow.decline(now=now, reason=decline_reason))
            if refused is not None:
                return refused
            shadow.request_succeeded(now=now)
            shown = "no reason" if decline_reason is None else decline_reason.value
            self._fail(app, record, Reason("LocalFailure", "Declined", f"declined by the user ({shown})"))
            return NO_CONTENT
        # forward: ms:rtc:saas:forward marks `to` as not required (docs/protocol.md §1.5)
        to = prop(props, "to")
        if to is not None and (not isinstance(to, str) or not to):
            return _invalid("to", "to is a SIP URI when given")
        refused = self._local(app, record, lambda: shadow.forward(now=now, to=to))
        if refused is not None:
            return refused
        shadow.request_succeeded(now=now)
        where = "" if to is None else f" to {to}"
        self._fail(app, record, Reason("Informational", "Redirected", f"forwarded{where}"))
        return NO_CONTENT

    def _accept_post(
        self, app: Application, record: InvitationRecord, shadow: Invitation, verb: str, request: SimRequest
    ) -> Reply:
        """``accept``, ``acceptWithAnswer`` (SDP, ``sessionContext``) or ``acceptWithPhoneAudio`` (no body)."""
        now = self.clock.now()
        trigger: Callable[[], object]
        if verb == "acceptWithAnswer":
            context = request.query.get("sessionContext")
            if not context or len(context) > 50:
                return _invalid("sessionContext", "sessionContext is required, at most 50 characters")
            if not is_sdp(request.content_type) or not request.body.strip():
                return ucwa_error(415, "UnsupportedMediaType", None, "acceptWithAnswer takes an application/sdp body")
            answer = request.body.decode("utf-8", "replace")

            def trigger() -> object:
                return shadow.accept(now=now, answer_sdp=answer, session_context=context)
        elif verb == "acceptWithPhoneAudio":
            # the machines' explicit trigger where they have it; an older machine's accept() chose this link
            by_phone = getattr(shadow, "accept_with_phone_audio", shadow.accept)

            def trigger() -> object:
                return by_phone(now=now)
        else:

            def trigger() -> object:
                return shadow.accept(now=now)

        refused = self._local(app, record, trigger)
        if refused is not None:
            return refused
        shadow.request_succeeded(now=now)
        self._answer(app, record)
        if record.message is not None:
            self._message_event(app, record.conversation, Direction.INCOMING, record.message)
        return NO_CONTENT

    def _terminate(self, app: Application, conv: Conversation, modality_name: str | None, request: SimRequest) -> Reply:
        """Hang up a connected call, or leave a connected meeting (the connected invitation's cancel link)."""
        now = self.clock.now()
        record = conv.invitation
        if record is None or record.phase is not Phase.CONNECTED:
            return _conflict("nothing is connected here")
        shadow = record.shadow
        # hanging_up: the cancel race, where the answer crossed the cancel and the shadow awaits the hang-up
        hanging_up = shadow.state in (IS.HANGING_UP, OnlineMeetingState.HANGING_UP)
        if not hanging_up:
            refused = self._local(app, record, lambda: shadow.cancel(now=now))
            if refused is not None:
                return refused
        shadow.request_succeeded(now=now)
        record.phase = Phase.ENDED
        for modality in conv.modalities.values():
            if modality.state is not MS.DISCONNECTED:
                modality.state = MS.DISCONNECTED
                self._modality_event(app, conv, modality)
        conv.state = CS.DISCONNECTED
        apply = None
        if isinstance(shadow, OnlineMeetingJoin):
            apply = _bind_conversation(shadow, now, CS.DISCONNECTED)
        self._conversation_event(app, conv, ET.UPDATED, apply)
        log.info("%s hung up", record.href)
        return NO_CONTENT

    # -- incoming calls ------------------------------------------------------------------------------------

    def _incoming_call(self, app: Application, call: IncomingCall) -> None:
        if app.gone:
            return
        now = self.clock.now()
        modality = _MODALITY_OF[call.kind]
        conv = self._new_conversation(app, subject=call.subject, state=CS.INCOMING, meeting_uri=None, modality=modality)
        caller = Participant(conv.new_participant_href(), conv.href, call.name, call.uri)
        conv.roster[caller.href] = caller
        app.resources[caller.href] = caller.render
        ident = next(app.ids)
        href = self._invitation_href(app, call.kind, ident)
        shadow = Invitation(kind=call.kind)
        record = InvitationRecord(
            ident,
            href,
            call.kind,
            Direction.INCOMING,
            conv,
            shadow,
            caller,
            self.user[1],
            subject=call.subject,
            message=call.message,
            profile=self.profile,
        )
        if call.kind is InvitationKind.AUDIO_VIDEO:
            record.media_offer = data_uri("application/sdp", DEFAULT_SDP)
        conv.invitation = record
        self._register_invitation(app, record)
        document = record.render()
        # started, then the conversation's added: the ReceiveAnIM sample's order
        self._emit(
            app,
            ("communication", app.communication),
            _event(call.kind.value, href, ET.STARTED, embedded=document),
            _bind_started(shadow, now, href, document),
        )
        self._conversation_event(app, conv, ET.ADDED)
        log.info("incoming %s from %s: %s", call.kind.value, call.uri, href)
        if call.ring_for is not None:
            reason = Reason("Informational", "Missed", "nobody answered")
            record.timers.append(self._after(call.ring_for, _bind(self._fail, app, record, reason)))

    # -- messages --------------------------------------------------------------------------------------------

    def _send_message(self, app: Application, conv: Conversation, modality: Modality, request: SimRequest) -> Reply:
        """``sendMessage``: 201 with the message's href, then its ``completed`` (SendAnIM sample)."""
        if modality.state is not MS.CONNECTED:
            return _conflict("the messaging modality is not connected")
        media = (request.content_type or "").split(";", 1)[0].strip().lower()
        if media not in ("text/plain", "text/html", ""):
            return ucwa_error(415, "UnsupportedMediaType", None, "a message is text/plain or text/html")
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return ucwa_error(400, "BadRequest", None, "the message is not UTF-8")
        href = self._message_event(app, conv, Direction.OUTGOING, text)
        return Reply(201, headers=(("location", href),))

    def _message_event(self, app: Application, conv: Conversation, direction: Direction, text: str) -> str:
        modality = conv.modalities.get("messaging")
        assert modality is not None
        href = f"{modality.messages_href}/{next(conv.message_ids)}"
        document: Document = {
            "rel": "message",
            "direction": direction.value,
            "_links": {
                "self": {"href": href},
                "messaging": {"href": modality.href},
                "plainMessage": {"href": text_data_uri(text)},
            },
        }
        app.resources[href] = lambda: document
        self._emit(
            app,
            ("conversation", conv.href),
            _event("message", href, ET.COMPLETED, embedded=document, status=CompletionStatus.SUCCESS),
        )
        log.info("message %s: %s", direction.value.lower(), href)
        return href

    def _incoming_message(self, app: Application, conv: Conversation, happening: IncomingMessage) -> None:
        modality = conv.modalities.get("messaging")
        if app.gone or modality is None or modality.state is not MS.CONNECTED:
            self.waiting.append(happening)
            return
        self._message_event(app, conv, Direction.INCOMING, happening.text)

    def _connected_messaging(self) -> tuple[Application, Conversation] | None:
        for app in reversed(list(self.apps.values())):
            if app.gone:
                continue
            for conv in reversed(app.conversations):
                modality = conv.modalities.get("messaging")
                if modality is not None and modality.state is MS.CONNECTED:
                    return app, conv
        return None

    # -- renegotiations ------------------------------------------------------------------------------------

    def _renegotiation_in_flight(self, conv: Conversation) -> bool:
        return any(not r.shadow.is_terminal for r in conv.renegotiations)

    def _incoming_renegotiation(
        self, target: tuple[Application, Conversation], happening: IncomingRenegotiation
    ) -> None:
        app, conv = target
        record = conv.invitation
        modality = conv.modalities.get("audioVideo")
        if app.gone or record is None or record.phase is not Phase.CONNECTED or modality is None:
            self.waiting.append(happening)
            return
        if self._renegotiation_in_flight(conv):
            # at most one renegotiation at a time (docs/protocol.md §4): try again shortly
            self._after(0.05, _bind(self._incoming_renegotiation, target, happening))
            return
        now = self.clock.now()
        ident = next(app.ids)
        href = f"{modality.session_href}/renegotiations/{ident}"
        reneg = RenegotiationRecord(
            ident, href, Direction.INCOMING, modality, f"sim-reneg-{app.ident}-{ident}", happening.sdp, Renegotiation()
        )
        conv.renegotiations.append(reneg)
        app.actions[f"{href}/answer"] = _bind(self._renegotiation_post, app, reneg, "answer")
        app.actions[f"{href}/dismiss"] = _bind(self._renegotiation_post, app, reneg, "dismiss")
        document = reneg.render()
        offer = document["_links"]["mediaOffer"]["href"]

        def apply() -> None:
            reneg.shadow.started(now=now, representation=representation_of(document), href=href, media_offer=offer)

        self._emit(
            app,
            ("communication", app.communication),
            _event("audioVideoRenegotiation", href, ET.STARTED, embedded=document),
            apply,
        )

    def _renegotiation_post(
        self, app: Application, reneg: RenegotiationRecord, verb: str, request: SimRequest
    ) -> Reply:
        now = self.clock.now()
        if not reneg.offered or reneg.direction is not Direction.INCOMING:
            return _conflict(f"the renegotiation offers no {verb} link now")
        shadow = reneg.shadow
        try:
            if verb == "answer":
                shadow.answer(now=now)
            else:
                try:
                    props = parse_input(request.body, request.content_type)
                except InputError as exc:
                    return ucwa_error(400, "BadRequest", None, str(exc))
                raw = text_prop(props, "reason")
                reason = None
                if raw is not None:
                    reason = next((r for r in ReNegotiationDeclineReason if r.value.lower() == raw.lower()), None)
                    if reason is None:
                        return _invalid("reason", f"{raw!r} is not a ReNegotiationDeclineReason")
                shadow.dismiss(now=now, reason=reason)
        except CallFsmError as exc:
            return _conflict(str(exc))
        shadow.request_succeeded(now=now)
        reneg.offered = False
        log.info("renegotiation %s: %s", reneg.href, verb)
        return NO_CONTENT

    def _offer_renegotiation(
        self, app: Application, conv: Conversation, modality: Modality, request: SimRequest
    ) -> Reply:
        now = self.clock.now()
        record = conv.invitation
        if record is None or record.phase is not Phase.CONNECTED:
            return _conflict("the audio/video session is not established")
        operation_id = request.query.get("operationId")
        if not operation_id or len(operation_id) > 50:
            return _invalid("operationId", "operationId is required, at most 50 characters")
        if request.body.strip() and not is_sdp(request.content_type):
            return ucwa_error(415, "UnsupportedMediaType", None, "a renegotiation offer is application/sdp")
        if self._renegotiation_in_flight(conv):
            return ucwa_error(409, "Conflict", "AlreadyExists", "another renegotiation is in progress")
        ident = next(app.ids)
        href = f"{modality.session_href}/renegotiations/{ident}"
        sdp = request.body.decode("utf-8", "replace") or DEFAULT_SDP
        shadow = Renegotiation()
        try:
            shadow.offer(now=now, href=request.path, operation_id=operation_id, sdp=sdp)
        except InvalidInput as exc:
            return _invalid(exc.field, exc.why)
        reneg = RenegotiationRecord(ident, href, Direction.OUTGOING, modality, operation_id, sdp, shadow)
        conv.renegotiations.append(reneg)
        document = reneg.render()

        def started() -> None:
            shadow.started(now=now, representation=representation_of(document), href=href)

        self._emit(
            app,
            ("communication", app.communication),
            _event("audioVideoRenegotiation", href, ET.STARTED, embedded=document),
            started,
        )
        shadow.created(now=now, representation=representation_of(document), href=href)
        reply = (
            self.renegotiation_replies.popleft()
            if self.renegotiation_replies
            else RenegotiationReply(True, self.config.default_answer_delay)
        )
        self._after(reply.after, _bind(self._renegotiation_reply, app, reneg, reply))
        return Reply(201, BodyKind.RESOURCE, document, (("location", href),))

    def _renegotiation_reply(self, app: Application, reneg: RenegotiationRecord, reply: RenegotiationReply) -> None:
        if reneg.shadow.is_terminal:
            return
        now = self.clock.now()
        shadow = reneg.shadow
        if reply.answer:
            reneg.answer = DEFAULT_SDP
            document = reneg.render()
            answer = document["_links"]["mediaAnswer"]["href"]
            self._emit(
                app,
                ("communication", app.communication),
                _event("audioVideoRenegotiation", reneg.href, ET.UPDATED, embedded=document),
                lambda: shadow.remote_answered(now=now, media_answer=answer),
            )
            return
        reason = reason_of(reply.code, reply.subcode, "the remote refused the offer")
        self._emit(
            app,
            ("communication", app.communication),
            _event(
                "audioVideoRenegotiation",
                reneg.href,
                ET.COMPLETED,
                embedded=reneg.render(),
                status=CompletionStatus.FAILURE,
                reason=reason,
            ),
            lambda: shadow.remote_rejected(now=now, reason=reason),
        )

    # -- the lobby, leader side -------------------------------------------------------------------------

    def _lobby_arrival(self, app: Application, conv: Conversation, arrival: LobbyArrival) -> None:
        record = conv.invitation
        if app.gone or record is None or record.phase is not Phase.CONNECTED:
            self.waiting.append(arrival)
            return
        now = self.clock.now()
        guest = Participant(
            conv.new_participant_href(), conv.href, arrival.name, arrival.uri, in_lobby=True, actionable=True
        )
        guest.shadow = LobbyParticipant()
        conv.lobby[guest.href] = guest
        app.resources[guest.href] = guest.render
        app.actions[f"{guest.href}/admit"] = _bind(self._lobby_post, app, conv, guest, "admit")
        app.actions[f"{guest.href}/reject"] = _bind(self._lobby_post, app, conv, guest, "reject")
        document = guest.render()
        shadow = guest.shadow
        self._emit(
            app,
            ("conversation", conv.href),
            _event("participant", guest.href, ET.ADDED, embedded=document, in_=("lobby", f"{conv.href}/lobby")),
            lambda: shadow.added(
                now=now, href=guest.href, representation=representation_of(document), display_name=guest.name
            ),
        )
        if arrival.leave_after is not None:
            self._after(arrival.leave_after, _bind(self._lobby_leave, app, conv, guest))

    def _lobby_leave(self, app: Application, conv: Conversation, guest: Participant) -> None:
        shadow = guest.shadow
        if guest.href not in conv.lobby or shadow is None or shadow.is_terminal:
            return
        now = self.clock.now()
        del conv.lobby[guest.href]
        guest.in_lobby = False
        self._emit(
            app,
            ("conversation", conv.href),
            _event("participant", guest.href, ET.DELETED, in_=("lobby", f"{conv.href}/lobby")),
            lambda: shadow.deleted(now=now),
        )

    def _lobby_post(
        self, app: Application, conv: Conversation, guest: Participant, verb: str, request: SimRequest
    ) -> Reply:
        now = self.clock.now()
        shadow = guest.shadow
        if shadow is None or guest.href not in conv.lobby:
            return _conflict(f"the participant offers no {verb} link now")
        try:
            if verb == "admit":
                shadow.admit(now=now)
            else:
                shadow.reject(now=now)
        except CallFsmError as exc:
            return _conflict(str(exc))
        shadow.request_succeeded(now=now)
        del conv.lobby[guest.href]
        guest.in_lobby = False
        lobby = ("lobby", f"{conv.href}/lobby")
        self._emit(
            app,
            ("conversation", conv.href),
            _event("participant", guest.href, ET.DELETED, in_=lobby),
            lambda: shadow.deleted(now=now),
        )
        if verb == "admit":
            conv.roster[guest.href] = guest
            self._emit(
                app,
                ("conversation", conv.href),
                _event("participant", guest.href, ET.ADDED, embedded=guest.render()),
                lambda: shadow.roster_added(now=now, href=guest.href),
            )
        log.info("lobby participant %s: %s", guest.href, verb)
        return NO_CONTENT

    # -- Huawei (adapters/simulator/huawei.py) ------------------------------------------------------------

    def huawei(self, request: SimRequest) -> Reply:
        with self._entry() as now:
            return self.huawei_cloud.answer(request, now)


def _bind(function: Callable[..., Any], *bound: Any) -> Callable[..., Any]:
    def call(*more: Any) -> Any:
        return function(*bound, *more)

    return call


def _bind_started(
    shadow: Invitation | OnlineMeetingJoin, now: float, href: str, document: Document
) -> Callable[[], object]:
    return lambda: shadow.started(now=now, href=href, representation=representation_of(document))


def _bind_updated(
    shadow: Invitation | OnlineMeetingJoin, now: float, href: str, document: Document
) -> Callable[[], object]:
    return lambda: shadow.updated(now=now, href=href, representation=representation_of(document))


def _bind_conversation(shadow: OnlineMeetingJoin, now: float, state: ConversationState) -> Callable[[], object]:
    return lambda: shadow.conversation_updated(now=now, state=state.value)


def _bind_roster(shadow: OnlineMeetingJoin, now: float, href: str) -> Callable[[], object]:
    return lambda: shadow.roster_added(now=now, href=href)
