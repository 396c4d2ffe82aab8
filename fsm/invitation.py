"""The invitation machine: audioVideo, messaging, onlineMeeting, participant, phoneAudio.

Theory of operation
-------------------
One table serves every invitation kind, UCWA rels and ``ms:rtc:saas:`` rels
alike; what differs per kind is data (:data:`KIND_RULES`): the creating link,
whether it can be incoming, which links accept it.

States. The eight wire states of ``InvitationState`` (docs/protocol.md §1.1; note
``Cancelled`` with two l, while the subcode is ``Canceled``) plus local ones:
``idle`` (nothing known yet), ``sending`` (create POST sent, neither the 201
nor ``started`` seen), one pending state per local request in flight
(``accepting``, ``declining``, ``forwarding``, ``cancelling``,
``answering_early``), the two
states of the cancel race (``cancel_answered``, ``cancel_crossed``, below),
and the explicit hang-up of a connected invitation (``hanging_up`` ->
``hung_up``).

Progress. ``started`` and ``updated`` move between the four progress states
(Connecting, Alerting, TeamRing, Forwarded) as the embedded representation
says; an event with no embedded state keeps the current one. Aggregation may
skip any of them: ``completed`` is accepted from every non-final state, even
``idle`` (a completed with no started), and ``started`` may come before the
create's 201 (``created``): both orders end in the same state.

An event that carries no resource (a ``started`` or ``updated`` with no
``_embedded``, as in the documentation's samples, docs/protocol.md §2.4) may
still have changed the links, and links gate actions: the machine asks for a
GET (``FetchResource``) of its href, whose answer comes back as ``updated``
(or ``completed`` when the state is final). An ended invitation asks nothing.

Completion follows :mod:`fsm.outcome`: the embedded final state wins, else
the status (Success -> Connected; Failure -> Cancelled / Declined by subcode,
else Failed), and with neither the machine stays put and asks for a GET.
The current UCWA documentation lists only ``started`` and ``updated`` for
audioVideo, onlineMeeting, participant and phoneAudio invitations (§2.3), so
an ``updated`` whose embedded state is final (Connected, Declined, Cancelled,
Failed) ends the invitation the same way, from every state ``completed``
ends it from (the cancel race included). That outcome has no status and no
reason code yet; a later ``completed`` that agrees fills them in (below).

Links gate actions: a local trigger needs the state to allow it AND the latest
representation to carry its link (``acceptAndBridge`` and
``acceptAndBridgeAudioVideo`` both count). phoneAudio cannot be accepted
through the API; participantInvitation is never incoming.

Accepting never takes a link that means something else. ``accept`` POSTs the
``accept`` link (UCWA messaging, onlineMeeting; ``ms:rtc:saas:accept``, with
its optional ``mediaHost``), else it is ``LinkMissing``. UCWA audio/video has
no ``accept`` (§1.4): it is accepted by ``accept_with_answer`` (an SDP answer,
``application/sdp``, with ``sessionContext`` required, at most 50 characters,
and ``processedOfferId`` optional, at most 100, in the query: §1.5) or by
``accept_with_phone_audio``, each its own trigger to ``accepting``.
``send_provisional_answer`` (early media, the same query) does not accept:
the invitation still rings. It is still a request in flight, and a response
names no request, so it has its own pending state, ``answering_early``, like
``accepting``: its 204 or its refusal returns to the progress state the wire
last reported, and an end (``completed``, or ``updated`` to a final state)
ends it meanwhile. A stray 2xx on a ringing invitation stays a refusal.

Creating. ``operationId`` is optional where the documentation marks it so
(UCWA creates; only the Trusted Application API's ``addParticipant``
requires it, ``send(saas=True)``); without one, the create's 201 is the only
way to tell its events apart (the dispatcher holds them until it comes).
``importance`` takes only :class:`Importance`'s three values (§1.1).

Not encoded: ``ms:rtc:saas:startAdhocMeeting`` (§1.5). Its body is known
only as an SDK type (``StartAdhocMeetingInput``: subject, callback context
and URL, operation context; the JSON names are undocumented), Microsoft's SDK
marks it Obsolete, and the Trusted Application API that served it was
decommissioned on 2022-11-20. Its result would be an onlineMeetingInvitation
``started`` matched by operation id, which :mod:`fsm.online_meeting` already
models; an app that still meets the link can POST it through
``adapters.ucwa.client``'s ``perform`` with its own ``StartOperation``.

The cancel race: ``cancel`` puts an outgoing invitation in ``cancelling``. If
``completed`` then says Success (the callee answered before the cancel took
effect), the invitation did connect, and it must be hung up: POST ``cancel``
again, which on a connected invitation terminates the modality (docs/protocol.md
§1.6). The cancel and the hang-up POST the same ``cancel`` link, and a
response names no request, so the machine never has both in flight: the
hang-up is asked for only once the cancel's own response is in. Which of the
two comes first, the Success or the cancel's response, is a state:

- the cancel's 204 first: ``cancelling`` -> ``cancel_answered``, where
  ``completed`` decides as in ``cancelling``; a Success there moves to
  ``hanging_up`` and returns the hang-up at once (no response is pending);
- the Success first: ``cancelling`` -> ``cancel_crossed``, with the outcome
  (Success) but no action; the cancel's response then moves to
  ``hanging_up`` and returns the hang-up, a 204 as well as a refusal (the
  server refuses a cancel that comes after the answer: hang up all the same).
  Channel events meanwhile are absorbed, as once connected.

Either way the next response is the hang-up's: its 204 ends the invitation in
``hung_up``, a refusal returns it to ``Connected``. The hang-up POSTs the
``cancel`` link of the latest representation (the ``completed`` usually
carries the terminate link), else the one before it, else the one the cancel
POSTed (:attr:`Invitation.cancel_link`: an ``updated`` in between may have
carried no links, and the hang-up must still go somewhere); in
``cancel_crossed`` it is kept in :attr:`Invitation.hang_up_link` until the
cancel's response comes. A response in ``cancel_answered`` answers nothing we
sent, and is refused.

Connected is the invitation's success but not a dead end: in real traffic the
``cancel`` link stays and hangs up the modality (``hanging_up`` -> ``hung_up``).

Once completed, the invitation absorbs later channel events: they are
recorded in the history (marked absorbed) and change neither state nor outcome,
with one exception: an outcome a GET or an ``updated`` gave (a final state, no
status, no reason code) takes the status and reason of a ``completed`` that
comes later and agrees with it (:func:`fsm.outcome.fill_in`), as the event is
the server's own word on both. Such an outcome is final only then, or once
:data:`fsm.outcome.FINAL_GRACE` has passed (:meth:`Invitation.outcome_is_final`).

Why this module is one piece (about 800 lines, over the 500 the adapters keep
to): it is one machine, read together. This header, the literal table and
:class:`Invitation`, whose methods are the table's triggers, say the same thing
three ways, and a reader checks one against the others; the table's helper
rows and the kinds' rules are used by nothing else. Split, a row and the
method that fires it would sit in different files.
"""

