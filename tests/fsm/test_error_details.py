"""A refusal says what happened: the machine, the state, the trigger or the field, and why.

fsm/errors.py promises that a log line alone is enough; these tests read the
fields an app logs, for refusals the documentation gives reasons for
(``make mutate`` found them unpinned: the "error detail" survivors in
tests/README.md).
"""

from __future__ import annotations

import pytest

from fsm.errors import InvalidInput, InvalidTrigger, LinkMissing
from fsm.invitation import Invitation, InvitationKind, InvitationState, InvitationTrigger
from fsm.wire import Link, Representation


def _incoming_messaging(*links: Link) -> Invitation:
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.started(
        now=1.0, href="/inv/1", representation=Representation(state="Connecting", direction="Incoming", links=links)
    )
    return invitation


def test_link_missing_names_the_machine_state_trigger_and_the_link() -> None:
    # docs/protocol.md §1.6: the recorded incoming IM had no accept link; the action must be refused, saying so
    invitation = _incoming_messaging(Link("decline", "/inv/1/decline"))
    with pytest.raises(LinkMissing) as caught:
        invitation.accept(now=2.0)
    error = caught.value
    assert (error.machine, error.state, error.trigger) == ("invitation", InvitationState.CONNECTING,
                                                             InvitationTrigger.ACCEPT)
    assert error.rels == ("accept",)
    assert error.why == "the latest representation carries no 'accept' link"
    assert str(error) == (
        "invitation: trigger 'accept' is not allowed in state 'Connecting': "
        "the latest representation carries no 'accept' link"
    )
    assert invitation.state is InvitationState.CONNECTING  # nothing changed


def test_link_missing_lists_every_rel_that_would_do() -> None:
    error = LinkMissing("invitation", InvitationState.CONNECTING, InvitationTrigger.ACCEPT, ("a", "b"))
    assert error.why == "the latest representation carries no 'a' or 'b' link"


def test_invalid_trigger_says_where_and_why() -> None:
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    with pytest.raises(InvalidTrigger) as caught:
        invitation.accept(now=0.0)  # nothing was received: there is nothing to accept
    error = caught.value
    assert (error.machine, error.state, error.trigger) == ("invitation", InvitationState.IDLE,
                                                             InvitationTrigger.ACCEPT)
    assert error.why
    assert str(error).startswith("invitation: trigger 'accept' is not allowed in state 'idle': ")
    default = InvalidTrigger("invitation", InvitationState.IDLE, InvitationTrigger.ACCEPT)
    assert default.why == "the transition table has no such transition"


@pytest.mark.parametrize(
    ("operation_id", "extra", "field", "why"),
    [
        ("", None, "operationId", "an operation id, when given, is not empty"),
        # docs/protocol.md §1.3: subject is at most 250 characters
        ("op", {"subject": "s" * 251}, "subject", "251 characters, the maximum is 250"),
        ("op", {"sessionContext": "c" * 51}, "sessionContext", "51 characters, the maximum is 50"),
    ],
)
def test_invalid_input_names_the_field_and_the_rule(
    operation_id: str, extra: dict[str, str] | None, field: str, why: str
) -> None:
    invitation = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    with pytest.raises(InvalidInput) as caught:
        invitation.send(
            now=0.0, href="/communication/startAudioVideo", operation_id=operation_id, to="sip:b@contoso.com",
            extra=extra,
        )
    error = caught.value
    assert (error.machine, error.field, error.why) == ("invitation", field, why)
    assert str(error) == f"invitation: invalid {field}: {why}"
    assert invitation.state is InvitationState.IDLE
