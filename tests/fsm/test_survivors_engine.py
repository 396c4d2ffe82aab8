"""Survivors of ``make mutate`` in fsm/engine.py: how a machine definition picks a row, and what it says when none fits.

Expected values are reasoned here: docs/protocol.md §4 (a renegotiation starts
by our offer or by their ``started``), §1.1 (the wire names of a call's
states); the rest is the rule of fsm/errors.py: a refusal names the machine,
the state, the trigger and why, so that a log line alone is enough.
"""

from __future__ import annotations

import pytest

from fsm.errors import InvalidTrigger
from fsm.invitation import INVITATION, Invitation, InvitationKind, InvitationState, InvitationTrigger
from fsm.online_meeting import OnlineMeetingState
from fsm.renegotiation import RENEGOTIATION, RenegotiationState, RenegotiationTrigger
from fsm.wire import Direction

GENERIC = InvalidTrigger("m", RenegotiationState.IDLE, RenegotiationTrigger.OFFER).why


def test_a_state_of_another_machine_is_refused_even_when_its_name_matches() -> None:
    # an online-meeting join's IDLE is not an invitation's idle, though both are called IDLE
    with pytest.raises(InvalidTrigger) as caught:
        INVITATION.select(OnlineMeetingState.IDLE, InvitationTrigger.SEND, None)  # type: ignore[arg-type]
    assert caught.value.machine == "invitation"
    assert caught.value.trigger is InvitationTrigger.SEND


def test_a_branched_trigger_with_a_case_it_has_no_row_for_names_that_case() -> None:
    # started from idle is decided by the direction (ours or theirs): a case that is neither is refused, by name
    with pytest.raises(InvalidTrigger) as caught:
        RENEGOTIATION.select(RenegotiationState.IDLE, RenegotiationTrigger.STARTED, InvitationState.CONNECTED)
    error = caught.value
    assert (error.machine, error.state, error.trigger) == (
        "renegotiation", RenegotiationState.IDLE, RenegotiationTrigger.STARTED,
    )
    assert "Connected" in error.why
    assert error.why != GENERIC


def test_a_branched_trigger_given_no_case_is_refused_as_such() -> None:
    with pytest.raises(InvalidTrigger) as caught:
        RENEGOTIATION.select(RenegotiationState.IDLE, RenegotiationTrigger.STARTED, None)
    assert caught.value.machine == "renegotiation"
    assert caught.value.why != GENERIC
    row = RENEGOTIATION.select(RenegotiationState.IDLE, RenegotiationTrigger.STARTED, Direction.INCOMING)
    assert row.when is Direction.INCOMING


def test_a_renegotiation_starts_by_our_offer_or_by_their_started() -> None:
    assert set(RENEGOTIATION.triggers_from(RenegotiationState.IDLE)) == {
        RenegotiationTrigger.OFFER, RenegotiationTrigger.STARTED,
    }


def test_the_wire_name_of_a_state_is_the_servers_word_and_local_states_have_none() -> None:
    assert INVITATION.wire_name(InvitationState.CONNECTED) == "Connected"
    assert INVITATION.wire_name(InvitationState.CONNECTING) == "Connecting"
    assert INVITATION.wire_name(InvitationState.IDLE) is None  # nothing on the wire is called idle


# -- fire: a row run on a model that is not where the row starts (fsm/paths.py replays rows this way) ---------


def test_a_row_fired_on_a_model_in_another_state_is_refused_naming_the_models_state() -> None:
    # the row is Connecting --updated(Alerting)--> Alerting; the model is accepting, where updated is decided
    # by a completion, never by a progress state: the engine refuses it, and the refusal says where the model is
    row = INVITATION.select(InvitationState.CONNECTING, InvitationTrigger.UPDATED, InvitationState.ALERTING)
    model = Invitation(kind=InvitationKind.MESSAGING, state=InvitationState.ACCEPTING)
    with pytest.raises(InvalidTrigger) as caught:
        INVITATION.fire(model, row)
    error = caught.value
    assert (error.machine, error.state, error.trigger) == (
        "invitation", InvitationState.ACCEPTING, InvitationTrigger.UPDATED,
    )
    assert error.why
    assert error.why != GENERIC
    assert model.state is InvitationState.ACCEPTING


def test_a_row_fired_where_its_trigger_has_no_row_is_refused_as_invalid_trigger() -> None:
    # send has rows from idle only: from connected, transitions itself would raise its MachineError
    row = INVITATION.select(InvitationState.IDLE, InvitationTrigger.SEND, None)
    model = Invitation(kind=InvitationKind.MESSAGING, state=InvitationState.CONNECTED)
    with pytest.raises(InvalidTrigger) as caught:
        INVITATION.fire(model, row)
    assert (caught.value.machine, caught.value.state, caught.value.trigger) == (
        "invitation", InvitationState.CONNECTED, InvitationTrigger.SEND,
    )
    assert model.state is InvitationState.CONNECTED
