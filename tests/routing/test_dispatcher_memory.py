"""What the dispatcher remembers: the duplicate window, settled models, its indexes, the base hrefs resolve against.

Every response goes through :func:`adapters.wire.events.parse_events` first, as on the wire.
"""

from __future__ import annotations

import json

import pytest
from dispatcher_events import (
    INV,
    JSON,
    SAMPLES,
    event,
    incoming,
    response,
    sample,
    snapshot,
)

from adapters.routing.dispatcher import Dispatcher, DispatcherError
from adapters.wire.events import parse_events
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.reasons import Reason

# -- duplicates ---------------------------------------------------------------------------------------------


def test_the_same_event_delivered_twice_acts_once() -> None:
    dispatcher = Dispatcher()
    body = response(event("messagingInvitation", INV, "started", embedded=incoming()))
    dispatcher.feed(body, now=0.0)
    model = dispatcher.model_for(INV)
    assert model is not None
    before = snapshot(model)
    again = dispatcher.feed(body, now=1.0)
    assert again.duplicates == (0,)
    assert again.changes == ()
    assert snapshot(model) == before
    # the same content in another response (a retried webhook POST) is a duplicate too
    assert dispatcher.feed(response(event("messagingInvitation", INV, "started", embedded=incoming())), 2.0).duplicates


def test_events_that_differ_in_their_body_both_act() -> None:
    dispatcher = Dispatcher()
    dispatcher.feed(response(event("audioVideoInvitation", INV, "started", embedded=incoming())), now=0.0)
    model = dispatcher.model_for(INV)
    assert isinstance(model, Invitation)
    result = dispatcher.feed(
        response(
            event("audioVideoInvitation", INV, "updated", embedded=incoming("Alerting")),
            event("audioVideoInvitation", INV, "updated", embedded=incoming("TeamRing")),
        ),
        now=1.0,
    )
    assert result.duplicates == ()
    assert [c.dest for c in result.changes] == [InvitationState.ALERTING, InvitationState.TEAM_RING]


def test_duplicate_window_is_bounded() -> None:
    dispatcher = Dispatcher(dedupe_window=2)
    first = response(event("messagingInvitation", INV, "started", embedded=incoming()))
    dispatcher.feed(first, now=0.0)
    for state in ("Alerting", "TeamRing"):
        dispatcher.feed(response(event("messagingInvitation", INV, "updated", embedded=incoming(state))), now=1.0)
    # two newer events pushed the first one out of a window of 2: it acts again (absorbed by the machine rules)
    assert dispatcher.feed(first, now=2.0).duplicates == ()


def test_drop_transient_forgets_the_window_and_keeps_the_models() -> None:
    dispatcher = Dispatcher()
    body = response(event("messagingInvitation", INV, "started", embedded=incoming()))
    dispatcher.feed(body, now=0.0)
    model = dispatcher.model_for(INV)
    assert dispatcher.drop_transient() == (INV,)
    assert dispatcher.model_for(INV) is model
    assert dispatcher.feed(body, now=1.0).duplicates == ()
    assert dispatcher.hrefs_to_refetch() == (INV,)


# -- memory --------------------------------------------------------------------------------------------------------


def test_settled_models_are_forgotten_after_the_grace_period() -> None:
    dispatcher = Dispatcher(grace=60.0)
    dispatcher.feed(response(event("messagingInvitation", INV, "started", embedded=incoming())), now=0.0)
    dispatcher.feed(response(event("messagingInvitation", INV, "completed", status="Failure")), now=10.0)
    model = dispatcher.model_for(INV)
    assert isinstance(model, Invitation)
    assert model.state is InvitationState.FAILED
    # within the grace period a late event is still absorbed by the model
    late = dispatcher.feed(response(event("messagingInvitation", INV, "updated", embedded=incoming("Alerting"))), 50.0)
    assert late.unknown == ()
    assert model.history[-1].dest is InvitationState.FAILED
    # after it, the model is gone and the same kind of event is unknown
    gone = dispatcher.feed(response(event("messagingInvitation", INV, "updated", embedded=incoming("TeamRing"))), 71.0)
    assert dispatcher.models == ()
    assert dispatcher.model_for(INV) is None
    assert "no live machine" in gone.unknown[0].why


