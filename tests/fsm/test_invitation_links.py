"""The invitation machine: local actions are gated by the links the server wrote.

Accept, decline, forward, accept-and-bridge and the UCWA SDP answers, each sent only through its
own link and with its documented query or body. Expected values come from docs/protocol.md
(§1.4-§1.6) and the seeds.
"""

from __future__ import annotations

import pytest
from invitation_builders import K, S, frozen_view, incoming

from fsm import (
    CallDeclineReason,
    InvalidInput,
    InvalidTrigger,
    Invitation,
    Link,
    LinkMissing,
    PostLink,
    Reason,
    Representation,
)

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
