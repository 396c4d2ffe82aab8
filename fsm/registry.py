"""Every machine by name: the one place later layers look machines up.

Diagrams, scenario generation, the replay checker and snapshots read
:data:`MACHINES` and :data:`MODELS`, never the machine modules' code.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from fsm.engine import MachineDefinition
from fsm.invitation import Invitation
from fsm.lobby_participant import LobbyParticipant
from fsm.meeting_series import MeetingSeries
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin
from fsm.renegotiation import Renegotiation

_MODELS: tuple[type[FsmModel], ...] = (Invitation, OnlineMeetingJoin, LobbyParticipant, Renegotiation, MeetingSeries)

#: Machine name -> the model class that runs it.
MODELS: Mapping[str, type[FsmModel]] = MappingProxyType({cls.DEFINITION.name: cls for cls in _MODELS})

#: Machine name -> its validated definition (states, triggers, table...).
MACHINES: Mapping[str, MachineDefinition[Any, Any]] = MappingProxyType(
    {name: cls.DEFINITION for name, cls in MODELS.items()}
)
