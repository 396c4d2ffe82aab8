"""A live model drawn on the plan: its state highlighted, its path numbered, in DOT and Mermaid."""

from __future__ import annotations

from diagram_reading import _lines, parse_dot

from adapters import diagrams
from fsm import (
    MACHINES,
    Invitation,
    InvitationKind,
    InvitationState,
    InvitationTrigger,
    Link,
    Reason,
    Representation,
    Step,
)


def _live_invitation() -> Invitation:
    cancel = (Link("cancel", "/inv/1/cancel"),)
    model = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    model.send(now=1.0, href="/ucwa/startAudioVideo", operation_id="op1", to="sip:bob@example.com")
    model.created(now=2.0, href="/inv/1")
    model.updated(now=3.0, representation=Representation(state="Alerting", links=cancel))
    model.cancel(now=4.0)
    model.request_failed(now=5.0, reason=Reason("Conflict", "None"))
    return model


def test_live_model_highlights_its_state_and_numbers_its_path() -> None:
    # send: idle -> sending; created: sending -> Connecting; updated to Alerting;
    # cancel: Alerting -> cancelling; the refused cancel goes back to Alerting.
    model = _live_invitation()
    assert model.state is InvitationState.ALERTING
    dot = parse_dot(diagrams.to_dot(MACHINES["invitation"], model=model))
    assert "penwidth=3" in dot.node_attrs["ALERTING"]
    path = {
        (t, h, tuple(_lines(a["label"]))) for t, h, a in dot.edges if a.get("color") == "#d9480f" and "constraint" in a
    }
    assert path == {
        ("IDLE", "SENDING", ("1. send",)),
        ("SENDING", "CONNECTING", ("2. created",)),
        ("CONNECTING", "ALERTING", ("3. updated",)),
        ("ALERTING", "CANCELLING", ("4. cancel",)),
        ("CANCELLING", "ALERTING", ("5. request_failed",)),
    }
    text = diagrams.to_mermaid(MACHINES["invitation"], model=model)
    assert "    class s_alerting current" in text
    assert "    class s_idle,s_sending,s_connecting,s_cancelling visited" in text
    assert "        5. request_failed#58; cancelling → Alerting" in text


def test_any_object_with_state_and_history_is_a_live_model() -> None:
    class Fake:
        state = InvitationState.IDLE
        history = (Step(InvitationState.IDLE, InvitationTrigger.COMPLETED, InvitationState.IDLE, None, 0.0),)

    text = diagrams.to_dot(MACHINES["invitation"], model=Fake())
    assert "1. completed" in text
