"""Stateful model test of the invitation machine against a small reference model.

The reference below is written from docs/protocol.md's rules directly (plain strings
and sets), not from fsm/invitation.py's table, so the two can disagree. One
rule per trigger; the kind is drawn, so the per-kind rules (phoneAudio cannot
be accepted through the API, a participantInvitation is never incoming: docs/protocol.md
§1.2, §1.5) are exercised too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fsm import InvalidTrigger, Invitation, InvitationKind, Link, PostLink, Reason, Representation
from fsm.actions import Actions

PROGRESS = ["Connecting", "Alerting", "TeamRing", "Forwarded"]
#: A local request of ours is in flight.
PENDING = {"accepting", "declining", "forwarding", "cancelling", "answering_early"}
#: The cancel race. Both the cancel and the hang-up POST the cancel link, and a response does not say which
#: request it answers: so a hang-up is only sent when no other request of ours is in flight.
#: The cancel's 204 came, its completed has not: no request in flight, so no response is expected.
CANCEL_ANSWERED = "cancel_answered"
#: Success came while the cancel was in flight: the next response is the cancel's, and then we hang up.
CANCEL_CROSSED = "cancel_crossed"
#: States that take in channel events (their links and progress) without moving on them.
WAITING = PENDING | {CANCEL_ANSWERED}
ENDED = {"hung_up", "Declined", "Cancelled", "Failed"}
#: States that record channel events and change nothing (completion has happened).
DONE = ENDED | {"Connected", "hanging_up", CANCEL_CROSSED}
#: The href every link of rel ``rel`` has in this test.
HREF = "/inv/{}"
FINALS = {"connected": "Connected", "declined": "Declined", "cancelled": "Cancelled", "failed": "Failed"}
ACTION_RELS = [
    "accept",
    "decline",
    "forward",
    "cancel",
    "acceptAndBridge",
    "acceptAndBridgeAudioVideo",
    # UCWA audio/video's own (docs/protocol.md §1.4): no plain accept there
    "acceptWithAnswer",
    "acceptWithPhoneAudio",
    "sendProvisionalAnswer",
]
#: Both rels accept and bridge (docs/protocol.md §1.4: the SaaS rel drifted); the first is preferred.
BRIDGE_RELS = ["acceptAndBridge", "acceptAndBridgeAudioVideo"]
#: What each local trigger needs among the links, in order of preference.
NEEDS = {
    # accept never falls back to a link that means something else (acceptWithPhoneAudio)
    "accept": ["accept"],
    "accept_with_answer": ["acceptWithAnswer"],
    "accept_with_phone_audio": ["acceptWithPhoneAudio"],
    "send_provisional_answer": ["sendProvisionalAnswer"],
    "accept_and_bridge": BRIDGE_RELS,
    "decline": ["decline"],
    "forward": ["forward"],
    "cancel": ["cancel"],
}
GOES_TO = {
    "accept": "accepting",
    "accept_with_answer": "accepting",
    "accept_with_phone_audio": "accepting",
    # early media does not accept, but it is a request in flight: its response returns to ringing
    "send_provisional_answer": "answering_early",
    "accept_and_bridge": "accepting",
    "decline": "declining",
    "forward": "forwarding",
    "cancel": "cancelling",
}

embedded_states = st.sampled_from([None, *PROGRESS, "Connected", "Declined", "Cancelled", "Failed", "Weird"])
link_sets = st.frozensets(st.sampled_from(ACTION_RELS))
statuses = st.sampled_from([None, "Success", "success", "Failure", "FAILURE", "Pending"])
subcodes = st.sampled_from([None, "Canceled", "Declined", "Busy", "Timeout", "Brand-new"])


def expected_completion(status: str | None, subcode: str | None, embedded: str | None) -> str | None:
    if embedded is not None and embedded.lower() in FINALS:
        return FINALS[embedded.lower()]
    if status is not None and status.lower() == "success":
        return "Connected"
    if status is not None and status.lower() == "failure":
        if subcode == "Canceled":
            return "Cancelled"
        if subcode == "Declined":
            return "Declined"
        return "Failed"
    return None


class Reference:
    """What docs/protocol.md says should happen, as plain data."""

    def __init__(self, kind: InvitationKind) -> None:
        self.kind = kind
        self.state = "idle"
        self.progress = "Connecting"
        self.links: frozenset[str] = frozenset()
        self.outcome_set = False
        #: In cancel_crossed: whether a cancel link is known to hang up with (the completed's, else the one before,
        #: else the cancel's own).
        self.hang_up_link = False
        #: The hrefs the last trigger should have asked to POST.
        self.posts: list[str] = []

    def see(self, embedded: str | None, links: frozenset[str] | None) -> None:
        if links is not None:
            self.links = links
        if embedded in PROGRESS:
            self.progress = embedded

    def progress_event(
        self, embedded: str | None, links: frozenset[str] | None, *, updated: bool = False
    ) -> str | None:
        self.posts = []
        if self.state in DONE:
            return self.state
        if updated and embedded is not None and embedded.lower() in FINALS:
            # the current UCWA docs list no completed for most invitations: a final state in updated ends it
            return self.completed(None, None, embedded, links)
        if self.state in WAITING:
            self.see(embedded, links)
            return self.state
        self.see(embedded, links)
        self.state = embedded if embedded in PROGRESS else (self.state if self.state in PROGRESS else self.progress)
        return self.state

    def completed(
        self, status: str | None, subcode: str | None, embedded: str | None, links: frozenset[str] | None
    ) -> str:
        self.posts = []
        if self.state in DONE:
            return self.state
        had_cancel = "cancel" in self.links
        self.see(embedded, links)
        result = expected_completion(status, subcode, embedded)
        if result is None:
            return self.state
        self.outcome_set = True
        # the completed's cancel link, else the one before, else the one our cancel POSTed: in the race
        # our cancel went out, so a link to hang up with is always known (fsm/invitation.py, cancel_link)
        hang_up_link = "cancel" in self.links or had_cancel or self.state in ("cancelling", CANCEL_ANSWERED)
        if self.state == "cancelling" and result == "Connected":
            # the callee answered as we cancelled: hang up, but not while the cancel is in flight
            self.hang_up_link = hang_up_link
            self.state = CANCEL_CROSSED
        elif self.state == CANCEL_ANSWERED and result == "Connected":
            # the same race, with the cancel's 204 already in: hang up now
            self.posts = [HREF.format("cancel")] if hang_up_link else []
            self.state = "hanging_up"
        else:
            self.state = result
        return self.state

    def response(self, ok: bool) -> str | None:
        """The state after a response to one of our requests (2xx when ``ok``), or None when it must be refused."""
        self.posts = []
        state = self.state
        if state == CANCEL_CROSSED:
            # the cancel's response, accepted or refused (it came too late): now the hang-up can go
            self.posts = [HREF.format("cancel")] if self.hang_up_link else []
            self.hang_up_link = False
            self.state = "hanging_up"
        elif state in DONE:
            if state == "hanging_up":
                self.state = "hung_up" if ok else "Connected"
        elif state in PENDING:
            if ok and state != "answering_early":
                self.state = CANCEL_ANSWERED if state == "cancelling" else state
            else:
                self.state = self.progress
        elif state == "sending" and not ok:
            self.state = "Failed"
            self.outcome_set = True
        else:
            return None  # idle, ringing, cancel_answered, and a 2xx while sending: nothing of ours answers
        return self.state

    def started(self, embedded: str | None, links: frozenset[str] | None, direction: str | None) -> str | None:
        """The state after ``started``, or None when it must be refused."""
        if self.state == "idle" and direction == "Incoming" and self.kind is InvitationKind.PARTICIPANT:
            return None  # a participantInvitation is never incoming
        return self.progress_event(embedded, links)

    def local(self, trigger: str) -> tuple[str, str] | None:
        """(the state after the local ``trigger``, the rel it POSTs), or None when it must be refused."""
        if trigger == "accept" and self.kind in (InvitationKind.PHONE_AUDIO, InvitationKind.PARTICIPANT):
            # phoneAudio cannot be accepted through the API; a participantInvitation is only ever ours, outgoing
            return None
        rel = next((r for r in NEEDS[trigger] if r in self.links), None)
        if rel is None:
            return None  # links gate actions
        if trigger == "cancel" and self.state == "Connected":
            return "hanging_up", rel
        if self.state not in PROGRESS:
            return None
        return GOES_TO[trigger], rel


def wire_state(inv: Invitation) -> str:
    return inv.state.value


def posts(actions: Actions) -> list[str]:
    return [action.href for action in actions if isinstance(action, PostLink)]


def link_rels(inv: Invitation) -> set[str]:
    kept = [link for link in (inv.hang_up_link, inv.cancel_link) if link is not None]
    held = [inv.representation.links, kept]
    return {link.rel for links in held for link in links}


class InvitationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.inv = Invitation(kind=InvitationKind.AUDIO_VIDEO)
        self.ref = Reference(InvitationKind.AUDIO_VIDEO)
        self.outcome_at_first: object = None
        #: The last trigger's actions, and the rels the model held just before and just after it.
        self.last: tuple[Actions, set[str]] = ((), set())

    def fire(self, call: Callable[[], Actions]) -> Actions:
        """Run a trigger, keeping what :meth:`actions_only_for_links_present` checks."""
        before = link_rels(self.inv)
        actions = call()
        self.last = (actions, before | link_rels(self.inv))
        return actions

    def representation(self, embedded: str | None, links: frozenset[str]) -> Representation:
        return Representation(state=embedded, links=[Link(rel, HREF.format(rel)) for rel in sorted(links)])

    @initialize(
        kind=st.sampled_from(InvitationKind),
        start=st.sampled_from(["incoming", "outgoing", "cancelling", "cancelling", "crossed"]),
        answer_links=st.none() | link_sets,
    )
    def start(self, kind: InvitationKind, start: str, answer_links: frozenset[str] | None) -> None:
        self.inv = Invitation(kind=kind)
        self.ref = Reference(kind)
        if start == "incoming":
            return
        self.fire(lambda: self.inv.send(now=0, href="/start", operation_id="op", to="sip:x"))
        self.ref.state = "sending"
        if start == "outgoing":
            return
        # the cancel race needs several specific steps in a row: begin some runs with the cancel sent,
        # and some with the answer crossing it, through the same checked rules
        self.started("Alerting", frozenset({"cancel"}), "Outgoing")
        self.cancel()
        if start == "crossed":
            self.completed("Success", None, "Connected", answer_links)

    @rule(
        embedded=embedded_states,
        links=st.none() | link_sets,
        direction=st.sampled_from([None, "Incoming", "Outgoing"]),
    )
    def started(self, embedded: str | None, links: frozenset[str] | None, direction: str | None) -> None:
        rep = None
        if links is not None:
            rep = Representation(
                state=embedded, direction=direction, links=[Link(r, HREF.format(r)) for r in sorted(links)]
            )
        before = (self.inv.state, len(self.inv.history))
        reference = copy.deepcopy(self.ref)
        expected = self.ref.started(
            embedded if rep is not None else None, links, direction if rep is not None else None
        )
        try:
            self.fire(lambda: self.inv.started(now=1, href="/inv", representation=rep))
        except InvalidTrigger:
            assert expected is None, f"started refused in {before[0].value}"
            assert (self.inv.state, len(self.inv.history)) == before
            self.ref = reference
            return
        assert expected is not None, f"an incoming {self.inv.kind.value} was accepted"
        assert wire_state(self.inv) == expected

    @rule(embedded=embedded_states, links=st.none() | link_sets)
    def updated(self, embedded: str | None, links: frozenset[str] | None) -> None:
        rep = None if links is None else self.representation(embedded, links)
        expected = self.ref.progress_event(embedded if rep is not None else None, links, updated=True)
        actions = self.fire(lambda: self.inv.updated(now=1, representation=rep))
        assert wire_state(self.inv) == expected
        assert posts(actions) == self.ref.posts

    @rule(status=statuses, subcode=subcodes, embedded=embedded_states, links=st.none() | link_sets)
    def completed(
        self, status: str | None, subcode: str | None, embedded: str | None, links: frozenset[str] | None
    ) -> None:
        rep = None if links is None else self.representation(embedded, links)
        reason = None if subcode is None else Reason("RemoteFailure", subcode)
        expected = self.ref.completed(status, subcode, embedded if rep is not None else None, links)
        actions = self.fire(lambda: self.inv.completed(now=2, status=status, reason=reason, representation=rep))
        note(f"completed -> {self.inv.state.value}, actions {actions}")
        assert wire_state(self.inv) == expected
        assert posts(actions) == self.ref.posts

    @rule()
    def created(self) -> None:
        before = self.ref.state
        if before == "idle":
            try:
                self.inv.created(now=1, href="/inv")
            except InvalidTrigger:
                return
            raise AssertionError("created accepted in idle")
        self.fire(lambda: self.inv.created(now=1, href="/inv"))
        assert wire_state(self.inv) == ("Connecting" if before == "sending" else before)
        if before == "sending":
            self.ref.state = "Connecting"

    def local(self, trigger: str, call: Callable[[], Actions]) -> None:
        expected = self.ref.local(trigger)
        before = (self.inv.state, len(self.inv.history), self.inv.outcome)
        try:
            actions = self.fire(call)
        except InvalidTrigger:
            assert expected is None, f"{trigger} refused in {before[0].value} with links {sorted(self.ref.links)}"
            assert (self.inv.state, len(self.inv.history), self.inv.outcome) == before
            return
        assert expected is not None, f"{trigger} allowed in {before[0].value} with links {sorted(self.ref.links)}"
        state, rel = expected
        # one POST, of the link the trigger needs (the preferred one when both bridge rels are there)
        assert posts(actions) == [HREF.format(rel)]
        self.ref.state = state
        assert wire_state(self.inv) == state

    @rule()
    def accept(self) -> None:
        self.local("accept", lambda: self.inv.accept(now=3))

    @rule()
    def accept_with_answer(self) -> None:
        self.local(
            "accept_with_answer", lambda: self.inv.accept_with_answer(now=3, sdp="v=0", session_context="ctx")
        )

    @rule()
    def accept_with_phone_audio(self) -> None:
        self.local("accept_with_phone_audio", lambda: self.inv.accept_with_phone_audio(now=3))

    @rule()
    def send_provisional_answer(self) -> None:
        self.local(
            "send_provisional_answer",
            lambda: self.inv.send_provisional_answer(now=3, sdp="v=0", session_context="ctx"),
        )

    @rule()
    def accept_and_bridge(self) -> None:
        self.local("accept_and_bridge", lambda: self.inv.accept_and_bridge(now=3, meeting_uri="sip:m"))

    @rule()
    def decline(self) -> None:
        self.local("decline", lambda: self.inv.decline(now=3))

    @rule()
    def forward(self) -> None:
        self.local("forward", lambda: self.inv.forward(now=3, to="sip:y"))

    @rule()
    def cancel(self) -> None:
        self.local("cancel", lambda: self.inv.cancel(now=3))

    def respond(self, ok: bool) -> None:
        before = (self.inv.state, len(self.inv.history), self.inv.outcome)
        reference = copy.deepcopy(self.ref)
        expected = self.ref.response(ok)
        try:
            if ok:
                actions = self.fire(lambda: self.inv.request_succeeded(now=4))
            else:
                actions = self.fire(lambda: self.inv.request_failed(now=4, reason=Reason("Conflict", "None")))
        except InvalidTrigger:
            assert expected is None, f"response refused in {before[0].value}"
            assert (self.inv.state, len(self.inv.history), self.inv.outcome) == before
            self.ref = reference
            return
        assert expected is not None, f"response accepted in {before[0].value}"
        note(f"{'request_succeeded' if ok else 'request_failed'} -> {self.inv.state.value}, actions {actions}")
        assert wire_state(self.inv) == expected
        assert posts(actions) == self.ref.posts

    @rule()
    def request_succeeded(self) -> None:
        self.respond(ok=True)

    @rule()
    def request_failed(self) -> None:
        self.respond(ok=False)

    @invariant()
    def at_most_one_outcome(self) -> None:
        if self.outcome_at_first is None and self.inv.outcome is not None:
            self.outcome_at_first = self.inv.outcome
        first, now = self.outcome_at_first, self.inv.outcome
        if first is not None and first.status is None and now is not None and now.status is not None:
            # an outcome a GET gave (no status) takes the status and reason of a later completed that agrees
            assert now.success == first.success
            assert first.reason is None or first.reason.code is None
            self.outcome_at_first = now
        if self.outcome_at_first is not None:
            assert self.inv.outcome == self.outcome_at_first
        assert (self.inv.outcome is not None) == self.ref.outcome_set

    @invariant()
    def actions_only_for_links_present(self) -> None:
        # a POST only ever goes to a link the server gave: in the representation before or after the
        # trigger, the hang-up link kept from the completed that crossed our cancel, or the link our cancel
        # POSTed (the server gave it then)
        actions, held = self.last
        for action in actions:
            if isinstance(action, PostLink):
                assert action.rel in held, (action, sorted(held))

    @invariant()
    def failed_outcome_has_reason(self) -> None:
        if self.inv.outcome is not None and not self.inv.outcome.success:
            assert self.inv.outcome.reason is not None

    @invariant()
    def nothing_leaves_a_terminal_state(self) -> None:
        if self.inv.is_terminal:
            assert self.ref.state in ENDED
        seen_terminal = False
        for step in self.inv.history:
            if seen_terminal:
                assert step.source is step.dest
            if step.dest.value in ENDED:
                seen_terminal = True


TestInvitationMachine = InvitationMachine.TestCase
# The cancel race needs several specific steps in a row (most runs start with
# the cancel sent, or crossed): give this machine more examples than the ci
# profile's default (still a few seconds).
TestInvitationMachine.settings = settings(
    settings.default, max_examples=max(300, settings.default.max_examples), stateful_step_count=40
)
