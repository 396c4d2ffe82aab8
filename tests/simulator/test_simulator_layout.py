"""The simulator's split (issue 15) changed no import and no entry point of the World.

The names below are written out from the modules as they were before the split (``app.py`` with the
handlers in it, ``state.py`` with the whole World in one class), not read from the modules now: each
must still be importable from its old path and be the very object the new module defines, and the
World must still answer every call the HTTP layer, the script, the soak run and the tests make on it.
"""

from __future__ import annotations

import importlib

import pytest

from adapters.simulator import SimulatorConfig, handlers
from adapters.simulator.state import World

#: What ``adapters.simulator.app`` defined before the handlers moved to ``handlers.py``.
APP_NAMES = (
    "MAX_BODY",
    "MAX_DEPTH",
    "HEADER_TIMEOUT",
    "POLL_INTERVAL",
    "TICK_INTERVAL",
    "nesting_exceeds",
    "HeaderTimeout",
    "uvicorn_config",
    "Simulator",
    "create_app",
    "NotLoopback",
    "check_loopback",
    "SimulatorHandle",
    "serve",
    "Handler",
)
MOVED_TO_HANDLERS = ("MAX_BODY", "MAX_DEPTH", "POLL_INTERVAL", "TICK_INTERVAL", "nesting_exceeds", "Simulator")

#: The World's calls from app.py / handlers.py, script.py (ScriptTarget), callbacks.py and the brief's list.
WORLD_METHODS = (
    "create_application",
    "ucwa",
    "pget_begin",
    "pget_poll",
    "pget_abandon",
    "push_take",
    "push_done",
    "delivered",
    "close",
    "tick",
    "add_plan",
    "add_renegotiation_reply",
    "add_happening",
    "add_series",
    "hold_series",
    "expire_applications",
    "force_fault",
    "bearer_ok",
    "owner_of",
    "huawei",
)
#: The World's state read under its lock by handlers.py, soak/server.py and the tests.
WORLD_STATE = (
    "config",
    "profile",
    "clock",
    "lock",
    "faults",
    "apps",
    "plans",
    "refusals",
    "events_sent",
    "huawei_tokens",
    "series",
    "script",
)


@pytest.mark.parametrize("name", APP_NAMES)
def test_every_old_app_name_still_imports(name: str) -> None:
    app = importlib.import_module("adapters.simulator.app")
    assert hasattr(app, name), f"adapters.simulator.app.{name} is gone"
    if name in MOVED_TO_HANDLERS:
        assert getattr(app, name) is getattr(handlers, name)  # one object, so isinstance and patches agree


def test_the_world_keeps_its_calls_and_its_state() -> None:
    world = World(SimulatorConfig())
    missing = [name for name in WORLD_METHODS if not callable(getattr(world, name, None))]
    missing += [name for name in WORLD_STATE if not hasattr(world, name)]
    assert missing == []


def test_the_world_state_is_one_state() -> None:
    """A reader of ``world.apps`` or ``world.refusals`` sees what the components write, not a copy."""
    world = World(SimulatorConfig())
    with world.lock:
        assert world.apps is world.core.apps
        assert world.refusals is world.core.refusals
        assert world.events_sent is world.core.events_sent
    world.close()
    assert world.closed  # the P-GET loop reads it to answer 503 on shutdown
