"""Seeded fault injection: what can go wrong on the wire, decided by a seed.

Theory of operation
-------------------
Every fault is a yes/no decision taken at a well-defined moment of the
simulator's work (an event emitted, a P-GET answered, a request received).
Each kind of fault draws from its own :class:`random.Random`, seeded from the
simulator's seed and the fault's name, so that:

- the same seed and the same sequence of client requests give the same
  decisions, hence the same event stream;
- turning one fault on or off does not shift the decisions of the others;
- a rate of 0 never draws, a rate of 1 always says yes.

A test can also force the next decisions of one kind (:meth:`Faults.force`),
which is how ``sim.script.fail_next()`` and friends are built: a forced
decision is used before any draw, and does not consume randomness.

The kinds (docs/protocol.md §2.2 says why each can happen on a real server):

``duplicate``
    an event is delivered twice (the copy is identical; the machines absorb it);
``drop_started``
    an outgoing invitation's ``started`` is aggregated away (only later events show);
``early_events``
    a create POST's 201 is held until its ``started`` has been delivered on the
    event channel (at most ``early_events_wait`` seconds), so the event beats the 201;
``delay``
    a group of events is held back for up to ``max_delay`` seconds (order is kept);
``resume``
    a P-GET answer carries ``resume`` instead of ``next`` (the server reset its
    transient state: the P-GET parameters are forgotten);
``application_not_found``
    the application is gone from this P-GET on: 404 ``ApplicationNotFound``;
``server_error``
    a request is refused with 500 ``ServiceFailure`` before anything is done.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from enum import Enum

from attrs import frozen


class FaultKind(Enum):
    DUPLICATE = "duplicate"
    DROP_STARTED = "drop_started"
    EARLY_EVENTS = "early_events"
    DELAY = "delay"
    RESUME = "resume"
    APPLICATION_NOT_FOUND = "application_not_found"
    SERVER_ERROR = "server_error"


def _rate(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and not isinstance(value, bool)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"fault rate {name} must be a number from 0 to 1, got {value!r}")


@frozen
class FaultConfig:
    """Probability of each fault (0 to 1) and the limits of the timed ones (seconds)."""

    duplicate: float = 0.0
    drop_started: float = 0.0
    early_events: float = 0.0
    delay: float = 0.0
    resume: float = 0.0
    application_not_found: float = 0.0
    server_error: float = 0.0
    #: The longest a delayed group of events is held back.
    max_delay: float = 0.2
    #: The longest a 201 waits for its ``started`` to be delivered.
    early_events_wait: float = 1.0

    def __attrs_post_init__(self) -> None:
        for kind in FaultKind:
            _rate(kind.value, getattr(self, kind.value))
        for name in ("max_delay", "early_events_wait"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")

    def rate(self, kind: FaultKind) -> float:
        return float(getattr(self, kind.value))


class Faults:
    """The decisions, one seeded stream per kind. Not thread-safe: the world's lock guards it."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        # str seeds are hashed with SHA-512 by random.seed: stable across runs and PYTHONHASHSEED
        self._streams = {kind: random.Random(f"callfsm-simulator:{seed}:{kind.value}") for kind in FaultKind}
        self._forced: Counter[FaultKind] = Counter()
        #: How many times each fault happened (forced or drawn).
        self.counts: Counter[FaultKind] = Counter()

    def force(self, kind: FaultKind, times: int = 1) -> None:
        """The next ``times`` decisions of ``kind`` say yes, whatever the rate."""
        if times < 1:
            raise ValueError("times must be at least 1")
        self._forced[kind] += times

    def happens(self, kind: FaultKind) -> bool:
        if self._forced[kind] > 0:
            self._forced[kind] -= 1
            self.counts[kind] += 1
            return True
        rate = self.config.rate(kind)
        if rate <= 0.0:
            return False
        yes = rate >= 1.0 or self._streams[kind].random() < rate
        if yes:
            self.counts[kind] += 1
        return yes

    def delay(self) -> float:
        """Seconds to hold a group of events back (0 when the fault does not happen)."""
        if not self.happens(FaultKind.DELAY):
            return 0.0
        return round(self._streams[FaultKind.DELAY].uniform(0.0, self.config.max_delay), 6)
