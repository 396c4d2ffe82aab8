"""A meeting's lobby, seen by its leader: guests arrive, wait, leave, and are admitted or rejected.

Each guest has a :class:`~fsm.lobby_participant.LobbyParticipant` shadow.
The user's *own* wait in a lobby (joining someone else's meeting) is the
join's plan, in :mod:`.remote_party`; this is the other side, where the user
leads a connected meeting and the script sends guests
(:class:`~adapters.simulator.script.LobbyArrival`).
"""

from __future__ import annotations

import logging

from adapters.simulator.core import WorldCore, bind
from adapters.simulator.profiles import Phase
from adapters.simulator.records import ET, Application, Conversation, Participant, _event
from adapters.simulator.replies import NO_CONTENT, Reply, SimRequest, _conflict
from adapters.simulator.script import LobbyArrival
from adapters.wire.events import representation_of
from fsm.errors import CallFsmError
from fsm.invitation import InvitationKind
from fsm.lobby_participant import LobbyParticipant

log = logging.getLogger("callfsm.simulator")


class Lobby:
    """The guests of the connected meetings' lobbies (each conversation holds its own)."""

    def __init__(self, core: WorldCore) -> None:
        self.core = core

    def connected_meeting(self) -> tuple[Application, Conversation] | None:
        """Where a guest arrives: the newest connected online meeting."""
        for app in self.core.live_apps():
            for conv in reversed(app.conversations):
                rec = conv.invitation
                if rec is not None and rec.kind is InvitationKind.ONLINE_MEETING and rec.phase is Phase.CONNECTED:
                    return app, conv
        return None

    def arrival(self, app: Application, conv: Conversation, arrival: LobbyArrival) -> None:
        record = conv.invitation
        if app.gone or record is None or record.phase is not Phase.CONNECTED:
            self.core.waiting.append(arrival)
            return
        now = self.core.clock.now()
        guest = Participant(
            conv.new_participant_href(), conv.href, arrival.name, arrival.uri, in_lobby=True, actionable=True
        )
        guest.shadow = LobbyParticipant()
        conv.lobby[guest.href] = guest
        app.resources[guest.href] = guest.render
        app.actions[f"{guest.href}/admit"] = bind(self._post, app, conv, guest, "admit")
        app.actions[f"{guest.href}/reject"] = bind(self._post, app, conv, guest, "reject")
        document = guest.render()
        shadow = guest.shadow
        self.core.emit(
            app,
            ("conversation", conv.href),
            _event("participant", guest.href, ET.ADDED, embedded=document, in_=("lobby", f"{conv.href}/lobby")),
            lambda: shadow.added(
                now=now, href=guest.href, representation=representation_of(document), display_name=guest.name
            ),
        )
        if arrival.leave_after is not None:
            self.core.after(arrival.leave_after, bind(self._leave, app, conv, guest))

    def _leave(self, app: Application, conv: Conversation, guest: Participant) -> None:
        shadow = guest.shadow
        if guest.href not in conv.lobby or shadow is None or shadow.is_terminal:
            return
        now = self.core.clock.now()
        del conv.lobby[guest.href]
        guest.in_lobby = False
        self.core.emit(
            app,
            ("conversation", conv.href),
            _event("participant", guest.href, ET.DELETED, in_=("lobby", f"{conv.href}/lobby")),
            lambda: shadow.deleted(now=now),
        )

    def _post(self, app: Application, conv: Conversation, guest: Participant, verb: str, request: SimRequest) -> Reply:
        now = self.core.clock.now()
        shadow = guest.shadow
        if shadow is None or guest.href not in conv.lobby:
            return _conflict(f"the participant offers no {verb} link now")
        try:
            if verb == "admit":
                shadow.admit(now=now)
            else:
                shadow.reject(now=now)
        except CallFsmError as exc:
            return _conflict(str(exc))
        shadow.request_succeeded(now=now)
        del conv.lobby[guest.href]
        guest.in_lobby = False
        lobby = ("lobby", f"{conv.href}/lobby")
        self.core.emit(
            app,
            ("conversation", conv.href),
            _event("participant", guest.href, ET.DELETED, in_=lobby),
            lambda: shadow.deleted(now=now),
        )
        if verb == "admit":
            conv.roster[guest.href] = guest
            self.core.emit(
                app,
                ("conversation", conv.href),
                _event("participant", guest.href, ET.ADDED, embedded=guest.render()),
                lambda: shadow.roster_added(now=now, href=guest.href),
            )
        log.info("lobby participant %s: %s", guest.href, verb)
        return NO_CONTENT
