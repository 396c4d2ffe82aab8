"""Events that beat the create's 201 with nothing to route them by, and events handled by being ignored.

The documentation's own samples (docs/protocol.md §2.4) carry no ``_embedded``:
a ``started``, ``updated`` or ``completed`` then names only an href that the
app learns from the 201's ``Location``, and the 201 may come after them
(§2.2: the ``started`` may beat the 201). Such events are held until the 201
names their href, then delivered in order to the model that sent the create;
when no 201 can claim them they are settled (an incoming ``started``, or a
violation). Every expected value below comes from those rules, written here.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.routing.dispatcher import Dispatcher
from adapters.wire.events import EventsResponse, parse_events
from fsm.actions import FetchResource
from fsm.invitation import Invitation, InvitationKind, InvitationState, InvitationTrigger
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState

AV = "audioVideoInvitation"
INV = "/app/communication/invitations/7"
OTHER = "/app/communication/invitations/8"
_ack = iter(range(1, 10**9))


def response(*events: dict[str, Any], sender: str = "communication") -> EventsResponse:
    ack = next(_ack)
    document = {
        "_links": {"self": {"href": f"/app/events?ack={ack}"}, "next": {"href": f"/app/events?ack={ack + 1}"}},
        "sender": [{"rel": sender, "href": f"/app/{sender}", "events": list(events)}],
    }
    return parse_events(json.dumps(document).encode(), "application/json")


def bare(type_: str, href: str = INV, rel: str = AV, **extra: Any) -> dict[str, Any]:
    """An event as the documentation's samples write it: no ``_embedded``."""
    return {"link": {"rel": rel, "href": href}, "type": type_, **extra}


def outgoing_call(dispatcher: Dispatcher, kind: InvitationKind = InvitationKind.AUDIO_VIDEO) -> Invitation:
    """A create POST sent and tracked, its 201 not in yet (what the client does before it POSTs)."""
    call = Invitation(kind=kind)
    call.send(now=0.0, href="/app/communication/startAudioVideo", operation_id="op-1", to="sip:bob@contoso.com")
    dispatcher.track(call)
    return call


def the_201(dispatcher: Dispatcher, call: Invitation | OnlineMeetingJoin, href: str, now: float) -> Any:
    """The client's part when the 201 comes: the model's own trigger, then the dispatcher is told."""
    call.created(now=now, href=href)
    return dispatcher.created(call, now=now)


def test_a_bare_completed_before_the_201_reaches_the_call_once_the_201_names_it() -> None:
    dispatcher = Dispatcher()
    call = outgoing_call(dispatcher)
    early = dispatcher.feed(response(bare("completed", status="Success")), now=1.0)
    # nothing routes it yet: it waits, it is neither unrouted nor a violation
    assert early.held == (0,)
    assert early.unknown == ()
    assert early.violations == ()
    assert call.outcome is None
    released = the_201(dispatcher, call, INV, now=2.0)
    assert call.state is InvitationState.CONNECTED
    assert call.outcome is not None
    assert call.outcome.success
    assert call.outcome.status == "Success"
    assert [change.model for change in released.changes] == [call]
    assert dispatcher.held_count == 0


def test_a_bare_started_before_the_201_makes_no_second_model_and_reaches_the_call() -> None:
    dispatcher = Dispatcher()
    call = outgoing_call(dispatcher)
    early = dispatcher.feed(response(bare("started")), now=1.0)
    assert early.created == ()
    assert dispatcher.models == (call,)
    released = the_201(dispatcher, call, INV, now=2.0)
    assert dispatcher.models == (call,)
    # the call took its own started (after the 201's created), and asks to read the resource for its links
    assert [step.trigger for step in call.history] == [
        InvitationTrigger.SEND,
        InvitationTrigger.CREATED,
        InvitationTrigger.STARTED,
    ]
    assert released.actions == (FetchResource(INV, "started carried no resource: its links may have changed"),)


def test_held_events_are_delivered_in_the_order_they_came() -> None:
    dispatcher = Dispatcher()
    call = outgoing_call(dispatcher)
    dispatcher.feed(response(bare("started"), bare("updated")), now=1.0)
    busy = {"code": "RemoteFailure", "subcode": "Busy"}
    dispatcher.feed(response(bare("completed", status="Failure", reason=busy)), now=1.5)
    assert dispatcher.held_count == 3
    the_201(dispatcher, call, INV, now=2.0)
    assert [step.trigger for step in call.history][2:] == [
        InvitationTrigger.STARTED,
        InvitationTrigger.UPDATED,
        InvitationTrigger.COMPLETED,
    ]
    assert call.state is InvitationState.FAILED
    assert call.outcome is not None
    assert call.outcome.reason is not None
    assert call.outcome.reason.subcode == "Busy"