from __future__ import annotations

from enum import Enum

from attrs import define, field, frozen

from fsm.actions import NO_ACTIONS, Actions, FetchResource, PostLink, Properties, PropertyValue, StartOperation
from fsm.engine import MachineDefinition, Transition, build_table
from fsm.errors import InvalidInput, InvalidTrigger, LinkMissing
from fsm.model import FsmModel
from fsm.outcome import Completion, Outcome, classify_completion, fill_in, is_final, settle_by
from fsm.reasons import CallDeclineReason, Reason, ReasonResource
from fsm.wire import SAAS_PREFIX, Direction, Link, Representation, WireEnum, bare_rel


class InvitationState(Enum):
    IDLE = "idle"
    SENDING = "sending"
    CONNECTING = "Connecting"
    ALERTING = "Alerting"
    TEAM_RING = "TeamRing"
    FORWARDED = "Forwarded"
    ACCEPTING = "accepting"
    DECLINING = "declining"
    FORWARDING = "forwarding"
    CANCELLING = "cancelling"
    #: Our early-media answer (sendProvisionalAnswer) is in flight; its response returns to ringing.
    ANSWERING_EARLY = "answering_early"
    #: Our cancel's 204 came; its ``completed`` has not (the cancel race: see the module doc).
    CANCEL_ANSWERED = "cancel_answered"
    #: ``completed`` Success came while our cancel was in flight: the hang-up waits for its response.
    CANCEL_CROSSED = "cancel_crossed"
    CONNECTED = "Connected"
    HANGING_UP = "hanging_up"
    HUNG_UP = "hung_up"
    DECLINED = "Declined"
    CANCELLED = "Cancelled"
    FAILED = "Failed"


class InvitationTrigger(Enum):
    # local: the app decides; each returns the actions to perform
    SEND = "send"
    ACCEPT = "accept"
    #: UCWA audio/video: accept with an SDP answer (docs/protocol.md §1.5).
    ACCEPT_WITH_ANSWER = "accept_with_answer"
    #: UCWA audio/video: accept, the audio going to the user's phone.
    ACCEPT_WITH_PHONE_AUDIO = "accept_with_phone_audio"
    #: UCWA audio/video early media: an SDP answer while it still rings (``answering_early`` until its response).
    SEND_PROVISIONAL_ANSWER = "send_provisional_answer"
    ACCEPT_AND_BRIDGE = "accept_and_bridge"
    DECLINE = "decline"
    FORWARD = "forward"
    CANCEL = "cancel"
    # remote: responses to our requests, and events from the channel
    CREATED = "created"
    REQUEST_SUCCEEDED = "request_succeeded"
    REQUEST_FAILED = "request_failed"
    STARTED = "started"
    UPDATED = "updated"
    COMPLETED = "completed"


class InvitationKind(Enum):
    AUDIO_VIDEO = "audioVideoInvitation"
    MESSAGING = "messagingInvitation"
    ONLINE_MEETING = "onlineMeetingInvitation"
    PARTICIPANT = "participantInvitation"
    PHONE_AUDIO = "phoneAudioInvitation"

    @classmethod
    def from_rel(cls, rel: str) -> InvitationKind | None:
        """The kind of a resource rel, UCWA or ``ms:rtc:saas:``; ``None`` if not an invitation."""
        name = bare_rel(rel)
        for member in cls:
            if member.value == name:
                return member
        return None


