"""The seams of the dispatcher's façade: what an app sets or reads on it reaches the part that uses it.

The dispatcher composes a registry (models and hrefs), a held-events store and the handlers
(README "Architecture", issue 15). An app still talks to the one :class:`Dispatcher`: these
tests set and read its attributes *after* construction, and register a handler, and check
the documented behaviour that depends on them, so a façade attribute that no longer reaches
its part fails here.
"""

from __future__ import annotations

from typing import Any

from dispatcher_events import INV, event, incoming, response, sample

from adapters.routing.dispatcher import Dispatcher, RouteContext, route_invitation
from adapters.wire.events import Event
from fsm.actions import Actions
from fsm.invitation import Invitation, InvitationKind

AV = "audioVideoInvitation"
OTHER_INV = "/app/communication/invitations/8"


def outgoing_call(dispatcher: Dispatcher) -> Invitation:
    """A create sent and tracked, its 201 not in yet: a bare event of its kind may be its own."""
    call = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    call.send(now=0.0, href="/app/communication/startAudioVideo", operation_id="op-1", to="sip:bob@contoso.com")
    dispatcher.track(call)
    return call


def bare(type_: str, href: str = OTHER_INV) -> dict[str, Any]:
    """An event as the documentation's samples write it: no ``_embedded``, so no operation id."""
    return {"link": {"rel": AV, "href": href}, "type": type_}


def test_a_handler_gets_the_dispatcher_itself_in_its_context() -> None:
    # Dispatcher.route's handlers may index more hrefs through ctx.dispatcher: it is the app's dispatcher,
    # so an href written absolute and relative get one key there
    dispatcher = Dispatcher(base_url="https://host/ucwa/")
    seen: list[RouteContext] = []

    def spy(model: Invitation, ev: Event, ctx: RouteContext) -> Actions | None:
        seen.append(ctx)
        return route_invitation(model, ev, ctx)

    dispatcher.route(Invitation, spy)
    dispatcher.feed(response(event("messagingInvitation", INV, "started", embedded=incoming())), now=0.0)
    assert len(seen) == 1
    assert seen[0].dispatcher is dispatcher
    assert seen[0].dispatcher.key("https://host" + INV) == seen[0].dispatcher.key(INV)


def test_max_held_set_after_construction_bounds_the_held_events() -> None:
    # module doc, "Held events": beyond max_held an event is a violation at once
    dispatcher = Dispatcher()
    dispatcher.max_held = 0
    outgoing_call(dispatcher)
    result = dispatcher.feed(response(bare("started")), now=1.0)
    assert result.held == ()
    assert len(result.violations) == 1
    assert result.violations[0].state == "held"
    assert dispatcher.max_held == 0


def test_hold_for_set_after_construction_settles_held_events_that_late() -> None:
    # module doc, "Held events": after hold_for seconds no 201 can claim them; an incoming kind's started
    # is then taken as an incoming invitation
    dispatcher = Dispatcher()
    dispatcher.hold_for = 2.0
    outgoing_call(dispatcher)
    assert dispatcher.feed(response(bare("started")), now=1.0).held == (0,)
    assert dispatcher.feed(response(), now=2.5).created == ()  # 1.5 s held: still waiting
    settled = dispatcher.feed(response(), now=3.0)  # 2 s held
    assert [type(model) for model in settled.created] == [Invitation]
    assert dispatcher.held_count == 0
    assert dispatcher.hold_for == 2.0


def test_a_baseuri_set_by_the_app_is_the_base_hrefs_resolve_against() -> None:
    # restoring a snapshot sets the baseuri (Trusted Application API: event hrefs are relative to it)
    dispatcher = Dispatcher()
    dispatcher.baseuri = "https://host/platformservice/v1/applications/42/"
    app = "/platformservice/v1/applications/42/"
    assert dispatcher.key("communication/invitations/137") == app + "communication/invitations/137"
    assert dispatcher.baseuri == "https://host/platformservice/v1/applications/42/"
    dispatcher.base_url = "https://other/app/"
    assert dispatcher.key("x") == app + "x"  # the baseuri comes first
    dispatcher.baseuri = None
    assert dispatcher.key("x") == "/app/x"


def test_the_sample_model_is_in_models_and_found_by_href() -> None:
    # the registry's models, through the façade: seed 002's started creates one invitation (its href in the sample)
    dispatcher = Dispatcher()
    (created,) = dispatcher.feed(sample("seed002_started.json"), now=0.0).created
    assert dispatcher.models == (created,)
    assert dispatcher.model_for("communication/invitations/137") is created
    dispatcher.forget(created)
    assert dispatcher.models == ()
    assert dispatcher.model_for("communication/invitations/137") is None
