"""The sync client's local calls: the app's requests (call, accept, decline, offer, admit...) and ``perform``.

Each call fires its machine's trigger first, so a refused trigger or an over-long value raises before
anything is sent; then :meth:`UcwaCalls.perform` runs the core's plan for the actions with the client's
sender. Separate from :mod:`adapters.ucwa.client_sync` (the application's lifecycle and its event
channel) because these are what the app asks of its calls, and they need nothing of the channel.
"""

from __future__ import annotations

from typing import Any, TypeVar

from adapters.transport.http import SyncSender
from adapters.ucwa.client_core import Cancellable, ClientCore, M
from adapters.ucwa.client_plans import Plan, run_plan
from adapters.wire.requests import Applied, HttpResponse
from fsm.actions import Action, Actions
from fsm.invitation import Invitation, InvitationKind
from fsm.lobby_participant import LobbyParticipant
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin
from fsm.reasons import CallDeclineReason, ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation

T = TypeVar("T")


class UcwaCalls(ClientCore):
    """What the app asks of its calls through a :class:`~adapters.ucwa.client_sync.UcwaClient`."""

    sender: SyncSender

    def start_audio_video(
        self, to: str, *, subject: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """Call ``to``: POST ``startAudioVideo``; returns the invitation, already fed its 201."""
        kind = InvitationKind.AUDIO_VIDEO
        return self._sent(*self._outgoing(kind, to, operation_id=operation_id, subject=subject, extra=extra))

    def start_messaging(
        self, to: str, *, subject: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """Start an IM conversation with ``to``: POST ``startMessaging``; returns the messagingInvitation."""
        kind = InvitationKind.MESSAGING
        return self._sent(*self._outgoing(kind, to, operation_id=operation_id, subject=subject, extra=extra))

    def add_participant(
        self, to: str, *, href: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """Invite ``to`` into a conversation: POST ``addParticipant``; returns the participantInvitation.

        ``addParticipant`` is a link of the conversation (read it from the
        conversation resource an invitation's ``conversation`` link names), not
        of the application: pass it as ``href``. Without ``href`` the
        application's own ``addParticipant`` link is used, and a
        :class:`ClientError` is raised (nothing sent) when it has none.
        """
        kind = InvitationKind.PARTICIPANT
        return self._sent(*self._outgoing(kind, to, href=href, operation_id=operation_id, extra=extra))

    def join_online_meeting(
        self,
        meeting_uri: str,
        *,
        subject: str | None = None,
        operation_id: str | None = None,
        lobby_deadline: float | None = None,
        **extra: Any,
    ) -> OnlineMeetingJoin:
        """Join the meeting ``meeting_uri``: POST ``joinOnlineMeeting``; returns the join, fed its 201.

        The join then waits in the lobby (if the meeting has one) until admitted
        or rejected: follow ``join.state``. ``extra`` carries further properties
        by their wire names (``anonymousDisplayName`` for an anonymous user,
        ``importance``...), length-checked like ``subject``. ``lobby_deadline``
        is an absolute time on this client's ``clock``; once
        ``join.lobby_timeout_due(client.clock())``, ``client.perform(join,
        join.lobby_timeout(now=client.clock()))`` leaves (the client fires no timer).
        """
        join = self._join(
            meeting_uri, subject=subject, operation_id=operation_id, lobby_deadline=lobby_deadline, extra=extra
        )
        return self._sent(*join)

    def accept(self, invitation: Invitation, *, media_host: str | None = None) -> None:
        """Accept an incoming invitation: POST its ``accept`` link, and no other (``LinkMissing`` without one).

        UCWA audio/video has no ``accept``: use :meth:`accept_with_answer` or
        :meth:`accept_with_phone_audio`. ``media_host``: the optional body of
        ``ms:rtc:saas:accept``.
        """
        self.perform(invitation, invitation.accept(now=self.clock(), media_host=media_host))

    def accept_with_answer(
        self, invitation: Invitation, sdp: str, *, session_context: str, processed_offer_id: str | None = None
    ) -> None:
        """UCWA audio/video: POST ``acceptWithAnswer`` with the SDP answer (``application/sdp``)."""
        self.perform(
            invitation,
            invitation.accept_with_answer(
                now=self.clock(), sdp=sdp, session_context=session_context, processed_offer_id=processed_offer_id
            ),
        )

    def accept_with_phone_audio(self, invitation: Invitation) -> None:
        """UCWA audio/video: POST ``acceptWithPhoneAudio`` (the audio goes to the user's phone)."""
        self.perform(invitation, invitation.accept_with_phone_audio(now=self.clock()))

    def send_provisional_answer(
        self, invitation: Invitation, sdp: str, *, session_context: str, processed_offer_id: str | None = None
    ) -> None:
        """UCWA audio/video early media: POST ``sendProvisionalAnswer``; the invitation keeps ringing."""
        self.perform(
            invitation,
            invitation.send_provisional_answer(
                now=self.clock(), sdp=sdp, session_context=session_context, processed_offer_id=processed_offer_id
            ),
        )

    def decline(self, invitation: Invitation, reason: CallDeclineReason | None = None) -> None:
        """Decline an incoming invitation: POST its ``decline`` link, with ``reason`` when given."""
        self.perform(invitation, invitation.decline(now=self.clock(), reason=reason))

    def forward(self, invitation: Invitation, to: str | None = None) -> None:
        """Forward an incoming invitation (to ``to``, optional as documented): POST its ``forward`` link."""
        self.perform(invitation, invitation.forward(now=self.clock(), to=to))

    def cancel(self, model: Cancellable) -> None:
        """Cancel an outgoing invitation or hang up a connected one; leave a join's lobby, or its meeting."""
        self.perform(model, model.cancel(now=self.clock()))

    def offer(
        self,
        session: str,
        sdp: str,
        *,
        href: str,
        operation_id: str | None = None,
        deadline: float | None = None,
    ) -> Renegotiation:
        """Offer new media (``sdp``) on the audio/video session ``session`` (its href); returns our renegotiation.

        ``href`` is that session's ``renegotiations`` link (read from the
        audioVideoSession resource). At most one renegotiation per session is
        in flight: a second offer raises
        :class:`~fsm.renegotiation.RenegotiationInFlight`, nothing sent; an
        incoming offer crossing ours is dismissed (glare). ``deadline``: an
        absolute time on this client's ``clock``.
        """
        return self._sent(*self._offer(session, sdp, href=href, operation_id=operation_id, deadline=deadline))

    def answer(self, renegotiation: Renegotiation) -> None:
        """Accept the remote's renegotiation offer: POST its ``answer`` link."""
        self.perform(renegotiation, renegotiation.answer(now=self.clock()))

    def dismiss(self, renegotiation: Renegotiation, reason: ReNegotiationDeclineReason | None = None) -> None:
        """Refuse the remote's renegotiation offer: POST its ``dismiss`` link, with ``reason`` when given."""
        self.perform(renegotiation, renegotiation.dismiss(now=self.clock(), reason=reason))

    def admit(self, participant: LobbyParticipant) -> None:
        """Admit a participant waiting in the lobby of our meeting (leader): POST its ``admit`` link."""
        self.perform(participant, participant.admit(now=self.clock()))

    def reject(self, participant: LobbyParticipant) -> None:
        """Refuse a participant waiting in the lobby of our meeting (leader): POST its ``reject`` link."""
        self.perform(participant, participant.reject(now=self.clock()))

    def _sent(self, model: M, actions: Actions) -> M:
        self.perform(model, actions)
        return model

    def perform(self, model: FsmModel, actions: Actions) -> list[Applied]:
        """Send ``actions`` (from ``model``'s trigger), feed each response back; raise the first error.

        A creating POST's model is tracked by the dispatcher under its operation
        id first, so that its events are routed to it, even those that beat the 201.
        """
        return self._run(self._perform_plan(model, actions))

    def _run(self, plan: Plan[Action, HttpResponse, T]) -> T:
        return run_plan(plan, self.sender.perform)
