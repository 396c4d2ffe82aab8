"""The documented scenarios that ``callfsm demo`` plays, one list per machine.

Every scenario cites where its events come from: a seed, a domain.md section,
or the terminal outcome it exists to show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen

from fsm.invitation import Invitation, InvitationKind
from fsm.model import FsmModel
from fsm.reasons import CallDeclineReason, Reason
from fsm.wire import Link, Representation


@frozen
class Scenario:
    machine: str
    title: str
    make: Callable[[], FsmModel]
    steps: Callable[[Any], None]


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
    # domain.md 2.4, SendAnIM.md: completed with status Success and an embedded state Connected
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
    inv.completed(now=2.05, status="Success", representation=Representation(state="Connected", links=CONNECTED_LINKS))
    inv.request_succeeded(now=2.1)  # the first cancel's 204
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
    _outgoing(inv)
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
            "domain.md 2.4 SendAnIM: completed Success, embedded Connected",
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
        Scenario("invitation", "outgoing declined by the callee", make(AV), _remote_declined),
        Scenario("invitation", "callee busy: a failure that is neither declined nor cancelled", make(AV), _busy),
        Scenario("invitation", "cancelled before the answer", make(AV), _cancelled),
        Scenario("invitation", "the cancel race: the answer crosses our cancel", make(AV), _cancel_race),
        Scenario("invitation", "incoming call missed: completed with no started", make(AV), _missed),
        Scenario("invitation", "create POST refused: 400 ParameterValidationFailure", make(AV), _create_refused),
        Scenario("invitation", "incoming call forwarded", make(AV), _forwarded_incoming),
        Scenario("invitation", "service failure: media negotiation timed out", make(AV), _service_failure),
    ]


def all_scenarios() -> list[Scenario]:
    return invitation_scenarios()
