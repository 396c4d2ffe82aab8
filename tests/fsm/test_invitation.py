"""The invitation machine's documented rules, one test (or table) per rule.

Expected values come from docs/protocol.md (§1.1-§1.7, §2.4, §9) and the seeds.
"""

from __future__ import annotations

import pytest

from fsm import (
    CallDeclineReason,
    FetchResource,
    InvalidInput,
    InvalidTrigger,
    Invitation,
    InvitationKind,
    InvitationState,
    Link,
    LinkMissing,
    PostLink,
    Reason,
    Representation,
    SnapshotError,
    StartOperation,
)
from fsm.actions import Actions
from fsm.invitation import Importance
from fsm.snapshot import dumps, loads, restore, snapshot

S = InvitationState
K = InvitationKind

# Links of an incoming SaaS audio/video invitation in Connecting (docs/protocol.md §1.6, S3 traffic).
INCOMING_AV_LINKS = (
    Link("ms:rtc:saas:accept", "/inv/1/accept"),
    Link("ms:rtc:saas:decline", "/inv/1/decline"),
    Link("ms:rtc:saas:forward", "/inv/1/forward"),
    Link("ms:rtc:saas:acceptAndBridgeAudioVideo", "/inv/1/bridge"),
    Link("ms:rtc:saas:audioVideo", "/conv/1/audioVideo"),
    Link("ms:rtc:saas:conversation", "/conv/1"),
)


def incoming(kind: K = K.AUDIO_VIDEO, links: tuple[Link, ...] = INCOMING_AV_LINKS) -> Invitation:
    inv = Invitation(kind=kind)
    inv.started(
        now=1.0, href="/inv/1", representation=Representation(state="Connecting", direction="Incoming", links=links)
    )
    return inv


def outgoing(kind: K = K.AUDIO_VIDEO) -> Invitation:
    inv = Invitation(kind=kind)
    inv.send(now=0.0, href="/communication/start", operation_id="op-1", to="sip:bob@contoso.com")
    inv.created(now=0.5, href="/inv/9")
    inv.started(
        now=0.6,
        href="/inv/9",
        representation=Representation(
            state="Connecting",
            direction="Outgoing",
            links=[Link("cancel", "/inv/9/cancel"), Link("conversation", "/c")],
        ),
    )
    return inv


def frozen_view(inv: Invitation) -> tuple[object, ...]:
    return (inv.state, list(inv.history), inv.outcome, inv.representation, inv.href)


# -- links gate actions ---------------------------------------------------------------


def test_accept_uses_the_link_as_the_server_wrote_it() -> None:
    inv = incoming()
    actions = inv.accept(now=2.0)
    assert actions == (PostLink("ms:rtc:saas:accept", "/inv/1/accept"),)
    assert inv.state is S.ACCEPTING


def test_action_refused_when_link_missing_and_nothing_changes() -> None:
    # Event_IncomingAudioCall_NoActionLinks: only audioVideo and conversation links.
    inv = incoming(links=(Link("ms:rtc:saas:audioVideo", "/a"), Link("ms:rtc:saas:conversation", "/c")))
    before = frozen_view(inv)
    for action in (inv.accept, inv.cancel):
        with pytest.raises(LinkMissing) as info:
            action(now=2.0)
        assert info.value.machine == "invitation"
        assert info.value.state is S.CONNECTING
    with pytest.raises(LinkMissing):
        inv.decline(now=2.0, reason=CallDeclineReason.LOCAL)
    assert frozen_view(inv) == before


def test_incoming_messaging_without_accept_link_can_only_decline_or_bridge() -> None:
    # Recorded incoming SaaS IM: decline, acceptAndBridge, no accept (docs/protocol.md §1.6).
    links = (Link("ms:rtc:saas:decline", "/d"), Link("ms:rtc:saas:acceptAndBridge", "/b"))
    inv = incoming(K.MESSAGING, links)
    with pytest.raises(LinkMissing):
        inv.accept(now=2.0)
    assert inv.accept_and_bridge(now=2.0, meeting_uri="sip:m@x;gruu;opaque=app:conf:focus:id:1") == (
        PostLink("ms:rtc:saas:acceptAndBridge", "/b", (("meetingUri", "sip:m@x;gruu;opaque=app:conf:focus:id:1"),)),
    )


@pytest.mark.parametrize("rel", ["ms:rtc:saas:acceptAndBridge", "ms:rtc:saas:acceptAndBridgeAudioVideo"])
def test_both_bridge_rel_names_count(rel: str) -> None:
    inv = incoming(links=(Link(rel, "/bridge"),))
    (action,) = inv.accept_and_bridge(now=2.0, meeting_uri="sip:meeting")
    assert isinstance(action, PostLink)
    assert action.rel == rel


