"""pytest plugin: the ``ucwa_simulator`` fixture (a UCWA / Huawei server on loopback, per test).

Theory of operation
-------------------
Installed through the ``pytest11`` entry point (``callfsm = "adapters.testing.pytest_plugin"``),
or listed in a test module's ``pytest_plugins``. The function-scoped fixture
``ucwa_simulator`` starts the simulator under uvicorn in a background thread
on 127.0.0.1 with a free port, yields a
:class:`~adapters.simulator.app.SimulatorHandle` and stops it when the test
ends:

- ``.base_url``, ``.discovery_url`` (``UcwaClient.create_application(sim.discovery_url, token=sim.token,
  user_agent=...)`` starts there) and ``.applications_url`` (or POST there to create an application);
- ``.token``: the bearer token the server requires;
- ``.script``: script the remote party (``sim.script.answer_after(0.2)``);
- ``.events_sent``: every event-channel answer sent, as dicts (for ``callfsm replay``;
  ``.write_events(path)`` writes them as JSON Lines);
- ``.write_trace(path)``: the server's trace (docs/trace.md: each request received and response
  sent, each event-channel answer; tokens redacted; the newest 100,000 records), for ``callfsm replay``;
- ``.huawei_token`` (an accepted ``X-Access-Token``), ``.huawei_app_id`` and
  ``.huawei_app_key`` (for the App ID authentication).

Settings come from the ``ucwa_simulator_config`` fixture, which a test suite
may override, or from a marker on the test:
``@pytest.mark.ucwa_simulator(seed=3, faults=FaultConfig(duplicate=0.2))``
(any :class:`~adapters.simulator.config.SimulatorConfig` field, including the
server profile and switches: ``@pytest.mark.ucwa_simulator(profile="online",
events="links", completion="updated")``; ``.applications_url`` follows the
profile's root, and ``.callback_token`` is the key the ``saas`` callbacks are
signed with). Tests get a
short P-GET hold (2 s instead of the documented 180 s) unless they say otherwise.

The simulator is imported only when a test uses the fixture, so the plugin
costs nothing (and needs no server extra) in suites that do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    # imported when a test asks for the fixture: pytest loads this plugin for every
    # installation of callfsm, including those without the server extra (starlette, uvicorn)
    from adapters.simulator.app import SimulatorHandle
    from adapters.simulator.config import SimulatorConfig

#: The P-GET hold tests get by default (seconds).
TEST_PGET_TIMEOUT = 2.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ucwa_simulator(**settings): SimulatorConfig fields for the ucwa_simulator fixture (seed=..., faults=...)",
    )


@pytest.fixture
def ucwa_simulator_config(request: pytest.FixtureRequest) -> SimulatorConfig:
    """The simulator's configuration: the marker's fields over the test defaults."""
    from adapters.simulator.config import SimulatorConfig  # noqa: PLC0415 (lazy: see TYPE_CHECKING above)

    marker = request.node.get_closest_marker("ucwa_simulator")
    settings = dict(marker.kwargs) if marker is not None else {}
    settings.setdefault("pget_timeout", TEST_PGET_TIMEOUT)
    return SimulatorConfig(**settings)


@pytest.fixture
def ucwa_simulator(ucwa_simulator_config: SimulatorConfig) -> Iterator[SimulatorHandle]:
    """A simulator on 127.0.0.1 for this test; stopped when it ends."""
    from adapters.routing.trace import TraceWriter  # noqa: PLC0415 (lazy: as above)
    from adapters.simulator.app import serve  # noqa: PLC0415 (lazy: see TYPE_CHECKING above)

    with serve(ucwa_simulator_config) as handle:
        # the server's view, in memory (bounded): ``ucwa_simulator.write_trace(path)`` writes it
        handle.simulator.trace = TraceWriter(role="server")
        yield handle
