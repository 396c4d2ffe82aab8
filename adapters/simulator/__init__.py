"""The UCWA / Huawei simulator: a deterministic server driven by the same machines.

Theory of operation: one World (the server's state, with a shadow fsm model
per served resource) behind a Starlette app; a Script for the remote party;
seeded faults. See ``adapters/simulator/README.md``. The pieces: :mod:`.state` (the world's
façade, over one component per resource: :mod:`.applications`, :mod:`.invitations`,
:mod:`.renegotiations`, :mod:`.lobby`, :mod:`.event_channel`... sharing :mod:`.core`),
:mod:`.events` (the event channel), :mod:`.script` (the remote party and
scenario files), :mod:`.faults` (seeded fault injection), :mod:`.render`
(JSON and XML), :mod:`.handlers` (HTTP), :mod:`.app` (the app, and running it on loopback).
"""

from __future__ import annotations

from adapters.simulator.app import Simulator, SimulatorHandle, create_app, serve
from adapters.simulator.config import ManualClock, SimulatorConfig
from adapters.simulator.faults import FaultConfig
from adapters.simulator.script import Scenario, ScenarioError, Script, load_scenario, parse_scenario

__all__ = [
    "FaultConfig",
    "ManualClock",
    "Scenario",
    "ScenarioError",
    "Script",
    "Simulator",
    "SimulatorConfig",
    "SimulatorHandle",
    "create_app",
    "load_scenario",
    "parse_scenario",
    "serve",
]