@frozen
class KindRules:
    """What differs between invitation kinds (docs/protocol.md §1.2, 1.4, 1.5)."""

    create_rel: str
    can_be_incoming: bool
    #: The link ``accept`` POSTs (bare rel); empty: it cannot be accepted
    #: through the API. Never a link that means something else: UCWA
    #: audio/video has no ``accept`` (docs/protocol.md §1.4), and is accepted
    #: through the explicit ``accept_with_answer`` / ``accept_with_phone_audio``.
    accept_rels: tuple[str, ...]
    reason_resource: ReasonResource
    #: The property that names the target of the creating POST.
    target_property: str
    #: The Trusted Application API's creating link where it has another name (audio/video:
    #: ``ms:rtc:saas:startAudio``, docs/protocol.md §1.2); a client takes ``create_rel`` or this one.
    saas_create_rel: str | None = None

    @property
    def create_rels(self) -> tuple[str, ...]:
        """The rels that create this kind, UCWA's first."""
        return (self.create_rel,) if self.saas_create_rel is None else (self.create_rel, self.saas_create_rel)


KIND_RULES: dict[InvitationKind, KindRules] = {
    InvitationKind.AUDIO_VIDEO: KindRules(
        "startAudioVideo", True, ("accept",), ReasonResource.AUDIO_VIDEO, "to", saas_create_rel="startAudio"
    ),
    InvitationKind.MESSAGING: KindRules("startMessaging", True, ("accept",), ReasonResource.MESSAGING, "to"),
    InvitationKind.ONLINE_MEETING: KindRules(
        "joinOnlineMeeting", True, ("accept",), ReasonResource.ONLINE_MEETING, "onlineMeetingUri"
    ),
    InvitationKind.PARTICIPANT: KindRules("addParticipant", False, (), ReasonResource.PARTICIPANT, "to"),
    InvitationKind.PHONE_AUDIO: KindRules("startPhoneAudio", True, (), ReasonResource.PHONE_AUDIO, "to"),
}

#: Property name -> maximum length (docs/protocol.md §1.3; ``callbackUrl`` from SaaS startAudio;
#: ``processedOfferId`` from acceptWithAnswer, §1.5).
MAX_LENGTHS: dict[str, int] = {
    "operationId": 50,
    "processedOfferId": 100,
    "subject": 250,
    "sessionContext": 50,
    "anonymousDisplayName": 250,
    "callbackUrl": 1024,
    "onBehalfOf": 250,
    "localParticipantDisplayName": 250,
}

BRIDGE_RELS = ("acceptAndBridge", "acceptAndBridgeAudioVideo")


class Importance(WireEnum):
    """``Importance`` of a creating POST (docs/protocol.md §1.1): the only values it takes."""

    NORMAL = "Normal"
    URGENT = "Urgent"
    EMERGENCY = "Emergency"


def importance_value(machine: str, importance: Importance | str | None) -> str | None:
    """The wire value of ``importance`` (a member, or its name in any case); anything else is refused."""
    if importance is None or isinstance(importance, Importance):
        return None if importance is None else importance.value
    parsed = Importance.parse(importance) if isinstance(importance, str) else None
    if parsed is None:
        allowed = ", ".join(member.value for member in Importance)
        raise InvalidInput(machine, "importance", f"{importance!r} is not one of {allowed}")
    return parsed.value

S = InvitationState
T = InvitationTrigger
C = Completion

PROGRESS = (S.CONNECTING, S.ALERTING, S.TEAM_RING, S.FORWARDED)
PENDING = (S.ACCEPTING, S.DECLINING, S.FORWARDING, S.CANCELLING, S.ANSWERING_EARLY)
_COMPLETION_DEST = {C.CONNECTED: S.CONNECTED, C.DECLINED: S.DECLINED, C.CANCELLED: S.CANCELLED, C.FAILED: S.FAILED}
_COMPLETION_NOTE = {
    C.CONNECTED: "Success",
    C.DECLINED: "Failure: Declined",
    C.CANCELLED: "Failure: Canceled",
    C.FAILED: "Failure: other reason",
}
#: Remote triggers that an ended invitation records and ignores.
_LATE_EVENTS = (T.CREATED, T.STARTED, T.UPDATED, T.COMPLETED, T.REQUEST_SUCCEEDED, T.REQUEST_FAILED)
#: The channel's triggers, without the responses to our requests.
_CHANNEL_EVENTS = _LATE_EVENTS[:4]
#: Where our cancel is sent and ``completed`` has not come.
_CANCEL_UNSETTLED = (S.CANCELLING, S.CANCEL_ANSWERED)
#: Where a Success that crossed our cancel leads, by what is still in flight (see the module doc).
_CROSSED_NOTE = {
    S.CANCEL_CROSSED: "Success crossed the cancel: hang up after its response",
    S.HANGING_UP: "Success crossed the cancel: hang up",
}


