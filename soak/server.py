"""The simulator's side of the soak: a child process that serves and, at the end, tells what it did.

Theory of operation
-------------------
:func:`serve_child` runs in a process of its own (``multiprocessing``, spawn):
the simulator then has a core and an interpreter lock to itself, and the
parent's tracemalloc readings are the client's alone. It queues every call's
plan (:func:`soak.scenarios.calls`, the same list the parent computes), starts
:func:`adapters.simulator.serve` on 127.0.0.1 and answers the parent's
requests on a pipe:

``("records",)``
    one :class:`ServerCall` per outgoing invitation the World holds (its
    shadow's state and outcome: the outcome of the ``completed`` the server
    sent), the fault counts, the refusals of the server's own machines, and
    how many requests it answered;
``("stop",)``
    stop serving and exit.

Nothing here decides whether the soak passed: :mod:`soak.run` compares.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from adapters.simulator import FaultConfig, SimulatorConfig, serve
from adapters.simulator.state import World
from fsm.outcome import Outcome
from soak.scenarios import RING_TIMEOUT, calls

#: (success, status, code, subcode): what "the same outcome" compares.
OutcomeKey = tuple[bool, str | None, str | None, str | None]


def outcome_key(outcome: Outcome | None) -> OutcomeKey | None:
    if outcome is None:
        return None
    reason = outcome.reason
    return (
        outcome.success,
        outcome.status,
        None if reason is None else reason.code,
        None if reason is None else reason.subcode,
    )


@dataclass(frozen=True, slots=True)
class ServerCall:
    operation_id: str | None
    href: str
    #: The plan the create took (class name: ``Answer``, ``Decline``...).
    plan: str
    #: The shadow's state (it stands for an ideal client of the resource).
    state: str
    terminal: bool
    #: The outcome of the ``completed`` the server sent; ``None``: not completed.
    outcome: OutcomeKey | None


@dataclass
class ServerReport:
    calls: list[ServerCall]
    faults: dict[str, int]
    refusals: list[str]
    responses: int
    answers: int
    plans_left: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def records(world: World) -> ServerReport:
    """What the World did, read under its lock."""
    with world.lock:
        out: list[ServerCall] = []
        for app in world.apps.values():
            for conv in app.conversations:
                record = conv.invitation
                if record is None:
                    continue
                shadow = record.shadow
                out.append(
                    ServerCall(
                        record.operation_id,
                        record.href,
                        type(record.plan).__name__,
                        shadow.state.value,
                        shadow.is_terminal,
                        outcome_key(shadow.outcome),
                    )
                )
        return ServerReport(
            calls=out,
            faults={kind.value: count for kind, count in world.faults.counts.items()},
            refusals=list(world.refusals),
            responses=0,
            answers=len(world.events_sent),
            plans_left=len(world.plans),
        )


def serve_child(conn: Connection, seed: int, n: int, time_scale: float, faults: dict[str, float]) -> None:
    """The child process: serve until told to stop (see the module docstring)."""
    logging.basicConfig(level=logging.WARNING, format="simulator: %(levelname)s %(message)s")
    config = SimulatorConfig(
        seed=seed,
        faults=FaultConfig(**faults),
        ring_timeout=RING_TIMEOUT,
        default_answer_delay=0.05,
        # every queued group in one answer, as a real server does: one group per answer would make
        # the channel, not the calls, the bottleneck
        coalesce=True,
    )
    with serve(config) as sim:
        for spec in calls(seed, n, time_scale=time_scale):
            spec.script(sim.script)
        conn.send(("ready", sim.base_url, sim.token))
        while True:
            message = conn.recv()
            if message[0] == "records":
                report = records(sim.world)
                report.responses = len(sim.simulator.transcript)
                conn.send(report)
            else:
                break
    conn.send(("stopped",))
