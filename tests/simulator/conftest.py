"""Fixtures shared by the simulator's end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ucwa_doc_client import DocClient

from adapters.simulator import SimulatorHandle


@pytest.fixture
def client(ucwa_simulator: SimulatorHandle) -> Iterator[DocClient]:
    doc = DocClient(ucwa_simulator.base_url, ucwa_simulator.token)
    doc.create_application(ucwa_simulator.world.profile.root)
    yield doc
    doc.close()
