"""The reference the online meeting join's tests check the machine against, and the calls that drive both.

:class:`Ref` is the brief's choices and docs/protocol.md §3 written as plain strings and dicts
(OMI stays Connecting in the lobby; the lobby shows as conversation ``InLobby`` or participant
``inLobby``; completed Success only once in the roster; rejection, lobby timeout and meeting end
complete with Failure and a reason). It never reads fsm/online_meeting.py's table. :func:`fire`
makes one call on a model and on the reference and compares them; ``SETUPS`` names a path to every
state. Kept apart from the tests so the every-pair, scenario and stateful files share one reference
(pytest puts this folder on ``sys.path``, as it does for every test folder without ``__init__.py``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from fsm.actions import Actions, FetchResource, PostLink, StartOperation
from fsm.errors import InvalidTrigger, LinkMissing, NotDue
from fsm.online_meeting import (
    OnlineMeetingJoin,
    OnlineMeetingState,
    OnlineMeetingTrigger,
)
from fsm.reasons import Reason
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
    #: in cancel_crossed: whether a cancel link is known to hang up with (the completed's, the one before, or
    #: the cancel's own: always, since the cancel went out through one)
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
            # a link to hang up with is always known: the end's, else the one before, else the one our
            # cancel (or the lobby deadline's leave) POSTed (fsm/online_meeting.py, cancel_link)
            if self.state == "cancelling":
                # admitted as we left: hang up, but not while the cancel is in flight
                self.hang_up_link = True
                return self.go(CANCEL_CROSSED)
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
