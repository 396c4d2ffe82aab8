"""What each soak call does: the remote party's plan and the user's own moves, from a seed.

Theory of operation
-------------------
:func:`calls` turns ``(seed, n)`` into ``n`` :class:`CallSpec` values, the
same in every process: the simulator's child queues the plans in that order
(:meth:`CallSpec.script`), and the client makes its create POSTs one at a
time in the same order, so the ``i``-th create the server accepts takes the
``i``-th plan (a create refused with the injected 500 takes none, and the
client tries the same call again).

Scenarios, with their weights (percent):

========================  ==  ==========================================================
``answer``                22  answered after 0-0.3 s; the user hangs up after 0-0.2 s
``decline``               12  the callee declines with one of :data:`DECLINE_REASONS`
``busy``                   7  ``RemoteFailure/Busy``
``no_answer``              8  rings 0.2-0.8 s, then ``RemoteFailure/Timeout``
``forward``                6  ``Forwarded``, then answered; the user hangs up
``cancel``                15  the user cancels while it rings (``LocalFailure/Canceled``)
``cancel_race``           10  the callee answers as the cancel arrives: Success crosses
                              the cancel, the client hangs up by itself (docs/protocol.md §1.6)
``service_failure``       20  a (code, subcode) of :data:`fsm.reasons.CATALOGUE` that
                              applies to audio/video, picked at random
========================  ==  ==========================================================

Every delay is scaled by ``time_scale`` (the smoke run uses a shorter one).
:attr:`CallSpec.span` is the longest the scenario can take on the server's
side before the call is over; a call's deadline is its start + span + grace.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from fsm.reasons import CATALOGUE, ReasonResource


class Scenario(Enum):
    ANSWER = "answer"
    DECLINE = "decline"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FORWARD = "forward"
    CANCEL = "cancel"
    CANCEL_RACE = "cancel_race"
    SERVICE_FAILURE = "service_failure"


WEIGHTS: Final[dict[Scenario, int]] = {
    Scenario.ANSWER: 22,
    Scenario.DECLINE: 12,
    Scenario.BUSY: 7,
    Scenario.NO_ANSWER: 8,
    Scenario.FORWARD: 6,
    Scenario.CANCEL: 15,
    Scenario.CANCEL_RACE: 10,
    Scenario.SERVICE_FAILURE: 20,
}

#: Reasons a callee declines with (docs/protocol.md §5.1, RemoteFailure rows for every invitation).
DECLINE_REASONS: Final = (
    ("RemoteFailure", "Declined"),
    ("RemoteFailure", "DoNotDisturb"),
    ("RemoteFailure", "NotAcceptable"),
    ("RemoteFailure", "TemporarilyUnavailable"),
    ("RemoteFailure", "NotAllowed"),
    ("RemoteFailure", "RepliedWithOtherModality"),
)

#: Every catalogued pair that applies to an audio/video invitation, in catalogue order.
AV_FAILURES: Final = tuple(
    (row.code.value, row.subcode) for row in CATALOGUE if ReasonResource.AUDIO_VIDEO in row.resources
)

#: How long a ringing call waits for the cancel race's cancel before it times out (the simulator's ring_timeout).
RING_TIMEOUT: Final = 3.0


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One call: the plan the simulator queues, and what the user does."""

    index: int
    scenario: Scenario
    #: The :class:`~adapters.simulator.Script` method and its keyword arguments.
    step: str
    arguments: tuple[tuple[str, Any], ...]
    #: Seconds after its 201 at which the user cancels (``None``: never).
    cancel_after: float | None
    #: Seconds a connected call is held before the user hangs up.
    hold_for: float
    #: The longest the server's side of the scenario takes (seconds).
    span: float

    def script(self, script: Any) -> None:
        """Queue this call's plan on a :class:`~adapters.simulator.Script`."""
        getattr(script, self.step)(**dict(self.arguments))

    @property
    def to(self) -> str:
        return f"sip:callee{self.index}@soak.test"


def _spec(rng: random.Random, index: int, scale: float) -> CallSpec:
    scenario = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    after = round(rng.uniform(0.0, 0.3) * scale, 4)
    hold = round(rng.uniform(0.0, 0.2) * scale, 4)
    cancel: float | None = None
    args: dict[str, Any]
    if scenario is Scenario.ANSWER:
        step, args, span = "answer_after", {"delay": after}, after
    elif scenario is Scenario.DECLINE:
        code, subcode = rng.choice(DECLINE_REASONS)
        step, args, span = "decline", {"code": code, "subcode": subcode, "after": after}, after
    elif scenario is Scenario.BUSY:
        step, args, span = "busy", {"after": after}, after
    elif scenario is Scenario.NO_ANSWER:
        timeout = round(rng.uniform(0.2, 0.8) * scale, 4)
        step, args, span = "no_answer", {"timeout": timeout}, timeout
    elif scenario is Scenario.FORWARD:
        answer = round(rng.uniform(0.0, 0.2) * scale, 4)
        step = "forward"
        args = {"to": f"sip:deputy{index}@soak.test", "after": after, "answer_after": answer}
        span = after + answer
    elif scenario is Scenario.CANCEL:
        # answered long after the cancel: the cancel always finds it ringing on the server's side
        cancel = round(rng.uniform(0.02, 0.4) * scale, 4)
        step, args, span = "answer_after", {"delay": round(2.0 * scale + 0.5, 4)}, 2.0 * scale + 0.5
    elif scenario is Scenario.CANCEL_RACE:
        cancel = round(rng.uniform(0.02, 0.4) * scale, 4)
        step, args, span = "answer_on_cancel", {}, RING_TIMEOUT
    else:
        code, subcode = rng.choice(AV_FAILURES)
        step, args, span = "fail", {"code": code, "subcode": subcode, "after": after}, after
    args["kind"] = "audioVideo"
    return CallSpec(index, scenario, step, tuple(sorted(args.items())), cancel, hold, span)


def calls(seed: int, n: int, *, time_scale: float = 1.0) -> list[CallSpec]:
    """The first ``n`` calls of the soak with this seed (a pure function of its arguments)."""
    rng = random.Random(f"callfsm-soak:{seed}")
    return [_spec(rng, i, time_scale) for i in range(n)]
