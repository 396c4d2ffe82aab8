"""How models meet the shared engine: it never holds them, so an ended call is garbage once the app drops it.

transitions' ``add_model`` keeps every model ever added in a list (and scans that
list on every add): the issue "Performance" measured it. fsm/engine.py builds one
Machine per kind with ``model=None`` and never registers a model, so the engine's
model list must stay empty however many models live, and a dropped model must be
collectable. Durations are bench/'s business; these facts are not.
"""

from __future__ import annotations

import gc
import weakref

import pytest

from fsm import MACHINES
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.reasons import Reason
from fsm.wire import Link, Representation

INV = "/ucwa/v1/applications/1/communication/invitations/7"


def declined_call() -> Invitation:
    """An outgoing call through send, 201, started, completed Failure/Declined (docs/protocol.md §1.7, 5.1)."""
    call = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    call.send(now=0.0, href="/ucwa/v1/applications/1/communication/startAudioVideo", operation_id="op", to="sip:b@c")
    call.created(now=0.1, href=INV)
    call.started(now=0.2, href=INV, representation=Representation(state="Connecting", links=[Link("cancel", "/c")]))
    call.completed(now=1.0, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    return call


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_the_shared_engine_registers_no_model(name: str) -> None:
    # a Machine built with model=None holds no model at all; add_model would append each one here
    assert MACHINES[name].engine.models == []


def test_driving_many_models_registers_none_with_the_engine() -> None:
    calls = [declined_call() for _ in range(200)]
    assert {call.state for call in calls} == {InvitationState.DECLINED}
    assert MACHINES["invitation"].engine.models == []


def test_an_ended_call_is_garbage_once_the_app_drops_it() -> None:
    call = declined_call()
    assert call.is_terminal
    gone = weakref.ref(call)
    del call
    gc.collect()
    # nothing in fsm/ (engine, definition, caches) kept a reference to it
    assert gone() is None


def test_a_live_call_is_kept_only_by_the_app() -> None:
    call = declined_call()
    referrers = [r for r in gc.get_referrers(call) if r is not globals()]
    # the only referrer is this frame: no registry, no engine list
    assert all(type(r).__name__ == "frame" for r in referrers), referrers