def test_phone_audio_cannot_be_accepted_through_the_api() -> None:
    inv = incoming(K.PHONE_AUDIO, (Link("accept", "/acc"), Link("decline", "/dec")))
    with pytest.raises(InvalidTrigger, match="cannot be accepted"):
        inv.accept(now=2.0)
    assert inv.state is S.CONNECTING
    assert inv.decline(now=2.0) == (PostLink("decline", "/dec"),)


def test_participant_invitation_is_never_incoming() -> None:
    inv = Invitation(kind=K.PARTICIPANT)
    with pytest.raises(InvalidTrigger, match="never incoming"):
        inv.started(now=1.0, href="/pi", representation=Representation(state="Connecting", direction="Incoming"))
    assert inv.state is S.IDLE
    assert inv.history == []


def test_decline_sends_the_call_decline_reason() -> None:
    inv = incoming()
    assert inv.decline(now=2.0, reason=CallDeclineReason.GLOBAL) == (
        PostLink("ms:rtc:saas:decline", "/inv/1/decline", (("reason", "Global"),)),
    )


def test_forward_sends_the_target() -> None:
    inv = incoming()
    assert inv.forward(now=2.0, to="sip:carol@contoso.com") == (
        PostLink("ms:rtc:saas:forward", "/inv/1/forward", (("to", "sip:carol@contoso.com"),)),
    )
    assert inv.state is S.FORWARDING


# Links of an incoming UCWA audio/video invitation (docs/protocol.md §1.4): no plain accept.
UCWA_AV_LINKS = (
    Link("acceptWithAnswer", "/inv/1/acceptWithAnswer"),
    Link("acceptWithPhoneAudio", "/inv/1/acceptWithPhoneAudio"),
    Link("sendProvisionalAnswer", "/inv/1/sendProvisionalAnswer"),
    Link("decline", "/inv/1/decline"),
)


def test_accept_never_takes_a_link_that_means_something_else() -> None:
    # UCWA AV has acceptWithPhoneAudio and acceptWithAnswer, no accept: accept() must not pick either
    inv = incoming(K.AUDIO_VIDEO, UCWA_AV_LINKS)
    before = frozen_view(inv)
    with pytest.raises(LinkMissing) as info:
        inv.accept(now=2.0)
    assert info.value.rels == ("accept",)
    assert frozen_view(inv) == before


def test_accept_with_answer_posts_the_sdp_with_its_query() -> None:
    inv = incoming(K.AUDIO_VIDEO, UCWA_AV_LINKS)
    # docs/protocol.md §1.5: raw SDP body; query sessionContext (required, <= 50), processedOfferId (optional, <= 100)
    assert inv.accept_with_answer(now=2.0, sdp="v=0", session_context="ctx", processed_offer_id="offer-3") == (
        PostLink(
            "acceptWithAnswer",
            "/inv/1/acceptWithAnswer",
            (("sessionContext", "ctx"), ("processedOfferId", "offer-3")),
            sdp="v=0",
        ),
    )
    assert inv.state is S.ACCEPTING


def test_the_older_accept_with_an_sdp_answer_fires_accept_with_answer() -> None:
    inv = incoming(K.AUDIO_VIDEO, (Link("acceptWithAnswer", "/awa"),))
    assert inv.accept(now=2.0, answer_sdp="v=0", session_context="ctx") == (
        PostLink("acceptWithAnswer", "/awa", (("sessionContext", "ctx"),), sdp="v=0"),
    )
    assert inv.history[-1].trigger.value == "accept_with_answer"


@pytest.mark.parametrize(
    ("session_context", "processed_offer_id", "field"),
    [
        (None, None, "sessionContext"),
        ("", None, "sessionContext"),
        ("x" * 51, None, "sessionContext"),
        ("ctx", "x" * 101, "processedOfferId"),
    ],
)
def test_sdp_answers_check_their_query_before_anything_moves(
    session_context: str | None, processed_offer_id: str | None, field: str
) -> None:
    for call in ("accept_with_answer", "send_provisional_answer"):
        inv = incoming(K.AUDIO_VIDEO, UCWA_AV_LINKS)
        before = frozen_view(inv)
        with pytest.raises(InvalidInput, match=field):
            getattr(inv, call)(
                now=2.0, sdp="v=0", session_context=session_context, processed_offer_id=processed_offer_id
            )
        assert frozen_view(inv) == before
    # exactly at the limits is fine
    incoming(K.AUDIO_VIDEO, UCWA_AV_LINKS).accept_with_answer(
        now=2.0, sdp="v=0", session_context="x" * 50, processed_offer_id="x" * 100
    )


def test_accept_with_phone_audio_is_its_own_explicit_call() -> None:
    inv = incoming(K.AUDIO_VIDEO, UCWA_AV_LINKS)
    assert inv.accept_with_phone_audio(now=2.0) == (PostLink("acceptWithPhoneAudio", "/inv/1/acceptWithPhoneAudio"),)
    assert inv.state is S.ACCEPTING
    # and it needs its link: the SaaS invitation has none
    with pytest.raises(LinkMissing):
        incoming().accept_with_phone_audio(now=2.0)


