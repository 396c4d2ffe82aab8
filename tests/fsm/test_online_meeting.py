"""The online meeting join (joiner's side, through the lobby).

Expected values come from seed 003 and docs/protocol.md §3 (OMI stays
Connecting in the lobby; the lobby shows as conversation ``InLobby`` or
participant ``inLobby``; completed Success only once in the roster; rejection,
lobby timeout and meeting end complete with Failure and a reason), and from
the brief's choices written down in :class:`Ref`, a reference model in plain
strings and dicts that does not read fsm/online_meeting.py's table.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from fsm.actions import Actions, FetchResource, PostLink, StartOperation
from fsm.errors import InvalidInput, InvalidTrigger, LinkMissing, NotDue
from fsm.online_meeting import (
    ONLINE_MEETING,
    OnlineMeetingJoin,
    OnlineMeetingState,
    OnlineMeetingTrigger,
)
from fsm.reasons import Reason, ReasonResource
from fsm.snapshot import dumps, loads, restore, snapshot
from fsm.wire import Link, Representation

S = OnlineMeetingState

JOIN_HREF = "/ucwa/v1/applications/1/communication/onlineMeetingInvitations"
OMI = "/ucwa/v1/applications/1/communication/onlineMeetingInvitations/414"
MEETING = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:ABC"
CANCEL = Link("ms:rtc:saas:cancel", f"{OMI}/cancel")
CONVERSATION = Link("ms:rtc:saas:conversation", "/ucwa/v1/applications/1/communication/conversations/7")
DEADLINE = 60.0

# -- the reference -------------------------------------------------------------

STAGES = ["Connecting", "in_lobby", "admitted"]
ENDED = {"hung_up", "Cancelled", "Failed"}
#: The cancel race. The cancel and the hang-up POST the same link and their responses do not say which
#: request they answer, so the hang-up is only sent once nothing else of ours is in flight.
#: The cancel's 204 came, its completed has not: events are taken as while cancelling; no response is due.
CANCEL_ANSWERED = "cancel_answered"
#: Success came while the cancel was in flight: the next response is the cancel's, then we hang up.
CANCEL_CROSSED = "cancel_crossed"
#: The cancel was sent and completed has not come: a failure then follows the lobby deadline.
CANCEL_SENT = ("cancelling", CANCEL_ANSWERED)
#: States where every event from the wire is recorded and ignored.
ABSORBING = ENDED | {"Connected"}
REFUSED, NOT_DUE, NO_LINK = "refused", "not due", "no link"
ERRORS = {REFUSED: InvalidTrigger, NOT_DUE: NotDue, NO_LINK: LinkMissing}
#: completed payloads: name -> (status, reason, embedded state, what it means for a joiner)
COMPLETIONS: dict[str, tuple[str | None, Reason | None, str | None, str]] = {
    "success": ("Success", None, None, "ok"),
    "canceled": ("Failure", Reason("LocalFailure", "Canceled"), None, "cancelled"),
    "ended": ("Failure", Reason("Informational", "Ended", "meeting ended"), None, "failed"),
    "embedded-connected": (None, None, "Connected", "ok"),
    # rejection from the lobby: [U] reason, Denied is the candidate subcode (docs/protocol.md §3)
    "rejected": ("Failure", Reason("Forbidden", "Denied", "lobby participant was denied"), None, "failed"),
    "declined": ("Failure", Reason("RemoteFailure", "Declined"), None, "failed"),
    "lowercase-success": ("success", None, None, "ok"),
    "lobby-full": ("Failure", Reason("Conflict", "TooManyLobbyParticipants"), None, "failed"),
    "bare-failure": ("Failure", None, None, "failed"),
    "undetermined": (None, None, None, "undetermined"),
}


@dataclass
class Ev:
    """One call on the model; the fields the reference needs are spelled out."""

    trigger: str
    link: bool | None = None  # an OMI representation with / without the cancel link; None: none given
    completion: str = "success"
    lobby: bool = False
    conversation: str | None = None
    in_lobby: bool | None = None
    reason: Reason | None = None
    deadline: float | None = None
    at: float | None = None

    def rep_link(self) -> bool | None:
        """Whether the representation this call carries has the cancel link; None: no representation."""
        if self.trigger == "completed" and COMPLETIONS[self.completion][2] is not None:
            return bool(self.link)  # an embedded state needs a representation
        return self.link

    def kwargs(self) -> dict[str, Any]:
        link = self.rep_link()
        if self.trigger == "completed":
            status, reason, embedded, _ = COMPLETIONS[self.completion]
            rep = None if link is None else representation(link, state=embedded)
            return {"status": status, "reason": reason, "representation": rep, "href": OMI}
        rep = None if link is None else representation(link)
        return {
            "send": {
                "href": JOIN_HREF,
                "operation_id": "op-1",
                "online_meeting_uri": MEETING,
                "lobby_deadline": self.deadline,
            },
            "created": {"href": OMI},
            "started": {"href": OMI, "representation": rep},
            "updated": {"href": OMI, "representation": rep},
            "conversation_updated": {"state": self.conversation},
            "participant_updated": {"in_lobby": self.in_lobby},
            "roster_added": {"href": "/conversations/7/participants/me"},
            "request_failed": {"reason": self.reason},
        }.get(self.trigger, {})


def representation(cancel: bool, state: str | None = "Connecting") -> Representation:
    links = [CANCEL, CONVERSATION] if cancel else [CONVERSATION]
    return Representation(state=state, operation_id="op-1", links=links)


def conversation(state: str | None) -> Ev:
    return Ev("conversation_updated", conversation=state, lobby=state is not None and state.lower() == "inlobby")


def participant(in_lobby: bool | None) -> Ev:
    return Ev("participant_updated", in_lobby=in_lobby, lobby=in_lobby is True)


@dataclass
class Ref:
    """What the brief and docs/protocol.md §3 say should happen, in plain data."""

    state: str = "idle"
    stage: str = "Connecting"
    link: bool = False
    timed_out: bool = False
    deadline: float | None = None
    #: (success, code, subcode) of the outcome, once there is one
    outcome: tuple[bool, str | None, str | None] | None = None
    #: what the last accepted call should have returned: ("start" | "post" | "fetch", href)
    actions: list[tuple[str, str]] = field(default_factory=list)
    #: the OMI's href is known once an event about it, or the 201, was taken in
    href_known: bool = False
    #: in cancel_crossed: whether a cancel link was known to hang up with (the completed's, or the one before)
    hang_up_link: bool = False

    def step(self, ev: Ev, now: float) -> str:
        """Apply ``ev``; return the new state, or REFUSED / NOT_DUE / NO_LINK (then nothing changed)."""
        self.actions = []
        if ev.trigger in ("send", "cancel", "lobby_timeout"):
            return self.local(ev, now)
        if self.state == "idle":
            return REFUSED
        if self.state in ABSORBING:
            return self.state
        if self.state == "hanging_up":
            return self.go({"request_succeeded": "hung_up", "request_failed": "Connected"}.get(ev.trigger, self.state))
        if self.state == CANCEL_CROSSED:
            if ev.trigger in ("request_succeeded", "request_failed"):
                # the cancel's response, a 204 or a refusal (too late, we were in): now the hang-up can go
                if self.hang_up_link:
                    self.actions = [("post", CANCEL.href)]
                self.hang_up_link = False
                return self.go("hanging_up")
            return self.state  # recorded, absorbed: we are in, the events change nothing
        return self.live(ev)

    def local(self, ev: Ev, now: float) -> str:
        if ev.trigger == "send":
            if self.state != "idle":
                return REFUSED
            if ev.deadline is not None:  # a deadline set before the send is kept
                self.deadline = ev.deadline
            self.actions = [("start", JOIN_HREF)]
            return self.go("sending")
        if ev.trigger == "cancel":
            if self.state not in (*STAGES, "Connected"):
                return REFUSED
            if not self.link:
                return NO_LINK
            self.actions = [("post", CANCEL.href)]
            return self.go("hanging_up" if self.state == "Connected" else "cancelling")
        if self.state not in ("Connecting", "in_lobby"):
            return REFUSED
        if self.deadline is None or now < self.deadline:
            return NOT_DUE
        if not self.link:
            self.outcome = (False, "LocalFailure", "Timeout")
            return self.go("Failed")
        self.timed_out = True
        self.actions = [("post", CANCEL.href)]
        return self.go("cancelling")

    def live(self, ev: Ev) -> str:
        """sending, the three stages, cancelling, cancel_answered."""
        state, t = self.state, ev.trigger
        if t == "request_succeeded":
            return self.go(CANCEL_ANSWERED) if state == "cancelling" else REFUSED
        if t == "request_failed":
            assert ev.reason is not None
            if state == "sending":
                self.outcome = (False, ev.reason.code, ev.reason.subcode)
                return self.go("Failed")
            if state == "cancelling":
                self.timed_out = False
                return self.go(self.stage)
            return REFUSED
        prior_link = self.link
        if t in ("created", "started", "updated", "completed"):
            self.href_known = True
        if ev.rep_link() is not None:
            self.link = bool(ev.rep_link())
        elif t in ("started", "updated"):
            # no resource: its links may have changed, so read it (docs/protocol.md §2.4, the documentation's samples)
            self.actions = [("fetch", OMI)]
        if t == "completed":
            return self.complete(ev, prior_link)
        if t == "roster_added":
            self.stage = "admitted"
        elif ev.lobby and self.stage == "Connecting":
            self.stage = "in_lobby"
        if state in CANCEL_SENT:
            return state
        if state == "sending" and t in ("created", "started", "updated"):
            return self.go("Connecting")
        if state == "sending" and not ev.lobby and t != "roster_added":
            return state
        return self.go(self.stage)

    def complete(self, ev: Ev, prior_link: bool) -> str:
        _, reason, _, meaning = COMPLETIONS[ev.completion]
        if meaning == "undetermined":
            self.actions = [("fetch", OMI)]
            return self.state
        given = (meaning == "ok", None if reason is None else reason.code, None if reason is None else reason.subcode)
        if self.state in CANCEL_SENT and meaning == "ok":
            self.outcome = given
            if self.state == "cancelling":
                # admitted as we left: hang up, but not while the cancel is in flight
                self.hang_up_link = self.link or prior_link
                return self.go(CANCEL_CROSSED)
            if self.link or prior_link:
                self.actions = [("post", CANCEL.href)]
            return self.go("hanging_up")
        if self.state in CANCEL_SENT and self.timed_out:
            self.outcome = (False, "LocalFailure", "Timeout")
            return self.go("Failed")
        self.outcome = given
        return self.go({"ok": "Connected", "cancelled": "Cancelled", "failed": "Failed"}[meaning])

    def go(self, state: str) -> str:
        self.state = state
        return state


# -- the driver: one call on the model, checked against the reference ------------------


def call(model: OnlineMeetingJoin, ev: Ev, now: float) -> Actions:
    method = getattr(model, ev.trigger)
    result: Actions = method(now=now, **ev.kwargs())
    return result


def shown(actions: Actions) -> list[tuple[str, str]]:
    out = []
    for action in actions:
        if isinstance(action, StartOperation):
            out.append(("start", action.href))
        elif isinstance(action, PostLink):
            out.append(("post", action.href))
        elif isinstance(action, FetchResource):
            out.append(("fetch", action.href))
        else:
            out.append((type(action).__name__, ""))
    return out


def fire(model: OnlineMeetingJoin, ref: Ref, ev: Ev, now: float) -> Actions | None:
    now = ev.at if ev.at is not None else now
    before = copy.deepcopy(model)
    rel_before = model.representation.link("cancel")
    expected = ref.step(ev, now)
    if expected in ERRORS:
        with pytest.raises(InvalidTrigger) as info:
            call(model, ev, now)
        assert type(info.value) is ERRORS[expected]
        assert info.value.machine == "online_meeting"
        assert info.value.state is before.state
        assert info.value.trigger is OnlineMeetingTrigger(ev.trigger)
        assert model == before
        return None
    actions = call(model, ev, now)
    assert model.state.value == expected
    assert len(model.history) == len(before.history) + 1
    step = model.history[-1]
    assert (step.source, step.trigger.value, step.dest.value, step.at) == (before.state, ev.trigger, expected, now)
    assert shown(actions) == ref.actions
    for action in actions:
        if isinstance(action, PostLink) and ev.trigger in ("cancel", "lobby_timeout"):
            # a local action is only ever produced for a link that is present
            assert rel_before is not None
            assert (action.rel, action.href) == (rel_before.rel, rel_before.href)
    assert model.href == (OMI if ref.href_known else None)
    if ref.outcome is None:
        assert model.outcome is None
    else:
        assert model.outcome is not None
        reason = model.outcome.reason
        got = (
            model.outcome.success,
            None if reason is None else reason.code,
            None if reason is None else reason.subcode,
        )
        assert got == ref.outcome
    return actions


def drive(path: list[Ev]) -> tuple[OnlineMeetingJoin, Ref]:
    model, ref = OnlineMeetingJoin(), Ref()
    for i, ev in enumerate(path):
        fire(model, ref, ev, float(i))
    return model, ref


# -- every (state, trigger) pair --------------------------------------------------------

SEND = Ev("send", deadline=DEADLINE)
CONNECTING = [SEND, Ev("created"), Ev("started", link=True)]
CONNECTING_NO_LINK = [SEND, Ev("created"), Ev("started", link=False)]  # recorded OMIs: only conversation [T]
IN_LOBBY = [*CONNECTING, conversation("InLobby")]
ADMITTED = [*IN_LOBBY, Ev("roster_added")]
CANCELLING = [*IN_LOBBY, Ev("cancel")]
CANCEL_TIMED_OUT = [*IN_LOBBY, Ev("lobby_timeout", at=DEADLINE)]
CONNECTED = [*ADMITTED, Ev("completed", completion="success", link=True)]
HANGING_UP = [*CONNECTED, Ev("cancel")]

SETUPS: dict[str, list[Ev]] = {
    "idle": [],
    "sending": [SEND],
    "Connecting": CONNECTING,
    "Connecting, no cancel link": CONNECTING_NO_LINK,
    "in_lobby": IN_LOBBY,
    "in_lobby, no cancel link": [*CONNECTING_NO_LINK, participant(True)],
    "in_lobby, no deadline": [Ev("send"), Ev("started", link=True), conversation("InLobby")],
    "admitted": ADMITTED,
    "cancelling": CANCELLING,
    "cancelling after the lobby deadline": CANCEL_TIMED_OUT,
    "cancelling, admitted meanwhile": [*CANCELLING, Ev("roster_added")],
    "cancel_answered": [*CANCELLING, Ev("request_succeeded")],
    "cancel_answered after the lobby deadline": [*CANCEL_TIMED_OUT, Ev("request_succeeded")],
    "cancel_answered, admitted meanwhile": [*CANCELLING, Ev("request_succeeded"), Ev("roster_added")],
    "cancel_crossed": [*CANCELLING, Ev("completed", completion="success", link=True)],
    "cancel_crossed, no link in the completed": [*CANCEL_TIMED_OUT, Ev("completed", completion="success", link=False)],
    "Connected": CONNECTED,
    "hanging_up": HANGING_UP,
    "hung_up": [*HANGING_UP, Ev("request_succeeded")],
    "Cancelled": [*CANCELLING, Ev("completed", completion="canceled")],
    "Failed": [*IN_LOBBY, Ev("completed", completion="ended")],
    "Failed, join refused": [SEND, Ev("request_failed", reason=Reason("Forbidden", "InviteesOnly"))],
}

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


# -- documented scenarios ---------------------------------------------------------------


def joined_lobby(*, cancel_link: bool = True, deadline: float | None = None) -> OnlineMeetingJoin:
    """POST, 201, started (Connecting), then the conversation reports InLobby (docs/protocol.md §3)."""
    join = OnlineMeetingJoin()
    actions = join.send(
        now=0.0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING, lobby_deadline=deadline
    )
    assert actions == (StartOperation("joinOnlineMeeting", JOIN_HREF, "op-1", (("onlineMeetingUri", MEETING),)),)
    join.created(now=0.1, href=OMI)
    join.started(now=0.2, href=OMI, representation=representation(cancel_link))
    assert join.state is S.CONNECTING
    join.conversation_updated(now=1.0, state="InLobby")
    assert join.state is S.IN_LOBBY
    return join


def test_join_wait_in_lobby_then_admitted() -> None:
    join = joined_lobby()
    # the OMI itself still says Connecting while we wait (seed 003)
    join.updated(now=5.0, href=OMI, representation=representation(True))
    assert join.state is S.IN_LOBBY
    join.roster_added(now=9.0, href="/conversations/7/participants/me")
    assert join.state is S.ADMITTED
    assert join.participant_href == "/conversations/7/participants/me"
    join.conversation_updated(now=9.1, state="Conferenced")
    assert join.state is S.ADMITTED
    assert join.completed(now=9.2, status="Success", representation=representation(True, state="Connected")) == ()
    assert join.state is S.CONNECTED
    assert join.outcome is not None
    assert join.outcome.success
    assert join.conversation_state == "Conferenced"


def test_completed_before_roster_add_also_connects() -> None:
    join = joined_lobby()
    join.completed(now=9.0, status="Success")
    join.roster_added(now=9.1)
    assert join.state is S.CONNECTED
    assert join.history[-1].source is S.CONNECTED  # recorded, absorbed


def test_participant_in_lobby_flag_is_a_lobby_signal_and_false_does_not_admit() -> None:
    join = OnlineMeetingJoin()
    join.send(now=0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING)
    join.started(now=1, href=OMI, representation=representation(True))
    join.participant_updated(now=2, in_lobby=True)
    assert join.state is S.IN_LOBBY
    join.participant_updated(now=3, in_lobby=False)
    assert join.state is S.IN_LOBBY  # only the roster add admits
    join.roster_added(now=4)
    join.participant_updated(now=5, in_lobby=True)
    assert join.state is S.ADMITTED  # never demoted


def test_rejected_from_the_lobby_fails_with_the_reason_given() -> None:
    join = joined_lobby()
    reason = Reason("Forbidden", "Denied", "lobby participant was denied")
    join.completed(now=20.0, status="Failure", reason=reason)
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert not join.outcome.success
    assert join.outcome.reason == reason
    assert join.is_terminal


def test_meeting_ended_while_in_the_lobby() -> None:
    join = joined_lobby()
    join.completed(now=30.0, status="Failure", reason=Reason("Informational", "Ended"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason == Reason("Informational", "Ended")
    # Informational/Ended is documented for the onlineMeetingInvitation only (docs/protocol.md §5.1)
    assert join.outcome.reason.documented_for(ReasonResource.ONLINE_MEETING)
    assert not join.outcome.reason.documented_for(ReasonResource.MESSAGING)


def test_a_joiner_is_never_declined() -> None:
    join = joined_lobby()
    join.completed(now=3.0, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason == Reason("RemoteFailure", "Declined")


def test_lobby_timeout_leaves_the_lobby_and_fails_with_local_timeout() -> None:
    join = joined_lobby(deadline=60.0)
    before = copy.deepcopy(join)
    with pytest.raises(NotDue):
        join.lobby_timeout(now=59.9)
    assert join == before
    assert not join.lobby_timeout_due(59.9)
    assert join.lobby_timeout_due(60.0)
    assert join.lobby_timeout(now=60.0) == (PostLink(CANCEL.rel, CANCEL.href),)
    assert join.state is S.CANCELLING
    assert join.request_succeeded(now=60.2) == ()  # the 204 is kept; completed decides
    assert join.state is S.CANCEL_ANSWERED
    join.completed(now=61.0, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason is not None
    assert (join.outcome.reason.code, join.outcome.reason.subcode) == ("LocalFailure", "Timeout")
    assert "LocalFailure/Canceled" in (join.outcome.reason.message or "")


def test_lobby_timeout_without_cancel_link_gives_up_locally() -> None:
    join = joined_lobby(cancel_link=False, deadline=10.0)
    assert join.lobby_timeout(now=10.0) == ()
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason is not None
    assert (join.outcome.reason.code, join.outcome.reason.subcode) == ("LocalFailure", "Timeout")
    join.completed(now=11.0, status="Success")  # too late: recorded, changes nothing
    assert join.state is S.FAILED
    assert not join.outcome.success


def test_lobby_timeout_needs_a_deadline_and_a_waiting_state() -> None:
    join = joined_lobby()
    with pytest.raises(NotDue, match="no lobby deadline"):
        join.lobby_timeout(now=1e9)
    join.set_lobby_deadline(5.0)
    join.roster_added(now=6.0)
    with pytest.raises(InvalidTrigger) as info:
        join.lobby_timeout(now=6.0)
    assert type(info.value) is InvalidTrigger
    with pytest.raises(InvalidInput):
        join.set_lobby_deadline(float("nan"))


def test_refused_cancel_after_timeout_returns_to_the_lobby_and_may_time_out_again() -> None:
    join = joined_lobby(deadline=10.0)
    join.lobby_timeout(now=10.0)
    join.request_failed(now=10.1, reason=Reason("ServiceFailure", "CallbackChannelError"))
    assert join.state is S.IN_LOBBY
    assert not join.timed_out
    assert join.outcome is None
    assert join.lobby_timeout(now=11.0) == (PostLink(CANCEL.rel, CANCEL.href),)


TERMINATE = Link("ms:rtc:saas:cancel", "/conversations/7/audioVideo/terminate")


def test_cancel_race_admitted_before_the_cancel_took_effect() -> None:
    # the Success overtakes the cancel's 204: the hang-up waits for it (both POST the cancel link)
    join = joined_lobby()
    assert join.cancel(now=5.0) == (PostLink(CANCEL.rel, CANCEL.href),)
    actions = join.completed(
        now=5.1, status="Success", representation=Representation(state="Connected", links=[TERMINATE])
    )
    assert actions == ()
    assert join.state is S.CANCEL_CROSSED
    assert join.outcome is not None
    assert join.outcome.success
    assert join.request_succeeded(now=5.2) == (PostLink(TERMINATE.rel, TERMINATE.href),)  # the cancel's 204
    assert join.state is S.HANGING_UP
    join.request_succeeded(now=5.3)  # the hang-up's
    assert join.state is S.HUNG_UP
    assert join.is_terminal
    assert join.outcome.success  # it did connect, then we left


def test_cancel_race_hang_up_refused_after_the_late_204_stays_connected() -> None:
    join = joined_lobby()
    join.cancel(now=5.0)
    join.completed(now=5.1, status="Success", representation=Representation(state="Connected", links=[TERMINATE]))
    join.request_succeeded(now=5.2)
    join.request_failed(now=5.3, reason=Reason("ServiceFailure", "None"))
    assert join.state is S.CONNECTED  # not hung_up: we are still in the meeting
    assert join.outcome is not None
    assert join.outcome.success


def test_cancel_race_the_cancel_refused_once_admitted_still_hangs_up() -> None:
    join = joined_lobby()
    join.cancel(now=5.0)
    join.roster_added(now=5.05)  # taken in: while the cancel is in flight the stage still climbs
    assert join.stage is S.ADMITTED
    join.completed(now=5.1, status="Success", representation=Representation(state="Connected", links=[TERMINATE]))
    join.roster_added(now=5.15)  # once crossed, events are absorbed
    assert join.history[-1].source is join.history[-1].dest is S.CANCEL_CROSSED
    actions = join.request_failed(now=5.2, reason=Reason("Conflict", "None"))
    assert actions == (PostLink(TERMINATE.rel, TERMINATE.href),)
    assert join.state is S.HANGING_UP
    join.request_succeeded(now=5.3)
    assert join.state is S.HUNG_UP


def test_cancel_204_first_then_admitted_hangs_up_at_once() -> None:
    join = joined_lobby()
    join.cancel(now=5.0)
    join.request_succeeded(now=5.05)
    assert join.state is S.CANCEL_ANSWERED
    join.roster_added(now=5.06)
    assert (join.state, join.stage) == (S.CANCEL_ANSWERED, S.ADMITTED)
    actions = join.completed(
        now=5.1, status="Success", representation=Representation(state="Connected", links=[TERMINATE])
    )
    assert actions == (PostLink(TERMINATE.rel, TERMINATE.href),)
    assert join.state is S.HANGING_UP
    with pytest.raises(InvalidTrigger):
        join.cancel(now=5.2)  # the hang-up is on its way


def test_cancel_race_without_a_link_in_completed_posts_the_cancel_link_used() -> None:
    crossed = joined_lobby()
    crossed.cancel(now=5.0)
    assert crossed.completed(now=5.1, status="Success", representation=representation(False, state="Connected")) == ()
    assert crossed.request_succeeded(now=5.2) == (PostLink(CANCEL.rel, CANCEL.href),)
    assert crossed.state is S.HANGING_UP
    answered = joined_lobby()
    answered.cancel(now=5.0)
    answered.request_succeeded(now=5.05)
    assert answered.completed(now=5.1, status="Success", representation=representation(False, state="Connected")) == (
        PostLink(CANCEL.rel, CANCEL.href),
    )
    assert answered.state is S.HANGING_UP


def test_cancel_204_then_canceled_or_timed_out() -> None:
    left = joined_lobby()
    left.cancel(now=5.0)
    left.request_succeeded(now=5.05)
    left.completed(now=5.5, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert left.state is S.CANCELLED
    timed_out = joined_lobby(deadline=5.0)
    timed_out.lobby_timeout(now=5.0)
    timed_out.request_succeeded(now=5.05)
    with pytest.raises(InvalidTrigger):
        timed_out.request_succeeded(now=5.06)  # nothing of ours is in flight any more
    timed_out.completed(now=5.5, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    assert timed_out.state is S.FAILED
    assert timed_out.outcome is not None
    assert timed_out.outcome.reason is not None
    assert (timed_out.outcome.reason.code, timed_out.outcome.reason.subcode) == ("LocalFailure", "Timeout")


def test_cancel_in_the_lobby_then_cancelled() -> None:
    join = joined_lobby()
    join.cancel(now=5.0)
    join.completed(now=5.5, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert join.state is S.CANCELLED
    assert join.outcome is not None
    assert join.outcome.reason == Reason("LocalFailure", "Canceled")


def test_cancel_needs_the_link() -> None:
    join = joined_lobby(cancel_link=False)
    before = copy.deepcopy(join)
    with pytest.raises(LinkMissing):
        join.cancel(now=2.0)
    assert join == before


def test_started_before_the_201_and_completed_without_started() -> None:
    first = OnlineMeetingJoin()
    first.send(now=0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING)
    first.started(now=0.1, href=OMI, representation=representation(True))
    first.created(now=0.2, href=OMI)
    assert first.state is S.CONNECTING
    assert first.href == OMI

    second = OnlineMeetingJoin()
    second.send(now=0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING)
    second.created(now=0.1, href=OMI)
    second.completed(now=0.2, status="Success")
    assert second.state is S.CONNECTED


def test_in_lobby_before_the_201() -> None:
    join = OnlineMeetingJoin()
    join.send(now=0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING)
    join.conversation_updated(now=0.1, state="InLobby")
    assert join.state is S.IN_LOBBY
    join.created(now=0.2, href=OMI)
    assert join.state is S.IN_LOBBY
    assert join.href == OMI


# -- an OMI updated to a final state: the current UCWA docs list no completed (docs/protocol.md §2.3) -------


@pytest.mark.parametrize(
    ("final", "expected", "success"),
    [
        ("Connected", S.CONNECTED, True),
        ("Cancelled", S.CANCELLED, False),
        ("Failed", S.FAILED, False),
        ("Declined", S.FAILED, False),  # a joiner is never declined
    ],
)
def test_an_omi_updated_to_a_final_state_ends_the_join(final: str, expected: OnlineMeetingState, success: bool) -> None:
    join = joined_lobby()
    assert join.updated(now=5.0, href=OMI, representation=representation(True, state=final)) == ()
    assert join.state is expected
    assert join.outcome is not None
    assert join.outcome.success is success
    assert join.outcome.status is None
    if not success:
        assert join.outcome.reason is not None
        assert join.outcome.reason.code is None


def test_a_later_completed_fills_in_the_join_outcome_when_it_agrees() -> None:
    join = joined_lobby()
    join.updated(now=5.0, href=OMI, representation=representation(False, state="Failed"))
    join.completed(now=6.0, status="Success")  # disagrees: ignored
    assert join.outcome is not None
    assert join.outcome.status is None
    join.completed(now=7.0, status="Failure", reason=Reason("Informational", "Ended"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.status == "Failure"
    assert join.outcome.reason == Reason("Informational", "Ended")


def test_a_join_ended_by_updated_is_final_after_the_grace_or_its_completed() -> None:
    # the grace chosen in fsm/outcome.py: 10 s of the caller's clock
    join = joined_lobby()
    join.updated(now=5.0, href=OMI, representation=representation(False, state="Cancelled"))
    assert not join.outcome_is_final(14.9)
    assert join.outcome_is_final(15.0)
    other = joined_lobby()
    other.updated(now=5.0, href=OMI, representation=representation(False, state="Cancelled"))
    other.completed(now=6.0, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert other.outcome_is_final(6.0)


def test_an_omi_updated_to_a_final_state_after_the_lobby_deadline_is_the_timeout() -> None:
    join = joined_lobby(deadline=10.0)
    join.lobby_timeout(now=10.0)
    join.updated(now=11.0, href=OMI, representation=representation(True, state="Cancelled"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason is not None
    assert (join.outcome.reason.code, join.outcome.reason.subcode) == ("LocalFailure", "Timeout")


def test_an_omi_event_without_its_resource_asks_to_read_it() -> None:
    join = joined_lobby()
    reason = "updated carried no resource: its links may have changed"
    assert join.updated(now=5.0, href=OMI) == (FetchResource(OMI, reason),)
    assert join.state is S.IN_LOBBY


def test_join_operation_id_is_optional_and_importance_is_typed() -> None:
    join = OnlineMeetingJoin()
    (action,) = join.send(now=0, href=JOIN_HREF, online_meeting_uri=MEETING, importance="urgent")
    assert isinstance(action, StartOperation)
    assert action.body() == {"onlineMeetingUri": MEETING, "importance": "Urgent"}
    other = OnlineMeetingJoin()
    with pytest.raises(InvalidInput, match="importance"):
        other.send(now=0, href=JOIN_HREF, online_meeting_uri=MEETING, importance="High")
    assert other.state is S.IDLE


def test_undetermined_completion_asks_for_a_get() -> None:
    join = joined_lobby()
    assert join.completed(now=3.0) == (FetchResource(OMI, "completed carried neither status nor state"),)
    assert join.state is S.IN_LOBBY
    assert join.outcome is None


def test_join_post_refused() -> None:
    join = OnlineMeetingJoin()
    join.send(now=0, href=JOIN_HREF, operation_id="op-1", online_meeting_uri=MEETING)
    join.request_failed(now=0.1, reason=Reason("Forbidden", "InviteesOnly"))
    assert join.state is S.FAILED
    assert join.outcome is not None
    assert join.outcome.reason == Reason("Forbidden", "InviteesOnly")


def test_late_events_after_the_end_are_recorded_and_change_nothing() -> None:
    join = joined_lobby()
    join.completed(now=3.0, status="Failure", reason=Reason("Informational", "Ended"))
    outcome = join.outcome
    for ev in (Ev("started", link=True), Ev("request_succeeded"), Ev("roster_added"), Ev("completed")):
        call(join, ev, 4.0)
    assert join.state is S.FAILED
    assert join.outcome == outcome
    assert [step.source for step in join.history[-4:]] == [S.FAILED] * 4


@pytest.mark.parametrize(
    ("prop", "value", "ok"),
    [
        ("subject", "s" * 250, True),
        ("subject", "s" * 251, False),
        ("anonymous_display_name", "n" * 250, True),
        ("anonymous_display_name", "n" * 251, False),
        ("operation_id", "o" * 50, True),
        ("operation_id", "o" * 51, False),
        ("operation_id", "", False),
        ("online_meeting_uri", "", False),
    ],
)
def test_send_checks_property_lengths_before_anything(prop: str, value: str, ok: bool) -> None:
    """Maximum lengths from seed 003 / docs/protocol.md §1.3: subject and anonymousDisplayName 250, operationId 50."""
    join = OnlineMeetingJoin()
    kwargs: dict[str, Any] = {"href": JOIN_HREF, "operation_id": "op-1", "online_meeting_uri": MEETING, prop: value}
    if ok:
        (action,) = join.send(now=0, **kwargs)
        assert isinstance(action, StartOperation)
        assert join.state is S.SENDING
    else:
        with pytest.raises(InvalidInput):
            join.send(now=0, **kwargs)
        assert join == OnlineMeetingJoin()


def test_send_body_names() -> None:
    join = OnlineMeetingJoin()
    (action,) = join.send(
        now=0,
        href=JOIN_HREF,
        operation_id="op-1",
        online_meeting_uri=MEETING,
        subject="Standup",
        anonymous_display_name="Guest",
    )
    assert isinstance(action, StartOperation)
    assert action.body() == {
        "operationId": "op-1",
        "onlineMeetingUri": MEETING,
        "subject": "Standup",
        "anonymousDisplayName": "Guest",
    }


# -- snapshots ------------------------------------------------------------------------


@pytest.mark.parametrize("setup", list(SETUPS))
def test_snapshot_round_trip(setup: str) -> None:
    model, _ = drive(SETUPS[setup])
    assert loads(dumps(model)) == model
    assert restore(snapshot(model)) == model


def test_snapshot_keeps_deadline_timeout_and_history() -> None:
    join = joined_lobby(deadline=42.0)
    join.lobby_timeout(now=43.0)
    data = snapshot(join)
    assert data["machine"] == "online_meeting"
    back = loads(dumps(join))
    assert isinstance(back, OnlineMeetingJoin)
    assert back.lobby_deadline == 42.0
    assert back.timed_out
    assert back.history == join.history


# -- stateful ---------------------------------------------------------------------------


#: Where a run starts: every setup, and the states where two events race given more room.
START_AT = [
    *[name for name in SETUPS for _ in range(4 if name.startswith("cancel") else 1)],
    "in_lobby",
    "admitted",
]
LIVE = precondition(lambda self: not self.model.is_terminal)
OVER = precondition(lambda self: self.model.is_terminal)

LATE_EVENTS = [
    Ev("created"),
    Ev("started", link=True),
    Ev("updated", link=False),
    conversation("InLobby"),
    participant(True),
    Ev("roster_added"),
    Ev("request_succeeded"),
    Ev("request_failed", reason=Reason("Conflict", "None")),
    Ev("completed", completion="success"),
    Ev("completed", completion="ended"),
]


class OnlineMeetingMachine(RuleBasedStateMachine):
    """Rules named after the triggers; once a join has ended, late events hit it, then a new join starts."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.new_join()

    def new_join(self) -> None:
        self.model = OnlineMeetingJoin()
        self.ref = Ref()
        self.first_outcome: object = None
        self.ended_in: S | None = None

    def fire(self, ev: Ev) -> None:
        self.now = max(self.now + 1.0, ev.at or 0.0)
        note(f"{self.model.state.value} at {self.now}: {ev}")
        fire(self.model, self.ref, ev, self.now)

    def deadline(self, delay: float | None) -> float | None:
        return None if delay is None else self.now + delay

    @initialize(setup=st.sampled_from(START_AT))
    def start(self, setup: str) -> None:
        """Start anywhere a documented path leads, so that deep states get as many steps as shallow ones."""
        for ev in SETUPS[setup]:
            self.fire(ev)

    @LIVE
    @rule(delay=st.none() | st.sampled_from([4.0, 20.0]))
    def send(self, delay: float | None) -> None:
        self.fire(Ev("send", deadline=self.deadline(delay)))

    @LIVE
    @rule()
    def cancel(self) -> None:
        self.fire(Ev("cancel"))

    @LIVE
    @rule(wait=st.sampled_from([0.0, 3.0, 10.0]))
    def lobby_timeout(self, wait: float) -> None:
        self.now += wait
        self.fire(Ev("lobby_timeout"))

    @LIVE
    @rule(delay=st.none() | st.sampled_from([-1.0, 0.0, 5.0, 30.0]))
    def set_lobby_deadline(self, delay: float | None) -> None:
        deadline = self.deadline(delay)
        self.model.set_lobby_deadline(deadline)
        self.ref.deadline = deadline

    @LIVE
    @rule()
    def created(self) -> None:
        self.fire(Ev("created"))

    @LIVE
    @rule(link=st.none() | st.booleans())
    def started(self, link: bool | None) -> None:
        self.fire(Ev("started", link=link))

    @LIVE
    @rule(link=st.none() | st.booleans())
    def updated(self, link: bool | None) -> None:
        self.fire(Ev("updated", link=link))

    @LIVE
    @rule(state=st.sampled_from([None, "InLobby", "INLOBBY", "Connecting", "Conferenced", "Disconnected"]))
    def conversation_updated(self, state: str | None) -> None:
        self.fire(conversation(state))

    @LIVE
    @rule(in_lobby=st.none() | st.booleans())
    def participant_updated(self, in_lobby: bool | None) -> None:
        self.fire(participant(in_lobby))

    @LIVE
    @rule()
    def roster_added(self) -> None:
        self.fire(Ev("roster_added"))

    @LIVE
    @rule()
    def request_succeeded(self) -> None:
        self.fire(Ev("request_succeeded"))

    @LIVE
    @rule(reason=st.sampled_from([Reason("Conflict", "None"), Reason("ServiceFailure", "CallbackChannelError")]))
    def request_failed(self, reason: Reason) -> None:
        self.fire(Ev("request_failed", reason=reason))

    @LIVE
    @rule(completion=st.sampled_from(list(COMPLETIONS)), link=st.none() | st.booleans())
    def completed(self, completion: str, link: bool | None) -> None:
        self.fire(Ev("completed", completion=completion, link=link))

    @OVER
    @rule(ev=st.sampled_from(LATE_EVENTS))
    def late_event(self, ev: Ev) -> None:
        self.fire(ev)

    @OVER
    @rule(delay=st.none() | st.sampled_from([3.0, 8.0]))
    def next_join(self, delay: float | None) -> None:
        self.new_join()
        self.fire(Ev("send", deadline=self.deadline(delay)))

    @invariant()
    def at_most_one_terminal_outcome(self) -> None:
        if self.first_outcome is None:
            self.first_outcome = self.model.outcome
        first, now = self.first_outcome, self.model.outcome
        if first is not None and first.status is None and now is not None and now.status is not None:
            # an outcome seen in a final state alone (a GET, an updated) takes the status and reason of a later
            # completed that agrees with it: the same success, and no reason code given before
            assert now.success == first.success
            assert first.reason is None or first.reason.code is None
            self.first_outcome = now
        assert self.model.outcome == self.first_outcome
        # an outcome exactly once the join is over (connected counts)
        over = self.model.state in (S.CANCEL_CROSSED, S.CONNECTED, S.HANGING_UP) or self.model.is_terminal
        assert (self.model.outcome is not None) == over

    @invariant()
    def failed_outcome_has_its_reason(self) -> None:
        outcome = self.model.outcome
        if outcome is not None and not outcome.success:
            assert outcome.reason is not None

    @invariant()
    def nothing_leaves_a_terminal_state(self) -> None:
        if self.ended_in is not None:
            assert self.model.state is self.ended_in
        elif self.model.is_terminal:
            self.ended_in = self.model.state

    @invariant()
    def stage_matches_state_while_joining(self) -> None:
        if self.model.state.value in STAGES:
            assert self.model.stage is self.model.state
        assert self.model.stage.value == self.ref.stage

    @invariant()
    def snapshot_round_trips(self) -> None:
        assert loads(dumps(self.model)) == self.model


TestOnlineMeetingMachine = OnlineMeetingMachine.TestCase
# The cancel race and the lobby timeout need several specific steps in a row.
TestOnlineMeetingMachine.settings = settings(
    settings.default, max_examples=max(200, settings.default.max_examples), stateful_step_count=40
)
