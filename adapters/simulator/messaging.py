"""Instant messages: the user's ``sendMessage``, and messages from the remote side.

Separate from the invitations because a message belongs to a connected
messaging modality, whichever way the conversation began; the invitation
components only call :meth:`Messaging.message_event` (an accepted
invitation's first message).
"""

from __future__ import annotations

import logging

from adapters.simulator.core import WorldCore
from adapters.simulator.records import ET, MS, Application, Conversation, Modality, _event
from adapters.simulator.render import text_data_uri
from adapters.simulator.replies import Document, Reply, SimRequest, _conflict, ucwa_error
from adapters.simulator.script import IncomingMessage
from fsm.outcome import CompletionStatus
from fsm.wire import Direction

log = logging.getLogger("callfsm.simulator")


class Messaging:
    """The messages of the applications' conversations (they hold them, as ``message`` resources)."""

    def __init__(self, core: WorldCore) -> None:
        self.core = core

    def send_message(self, app: Application, conv: Conversation, modality: Modality, request: SimRequest) -> Reply:
        """``sendMessage``: 201 with the message's href, then its ``completed`` (SendAnIM sample)."""
        if modality.state is not MS.CONNECTED:
            return _conflict("the messaging modality is not connected")
        media = (request.content_type or "").split(";", 1)[0].strip().lower()
        if media not in ("text/plain", "text/html", ""):
            return ucwa_error(415, "UnsupportedMediaType", None, "a message is text/plain or text/html")
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return ucwa_error(400, "BadRequest", None, "the message is not UTF-8")
        href = self.message_event(app, conv, Direction.OUTGOING, text)
        return Reply(201, headers=(("location", href),))

    def message_event(self, app: Application, conv: Conversation, direction: Direction, text: str) -> str:
        modality = conv.modalities.get("messaging")
        assert modality is not None
        href = f"{modality.messages_href}/{next(conv.message_ids)}"
        document: Document = {
            "rel": "message",
            "direction": direction.value,
            "_links": {
                "self": {"href": href},
                "messaging": {"href": modality.href},
                "plainMessage": {"href": text_data_uri(text)},
            },
        }
        app.resources[href] = lambda: document
        self.core.emit(
            app,
            ("conversation", conv.href),
            _event("message", href, ET.COMPLETED, embedded=document, status=CompletionStatus.SUCCESS),
        )
        log.info("message %s: %s", direction.value.lower(), href)
        return href

    def incoming_message(self, app: Application, conv: Conversation, happening: IncomingMessage) -> None:
        modality = conv.modalities.get("messaging")
        if app.gone or modality is None or modality.state is not MS.CONNECTED:
            self.core.waiting.append(happening)
            return
        self.message_event(app, conv, Direction.INCOMING, happening.text)

    def connected_messaging(self) -> tuple[Application, Conversation] | None:
        """Where an incoming message goes: the newest connected messaging modality."""
        for app in self.core.live_apps():
            for conv in reversed(app.conversations):
                modality = conv.modalities.get("messaging")
                if modality is not None and modality.state is MS.CONNECTED:
                    return app, conv
        return None