def test_a_provisional_answer_leaves_the_invitation_ringing() -> None:
    # early media: the answer is sent while the call still rings; only accepting ends the ringing
    inv = incoming(K.AUDIO_VIDEO, UCWA_AV_LINKS)
    (action,) = inv.send_provisional_answer(now=2.0, sdp="v=0 early", session_context="ctx")
    assert action == PostLink(
        "sendProvisionalAnswer", "/inv/1/sendProvisionalAnswer", (("sessionContext", "ctx"),), sdp="v=0 early"
    )
    # a request in flight, like any other: nothing else is sent until its response (which names no request)
    assert inv.state is S.ANSWERING_EARLY
    with pytest.raises(InvalidTrigger):
        inv.accept_with_answer(now=2.05, sdp="v=0", session_context="ctx")
    assert inv.request_succeeded(now=2.1) == ()
    assert inv.state is S.CONNECTING  # still ringing
    inv.send_provisional_answer(now=2.15, sdp="v=0 early", session_context="ctx")
    inv.updated(now=2.17, representation=Representation(state="Alerting", links=UCWA_AV_LINKS))
    inv.request_failed(now=2.2, reason=Reason("BadRequest", None))
    assert inv.state is S.ALERTING  # the refusal returns to the state the wire last reported
    assert inv.outcome is None
    # a stray 2xx on a ringing invitation answers nothing we sent
    with pytest.raises(InvalidTrigger):
        inv.request_succeeded(now=2.3)
    inv.accept_with_answer(now=3.0, sdp="v=0", session_context="ctx")
    assert inv.state is S.ACCEPTING


def test_saas_accept_takes_an_optional_media_host() -> None:
    # docs/protocol.md §1.5: ms:rtc:saas:accept, body mediaHost (optional; the SDK sends Remote)
    assert incoming().accept(now=2.0, media_host="Remote") == (
        PostLink("ms:rtc:saas:accept", "/inv/1/accept", (("mediaHost", "Remote"),)),
    )
    ucwa = incoming(K.MESSAGING, (Link("accept", "/acc"),))
    with pytest.raises(InvalidInput, match="mediaHost"):
        ucwa.accept(now=2.0, media_host="Remote")
    assert ucwa.state is S.CONNECTING
    assert ucwa.accept(now=2.0) == (PostLink("accept", "/acc"),)


def test_forward_without_a_target_sends_no_body() -> None:
    # ms:rtc:saas:forward marks to as not required (docs/protocol.md §1.5)
    inv = incoming()
    assert inv.forward(now=2.0) == (PostLink("ms:rtc:saas:forward", "/inv/1/forward"),)
    assert inv.state is S.FORWARDING


# -- completion ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "subcode", "embedded", "expected"),
    [
        ("Success", None, None, None, S.CONNECTED),
        ("success", None, None, None, S.CONNECTED),  # status matching ignores case
        ("SUCCESS", None, None, None, S.CONNECTED),
        ("Failure", "LocalFailure", "Canceled", None, S.CANCELLED),  # one l on the wire subcode
        ("Failure", "RemoteFailure", "Canceled", None, S.CANCELLED),
        ("Failure", "Informational", "Canceled", None, S.CANCELLED),
        ("Failure", "RemoteFailure", "Declined", None, S.DECLINED),
        ("Failure", "LocalFailure", "Declined", None, S.DECLINED),
        ("failure", "RemoteFailure", "Busy", None, S.FAILED),
        ("Failure", "Timeout", None, None, S.FAILED),
        ("Failure", "ServiceFailure", "SomethingNew", None, S.FAILED),
        (None, None, None, "Connected", S.CONNECTED),  # missing status: embedded state
        (None, None, None, "Failed", S.FAILED),
        ("Success", None, None, "Failed", S.FAILED),  # embedded state wins
        ("Failure", "RemoteFailure", "Declined", "Cancelled", S.CANCELLED),
        ("Pending", None, None, "Declined", S.DECLINED),  # unknown status counts as missing
    ],
)
def test_completion_rules(
    status: str | None, code: str | None, subcode: str | None, embedded: str | None, expected: S
) -> None:
    inv = outgoing()
    reason = None if code is None else Reason(code, subcode, "msg")
    rep = None if embedded is None else Representation(state=embedded)
    inv.completed(now=5.0, status=status, reason=reason, representation=rep)
    assert inv.state is expected
    assert inv.outcome is not None
    assert inv.outcome.success is (expected is S.CONNECTED)
    if not inv.outcome.success:
        assert inv.outcome.reason is not None
        if code is not None:
            assert (inv.outcome.reason.code, inv.outcome.reason.subcode, inv.outcome.reason.message) == (
                code,
                subcode,
                "msg",
            )


