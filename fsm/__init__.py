"""callfsm's pure core: explicit state machines for call-control invitation lifecycles.

No I/O, no clock, no threads: every trigger takes ``now`` from the caller and
returns the actions (frozen values) that the adapters must perform.
"""

from fsm.actions import (
    Action,
    Actions,
    DeleteSeries,
    DeleteSubMeetings,
    FetchResource,
    PostLink,
    PostRenegotiation,
    StartOperation,
)
from fsm.engine import MachineDefinition, Step, Transition
from fsm.errors import CallFsmError, DefinitionError, InvalidInput, InvalidTrigger, LinkMissing, NotDue, SnapshotError
from fsm.invitation import Invitation, InvitationKind, InvitationState, InvitationTrigger
from fsm.lobby_participant import LobbyParticipant, LobbyParticipantState, LobbyParticipantTrigger
from fsm.meeting_series import HuaweiError, MeetingSeries, MeetingSeriesState, MeetingSeriesTrigger
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState, OnlineMeetingTrigger
from fsm.outcome import Completion, CompletionStatus, Outcome, classify_completion
from fsm.reasons import CallDeclineReason, ErrorCode, Reason, ReNegotiationDeclineReason
from fsm.registry import MACHINES, MODELS
from fsm.renegotiation import (
    AudioVideoSession,
    Renegotiation,
    RenegotiationInFlight,
    RenegotiationState,
    RenegotiationTrigger,
)
from fsm.wire import Direction, Link, Representation

__all__ = [
    "MACHINES",
    "MODELS",
    "Action",
    "Actions",
    "AudioVideoSession",
    "CallDeclineReason",
    "CallFsmError",
    "Completion",
    "CompletionStatus",
    "DefinitionError",
    "DeleteSeries",
    "DeleteSubMeetings",
    "Direction",
    "ErrorCode",
    "FetchResource",
    "HuaweiError",
    "InvalidInput",
    "InvalidTrigger",
    "Invitation",
    "InvitationKind",
    "InvitationState",
    "InvitationTrigger",
    "Link",
    "LinkMissing",
    "LobbyParticipant",
    "LobbyParticipantState",
    "LobbyParticipantTrigger",
    "MachineDefinition",
    "MeetingSeries",
    "MeetingSeriesState",
    "MeetingSeriesTrigger",
    "NotDue",
    "OnlineMeetingJoin",
    "OnlineMeetingState",
    "OnlineMeetingTrigger",
    "Outcome",
    "PostLink",
    "PostRenegotiation",
    "ReNegotiationDeclineReason",
    "Reason",
    "Renegotiation",
    "RenegotiationInFlight",
    "RenegotiationState",
    "RenegotiationTrigger",
    "Representation",
    "SnapshotError",
    "StartOperation",
    "Step",
    "Transition",
    "classify_completion",
]
