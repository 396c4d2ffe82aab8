"""What an event's rel and type name, looked up once per event: the dispatcher's vocabulary.

Every part of the dispatcher (the handlers, the registry's operation-id check, creation, held
events) asks the same questions of an event's rel: which invitation kind, which direction, is it a
renegotiation or a participant. The answers are dict lookups kept here, once, so that the parts
agree and none of them scans an enum per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from adapters.wire.events import EventType
from fsm.invitation import InvitationKind
from fsm.wire import Direction, bare_rel

#: Rels (bare) of the resources a renegotiation model stands for.
RENEGOTIATION_RELS: Final = frozenset({"audioVideoRenegotiation", "applicationSharingRenegotiation"})
_PARTICIPANT_RELS: Final = frozenset({"participant", "localParticipant"})
_EVENT_TYPES: Final[Mapping[str, EventType]] = {member.value: member for member in EventType}
_EVENT_TYPE_NAMES: Final = frozenset(_EVENT_TYPES)

# Dict lookups with the same rules as InvitationKind.from_rel and Direction.parse,
# which scan their enum (a Python-level property read per member) on every event.
_INVITATION_KINDS: Final[Mapping[str, InvitationKind]] = {member.value: member for member in InvitationKind}
_DIRECTIONS: Final[Mapping[str, Direction]] = {member.value.lower(): member for member in Direction}


def _invitation_kind(rel: str) -> InvitationKind | None:
    """``InvitationKind.from_rel(rel)``."""
    return _INVITATION_KINDS.get(bare_rel(rel))


def _direction(text: str | None) -> Direction | None:
    """``Direction.parse(text)``."""
    return None if text is None else _DIRECTIONS.get(text.lower())


__all__ = ["RENEGOTIATION_RELS"]