def _completion_rows(source: S, *, crossed: S | None = None, trigger: T = T.COMPLETED) -> list[Transition[S, T]]:
    """``completed`` (or ``updated`` to a final state) from ``source``.

    ``crossed``: where a Success goes when it crossed our cancel. ``updated``
    has no status: its branch is the embedded final state, and one that is
    not final (``UNDETERMINED``) keeps the state and takes the links in.
    """
    completed = trigger is T.COMPLETED
    rows = [
        Transition(source, trigger, dest, when=c, note=_COMPLETION_NOTE[c] if completed else f"state {c.value}")
        for c, dest in _COMPLETION_DEST.items()
        if not (crossed is not None and c is C.CONNECTED)
    ]
    if crossed is not None:
        rows.append(Transition(source, trigger, crossed, when=C.CONNECTED, note=_CROSSED_NOTE[crossed]))
    undetermined = "no status, no state: GET it" if completed else "not final: keep"
    rows.append(Transition(source, trigger, source, when=C.UNDETERMINED, note=undetermined))
    return rows


def _final_updated_rows(source: S) -> list[Transition[S, T]]:
    """``updated`` to a final state from a state whose other ``updated`` rows are progress rows."""
    return [
        Transition(source, T.UPDATED, dest, when=c, note=f"state {c.value}")
        for c, dest in _COMPLETION_DEST.items()
    ]


def _progress_rows(source: S, trigger: T) -> list[Transition[S, T]]:
    rows = [Transition(source, trigger, dest, when=dest, note=f"state {dest.value}") for dest in PROGRESS]
    if trigger is T.UPDATED:
        rows.extend(_final_updated_rows(source))
    return rows


TABLE: tuple[Transition[S, T], ...] = build_table(
    # -- nothing known yet: an outgoing invitation is sent; an incoming one starts
    [
        Transition(S.IDLE, T.SEND, S.SENDING),
        *_progress_rows(S.IDLE, T.STARTED),
        *_progress_rows(S.IDLE, T.UPDATED),  # its started was aggregated away
        *_completion_rows(S.IDLE),  # completed with no started
    ],
    # -- create POST sent: the 201 and started may come in either order
    [
        Transition(S.SENDING, T.CREATED, S.CONNECTING),
        *_progress_rows(S.SENDING, T.STARTED),
        *_progress_rows(S.SENDING, T.UPDATED),
        Transition(S.SENDING, T.REQUEST_FAILED, S.FAILED, note="create POST refused"),
        *_completion_rows(S.SENDING),
    ],
    # -- ringing: the wire states that precede completion
    *(
        [
            Transition(p, T.CREATED, p),
            *_progress_rows(p, T.STARTED),
            *_progress_rows(p, T.UPDATED),
            *_completion_rows(p),
            Transition(p, T.ACCEPT, S.ACCEPTING, note="link accept"),
            Transition(p, T.ACCEPT_WITH_ANSWER, S.ACCEPTING, note="link acceptWithAnswer"),
            Transition(p, T.ACCEPT_WITH_PHONE_AUDIO, S.ACCEPTING, note="link acceptWithPhoneAudio"),
            Transition(p, T.ACCEPT_AND_BRIDGE, S.ACCEPTING, note="link acceptAndBridge"),
            Transition(p, T.DECLINE, S.DECLINING, note="link decline"),
            Transition(p, T.FORWARD, S.FORWARDING, note="link forward"),
            Transition(p, T.CANCEL, S.CANCELLING, note="link cancel"),
            # early media: a request in flight like any other, whose response returns to ringing (module doc)
            Transition(p, T.SEND_PROVISIONAL_ANSWER, S.ANSWERING_EARLY, note="link sendProvisionalAnswer"),
        ]
        for p in PROGRESS
    ),
    # -- a local request is in flight; its 204 says nothing, completed (or a final updated) decides
    *(
        [
            Transition(x, T.CREATED, x),
            Transition(x, T.STARTED, x),
            *_completion_rows(x, crossed=S.CANCEL_CROSSED if x is S.CANCELLING else None, trigger=T.UPDATED),
            # the cancel's 204 is kept: a hang-up must not be sent while the cancel is in flight
            *(
                [Transition(x, T.REQUEST_SUCCEEDED, S.CANCEL_ANSWERED, note="the cancel's 204")]
                if x is S.CANCELLING
                else [
                    Transition(x, T.REQUEST_SUCCEEDED, p, when=p, note=f"early answer taken: {p.value}")
                    for p in PROGRESS
                ]
                if x is S.ANSWERING_EARLY
                else [Transition(x, T.REQUEST_SUCCEEDED, x)]
            ),
            *[Transition(x, T.REQUEST_FAILED, p, when=p, note=f"refused: back to {p.value}") for p in PROGRESS],
            *_completion_rows(x, crossed=S.CANCEL_CROSSED if x is S.CANCELLING else None),
        ]
        for x in PENDING
    ),
    # -- the cancel race (module doc): the cancel's 204 first, or the Success first
    [
        *[Transition(S.CANCEL_ANSWERED, t, S.CANCEL_ANSWERED) for t in (T.CREATED, T.STARTED)],
        *_completion_rows(S.CANCEL_ANSWERED, crossed=S.HANGING_UP, trigger=T.UPDATED),
        *_completion_rows(S.CANCEL_ANSWERED, crossed=S.HANGING_UP),
        Transition(S.CANCEL_CROSSED, T.REQUEST_SUCCEEDED, S.HANGING_UP, note="the cancel's 204: hang up"),
        Transition(S.CANCEL_CROSSED, T.REQUEST_FAILED, S.HANGING_UP, note="cancel refused, connected: hang up"),
        *[Transition(S.CANCEL_CROSSED, t, S.CANCEL_CROSSED, absorb=True) for t in _CHANNEL_EVENTS],
    ],
    # -- connected: success, but the cancel link can still hang up the modality
    [
        Transition(S.CONNECTED, T.CANCEL, S.HANGING_UP, note="link cancel: hang up"),
        *[Transition(S.CONNECTED, t, S.CONNECTED, absorb=True) for t in _LATE_EVENTS],
        Transition(S.HANGING_UP, T.REQUEST_SUCCEEDED, S.HUNG_UP),
        Transition(S.HANGING_UP, T.REQUEST_FAILED, S.CONNECTED, note="hang-up refused"),
        *[Transition(S.HANGING_UP, t, S.HANGING_UP, absorb=True) for t in _CHANNEL_EVENTS],
    ],
    # -- ended: late events are recorded and change nothing
    *(
        [Transition(end, t, end, absorb=True) for t in _LATE_EVENTS]
        for end in (S.HUNG_UP, S.DECLINED, S.CANCELLED, S.FAILED)
    ),
)

