"""Conversations and their modalities as resources: creating one, and the events that say how it stands.

A conversation is opened by an invitation (outgoing or incoming) and its
links act on that invitation, its renegotiations and its messages; those
links are registered by :mod:`.invitations`, which opens conversations. What
is here is only what every component needs of a conversation: its resources
(GET) and its ``conversation`` and modality ``updated`` events. Separate so
that the invitation, renegotiation, lobby and messaging components share it
without importing each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from adapters.simulator.core import WorldCore
from adapters.simulator.records import (
    ET,
    MS,
    Application,
    Conversation,
    Modality,
    Participant,
    _event,
)
from adapters.wire.events import EventType
from fsm.online_meeting import ConversationState, OnlineMeetingJoin


class Conversations:
    """Opens conversations and emits their events; holds no state of its own (the applications hold them)."""

    def __init__(self, core: WorldCore) -> None:
        self.core = core

    def new_conversation(
        self,
        app: Application,
        *,
        subject: str | None,
        state: ConversationState,
        meeting_uri: str | None,
        modality: str | None,
    ) -> Conversation:
        """A conversation and its resources; the caller adds the links (POST) that act on its invitation."""
        ident = next(app.conversation_ids)
        href = f"{app.communication}/conversations/{ident}"
        thread = hashlib.sha1(f"{app.ident}:{ident}".encode(), usedforsecurity=False).hexdigest()[:32]
        user_name, user_uri = self.core.user
        local = Participant(f"{href}/participants/1", href, user_name, user_uri, rel="localParticipant", local=True)
        conv = Conversation(ident, href, thread, local, subject, state, meeting_uri)
        conv.add_participant_href = app.path(
            app.layout.add_participant.format(conversation=href[len(app.href) + 1 :], ident=ident)
        )
        if modality is not None:
            conv.modalities[modality] = Modality(modality, f"{href}/{modality}", href, MS.CONNECTING)
        app.conversations.append(conv)
        app.resources[href] = conv.render
        app.resources[local.href] = local.render
        app.resources[f"{href}/participants"] = conv.render_participants
        if meeting_uri is not None:
            app.resources[f"{href}/lobby"] = conv.render_lobby
        for mod in conv.modalities.values():
            app.resources[mod.href] = mod.render
            if mod.name == "audioVideo":
                app.resources[mod.session_href] = mod.render_session
        return conv

    def conversation_event(
        self, app: Application, conv: Conversation, kind: EventType, apply: Callable[[], object] | None = None
    ) -> None:
        self.core.emit(
            app,
            ("communication", app.communication),
            _event("conversation", conv.href, kind, embedded=conv.render()),
            apply,
        )

    def modality_event(self, app: Application, conv: Conversation, modality: Modality) -> None:
        self.core.emit(
            app,
            ("conversation", conv.href),
            _event(modality.name, modality.href, ET.UPDATED, embedded=modality.render()),
        )


def bind_conversation(shadow: OnlineMeetingJoin, now: float, state: ConversationState) -> Callable[[], object]:
    """The join's shadow hears the conversation's new state (applied when its event is emitted)."""
    return lambda: shadow.conversation_updated(now=now, state=state.value)