def test_failure_without_reason_still_records_one() -> None:
    inv = outgoing()
    inv.completed(now=5.0, status="Failure")
    assert inv.state is S.FAILED
    assert inv.outcome is not None
    assert inv.outcome.reason is not None
    assert inv.outcome.reason.code is None
    assert inv.outcome.reason.undocumented


def test_completed_with_neither_status_nor_state_asks_for_a_get() -> None:
    inv = outgoing()
    actions = inv.completed(now=5.0)
    assert actions == (FetchResource("/inv/9", "completed carried neither status nor state"),)
    assert inv.state is S.CONNECTING
    assert inv.outcome is None
    inv.completed(now=6.0, representation=Representation(state="Connected"))
    assert inv.state is S.CONNECTED


# -- updated to a final state: the current UCWA docs list no completed (docs/protocol.md §2.3) ----------


@pytest.mark.parametrize(
    ("final", "expected", "success"),
    [
        ("Connected", S.CONNECTED, True),
        ("Declined", S.DECLINED, False),
        ("Cancelled", S.CANCELLED, False),
        ("Failed", S.FAILED, False),
        ("failed", S.FAILED, False),  # wire enums are matched ignoring case
    ],
)
def test_an_updated_to_a_final_state_ends_the_invitation_without_status(
    final: str, expected: InvitationState, success: bool
) -> None:
    inv = outgoing()
    inv.updated(now=3.0, representation=Representation(state=final, links=[Link("cancel", "/inv/9/cancel")]))
    assert inv.state is expected
    assert inv.outcome is not None
    assert inv.outcome.success is success
    assert inv.outcome.status is None
    if not success:
        assert inv.outcome.reason is not None
        assert inv.outcome.reason.code is None  # the server has not said why yet


def test_a_later_completed_fills_in_what_an_updated_end_did_not_say() -> None:
    inv = outgoing()
    inv.updated(now=3.0, representation=Representation(state="Declined"))
    inv.completed(now=4.0, status="Failure", reason=Reason("RemoteFailure", "Declined", "busy here"))
    assert inv.state is S.DECLINED
    assert inv.outcome is not None
    assert inv.outcome.status == "Failure"
    assert inv.outcome.reason == Reason("RemoteFailure", "Declined", "busy here")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("Success", None),  # success against a failure
        ("Failure", Reason("RemoteFailure", "Busy")),  # Failed, not Declined: another end
    ],
)
def test_a_later_completed_that_disagrees_changes_nothing(status: str, reason: Reason | None) -> None:
    inv = outgoing()
    inv.updated(now=3.0, representation=Representation(state="Declined"))
    first = inv.outcome
    inv.completed(now=4.0, status=status, reason=reason)
    assert inv.state is S.DECLINED
    assert inv.outcome == first


def test_an_updated_connected_crossing_our_cancel_is_the_cancel_race() -> None:
    inv = outgoing()
    inv.cancel(now=1.0)
    assert inv.updated(now=2.0, representation=Representation(state="Connected")) == ()
    assert inv.state is S.CANCEL_CROSSED
    # the cancel's response comes: now hang up, with the link the cancel used
    assert inv.request_succeeded(now=3.0) == (PostLink("cancel", "/inv/9/cancel"),)


def test_a_request_in_flight_waits_through_an_updated_that_is_not_final() -> None:
    inv = incoming()
    inv.accept(now=2.0)
    inv.updated(now=3.0, representation=Representation(state="Alerting", links=INCOMING_AV_LINKS))
    assert inv.state is S.ACCEPTING


# -- final outcomes (issue 12): provisional while a completed may still say more -----------------------

#: The grace chosen and documented in fsm/outcome.py (FINAL_GRACE): 10 s of the caller's clock.
GRACE = 10.0


def test_a_completed_with_a_status_is_final_at_once() -> None:
    inv = outgoing()
    inv.completed(now=5.0, status="Failure", reason=Reason("RemoteFailure", "Busy"))
    assert inv.outcome_is_final(5.0)


def test_a_refusal_is_final_at_once() -> None:
    inv = Invitation(kind=K.MESSAGING)
    inv.send(now=0.0, href="/s", to="sip:x")
    inv.request_failed(now=0.5, reason=Reason("BadRequest", "ParameterValidationFailure"))
    assert inv.outcome_is_final(0.5)


@pytest.mark.parametrize("how", ["updated", "GET"])
def test_an_end_without_status_is_final_only_after_the_grace(how: str) -> None:
    inv = outgoing()
    if how == "updated":
        inv.updated(now=5.0, representation=Representation(state="Declined"))
    else:  # what the adapters feed after a GET: the resource, no status
        inv.completed(now=5.0, representation=Representation(state="Declined"), href="/inv/9")
    assert inv.outcome is not None
    assert not inv.outcome_is_final(5.0)
    assert not inv.outcome_is_final(5.0 + GRACE - 0.001)
    assert inv.outcome_is_final(5.0 + GRACE)