INVITATION: MachineDefinition[S, T] = MachineDefinition(
    name="invitation",
    summary="An audio/video, messaging, online meeting, participant or phone audio invitation, "
    "from the create POST or the incoming started event to its completion and hang-up.",
    states=S,
    triggers=T,
    initial=S.IDLE,
    terminal=frozenset({S.HUNG_UP, S.DECLINED, S.CANCELLED, S.FAILED}),
    local_triggers=frozenset(
        {
            T.SEND,
            T.ACCEPT,
            T.ACCEPT_WITH_ANSWER,
            T.ACCEPT_WITH_PHONE_AUDIO,
            T.SEND_PROVISIONAL_ANSWER,
            T.ACCEPT_AND_BRIDGE,
            T.DECLINE,
            T.FORWARD,
            T.CANCEL,
        }
    ),
    table=TABLE,
    wire_names={s: s.value for s in (*PROGRESS, S.CONNECTED, S.DECLINED, S.CANCELLED, S.FAILED)},
)

_PROGRESS_BY_WIRE = {p.value.lower(): p for p in PROGRESS}
#: The final wire states, lowered: an ``updated`` to one of them ends the invitation.
_FINAL_BY_WIRE = {c.value.lower(): c for c in _COMPLETION_DEST}
#: Where ``updated`` without a final state is a progress step (elsewhere only a final state moves it).
_RINGING_OR_BEFORE = frozenset({S.IDLE, S.SENDING, *PROGRESS})
#: ``Direction.parse`` as one dict lookup: it runs on every event that carries a
#: representation, and its scan of the enum was a quarter of a trigger's own cost.
_DIRECTION_BY_WIRE = {d.value.lower(): d for d in Direction}


def _direction(text: str | None) -> Direction | None:
    """The same answer as :meth:`Direction.parse` (case-insensitive; ``None`` if unknown)."""
    return None if text is None else _DIRECTION_BY_WIRE.get(text.lower())


def check_lengths(machine: str, properties: dict[str, PropertyValue]) -> None:
    """Refuse any property longer than its documented maximum (nothing is sent)."""
    for name, limit in MAX_LENGTHS.items():
        value = properties.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise InvalidInput(machine, name, f"{len(value)} characters, the maximum is {limit}")


