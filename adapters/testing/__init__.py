"""Test support for the library's users: hypothesis strategies (:mod:`.strategies`) and the
pytest plugin with the ``ucwa_simulator`` fixture (:mod:`.pytest_plugin`, entry point ``pytest11``).

Layer: may import the simulator, routing and the wire; never a client.
"""
