"""What the remote party does, as values the simulator's world consumes.

*Plans* say how the remote side answers the user's next outgoing invitation or
join; *happenings* are what the remote side starts (an incoming call, a
renegotiation, a lobby arrival). :class:`ScriptTarget` is what receives them.
They are separate from :mod:`adapters.simulator.scenario_script` (the calls
that build them and check their arguments) because the world reads these
values and never the calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from attrs import frozen

from adapters.simulator.faults import FaultKind
from fsm.invitation import InvitationKind

# -- plans: how the remote side answers the user's next invitation -------------------------


@frozen
class Answer:
    """Answered after ``after`` seconds (a join: admitted with no lobby)."""

    after: float = 0.0


@frozen
class Decline:
    """Declined by the remote party with the given reason."""

    code: str = "RemoteFailure"
    subcode: str | None = "Declined"
    message: str | None = None
    after: float = 0.0


@frozen
class NoAnswer:
    """Rings (or waits in the lobby) until ``timeout``, then fails with the reason."""

    timeout: float | None = None
    code: str = "RemoteFailure"
    subcode: str | None = "Timeout"
    message: str | None = None


@frozen
class Forward:
    """The callee forwards the call to ``to``, who answers after ``answer_after`` (``None``: never)."""

    to: str
    after: float = 0.0
    answer_after: float | None = 0.1


@frozen
class Fail:
    """The service fails the invitation with a catalogued (code, subcode)."""

    code: str
    subcode: str | None
    message: str | None = None
    after: float = 0.0


@frozen
class AnswerOnCancel:
    """Rings; the callee answers at the very moment the user's cancel arrives (the cancel race)."""


@frozen
class Admit:
    """A join waits in the lobby and is admitted after ``after`` seconds."""

    after: float = 0.0


@frozen
class Reject:
    """A join waits in the lobby and is rejected after ``after`` seconds."""

    after: float = 0.0
    code: str = "Forbidden"
    subcode: str | None = "Denied"
    message: str | None = None


Plan = Answer | Decline | NoAnswer | Forward | Fail | AnswerOnCancel | Admit | Reject

_CALL_KINDS: Final = frozenset({InvitationKind.AUDIO_VIDEO, InvitationKind.MESSAGING, InvitationKind.PHONE_AUDIO})


@frozen
class ScriptedPlan:
    plan: Plan
    #: The kinds the plan may be used for; ``None``: every kind it applies to.
    kinds: frozenset[InvitationKind] | None = None

    def applies_to(self, kind: InvitationKind) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        if isinstance(self.plan, Admit | Reject):
            return kind is InvitationKind.ONLINE_MEETING
        if isinstance(self.plan, Forward):
            return kind in _CALL_KINDS
        return True


# -- happenings: what the remote side starts ---------------------------------------------------


@frozen
class IncomingCall:
    name: str
    uri: str
    kind: InvitationKind
    subject: str | None
    after: float
    ring_for: float | None
    #: A messaging invitation's first text (its ``message`` data: link, then a ``message`` event).
    message: str | None = None


@frozen
class IncomingMessage:
    """The remote party types ``text`` in the user's connected conversation."""

    text: str
    after: float


@frozen
class IncomingRenegotiation:
    after: float
    sdp: str


@frozen
class RenegotiationReply:
    """How the remote answers the user's next renegotiation offer."""

    answer: bool
    after: float
    code: str = "RemoteFailure"
    subcode: str | None = "NotAcceptable"


@frozen
class LobbyArrival:
    name: str
    uri: str
    after: float
    leave_after: float | None


Happening = IncomingCall | IncomingMessage | IncomingRenegotiation | LobbyArrival


class ScriptTarget(Protocol):
    """What the script drives: the simulator's world (``adapters.simulator.state.World``)."""

    def add_plan(self, plan: ScriptedPlan) -> None: ...

    def add_renegotiation_reply(self, reply: RenegotiationReply) -> None: ...

    def add_happening(self, happening: Happening) -> None: ...

    def add_series(
        self, conference_id: str, *, held: bool, sub_meetings: Sequence[str], subject: str | None
    ) -> None: ...

    def hold_series(self, conference_id: str, sub_meeting: str | None) -> None: ...

    def expire_applications(self) -> None: ...

    def force_fault(self, kind: FaultKind, times: int) -> None: ...