@define(slots=True, kw_only=True, eq=True)
class Invitation(FsmModel):
    """One live invitation. Every trigger takes ``now``, the caller's clock."""

    DEFINITION = INVITATION

    kind: InvitationKind
    state: InvitationState = InvitationState.IDLE
    href: str | None = None
    operation_id: str | None = None
    direction: Direction | None = None
    representation: Representation = field(factory=Representation)
    #: The last progress state the wire reported (where a refused request returns).
    progress: InvitationState = InvitationState.CONNECTING
    outcome: Outcome | None = None
    #: When a provisional outcome (no status, no reason code yet) becomes final, on the caller's clock;
    #: ``None``: final as soon as set (:func:`fsm.outcome.settle_by`).
    final_at: float | None = None
    #: In ``cancel_crossed``: the link to hang up with once the cancel's response comes.
    hang_up_link: Link | None = None
    #: The link our last cancel POSTed: the hang-up's last resort in the cancel race when no
    #: representation since carries a cancel link (else the model would wait in ``hanging_up``
    #: with nothing sent). A refusal of that hang-up returns it to ``Connected``.
    cancel_link: Link | None = None

    @property
    def rules(self) -> KindRules:
        return KIND_RULES[self.kind]

    # -- local triggers ------------------------------------------------------------

    def send(
        self,
        *,
        now: float,
        href: str,
        operation_id: str | None = None,
        to: str | None = None,
        subject: str | None = None,
        importance: Importance | str | None = None,
        thread_id: str | None = None,
        extra: dict[str, PropertyValue] | None = None,
        saas: bool = False,
    ) -> Actions:
        """Create the invitation: POST the kind's creating link (``href``).

        ``to`` is the target (for onlineMeeting: the meeting URI). ``extra``
        carries kind-specific properties (``sessionContext``, ``callbackUrl``,
        ``anonymousDisplayName``...); lengths are checked before anything is decided.
        ``operation_id`` is optional as UCWA documents it (the 201 then names
        the resource); the Trusted Application API's ``addParticipant``
        (``saas=True``) requires it (docs/protocol.md §1.5). ``importance`` is an
        :class:`Importance` or its wire name; anything else is ``InvalidInput``.
        """
        self._check(T.SEND)
        machine = self.machine
        if operation_id is not None and not operation_id:
            raise InvalidInput(machine, "operationId", "an operation id, when given, is not empty")
        if operation_id is None and saas and self.kind is InvitationKind.PARTICIPANT:
            raise InvalidInput(machine, "operationId", "the Trusted Application API's addParticipant requires one")
        rules = self.rules
        properties: dict[str, PropertyValue] = {} if operation_id is None else {"operationId": operation_id}
        for name, value in (
            (rules.target_property, to),
            ("subject", subject),
            ("importance", importance_value(machine, importance)),
            ("threadId", thread_id),
        ):
            if value is not None:
                properties[name] = value
        if extra:
            properties.update(extra)
        if rules.target_property not in properties:
            raise InvalidInput(machine, rules.target_property, "the target is required")
        check_lengths(machine, properties)
        self._move(T.SEND, now)
        self.direction = Direction.OUTGOING
        self.operation_id = operation_id
        body: Properties = tuple((k, v) for k, v in properties.items() if k != "operationId")
        return (StartOperation(rules.create_rel, href, operation_id, body),)

    def accept(
        self,
        *,
        now: float,
        media_host: str | None = None,
        answer_sdp: str | None = None,
        session_context: str | None = None,
    ) -> Actions:
        """Accept an incoming invitation: POST its ``accept`` link, and no other.

        UCWA audio/video has no ``accept`` (docs/protocol.md §1.4): use
        :meth:`accept_with_answer` or :meth:`accept_with_phone_audio`; here a
        missing ``accept`` is :class:`~fsm.errors.LinkMissing`. ``media_host``
        is the optional body of ``ms:rtc:saas:accept`` (§1.5; the SDK sends
        ``Remote``). ``answer_sdp`` (with ``session_context``) is the older
        spelling of :meth:`accept_with_answer`, kept for callers written
        against it: it fires that trigger, not this one.
        """
        if answer_sdp is not None:
            return self.accept_with_answer(now=now, sdp=answer_sdp, session_context=session_context)
        self._check(T.ACCEPT)
        if not self.rules.accept_rels:
            raise InvalidTrigger(
                self.machine, self.state, T.ACCEPT, f"a {self.kind.value} cannot be accepted through the API"
            )
        link = self._link(T.ACCEPT, self.rules.accept_rels)
        properties: Properties = ()
        if media_host is not None:
            if not link.rel.startswith(SAAS_PREFIX):
                raise InvalidInput(self.machine, "mediaHost", f"only ms:rtc:saas:accept takes it, not {link.rel}")
            properties = (("mediaHost", media_host),)
        self._move(T.ACCEPT, now)
        return (PostLink(link.rel, link.href, properties),)

    def accept_with_answer(
        self, *, now: float, sdp: str, session_context: str | None, processed_offer_id: str | None = None
    ) -> Actions:
        """UCWA audio/video: accept with an SDP answer (``acceptWithAnswer``, ``application/sdp``).

        ``session_context`` is required (at most 50 characters) and
        ``processed_offer_id`` optional (at most 100); both travel in the query
        string (docs/protocol.md §1.5).
        """
        action = self._sdp_post(T.ACCEPT_WITH_ANSWER, "acceptWithAnswer", sdp, session_context, processed_offer_id)
        self._move(T.ACCEPT_WITH_ANSWER, now)
        return (action,)

    def accept_with_phone_audio(self, *, now: float) -> Actions:
        """UCWA audio/video: accept, the audio going to the user's phone (``acceptWithPhoneAudio``, no body)."""
        self._check(T.ACCEPT_WITH_PHONE_AUDIO)
        link = self._link(T.ACCEPT_WITH_PHONE_AUDIO, ("acceptWithPhoneAudio",))
        self._move(T.ACCEPT_WITH_PHONE_AUDIO, now)
        return (PostLink(link.rel, link.href),)

    def send_provisional_answer(
        self, *, now: float, sdp: str, session_context: str | None, processed_offer_id: str | None = None
    ) -> Actions:
        """UCWA audio/video early media: POST ``sendProvisionalAnswer`` with an SDP answer.

        The invitation still rings; the answer is a request in flight
        (``answering_early``) until its 204 or its refusal returns it to its
        progress state. The query parameters are those of :meth:`accept_with_answer`.
        """
        action = self._sdp_post(
            T.SEND_PROVISIONAL_ANSWER, "sendProvisionalAnswer", sdp, session_context, processed_offer_id
        )
        self._move(T.SEND_PROVISIONAL_ANSWER, now)
        return (action,)

    def accept_and_bridge(
        self, *, now: float, meeting_uri: str, display_name: str | None = None, to: str | None = None
    ) -> Actions:
        """Accept and bridge into a conference (SaaS; body names are [U], see README)."""
        self._check(T.ACCEPT_AND_BRIDGE)
        link = self._link(T.ACCEPT_AND_BRIDGE, BRIDGE_RELS)
        properties: list[tuple[str, PropertyValue]] = [("meetingUri", meeting_uri)]
        if display_name is not None:
            properties.append(("localUserDisplayName", display_name))
        if to is not None:
            properties.append(("toUri", to))
        self._move(T.ACCEPT_AND_BRIDGE, now)
        return (PostLink(link.rel, link.href, tuple(properties)),)

    def decline(self, *, now: float, reason: CallDeclineReason | None = None) -> Actions:
        self._check(T.DECLINE)
        link = self._link(T.DECLINE, ("decline",))
        self._move(T.DECLINE, now, reason=None if reason is None else f"decline: {reason.value}")
        return (PostLink(link.rel, link.href, () if reason is None else (("reason", reason.value),)),)

    def forward(self, *, now: float, to: str | None = None) -> Actions:
        """Forward an incoming invitation; ``to`` is optional, as ``ms:rtc:saas:forward`` marks it."""
        self._check(T.FORWARD)
        link = self._link(T.FORWARD, ("forward",))
        self._move(T.FORWARD, now, reason="forward" if to is None else f"forward to {to}")
        return (PostLink(link.rel, link.href, () if to is None else (("to", to),)),)

    def cancel(self, *, now: float) -> Actions:
        """Cancel an outgoing invitation, or hang up a connected one."""
        self._check(T.CANCEL)
        link = self._link(T.CANCEL, ("cancel",))
        self._move(T.CANCEL, now)
        self.cancel_link = link
        return (PostLink(link.rel, link.href),)

    # -- responses to our requests ---------------------------------------------------

    def created(self, *, now: float, href: str) -> Actions:
        """The create POST answered 201 with ``Location: href``."""
        row = self._move(T.CREATED, now)
        if not row.absorb and self.href is None:
            self.href = href
        return NO_ACTIONS

    def request_succeeded(self, *, now: float) -> Actions:
        """A request we sent answered 2xx; after a crossed Success, the cancel's: now hang up."""
        source = self.state
        self._move(T.REQUEST_SUCCEEDED, now, branch=self.progress)
        return self._hang_up_after_cancel(source)

    def request_failed(self, *, now: float, reason: Reason) -> Actions:
        """A request we sent was refused synchronously (the HTTP error's code/subcode)."""
        source = self.state
        row = self._move(T.REQUEST_FAILED, now, branch=self.progress, reason=str(reason))
        if row.dest is S.FAILED and not row.absorb:
            self._set_outcome(Outcome(success=False, status=None, reason=reason), now, settled=True)
        return self._hang_up_after_cancel(source)

    # -- events from the channel -------------------------------------------------

    def started(self, *, now: float, href: str | None = None, representation: Representation | None = None) -> Actions:
        if representation is not None and self.state is S.IDLE:
            direction = _direction(representation.direction)
            if direction is Direction.INCOMING and not self.rules.can_be_incoming:
                raise InvalidTrigger(self.machine, self.state, T.STARTED, f"a {self.kind.value} is never incoming")
        return self._progress(T.STARTED, now, href, representation)

    def updated(self, *, now: float, href: str | None = None, representation: Representation | None = None) -> Actions:
        """Progress, or the end when the embedded state is final (UCWA may send no ``completed``).

        Ended that way the outcome has no status and no reason code; a later
        ``completed`` that agrees fills them in (:func:`fsm.outcome.fill_in`).
        """
        return self._progress(T.UPDATED, now, href, representation)

    def completed(
        self,
        *,
        now: float,
        status: str | None = None,
        reason: Reason | None = None,
        representation: Representation | None = None,
        href: str | None = None,
    ) -> Actions:
        embedded = representation.state if representation is not None else None
        completion = classify_completion(status, reason, embedded)
        row = self._move(
            T.COMPLETED,
            now,
            branch=completion,
            reason=str(reason) if reason is not None else (status or embedded),
        )
        if row.absorb:
            filled = fill_in(
                self.outcome,
                completion,
                status,
                reason,
                agrees_with_state=completion is not C.UNDETERMINED and _COMPLETION_DEST[completion] is self.state,
            )
            if filled is not None and self.final_at is not None:  # a settled outcome stays as it is
                self._set_outcome(filled, now)
            return NO_ACTIONS
        previous = self.representation
        self._learn(href, representation)
        if completion is C.UNDETERMINED:
            target = self.href or href
            return (FetchResource(target, "completed carried neither status nor state"),) if target else NO_ACTIONS
        return self._ended(row.source, row.dest, Outcome.of(completion, status, reason), previous, now)

    # -- final outcomes ------------------------------------------------------------

    def outcome_is_final(self, now: float) -> bool:
        """Whether the outcome is final at ``now`` (:mod:`fsm.outcome`, "Final outcomes").

        A ``completed`` with a status, or a refusal, makes it final at once; an
        end seen without status (a GET, an ``updated``) becomes final when a
        ``completed`` fills it in or :data:`~fsm.outcome.FINAL_GRACE` seconds
        later, whichever comes first.
        """
        return is_final(self.outcome, self.final_at, now)

    def _set_outcome(self, outcome: Outcome, now: float, *, settled: bool = False) -> None:
        """``settled``: nothing can add to it (a synchronous refusal: no resource, so no ``completed``)."""
        self.outcome = outcome
        self.final_at = None if settled else settle_by(outcome, now)

    # -- helpers -----------------------------------------------------------------

    def _ended(
        self, source: InvitationState, dest: InvitationState, outcome: Outcome, previous: Representation, now: float
    ) -> Actions:
        """The invitation ended (``completed``, or ``updated`` to a final state): its outcome, and the cancel race."""
        self._set_outcome(outcome, now)
        if source in _CANCEL_UNSETTLED and dest in (S.CANCEL_CROSSED, S.HANGING_UP):
            # the cancel race: the end usually carries the cancel (terminate) link; if not, the one we used
            link = self.representation.link("cancel") or previous.link("cancel") or self.cancel_link
            if dest is S.CANCEL_CROSSED:
                # our cancel is still in flight, and its response would pass for the hang-up's: wait for it
                self.hang_up_link = link
            elif link is not None:
                return (PostLink(link.rel, link.href),)
        return NO_ACTIONS

    def _sdp_post(
        self,
        trigger: InvitationTrigger,
        rel: str,
        sdp: str,
        session_context: str | None,
        processed_offer_id: str | None,
    ) -> PostLink:
        """The checked POST of an SDP answer to ``rel`` (nothing moves); its query: sessionContext, processedOfferId."""
        self._check(trigger)
        if not session_context:
            raise InvalidInput(self.machine, "sessionContext", f"{rel} requires one (at most 50 characters)")
        query: dict[str, PropertyValue] = {"sessionContext": session_context}
        if processed_offer_id is not None:
            query["processedOfferId"] = processed_offer_id
        check_lengths(self.machine, query)
        link = self._link(trigger, (rel,))
        return PostLink(link.rel, link.href, tuple(query.items()), sdp=sdp)

    def _hang_up_after_cancel(self, source: InvitationState) -> Actions:
        """After a response from ``cancel_crossed`` (the cancel's): the hang-up, now that nothing is in flight."""
        if source is not S.CANCEL_CROSSED:
            return NO_ACTIONS
        link, self.hang_up_link = self.hang_up_link, None
        return NO_ACTIONS if link is None else (PostLink(link.rel, link.href),)

    def _progress(
        self, trigger: InvitationTrigger, now: float, href: str | None, representation: Representation | None
    ) -> Actions:
        source = self.state
        wire = None if representation is None else representation.state
        final = _FINAL_BY_WIRE.get(wire.lower()) if wire is not None and trigger is T.UPDATED else None
        branch: InvitationState | Completion
        if final is not None:
            branch = final
        elif source in _RINGING_OR_BEFORE:
            # no embedded state: a ringing invitation stays put; one not yet ringing
            # takes the last state the wire reported (Connecting by default)
            branch = source if source in PROGRESS else self.progress
            if wire is not None:
                branch = _PROGRESS_BY_WIRE.get(wire.lower(), branch)
        else:
            branch = C.UNDETERMINED  # a request in flight: only a final state moves it
        row = self._move(trigger, now, branch=branch, reason=None if final is None else wire)
        if row.absorb:
            return NO_ACTIONS
        previous = self.representation
        self._learn(href, representation)
        if final is not None:
            return self._ended(source, row.dest, Outcome.without_status(final, "updated"), previous, now)
        if representation is None:
            # links gate actions, and an event with no resource may have changed them: read it
            target = self.href or href
            if target is not None:
                return (FetchResource(target, f"{trigger.value} carried no resource: its links may have changed"),)
        return NO_ACTIONS

    def _learn(self, href: str | None, representation: Representation | None) -> None:
        if href is not None and self.href is None:
            self.href = href
        if representation is None:
            return
        self.representation = representation
        if representation.state is not None:
            self.progress = _PROGRESS_BY_WIRE.get(representation.state.lower(), self.progress)
        if representation.operation_id is not None and self.operation_id is None:
            self.operation_id = representation.operation_id
        direction = _direction(representation.direction)
        if direction is not None:
            self.direction = direction

    def _link(self, trigger: InvitationTrigger, rels: tuple[str, ...]) -> Link:
        link = self.representation.link(*rels)
        if link is None:
            raise LinkMissing(self.machine, self.state, trigger, rels)
        return link
