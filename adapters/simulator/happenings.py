"""The script's happenings: an incoming call, message, renegotiation or lobby guest, each fired when it can be.

A happening waits in :attr:`WorldCore.waiting` until its precondition holds
(an available application, a connected messaging modality, a connected call,
a connected meeting), then fires after its own delay on the resource that
qualifies, newest first. Separate because it is the one place that knows
every resource component: the components only put a happening back in the
queue, and this releases it again whenever something connects.
"""

from __future__ import annotations

from adapters.simulator.applications import Applications
from adapters.simulator.core import WorldCore, bind
from adapters.simulator.invitations import Invitations
from adapters.simulator.lobby import Lobby
from adapters.simulator.messaging import Messaging
from adapters.simulator.renegotiations import Renegotiations
from adapters.simulator.script import Happening, IncomingCall, IncomingMessage, IncomingRenegotiation


class Happenings:
    """Releases the waiting happenings to the components that play them."""

    def __init__(
        self,
        core: WorldCore,
        *,
        applications: Applications,
        invitations: Invitations,
        messaging: Messaging,
        renegotiations: Renegotiations,
        lobby: Lobby,
    ) -> None:
        self.core = core
        self.applications = applications
        self.invitations = invitations
        self.messaging = messaging
        self.renegotiations = renegotiations
        self.lobby = lobby

    def release(self) -> None:
        """Fire the happenings whose precondition now holds (after their own delay)."""
        core = self.core
        still: list[Happening] = []
        for happening in core.waiting:
            if isinstance(happening, IncomingCall):
                app = self.applications.available_app()
                if app is None:
                    still.append(happening)
                    continue
                core.after(happening.after, bind(self.invitations.incoming_call, app, happening))
            elif isinstance(happening, IncomingMessage):
                chat = self.messaging.connected_messaging()
                if chat is None:
                    still.append(happening)
                    continue
                core.after(happening.after, bind(self.messaging.incoming_message, chat[0], chat[1], happening))
            elif isinstance(happening, IncomingRenegotiation):
                conv = self.renegotiations.connected_call()
                if conv is None:
                    still.append(happening)
                    continue
                core.after(happening.after, bind(self.renegotiations.incoming, conv, happening))
            else:
                meeting = self.lobby.connected_meeting()
                if meeting is None:
                    still.append(happening)
                    continue
                core.after(happening.after, bind(self.lobby.arrival, meeting[0], meeting[1], happening))
        core.waiting = still
