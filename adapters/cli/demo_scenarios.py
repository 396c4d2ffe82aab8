"""The documented scenarios that ``callfsm demo`` plays, one list per machine.

Every scenario cites where its events come from: a seed, a docs/protocol.md section,
or the terminal outcome it exists to show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen

from fsm.errors import InvalidTrigger
from fsm.invitation import Invitation, InvitationKind
from fsm.lobby_participant import LobbyParticipant
from fsm.meeting_series import MeetingSeries
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin
from fsm.reasons import CallDeclineReason, Reason, ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation
from fsm.wire import Link, Representation


@frozen
class Scenario:
    machine: str
    title: str
    make: Callable[[], FsmModel]
    #: Drives the model; may return notes (e.g. a refusal) printed under the table.
    steps: Callable[[Any], list[str] | None]


AV = InvitationKind.AUDIO_VIDEO
MSG = InvitationKind.MESSAGING

# seed 002 sample hrefs (relative, as the Trusted Application API sends them)
AV_HREF = "communication/invitations/137"
START_AV = "communication/startAudioVideo"
OUTGOING_LINKS = (Link("ms:rtc:saas:cancel", f"{AV_HREF}/cancel"), Link("ms:rtc:saas:conversation", "conversations/1"))
CONNECTED_LINKS = (Link("ms:rtc:saas:cancel", "conversations/1/audioVideo/terminate"),)
INCOMING_LINKS = (
    Link("ms:rtc:saas:accept", f"{AV_HREF}/accept"),
    Link("ms:rtc:saas:decline", f"{AV_HREF}/decline"),
    Link("ms:rtc:saas:forward", f"{AV_HREF}/forward"),
    Link("ms:rtc:saas:acceptAndBridgeAudioVideo", f"{AV_HREF}/acceptAndBridgeAudioVideo"),
    Link("ms:rtc:saas:audioVideo", "conversations/1/audioVideo"),
)


def _outgoing(inv: Invitation, t: float = 0.0) -> None:
    inv.send(now=t, href=START_AV, operation_id="5028e824", to="sip:bob@contoso.com", subject="Task Sample")
    inv.started(
        now=t + 0.1,
        href=AV_HREF,
        representation=Representation(state="Connecting", direction="Outgoing", links=OUTGOING_LINKS),
    )
    inv.created(now=t + 0.2, href=AV_HREF)


def _incoming(inv: Invitation) -> None:
    inv.started(
        now=0.0,
        href=AV_HREF,
        representation=Representation(state="Connecting", direction="Incoming", links=INCOMING_LINKS),
    )


def _answered(inv: Invitation) -> None:
    _outgoing(inv)
    inv.updated(now=1.0, representation=Representation(state="Alerting", links=OUTGOING_LINKS))
    inv.completed(now=4.0, status="Success", representation=Representation(state="Connected", links=CONNECTED_LINKS))
    inv.cancel(now=60.0)
    inv.request_succeeded(now=60.1)


def _declined_incoming(inv: Invitation) -> None:
    _incoming(inv)
    inv.decline(now=2.0, reason=CallDeclineReason.LOCAL)
    inv.request_succeeded(now=2.1)
    inv.completed(
        now=2.2, status="Failure", reason=Reason("LocalFailure", "Declined", "Invitation was declined by local user.")
    )


def _messaging_send_an_im(inv: Invitation) -> None:
    # docs/protocol.md §2.4, SendAnIM.md: completed with status Success and an embedded state Connected
    inv.send(now=0.0, href="communication/startMessaging", operation_id="5028e824", to="sip:bob@contoso.com")
    inv.created(now=0.2, href="communication/messagingInvitations/60c")
    inv.completed(
        now=1.0,
        status="Success",
        representation=Representation(state="Connected", direction="Outgoing", operation_id="5028e824"),
    )


def _messaging_status_missing(inv: Invitation) -> None:
    # S3 recording: a messaging completed with no status, only the embedded state Connected
    inv.send(now=0.0, href="communication/startMessaging", operation_id="op-7", to="sip:bob@contoso.com")
    inv.started(now=0.1, href="communication/messagingInvitations/61", representation=None)
    inv.completed(now=1.0, representation=Representation(state="Connected"))


def _accepted_incoming(inv: Invitation) -> None:
    _incoming(inv)
    inv.accept(now=3.0)
    inv.request_succeeded(now=3.1)
    inv.completed(now=3.5, status="Success", representation=Representation(state="Connected", links=CONNECTED_LINKS))


def _team_ring_forwarded(inv: Invitation) -> None:
    # phoneAudio: rings the callee's team, then is forwarded (docs/protocol.md §1.7)
    inv.send(now=0.0, href="communication/startPhoneAudio", operation_id="op-pa", to="tel:+14255550100")
    inv.created(now=0.2, href="communication/phoneAudioInvitations/3")
    inv.updated(now=2.0, representation=Representation(state="TeamRing", links=OUTGOING_LINKS))
    inv.updated(now=9.0, representation=Representation(state="Forwarded", links=OUTGOING_LINKS))
    inv.completed(now=12.0, status="Failure", reason=Reason("RemoteFailure", "Timeout", "The operation has timed out."))


def _remote_declined(inv: Invitation) -> None:
    _outgoing(inv)
    inv.completed(
        now=3.0, status="Failure", reason=Reason("RemoteFailure", "Declined", "Outgoing invitation declined.")
    )


def _busy(inv: Invitation) -> None:
    _outgoing(inv)
    inv.updated(now=1.0, representation=Representation(state="Alerting", links=OUTGOING_LINKS))
    inv.completed(
        now=2.0,
        status="Failure",
        reason=Reason("RemoteFailure", "Busy", "The remote side indicated that it is too busy at this time."),
    )


def _cancelled(inv: Invitation) -> None:
    _outgoing(inv)
    inv.cancel(now=2.0)
    inv.request_succeeded(now=2.1)
    inv.completed(
        now=2.2, status="Failure", reason=Reason("LocalFailure", "Canceled", "Invitation was canceled by local user.")
    )


def _cancel_race(inv: Invitation) -> None:
    _outgoing(inv)
    inv.cancel(now=2.0)
    # the answer overtakes the cancel's 204: cancel_crossed, no hang-up while the cancel is in flight
    inv.completed(now=2.05, status="Success", representation=Representation(state="Connected", links=CONNECTED_LINKS))
    inv.request_succeeded(now=2.1)  # the cancel's 204: hanging_up, the hang-up is sent now
    inv.request_succeeded(now=2.15)  # the hang-up's 204
    inv.completed(now=2.2, status="Failure", reason=Reason("Informational", "Canceled"))  # late: absorbed


def _missed(inv: Invitation) -> None:
    # aggregation: only the completed of an incoming call that nobody answered
    inv.completed(
        now=30.0, href=AV_HREF, status="Failure", reason=Reason("Informational", "Missed", "The invitation was missed.")
    )


def _create_refused(inv: Invitation) -> None:
    inv.send(now=0.0, href=START_AV, operation_id="op-9", to="sip:nobody")
    inv.request_failed(now=0.1, reason=Reason("BadRequest", "ParameterValidationFailure", "to: not a SIP URI"))


def _forwarded_incoming(inv: Invitation) -> None:
    _incoming(inv)
    inv.forward(now=1.0, to="sip:carol@contoso.com")
    inv.request_succeeded(now=1.1)
    inv.completed(now=1.5, status="Failure", reason=Reason("Informational", "Redirected", "The call was redirected."))


def _service_failure(inv: Invitation) -> None:
    # an incoming UCWA audio/video call (no plain accept, docs/protocol.md §1.4): our early-media answer is
    # in flight (answering_early) when the media negotiation times out
    rels = ("acceptWithAnswer", "acceptWithPhoneAudio", "sendProvisionalAnswer", "decline")
    links = tuple(Link(rel, f"{AV_HREF}/{rel}") for rel in rels)
    inv.started(
        now=0.0, href=AV_HREF, representation=Representation(state="Connecting", direction="Incoming", links=links)
    )
    inv.send_provisional_answer(now=1.0, sdp="v=0", session_context="demo-early-media")
    inv.completed(
        now=9.0,
        status="Failure",
        reason=Reason("ServiceFailure", "MediaNegotiationTimeOut", "Media negotation timed out."),
    )


def _seed_002_bare_events(inv: Invitation) -> None:
    # seed 002 samples: started, updated, completed events with no embedded resource
    inv.started(now=0.0, href=AV_HREF)
    inv.updated(now=1.0, href=AV_HREF)
    inv.completed(now=2.0, href=AV_HREF)  # neither status nor state: the machine asks for a GET
    inv.completed(now=2.5, href=AV_HREF, representation=Representation(state="Connected"))  # what the GET said


def invitation_scenarios() -> list[Scenario]:
    def make(kind: InvitationKind) -> Callable[[], FsmModel]:
        return lambda: Invitation(kind=kind)

    return [
        Scenario(
            "invitation",
            "seed 002: started, updated, completed samples (no embedded resource)",
            make(AV),
            _seed_002_bare_events,
        ),
        Scenario("invitation", "outgoing audio/video answered, then hung up", make(AV), _answered),
        Scenario(
            "invitation",
            "docs/protocol.md §2.4 SendAnIM: completed Success, embedded Connected",
            make(MSG),
            _messaging_send_an_im,
        ),
        Scenario(
            "invitation",
            "S3 messaging completed with no status: embedded state decides",
            make(MSG),
            _messaging_status_missing,
        ),
        Scenario(
            "invitation",
            "incoming audio/video declined locally (CallDeclineReason Local)",
            make(AV),
            _declined_incoming,
        ),
        Scenario("invitation", "incoming audio/video accepted", make(AV), _accepted_incoming),
        Scenario(
            "invitation",
            "outgoing phone audio: team ring, forwarded, timed out",
            make(InvitationKind.PHONE_AUDIO),
            _team_ring_forwarded,
        ),
        Scenario("invitation", "outgoing declined by the callee", make(AV), _remote_declined),
        Scenario("invitation", "callee busy: a failure that is neither declined nor cancelled", make(AV), _busy),
        Scenario("invitation", "cancelled before the answer", make(AV), _cancelled),
        Scenario("invitation", "the cancel race: the answer crosses our cancel", make(AV), _cancel_race),
        Scenario("invitation", "incoming call missed: completed with no started", make(AV), _missed),
        Scenario("invitation", "create POST refused: 400 ParameterValidationFailure", make(AV), _create_refused),
        Scenario("invitation", "incoming call forwarded", make(AV), _forwarded_incoming),
        Scenario("invitation", "service failure: media negotiation timed out", make(AV), _service_failure),
    ]


# -- online meeting join through the lobby (seed 003, docs/protocol.md §3) ----------------

OMI_HREF = "communication/onlineMeetingInvitations/414"
MEETING = "sip:organizer@contoso.com;gruu;opaque=app:conf:focus:id:7XJ2"
OMI_LINKS = (Link("ms:rtc:saas:conversation", "conversations/137"), Link("ms:rtc:saas:cancel", f"{OMI_HREF}/cancel"))


def _join(join: OnlineMeetingJoin) -> None:
    join.send(now=0.0, href="communication/joinOnlineMeeting", operation_id="join-1", online_meeting_uri=MEETING)
    join.created(now=0.2, href=OMI_HREF)
    join.started(now=0.3, href=OMI_HREF, representation=Representation(state="Connecting", links=OMI_LINKS))
    join.conversation_updated(now=1.0, state="InLobby")  # S3 Event_ConversationInLobby


def _join_admitted(join: OnlineMeetingJoin) -> None:
    _join(join)
    join.roster_added(now=20.0, href="conversations/137/participants/me")
    join.completed(now=20.1, status="Success", representation=Representation(state="Connected", links=OMI_LINKS))


def _join_rejected(join: OnlineMeetingJoin) -> None:
    _join(join)
    join.completed(now=15.0, status="Failure", reason=Reason("Forbidden", "None", "lobby participant was denied"))


def _join_meeting_ended(join: OnlineMeetingJoin) -> None:
    _join(join)
    join.completed(now=30.0, status="Failure", reason=Reason("Informational", "Ended", "meeting ended"))


def _join_lobby_timeout(join: OnlineMeetingJoin) -> None:
    join.set_lobby_deadline(300.0)
    _join(join)
    join.lobby_timeout(now=300.0)
    join.request_succeeded(now=300.1)
    join.completed(now=300.2, status="Failure", reason=Reason("LocalFailure", "Canceled"))


def _join_left_the_lobby(join: OnlineMeetingJoin) -> None:
    _join(join)
    join.cancel(now=40.0)
    join.request_succeeded(now=40.1)
    join.completed(now=40.2, status="Failure", reason=Reason("LocalFailure", "Canceled"))


def _join_left_after_connecting(join: OnlineMeetingJoin) -> None:
    _join_admitted(join)
    join.cancel(now=600.0)
    join.request_succeeded(now=600.1)


def _join_admitted_as_we_leave(join: OnlineMeetingJoin) -> None:
    _join(join)
    join.cancel(now=40.0)
    # admitted before the cancel took effect: cancel_crossed, no hang-up while the cancel is in flight
    join.roster_added(now=40.05, href="conversations/137/participants/me")
    join.completed(now=40.1, status="Success", representation=Representation(state="Connected", links=OMI_LINKS))
    # the cancel refused, the join having connected: hanging_up, the hang-up is sent now
    join.request_failed(now=40.2, reason=Reason("Conflict", "None", "the invitation can no longer be cancelled"))
    join.request_succeeded(now=40.3)  # the hang-up's 204


# -- the leader's view of a lobby participant (lobby_ref.md) ----------------------------

LOBBY = "conversations/137/participants/196"
LEADER_LINKS = (Link("admit", f"{LOBBY}/admit"), Link("reject", f"{LOBBY}/reject"))


def _lobby_admit(p: LobbyParticipant) -> None:
    p.added(now=0.0, href=LOBBY, representation=Representation(links=LEADER_LINKS), display_name="Alice")
    p.admit(now=5.0)
    p.request_succeeded(now=5.1)
    p.deleted(now=5.2)  # deleted from the lobby on admit [C]
    p.roster_added(now=5.3, href="conversations/137/participants/196")


def _lobby_reject(p: LobbyParticipant) -> None:
    p.added(now=0.0, href=LOBBY, representation=Representation(links=LEADER_LINKS), display_name="Mallory")
    p.reject(now=3.0)
    p.request_succeeded(now=3.1)
    p.deleted(now=3.2)


def _lobby_left(p: LobbyParticipant) -> None:
    p.added(now=0.0, href=LOBBY, representation=Representation(links=LEADER_LINKS))
    p.deleted(now=60.0)  # left (or timed out) before anyone acted


# -- audio/video renegotiation (seed 001, docs/protocol.md §4) -----------------------------

RENEG = "conversations/137/audioVideo/audioVideoSession/renegotiations/audioVideoRenegotiation"
RENEG_LINKS = (Link("answer", f"{RENEG}/answer"), Link("dismiss", f"{RENEG}/dismiss"))


def _incoming_offer(r: Renegotiation) -> None:
    rep = Representation(direction="Incoming", links=RENEG_LINKS)
    r.started(now=0.0, href=RENEG, representation=rep, media_offer="data:application/sdp;base64,dj0w", deadline=10.0)


def _reneg_dismissed(r: Renegotiation) -> None:
    _incoming_offer(r)
    r.dismiss(now=1.0, reason=ReNegotiationDeclineReason.INSUFFICIENT_BANDWIDTH)  # seed 001 JSON sample
    r.request_succeeded(now=1.1)


def _reneg_answered(r: Renegotiation) -> None:
    _incoming_offer(r)
    r.answer(now=1.0)
    r.request_succeeded(now=1.1)


def _reneg_expired(r: Renegotiation) -> None:
    _incoming_offer(r)
    r.expire(now=10.0)
    r.request_succeeded(now=10.1)


def _reneg_ours_completed(r: Renegotiation) -> None:
    r.offer(
        now=0.0, href="conversations/137/audioVideo/audioVideoSession/renegotiations", operation_id="reneg-1", sdp="v=0"
    )
    r.created(now=0.2, href=RENEG, representation=Representation(direction="Outgoing"))
    r.remote_answered(now=0.8, media_answer="data:application/sdp;base64,dj0w")


def _reneg_ours_rejected(r: Renegotiation) -> None:
    r.offer(
        now=0.0, href="conversations/137/audioVideo/audioVideoSession/renegotiations", operation_id="reneg-3", sdp="v=0"
    )
    r.created(now=0.2, href=RENEG, representation=Representation(direction="Outgoing"))
    r.remote_rejected(now=0.5, reason=Reason("RemoteFailure", "UnsupportedMediaType"))


def _reneg_ours_failed(r: Renegotiation) -> None:
    r.offer(
        now=0.0, href="conversations/137/audioVideo/audioVideoSession/renegotiations", operation_id="reneg-4", sdp="v=0"
    )
    r.request_failed(now=0.1, reason=Reason("ServiceFailure", "CallbackChannelError"))


def _reneg_ours_expired(r: Renegotiation) -> None:
    r.offer(
        now=0.0,
        href="conversations/137/audioVideo/audioVideoSession/renegotiations",
        operation_id="r-5",
        sdp="v=0",
        deadline=30.0,
    )
    r.created(now=0.2, href=RENEG, representation=Representation(direction="Outgoing"))
    r.expire(now=30.0)


def _reneg_collision(r: Renegotiation) -> None:
    r.offer(
        now=0.0, href="conversations/137/audioVideo/audioVideoSession/renegotiations", operation_id="reneg-2", sdp="v=0"
    )
    r.request_failed(now=0.1, reason=Reason("Conflict", "AlreadyExists", "another renegotiation is in progress"))


# -- Huawei recurring meeting series (seed 004, docs/protocol.md §7) ----------------------------


def _series_cancelled(m: MeetingSeries) -> None:
    m.cancel(now=0.0)
    m.cancel_succeeded(now=0.3)


def _series_held_refused_then_forced(m: MeetingSeries) -> list[str]:
    notes: list[str] = []
    m.conference_state_observed(now=0.0, conference_state="Created")  # held once: Created
    try:
        m.cancel(now=0.5)  # without type=1: refused locally, nothing is sent
    except InvalidTrigger as refused:
        notes.append(f"refused: {refused}")
    m.cancel(now=1.0, cancel_ongoing=True)  # type=1
    m.cancel_succeeded(now=1.2)
    return notes


def _series_token_expired(m: MeetingSeries) -> None:
    m.cancel(now=0.0)
    m.cancel_failed(now=0.2, status=401, error_code="USG.000000005", error_msg="token expired")
    m.cancel(now=5.0)  # retried with a fresh token
    m.cancel_succeeded(now=5.2)


def _series_sub_meetings(m: MeetingSeries) -> None:
    m.cancel_sub_meetings(now=0.0, ids=["3b5c...-sub-1", "3b5c...-sub-2"])
    m.sub_cancel_succeeded(now=0.2, ids=["3b5c...-sub-1", "3b5c...-sub-2"])
    m.ended(now=86400.0)


def other_scenarios() -> list[Scenario]:
    def join() -> FsmModel:
        return OnlineMeetingJoin()

    def series() -> FsmModel:
        return MeetingSeries(conference_id="984697426")

    return [
        Scenario("online_meeting", "join through the lobby, admitted (seed 003)", join, _join_admitted),
        Scenario("online_meeting", "rejected from the lobby", join, _join_rejected),
        Scenario("online_meeting", "meeting ended while waiting (Informational/Ended)", join, _join_meeting_ended),
        Scenario("online_meeting", "our lobby deadline passed: leave", join, _join_lobby_timeout),
        Scenario("online_meeting", "left the lobby before admission", join, _join_left_the_lobby),
        Scenario("online_meeting", "admitted, then left the meeting", join, _join_left_after_connecting),
        Scenario("online_meeting", "the cancel race: admitted as our cancel arrives", join, _join_admitted_as_we_leave),
        Scenario("lobby_participant", "leader admits a lobby participant", LobbyParticipant, _lobby_admit),
        Scenario("lobby_participant", "leader rejects a lobby participant", LobbyParticipant, _lobby_reject),
        Scenario("lobby_participant", "participant leaves the lobby", LobbyParticipant, _lobby_left),
        Scenario(
            "renegotiation",
            "incoming offer dismissed: InsufficientBandwidth (seed 001)",
            Renegotiation,
            _reneg_dismissed,
        ),
        Scenario("renegotiation", "incoming offer answered", Renegotiation, _reneg_answered),
        Scenario("renegotiation", "incoming offer not answered before its deadline", Renegotiation, _reneg_expired),
        Scenario("renegotiation", "our offer answered by the remote", Renegotiation, _reneg_ours_completed),
        Scenario("renegotiation", "our offer collides: 409 AlreadyExists", Renegotiation, _reneg_collision),
        Scenario("renegotiation", "our offer rejected by the remote", Renegotiation, _reneg_ours_rejected),
        Scenario("renegotiation", "our offer refused: 500 CallbackChannelError", Renegotiation, _reneg_ours_failed),
        Scenario("renegotiation", "our offer unanswered before its deadline", Renegotiation, _reneg_ours_expired),
        Scenario("meeting_series", "cancel a scheduled series: 200 (seed 004)", series, _series_cancelled),
        Scenario("meeting_series", "a held series needs type=1", series, _series_held_refused_then_forced),
        Scenario("meeting_series", "401 keeps the series; the retry succeeds", series, _series_token_expired),
        Scenario("meeting_series", "cancel two sub-meetings, then the series ends", series, _series_sub_meetings),
    ]


def all_scenarios() -> list[Scenario]:
    return invitation_scenarios() + other_scenarios()
