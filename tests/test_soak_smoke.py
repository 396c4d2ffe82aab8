"""The fault-injection soak runs end to end in its smoke size, and its invariants hold.

``python -m soak --smoke`` (60 calls, shorter delays, higher fault rates: see
``soak/run.py``) runs in a subprocess, as ``make soak`` runs the full one, and
writes its report as JSON. What is asserted are the soak's correctness
invariants (issue 7), never a duration:

- every call the server completed ends on the client in the server's state,
  with the same (success, status, code, subcode): the server's word is its
  World record, which the soak reads from the simulator's process;
- no machine is stuck in a non-terminal state past its deadline;
- every violation the client saw is explained by an injected fault;
- the client's live memory is back within 10% of its baseline.

The faults must really have happened, or the invariants would be cheap: the
smoke rates (15-20% for duplicates, drops and delays, over some 60 creates and
hundreds of events) make a run without each of those three practically
impossible (the least likely, no dropped ``started`` in 60 creates at 15%, has
probability 0.85**60, about 6e-5).

The two bugs the soak found in ``fsm/invitation.py`` (soak/README.md, "What
the soak found") are reproduced here without any server, from the trigger
sequences the soak saw, and stay fixed:

- *get-outcome*: a GET shows an invitation's final state without status or
  reason (docs/protocol.md §9, trap 2; the re-read after ``resume``); the ``completed``
  event that follows carries both (docs/protocol.md §2.2) and fills them in;
- *cancel-204*: in the cancel race (docs/protocol.md §1.6) the Success can overtake
  the cancel's own 204. The hang-up is now asked for only once that 204 is
  in, so the next response is the hang-up's: refused, the call stays
  ``Connected``, as it is on the server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fsm.actions import PostLink
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.reasons import Reason
from fsm.wire import Link, Representation

ROOT = Path(__file__).resolve().parent.parent
S = InvitationState
INV = "/ucwa/oauth/v1/applications/101/communication/invitations/1"
TERMINATE = "/ucwa/oauth/v1/applications/101/communication/conversations/1/audioVideo/terminate"


def ringing() -> Invitation:
    inv = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    inv.send(now=0.0, href="/communication/startAudioVideo", operation_id="op-1", to="sip:bob@contoso.com")
    inv.created(now=0.1, href=INV)
    inv.started(
        now=0.2,
        href=INV,
        representation=Representation(
            state="Connecting", direction="Outgoing", links=[Link("cancel", f"{INV}/cancel")]
        ),
    )
    return inv


def get_then_completed() -> Invitation:
    """A GET shows Failed (what adapters.wire.requests does with it: ``completed`` with the representation
    only), then the server's completed event arrives: Failure, RemoteFailure/Busy."""
    inv = ringing()
    inv.completed(now=1.0, href=INV, representation=Representation(state="Failed", direction="Outgoing"))
    inv.completed(
        now=1.1,
        href=INV,
        status="Failure",
        reason=Reason("RemoteFailure", "Busy"),
        representation=Representation(state="Failed", direction="Outgoing"),
    )
    return inv


def cancel_overtaken_then_hang_up_refused() -> Invitation:
    """cancel; the Success crosses it; the cancel's 204 (the client now hangs up); the hang-up's 500."""
    inv = ringing()
    inv.cancel(now=1.0)
    crossed = inv.completed(
        now=1.1,
        href=INV,
        status="Success",
        representation=Representation(state="Connected", links=[Link("cancel", TERMINATE)]),
    )
    assert crossed == ()  # no hang-up while the cancel is in flight: its response would pass for the hang-up's
    assert inv.state is S.CANCEL_CROSSED
    assert inv.request_succeeded(now=1.2) == (PostLink("cancel", TERMINATE),)  # the cancel's 204
    inv.request_failed(now=1.3, reason=Reason("ServiceFailure", None))  # the hang-up's 500
    return inv


def test_a_hang_up_refused_after_the_cancel_race_leaves_the_call_connected() -> None:
    inv = cancel_overtaken_then_hang_up_refused()
    # the server's call is still connected: so is the client's, and it can hang up again
    assert inv.state is S.CONNECTED
    assert inv.outcome is not None
    assert (inv.outcome.success, inv.outcome.status) == (True, "Success")
    assert inv.cancel(now=1.4) == (PostLink("cancel", TERMINATE),)


def test_a_completed_after_a_get_keeps_its_status_and_reason() -> None:
    outcome = get_then_completed().outcome
    assert outcome is not None
    # the GET said Failed and so does the event: the outcome is the event's (docs/protocol.md §2.2: status and reason
    # are on the completed; 9.2: a GET is the fallback when they are missing)
    assert (outcome.success, outcome.status) == (False, "Failure")
    assert outcome.reason == Reason("RemoteFailure", "Busy")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("soak") / "smoke.json"
    done = subprocess.run(
        [sys.executable, "-m", "soak", "--smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert out.exists(), f"no report (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    data["exit"] = done.returncode
    data["text"] = done.stdout
    return data


def test_every_call_was_started_and_judged(report: dict[str, Any]) -> None:
    assert report["started"] == report["options"]["calls"] == 60
    # a call the server never accepted (every create refused) would have no server record to compare with
    assert report["completed_by_server"] == report["started"] - report["not_accepted"]
    assert report["completed_by_server"] > 0


def test_outcomes_match_the_server(report: dict[str, Any]) -> None:
    assert report["mismatches"] == [], report["text"]
    judged = report["matched"] + len(report["mismatches"]) + len(report["state_mismatches"])
    assert judged == report["completed_by_server"], report["text"]


def test_final_states_match_the_server(report: dict[str, Any]) -> None:
    assert report["state_mismatches"] == [], report["text"]


def test_no_machine_is_stuck(report: dict[str, Any]) -> None:
    assert report["stuck"] == [], report["text"]


def test_every_violation_is_explained(report: dict[str, Any]) -> None:
    unexplained = [k for k in report["violations"]["by_kind"] if k["explained_by"] is None]
    assert unexplained == [], report["text"]
    assert report["violations"]["unexplained"] == 0


def test_memory_is_back_to_its_baseline(report: dict[str, Any]) -> None:
    memory = report["memory"]
    assert memory["baseline_bytes"] > 0
    assert memory["end_bytes"] <= 1.10 * memory["baseline_bytes"], report["text"]


def test_the_faults_happened(report: dict[str, Any]) -> None:
    faults = report["faults"]
    for kind in ("duplicate", "drop_started", "delay"):
        assert faults.get(kind, 0) > 0, faults


def test_the_run_says_what_it_found(report: dict[str, Any]) -> None:
    found = report["mismatches"] or report["state_mismatches"]
    # exit status 1 and FAIL on any mismatch: the soak does not excuse anything
    assert report["ok"] == (not found)
    assert report["exit"] == (1 if found else 0)
    assert report["text"].rstrip().endswith("FAIL" if found else "PASS")