def test_the_completed_that_fills_it_in_makes_it_final() -> None:
    inv = outgoing()
    inv.updated(now=5.0, representation=Representation(state="Declined"))
    inv.completed(now=6.0, status="Success")  # disagrees: changes nothing, final still waits
    assert not inv.outcome_is_final(6.0)
    inv.completed(now=7.0, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    assert inv.outcome_is_final(7.0)
    assert inv.outcome is not None
    assert inv.outcome.status == "Failure"


def test_no_outcome_is_never_final() -> None:
    assert not outgoing().outcome_is_final(1e9)


# -- an event with no resource asks for a GET: stale links must not gate actions --------------------


@pytest.mark.parametrize("trigger", ["started", "updated"])
def test_an_event_without_its_resource_asks_to_read_it(trigger: str) -> None:
    inv = outgoing()
    links_before = inv.representation
    actions = getattr(inv, trigger)(now=2.0, href="/inv/9")
    assert actions == (FetchResource("/inv/9", f"{trigger} carried no resource: its links may have changed"),)
    assert inv.representation == links_before  # kept until the GET's answer replaces them


def test_an_ended_invitation_reads_nothing_again() -> None:
    inv = outgoing()
    inv.completed(now=2.0, status="Failure", reason=Reason("RemoteFailure", "Busy"))
    assert inv.updated(now=3.0, href="/inv/9") == ()


# -- aggregation and ordering -----------------------------------------------------------


def test_completed_with_no_started() -> None:
    inv = Invitation(kind=K.MESSAGING)
    inv.completed(now=1.0, href="/m/1", status="Failure", reason=Reason("Informational", "Missed"))
    assert inv.state is S.FAILED
    assert inv.href == "/m/1"


def test_started_before_the_201_and_after_give_the_same_state() -> None:
    early = Invitation(kind=K.AUDIO_VIDEO)
    early.send(now=0, href="/start", operation_id="op", to="sip:x")
    early.started(now=1, href="/inv/1", representation=Representation(state="Connecting", operation_id="op"))
    early.created(now=2, href="/inv/1")
    late = Invitation(kind=K.AUDIO_VIDEO)
    late.send(now=0, href="/start", operation_id="op", to="sip:x")
    late.created(now=1, href="/inv/1")
    late.started(now=2, href="/inv/1", representation=Representation(state="Connecting", operation_id="op"))
    assert early.state is late.state is S.CONNECTING
    assert early.href == late.href == "/inv/1"


def test_progress_states_follow_the_embedded_state() -> None:
    inv = outgoing()
    inv.updated(now=1, representation=Representation(state="Alerting", links=[Link("cancel", "/c")]))
    assert inv.state is S.ALERTING
    inv.updated(now=2)  # no embedded resource: stays
    assert inv.state is S.ALERTING
    inv.updated(now=3, representation=Representation(state="TeamRing", links=[Link("cancel", "/c")]))
    inv.updated(now=4, representation=Representation(state="Forwarded", links=[Link("cancel", "/c")]))
    assert inv.state is S.FORWARDED


def test_create_refused_synchronously_fails_with_the_reason() -> None:
    inv = Invitation(kind=K.AUDIO_VIDEO)
    inv.send(now=0, href="/start", operation_id="op", to="sip:x")
    inv.request_failed(now=1, reason=Reason("BadRequest", "ParameterValidationFailure"))
    assert inv.state is S.FAILED
    assert inv.outcome is not None
    assert inv.outcome.reason == Reason("BadRequest", "ParameterValidationFailure")


def test_refused_request_returns_to_the_wire_state() -> None:
    inv = outgoing()
    inv.updated(now=1, representation=Representation(state="Alerting", links=[Link("cancel", "/c")]))
    inv.cancel(now=2)
    inv.request_failed(now=3, reason=Reason("Conflict", "None"))
    assert inv.state is S.ALERTING
    assert inv.cancel(now=4) == (PostLink("cancel", "/c"),)  # a retry is possible


# -- the cancel race and hang-up ----------------------------------------------------------


def test_cancel_then_canceled_ends_cancelled() -> None:
    inv = outgoing()
    assert inv.cancel(now=1) == (PostLink("cancel", "/inv/9/cancel"),)
    inv.request_succeeded(now=1.1)
    inv.completed(now=2, status="Failure", reason=Reason("LocalFailure", "Canceled"))
    assert inv.state is S.CANCELLED


TERMINATE = Link("cancel", "/conv/1/audioVideo/terminate")  # S3: cancel href after Connected


def answered(inv: Invitation, now: float, links: tuple[Link, ...] = (TERMINATE,)) -> Actions:
    """``completed`` Success with the Connected invitation (its cancel link now terminates the modality)."""
    return inv.completed(now=now, status="Success", representation=Representation(state="Connected", links=links))


def test_cancel_race_success_crosses_the_cancel_then_its_204_sends_the_hang_up() -> None:
    # (a) the Success overtakes the cancel's 204: the two responses would look alike, so the hang-up
    # waits for the cancel's; it is request_succeeded that asks for it, not completed
    inv = outgoing()
    assert inv.cancel(now=1) == (PostLink("cancel", "/inv/9/cancel"),)
    assert answered(inv, 2) == ()
    assert inv.state is S.CANCEL_CROSSED
    assert inv.outcome is not None
    assert inv.outcome.success
    assert inv.request_succeeded(now=3) == (PostLink("cancel", "/conv/1/audioVideo/terminate"),)  # the cancel's
    assert inv.state is S.HANGING_UP
    assert inv.request_succeeded(now=4) == ()  # the hang-up's
    assert inv.state is S.HUNG_UP
    assert inv.is_terminal
    assert inv.outcome.success  # it did connect, then we hung up
    assert [(step.source, step.dest) for step in inv.history[-4:]] == [
        (S.CONNECTING, S.CANCELLING),
        (S.CANCELLING, S.CANCEL_CROSSED),
        (S.CANCEL_CROSSED, S.HANGING_UP),
        (S.HANGING_UP, S.HUNG_UP),
    ]


def test_cancel_race_hang_up_refused_after_the_late_204_stays_connected() -> None:
    # (b) the soak's cancel-204 gap: the late 204 is the cancel's, so the refusal is the hang-up's
    inv = outgoing()
    inv.cancel(now=1)
    answered(inv, 2)
    inv.request_succeeded(now=3)
    assert inv.request_failed(now=4, reason=Reason("ServiceFailure", "None")) == ()
    assert inv.state is S.CONNECTED  # not hung_up: the server's call is still connected
    assert inv.outcome is not None
    assert (inv.outcome.success, inv.outcome.status) == (True, "Success")
    assert inv.cancel(now=5) == (PostLink("cancel", "/conv/1/audioVideo/terminate"),)  # hang up again


def test_cancel_204_first_then_success_hangs_up_at_once() -> None:
    # (c) the cancel's 204 came first: nothing is in flight, so completed asks for the hang-up itself
    inv = outgoing()
    inv.cancel(now=1)
    assert inv.request_succeeded(now=1.1) == ()
    assert inv.state is S.CANCEL_ANSWERED
    assert answered(inv, 2) == (PostLink("cancel", "/conv/1/audioVideo/terminate"),)
    assert inv.state is S.HANGING_UP
    assert inv.outcome is not None
    assert inv.outcome.success
    inv.request_succeeded(now=3)
    assert inv.state is S.HUNG_UP


def test_success_crossed_then_the_cancel_refused_hangs_up() -> None:
    # (d) the server refused the cancel because the call had connected: hang up all the same
    inv = outgoing()
    inv.cancel(now=1)
    answered(inv, 2)
    actions = inv.request_failed(now=3, reason=Reason("Conflict", "None"))
    assert actions == (PostLink("cancel", "/conv/1/audioVideo/terminate"),)
    assert inv.state is S.HANGING_UP
    assert inv.outcome is not None
    assert inv.outcome.success
    inv.request_succeeded(now=4)
    assert inv.state is S.HUNG_UP


@pytest.mark.parametrize(
    ("status", "reason"),
    [("Failure", Reason("LocalFailure", "Canceled")), ("Failure", Reason("RemoteFailure", "Canceled")), (None, None)],
)
def test_cancel_204_then_canceled_ends_cancelled(status: str | None, reason: Reason | None) -> None:
    # (e) the plain cancel: its 204, then completed Failure/Canceled (or only the embedded state)
    inv = outgoing()
    inv.cancel(now=1)
    inv.request_succeeded(now=1.1)
    assert inv.completed(now=2, status=status, reason=reason, representation=Representation(state="Cancelled")) == ()
    assert inv.state is S.CANCELLED
    assert inv.outcome is not None
    assert not inv.outcome.success


def test_cancel_race_without_new_link_reuses_the_cancel_link() -> None:
    crossed = outgoing()
    crossed.cancel(now=1)
    assert crossed.completed(now=2, status="Success") == ()
    assert crossed.request_succeeded(now=3) == (PostLink("cancel", "/inv/9/cancel"),)
    answered_first = outgoing()
    answered_first.cancel(now=1)
    answered_first.request_succeeded(now=1.1)
    assert answered(answered_first, 2, links=()) == (PostLink("cancel", "/inv/9/cancel"),)


def test_cancel_crossed_keeps_its_link_through_a_snapshot() -> None:
    inv = outgoing()
    inv.cancel(now=1)
    inv.completed(now=2, status="Success", representation=Representation(state="Connected"))  # no link in it
    back = loads(dumps(inv))
    assert back == inv
    assert isinstance(back, Invitation)
    assert back.state is S.CANCEL_CROSSED
    assert back.request_succeeded(now=3) == (PostLink("cancel", "/inv/9/cancel"),)
    assert back.hang_up_link is None  # handed over to the action
    # a snapshot from before the field existed has no such key: it restores with the default
    older = snapshot(outgoing())
    del older["model"]["hang_up_link"]
    assert restore(older) == outgoing()


def test_cancel_race_states_absorb_channel_events_or_wait_through_them() -> None:
    crossed = outgoing()
    crossed.cancel(now=1)
    answered(crossed, 2)
    outcome, rep = crossed.outcome, crossed.representation
    crossed.updated(now=2.1, representation=Representation(state="Alerting", links=[Link("cancel", "/other")]))
    crossed.completed(now=2.2, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    crossed.started(now=2.3)
    assert (crossed.state, crossed.outcome, crossed.representation) == (S.CANCEL_CROSSED, outcome, rep)
    assert all(step.source is step.dest is S.CANCEL_CROSSED for step in crossed.history[-3:])
    assert crossed.request_succeeded(now=3) == (PostLink("cancel", "/conv/1/audioVideo/terminate"),)

    waiting = outgoing()
    waiting.cancel(now=1)
    waiting.request_succeeded(now=1.1)
    waiting.updated(now=1.2, representation=Representation(state="Alerting", links=[TERMINATE]))
    assert waiting.state is S.CANCEL_ANSWERED
    assert waiting.progress is S.ALERTING  # learned: the event was not absorbed
    assert waiting.completed(now=2) == (FetchResource("/inv/9", "completed carried neither status nor state"),)
    assert waiting.state is S.CANCEL_ANSWERED


@pytest.mark.parametrize("state", ["answered", "crossed"])
def test_cancel_race_states_refuse_another_cancel_and_unexpected_responses(state: str) -> None:
    inv = outgoing()
    inv.cancel(now=1)
    if state == "answered":
        inv.request_succeeded(now=1.1)
        # nothing of ours is in flight: a response answers nothing we sent
        with pytest.raises(InvalidTrigger):
            inv.request_succeeded(now=2)
        with pytest.raises(InvalidTrigger):
            inv.request_failed(now=2, reason=Reason("Conflict", "None"))
        assert inv.state is S.CANCEL_ANSWERED
    else:
        answered(inv, 2)
    before = (inv.state, len(inv.history))
    with pytest.raises(InvalidTrigger):
        inv.cancel(now=3)
    assert (inv.state, len(inv.history)) == before


def test_connected_is_not_a_dead_end() -> None:
    inv = outgoing()
    inv.completed(
        now=2, status="Success", representation=Representation(state="Connected", links=[Link("cancel", "/term")])
    )
    assert inv.state is S.CONNECTED
    assert not inv.is_terminal
    assert inv.cancel(now=3) == (PostLink("cancel", "/term"),)
    inv.request_failed(now=4, reason=Reason("ServiceFailure", "CallbackChannelError"))
    assert inv.state is S.CONNECTED
    inv.cancel(now=5)
    inv.request_succeeded(now=6)
    assert inv.state is S.HUNG_UP


# -- absorption ----------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["declined", "connected"])
def test_completed_invitation_absorbs_late_events(end: str) -> None:
    inv = outgoing()
    if end == "declined":
        inv.completed(now=2, status="Failure", reason=Reason("RemoteFailure", "Declined"))
    else:
        inv.completed(now=2, status="Success")
    state, outcome, rep = inv.state, inv.outcome, inv.representation
    steps = len(inv.history)
    inv.updated(now=3, representation=Representation(state="Alerting", links=[Link("accept", "/a")]))
    inv.completed(now=4, status="Failure", reason=Reason("ServiceFailure", "None"))
    inv.started(now=5)
    inv.request_succeeded(now=6)
    assert (inv.state, inv.outcome, inv.representation) == (state, outcome, rep)
    assert len(inv.history) == steps + 4
    assert all(step.source is step.dest is state for step in inv.history[steps:])


def test_terminal_states_refuse_local_actions() -> None:
    inv = outgoing()
    inv.completed(now=2, status="Failure", reason=Reason("RemoteFailure", "Busy"))
    with pytest.raises(InvalidTrigger):
        inv.cancel(now=3)


# -- send and max lengths -------------------------------------------------------------------


def test_send_builds_the_create_post() -> None:
    inv = Invitation(kind=K.ONLINE_MEETING)
    (action,) = inv.send(now=0, href="/communication/joinOnlineMeeting", operation_id="op", to="sip:meet", subject="s")
    assert action == StartOperation(
        "joinOnlineMeeting",
        "/communication/joinOnlineMeeting",
        "op",
        (("onlineMeetingUri", "sip:meet"), ("subject", "s")),
    )
    assert action.body() == {"operationId": "op", "onlineMeetingUri": "sip:meet", "subject": "s"}


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("operationId", 50),
        ("subject", 250),
        ("sessionContext", 50),
        ("anonymousDisplayName", 250),
        ("callbackUrl", 1024),
    ],
)
def test_max_lengths_refused_before_anything_is_decided(field: str, limit: int) -> None:
    inv = Invitation(kind=K.AUDIO_VIDEO)
    ok = "x" * limit
    too_long = "x" * (limit + 1)
    operation_id = too_long if field == "operationId" else "op"
    subject = too_long if field == "subject" else None
    extra = {field: too_long} if field not in {"operationId", "subject"} else {}
    with pytest.raises(InvalidInput, match=field):
        inv.send(now=0, href="/s", operation_id=operation_id, to="sip:x", subject=subject, extra=extra)
    assert inv.state is S.IDLE
    assert inv.history == []
    # exactly at the limit is fine
    Invitation(kind=K.AUDIO_VIDEO).send(
        now=0,
        href="/s",
        operation_id=ok if field == "operationId" else "op",
        to="sip:x",
        subject=ok if field == "subject" else None,
        extra={field: ok} if field not in {"operationId", "subject"} else {},
    )