def test_models_settled_by_the_app_are_noticed_by_sweep() -> None:
    dispatcher = Dispatcher(grace=5.0)
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="startMessaging", operation_id="op", to="sip:b@x")
    dispatcher.track(invitation)
    invitation.request_failed(now=1.0, reason=Reason("Forbidden"))
    assert dispatcher.sweep(now=2.0) == ()  # noticed now, kept for the grace period
    assert dispatcher.sweep(now=7.0) == (invitation,)
    assert dispatcher.models == ()


def test_forget_removes_every_index() -> None:
    dispatcher = Dispatcher()
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="startMessaging", operation_id="op-f", to="sip:b@x")
    dispatcher.track(invitation, href=INV)
    dispatcher.forget(invitation)
    result = dispatcher.feed(
        response(event("messagingInvitation", INV, "completed", status="Success", embedded={"operationId": "op-f"})),
        now=1.0,
    )
    assert invitation.state is InvitationState.SENDING
    assert result.unknown


def test_tracking_a_model_without_a_route_is_refused() -> None:
    class Stray(Invitation):
        pass

    dispatcher = Dispatcher()
    dispatcher.track(Stray(kind=InvitationKind.MESSAGING))  # a subclass inherits its route
    with pytest.raises(DispatcherError, match="no route"):
        dispatcher.track(object())  # type: ignore[arg-type]


# -- operation ids and bases --------------------------------------------------------------------------------


def test_operation_id_match_needs_the_models_kind_of_resource() -> None:
    # an app may reuse an operation id for a message in the conversation it started
    dispatcher = Dispatcher()
    invitation = Invitation(kind=InvitationKind.MESSAGING)
    invitation.send(now=0.0, href="startMessaging", operation_id="op-m", to="sip:b@x")
    dispatcher.track(invitation)
    message = event("message", "/app/conversations/5/messaging/messages/1", "completed", status="Success",
                    embedded={"operationId": "op-m"})
    result = dispatcher.feed(response(message, sender="conversation"), now=1.0)
    assert invitation.state is InvitationState.SENDING
    assert invitation.href is None
    assert result.changes == ()
    assert result.unknown


def test_base_url_makes_relative_event_hrefs_meet_an_absolute_location() -> None:
    # Trusted Application API: event hrefs are relative to the baseuri (docs/protocol.md §2.1)
    base = "https://host/platformservice/v1/applications/123/"
    dispatcher = Dispatcher(base_url=base)
    invitation = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    invitation.send(now=0.0, href="startAudio", operation_id="op-b", to="sip:b@x")
    dispatcher.track(invitation)
    invitation.created(now=1.0, href=base + "communication/invitations/137")
    document = json.loads((SAMPLES / "seed002_completed.json").read_bytes())
    document["baseuri"] = base
    document["sender"][0]["events"][0]["status"] = "Success"
    result = dispatcher.feed(parse_events(json.dumps(document).encode(), JSON, require_links=False), now=2.0)
    assert invitation.state is InvitationState.CONNECTED
    assert dispatcher.baseuri == base
    assert result.created == ()


def test_a_new_baseuri_rebuilds_the_indexes() -> None:
    dispatcher = Dispatcher()
    (invitation,) = dispatcher.feed(sample("seed002_started.json"), now=0.0).created  # no baseuri yet
    session = dispatcher.av_session("communication/conversations/1/audioVideo/audioVideoSession")
    document = json.loads((SAMPLES / "seed002_completed.json").read_bytes())
    document["baseuri"] = "https://host/platformservice/v1/applications/42/"
    document["sender"][0]["events"][0]["status"] = "Success"
    result = dispatcher.feed(parse_events(json.dumps(document).encode(), JSON), now=1.0)
    assert result.unknown == ()
    assert invitation.state is InvitationState.CONNECTED  # type: ignore[attr-defined]
    absolute = "https://host/platformservice/v1/applications/42/communication/invitations/137"
    assert dispatcher.model_for(absolute) is invitation
    assert dispatcher.av_session("/platformservice/v1/applications/42/communication/conversations/1/audioVideo/"
                                 "audioVideoSession") is session
