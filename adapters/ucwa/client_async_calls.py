"""The asyncio client's local calls: the twins of :mod:`adapters.ucwa.client_sync_calls`, awaited.

Each call fires its machine's trigger first (a refused trigger raises, nothing sent), then
:meth:`AsyncUcwaCalls.perform` awaits the core's plan for the actions. Separate from
:mod:`adapters.ucwa.client_async` (the application's lifecycle, its event channel task and the change
iterators) because these need nothing of the channel.
"""

from __future__ import annotations

from typing import Any, TypeVar

from adapters.transport.http import AsyncSender
from adapters.ucwa.client_core import Cancellable, ClientCore, M
from adapters.ucwa.client_plans import Plan, arun_plan
from adapters.wire.requests import Applied, HttpResponse
from fsm.actions import Action, Actions
from fsm.invitation import Invitation, InvitationKind
from fsm.lobby_participant import LobbyParticipant
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin
from fsm.reasons import CallDeclineReason, ReNegotiationDeclineReason
from fsm.renegotiation import Renegotiation

T = TypeVar("T")


class AsyncUcwaCalls(ClientCore):
    """What the app asks of its calls through an :class:`~adapters.ucwa.client_async.AsyncUcwaClient`."""

    sender: AsyncSender

    async def start_audio_video(
        self, to: str, *, subject: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """The asyncio twin of :meth:`UcwaClient.start_audio_video`."""
        kind = InvitationKind.AUDIO_VIDEO
        return await self._sent(*self._outgoing(kind, to, operation_id=operation_id, subject=subject, extra=extra))

    async def start_messaging(
        self, to: str, *, subject: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """The asyncio twin of :meth:`UcwaClient.start_messaging`."""
        kind = InvitationKind.MESSAGING
        return await self._sent(*self._outgoing(kind, to, operation_id=operation_id, subject=subject, extra=extra))

    async def add_participant(
        self, to: str, *, href: str | None = None, operation_id: str | None = None, **extra: Any
    ) -> Invitation:
        """The asyncio twin of :meth:`UcwaClient.add_participant` (``href``: the conversation's link)."""
        kind = InvitationKind.PARTICIPANT
        return await self._sent(*self._outgoing(kind, to, href=href, operation_id=operation_id, extra=extra))

    async def join_online_meeting(
        self,
        meeting_uri: str,
        *,
        subject: str | None = None,
        operation_id: str | None = None,
        lobby_deadline: float | None = None,
        **extra: Any,
    ) -> OnlineMeetingJoin:
        """The asyncio twin of :meth:`UcwaClient.join_online_meeting`."""
        join = self._join(
            meeting_uri, subject=subject, operation_id=operation_id, lobby_deadline=lobby_deadline, extra=extra
        )
        return await self._sent(*join)

    async def accept(self, invitation: Invitation, *, media_host: str | None = None) -> None:
        """The asyncio twin of :meth:`UcwaClient.accept`."""
        await self.perform(invitation, invitation.accept(now=self.clock(), media_host=media_host))

    async def accept_with_answer(
        self, invitation: Invitation, sdp: str, *, session_context: str, processed_offer_id: str | None = None
    ) -> None:
        """The asyncio twin of :meth:`UcwaClient.accept_with_answer`."""
        await self.perform(
            invitation,
            invitation.accept_with_answer(
                now=self.clock(), sdp=sdp, session_context=session_context, processed_offer_id=processed_offer_id
            ),
        )

    async def accept_with_phone_audio(self, invitation: Invitation) -> None:
        """The asyncio twin of :meth:`UcwaClient.accept_with_phone_audio`."""
        await self.perform(invitation, invitation.accept_with_phone_audio(now=self.clock()))

    async def send_provisional_answer(
        self, invitation: Invitation, sdp: str, *, session_context: str, processed_offer_id: str | None = None
    ) -> None:
        """The asyncio twin of :meth:`UcwaClient.send_provisional_answer`."""
        await self.perform(
            invitation,
            invitation.send_provisional_answer(
                now=self.clock(), sdp=sdp, session_context=session_context, processed_offer_id=processed_offer_id
            ),
        )

    async def decline(self, invitation: Invitation, reason: CallDeclineReason | None = None) -> None:
        """The asyncio twin of :meth:`UcwaClient.decline`."""
        await self.perform(invitation, invitation.decline(now=self.clock(), reason=reason))

    async def forward(self, invitation: Invitation, to: str | None = None) -> None:
        """The asyncio twin of :meth:`UcwaClient.forward`."""
        await self.perform(invitation, invitation.forward(now=self.clock(), to=to))

    async def cancel(self, model: Cancellable) -> None:
        """The asyncio twin of :meth:`UcwaClient.cancel` (an invitation or a join)."""
        await self.perform(model, model.cancel(now=self.clock()))

    async def offer(
        self,
        session: str,
        sdp: str,
        *,
        href: str,
        operation_id: str | None = None,
        deadline: float | None = None,
    ) -> Renegotiation:
        """The asyncio twin of :meth:`UcwaClient.offer` (``href``: the session's ``renegotiations`` link)."""
        return await self._sent(*self._offer(session, sdp, href=href, operation_id=operation_id, deadline=deadline))

    async def answer(self, renegotiation: Renegotiation) -> None:
        """The asyncio twin of :meth:`UcwaClient.answer`."""
        await self.perform(renegotiation, renegotiation.answer(now=self.clock()))

    async def dismiss(self, renegotiation: Renegotiation, reason: ReNegotiationDeclineReason | None = None) -> None:
        """The asyncio twin of :meth:`UcwaClient.dismiss`."""
        await self.perform(renegotiation, renegotiation.dismiss(now=self.clock(), reason=reason))

    async def admit(self, participant: LobbyParticipant) -> None:
        """The asyncio twin of :meth:`UcwaClient.admit`."""
        await self.perform(participant, participant.admit(now=self.clock()))

    async def reject(self, participant: LobbyParticipant) -> None:
        """The asyncio twin of :meth:`UcwaClient.reject`."""
        await self.perform(participant, participant.reject(now=self.clock()))

    async def _sent(self, model: M, actions: Actions) -> M:
        await self.perform(model, actions)
        return model

    async def perform(self, model: FsmModel, actions: Actions) -> list[Applied]:
        """The asyncio twin of :meth:`UcwaClient.perform` (creating POSTs tracked first, the same way)."""
        return await self._run(self._perform_plan(model, actions))

    async def _run(self, plan: Plan[Action, HttpResponse, T]) -> T:
        return await arun_plan(plan, self.sender.perform)
