"""How a ``completed`` event becomes an outcome (domain.md 1.7 and 9.2).

``completed`` is the only event with a meaningful ``status``. The rules, in
order of precedence:

1. an embedded ``state`` that is final (``Connected``, ``Declined``,
   ``Cancelled``, ``Failed``) wins: it is the server's own word;
2. otherwise ``status``, compared ignoring case: ``Success`` -> Connected;
   ``Failure`` -> Cancelled when the subcode is ``Canceled`` (one l),
   Declined when it is ``Declined``, otherwise Failed;
3. with neither, the outcome is undetermined and the machine asks the adapter
   to GET the resource (domain.md 9.2).

An unknown status value (neither success nor failure) counts as missing.
"""

from __future__ import annotations

from enum import Enum

from attrs import frozen

from fsm.reasons import Reason
from fsm.wire import WireEnum


class CompletionStatus(WireEnum):
    SUCCESS = "Success"
    FAILURE = "Failure"


class Completion(Enum):
    """What a ``completed`` event means for an invitation."""

    CONNECTED = "Connected"
    DECLINED = "Declined"
    CANCELLED = "Cancelled"
    FAILED = "Failed"
    UNDETERMINED = "undetermined"


_FINAL_WIRE_STATES = {c.value.lower(): c for c in Completion if c is not Completion.UNDETERMINED}


def classify_completion(status: str | None, reason: Reason | None, embedded_state: str | None) -> Completion:
    if embedded_state is not None:
        final = _FINAL_WIRE_STATES.get(embedded_state.strip().lower())
        if final is not None:
            return final
    parsed = CompletionStatus.parse(status)
    if parsed is CompletionStatus.SUCCESS:
        return Completion.CONNECTED
    if parsed is CompletionStatus.FAILURE:
        if reason is not None and reason.subcode_is("Canceled"):
            return Completion.CANCELLED
        if reason is not None and reason.subcode_is("Declined"):
            return Completion.DECLINED
        return Completion.FAILED
    return Completion.UNDETERMINED


@frozen
class Outcome:
    """How an operation ended: success, or failure with its reason."""

    success: bool
    #: The ``status`` exactly as the wire gave it (may be ``None``).
    status: str | None
    #: Always set when ``success`` is false; ``None`` on success unless given.
    reason: Reason | None = None

    @classmethod
    def of(cls, completion: Completion, status: str | None, reason: Reason | None) -> Outcome:
        success = completion is Completion.CONNECTED
        if not success and reason is None:
            reason = Reason.absent(f"completed ({completion.value}) carried no reason")
        return cls(success=success, status=status, reason=reason)