def test_the_next_feed_releases_them_when_the_app_does_not_tell_the_dispatcher() -> None:
    dispatcher = Dispatcher()
    call = outgoing_call(dispatcher)
    dispatcher.feed(response(bare("completed", status="Success")), now=1.0)
    call.created(now=2.0, href=INV)  # only the model knows; the dispatcher notices on its next feed
    later = dispatcher.feed(response(), now=3.0)
    assert call.state is InvitationState.CONNECTED
    assert [change.model for change in later.changes] == [call]
    assert dispatcher.held_count == 0


def test_an_operation_id_match_takes_what_was_held_for_that_href_first() -> None:
    dispatcher = Dispatcher()
    call = outgoing_call(dispatcher)
    dispatcher.feed(response(bare("started")), now=1.0)
    embedded = {AV: {"state": "Connected", "direction": "Outgoing", "operationId": "op-1"}}
    dispatcher.feed(response(bare("completed", status="Success", _embedded=embedded)), now=2.0)
    assert [step.trigger for step in call.history][1:] == [InvitationTrigger.STARTED, InvitationTrigger.COMPLETED]
    assert call.state is InvitationState.CONNECTED
    assert dispatcher.held_count == 0


def test_unclaimed_at_the_deadline_an_update_is_a_violation_and_nothing_is_kept() -> None:
    dispatcher = Dispatcher(hold_for=5.0)
    call = outgoing_call(dispatcher)
    dispatcher.feed(response(bare("updated"), bare("completed", status="Success")), now=1.0)
    before = dispatcher.feed(response(), now=5.9)  # 4.9 s: still waiting
    assert before.violations == ()
    assert dispatcher.held_count == 2
    after = dispatcher.feed(response(), now=6.0)  # 5 s since the first: no 201 claimed them
    assert [(v.state, v.event_type, v.index, v.machine) for v in after.violations] == [
        ("held", "updated", 0, "invitation"),
        ("held", "completed", 1, "invitation"),
    ]
    assert dispatcher.held_count == 0
    assert call.state is InvitationState.SENDING  # still its own: the events were never its


def test_unclaimed_at_the_deadline_a_started_is_an_incoming_invitation() -> None:
    # our create is still out (no 201), and someone calls us: the bare started could have been either
    dispatcher = Dispatcher(hold_for=5.0)
    outgoing_call(dispatcher)
    dispatcher.feed(response(bare("started", href=OTHER)), now=1.0)
    settled = dispatcher.feed(response(), now=7.0)
    (incoming,) = settled.created
    assert isinstance(incoming, Invitation)
    assert incoming.href == OTHER
    assert incoming.state is InvitationState.CONNECTING
    assert settled.actions == (FetchResource(OTHER, "started carried no resource: its links may have changed"),)
    assert settled.violations == ()


def test_once_the_201_names_another_href_the_rest_is_settled_at_once() -> None:
    dispatcher = Dispatcher(hold_for=60.0)
    call = outgoing_call(dispatcher)
    dispatcher.feed(response(bare("started", href=OTHER), bare("completed", href=INV, status="Success")), now=1.0)
    released = the_201(dispatcher, call, INV, now=2.0)
    assert call.state is InvitationState.CONNECTED
    # no create of that kind is outstanding any more: no 201 can claim OTHER, so it is an incoming call now
    assert [m.href for m in released.created] == [OTHER]  # type: ignore[attr-defined]
    assert dispatcher.held_count == 0


def test_an_incoming_started_with_its_resource_is_not_held() -> None:
    dispatcher = Dispatcher()
    outgoing_call(dispatcher)
    embedded = {AV: {"state": "Connecting", "direction": "Incoming"}}
    result = dispatcher.feed(response(bare("started", href=OTHER, _embedded=embedded)), now=1.0)
    assert result.held == ()
    assert len(result.created) == 1


def test_without_an_outstanding_create_nothing_is_held() -> None:
    result = Dispatcher().feed(response(bare("completed", status="Success")), now=1.0)
    assert result.held == ()
    assert [u.event_type for u in result.unknown] == ["completed"]


