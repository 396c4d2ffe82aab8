"""One test per mutation that the suite once let through (issue 13), named after it.

Each was planted by hand in a scratch worktree and seen to fail its test
(tests/README.md lists how). Expected values are written here from the
documentation or from the reasoning in the comment, never read from the code.

The first test runs first in ``make mutate`` on purpose: mutmut credits the
code that runs while modules are imported (the machines build and validate
their tables then) to the first test, and this one imports ``fsm`` afresh in
a child interpreter, which sees the mutant.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.ucwa.channel import Deliver, PGetCursor, ResetKind, Skip
from adapters.wire.requests import HttpResponse, build_request
from fsm.actions import DeleteSubMeetings
from fsm.errors import InvalidInput
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.meeting_series import MeetingSeries
from fsm.reasons import Reason
from fsm.wire import Link, Representation

# Terminal states, written from each machine's documented lifecycle:
# - invitation: it ends declined, cancelled or failed; Connected is not an end (the cancel link
#   stays and hangs up the modality, docs/protocol.md §1.6), hung_up is.
# - online_meeting: the joiner's side never declines; it is cancelled, fails (rejected from the
#   lobby, meeting ended) or hangs up once connected (docs/protocol.md §3).
# - lobby_participant: the leader's view ends when the participant is admitted, rejected or
#   leaves the lobby (participant deleted from the lobby, docs/protocol.md §3).
# - renegotiation: no state on the wire; it ends answered, dismissed, completed, rejected,
#   collided (409 AlreadyExists, at most one at a time), failed or expired (docs/protocol.md §4).
# - meeting_series: cancelled or ended (docs/protocol.md §7.2).
TERMINAL: dict[str, set[str]] = {
    "invitation": {"hung_up", "Declined", "Cancelled", "Failed"},
    "online_meeting": {"hung_up", "Cancelled", "Failed"},
    "lobby_participant": {"admitted", "rejected", "left_lobby"},
    "renegotiation": {"answered", "dismissed", "completed", "rejected", "collided", "failed", "expired"},
    "meeting_series": {"cancelled", "ended"},
}
INITIAL = {
    "invitation": "idle",
    "online_meeting": "idle",
    "lobby_participant": "idle",
    "renegotiation": "idle",
    "meeting_series": "scheduled",  # a series exists once it is booked (docs/protocol.md §7.2)
}

_DESCRIBE = """
import json
from fsm import MACHINES
print(json.dumps({
    name: {
        "initial": d.initial.value,
        "terminal": sorted(s.value for s in d.terminal),
        "states": [s.value for s in d.states],
        "rows": [[r.source.value, r.dest.value] for r in d.table],
    }
    for name, d in MACHINES.items()
}))
"""


#: Under ``make mutate``, a mutant of one of these modules also runs these tests in the child
#: interpreter: each compares the machine with a reference written by hand, so a table row that a
#: mutant changed at import shows there. Only the every-(state, trigger) tests, for time, and the
#: diagram drift check.
_FRESH_TESTS: dict[str, list[str]] = {
    "invitation": ["tests/fsm/test_tables.py", "tests/fsm/test_invitation.py"],
    "online_meeting": ["tests/fsm/test_online_meeting.py"],
    "lobby_participant": ["tests/fsm/test_lobby_participant.py"],
    "renegotiation": ["tests/fsm/test_renegotiation.py"],
    "meeting_series": ["tests/fsm/test_meeting_series.py"],
}
_FRESH_FILTER = (
    "every_state or every_pair or reference or hand_written or both_ways or way_out or terminal or checked_in_dot"
)
_EVERY_MACHINE = sorted({path for paths in _FRESH_TESTS.values() for path in paths})
#: A row's note is its label in the checked-in diagrams: a changed note shows as a drift.
_DIAGRAMS = "tests/diagrams/test_diagrams.py::test_checked_in_dot_mermaid_and_readme_match_the_machines"


def _mutant_module() -> str | None:
    """The fsm module mutmut is testing a mutant of (``fsm.<module>.x_<function>__mutmut_<n>``), else ``None``."""
    name = os.environ.get("MUTANT_UNDER_TEST", "")
    parts = name.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "fsm" and "__mutmut_" in name else None


def test_failed_made_non_terminal_and_terminal_states_both_directions() -> None:
    # a child interpreter imports fsm afresh from this tree (mutmut: from mutants/, with the mutant)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _DESCRIBE],
        check=False,
        cwd=root,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    machines = json.loads(done.stdout)
    assert set(machines) == set(TERMINAL)
    for name, machine in machines.items():
        assert set(machine["terminal"]) == TERMINAL[name], name
        assert machine["initial"] == INITIAL[name], name
        states = set(machine["states"])
        # one direction: nothing leaves a terminal state (a row from one may only absorb, dest == source)
        for source, dest in machine["rows"]:
            if source in TERMINAL[name]:
                assert dest == source, f"{name}: {source} -> {dest} leaves a terminal state"
        # the other: every other state has a way out, so it is not a dead end mislabelled as live
        for state in states - TERMINAL[name]:
            assert any(s == state and d != state for s, d in machine["rows"]), f"{name}: {state} has no way out"
    module = _mutant_module()
    if module is not None:
        tests = [_DIAGRAMS, *_FRESH_TESTS.get(module, _EVERY_MACHINE)]  # the quickest to fail first
        child = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-k", _FRESH_FILTER, *tests],
            check=False,
            cwd=root,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=55,
        )
        assert child.returncode == 0, child.stdout[-2000:]


def test_failed_made_non_terminal_in_process() -> None:
    from fsm import MACHINES

    for name, definition in MACHINES.items():
        assert {s.value for s in definition.terminal} == TERMINAL[name], name


# -- next preferred over resync/resume (adapters/ucwa/channel.py) ----------------------------------------

EVENTS = "https://fe1.contoso.com/ucwa/v1/applications/1/events"


def _answer(**links: str) -> HttpResponse:
    body = {"_links": {rel: {"href": href} for rel, href in links.items()}, "sender": []}
    return HttpResponse(
        200, (("content-type", "application/json"),), json.dumps(body).encode(), url=f"{EVENTS}?ack=1"
    )


@pytest.mark.parametrize(
    ("links", "goes_to", "reset"),
    [
        # docs/protocol.md §2.2: resume replaces next after inactivity; resync is the sole way on after a bad
        # ack. With several, the one that says state was lost must win, or transient state is never dropped.
        ({"next": "events?ack=2", "resume": "events?ack=2&resume=1"}, "events?ack=2&resume=1", ResetKind.RESUME),
        ({"next": "events?ack=2", "resync": "events?ack=1&resync=1"}, "events?ack=1&resync=1", ResetKind.RESYNC),
        (
            {"next": "events?ack=2", "resume": "events?ack=2&resume=1", "resync": "events?ack=1&resync=1"},
            "events?ack=1&resync=1",
            ResetKind.RESYNC,
        ),
        ({"next": "events?ack=2"}, "events?ack=2", None),
    ],
)
def test_next_preferred_over_resync_or_resume(links: dict[str, str], goes_to: str, reset: ResetKind | None) -> None:
    cursor = PGetCursor(f"{EVENTS}?ack=1")
    decision = cursor.on_response(_answer(**links))
    assert isinstance(decision, Deliver)
    assert decision.reset is reset
    assert cursor.url == f"https://fe1.contoso.com/ucwa/v1/applications/1/{goes_to}"


def test_next_preferred_over_resync_on_an_unreadable_answer() -> None:
    # the envelope's links are read before the bad event; the loop goes on past it by the same rule
    body = {
        "_links": {"next": {"href": "events?ack=2"}, "resync": {"href": "events?ack=1&resync=1"}},
        "sender": [{"rel": "communication", "href": "c", "events": [{"link": "not an object", "type": "added"}]}],
    }
    cursor = PGetCursor(f"{EVENTS}?ack=1")
    decision = cursor.on_response(
        HttpResponse(200, (("content-type", "application/json"),), json.dumps(body).encode())
    )
    assert isinstance(decision, Skip)
    assert cursor.url == f"{EVENTS}?ack=1&resync=1"


# -- type=1 dropped on the sub-meeting DELETE (Huawei) ----------------------------------------------

HUAWEI = "https://api.meeting.huaweicloud.com"


@pytest.mark.parametrize("cancel_ongoing", [True, False])
def test_type_1_dropped_on_the_sub_meeting_delete(cancel_ongoing: bool) -> None:
    # seed 004 / docs/protocol.md §7.1: type=1 also cancels a meeting being held; the sub-meeting
    # DELETE takes the same query parameter, and only when asked
    series = MeetingSeries(conference_id="960123456")
    (action,) = series.cancel_sub_meetings(now=1.0, ids=["sub-1"], cancel_ongoing=cancel_ongoing)
    assert action == DeleteSubMeetings("960123456", ("sub-1",), cancel_ongoing=cancel_ongoing)
    request = build_request(action, base_url=HUAWEI, token="t0ken")
    assert request.method == "DELETE"
    query = request.url.split("?", 1)[1].split("&")
    assert ("type=1" in query) is cancel_ongoing
    assert "conferenceID=960123456" in query
    assert json.loads(request.body) == {"cycleSubConfIDs": ["sub-1"]}


# -- the onBehalfOf limit raised from 250 to 2500 -----------------------------------------------------


def _participant(on_behalf_of: str) -> Invitation:
    invitation = Invitation(kind=InvitationKind.PARTICIPANT)
    invitation.send(
        now=0.0, href="/conv/1/participants", operation_id="op", to="sip:b@contoso.com", saas=True,
        extra={"onBehalfOf": on_behalf_of},
    )
    return invitation


def test_on_behalf_of_limit_raised_from_250_to_2500() -> None:
    # docs/protocol.md §1.3 / §1.5: SaaS addParticipant's onBehalfOf is at most 250 characters
    assert _participant("x" * 250).state is InvitationState.SENDING
    for too_long in (251, 2500):
        with pytest.raises(InvalidInput, match="onBehalfOf"):
            _participant("x" * too_long)


# -- the agreement check removed where a later `completed` fills in a GET's outcome ----------------


def _ended_by_state(state: str) -> Invitation:
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="/communication/startMessaging", operation_id="op", to="sip:b@contoso.com")
    invitation.created(now=0.5, href="/inv/9")
    # an updated with a final embedded state ends it with no status and no reason (UCWA may send no completed)
    final = Representation(state=state, links=[Link("self", "/inv/9")])
    invitation.updated(now=1.0, href="/inv/9", representation=final)
    assert invitation.outcome is not None
    assert invitation.outcome.status is None
    return invitation


def test_agreement_check_removed_where_a_later_completed_fills_in_the_outcome() -> None:
    # Declined, then a completed that says cancelled (subcode Canceled -> Cancelled): they disagree,
    # so the outcome keeps saying it does not know the reason rather than take a contradicting one
    declined = _ended_by_state("Declined")
    declined.completed(now=2.0, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert declined.state is InvitationState.DECLINED
    assert declined.outcome is not None
    assert declined.outcome.status is None
    assert declined.outcome.reason is not None
    assert declined.outcome.reason.code is None
    # a success never fills in a failure
    failed = _ended_by_state("Failed")
    failed.completed(now=2.0, status="Success")
    assert failed.outcome is not None
    assert failed.outcome.status is None
    # the control: a completed that agrees (Declined subcode -> Declined) does fill it in
    agreeing = _ended_by_state("Declined")
    agreeing.completed(now=2.0, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    assert agreeing.outcome is not None
    assert agreeing.outcome.status == "Failure"
    assert agreeing.outcome.reason == Reason("RemoteFailure", "Declined")
