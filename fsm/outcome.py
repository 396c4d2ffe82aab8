"""How a ``completed`` event becomes an outcome (docs/protocol.md §1.7 and 9.2).

``completed`` is the only event with a meaningful ``status``. The rules, in
order of precedence:

1. an embedded ``state`` that is final (``Connected``, ``Declined``,
   ``Cancelled``, ``Failed``) wins: it is the server's own word;
2. otherwise ``status``, compared ignoring case: ``Success`` -> Connected;
   ``Failure`` -> Cancelled when the subcode is ``Canceled`` (one l),
   Declined when it is ``Declined``, otherwise Failed;
3. with neither, the outcome is undetermined and the machine asks the adapter
   to GET the resource (docs/protocol.md §9.2).

An unknown status value (neither success nor failure) counts as missing.

The same first rule ends an invitation or a join on an ``updated`` (or a GET)
whose embedded state is final: the current UCWA documentation lists only
``started`` and ``updated`` for most invitations (docs/protocol.md §2.3). Such
an outcome has no status and no reason code; :func:`fill_in` gives it those of
a ``completed`` that comes later and agrees with it.

Final outcomes. An outcome is final when a ``completed`` with a status gave
it, or when nothing can add to it (a synchronous refusal, a reason of our
own). One that a later ``completed`` could still fill in is provisional
until :data:`FINAL_GRACE` seconds of the caller's clock have passed
(:func:`settle_by`, :func:`is_final`): then no ``completed`` is coming, and
the state alone is the answer. The machines keep that deadline; the clients
wait for a final outcome.
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


def final_completion(embedded_state: str | None) -> Completion | None:
    """The final wire state ``embedded_state`` names (any case), or ``None`` when it names none."""
    return None if embedded_state is None else _FINAL_WIRE_STATES.get(embedded_state.strip().lower())


def classify_completion(status: str | None, reason: Reason | None, embedded_state: str | None) -> Completion:
    final = final_completion(embedded_state)
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

    @classmethod
    def without_status(cls, completion: Completion, said_by: str) -> Outcome:
        """An end seen in a final state alone (``said_by``: a GET, an ``updated``): no status, no reason code."""
        success = completion is Completion.CONNECTED
        reason = None if success else Reason.absent(f"{said_by} said {completion.value}; no reason yet")
        return cls(success=success, status=None, reason=reason)


#: Seconds (the caller's clock) an end seen without status (a GET, an ``updated`` to a final state) waits
#: for its ``completed`` before it counts as final. [U] The documentation gives no bound; the ``completed``
#: that follows such an end came within a few seconds in every trace seen, and an app should not wait long
#: for an event that the current documentation does not promise at all.
FINAL_GRACE: float = 10.0


def settle_by(outcome: Outcome | None, now: float) -> float | None:
    """When ``outcome``, just set at ``now``, becomes final: ``None`` (final now) unless a later
    ``completed`` could still fill it in (no status, no reason code: see :func:`fill_in`)."""
    if outcome is None or outcome.status is not None:
        return None
    if outcome.reason is not None and outcome.reason.code is not None:
        return None  # the server's refusal, or our own reason (a lobby timeout): nothing will add to it
    return now + FINAL_GRACE


def is_final(outcome: Outcome | None, deadline: float | None, now: float) -> bool:
    """Whether ``outcome`` is final at ``now``: a ``completed`` gave it, or its grace (``deadline``) has passed."""
    return outcome is not None and (deadline is None or now >= deadline)


def fill_in(
    outcome: Outcome | None,
    completion: Completion,
    status: str | None,
    reason: Reason | None,
    *,
    agrees_with_state: bool,
) -> Outcome | None:
    """The outcome a later ``completed`` makes of one seen without status, or ``None`` to keep it.

    A GET (docs/protocol.md §9.2, or the re-read after ``resume``) or an
    ``updated`` shows the final state but carries neither status nor reason;
    when ``completed`` still comes, it is the server's own word on both. Only
    an outcome with no status and no reason code is filled in, and only by an
    event that agrees with it: the same success, and for a failure the same
    end state (``agrees_with_state``: the caller's machine maps completions to
    its states).
    """
    if outcome is None or outcome.status is not None or status is None or completion is Completion.UNDETERMINED:
        return None
    if outcome.reason is not None and outcome.reason.code is not None:
        return None
    if outcome.success != (completion is Completion.CONNECTED):
        return None
    if not outcome.success and not agrees_with_state:
        return None
    return Outcome.of(completion, status, reason)