def test_a_join_gets_its_bare_events_after_the_201() -> None:
    dispatcher = Dispatcher()
    join = OnlineMeetingJoin()
    join.send(now=0.0, href="/app/communication/joinOnlineMeeting", operation_id="op-j", online_meeting_uri="sip:m")
    dispatcher.track(join)
    omi = "/app/communication/onlineMeetingInvitations/3"
    dispatcher.feed(response(bare("started", href=omi, rel="onlineMeetingInvitation")), now=1.0)
    the_201(dispatcher, join, omi, now=2.0)
    assert join.state is OnlineMeetingState.CONNECTING
    assert [step.trigger.value for step in join.history] == ["send", "created", "started"]


def test_at_most_max_held_events_are_held() -> None:
    dispatcher = Dispatcher(max_held=2)
    outgoing_call(dispatcher)
    result = dispatcher.feed(response(*(bare("updated", href=f"{INV}{i}") for i in range(3))), now=1.0)
    assert result.held == (0, 1)
    assert [v.index for v in result.violations] == [2]
    assert dispatcher.held_count == 2


# -- documented, and meaning nothing to any machine: ignored with a reason ---------------------------


def test_negotiation_and_modality_updates_are_ignored_with_a_reason_not_unrouted() -> None:
    # docs/protocol.md §2.3: audioVideoNegotiation updated (sender audioVideoInvitation); modality updated
    dispatcher = Dispatcher()
    negotiation = dispatcher.feed(
        response(bare("updated", href=f"{INV}/negotiation", rel="audioVideoNegotiation"), sender=AV), now=1.0
    )
    modalities = dispatcher.feed(
        response(
            bare("updated", href="/app/conversations/1/audioVideo", rel="audioVideo"),
            bare("updated", href="/app/conversations/1/messaging", rel="ms:rtc:saas:messaging"),
            sender="conversation",
        ),
        now=2.0,
    )
    for result, count in ((negotiation, 1), (modalities, 2)):
        assert result.unknown == ()
        assert len(result.ignored) == count
        assert all(item.why for item in result.ignored)
    assert [i.rel for i in modalities.ignored] == ["audioVideo", "ms:rtc:saas:messaging"]


def test_other_events_of_those_resources_are_still_unrouted() -> None:
    # only the documented updated is known to mean nothing; anything else is reported as before
    result = Dispatcher().feed(response(bare("deleted", href="/app/conversations/1/audioVideo", rel="audioVideo")), 1.0)
    assert [u.rel for u in result.unknown] == ["audioVideo"]
    assert result.ignored == ()


# -- any order of the 201 among the bare events ends the same way --------------------------------------

_STATUS = st.sampled_from(
    [
        {"status": "Success"},
        {"status": "Failure", "reason": {"code": "RemoteFailure", "subcode": "Declined"}},
        {"status": "Failure", "reason": {"code": "RemoteFailure", "subcode": "Busy"}},
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    updates=st.integers(min_value=0, max_value=3),
    ending=_STATUS,
    with_started=st.booleans(),
    the_201_at=st.integers(min_value=0, max_value=6),
    per_response=st.integers(min_value=1, max_value=3),
)
def test_wherever_the_201_falls_the_call_ends_as_if_it_came_first(
    updates: int, ending: dict[str, Any], with_started: bool, the_201_at: int, per_response: int
) -> None:
    events = [bare("started")] if with_started else []
    events += [bare("updated") for _ in range(updates)]
    events.append(bare("completed", **ending))
    # the reference: the 201 first, then every event in order (nothing to hold)
    reference = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    reference.send(now=0.0, href="/app/communication/startAudioVideo", operation_id="op-1", to="sip:bob@contoso.com")
    reference.created(now=0.5, href=INV)
    ref_dispatcher = Dispatcher()
    ref_dispatcher.track(reference)
    ref_dispatcher.feed(response(*events), now=1.0)

    dispatcher = Dispatcher()
    call = outgoing_call(dispatcher)
    at = min(the_201_at, len(events))
    chunks = [events[i : i + per_response] for i in range(0, len(events), per_response)] or [[]]
    fed = 0
    now = 1.0
    for chunk in chunks:
        if fed <= at < fed + len(chunk) or (at == fed and not chunk):
            dispatcher.feed(response(*chunk[: at - fed]), now=now)
            the_201(dispatcher, call, INV, now=now)
            dispatcher.feed(response(*chunk[at - fed :]), now=now)
        else:
            dispatcher.feed(response(*chunk), now=now)
        fed += len(chunk)
        now += 0.1
    if at >= fed:
        the_201(dispatcher, call, INV, now=now)
    assert dispatcher.models == (call,)  # never a second model
    assert dispatcher.held_count == 0  # nothing left behind
    assert call.state is reference.state
    assert call.outcome == reference.outcome