def test_operation_id_is_optional_as_ucwa_documents_it() -> None:
    inv = Invitation(kind=K.MESSAGING)
    (action,) = inv.send(now=0, href="/communication/startMessaging", to="sip:x")
    assert isinstance(action, StartOperation)
    assert action.operation_id is None
    assert action.body() == {"to": "sip:x"}  # no operationId key at all
    assert inv.state is S.SENDING


def test_saas_add_participant_requires_an_operation_id() -> None:
    # docs/protocol.md §1.5: the Trusted Application API's addParticipant makes operationId required
    inv = Invitation(kind=K.PARTICIPANT)
    with pytest.raises(InvalidInput, match="operationId"):
        inv.send(now=0, href="/conv/addParticipant", to="sip:x", saas=True)
    assert inv.state is S.IDLE
    (action,) = inv.send(now=0, href="/conv/addParticipant", to="sip:x", saas=True, operation_id="op")
    assert isinstance(action, StartOperation)
    assert action.operation_id == "op"
    # UCWA's does not
    Invitation(kind=K.PARTICIPANT).send(now=0, href="/conv/addParticipant", to="sip:x")


@pytest.mark.parametrize(
    ("given", "sent"),
    [(Importance.URGENT, "Urgent"), ("Emergency", "Emergency"), ("normal", "Normal"), ("URGENT", "Urgent")],
)
def test_importance_takes_its_documented_values(given: Importance | str, sent: str) -> None:
    (action,) = Invitation(kind=K.MESSAGING).send(now=0, href="/s", to="sip:x", importance=given)
    assert isinstance(action, StartOperation)
    assert action.body()["importance"] == sent


@pytest.mark.parametrize("given", ["High", "", "Normal!", "Low"])
def test_importance_refuses_anything_else_before_anything_moves(given: str) -> None:
    # docs/protocol.md §1.1: Normal, Urgent, Emergency
    inv = Invitation(kind=K.MESSAGING)
    with pytest.raises(InvalidInput, match="importance"):
        inv.send(now=0, href="/s", to="sip:x", importance=given)
    assert inv.state is S.IDLE
    assert inv.history == []


def test_send_requires_a_target() -> None:
    with pytest.raises(InvalidInput, match="target"):
        Invitation(kind=K.MESSAGING).send(now=0, href="/s", operation_id="op")


# -- history and snapshots ----------------------------------------------------------------------


def test_history_records_from_trigger_to_reason_and_time() -> None:
    inv = incoming()
    inv.decline(now=7.5, reason=CallDeclineReason.LOCAL)
    inv.completed(now=8.0, status="Failure", reason=Reason("LocalFailure", "Declined", "declined here"))
    last = inv.history[-1]
    assert (last.source, last.dest, last.at) == (S.DECLINING, S.DECLINED, 8.0)
    assert last.reason is not None
    assert "LocalFailure/Declined" in last.reason
    assert inv.history[-2].reason == "decline: Local"


def test_snapshot_round_trip_equal_model() -> None:
    inv = outgoing()
    inv.cancel(now=1)
    inv.completed(now=2, status="Failure", reason=Reason("LocalFailure", "Canceled", "m"))
    text = dumps(inv)
    back = loads(text)
    assert back == inv
    assert snapshot(back) == snapshot(inv)


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.update(version=99), "newer"),
        (lambda d: d.update(format="other"), "not a callfsm snapshot"),
        (lambda d: d.update(machine="nope"), "unknown machine"),
        (lambda d: d["model"].update(state="Ringing"), "malformed|does not fit"),
        (lambda d: d["model"].update(history=[["idle", "explode", "sending", None, 0.0]]), "malformed|does not fit"),
    ],
)
def test_bad_snapshots_are_refused_clearly(mutate: object, words: str) -> None:
    data = snapshot(outgoing())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(SnapshotError, match=words):
        restore(data)


def test_snapshot_of_garbage_text() -> None:
    with pytest.raises(SnapshotError, match="not JSON"):
        loads("{nope")
